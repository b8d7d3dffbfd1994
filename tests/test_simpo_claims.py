"""SimPO's claims on hand-made runs: the positive control gates, intervals decide, parts combine."""

import numpy as np
from omegaconf import OmegaConf

from replicate.metrics.verdicts import INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED
from replicate.papers.simpo import claims as C

N = 300
CFG = OmegaConf.create({"paper": {"settings": ["base", "instruct"], "gamma_sweep": [0.0, 0.5, 4.0]}})


def _run(rng, quality: float, length: float, margin: float, gamma: float = 0.5):
    """One fake run: per-prompt judge preferences rising with quality and length, as the toy judge's."""
    lens = rng.poisson(length, N) + 1
    ref = rng.poisson(14, N) + 1
    pref = 1 / (1 + np.exp(-(quality + 0.5 * np.tanh((lens - ref) / 10) + rng.normal(0, 0.5, N))))
    return {
        "config": {"hparams": {"beta": 2.0, "gamma": gamma}},
        "eval": {
            "preferences": pref.tolist(),
            "responses": ["x" * int(n) for n in lens],
            "oracle_qualities": np.clip(0.5 + quality / 4 + rng.normal(0, 0.1, N), 0, 1).tolist(),
            "reference_lengths": ref.tolist(),
            "win_rate": 100 * pref.mean(),
            "lc_win_rate": 0.0,
            "avg_length": lens.mean(),
            "oracle_quality": 0.5,
        },
        "heldout": {
            "reward_margins": (rng.normal(margin, 1, 120)).tolist(),
            "agreement": 0.5,
            "simpo_reward_accuracy": 0.5,
        },
    }


def _runs(dpo_quality: float, simpo_quality: float):
    rng = np.random.default_rng(0)
    runs = {}
    for sd in (1, 2, 3):
        for s in ("base", "instruct"):
            for m in C.METHODS_TABLE4:
                q = {"sft": 0.0, "dpo": dpo_quality, "simpo": simpo_quality}.get(m, -0.5)
                ln = 12 if m == "sft" else 20
                runs[(sd, s, m, "")] = _run(rng, q, ln, 0.5 if m == "simpo" else 0.0)
            runs[(sd, s, "simpo", "no_length_norm")] = _run(rng, simpo_quality - 1.0, 30, 0.3)
            runs[(sd, s, "simpo", "gamma_zero")] = _run(rng, simpo_quality - 0.5, 20, 0.3, 0.0)
        for g, q, mg in ((0.0, simpo_quality - 0.5, -0.2), (0.5, simpo_quality, 0.5), (4.0, simpo_quality - 0.5, 1.0)):
            runs[(sd, "instruct", "simpo", f"gamma={g}")] = (
                runs[(sd, "instruct", "simpo", "")] if g == 0.5 else _run(rng, q, 20, mg, g)
            )
    return runs


def test_a_strong_world_reproduces_what_holds():
    cl = {c["id"]: c for c in C.claims(_runs(dpo_quality=1.0, simpo_quality=2.0), CFG)}
    assert cl["PC"]["verdict"] == REPRODUCED
    assert cl["C1"]["verdict"] == REPRODUCED and cl["C2"]["verdict"] == REPRODUCED
    assert cl["C3"]["verdict"] == REPRODUCED and cl["C7"]["verdict"] == REPRODUCED
    assert cl["C6"]["verdict"] == REPRODUCED  # SimPO's held-out margins centred at 0.5, DPO's at 0


def test_measurably_worse_is_not_reproduced():
    cl = {c["id"]: c for c in C.claims(_runs(dpo_quality=2.0, simpo_quality=1.0), CFG)}
    assert cl["PC"]["verdict"] == REPRODUCED
    assert cl["C1"]["verdict"] == NOT_REPRODUCED
    assert cl["C1"]["evidence"]["base.ci_hi"] < 0


def test_without_the_control_nothing_is_not_reproduced():
    cl = {c["id"]: c for c in C.claims(_runs(dpo_quality=0.0, simpo_quality=-1.0), CFG)}
    assert cl["PC"]["verdict"] != REPRODUCED
    assert cl["C1"]["verdict"] == INCONCLUSIVE and cl["C1"]["evidence"]["ungated_verdict"] == NOT_REPRODUCED
    assert all(c["verdict"] != NOT_REPRODUCED for k, c in cl.items() if k != "PC")


def test_metrics_are_seed_means_with_their_spread():
    runs = _runs(1.0, 2.0)
    m, spread = C.flat_metrics(runs, {1: {"base": {"n_pairs": 10}}, 2: {"base": {"n_pairs": 12}}})
    assert m["base.pairs.n_pairs"] == 11 and spread["base.pairs.n_pairs"] == [10.0, 12.0]
    wr = [runs[(sd, "base", "dpo", "")]["eval"]["win_rate"] for sd in (1, 2, 3)]
    assert np.isclose(m["base.dpo.win_rate"], np.mean(wr)) and spread["base.dpo.win_rate"] == wr


