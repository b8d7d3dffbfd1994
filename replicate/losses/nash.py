"""Game-theoretic preference losses: SPPO, INPO, DNO and SPIN, as pure functions.

Same conventions as ``replicate.losses`` (read its module docstring): inputs are per-sequence
summed log-probs of shape (B,), the output is the per-example loss of shape (B,).

These methods are *iterative*: at iteration t the policy being trained is compared with the
previous iterate π_t. In every function below ``prev_*`` / ``ref_*`` say which one is meant:

- SPPO, DNO, SPIN: the reference of iteration t **is** π_t, so the trainer hook passes π_t's
  log-probs as ``ref_chosen_logps`` / ``ref_rejected_logps`` (re-created every iteration).
- INPO needs both the fixed reference π_ref (SFT model) *and* π_t: ``ref_*`` is π_ref,
  ``prev_*`` is π_t.

Notation: ρ = log π_θ(y|x) − log π_t(y|x) (the log-ratio against the previous iterate),
P(y ≻ π_t | x) = E_{y'∼π_t} P(y ≻ y' | x) the expected win rate, σ logistic.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .preference import dpo_loss
from .registry import LossSpec, register

# --------------------------------------------------------------------------------------- SPPO


def sppo_regression(logps: Tensor, prev_logps: Tensor, winrate: Tensor, *, eta: float) -> Tensor:
    """SPPO Eq. 4.7 for one response: ( log π_θ(y|x) − log π_t(y|x) − η (P̂(y ≻ π_t|x) − ½) )².

    ``winrate`` is P̂(y ≻ π_t | x) ∈ [0, 1] (SPPO: (1/K) Σ_k P(y ≻ y_k), self-comparison included).
    The ½ is the paper's replacement of η⁻¹ log Z_{π_t}(x) by the constant ½ (App. A).
    """
    return (logps - prev_logps - eta * (winrate - 0.5)) ** 2


def sppo_loss(
    chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps, chosen_winrate, rejected_winrate, *, eta: float
) -> Tensor:
    """SPPO, soft form (official ``sppo_loss``, loss_type="sppo"; β = 1/η in that code):

        ½ [ (ρ_w − η (P̂_w − ½))² + (ρ_l − η (P̂_l − ½))² ],   ρ = log π_θ(y|x) − log π_t(y|x),

    with P̂_w = P̂(y_w ≻ π_t | x) (``chosen_probs_win``), P̂_l = P̂(y_l ≻ π_t | x) (``chosen_probs_lose``).
    ``ref_*`` are the log-probs of π_t (the reference is the previous iterate).
    """
    return 0.5 * (
        sppo_regression(chosen_logps, ref_chosen_logps, chosen_winrate, eta=eta)
        + sppo_regression(rejected_logps, ref_rejected_logps, rejected_winrate, eta=eta)
    )


def sppo_hard_loss(chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps, *, beta: float) -> Tensor:
    """SPPO, hard form as in TRL ``loss_type="sppo_hard"`` (trl/trainer/dpo_trainer.py, TRL ≥ 0.29):

        (ρ_w − 1/(2β))² + (ρ_l + 1/(2β))²

    i.e. the soft form with P̂_w = 1, P̂_l = 0 and η = 1/β, summed instead of halved:
    ``sppo_hard_loss(β) == 2 · sppo_loss(P̂_w=1, P̂_l=0, η=1/β)``.
    """
    rw, rl = chosen_logps - ref_chosen_logps, rejected_logps - ref_rejected_logps
    return (rw - 0.5 / beta) ** 2 + (rl + 0.5 / beta) ** 2


def sppo_single_loss(
    chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps, pair_prob, *, eta: float
) -> Tensor:
    """SPPO "sppo_single" variant of the official code: targets ±η (P(y_w ≻ y_l|x) − ½):

    ½ [ (ρ_w − η (P_wl − ½))² + (ρ_l + η (P_wl − ½))² ],  P_wl = P(y_w ≻ y_l | x) (``pair_prob``).
    """
    t = eta * (pair_prob - 0.5)
    rw, rl = chosen_logps - ref_chosen_logps, rejected_logps - ref_rejected_logps
    return 0.5 * ((rw - t) ** 2 + (rl + t) ** 2)


# --------------------------------------------------------------------------------------- INPO


def inpo_h(
    chosen_logps,
    rejected_logps,
    ref_chosen_logps,
    ref_rejected_logps,
    prev_chosen_logps,
    prev_rejected_logps,
    *,
    eta: float,
    tau: float,
) -> Tensor:
    """INPO's pairwise statistic h_t(π, y_w, y_l) (INPO §3.3):

        h_t = log π(y_w)/π(y_l) − (τ/η) log π_ref(y_w)/π_ref(y_l) − (1 − τ/η) log π_t(y_w)/π_t(y_l)

    = a DPO-style Δ against the "mixed reference" log π̃ = (τ/η) log π_ref + (1 − τ/η) log π_t.
    """
    a = tau / eta
    mixed_w = a * ref_chosen_logps + (1 - a) * prev_chosen_logps
    mixed_l = a * ref_rejected_logps + (1 - a) * prev_rejected_logps
    return (chosen_logps - mixed_w) - (rejected_logps - mixed_l)


def inpo_loss(
    chosen_logps,
    rejected_logps,
    ref_chosen_logps,
    ref_rejected_logps,
    prev_chosen_logps,
    prev_rejected_logps,
    *,
    eta: float,
    tau: float,
) -> Tensor:
    """INPO training loss (INPO Alg. 1 line 5, from Eq. 8): ( h_t(π, y_w, y_l) − 1/(2η) )².

    ``ref_*``: π_ref (the SFT model, fixed); ``prev_*``: π_t (the previous iterate). Summed
    sequence log-probs, as in the paper — *not* TRL's per-token-averaged ``ipo`` (trl-coverage.md).
    With τ = η the mixed reference is π_ref and this is IPO (Eq. 17, sums) with IPO's τ = η.
    Population minimiser (Prop. 6): π_{t+1}(y) ∝ exp(P(y ≻ π_t)/η) π_ref(y)^{τ/η} π_t(y)^{1−τ/η} (Eq. 5).
    """
    h = inpo_h(
        chosen_logps,
        rejected_logps,
        ref_chosen_logps,
        ref_rejected_logps,
        prev_chosen_logps,
        prev_rejected_logps,
        eta=eta,
        tau=tau,
    )
    return (h - 1.0 / (2.0 * eta)) ** 2


# ---------------------------------------------------------------------------------------- DNO


def dno_loss(chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps, *, eta: float) -> Tensor:
    """Practical DNO (DNO-Prct, Alg. 2 / Eq. 13): the contrastive DPO loss with the previous iterate
    as reference, on large-margin pairs (y⁺, y⁻):

        −log σ( η log π(y⁺|x)/π_t(y⁺|x) − η log π(y⁻|x)/π_t(y⁻|x) )

    (``ref_*`` are π_t's log-probs; η plays DPO's β). Reuses ``replicate.losses.dpo_loss``.
    """
    return dpo_loss(chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps, beta=eta)


def dno_regression_loss(
    chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps, chosen_reward, rejected_reward, *, eta: float
) -> Tensor:
    """Conceptual DNO (Alg. 1, Eq. 8/12): regression of the implicit reward difference onto
    r_t(y1) − r_t(y2) through a logistic link (a soft-label binary cross-entropy):

        −[ σ(r₁ − r₂) log σ(η h) + σ(r₂ − r₁) log σ(−η h) ],   h = log π(y1)/π_t(y1) − log π(y2)/π_t(y2),

    r_t(x, y) = P(y ≻ π_t | x) ∈ [0, 1] (``chosen_reward`` for y1, ``rejected_reward`` for y2;
    "chosen" only names the first slot — the label is soft). Its minimiser satisfies η h = r₁ − r₂,
    i.e. π_{t+1} ∝ π_t exp(r_t/η) (soft policy iteration).
    """
    h = (chosen_logps - ref_chosen_logps) - (rejected_logps - ref_rejected_logps)
    q = torch.sigmoid(chosen_reward - rejected_reward)
    return -(q * F.logsigmoid(eta * h) + (1 - q) * F.logsigmoid(-eta * h))


# --------------------------------------------------------------------------------------- SPIN


def spin_loss(
    real_logps, generated_logps, ref_real_logps, ref_generated_logps, *, beta: float, loss_type: str = "sigmoid"
) -> Tensor:
    """SPIN (Chen et al. 2024, the L_SPIN objective of §4): ℓ( λ log π(y|x)/π_t(y|x) − λ log π(y'|x)/π_t(y'|x) ),

    y ∼ p_data the real (SFT gold) response, y' ∼ π_t(·|x) the model's own generation, reference
    π_t the previous iterate, λ = ``beta``. ``loss_type="sigmoid"``: ℓ(u) = log(1 + e^{−u}) — DPO with
    real as chosen and generated as rejected (reuses ``dpo_loss``); ``"hinge"``: ℓ(u) = max(0, 1 − u)
    (uclaml/SPIN spin/alignment/trainer.py offers both).
    """
    if loss_type == "sigmoid":
        return dpo_loss(real_logps, generated_logps, ref_real_logps, ref_generated_logps, beta=beta)
    if loss_type == "hinge":
        h = (real_logps - ref_real_logps) - (generated_logps - ref_generated_logps)
        return torch.relu(1 - beta * h)
    raise ValueError(f"spin_loss: loss_type must be 'sigmoid' or 'hinge', got {loss_type!r}")


# ------------------------------------------------------------------------------------ registry
# Extra batch keys beyond replicate.losses' six: the trainer hook must put them in the batch.
_W, _L, _RW, _RL = "chosen_logps", "rejected_logps", "ref_chosen_logps", "ref_rejected_logps"
EXTRA_KEYS = {
    "chosen_winrate": "P̂(y_w ≻ π_t | x) (SPPO); reference = π_t",
    "rejected_winrate": "P̂(y_l ≻ π_t | x) (SPPO)",
    "pair_prob": "P(y_w ≻ y_l | x) (sppo_single)",
    "prev_chosen_logps": "log π_t(y_w|x) (INPO; ref_* is π_ref)",
    "prev_rejected_logps": "log π_t(y_l|x) (INPO)",
    "chosen_reward": "r_t(x, y1) = P(y1 ≻ π_t | x) (DNO regression)",
    "rejected_reward": "r_t(x, y2) (DNO regression)",
}
SPECS = {
    "sppo": LossSpec(sppo_loss, True, (_W, _L, _RW, _RL, "chosen_winrate", "rejected_winrate"), ("eta",)),
    "sppo_hard": LossSpec(sppo_hard_loss, True, (_W, _L, _RW, _RL), ("beta",)),
    "sppo_single": LossSpec(sppo_single_loss, True, (_W, _L, _RW, _RL, "pair_prob"), ("eta",)),
    "inpo": LossSpec(inpo_loss, True, (_W, _L, _RW, _RL, "prev_chosen_logps", "prev_rejected_logps"), ("eta", "tau")),
    "dno": LossSpec(dno_loss, True, (_W, _L, _RW, _RL), ("eta",)),
    "dno_regression": LossSpec(
        dno_regression_loss, True, (_W, _L, _RW, _RL, "chosen_reward", "rejected_reward"), ("eta",)
    ),
    "spin": LossSpec(spin_loss, True, (_W, _L, _RW, _RL), ("beta", "loss_type")),
}
for _name, _spec in SPECS.items():
    register(_name, _spec)
