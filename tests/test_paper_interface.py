"""Every paper of conf/paper/ has one shape (replicate/papers/interface.py): a PAPER record with validate, run,
metrics, claims and render_table, its code in one module or one package, and a table rendered from its committed
metrics file. The notebooks call the same record (tests/test_notebooks.py runs them at scale=ci)."""

import inspect
import json
import re
from pathlib import Path

import pytest

from replicate.core.config import ConfigError, compose, paper_module, papers
from replicate.core.paths import ROOT
from replicate.papers import interface

PAPERS = papers()
PAPERS_DIR = ROOT / "replicate" / "papers"
# Modules of replicate/papers/ that are no paper: what papers share, and the interface itself
SHARED = {"interface", "nash_game", "objectives_report"}


@pytest.mark.parametrize("paper", PAPERS)
def test_every_paper_declares_its_interface(paper):
    rec = interface.load(paper)
    assert rec.name == paper
    for name, arity in interface.SIGNATURES.items():
        params = inspect.signature(getattr(rec, name)).parameters.values()
        assert len([p for p in params if p.default is p.empty]) == arity, name
    assert "progress" in inspect.signature(rec.run).parameters  # the notebooks and reproduce() pass it


@pytest.mark.parametrize("paper", PAPERS)
def test_every_paper_validates_its_ci_config_and_renders_its_committed_table(paper):
    rec = interface.load(paper)
    rec.validate(compose(paper, ["scale=ci"]))  # no ConfigError on the settings its notebook test runs
    committed = ROOT / "results" / "reproduced" / paper / "tiny" / "metrics.json"
    doc = json.loads(committed.read_text())
    table = rec.render_table(doc)
    assert isinstance(table, str) and table.strip()


@pytest.mark.parametrize("paper", PAPERS)
def test_each_paper_lives_in_one_module_or_one_package(paper):
    mod = paper_module(paper).rsplit(".", 1)[1]
    as_module, as_package = (PAPERS_DIR / f"{mod}.py").exists(), (PAPERS_DIR / mod / "__init__.py").exists()
    assert as_module != as_package, f"{mod}: one of papers/{mod}.py or papers/{mod}/"
    # nothing of the paper beside its module or package (the old papers/<p>_claims.py shape)
    strays = [p.name for p in PAPERS_DIR.glob(f"{mod}_*.py")]
    assert not strays, f"{paper}: {strays} belong in papers/{mod}/"


def test_papers_holds_papers_and_what_they_share_only():
    names = {p.stem for p in PAPERS_DIR.glob("*.py") if p.stem != "__init__"}
    names |= {p.name for p in PAPERS_DIR.iterdir() if (p / "__init__.py").exists()}
    mods = {paper_module(p).rsplit(".", 1)[1] for p in PAPERS}
    assert names - mods == SHARED, "a new module in replicate/papers/ is a paper (conf/paper/) or shared on purpose"


def test_a_record_with_a_wrong_signature_is_refused_when_declared():
    def two(results, cfg):
        return []

    with pytest.raises(TypeError, match="PAPER.validate must take 1"):
        interface.Paper(name="x", validate=two, run=two, metrics=two, claims=two, render_table=two)


def test_unknown_paper_and_a_module_without_a_record_are_named(monkeypatch):
    with pytest.raises(ConfigError, match="unknown paper"):
        interface.load("no-such-paper")
    import replicate.papers.sppo as sppo

    monkeypatch.delattr(sppo, "PAPER")
    with pytest.raises(TypeError, match="declares no PAPER"):
        interface.load("sppo")


def test_toy_world_validator_is_skipped_where_the_real_model_cells_run():
    from omegaconf import OmegaConf

    calls = []
    v = interface.toy_world_only(lambda cfg: calls.append(cfg.scale.name))
    v(OmegaConf.create({"scale": {"name": "tiny"}}))
    v(OmegaConf.create({"scale": {"name": "small", "real": True}}))
    assert calls == ["tiny"]


def test_reproduce_without_a_notebook_writes_what_the_notebook_writes(tmp_path):
    """validate → run → metrics → claims → save, for a paper that takes a second at these settings; the committed
    tiny numbers are guarded by `make check`, this checks the chain and the file it writes."""
    cfg = compose(
        "sppo",
        [
            "scale=ci",
            "scale.tabular.iterations=2",
            "scale.tabular.inner_steps=30",
            "paper.likelihood.n_prompts=8",
            f"results_dir={tmp_path}",
        ],
    )
    res, metrics, claims, path = interface.reproduce("sppo", cfg)
    doc = json.loads(Path(path).read_text())
    assert path == tmp_path / "sppo" / "ci" / "metrics.json"
    assert [c["id"] for c in doc["claims"]] == [c["id"] for c in claims] and len(claims) == 7
    assert doc["metrics"]["iterations"] == 2 == metrics.values["iterations"] == res.metrics["iterations"]
    assert "seeds" not in doc and "seed_spread" not in doc  # exact, one seed


@pytest.mark.parametrize("paper", PAPERS)
def test_each_notebook_goes_through_its_record(paper):
    """The notebook takes its numbers from PAPER (run, metrics, claims, save), and never rebinds ``paper``."""
    nb = json.loads((ROOT / "notebooks" / f"{paper}.ipynb").read_text())
    code = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    assert re.findall(r"^paper\s*=.*$", code, re.M) == ["paper = exp.PAPER"]
    for call in ("paper.validate(cfg)", "paper.run(cfg)", "paper.claims(", "paper.save(cfg"):
        assert call in code, call
    assert "write_metrics(" not in code and "results.claim(" not in code  # numbers and claims live in the package
