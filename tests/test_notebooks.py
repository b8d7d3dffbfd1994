"""Every paper's notebook, as a user gets it: stored without outputs, and executed end to end at scale=ci
(papermill, as `make replicate-<paper>` runs it) into a notebook that shows its figures, its numeric checks passing,
every claim with its verdict, and no error; its metrics file carries provenance.

The executed notebooks are shared with tests/test_report.py (tests/executed_notebooks.py runs each once).
"""

import json
import re
from pathlib import Path

import pytest
from executed_notebooks import executed, metrics_file, shared_root

from replicate.core.config import papers
from replicate.core.io import read_json
from replicate.metrics.verdicts import VERDICTS

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb") if not p.stem.startswith("_"))
TEMPLATE = ROOT / "notebooks" / "_template.ipynb"

# The teaching arc (notebooks/_template.ipynb; CONTRIBUTING.md, "The notebook template"): the `##` headings of every
# notebook, in this order, each matched at its start; the appendix only where the paper has a real model.
ARC = (
    ("the claim", r"The claim"),
    ("setup", r"Setup"),
    ("the idea", r"The idea"),
    ("the world", r"The (toy|tabular) world|The (public )?data"),
    ("a data example", r"A data example"),
    ("run", r"Run\b"),
    ("figures", r"Figures"),
    ("verdicts", r"Verdicts"),
    ("what we found", r"What we found"),
    ("deviations", r"Deviations"),
    ("save", r"Save"),
)
APPENDIX = r"Appendix: the same on a real model"
# Notebooks not yet converted to the arc, each with its reason (none today: every notebook follows it); an entry
# skips its notebook, and the test fails on an entry whose notebook already follows the arc (CONTRIBUTING.md).
PENDING_ARC: dict[str, str] = {}


def _code(nb: dict) -> list[dict]:
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def _src(cell: dict) -> str:
    return "".join(cell["source"])


def _text(output: dict) -> str:
    """What a reader sees of one output, as text (stream text or the text/plain and text/html of a display)."""
    if output["output_type"] == "stream":
        return "".join(output["text"])
    data = output.get("data", {})
    return "".join("".join(data.get(k, "")) for k in ("text/plain", "text/html", "text/markdown"))


def _headings(nb: dict) -> list[str]:
    return [
        m.group(1).strip()
        for c in nb["cells"]
        if c["cell_type"] == "markdown"
        for m in re.finditer(r"^##\s+(.+)$", _src(c), re.M)
    ]


def arc_errors(nb: dict) -> list[str]:
    """What keeps a notebook's `##` headings from the teaching arc: each heading must be the arc's next step (or the
    real-model appendix, last), and every step must appear."""
    heads, errors, i = _headings(nb), [], 0
    for n, h in enumerate(heads):
        if re.match(APPENDIX, h):
            if n != len(heads) - 1:
                errors.append(f"the appendix {h!r} must be the last section")
            continue
        if i < len(ARC) and re.match(ARC[i][1], h):
            i += 1
        else:
            want = ARC[i][0] if i < len(ARC) else "nothing (the arc is complete)"
            errors.append(f"heading {h!r} where the arc expects {want!r}")
    errors += [f"missing step {name!r}" for name, _ in ARC[i:]]
    return errors


def test_the_template_follows_the_arc_and_the_arc_check_can_fail():
    nb = json.loads(TEMPLATE.read_text())
    assert arc_errors(nb) == []
    swapped = json.loads(TEMPLATE.read_text())
    cells = swapped["cells"]
    i, j = (
        next(k for k, c in enumerate(cells) if _src(c).startswith(f"## {h}")) for h in ("Verdicts", "What we found")
    )
    cells[i], cells[j] = cells[j], cells[i]
    assert any("where the arc expects 'verdicts'" in e for e in arc_errors(swapped))


@pytest.mark.parametrize("paper", NOTEBOOKS)
def test_one_teaching_arc(paper):
    """claim → setup → the idea → the world → a data example → run → figures → verdicts → what we found →
    deviations → save (→ appendix on a real model), as notebooks/_template.ipynb."""
    errors = arc_errors(json.loads((ROOT / "notebooks" / f"{paper}.ipynb").read_text()))
    if paper in PENDING_ARC:
        assert errors, f"notebooks/{paper}.ipynb follows the arc now: remove it from PENDING_ARC"
        pytest.skip(f"pending conversion: {PENDING_ARC[paper]}")
    assert errors == [], f"notebooks/{paper}.ipynb: " + "; ".join(errors)


# Private names a notebook still reaches, each with its reason; the test fails on an entry that is no longer needed.
PENDING_PRIVATE: dict[str, str] = {}


