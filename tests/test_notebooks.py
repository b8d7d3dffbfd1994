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
NOTEBOOKS = sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb"))


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


@pytest.mark.parametrize("paper", NOTEBOOKS)
def test_stored_without_outputs_and_parameterized(paper):
    nb = json.loads((ROOT / "notebooks" / f"{paper}.ipynb").read_text())
    code = _code(nb)
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code), "strip outputs: make strip"
    assert "parameters" in code[0]["metadata"].get("tags", []), "first code cell must be tagged 'parameters'"
    assert paper in papers(), f"notebook {paper} has no conf/paper/{paper}.yaml"


def _method_section(nb: dict) -> list[dict]:
    """The code cells of the section that introduces the method (its equation and a small numeric check):
    "The method", or, in a notebook about an evaluation (no method section), its first numbered section."""
    sections, title = {}, None
    for c in nb["cells"]:
        if c["cell_type"] == "markdown" and (m := re.search(r"^##\s+(.+)$", _src(c), re.M)):
            title = m.group(1).strip()
        elif c["cell_type"] == "code" and title is not None:
            sections.setdefault(title, []).append(c)
    name = next((t for t in sections if t.lower().startswith("the method")), None)
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
