"""Benchmark-vs-benchmark correlations (Spearman, Pearson, Kendall) with bootstrap confidence intervals.

For paired scores (x_i, y_i) of n models:

* Pearson  r   = Σ (x−x̄)(y−ȳ) / √(Σ (x−x̄)² Σ (y−ȳ)²)
* Spearman ρ   = Pearson r of the ranks (ties get their average rank), as ``scipy.stats.spearmanr``
* Kendall  τ_b = Σ_{i<j} sgn(x_i−x_j) sgn(y_i−y_j) / √(Σ_{i<j} sgn(x_i−x_j)² · Σ_{i<j} sgn(y_i−y_j)²),
  as ``scipy.stats.kendalltau`` (variant "b", which corrects for ties)

Bootstrap CI: resample the n models with replacement B times (one ``numpy`` Generator seeded by
``seed``), recompute the statistic, and take the (α/2, 1−α/2) percentiles; resamples where a side is
constant (statistic undefined) are dropped and counted. All B resamples are computed at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy.stats import rankdata

METHODS = ("spearman", "pearson", "kendall")


def _pearson_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Row-wise Pearson correlation of two (B, n) arrays; NaN where a row is constant."""
    xc = x - x.mean(axis=1, keepdims=True)
    yc = y - y.mean(axis=1, keepdims=True)
    den = np.sqrt((xc**2).sum(axis=1) * (yc**2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (xc * yc).sum(axis=1) / den
    r[den <= 1e-300] = np.nan
    return np.clip(r, -1.0, 1.0)


def _kendall_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Row-wise Kendall τ_b of two (B, n) arrays; NaN where a row is constant."""
    sx = np.sign(x[:, :, None] - x[:, None, :])
    sy = np.sign(y[:, :, None] - y[:, None, :])
    num = (sx * sy).sum(axis=(1, 2))
    den = np.sqrt((sx**2).sum(axis=(1, 2)) * (sy**2).sum(axis=(1, 2)))
    with np.errstate(invalid="ignore", divide="ignore"):
        t = num / den
    t[den == 0] = np.nan
    return t


def corr_rows(x: np.ndarray, y: np.ndarray, method: str) -> np.ndarray:
    x = np.atleast_2d(np.asarray(x, dtype=float))
    y = np.atleast_2d(np.asarray(y, dtype=float))
    if method == "pearson":
        return _pearson_rows(x, y)
    if method == "spearman":
        return _pearson_rows(rankdata(x, axis=1), rankdata(y, axis=1))
    if method == "kendall":
        return _kendall_rows(x, y)
    raise ValueError(f"method must be one of {METHODS}, not {method!r}")


def correlation(x, y, method: str = "spearman") -> float:
    """One correlation coefficient of paired arrays (NaN pairs must be removed by the caller)."""
    return float(corr_rows(x, y, method)[0])


def bootstrap_ci(
    x, y, method: str = "spearman", *, n_boot: int = 1000, seed: int = 0, level: float = 0.95
) -> tuple[float, float, int]:
    """Percentile bootstrap CI over models: (low, high, number of undefined resamples dropped)."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    n = len(x)
    if n < 3 or n_boot <= 0:
        return float("nan"), float("nan"), 0
    idx = np.random.default_rng(seed).integers(0, n, size=(n_boot, n))
    stats = corr_rows(x[idx], y[idx], method)
    ok = np.isfinite(stats)
    a = (1 - level) / 2
    lo, hi = np.quantile(stats[ok], [a, 1 - a]) if ok.any() else (np.nan, np.nan)
    return float(lo), float(hi), int((~ok).sum())


def aligned(x: pd.Series, y: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Restrict two Series to their common index where both are finite."""
    x = pd.to_numeric(pd.Series(x), errors="coerce")
    y = pd.to_numeric(pd.Series(y), errors="coerce")
    idx = [i for i in x.index if i in y.index and np.isfinite(x[i]) and np.isfinite(y[i])]
    return x.loc[idx].astype(float), y.loc[idx].astype(float)


def correlation_table(
    columns: Mapping[str, pd.Series],
    target: pd.Series,
    *,
    methods: Sequence[str] = METHODS,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
    top_k: int | None = None,
) -> pd.DataFrame:
    """One row per benchmark column: its correlation with ``target`` (e.g. Arena Elo) by each method,
    with bootstrap CIs (``<method>_lo``, ``<method>_hi``) and the number of models ``n``.

    ``top_k``: add ``pearson_top`` = Pearson over the ``top_k`` models with the highest target (the
    WildBench paper's "P-Cor top"), no CI (k is too small to resample meaningfully).
    Each method/row uses its own seed offset so adding a row does not change the others' CIs.
    """
    out = {}
    for r, (name, col) in enumerate(columns.items()):
        x, y = aligned(col, target)
        row = {"n": len(x)}
        for k, m in enumerate(methods):
            row[m] = correlation(x.to_numpy(), y.to_numpy(), m) if len(x) > 1 else np.nan
            lo, hi, _ = bootstrap_ci(
                x.to_numpy(), y.to_numpy(), m, n_boot=n_boot, seed=seed + 1000 * r + k, level=level
            )
            row[f"{m}_lo"], row[f"{m}_hi"] = lo, hi
        if top_k:
            top = y.sort_values(ascending=False).index[:top_k]
            row["pearson_top"] = correlation(x.loc[top].to_numpy(), y.loc[top].to_numpy(), "pearson")
        out[name] = row
    return pd.DataFrame(out).T
