"""The package's import graph: no cycles, and the loss registry sits below every loss family."""
import ast
from pathlib import Path

PKG = Path(__file__).resolve().parent.parent / "replicate"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PKG.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(mod: str, is_pkg: bool, node: ast.ImportFrom) -> list[str]:
    base = mod.split(".") if is_pkg else mod.split(".")[:-1]
    if node.level:
        base = base[: len(base) - (node.level - 1)]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    # "from pkg import name" may import a submodule: count both
    return [target] + [f"{target}.{a.name}" for a in node.names]


def import_graph() -> dict[str, set[str]]:
    files = {(_module_name(p), p.name == "__init__.py"): p for p in PKG.rglob("*.py")}
    names = {m for m, _ in files}
    graph = {}
    for (mod, is_pkg), path in files.items():
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                deps |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                deps |= set(_resolve(mod, is_pkg, node))
        graph[mod] = {d for d in deps if d in names and d != mod}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state, stack = {}, []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for d in sorted(graph.get(n, ())):
            # a package's __init__ importing its own submodules is how packages work, not a cycle
            if d.startswith(n + "."):
                continue
            if state.get(d) == 1:
                return stack[stack.index(d):] + [d]
            if d not in state and (c := visit(d)):
                return c
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state and (c := visit(n)):
            return c
    return None


def test_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycles_in_the_package():
    graph = import_graph()
    assert "replicate.losses.registry" in graph and "replicate.papers.simpo" in graph
    assert find_cycle(graph) is None, f"import cycle: {' -> '.join(find_cycle(graph))}"


def test_loss_registry_is_below_every_family():
    graph = import_graph()
    assert not {d for d in graph["replicate.losses.registry"] if d.startswith("replicate.")}
    for fam in ("preference", "nash", "lcpo"):
        assert "replicate.losses.registry" in graph[f"replicate.losses.{fam}"]
