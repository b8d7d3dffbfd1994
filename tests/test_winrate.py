"""AlpacaEval raw/discrete win rates and the length-controlled GLM (replicate.metrics.winrate)."""

import numpy as np
import pandas as pd
import pytest

from replicate.metrics import winrate as W


# ---------------------------------------------------------------- encodings and raw win rates
def test_alpaca_eval_encoding():
    p = W.from_alpaca_eval([1.0, 2.0, 1.5, 0, np.nan, 1.25, 3.0])
    assert np.allclose(p[:4], [0, 1, 0.5, 0.5]) and p[5] == 0.25
    assert np.isnan(p[4]) and np.isnan(p[6])


def test_prob_encoding_rejects_alpaca_values():
    with pytest.raises(ValueError, match="encoding='alpaca_eval'"):
        W.win_rates([1.2, 1.9])


def test_win_rates_closed_form():
    r = W.win_rates([1.0, 2.0, 1.5, 0, np.nan, 1.75], encoding="alpaca_eval")
    p = np.array([0, 1, 0.5, 0.5, 0.75])
    assert r["n_total"] == 5 and r["n_draws"] == 2 and r["n_wins"] == 2 and r["n_wins_base"] == 1
    assert r["win_rate"] == pytest.approx(100 * p.mean())
    assert r["standard_error"] == pytest.approx(100 * p.std(ddof=1) / np.sqrt(5))
    assert r["discrete_win_rate"] == pytest.approx(100 * (2 + 0.5 * 2) / 5)


# ---------------------------------------------------------------- LC GLM
def _synthetic(n=805, theta=0.4, phi=-1.5, psi=0.8, seed=0):
    rng = np.random.default_rng(seed)
    lb = rng.integers(200, 3000, n)
    lm = rng.integers(200, 3000, n)
    g = rng.normal(size=n)
    z = theta + phi * np.tanh(W.std_delta_len(lm, lb)) + psi * g
    p = W.logistic(z + rng.normal(0, 0.3, n))
    return p, lm, lb, g


def test_glm_recovers_generating_coefficients():
    p, lm, lb, g = _synthetic(n=3000)
    fit = W.fit_lc_glm(p, lm, lb, g, gamed=None)
    assert fit.length == pytest.approx(-1.5, abs=0.15)
    assert fit.difficulty == pytest.approx(0.8, abs=0.1)
    assert fit.model == pytest.approx(0.4, abs=0.1)


def test_lc_is_prediction_at_zero_length_difference():
    p, lm, lb, g = _synthetic()
    r = W.lc_win_rate(p, lm, lb, g)
    fit = r["glm"]
    q = W.logistic(fit.model + fit.difficulty * g)
    assert r["lc_win_rate"] == pytest.approx(100 * q.mean())
    assert r["lc_standard_error"] == pytest.approx(100 * q.std(ddof=1) / np.sqrt(len(q)))
    assert r["win_rate"] == pytest.approx(100 * p.mean())


def test_lc_without_difficulty_on_toy_judge_arrays():
    """The SimPO toy world calls this with P(model wins) in [0, 1] and no instruction difficulty."""
    rng = np.random.default_rng(1)
    n = 256
    lm, lb = rng.integers(5, 60, n), rng.integers(5, 60, n)
    p = W.logistic(0.2 - 2.0 * np.tanh(W.std_delta_len(lm, lb)))  # judge likes longer outputs
    r = W.lc_win_rate(p, lm, lb)
    assert not r["glm"].uses_difficulty and r["glm"].difficulty == 0.0
    assert r["glm"].length < 0
    assert r["lc_win_rate"] == pytest.approx(100 * W.logistic(r["glm"].model))


def test_baseline_against_itself_is_50():
    n = 100
    lens = np.arange(100, 100 + n)
    r = W.lc_win_rate(np.full(n, 0.5), lens, lens)
    assert r["win_rate"] == 50 and r["lc_win_rate"] == pytest.approx(50, abs=1e-9)


def test_lc_from_weights_is_antisymmetric():
    w = pd.DataFrame(
        {"length": [0, -1.2, -2.0], "difficulty": [0, 0.7, 1.1], "model": [0, -0.5, 0.8]}, index=["base", "a", "b"]
    )
    g = np.random.default_rng(2).normal(size=805)
    assert W.lc_from_weights(w, "base", g, baseline="base") == 50
    ab = W.lc_from_weights(w, "a", g, baseline="b")
    ba = W.lc_from_weights(w, "b", g, baseline="a")
    assert ab + ba == pytest.approx(100)


def test_fit_is_deterministic():
    p, lm, lb, g = _synthetic(n=300)
    a, b = W.fit_lc_glm(p, lm, lb, g), W.fit_lc_glm(p, lm, lb, g)
    assert (a.length, a.difficulty, a.model, a.C) == (b.length, b.difficulty, b.model, b.C)


def test_gameability_closed_form():
    lb = pd.DataFrame(
        {"win_rate": [10.0, 20.0, 5.0, 15.0, 30.0], "lc": [10.0, 12.0, 8.0, 15.0, 30.0]},
        index=["m", "m_verbose", "m_concise", "other", "x"],
    )
    # x has no variants; weight over non-verbose rows {m, m_concise, other, x}
    wgt = (
        lb.loc[["m", "m_concise", "other", "x"], "win_rate"].std()
        / lb.loc[["m", "m_concise", "other", "x"], "lc"].std()
    )
    g = W.gameability(lb, "lc")
    pair = lb.loc[["m", "m_verbose"], "lc"]
    assert g["verbosity"] == pytest.approx(pair.std() / pair.mean() * wgt * 100)
    assert g["n_models"] == 1


def test_extreme_change_rule():
    assert W.is_extreme_change(20, 9.9) and not W.is_extreme_change(20, 10.1)
    assert W.is_extreme_change(50, 62.6) and not W.is_extreme_change(50, 62.4)


# ---------------------------------------------------------------- real data (skipped without it)
@pytest.fixture(scope="module")
def annotations(public_data):
    from replicate.papers import lc_alpacaeval as lc

    return lc.load_annotations(), lc.load_leaderboard("HEAD")


def test_raw_win_rates_equal_leaderboard(annotations):
    ann, lb = annotations
    worst = 0.0
    for m, g in ann.groupby("model"):
        if m not in lb.index:
            continue
        r = W.win_rates(g["preference"], encoding="alpaca_eval")
        for k in ("win_rate", "standard_error", "discrete_win_rate"):
            worst = max(worst, abs(r[k] - lb.loc[m, k]))
        assert r["n_total"] == lb.loc[m, "n_total"] and r["n_wins"] == lb.loc[m, "n_wins"]
    assert worst < 1e-6
