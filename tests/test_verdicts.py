"""Verdicts on per-seed paired differences (replicate.metrics.verdicts): the t interval over seeds, its coverage
measured by simulation, the LC equivalent, the multiplicity rule of multi-part claims, the control's gate."""

import numpy as np
import pytest
from scipy import stats
from scipy.special import gammaln

from replicate.metrics.claims import claim, count_verdicts
from replicate.metrics.verdicts import (
    INCONCLUSIVE,
    NOT_REPRODUCED,
    REPRODUCED,
    all_of,
    capability_control,
    comparative_claim,
    decide,
    format_ci,
    gate_on_capabilities,
    gate_on_control,
    holm_rejects,
    interval_claim,
    paired_ci,
    paired_ci_lc,
    paired_interval,
    seed_interval,
    verdict_stable,
)


def test_decide_closed_cases():
    assert decide(0.1, 0.5) == REPRODUCED
    assert decide(-0.5, -0.1) == NOT_REPRODUCED
    assert decide(-0.1, 0.1) == INCONCLUSIVE
    assert decide(None, None) == INCONCLUSIVE
    # above zero but measurably below the claimed effect: not reproduced
    assert decide(0.1, 0.4, effect=1.0) == NOT_REPRODUCED
    assert decide(0.1, 1.4, effect=1.0) == REPRODUCED
    with pytest.raises(ValueError):
        decide(1.0, 0.0)


def test_paired_interval_is_the_t_interval_of_seed_means():
    d = np.array([[1.0, 3.0], [2.0, 4.0], [6.0, 8.0]])  # seed means 2, 3, 7
    est, lo, hi = paired_interval(d)
    half = stats.t.ppf(0.975, 2) * np.std([2, 3, 7], ddof=1) / np.sqrt(3)
    assert est == pytest.approx(4.0) and lo == pytest.approx(4.0 - half) and hi == pytest.approx(4.0 + half)
    # ragged prompt counts: each seed's mean counts once, whatever its prompt count
    ci = paired_ci([np.array([1.0, 3.0]), np.array([3.0]), np.array([5.0, 7.0, 9.0])])
    assert ci["diff"] == pytest.approx(4.0) and ci["n_prompts"] == 6 and ci["df"] == 2
    assert paired_interval(d, level=0.5)[1] > lo  # a lower level gives a narrower interval


def test_fewer_than_three_seeds_are_inconclusive_with_the_note():
    one = comparative_claim("C", "", [np.full(100, 5.0)], rule="")
    assert one["verdict"] == INCONCLUSIVE and one["evidence"]["note"] == "one seed: no interval over training noise"
    assert one["evidence"]["ci_lo"] is None and paired_interval(np.ones((1, 4)))[1:] == (None, None)
    two = comparative_claim("C", "", [np.full(50, 5.0), np.full(50, 5.1)], rule="")
    assert two["verdict"] == INCONCLUSIVE and "too few" in two["evidence"]["note"]
    assert two["evidence"]["ci_lo"] > 0  # the interval exists; two seeds are still not evidence
    three = comparative_claim("C", "", [np.full(50, 5.0), np.full(50, 5.1), np.full(50, 4.9)], rule="")
    assert three["verdict"] == REPRODUCED and "note" not in three["evidence"]


def _simulate(k, n, sd_seed, sd_prompt, reps, rng):
    """reps × (k seeds, n prompts) of paired differences with true mean 0: a seed effect plus prompt noise."""
    return rng.normal(0, sd_seed, (reps, k, 1)) + rng.normal(0, sd_prompt, (reps, k, n))