def _with_extra_seeds(runs, extra=(4, 5), arms=("sft", "dpo", "simpo"), shift: float = 0.0):
    """``runs`` plus the Table 4 runs of ``arms`` on ``extra`` seeds (``paper.power``); ``shift`` moves DPO's quality
    on the extra seeds only, so a comparison that reads them shows it."""
    rng = np.random.default_rng(1)
    out = dict(runs)
    for sd in extra:
        for s in ("base", "instruct"):
            for m in arms:
                q = {"sft": 0.0, "dpo": 1.0 + shift, "simpo": 2.0}[m]
                out[(sd, s, m, "")] = _run(rng, q, 12 if m == "sft" else 20, 0.5 if m == "simpo" else 0.0)
    return out


def test_a_comparison_pairs_the_seeds_both_arms_ran_on():
    runs = _with_extra_seeds(_runs(1.0, 2.0))
    assert C._seeds(runs) == [1, 2, 3, 4, 5]
    assert C._seeds(runs, ("base", "simpo", ""), ("base", "dpo", "")) == [1, 2, 3, 4, 5]
    assert C._seeds(runs, ("base", "simpo", ""), ("base", "kto", "")) == [1, 2, 3]
    assert C._seeds(runs, ("base", "simpo", "gamma_zero")) == [1, 2, 3]
    pc = C.lc_diff("x", runs, ("base", "dpo", ""), ("base", "sft", ""))
    assert pc["evidence"]["n_seeds"] == 5  # PC and C1 read every seed their arms ran on
    assert C.lc_diff("x", runs, ("base", "simpo", ""), ("base", "kto", ""))["evidence"]["n_seeds"] == 3
    assert {c["id"] for c in C.claims(runs, CFG)} >= {"PC", "C1", "C2", "C3", "C6", "C7"}  # every claim still forms


def test_more_seeds_narrow_the_interval_and_are_read():
    three, five = _runs(1.0, 2.0), _with_extra_seeds(_runs(1.0, 2.0))
    w3 = C.lc_diff("x", three, ("base", "dpo", ""), ("base", "sft", ""))["evidence"]
    w5 = C.lc_diff("x", five, ("base", "dpo", ""), ("base", "sft", ""))["evidence"]
    assert (w5["ci_hi"] - w5["ci_lo"]) < (w3["ci_hi"] - w3["ci_lo"])
    lower = C.lc_diff("x", _with_extra_seeds(_runs(1.0, 2.0), shift=-3.0), ("base", "dpo", ""), ("base", "sft", ""))
    assert lower["evidence"]["diff"] < w5["diff"]  # the extra seeds' runs enter the estimate


def test_summary_and_table_say_how_many_seeds_each_row_has():
    runs = _with_extra_seeds(_runs(1.0, 2.0))
    df = C.summary(runs).set_index(["setting", "method", "variant"])
    assert df.loc[("base", "dpo", "-"), "seeds"] == 5 and df.loc[("base", "kto", "-"), "seeds"] == 3
    m, spread = C.flat_metrics(runs, {})
    doc = {"metrics": m, "seed_spread": spread, "seeds": [1, 2, 3]}
    table = C.render_table(doc)
    assert "| base | dpo | 5 |" in table and "| base | kto | 3 |" in table


def test_extra_seeds_follow_the_evaluation_seeds_and_not_the_check_subset(monkeypatch):
    """``paper.power``: at tiny, SFT/DPO/SimPO run on 2 seeds after the 3 evaluation seeds (45, 46), never on a
    tuning seed; ci has none; ``make check``'s seed-42 subset turns them off (it re-runs seed 42 alone)."""
    from replicate.cli import check as cli_check
    from replicate.core.config import ConfigError, compose
    from replicate.papers.simpo import experiment as E

    cfg = compose("simpo", [])
    extra = E.extra_seeds_cfg(cfg)
    assert (extra.seed, extra.scale.n_seeds) == (45, 2)
    tuning = set(range(int(cfg.paper.tune.seed), int(cfg.paper.tune.seed) + int(cfg.paper.tune.n_seeds)))
    assert not tuning & {45, 46}
    assert {s[2] for s in E.extra_stages(cfg) if s != "prep"} == {"sft", "dpo", "simpo"}
    assert E.extra_seeds_cfg(compose("simpo", ["scale=ci"])) is None
    try:
        E.validate(compose("simpo", ["paper.power.arms=[dpo,nope]"]))
        raise AssertionError("an unknown arm must be refused")
    except ConfigError as e:
        assert "nope" in str(e)

    seen = {}
    monkeypatch.setattr(cli_check, "run_notebook", lambda paper, overrides, **kw: seen.setdefault("o", overrides))
    monkeypatch.setattr(cli_check, "check", lambda *a, **kw: [])
    assert cli_check.main_check(["simpo"]) == 0
    assert E.extra_seeds_cfg(compose("simpo", seen["o"])) is None and "scale.n_seeds=1" in seen["o"]
