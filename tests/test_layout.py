"""The package's import graph: no cycles, every module in a layer, no import upward, and the loss
registry below every loss family. The layer table is the one in docs/architecture.md (Layout)."""

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parent.parent / "replicate"

# Bottom to top: a module may import from its own layer or a lower one, never a higher one.
# A subpackage entry covers every module under it; the bare package name covers only its __init__.
# A new subpackage or top-level module must be added here (test_every_module_has_a_layer).
LAYERS = {
    "replicate": 0,  # __init__: a docstring and __version__
    "replicate.core": 0,  # config, io, provenance, paths
    "replicate.worlds": 1,  # toy LM world, tokenizer, tabular game, public data
    "replicate.models": 2,  # tiny Llama / Hub loading, sampling
    "replicate.losses": 2,  # one module per loss family above a registry
    "replicate.metrics": 3,  # win rates, LC, WildBench, correlations, evaluation, verdicts, claims
    "replicate.training": 3,  # datasets, the TRL hook (reward models, online RL, loops)
    "replicate.real": 4,  # the real-model path: Hugging Face models at scale=small and the paper-scale pipeline
    "replicate.papers": 5,  # one module per paper, and helpers shared by papers
    "replicate.reporting": 6,  # tables (uses papers' render_table), plots
    "replicate.cli": 7,  # the command line
    "replicate.__main__": 7,  # python -m replicate
}


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
                return stack[stack.index(d) :] + [d]
            if d not in state and (c := visit(d)):
                return c
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state and (c := visit(n)):
            return c
    return None


def layer_of(mod: str, layers: dict[str, int]) -> int | None:
    """The layer of the longest entry that names ``mod`` or a subpackage above it (None: unplaced).
    Entries without a dot (the root package) match only themselves."""
    keys = [k for k in layers if mod == k or ("." in k and mod.startswith(k + "."))]
    return layers[max(keys, key=len)] if keys else None


def upward_imports(graph: dict[str, set[str]], layers: dict[str, int]) -> list[str]:
    """Every import from a lower layer of a module in a higher one, as a sentence naming both."""
    out = []
    for mod in sorted(graph):
        lm = layer_of(mod, layers)
        for dep in sorted(graph[mod]):
            ld = layer_of(dep, layers)
            if lm is not None and ld is not None and ld > lm:
                out.append(
                    f"{mod} (layer {lm}) imports {dep} (layer {ld}): a module may import only its own "
                    "layer or lower ones; move the shared code down, or the importer up"
                )
    return out


def test_layer_checker_can_fail():
    layers = {"p": 0, "p.low": 0, "p.mid": 1, "p.high": 2}
    graph = {
        "p.low.a": {"p.mid.b"},
        "p.mid.b": {"p.low.a", "p.mid.c"},
        "p.mid.c": set(),
        "p.high.d": {"p.low.a"},
        "p": set(),
        "p.stray": set(),
    }
    assert upward_imports(graph, layers) == [
        "p.low.a (layer 0) imports p.mid.b (layer 1): a module may import only its own layer or lower ones; "
        "move the shared code down, or the importer up"
    ]
    assert layer_of("p.high.d", layers) == 2 and layer_of("p", layers) == 0
    assert layer_of("p.stray", layers) is None  # the root entry does not cover new top-level modules
    assert layer_of("p.middle", layers) is None  # "p.mid" is not a prefix of "p.middle"


def test_every_module_has_a_layer():
    unplaced = sorted(m for m in import_graph() if layer_of(m, LAYERS) is None)
    assert not unplaced, f"modules in no layer: {unplaced}; add their subpackage to LAYERS in tests/test_layout.py"


def test_no_module_imports_a_higher_layer():
    graph = import_graph()
    assert {"replicate.core.io", "replicate.papers.simpo", "replicate.cli.main"} <= set(graph)
    problems = upward_imports(graph, LAYERS)
    assert not problems, "\n".join(problems)


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