@pytest.mark.parametrize("k", [3, 4, 5, 6, 8, 10])
def test_coverage_by_simulation_across_regimes_and_seed_counts(k):
    """Nominal 95 %: ≥ 93 % coverage whether seeds or prompts dominate (and in between), for 3 to 10 seeds; the width
    is the t interval that knew seeds dominate (ratio 1), and, where prompts dominate, within 1.5× the pooled-prompt
    t interval that knew it from 5 seeds up (below, the price of estimating the seed variance from k − 1 df:
    ``docs/statistics.md``)."""
    rng = np.random.default_rng(k)
    n, reps = 64, 1500
    # seed-to-seed SD relative to the prompt SE of a seed mean (σ_p/√n = 1): 4 (seeds dominate) … 0 (prompts)
    for ratio in (4.0, 1.0, 0.5, 0.0):
        d = _simulate(k, n, ratio, np.sqrt(n), reps, rng)
        ints = np.array([paired_interval(x)[1:] for x in d])
        coverage = np.mean((ints[:, 0] < 0) & (0 < ints[:, 1]))
        assert coverage >= 0.93, (k, ratio, coverage)
        width = np.mean(ints[:, 1] - ints[:, 0])
        seed_t = np.mean(
            [2 * stats.t.ppf(0.975, k - 1) * x.mean(1).std(ddof=1) / np.sqrt(k) for x in d]
        )  # knew the seed level dominates
        assert width == pytest.approx(seed_t, rel=1e-9)
        if ratio == 0.0:  # prompts dominate: the oracle pools k·n prompts
            pooled = np.mean([2 * stats.t.ppf(0.975, k * n - 1) * x.std(ddof=1) / np.sqrt(k * n) for x in d])
            # E[t_{k−1}·s/√k] / (t_{kn−1}·σ/√k): c4 is E[s]/σ for k normal draws
            c4 = np.sqrt(2 / (k - 1)) * np.exp(gammaln(k / 2) - gammaln((k - 1) / 2))
            expected = stats.t.ppf(0.975, k - 1) * c4 / stats.t.ppf(0.975, k * n - 1)
            assert width / pooled == pytest.approx(expected, rel=0.05)
            if k >= 5:
                assert width / pooled <= 1.5


def _lc_world(rng, n, shift, len_add, lref):
    lens = rng.integers(5, 30, n) + len_add
    pref = 1 / (1 + np.exp(-(shift + 0.8 * np.tanh((lens - lref) / 10) + rng.normal(0, 1, n))))
    return pref, lens


def _lc_seed(rng, n=200):
    """One seed of an LC comparison: its own prompts, and training noise that moves A's quality (SD 0.3 logits)."""
    lref = rng.integers(5, 30, n)
    a, b = _lc_world(rng, n, 0.4 + rng.normal(0, 0.3), 3, lref), _lc_world(rng, n, 0.0, 0, lref)
    return dict(pref_a=a[0], len_a=a[1], pref_b=b[0], len_b=b[1], len_ref=lref)


def test_lc_interval_coverage_with_seed_effects():
    """The LC equivalent (a GLM fit per seed, t over seeds) covers the mean per-seed LC difference at ≥ 93 %."""
    from replicate.metrics.verdicts import lc_win_rate_glm

    rng = np.random.default_rng(7)
    per_seed = lambda g: (
        lc_win_rate_glm(g["pref_a"], g["len_a"], g["len_ref"]) - lc_win_rate_glm(g["pref_b"], g["len_b"], g["len_ref"])
    )
    truth = np.mean([per_seed(_lc_seed(rng)) for _ in range(3000)])  # what a seed's estimate averages to
    hits, reps = 0, 800
    for _ in range(reps):
        ci = paired_ci_lc([_lc_seed(rng) for _ in range(3)])
        hits += ci["lo"] < truth < ci["hi"]
    assert hits / reps >= 0.93


def test_lc_interval_sees_a_real_gain_and_not_length():
    rng = np.random.default_rng(1)
    lref = rng.integers(5, 30, 800)
    g = lambda a, b: dict(pref_a=a[0], len_a=a[1], pref_b=b[0], len_b=b[1], len_ref=lref)
    base = [_lc_world(rng, 800, 0.0, 0, lref) for _ in range(3)]
    better = [_lc_world(rng, 800, 0.5, 0, lref) for _ in range(3)]  # truly better at equal length
    longer = [_lc_world(rng, 800, 0.0, 12, lref) for _ in range(3)]  # only longer: raw gain, no LC gain
    gain = paired_ci_lc([g(a, b) for a, b in zip(better, base)])
    assert gain["lo"] > 0 and gain["lo"] < 100 * (1 / (1 + np.exp(-0.5)) - 0.5) < gain["hi"]
    raw_gain = 100 * np.mean([a[0].mean() - b[0].mean() for a, b in zip(longer, base)])
    lc_gain = paired_ci_lc([g(a, b) for a, b in zip(longer, base)])
    assert raw_gain > 5 and abs(lc_gain["diff"]) < raw_gain / 2
    same = paired_ci_lc([g(b, b) for b in base])
    assert same["diff"] == 0 and same["lo"] == 0 and same["hi"] == 0
    with pytest.raises(ValueError):
        paired_ci_lc([{**g(base[0], base[1]), "len_ref": lref[:10]}])


