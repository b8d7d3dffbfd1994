"""LC-AlpacaEval's numbers and claims, in code (replicate/papers/lc_alpacaeval/claims.py): computed from the public
files at a small budget, then each claim's rule checked both ways on edited results."""

import copy

import pytest

from replicate.core.config import ConfigError, compose
from replicate.papers import lc_alpacaeval as lc

# gpt4_gamed for the truncation attack (C5), a misaligned model for the reg_instruction variant, few resamples
OVERRIDES = ["scale=ci", "paper.budget.ci.refit_models=[gpt4_gamed,phi-2]", "paper.budget.ci.n_boot=20"]


@pytest.fixture(scope="module")
def cfg():
    return compose("lc-alpacaeval", OVERRIDES)


@pytest.fixture(scope="module")
def res(cfg):
    return lc.PAPER.run(cfg)


def _verdicts(res, cfg) -> dict:
    return {c["id"]: c["verdict"] for c in lc.PAPER.claims(res, cfg)}


def test_claims_from_the_public_files(res, cfg):
    v = _verdicts(res, cfg)
    assert list(v) == ["C0", "C1", "C2", "C3", "C4", "C5", "C5b", "C6"]
    # the data and semantics checks are exact on these files: any other verdict is a bug in the code
    assert v["C1"] == v["C2"] == v["C0"] == "reproduced"
    m = lc.PAPER.metrics(res, cfg).values
    assert m["raw.max_abs_diff_win_rate"] < 1e-6 and m["lc_weights.self_win_rate"] == pytest.approx(50, abs=1e-9)
    assert m["refit.reg.n_models"] == 2 and m["refit.reg_instruction.n_models"] == 1  # phi-2 is misaligned
    assert m["adversarial.gain_weights"] == pytest.approx(m["adversarial.lc_weights"] - m["adversarial.win_rate"])


def test_metrics_are_a_pure_function_of_the_results(res, cfg):
    assert lc.PAPER.metrics(res, cfg).values == lc.PAPER.metrics(res, cfg).values
    assert lc.PAPER.metrics(res, cfg).seeds is None  # exact: no seed spread for make check


def test_c0_fails_when_a_verbose_prompt_stops_raising_the_win_rate(res, cfg):
    bad = copy.deepcopy(res)
    m = next(x for x in bad["variants"].index if x != lc.BASELINE)
    bad["variants"].loc[m, "WR verbose"] = bad["variants"].loc[m, "WR concise"] - 1
    assert _verdicts(bad, cfg)["C0"] == "not reproduced"


def test_c6_fails_when_the_refit_misses_the_published_lc_by_more_than_a_point(res, cfg):
    bad = copy.deepcopy(res)
    bad["refits"]["reg"]["lc"] += 1.5
    assert _verdicts(res, cfg)["C6"] == "reproduced" and _verdicts(bad, cfg)["C6"] == "not reproduced"


def test_c5_compares_the_regularized_and_unregularized_gains(res, cfg):
    bad = copy.deepcopy(res)
    bad["refits"]["reg"].loc[lc.GAMED, "lc"] = bad["refits"]["noreg"].loc[lc.GAMED, "lc"]
    assert _verdicts(bad, cfg)["C5"] == "not reproduced"


def test_reported_table_names_every_reference_row(res, cfg):
    m = lc.PAPER.metrics(res, cfg).values
    cmp = lc.reported_table(res, m)
    assert len(cmp) == 16 + 6 * len(res["variants"]) and cmp["reported"].notna().all()
    assert m["reported.variants_max_abs_diff"] == cmp[cmp.table == "§4.1 figure"]["abs_diff"].max()


def test_bad_budget_is_refused_before_compute():
    with pytest.raises(ConfigError, match="refit_models"):
        lc.PAPER.validate(compose("lc-alpacaeval", ["scale=ci", "paper.budget.ci.refit_models=[phi-2]"]))
    with pytest.raises(ConfigError, match="snapshots.current"):
        lc.PAPER.validate(compose("lc-alpacaeval", ["scale=ci", "paper.snapshots.current=1999"]))
