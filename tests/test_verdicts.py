"""Three verdicts on paired differences with bootstrap intervals (replicate.metrics.verdicts)."""

import numpy as np
import pytest

from replicate.metrics.verdicts import (
    INCONCLUSIVE,
    NOT_REPRODUCED,
    REPRODUCED,
    all_of,
    comparative_claim,
    decide,
    gate_on_control,
    interval_claim,
    paired_bootstrap,
    seed_tolerance,
    verdict_stable,
)


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
        paired_bootstrap(same)["hi"] - paired_bootstrap(same)["lo"]
    )


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
    assert verdict_stable(f, e, tol=0.05)  # the bound moved across 0 by less than the tolerance
    assert not verdict_stable(f, e, tol=0.001)
    far = {"verdict": NOT_REPRODUCED, "evidence": {"ci_lo": -3.0, "ci_hi": -1.0}}
    assert not verdict_stable(far, e, tol=0.05)
    assert not verdict_stable(
        {"verdict": NOT_REPRODUCED, "evidence": {}}, {"verdict": REPRODUCED, "evidence": {}}, tol=1
    )


def _lc_world(rng, n, shift, len_add, lref):
    lens = rng.integers(5, 30, n) + len_add
    pref = 1 / (1 + np.exp(-(shift + 0.8 * np.tanh((lens - lref) / 10) + rng.normal(0, 1, n))))
    return pref, lens


def test_lc_glm_matches_an_unpenalised_logistic_fit():
    """Newton's θ equals sklearn's unpenalised soft-label logistic regression (rows duplicated with weights p, 1 − p)."""
    from sklearn.linear_model import LogisticRegression

    from replicate.metrics.verdicts import _lc_inputs, lc_glm_logit

    rng = np.random.default_rng(0)
    lref = rng.integers(5, 30, 500)
    pref, lens = _lc_world(rng, 500, 0.4, 3, lref)
    p, x = _lc_inputs(pref, lens, lref)
    X = np.column_stack([x, np.ones_like(x)])
    m = LogisticRegression(penalty=None, fit_intercept=False, tol=1e-12, max_iter=10_000).fit(
        np.vstack([X, X]), np.r_[np.ones(500), np.zeros(500)], sample_weight=np.r_[p, 1 - p]
    )
    assert lc_glm_logit(p, x, np.ones(500)) == pytest.approx(m.coef_[0][1], abs=1e-6)
    # a weight-2 prompt counts as the prompt twice (how bootstrap multiplicities enter)
    w = rng.integers(0, 3, 500).astype(float)
    rep = np.repeat(np.arange(500), w.astype(int))
    assert lc_glm_logit(p, x, w) == pytest.approx(lc_glm_logit(p[rep], x[rep], np.ones(rep.size)), abs=1e-8)


def test_lc_bootstrap_sees_a_real_gain_and_not_length():
    from replicate.metrics.verdicts import paired_bootstrap_lc

    rng = np.random.default_rng(1)
    lref = rng.integers(5, 30, 800)
    base = _lc_world(rng, 800, 0.0, 0, lref)
    better = _lc_world(rng, 800, 0.5, 0, lref)  # truly better at equal length
    longer = _lc_world(rng, 800, 0.0, 12, lref)  # only longer: a raw win-rate gain, no LC gain
    g = lambda a, b: [dict(pref_a=a[0], len_a=a[1], pref_b=b[0], len_b=b[1], len_ref=lref)]
    gain = paired_bootstrap_lc(g(better, base) * 3, n_boot=400)
    assert gain["lo"] > 0 and decide(gain["lo"], gain["hi"]) == REPRODUCED
    assert gain["lo"] < 100 * (1 / (1 + np.exp(-0.5)) - 0.5) < gain["hi"] + 3  # near the true σ(0.5) − ½ = 12.2 points
    raw_gain = 100 * (longer[0].mean() - base[0].mean())
    lc_gain = paired_bootstrap_lc(g(longer, base) * 3, n_boot=400)
    assert raw_gain > 5 and abs(lc_gain["diff"]) < raw_gain / 2
    same = paired_bootstrap_lc(g(base, base), n_boot=200)
    assert same["diff"] == 0 and same["lo"] == 0 and same["hi"] == 0
    assert paired_bootstrap_lc(g(better, base), seed=4) == paired_bootstrap_lc(g(better, base), seed=4)


