"""Three verdicts on paired differences with bootstrap intervals (replicate.metrics.verdicts)."""
import numpy as np
import pytest

from replicate.metrics.verdicts import (INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED, all_of, comparative_claim, decide,
                                gate_on_control, paired_bootstrap, seed_tolerance, verdict_stable)


def test_decide_closed_cases():
    assert decide(0.1, 0.5) == REPRODUCED
    assert decide(-0.5, -0.1) == NOT_REPRODUCED
    assert decide(-0.1, 0.1) == INCONCLUSIVE
    # above zero but measurably below the claimed effect: not reproduced
    assert decide(0.1, 0.4, effect=1.0) == NOT_REPRODUCED
    assert decide(0.1, 1.4, effect=1.0) == REPRODUCED
    with pytest.raises(ValueError):
        decide(1.0, 0.0)


def test_bootstrap_mean_and_interval_cover_truth():
    rng = np.random.default_rng(0)
    diffs = [rng.normal(2.0, 1.0, 400) for _ in range(3)]
    ci = paired_bootstrap(diffs, n_boot=1000)
    assert ci["diff"] == pytest.approx(np.mean([d.mean() for d in diffs]))
    assert ci["lo"] < 2.0 < ci["hi"]
    # interval width ≈ 2·1.96·σ/√n over all 1200 prompts, plus seed resampling
    assert 0.05 < ci["hi"] - ci["lo"] < 0.4
    assert ci["n_seeds"] == 3 and ci["n_prompts"] == 1200


def test_bootstrap_deterministic_and_seed_spread_widens():
    same = [np.full(50, 1.0) + 0.01 * np.arange(50) for _ in range(3)]
    spread = [d + off for d, off in zip(same, (-1.0, 0.0, 1.0))]
    a, b = paired_bootstrap(spread, seed=3), paired_bootstrap(spread, seed=3)
    assert a == b
    assert (paired_bootstrap(spread)["hi"] - paired_bootstrap(spread)["lo"]) > 5 * (
        paired_bootstrap(same)["hi"] - paired_bootstrap(same)["lo"])


def test_a_tie_is_inconclusive_not_a_failure():
    rng = np.random.default_rng(1)
    c = comparative_claim("C1", "A ≥ B", [rng.normal(0.0, 1.0, 300) for _ in range(3)], rule="A − B > 0")
    assert c["verdict"] == INCONCLUSIVE
    assert c["evidence"]["ci_lo"] < 0 < c["evidence"]["ci_hi"]


def test_all_of_and_gating():
    r = {"id": "a", "verdict": REPRODUCED, "evidence": {"diff": 1.0}}
    n = {"id": "b", "verdict": NOT_REPRODUCED, "evidence": {"diff": -1.0}}
    i = {"id": "c", "verdict": INCONCLUSIVE, "evidence": {}}
    assert all_of("X", "", [r, r], rule="")["verdict"] == REPRODUCED
    assert all_of("X", "", [r, i], rule="")["verdict"] == INCONCLUSIVE
    assert all_of("X", "", [r, i, n], rule="")["verdict"] == NOT_REPRODUCED
    pc_fail = {"id": "PC", "verdict": INCONCLUSIVE, "evidence": {}}
    gated = gate_on_control([pc_fail, {**n, "id": "C1"}])
    assert gated[1]["verdict"] == INCONCLUSIVE and gated[1]["evidence"]["ungated_verdict"] == NOT_REPRODUCED
    pc_ok = {"id": "PC", "verdict": REPRODUCED, "evidence": {}}
    assert gate_on_control([pc_ok, {**n, "id": "C1"}])[1]["verdict"] == NOT_REPRODUCED
    with pytest.raises(ValueError):
        gate_on_control([r])


def test_seed_tolerance_and_verdict_stability():
    assert seed_tolerance([1.0, 1.0, 1.0]) == pytest.approx(1e-6)
    assert seed_tolerance([0.0, 1.0, 2.0]) == pytest.approx(4 * 1.0 / np.sqrt(3))
    e = {"verdict": REPRODUCED, "evidence": {"ci_lo": 0.01, "ci_hi": 2.0}}
    f = {"verdict": INCONCLUSIVE, "evidence": {"ci_lo": -0.01, "ci_hi": 1.9}}
    assert verdict_stable(f, e, tol=0.05)          # the bound moved across 0 by less than the tolerance
    assert not verdict_stable(f, e, tol=0.001)
    far = {"verdict": NOT_REPRODUCED, "evidence": {"ci_lo": -3.0, "ci_hi": -1.0}}
    assert not verdict_stable(far, e, tol=0.05)
    assert not verdict_stable({"verdict": NOT_REPRODUCED, "evidence": {}}, {"verdict": REPRODUCED, "evidence": {}}, tol=1)
