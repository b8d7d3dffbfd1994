"""What crosses a module has a public name; modules are named in full, not by one letter; TRL's private internals
live in training/trl_internals.py alone, which checks the TRL version it was written for; importing the package
changes nothing global."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "replicate"
FILES = sorted(PKG.rglob("*.py"))
# module aliases that are conventions of their libraries, not ours
CONVENTIONAL = {("torch.nn.functional", "F")}


def _rel(p: Path) -> str:
    return str(p.relative_to(PKG.parent))


@pytest.mark.parametrize("path", FILES, ids=_rel)
def test_no_private_name_is_imported_from_another_module(path):
    tree = ast.parse(path.read_text())
    private = [
        f"from {'.' * n.level}{n.module or ''} import {a.name}"
        for n in ast.walk(tree)
        if isinstance(n, ast.ImportFrom) and n.module != "__future__"
        for a in n.names
        if a.name.startswith("_")
    ]
    assert not private, private


@pytest.mark.parametrize("path", FILES, ids=_rel)
def test_modules_are_not_named_by_a_letter_or_two(path):
    tree = ast.parse(path.read_text())
    short = []
    for n in ast.walk(tree):
        if isinstance(n, (ast.Import, ast.ImportFrom)):
            for a in n.names:
                mod = a.name if isinstance(n, ast.Import) else f"{n.module}.{a.name}"
                if a.asname and len(a.asname) <= 2 and a.asname[0].isupper() and (mod, a.asname) not in CONVENTIONAL:
                    short.append(f"{mod} as {a.asname}")
    assert not short, short


TRL_PRIVATE = ("._metrics", "._prepare_dataset", "._precompute_ref_logps", "._precompute_model_hash", "._name_or_path")


@pytest.mark.parametrize("path", FILES, ids=_rel)
def test_trl_private_internals_only_in_trl_internals(path):
    if path.name == "trl_internals.py":
        return
    code = "\n".join(ln.split("#")[0] for ln in path.read_text().splitlines())
    body = ast.get_docstring(ast.parse(path.read_text())) or ""
    found = [p for p in TRL_PRIVATE if p in code.replace(body, "") and f"def {p[1:]}" not in code]
    assert not found, f"{_rel(path)} touches TRL internals {found}: they belong in training/trl_internals.py"


def test_trl_internals_refuse_another_trl(monkeypatch):
    import trl

    from replicate.training import trl_internals

    trl_internals.check_trl_version()  # the locked version
    monkeypatch.setattr(trl, "__version__", "99.0.0")
    with pytest.raises(RuntimeError, match="trl_internals.py was written for trl 1.16.0 and found trl 99.0.0"):
        trl_internals.check_trl_version()


def test_importing_every_module_changes_no_global_state():
    """Environment, warning filters, progress bars and the umask are as they were after importing every module of
    the package (the training functions set what they need when they run)."""
    third_party = sorted(
        {
            (n.names[0].name if isinstance(n, ast.Import) else n.module).split(".")[0]
            for f in FILES
            for n in ast.walk(ast.parse(f.read_text()))
            if isinstance(n, ast.Import) or (isinstance(n, ast.ImportFrom) and n.level == 0 and n.module)
        }
        - {"replicate", "__future__"}
    )
    probe = f"""
import importlib, os, pkgutil, warnings, datasets.utils.logging as dl
for lib in {third_party!r}:  # what the libraries do when imported is theirs: import them first
    try:
        importlib.import_module(lib)
    except Exception:
        pass
import replicate
env, filters, bars = dict(os.environ), list(warnings.filters), dl.is_progress_bar_enabled()
mask = os.umask(0); os.umask(mask)
for m in pkgutil.walk_packages(replicate.__path__, "replicate."):
    if m.name.endswith("__main__"):
        continue
    importlib.import_module(m.name)
changed = {{k: os.environ.get(k) for k in set(os.environ) ^ set(env) | {{k for k in env if os.environ.get(k) != env[k]}}}}
now = os.umask(0); os.umask(now)
assert not changed, changed
assert list(warnings.filters) == filters, [f for f in warnings.filters if f not in filters]
assert dl.is_progress_bar_enabled() == bars and now == mask
print("ok")
"""
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and r.stdout.strip().endswith("ok"), r.stderr[-2000:]
