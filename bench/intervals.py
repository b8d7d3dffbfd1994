"""``make bench-intervals``: coverage and width of the verdicts' interval, by simulation (docs/statistics.md).

Paired differences of k seeds × n prompts: a seed effect (SD ``r`` × the prompt SE of a seed mean) plus prompt noise,
true mean 0. For each k and variance ratio it prints the coverage of a nominal 95 % interval and its mean width
relative to the t interval that *knew* which level dominates (seeds: t on seed means; prompts: t on pooled prompts):

* ``t``: the suite's interval (``replicate.metrics.verdicts.paired_interval``), Student t on seed means;
* ``boot``: the two-level percentile bootstrap it replaced (seeds, then prompts within seeds);
* ``frontier``: over intervals that pool the prompts when the seed means agree (F = s²_means / (s²_prompts / n) < c)
  and use t on seed means otherwise, with the pooled variance inflated by m — the narrowest width where prompts
  dominate among those keeping ≥ 93 % coverage at every variance ratio. It shows what adaptivity can buy with k seeds.
"""

from __future__ import annotations

import argparse

import numpy as np
from scipy import stats
from scipy.special import gammaln

from replicate.metrics.verdicts import paired_interval

Z = stats.norm.ppf(0.975)


def bootstrap(d: np.ndarray, rng, n_boot: int = 400) -> tuple[float, float]:
    k, n = d.shape
    pick = rng.integers(k, size=(n_boot, k))
    idx = rng.integers(n, size=(n_boot, k, n))
    boots = d[pick[..., None], idx].mean(axis=(1, 2))
    return tuple(np.quantile(boots, [0.025, 0.975]))


def simulate(k: int, ratio: float, reps: int, n: int, rng, with_boot: bool) -> dict:
    d = rng.normal(0, ratio, (reps, k, 1)) + rng.normal(0, np.sqrt(n), (reps, k, n))  # prompt SE of a seed mean = 1
    t = np.array([paired_interval(x)[1:] for x in d])
    if ratio == 0:
        oracle = np.mean([2 * stats.t.ppf(0.975, k * n - 1) * x.std(ddof=1) / np.sqrt(k * n) for x in d])
    else:
        oracle = np.mean([2 * stats.t.ppf(0.975, k - 1) * x.mean(1).std(ddof=1) / np.sqrt(k) for x in d])
    out = {"t_cov": np.mean((t[:, 0] < 0) & (t[:, 1] > 0)), "t_width": np.mean(t[:, 1] - t[:, 0]) / oracle}
    if with_boot:
        b = np.array([bootstrap(x, rng) for x in d[: min(reps, 400)]])
        out["boot_cov"] = np.mean((b[:, 0] < 0) & (b[:, 1] > 0))
    return out


def frontier(k: int, floor: float = 0.93) -> tuple[float, float, float]:
    """(width where prompts dominate, c, m) of the narrowest pretest interval with coverage ≥ ``floor`` at every
    variance ratio, by numerical integration over the χ² law of the seed means' variance."""
    df, t = k - 1, stats.t.ppf(0.975, k - 1)
    u = (np.arange(2000) + 0.5) / 2000
    x = stats.chi2.ppf(u, df)[None, :]
    ratios = np.array([0, 0.1, 0.25, 0.5, 1, 1.5, 2, 3, 4, 8, 16, 100, 1e4])[:, None]
    best = (np.inf, None, None)
    for c in np.arange(0.0, 4.01, 0.1):
        for m in np.arange(1.0, 3.01, 0.05):
            F = (1 + ratios) * x / df  # s² of seed means over the prompt variance of a seed mean
            h = np.where(F < c, Z * np.sqrt(m), t * np.sqrt(F))
            cov = np.mean(2 * stats.norm.cdf(h / np.sqrt(1 + ratios)) - 1, axis=1)
            if cov.min() >= floor and (w := np.mean(h[0]) / Z) < best[0]:
                best = (float(w), float(c), float(m))
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=2000)
    ap.add_argument("--prompts", type=int, default=64)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    print("k  seed SD/prompt SE   t coverage   t width / oracle   bootstrap coverage")
    for k in (3, 4, 5, 6, 8, 10):
        for ratio in (4.0, 2.0, 1.0, 0.5, 0.0):
            r = simulate(k, ratio, args.reps, args.prompts, rng, with_boot=k in (3, 5))
            boot = f"{r['boot_cov']:.3f}" if "boot_cov" in r else ""
            print(f"{k:<3}{ratio:>10.1f}{r['t_cov']:>18.3f}{r['t_width']:>17.2f}{boot:>20}")
    print(
        "\nwidth where prompts dominate (÷ pooled-prompt t): the t interval vs the best pretest interval with ≥ 93 %"
    )
    print("coverage at every variance ratio")
    for k in (3, 4, 5, 6, 10):
        c4 = np.sqrt(2 / (k - 1)) * np.exp(gammaln(k / 2) - gammaln((k - 1) / 2))
        w, c, m = frontier(k)
        print(
            f"k={k:<3} t: {stats.t.ppf(0.975, k - 1) * c4 / Z:.2f}   best pretest: {w:.2f} (pool if F < {c:.1f}, ×{m:.2f})"
        )


if __name__ == "__main__":
    main()
