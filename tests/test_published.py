"""Executed notebooks a reader opens without running anything (results/notebooks/<paper>-tiny.ipynb): written by
`replicate run` at scale=tiny without volatile metadata, under a size cap, and shown by `make report` where this
machine has not run the notebook itself."""

import base64
import json
from pathlib import Path

import nbformat
import pytest

from replicate.core.config import papers
from replicate.core.paths import ROOT
from replicate.reporting import published, site

PUBLISHED = sorted((ROOT / "results" / "notebooks").glob("*.ipynb"))
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n fake").decode()


def _executed(root: Path) -> dict:
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("# alpha"),
            nbformat.v4.new_code_cell(
                "run()",
                execution_count=1,
                metadata={
                    "papermill": {"duration": 1.5, "status": "completed"},
                    "execution": {"iopub.status.busy": "t"},
                },
                outputs=[
                    nbformat.v4.new_output("stream", name="stdout", text=f"wrote {root}/results/reproduced/a.json\n"),
                    nbformat.v4.new_output("stream", name="stderr", text=f"{root}/x.py:1: Warning\n"),
                    nbformat.v4.new_output("display_data", data={"image/png": PNG, "text/plain": "<Figure>"}),
                ],
            ),
        ],
        metadata={
            "papermill": {"input_path": f"{root}/n.ipynb", "start_time": "2026"},
            "kernelspec": {"name": "python3", "display_name": "Python 3"},
        },
    )
    return json.loads(nbformat.writes(nb))


def test_readable_drops_what_changes_between_runs_and_keeps_what_a_reader_sees(tmp_path):
    nb = published.readable(_executed(tmp_path), root=tmp_path)
    assert nb["metadata"] == {"kernelspec": {"name": "python3", "display_name": "Python 3"}}
    cell = nb["cells"][1]
    assert "papermill" not in cell["metadata"] and "execution" not in cell["metadata"]
    assert [o.get("name") for o in cell["outputs"]] == ["stdout", None]  # stderr (library chatter) dropped
    assert "".join(cell["outputs"][0]["text"]) == "wrote results/reproduced/a.json\n"
    assert cell["outputs"][1]["data"]["image/png"] == PNG and cell["execution_count"] == 1
    assert published.readable(nb, root=tmp_path) == nb  # idempotent: a clean notebook stays as it is


def test_publish_writes_atomically_and_refuses_a_notebook_over_the_cap(tmp_path):
    src = tmp_path / "alpha-tiny-executed.ipynb"
    src.write_text(json.dumps(_executed(tmp_path)))
    out = published.publish(src, "alpha", "tiny", tmp_path / "notebooks")
    assert out == tmp_path / "notebooks" / "alpha-tiny.ipynb" and json.loads(out.read_text())["cells"]
    assert [p.name for p in (tmp_path / "notebooks").iterdir()] == ["alpha-tiny.ipynb"]
    with pytest.raises(ValueError, match=r"over the 100-byte cap"):
        published.publish(src, "alpha", "tiny", tmp_path / "notebooks", max_bytes=100)


def test_the_report_shows_a_published_notebook_where_this_machine_ran_none(tmp_path):
    results, build = tmp_path / "results", tmp_path / "build"
    (results / "reproduced" / "alpha" / "tiny").mkdir(parents=True)
    (results / "reproduced" / "alpha" / "tiny" / "metrics.json").write_text(
        json.dumps({"paper": "alpha", "scale": "tiny", "metrics": {}, "claims": []})
    )
    src = tmp_path / "executed.ipynb"
    src.write_text(json.dumps(_executed(tmp_path)))
    published.publish(src, "alpha", "tiny", results / "notebooks")
    build.mkdir()
    index = site.build_site(tmp_path / "site", results, build, papers=["alpha"])
    page = index.parent / "notebooks" / "alpha-tiny.html"
    assert page.exists() and PNG in page.read_text()
    assert "not executed" not in index.read_text()


@pytest.mark.parametrize("path", PUBLISHED, ids=lambda p: p.name)
def test_committed_notebooks_are_clean_small_and_show_their_figures(path):
    paper, _, scale = path.stem.rpartition("-")
    assert paper in papers() and scale in published.SCALES, f"{path.name}: not <paper>-<scale> of a known paper"
    assert path.stat().st_size <= published.MAX_BYTES, f"{path.name}: {path.stat().st_size:,} bytes"
    nb = json.loads(path.read_text())
    assert published.readable(nb) == nb, f"{path.name} carries volatile metadata: regenerate it with replicate run"
    assert str(ROOT) not in path.read_text()
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(c.get("execution_count") for c in code), f"{path.name}: not every cell ran"
    drawn = [c for c in code if "savefig(" in "".join(c["source"])]
    assert all(any("image/png" in o.get("data", {}) for o in c["outputs"]) for c in drawn), "a figure is missing"