def test_lc_glm_matches_an_unpenalised_logistic_fit():
    """Newton's θ equals sklearn's unpenalised soft-label logistic regression (rows duplicated with weights p, 1 − p)."""
    from sklearn.linear_model import LogisticRegression

    from replicate.metrics.verdicts import _lc_inputs, lc_glm_logit

    rng = np.random.default_rng(0)
    lref = rng.integers(5, 30, 500)
    pref, lens = _lc_world(rng, 500, 0.4, 3, lref)
    p, x = _lc_inputs(pref, lens, lref)
    X = np.column_stack([x, np.ones_like(x)])
    m = LogisticRegression(C=np.inf, fit_intercept=False, tol=1e-12, max_iter=10_000).fit(
        np.vstack([X, X]), np.r_[np.ones(500), np.zeros(500)], sample_weight=np.r_[p, 1 - p]
    )
    assert lc_glm_logit(p, x, np.ones(500)) == pytest.approx(m.coef_[0][1], abs=1e-6)
    # a weight-2 prompt counts as the prompt twice
    w = rng.integers(0, 3, 500).astype(float)
    rep = np.repeat(np.arange(500), w.astype(int))
    assert lc_glm_logit(p, x, w) == pytest.approx(lc_glm_logit(p[rep], x[rep], np.ones(rep.size)), abs=1e-8)


def _part(cid, diff, se, k=3, **kw):
    half = stats.t.ppf(0.975, k - 1) * se
    ci = {"diff": diff, "lo": diff - half, "hi": diff + half, "se": se, "df": k - 1, "n_seeds": k, "n_prompts": 10}
    return interval_claim(cid, "", ci, rule="", **kw)


def test_all_of_intersection_union_and_holm():
    r, i = _part("a", 1.0, 0.1), _part("c", 0.0, 0.1)
    assert all_of("X", "", [r, r], rule="")["verdict"] == REPRODUCED
    assert all_of("X", "", [r, i], rule="")["verdict"] == INCONCLUSIVE
    # one part just below zero on its own: a contradiction for a single claim, not across 18 parts
    below = _part("b", -0.5, 0.1)  # t = −5 on 2 df: one-sided p ≈ 0.019 < 0.025, > 0.025 / 18
    assert below["verdict"] == NOT_REPRODUCED
    assert all_of("X", "", [below], rule="")["verdict"] == NOT_REPRODUCED
    many = all_of("X", "", [below] + [_part(f"n{j}", 0.0, 0.1) for j in range(17)], rule="")
    assert many["verdict"] == INCONCLUSIVE
    assert many["evidence"]["b.verdict"] == INCONCLUSIVE and many["evidence"]["b.unadjusted_verdict"] == NOT_REPRODUCED
    far = _part("f", -5.0, 0.1)  # t = −50: rejected even at 0.025 / 18
    assert all_of("X", "", [far] + [_part(f"n{j}", 0.0, 0.1) for j in range(17)], rule="")["verdict"] == NOT_REPRODUCED
    # an exact part that fails contradicts at any level
    exact = claim("e", "", False, "", {})
    assert all_of("X", "", [r, exact], rule="")["verdict"] == NOT_REPRODUCED
    assert holm_rejects([0.001, 0.02, 0.04], 0.05) == [True, True, True]
    assert holm_rejects([0.001, 0.03, 0.04], 0.05) == [True, False, False]


def test_eighteen_null_parts_read_not_reproduced_at_most_five_percent_of_the_time():
    """The familywise rule, by simulation: 18 parts whose true effects are all 0, 3 seeds each."""
    rng = np.random.default_rng(18)
    reps, m, k = 1000, 18, 3
    seed_means = rng.normal(0, 1, (reps, m, k))
    fails = 0
    for draw in seed_means:
        parts = [comparative_claim(f"p{j}", "", [[v] for v in draw[j]], rule="") for j in range(m)]
        fails += all_of("X", "", parts, rule="")["verdict"] == NOT_REPRODUCED
    assert fails / reps <= 0.05
    # the old rule (any part below zero) fails far more often: the test can tell them apart
    old = np.mean([(_upper(draw) < 0).any() for draw in seed_means])
    assert old > 0.2


def _upper(draw):
    k = draw.shape[1]
    return draw.mean(1) + stats.t.ppf(0.975, k - 1) * draw.std(1, ddof=1) / np.sqrt(k)


