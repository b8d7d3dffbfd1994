"""Reward shapings for RL on a learned reward model: PAR and the baselines it is compared with, as pure functions.

Fu et al. 2025, "Reward Shaping to Mitigate Reward Hacking in RLHF" (PAR, arXiv 2502.18770); every formula is the
official code's (``PorUna-byte/PAR`` ``trainers/reward_shaper.py``; card ../shared/papers/par.md, table
"Shaping functions"). Notation: r is the proxy RM score r(x, y) after the length penalty (``length_penalty``),
``ref`` is an (n, M) array of the RM's scores of M reference responses y_ref,m ~ π_SFT(·|x) for each row's prompt,
σ the logistic function. Every function maps arrays to an array of the same length; none keeps state. The running
statistics that Meanstd, Clip and Minmax need are passed in (``RunningMoments``, a batch-merged Welford update,
returns a new value instead of mutating).

``SHAPINGS`` names each shaping for a config; ``training.rl.reward_function(score, shaping=...)`` applies one per
generation batch (``Shaping(name, **hp)`` is that callable for a shaping named in a config).

Not in ``losses/``: that folder is part of the code hash every cached toy-world stage (the shared SFT models
included) is keyed on (``toy_stages.CODE``); these functions change no SFT model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit, log_expit, ndtri


def length_penalty(r, lengths, threshold: float, coef: float) -> np.ndarray:
    """r̃ = r − coef · max(0, |y| − threshold) (PAR code: ``reward_penalize_length``, ``gen_valid_len = 300``,
    ``len_penalty = 0.01``; applied before every shaping except ODIN's)."""
    return np.asarray(r, float) - coef * np.maximum(0.0, np.asarray(lengths, float) - threshold)


def vanilla(r) -> np.ndarray:
    """r_RL = r̃ (no shaping)."""
    return np.asarray(r, float)


def par(r, ref, k: float = 1.0) -> np.ndarray:
    """PAR (Preference As Reward): r_RL = (1/M) Σ_m σ(k · (r̃ − r_m)) — the RM's Bradley–Terry probability that y
    beats the SFT policy's reference responses (``--reward_sigmoid --reward_relative``, k = ``sigmoid_k``)."""
    r, ref = np.asarray(r, float), np.asarray(ref, float)
    return expit(k * (r[:, None] - ref)).mean(1)


def sigmoid(r, k: float = 1.0) -> np.ndarray:
    """Uncentered sigmoid: r_RL = σ(k · r̃) (``--reward_sigmoid`` without ``--reward_relative``)."""
    return expit(k * np.asarray(r, float))


def centered(r, ref) -> np.ndarray:
    """Centered: r_RL = r̃ − (1/M) Σ_m r_m (``--reward_relative`` alone)."""
    return np.asarray(r, float) - np.asarray(ref, float).mean(1)


def tanh_centered(r, ref) -> np.ndarray:
    """Centered tanh: r_RL = (1/M) Σ_m tanh(r̃ − r_m)."""
    r, ref = np.asarray(r, float), np.asarray(ref, float)
    return np.tanh(r[:, None] - ref).mean(1)


def tanh(r) -> np.ndarray:
    """Uncentered tanh: r_RL = tanh(r̃)."""
    return np.tanh(np.asarray(r, float))


def sgfc(r, ref, shift: float = 3.0) -> np.ndarray:
    """SgFc ("slow growth, fast convergence"): r_RL = (1/M) Σ_m σ((r̃ − shift) − r_m), shift = 3 in the code: a
    sigmoid moved right, so it is flat where the policy starts (violates PAR's principle 2)."""
    r, ref = np.asarray(r, float), np.asarray(ref, float)
    return expit((r[:, None] - shift) - ref).mean(1)


def lsc(r, ref, quantile: float = 0.85) -> np.ndarray:
    """LSC (log-sigmoid centering): r_RL = log σ(r̃ − q), q = the ``quantile`` quantile of N(mean_m r_m, std_m r_m)
    (population std over the M references, as ``np.std``/``torch.std(unbiased=False)``)."""
    r, ref = np.asarray(r, float), np.asarray(ref, float)
    q = ref.mean(1) + float(ndtri(quantile)) * ref.std(1)
    return log_expit(r - q)


def ceil(r, c: float) -> np.ndarray:
    """Ceil: r_RL = min(r̃, c) (c ∈ {3, 4, 5} in the paper's ablation)."""
    return np.minimum(np.asarray(r, float), c)


def meanstd(r, mean: float, std: float, eps: float = 1e-8) -> np.ndarray:
    """Meanstd: r_RL = (r̃ − μ_run) / σ_run, with the running moments over every reward seen."""
    return (np.asarray(r, float) - mean) / (std + eps)


def clip(r, mean: float, std: float) -> np.ndarray:
    """Clip: r_RL = clip(r̃, μ_run − σ_run, μ_run + σ_run)."""
    return np.clip(np.asarray(r, float), mean - std, mean + std)


def minmax(r, lo: float, hi: float, eps: float = 1e-8) -> np.ndarray:
    """Minmax: r_RL = (r̃ − min_run) / (max_run − min_run)."""
    return (np.asarray(r, float) - lo) / (hi - lo + eps)


@dataclass(frozen=True)
class RunningMoments:
    """Count, mean, M2 (sum of squared deviations), min and max of every reward seen; ``update`` merges a batch
    (Chan et al.'s parallel Welford update, as the PAR code's batch-merged running statistics)."""

    n: int = 0
    mean: float = 0.0
    m2: float = 0.0
    lo: float = float("inf")
    hi: float = float("-inf")

    @property
    def std(self) -> float:
        return float(np.sqrt(self.m2 / self.n)) if self.n else 0.0

    def update(self, x) -> RunningMoments:
        x = np.asarray(x, float)
        nb, mb = len(x), float(x.mean())
        n = self.n + nb
        delta = mb - self.mean
        m2 = self.m2 + float(((x - mb) ** 2).sum()) + delta**2 * self.n * nb / n
        return RunningMoments(
            n, self.mean + delta * nb / n, m2, min(self.lo, float(x.min())), max(self.hi, float(x.max()))
        )


# ---------------------------------------------------------------------------------------------
# Names for configs: which inputs each shaping needs


NEEDS_REF = {"par", "centered", "tanh_centered", "sgfc", "lsc"}
RUNNING = {"meanstd", "clip", "minmax"}
SHAPINGS = ("vanilla", "par", "sigmoid", "centered", "tanh_centered", "tanh", "sgfc", "lsc", "ceil") + tuple(
    sorted(RUNNING)
)


class Shaping:
    """A named shaping as the callable ``training.rl.reward_function`` takes: ``(r, batch) -> r_RL``.

        Applies the length penalty first (``penalty = (threshold, coef)``; ``None`` for none), then the shaping with
        ``hp`` (e.g. k for PAR, c for Ceil), reading the reference rewards from ``batch.columns["ref_rewards"]`` (the
        first ``n_refs`` of them) when the shaping needs them; those must already carry the same length penalty, as in
    the PAR code, where ``gen_refs`` scores the references with the same penalised reward. Running shapings fold each batch into their moments
        before normalising it (the only state, kept here, outside the pure functions above)."""

    def __init__(self, name: str, *, penalty: tuple[float, float] | None = None, n_refs: int | None = None, **hp):
        if name not in SHAPINGS:
            raise ValueError(f"unknown shaping {name!r}; known: {SHAPINGS}")
        self.name, self.penalty, self.n_refs, self.hp = name, penalty, n_refs, hp
        self.moments = RunningMoments()

    def __repr__(self) -> str:
        return f"Shaping({self.name!r}, penalty={self.penalty}, n_refs={self.n_refs}, {self.hp})"

    def __call__(self, r, batch) -> np.ndarray:
        r = np.asarray(r, float)
        if self.penalty is not None:
            r = length_penalty(r, batch.lengths, *self.penalty)
        if self.name in NEEDS_REF:
            ref = np.asarray(batch.columns["ref_rewards"], float)[:, : self.n_refs]
            return globals()[self.name](r, ref, **self.hp)
        if self.name in RUNNING:
            self.moments = self.moments.update(r)
            m = self.moments
            return minmax(r, m.lo, m.hi) if self.name == "minmax" else globals()[self.name](r, m.mean, m.std)
        return globals()[self.name](r, **self.hp)
