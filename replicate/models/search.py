"""Inference-time search on scored samples: best-of-n, adaptive sampling in rounds, early pruning.

Pure functions of score arrays (one row per prompt, one column per sample, in the order the samples were
drawn), so any scorer plugs in: an oracle, a judge, a reward model, a policy's self-evaluation. Ties go
to the earliest sample (``argmax``), so a selection is a deterministic function of its scores.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _2d(a, name: str) -> np.ndarray:
    x = np.asarray(a, dtype=float)
    if x.ndim != 2 or x.shape[1] < 1:
        raise ValueError(f"{name} must be a (prompts, samples) array, got shape {x.shape}")
    return x


def best_of_n(scores, n: int | None = None) -> np.ndarray:
    """Index of the highest-scoring sample among the first ``n`` (all if None), per prompt."""
    s = _2d(scores, "scores")
    n = s.shape[1] if n is None else int(n)
    if not 1 <= n <= s.shape[1]:
        raise ValueError(f"n must be in [1, {s.shape[1]}], got {n}")
    return s[:, :n].argmax(1)


def pick(values, idx) -> np.ndarray:
    """values[i, idx[i]] per prompt."""
    v = _2d(values, "values")
    return v[np.arange(v.shape[0]), np.asarray(idx, dtype=int)]


def round_ends(rounds: Sequence[int]) -> np.ndarray:
    """Cumulative samples after each round, e.g. rounds (1, 1, 2, 4, 8) → (1, 2, 4, 8, 16)."""
    r = np.asarray(rounds, dtype=int)
    if r.ndim != 1 or r.size == 0 or (r < 1).any():
        raise ValueError(f"rounds must be positive batch sizes, got {list(rounds)}")
    return np.cumsum(r)


def adaptive_sampling(scores, rounds: Sequence[int], tau: float) -> tuple[np.ndarray, np.ndarray]:
    """Adaptive sampling (Manvi et al. 2024, §adaptive sampling): draw samples in rounds of the given batch
    sizes; after each round stop if the best score so far is ≥ ``tau``, else draw the next round; select the
    best-scoring sample drawn. Returns (chosen index, samples used) per prompt.

    ``scores[i, j]``: the score of prompt i's j-th sample in drawing order; it needs ≥ sum(rounds) columns.
    """
    s = _2d(scores, "scores")
    ends = round_ends(rounds)
    if s.shape[1] < ends[-1]:
        raise ValueError(f"{ends[-1]} samples needed for rounds {list(rounds)}, got {s.shape[1]}")
    used = np.full(s.shape[0], ends[-1])
    open_ = np.ones(s.shape[0], dtype=bool)
    for e in ends[:-1]:
        stop = open_ & (s[:, :e].max(1) >= tau)
        used[stop] = e
        open_ &= ~stop
    chosen = np.array([s[i, :u].argmax() for i, u in enumerate(used)], dtype=int)
    return chosen, used


def expected_samples(p_stop: Sequence[float], rounds: Sequence[int]) -> float:
    """Closed form of the mean samples of :func:`adaptive_sampling` when the rule stops after round r with
    probability ``p_stop[r]`` given it reached round r: E[n] = Σ_r size_r · Π_{r' < r} (1 − p_stop[r'])."""
    sizes = np.asarray(rounds, dtype=float)
    p = np.asarray(p_stop, dtype=float)
    if p.size < sizes.size - 1:
        raise ValueError("p_stop needs one probability per round but the last")
    reach = np.concatenate([[1.0], np.cumprod(1.0 - p[: sizes.size - 1])])
    return float((sizes * reach).sum())


def prune_then_select(prefix_scores, full_scores, keep: int) -> tuple[np.ndarray, np.ndarray]:
    """Early pruning (Manvi et al. 2024, §pruning): rank all samples by a score of their *prefixes*, finish
    only the top ``keep``, and select the best of those by the full-response score. Returns
    (chosen index, kept mask)."""
    ps, fs = _2d(prefix_scores, "prefix_scores"), _2d(full_scores, "full_scores")
    if ps.shape != fs.shape:
        raise ValueError(f"prefix and full scores differ in shape: {ps.shape} vs {fs.shape}")
    if not 1 <= keep <= ps.shape[1]:
        raise ValueError(f"keep must be in [1, {ps.shape[1]}], got {keep}")
    order = np.argsort(-ps, axis=1, kind="stable")[:, :keep]
    kept = np.zeros(ps.shape, dtype=bool)
    np.put_along_axis(kept, order, True, axis=1)
    chosen = np.where(kept, fs, -np.inf).argmax(1)
    return chosen, kept


def pruned_token_share(lengths, kept, prefix_tokens: int) -> float:
    """Share of generated tokens saved by stopping pruned samples after ``prefix_tokens`` tokens
    (a sample shorter than that costs its own length either way)."""
    n = _2d(lengths, "lengths")
    spent = np.where(np.asarray(kept, dtype=bool), n, np.minimum(n, prefix_tokens))
    total = n.sum()
    return float(1.0 - spent.sum() / total) if total > 0 else 0.0