def private_access(source: str) -> list[str]:
    """``._name`` attribute reads and ``from x import _name`` in a code cell (dunders are Python's, not ours)."""
    import ast

    lines = [ln for ln in source.splitlines() if not ln.lstrip().startswith(("%", "!"))]  # IPython magics
    tree = ast.parse("\n".join(lines))
    found = [f".{n.attr}" for n in ast.walk(tree) if isinstance(n, ast.Attribute) and _private(n.attr)]
    found += [
        f"import {a.name}"
        for n in ast.walk(tree)
        if isinstance(n, ast.ImportFrom)
        for a in n.names
        if _private(a.name)
    ]
    return found


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def test_the_private_access_check_can_fail():
    assert private_access("x = iterative._trainer(cfg)\nfrom a import _b\ny = s.__class__") == [
        ".\u005ftrainer",
        "import _b",
    ]


@pytest.mark.parametrize("paper", [*NOTEBOOKS, "_template"])
def test_code_cells_call_the_public_api_only(paper):
    """A notebook is a reader's example of the package: what it calls must be public (no ``._name``)."""
    nb = json.loads((ROOT / "notebooks" / f"{paper}.ipynb").read_text())
    found = {n: p for n, c in enumerate(_code(nb)) if (p := private_access(re.sub(r"<(\w+)>", r"\1", _src(c))))}
    if paper in PENDING_PRIVATE:
        assert found, f"notebooks/{paper}.ipynb calls the public API only now: remove it from PENDING_PRIVATE"
        pytest.skip(f"pending: {PENDING_PRIVATE[paper]}")
    assert found == {}, f"notebooks/{paper}.ipynb reaches into private names (code cell: names): {found}"


@pytest.mark.parametrize("paper", NOTEBOOKS)
def test_stored_without_outputs_and_parameterized(paper):
    nb = json.loads((ROOT / "notebooks" / f"{paper}.ipynb").read_text())
    code = _code(nb)
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code), "strip outputs: make strip"
    assert "parameters" in code[0]["metadata"].get("tags", []), "first code cell must be tagged 'parameters'"
    assert paper in papers(), f"notebook {paper} has no conf/paper/{paper}.yaml"


def _method_section(nb: dict) -> list[dict]:
    """The code cells of the section that introduces the method (its equation and a small numeric check):
    "The idea" (the teaching arc) or "The method", or, in a notebook about an evaluation (no method section), its first numbered section."""
    sections, title = {}, None
    for c in nb["cells"]:
        if c["cell_type"] == "markdown" and (m := re.search(r"^##\s+(.+)$", _src(c), re.M)):
            title = m.group(1).strip()
        elif c["cell_type"] == "code" and title is not None:
            sections.setdefault(title, []).append(c)
    name = next((t for t in sections if t.lower().startswith(("the method", "the idea"))), None)
    name = name or next((t for t in sections if re.match(r"1\.", t)), None)
    assert name, f"no 'The method' section and no numbered first section among {list(sections)}"
    return sections[name]


@pytest.mark.parametrize("paper", NOTEBOOKS)
def test_numeric_check_asserts(paper):
    """The method's numeric check fails the notebook (and `make test`) when the equation's implementation is
    wrong, instead of printing a number nobody compares."""
    nb = json.loads((ROOT / "notebooks" / f"{paper}.ipynb").read_text())
    cells = _method_section(nb)
    assert any(re.search(r"^\s*assert\b", _src(c), re.M) for c in cells), (
        f"notebooks/{paper}.ipynb: the method section's numeric check only prints; make it assert"
    )


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return shared_root(tmp_path_factory)


@pytest.mark.parametrize("paper", NOTEBOOKS)
def test_notebook_runs_at_ci_scale_and_shows_what_it_computed(paper, root):
    nb = json.loads(executed(paper, root).read_text())
    code = _code(nb)
    assert all(c.get("execution_count") for c in code), "every cell ran"

    errors = [o for c in code for o in c["outputs"] if o["output_type"] == "error"]
    tracebacks = [
        _text(o)[:300] for c in code for o in c["outputs"] if o.get("name") == "stderr" and "Traceback" in _text(o)
    ]
    assert errors == [] and tracebacks == [], f"error output in the executed notebook: {errors or tracebacks}"

    # every cell that saves a figure shows it (a library that switches matplotlib's backend hides them all)
    missing = [
        _src(c).strip().splitlines()[0][:80]
        for c in code
        if "savefig(" in _src(c) and not any("image/png" in o.get("data", {}) for o in c["outputs"])
    ]
    drawn = sum("image/png" in o.get("data", {}) for c in code for o in c["outputs"])
    assert missing == [] and drawn > 0, (
        f"{drawn} figures shown; cells that save a figure without showing it: {missing}"
    )

    doc = read_json(metrics_file(paper, root))
    assert doc["paper"] == paper and doc["scale"] == "ci" and doc["metrics"]
    assert {"config_hash", "seed", "versions", "commit"} <= set(doc["provenance"])
    assert doc["claims"], "no claims: nothing was judged"
    assert all(c["verdict"] in VERDICTS for c in doc["claims"])
    shown = "\n".join(_text(o) for c in code for o in c["outputs"])
    unseen = [c["id"] for c in doc["claims"] if not re.search(rf"\b{re.escape(c['id'])}\b", shown)]
    assert unseen == [], f"claims in metrics.json that the notebook never shows: {unseen}"
    assert any(v in shown for v in VERDICTS), "the notebook shows no verdict"
