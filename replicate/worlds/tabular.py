"""Tabular world (DESIGN §5): softmax policies over a few candidate responses per prompt, exactly.

Everything is a float64 tensor indexed [prompt m, candidate i] (policies, log-probs, lengths) or
[m, i, j] (preferences P[m, i, j] = P(y_i ≻ y_j | x_m), with P + Pᵀ = 1 and ½ on the diagonal).
A policy is a row-stochastic (M, N) tensor; ``log_softmax(logits)`` gives the per-sequence
log π(y|x) that ``replicate.losses*`` take. Expectations over the tabular distribution are exact
sums, never samples, unless a function says it samples.

Pieces:
- preference models: Bradley–Terry, cyclic (rock–paper–scissors) tournaments, annotator mixtures;
- equilibria: the Nash equilibrium of the symmetric zero-sum preference game by linear programming
  (``scipy.optimize.linprog``), its KL-regularised version (convex program), exploitability and duality gap;
- closed-form updates the losses should reproduce (Hedge/SPPO, OMD/INPO, DNO, DPO optimum, SPIN);
- exact expected pairwise losses and a small Adam fitter on logits (autograd).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

DTYPE = torch.float64


@contextlib.contextmanager
def single_thread():
    """Tiny tensors: one thread is faster (no contention on 2 cores) and bit-reproducible."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


