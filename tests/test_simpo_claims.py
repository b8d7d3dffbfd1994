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