def test_gate_licenses_by_metric_and_resolution():
    pc = all_of("PC", "", [_part("wr", 8.0, 1.0, metric="wr"), _part("lc", 3.0, 0.5, metric="lc")], rule="")
    assert pc["verdict"] == REPRODUCED
    lc_half = stats.t.ppf(0.975, 2) * 0.5  # ≈ 2.15 points
    c_lc = all_of("C1", "", [_part("base", -4.0, 0.5, metric="lc", needs=4.0)], rule="")
    c_small = all_of("C2", "", [_part("base", -4.0, 0.5, metric="lc", needs=1.0)], rule="")
    c_q = all_of("C3", "", [_part("base", -4.0, 0.5, metric="q")], rule="")
    out = {c["id"]: c for c in gate_on_control([pc, c_lc, c_small, c_q])}
    assert out["C1"]["verdict"] == NOT_REPRODUCED  # licensed: LC tested, resolves ±2.15 ≤ 4
    assert out["C2"]["verdict"] == INCONCLUSIVE and f"±{lc_half:.3g} on lc" in out["C2"]["evidence"]["gate_reason"]
    assert out["C3"]["verdict"] == INCONCLUSIVE and "no reproduced part on q" in out["C3"]["evidence"]["gate_reason"]
    assert out["C3"]["evidence"]["ungated_verdict"] == NOT_REPRODUCED
    # a failed control gates every empirical claim, never a recomputation
    pc_fail = {"id": "PC", "verdict": INCONCLUSIVE, "evidence": {}}
    rec = claim("R", "", False, "", {}, kind="recomputation")
    gated = {c["id"]: c for c in gate_on_control([pc_fail, c_lc, rec])}
    assert gated["C1"]["verdict"] == INCONCLUSIVE and gated["R"]["verdict"] == NOT_REPRODUCED
    with pytest.raises(ValueError):
        gate_on_control([c_lc])


def test_capability_controls_gate_what_needs_them_and_are_never_counted():
    revise = capability_control(_part("REV", 0.3, 0.05), capability="revision", gates=["C1", "C2"])
    judge = capability_control(_part("JUDGE", -0.01, 0.05), capability="self-judging", gates=["C2"])
    rm = capability_control(_part("RM", 0.01, 0.05), capability="reward model", gates=[])
    c1, c2, c3 = _part("C1", -1.0, 0.1), _part("C2", 1.0, 0.1), _part("C3", 1.0, 0.1)
    out = gate_on_capabilities([c1, revise, c2, judge, c3, rm])
    assert [c["id"] for c in out] == ["REV", "JUDGE", "RM", "C1", "C2", "C3"]  # controls first, order kept
    got = {c["id"]: c for c in out}
    assert got["REV"]["verdict"] == REPRODUCED and got["JUDGE"]["verdict"] == INCONCLUSIVE
    assert got["C1"]["verdict"] == NOT_REPRODUCED  # licensed by the present capability
    assert got["C3"]["verdict"] == REPRODUCED  # gated by no control
    # a missing capability never reads "not reproduced": the claim is inconclusive, with the reason and its old verdict
    assert got["C2"]["verdict"] == INCONCLUSIVE and got["C2"]["evidence"]["gated_by"] == "JUDGE"
    assert "JUDGE (self-judging) is not shown" in got["C2"]["evidence"]["gate_reason"]
    assert got["C2"]["evidence"]["ungated_verdict"] == REPRODUCED
    # reasons accumulate with the positive control's
    pc_fail = {"id": "PC", "verdict": INCONCLUSIVE, "evidence": {}}
    both = {c["id"]: c for c in gate_on_capabilities(gate_on_control([pc_fail, c2, judge]))}
    assert both["C2"]["evidence"]["gated_by"] == "PC, JUDGE"
    assert both["C2"]["evidence"]["ungated_verdict"] == REPRODUCED
    assert both["C2"]["evidence"]["gate_reason"].startswith("PC is inconclusive; capability control JUDGE")
    # never counted; bad declarations refused
    assert count_verdicts(out)["empirical"] == {REPRODUCED: 1, NOT_REPRODUCED: 1, INCONCLUSIVE: 1}
    with pytest.raises(ValueError, match="unknown claims"):
        gate_on_capabilities([capability_control(_part("K", 1.0, 0.1), capability="x", gates=["C9"])])
    with pytest.raises(ValueError, match="other controls"):
        gate_on_capabilities([revise, c2, capability_control(_part("C1", 1.0, 0.1), capability="x", gates=["REV"])])
    with pytest.raises(ValueError, match="empirical"):
        capability_control(claim("R", "", True, "", {}, kind="recomputation"), capability="x", gates=[])