def single_threaded(fn):
    """Decorator form of :func:`single_thread` for a paper's ``run(cfg)``."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with single_thread():
            return fn(*args, **kwargs)

    return wrapper


def as_t(x) -> Tensor:
    return torch.as_tensor(np.asarray(x) if not isinstance(x, Tensor) else x, dtype=DTYPE)


# ------------------------------------------------------------------------------ preference models


def bradley_terry(scores: Tensor) -> Tensor:
    """P_ij = σ(s_i − s_j) for scores of shape (..., N) → (..., N, N)."""
    s = as_t(scores)
    return torch.sigmoid(s[..., :, None] - s[..., None, :])


def cyclic_tournament(n: int) -> Tensor:
    """Antisymmetric ±1 matrix of the regular cyclic tournament: i beats i+1, ..., i+⌊(n−1)/2⌋ (mod n).
    n = 3 is rock–paper–scissors; for odd n its unique Nash equilibrium is uniform."""
    c = torch.zeros(n, n, dtype=DTYPE)
    for i in range(n):
        for k in range(1, (n - 1) // 2 + 1):
            c[i, (i + k) % n], c[(i + k) % n, i] = 1.0, -1.0
    return c


def intransitive(scores: Tensor, cycle: Tensor, strength: float) -> Tensor:
    """P_ij = σ(s_i − s_j + strength · C_ij): Bradley–Terry plus an antisymmetric cyclic part C
    (zero outside the cyclic block). ``strength = 0`` gives Bradley–Terry."""
    s = as_t(scores)
    return torch.sigmoid(s[..., :, None] - s[..., None, :] + strength * as_t(cycle))


def annotator_mixture(scores: Tensor, weights: Tensor) -> Tensor:
    """A population of Bradley–Terry annotators with different tastes: P = Σ_k w_k σ(s^k_i − s^k_j).
    ``scores`` (K, N), ``weights`` (K,) summing to 1. Intransitive in general (Condorcet cycles)."""
    w = as_t(weights)
    return torch.einsum("k,kij->ij", w / w.sum(), bradley_terry(scores))


def check_preference(P: Tensor, atol: float = 1e-12) -> None:
    """Raise ValueError unless P is a valid preference tensor (P + Pᵀ = 1, values in [0, 1])."""
    if not torch.allclose(P + P.transpose(-1, -2), torch.ones_like(P), atol=atol):
        raise ValueError("preference matrix must satisfy P + Pᵀ = 1")
    if (P < -atol).any() or (P > 1 + atol).any():
        raise ValueError("preferences must lie in [0, 1]")


def flip_labels(P: Tensor, eps: float) -> Tensor:
    """Observed preference after each label is flipped with probability ε: (1 − ε) P + ε Pᵀ."""
    return (1 - eps) * P + eps * P.transpose(-1, -2)


# ------------------------------------------------------------------------------------------ world


@dataclass(frozen=True)
class World:
    """M prompts × N candidates: preferences P (M, N, N), reference logits (M, N), token lengths (M, N)."""

    P: Tensor
    ref_logits: Tensor
    lengths: Tensor
    kinds: tuple[str, ...] = ()

    @property
    def M(self) -> int:
        return self.P.shape[0]

    @property
    def N(self) -> int:
        return self.P.shape[1]

    @property
    def ref(self) -> Tensor:
        return torch.softmax(self.ref_logits, -1)

    @property
    def ref_logp(self) -> Tensor:
        return torch.log_softmax(self.ref_logits, -1)


def make_game_world(
    n_prompts: int,
    n_candidates: int,
    *,
    seed: int,
    cycle_size: int = 3,
    cycle_strength: float = 3.0,
    bt_scale: float = 1.0,
    n_annotators: int = 3,
    ref_scale: float = 1.0,
    min_len: int = 4,
    max_len: int = 40,
) -> World:
    """A preference game world with intransitive preferences (SPPO card: "a rock-paper-scissors block
    plus a Bradley-Terry block"; INPO/DNO cards: intransitive components; annotator mixtures).

    Even prompts: ``intransitive`` — BT scores s ~ N(0, bt_scale²), the top ``cycle_size`` candidates
    (by s) also play a cyclic tournament of the given strength, so no candidate beats all others.
    Odd prompts: ``mixture`` — ``n_annotators`` equally weighted BT annotators whose scores are cyclic
    shifts of one another on the top ``cycle_size`` candidates (a Condorcet cycle of tastes) and agree
    elsewhere. Reference logits ~ N(0, ref_scale²); lengths uniform in [min_len, max_len].
    """
    g = torch.Generator().manual_seed(seed)
    N = n_candidates
    Ps, kinds = [], []
    for m in range(n_prompts):
        s = torch.randn(N, generator=g, dtype=DTYPE) * bt_scale
        top = torch.argsort(s, descending=True)[:cycle_size]
        if m % 2 == 0:
            C = torch.zeros(N, N, dtype=DTYPE)
            C[top[:, None], top[None, :]] = cyclic_tournament(cycle_size)
            Ps.append(intransitive(s, C, cycle_strength))
            kinds.append("intransitive")
        else:
            base = s.clone()
            base[top] = base[top].mean()  # annotators agree on the rest, disagree on the top block
            S = base.repeat(n_annotators, 1)
            spread = cycle_strength * torch.linspace(1, 0, cycle_size, dtype=DTYPE)  # a strict taste order
            for k in range(n_annotators):
                S[k, top] = base[top] + spread.roll(k)
            Ps.append(annotator_mixture(S, torch.ones(n_annotators, dtype=DTYPE)))
            kinds.append("mixture")
    P = torch.stack(Ps)
    check_preference(P)
    ref_logits = torch.randn(n_prompts, N, generator=g, dtype=DTYPE) * ref_scale
    lengths = torch.randint(min_len, max_len + 1, (n_prompts, N), generator=g).to(DTYPE)
    return World(P, ref_logits, lengths, tuple(kinds))


def make_bt_world(
    n_prompts: int,
    n_candidates: int,
    *,
    seed: int,
    bt_scale: float = 1.0,
    ref_scale: float = 1.0,
    min_len: int = 4,
    max_len: int = 40,
) -> tuple[World, Tensor]:
    """Bradley–Terry world: true scores r (M, N) ~ N(0, bt_scale²), P = σ(r_i − r_j). Returns (world, r)."""
    g = torch.Generator().manual_seed(seed)
    r = torch.randn(n_prompts, n_candidates, generator=g, dtype=DTYPE) * bt_scale
    ref_logits = torch.randn(n_prompts, n_candidates, generator=g, dtype=DTYPE) * ref_scale
    lengths = torch.randint(min_len, max_len + 1, (n_prompts, n_candidates), generator=g).to(DTYPE)
    return World(bradley_terry(r), ref_logits, lengths, ("bt",) * n_prompts), r


# ------------------------------------------------------------------------------------ equilibria


def win_rates(P: Tensor, pi: Tensor) -> Tensor:
    """P(y ≻ π | x) for every candidate: (M, N)."""
    return torch.einsum("mij,mj->mi", P, pi)


def preference(P: Tensor, pi_a: Tensor, pi_b: Tensor) -> Tensor:
    """P(π_a ≻ π_b | x) = π_aᵀ P π_b per prompt: (M,)."""
    return torch.einsum("mi,mij,mj->m", pi_a, P, pi_b)


def exploitability(P: Tensor, pi: Tensor) -> Tensor:
    """max_y P(y ≻ π | x) − ½ per prompt (≥ 0; 0 exactly at a Nash equilibrium)."""
    return win_rates(P, pi).max(-1).values - 0.5


def duality_gap(P: Tensor, pi: Tensor) -> Tensor:
    """SPPO Thm 4.1's DualGap(π) = max_π' P(π' ≻ π) − min_π' P(π ≻ π') = 2·exploitability, per prompt."""
    return 2.0 * exploitability(P, pi)


def nash_lp(P_x) -> tuple[np.ndarray, float]:
    """Nash equilibrium of one prompt's symmetric zero-sum game, by linear programming:

        max_{π ∈ Δ, v} v   s.t.  Σ_i π_i (P_ij − ½) ≥ v  for every j.

    Returns (π, v); v is the game value minus ½ (0 for a valid preference matrix)."""
    from scipy.optimize import linprog

    A = np.asarray(P_x, dtype=np.float64) - 0.5
    n = A.shape[0]
    c = np.zeros(n + 1)
    c[-1] = -1.0
    A_ub = np.hstack([-A.T, np.ones((n, 1))])
    A_eq = np.hstack([np.ones((1, n)), np.zeros((1, 1))])
    res = linprog(
        c, A_ub=A_ub, b_ub=np.zeros(n), A_eq=A_eq, b_eq=[1.0], bounds=[(0, None)] * n + [(None, None)], method="highs"
    )
    if not res.success:
        raise RuntimeError(f"linprog failed: {res.message}")
    pi = np.clip(res.x[:n], 0, None)
    return pi / pi.sum(), float(res.x[-1])


def nash_all(P: Tensor) -> Tensor:
    """LP Nash equilibrium for every prompt: (M, N)."""
    return torch.stack([as_t(nash_lp(P[m].numpy())[0]) for m in range(P.shape[0])])


def regularized_exploitability(P: Tensor, ref: Tensor, tau: float, pi: Tensor) -> Tensor:
    """Exploitability of the KL-regularised game ℓ(π, π') = P(π ≻ π') − τ KL(π‖π_ref) + τ KL(π'‖π_ref):

        g(π) = max_π' [P(π' ≻ π) − τ KL(π'‖π_ref)] + τ KL(π‖π_ref) − ½
             = τ log Σ_y π_ref(y) exp(P(y ≻ π)/τ) + τ KL(π‖π_ref) − ½   ≥ 0,

    zero exactly at the regularised Nash equilibrium π*_τ ∝ π_ref exp(P(y ≻ π*_τ)/τ). Per prompt (M,)."""
    w = win_rates(P, pi)
    best = tau * torch.logsumexp(torch.log(ref) + w / tau, -1)
    kl = (pi * (torch.log(pi.clamp_min(1e-300)) - torch.log(ref))).sum(-1)
    return best + tau * kl - 0.5


def regularized_nash(P: Tensor, ref: Tensor, tau: float, *, tol: float = 1e-13, shrink: float = 0.8) -> Tensor:
    """π*_τ for every prompt: the unique solution of π = softmax(log π_ref + P π / τ), the first-order
    condition of the KL-regularised game (``regularized_exploitability`` is 0 there).

    Solved by Newton's method on u = log π, G(u) = u − [g − logsumexp(g)], g = log π_ref + P softmax(u)/τ,
    along a homotopy in τ (from max(τ, 4) down to τ by factors ``shrink``, each stage warm-started), with
    backtracking. The Jacobian I − (I − 1π̃ᵀ)(P/τ)(diag π − ππᵀ) is nonsingular because P − ½ is
    antisymmetric. Independent of the iterative methods checked against it."""
    out = []
    for m in range(P.shape[0]):
        Pm, lr_ = P[m].numpy(), torch.log(ref[m]).numpy()
        n = len(lr_)
        u = lr_ - np.logaddexp.reduce(lr_)
        taus = [tau]
        while taus[-1] < 4.0:
            taus.append(taus[-1] / shrink)

        def G(u, t, lr_=lr_, Pm=Pm):
            pi = np.exp(u - np.logaddexp.reduce(u))
            g = lr_ + Pm @ pi / t
            return u - (g - np.logaddexp.reduce(g)), pi, g

        for t in reversed(taus):
            for _ in range(100):
                r, pi, g = G(u, t)
                if np.abs(r).max() < tol:
                    break
                pt = np.exp(g - np.logaddexp.reduce(g))
                S = np.diag(pi) - np.outer(pi, pi)
                J = np.eye(n) - (np.eye(n) - np.outer(np.ones(n), pt)) @ (Pm / t) @ S
                d = np.linalg.solve(J, r)
                step, base = 1.0, np.abs(r).max()
                while step > 1e-8 and np.abs(G(u - step * d, t)[0]).max() >= base:
                    step *= 0.5
                u = u - step * d
        out.append(torch.softmax(torch.tensor(u, dtype=DTYPE), -1))
    return torch.stack(out)


def kl(p: Tensor, q: Tensor) -> Tensor:
    """KL(p‖q) per prompt."""
    return (p * (torch.log(p.clamp_min(1e-300)) - torch.log(q.clamp_min(1e-300)))).sum(-1)


def tv(p: Tensor, q: Tensor) -> Tensor:
    """Total-variation distance per prompt."""
    return 0.5 * (p - q).abs().sum(-1)


# ------------------------------------------------------------------------------- closed forms


def hedge_step(pi: Tensor, P: Tensor, step: float) -> Tensor:
    """Multiplicative weights (SPPO Eq. 4.1 with η = step; DNO soft policy iteration with 1/η = step):
    π_{t+1}(y) ∝ π_t(y) exp(step · P(y ≻ π_t))."""
    return torch.softmax(torch.log(pi) + step * win_rates(P, pi), -1)


def omd_step(pi: Tensor, ref: Tensor, P: Tensor, *, eta: float, tau: float) -> Tensor:
    """INPO Eq. 5: π_{t+1}(y) ∝ exp(P(y ≻ π_t)/η) π_ref(y)^{τ/η} π_t(y)^{1−τ/η}."""
    a = tau / eta
    return torch.softmax(win_rates(P, pi) / eta + a * torch.log(ref) + (1 - a) * torch.log(pi), -1)


def dpo_optimum(ref: Tensor, r: Tensor, beta: float) -> Tensor:
    """DPO's optimum under Bradley–Terry preferences with reward r: π_ref exp(r/β) / Z."""
    return torch.softmax(torch.log(ref) + r / beta, -1)


def spin_step(pi: Tensor, p_data: Tensor, lam: float) -> Tensor:
    """SPIN's population optimum (logistic ℓ, unrestricted policy): π_{t+1} ∝ π_t (p_data/π_t)^{1/λ}."""
    return torch.softmax(torch.log(pi) + (torch.log(p_data) - torch.log(pi)) / lam, -1)


# ----------------------------------------------------------------------------- pairs and losses


def pairs(x: Tensor) -> tuple[Tensor, Tensor]:
    """For a per-candidate tensor (M, N) return flattened (M·N·N,) views with chosen = i, rejected = j."""
    M, N = x.shape
    return x[:, :, None].expand(M, N, N).reshape(-1), x[:, None, :].expand(M, N, N).reshape(-1)


def pair_weights(mu: Tensor, P: Tensor, *, exclude_self: bool = True) -> Tensor:
    """Weight of the labelled pair (winner i, loser j) when y, y' ~ μ independently and the label is
    drawn from P: W_ij ∝ μ_i μ_j P_ij, normalised per prompt (self-pairs dropped by default)."""
    W = mu[:, :, None] * mu[:, None, :] * P
    if exclude_self:
        W = W * (1 - torch.eye(P.shape[-1], dtype=DTYPE))
    return W / W.sum((-1, -2), keepdim=True)


def expected(per_pair: Tensor, W: Tensor) -> Tensor:
    """Exact expectation of a flattened per-pair loss under pair weights W (M, N, N), averaged over prompts."""
    return (per_pair.reshape(W.shape) * W).sum() / W.shape[0]


def fit(
    params: Tensor,
    loss_fn: Callable[[Tensor], Tensor],
    *,
    steps: int,
    lr: float,
    tol: float = 0.0,
    check_every: int = 25,
    callback: Callable[[int, Tensor], None] | None = None,
) -> tuple[Tensor, int]:
    """Minimise ``loss_fn(params)`` with Adam (cosine-decayed learning rate) from ``params``.

    Stops early once the largest absolute gradient is below ``tol`` (checked every ``check_every``
    steps). ``callback(k, params)`` runs after step k (1-based) for training curves. Returns (detached
    parameters, steps taken). Deterministic: no randomness inside."""
    p = params.detach().clone().requires_grad_(True)
    opt = torch.optim.Adam([p], lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda k: 0.5 * (1 + math.cos(math.pi * min(k, steps) / steps)))
    done = 0
    for k in range(steps):
        opt.zero_grad()
        loss = loss_fn(p)
        loss.backward()
        if tol > 0 and k % check_every == 0 and p.grad.abs().max().item() < tol:
            break
        opt.step()
        sched.step()
        done = k + 1
        if callback is not None:
            callback(done, p.detach())
    return p.detach(), done