def test_lc_bootstrap_reuses_resamples_and_refits_without_changing_a_number():
    """Claims that share a seed and a method reuse its resamples and refits; each result is the uncached one."""
    from replicate.metrics import verdicts as V

    rng = np.random.default_rng(2)
    lref = rng.integers(5, 30, 300)
    a, b, c = (_lc_world(rng, 300, e, d, lref) for e, d in ((0.4, 0), (0.0, 6), (0.2, 3)))
    g = lambda x, y, k: [dict(pref_a=x[0], len_a=x[1], pref_b=y[0], len_b=y[1], len_ref=lref)] * k

    def uncached(groups, n_boot, seed):  # the bootstrap written out, one generator, no reuse
        r = np.random.default_rng(seed)
        fits = [
            (
                *V._lc_inputs(q["pref_a"], q["len_a"], q["len_ref"]),
                *V._lc_inputs(q["pref_b"], q["len_b"], q["len_ref"]),
            )
            for q in groups
        ]
        k = len(fits)
        picks = r.integers(k, size=(n_boot, k)) if k > 1 else np.zeros((n_boot, 1), dtype=int)
        diffs = np.zeros(n_boot)
        for s, (pa, xa, pb, xb) in enumerate(fits):
            slots = np.argwhere(picks == s)
            if len(slots):
                w = r.multinomial(pa.size, np.full(pa.size, 1.0 / pa.size), size=len(slots)).astype(float)
                d = 100 / (1 + np.exp(-V.lc_glm_logit(pa, xa, w))) - 100 / (1 + np.exp(-V.lc_glm_logit(pb, xb, w)))
                np.add.at(diffs, slots[:, 0], d)
        q = (1 - 0.95) / 2  # as paired_bootstrap_lc computes the quantile levels, to the last bit
        return np.quantile(diffs / k, [q, 1 - q]).tolist(), float((diffs / k).std(ddof=1))

    V._lc_resamples.cache_clear()
    V._REFITS.clear()
    for groups, seed in ((g(a, b, 3), 0), (g(a, c, 3), 0), (g(a, b, 3), 1), (g(a, b, 2), 0), (g(c, a, 1), 0)):
        got = V.paired_bootstrap_lc(groups, n_boot=150, seed=seed)
        assert [got["lo"], got["hi"]] == uncached(groups, 150, seed)[0] and got["se"] == uncached(groups, 150, seed)[1]
    assert V._lc_resamples.cache_info().hits >= 1 and len(V._REFITS) < 2 * (3 + 3 + 3 + 2 + 1)


def test_all_of_claims_are_stable_part_by_part():
    """A tie in one part of a combined claim is not a flip; a real change in any part is."""
    part = lambda cid, lo, hi, se=0.1: interval_claim(
        cid,
        "",
        {
            "diff": (lo + hi) / 2,
            "lo": lo,
            "hi": hi,
            "se": se,
            "n_seeds": 3,
            "n_prompts": 10,
        },
        rule="",
    )
    exp = all_of("C", "", [part("a", 1.0, 2.0), part("b", 0.01, 0.5)], rule="")
    tie = all_of("C", "", [part("a", 1.0, 2.0), part("b", -0.02, 0.5)], rule="")
    real = all_of("C", "", [part("a", -2.0, -1.0), part("b", 0.01, 0.5)], rule="")
    assert exp["verdict"] == REPRODUCED and tie["verdict"] == INCONCLUSIVE and real["verdict"] == NOT_REPRODUCED
    assert verdict_stable(tie, exp)
    assert not verdict_stable(real, exp)