def test_kinds_are_counted_apart_and_identities_never():
    cs = [
        _part("a", 1.0, 0.1),
        claim("b", "", True, "", {}, kind="recomputation"),
        claim("c", "", True, "", {}, kind="identity"),
        claim("d", "", False, "", {}, kind="recomputation"),
    ]
    n = count_verdicts(cs)
    assert n["empirical"] == {REPRODUCED: 1} and n["recomputation"] == {REPRODUCED: 1, NOT_REPRODUCED: 1}
    assert "identity" not in n
    with pytest.raises(ValueError):
        claim("x", "", True, "", {}, kind="obvious")


def test_seed_interval_rejects_bad_input():
    for bad in ([], [1.0, float("nan")], [[1.0, 2.0]]):
        with pytest.raises(ValueError):
            seed_interval(bad)


def test_format_ci_prints_the_interval_or_says_one_seed_has_none():
    # two seeds 0 and 1: mean 0.5, sd/√2 = 0.5, half-width t_{0.975, 1} · 0.5
    two = seed_interval([0.0, 1.0])
    half = stats.t.ppf(0.975, 1) * 0.5
    assert format_ci(two) == f"{0.5:+.3f} [{0.5 - half:+.3f}, {0.5 + half:+.3f}]"
    assert format_ci(seed_interval([0.25])) == "+0.250 [one seed: no interval]"  # make check's one-seed subset
    assert format_ci(seed_interval([0.25, 0.75]), ".1f").startswith("0.5 [")


def test_verdict_stability():
    e = {"verdict": REPRODUCED, "evidence": {"ci_lo": 0.01, "ci_hi": 2.0}}
    f = {"verdict": INCONCLUSIVE, "evidence": {"ci_lo": -0.01, "ci_hi": 1.9}}
    assert verdict_stable(f, e, tol=0.05)  # the bound moved across 0 by less than the tolerance
    assert not verdict_stable(f, e, tol=0.001)
    far = {"verdict": NOT_REPRODUCED, "evidence": {"ci_lo": -3.0, "ci_hi": -1.0}}
    assert not verdict_stable(far, e, tol=0.05)
    assert not verdict_stable(
        {"verdict": NOT_REPRODUCED, "evidence": {}}, {"verdict": REPRODUCED, "evidence": {}}, tol=1
    )


def test_equivalence_two_one_sided_tests():
    from replicate.metrics.verdicts import equivalence

    assert equivalence(20.0, 0.3, 20.5, margin=1.5)[0] == REPRODUCED  # 90 % interval of −0.5 ± 0.49 inside ±1.5
    assert equivalence(20.0, 1.0, 20.5, margin=1.5)[0] == INCONCLUSIVE  # −0.5 ± 1.64 reaches past −1.5
    assert equivalence(15.0, 0.5, 20.5, margin=1.5)[0] == NOT_REPRODUCED  # −5.5 ± 0.82 entirely below −1.5
    v, ev = equivalence(22.4, 0.2, 20.5, margin=1.5)
    assert v == NOT_REPRODUCED and ev["ci_lo"] == pytest.approx(1.9 - 1.6449 * 0.2, abs=1e-3)


def test_lc_bootstrap_se_is_a_sampling_error():
    """It shrinks as 1/√n when every instruction appears 4 times (a prediction spread would not)."""
    import pandas as pd

    from replicate.metrics.alpaca_eval import lc_bootstrap_se

    rng = np.random.default_rng(0)
    n = 300
    len_b, len_m = rng.integers(200, 2000, n), rng.integers(200, 2000, n)
    p = 1 + 1 / (1 + np.exp(-(0.3 + 0.5 * np.tanh((len_m - len_b) / 500) + rng.normal(0, 1.5, n))))
    df = pd.DataFrame({"instruction": [f"q{i}" for i in range(n)], "output_1": ["b" * k for k in len_b],
                       "output_2": ["m" * k for k in len_m], "preference": p})  # fmt: skip
    one, four = lc_bootstrap_se(df, n_boot=40), lc_bootstrap_se(pd.concat([df] * 4), n_boot=40)
    assert 1.0 < one < 6.0 and one / four == pytest.approx(2.0, rel=0.3)
