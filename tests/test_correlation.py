"""replicate.metrics.correlation: parity with scipy, bootstrap determinism, the table helper."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from replicate.metrics import correlation as C


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_parity_with_scipy_including_ties(seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 6, 25).astype(float)  # many ties
    y = x + rng.normal(0, 2, 25)
    y[:5] = y[0]
    assert C.correlation(x, y, "pearson") == pytest.approx(stats.pearsonr(x, y).statistic, abs=1e-12)
    assert C.correlation(x, y, "spearman") == pytest.approx(stats.spearmanr(x, y).statistic, abs=1e-12)
    assert C.correlation(x, y, "kendall") == pytest.approx(stats.kendalltau(x, y).statistic, abs=1e-12)


def test_bootstrap_rows_match_scalar_statistic():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(2, 15))
    idx = rng.integers(0, 15, size=(7, 15))
    for m in C.METHODS:
        rows = C.corr_rows(x[idx], y[idx], m)
        for b in range(7):
            ref = {"pearson": stats.pearsonr, "spearman": stats.spearmanr, "kendall": stats.kendalltau}[m]
            xb, yb = x[idx[b]], y[idx[b]]
            assert rows[b] == pytest.approx(ref(xb, yb).statistic, abs=1e-12)


def test_bootstrap_ci_is_deterministic_and_brackets_estimate():
    rng = np.random.default_rng(4)
    x = rng.normal(size=30)
    y = x + rng.normal(0, 0.5, 30)
    a = C.bootstrap_ci(x, y, "spearman", n_boot=500, seed=7)
    b = C.bootstrap_ci(x, y, "spearman", n_boot=500, seed=7)
    assert a == b
    assert a[0] < C.correlation(x, y, "spearman") < a[1]


def test_constant_resamples_are_dropped():
    x = np.array([1.0, 1.0, 1.0, 2.0])
    y = np.array([1.0, 2.0, 3.0, 4.0])
    lo, hi, dropped = C.bootstrap_ci(x, y, "pearson", n_boot=200, seed=0)
    assert dropped > 0 and np.isfinite(lo) and np.isfinite(hi)


def test_table_aligns_on_common_finite_index_and_top_k():
    elo = pd.Series([1300, 1250, 1200, 1150, 1100, 1050, 1000], index=list("abcdefg"), dtype=float)
    bench = pd.Series([9, 8, 7, np.nan, 5, 4, 6], index=list("abcdefg"), dtype=float)
    other = pd.Series([1, 2, 3], index=list("abz"), dtype=float)
    t = C.correlation_table({"bench": bench, "other": other}, elo, n_boot=50, seed=0, top_k=3)
    assert t.loc["bench", "n"] == 6 and t.loc["other", "n"] == 2
    assert t.loc["bench", "pearson_top"] == pytest.approx(1.0)
    assert t.loc["bench", "kendall"] == pytest.approx(
        stats.kendalltau([9, 8, 7, 5, 4, 6], [1300, 1250, 1200, 1100, 1050, 1000]).statistic
    )
