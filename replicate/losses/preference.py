"""Preference losses of SimPO's comparison (SimPO Table 3 / dpo-baselines card), as pure functions.

Conventions (shared by every ``replicate.losses*`` module):
- Inputs are per-sequence tensors of shape (B,): ``chosen_logps`` / ``rejected_logps`` are the
  *summed* response-token log-probs log π_θ(y|x) (prompt and padding masked, EOS included);
  ``chosen_len`` / ``rejected_len`` are response token counts |y|; ``ref_*`` the same under π_ref.
- Each function returns the per-example loss, shape (B,); callers take the mean. No reductions,
  no hidden state, no side effects: unit-testable against closed forms and TRL.
- Each docstring gives the paper's equation. Notation: σ logistic, ρ = log π_θ − log π_ref,
  h = ρ_w − ρ_l.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .registry import LossSpec, register


def avg_logp(logps: Tensor, lengths: Tensor) -> Tensor:
    """Average per-token log-prob (1/|y|) log π(y|x) — SimPO Eq. 4 without β."""
    return logps / lengths.clamp(min=1)


def simpo_loss(
    chosen_logps,
    rejected_logps,
    chosen_len,
    rejected_len,
    *,
    beta: float,
    gamma: float,
    length_normalize: bool = True,
    label_smoothing: float = 0.0,
) -> Tensor:
    """SimPO Eq. 6: −log σ( (β/|y_w|) log π_θ(y_w|x) − (β/|y_l|) log π_θ(y_l|x) − γ ).

    ``gamma`` is the paper's absolute margin γ (official code: γ = β · gamma_beta_ratio).
    ``length_normalize=False`` gives the "w/o length normalization" ablation of Table 5
    (sums instead of averages). ``label_smoothing`` ε as in the official ``simpo_loss`` (default 0).
    """
    if length_normalize:
        w, r = avg_logp(chosen_logps, chosen_len), avg_logp(rejected_logps, rejected_len)
    else:
        w, r = chosen_logps, rejected_logps
    z = beta * (w - r) - gamma
    return -(1 - label_smoothing) * F.logsigmoid(z) - label_smoothing * F.logsigmoid(-z)


def dpo_loss(chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps, *, beta: float) -> Tensor:
    """DPO (Rafailov et al. 2023, Eq. 7): −log σ(β h), h = ρ_w − ρ_l."""
    h = (chosen_logps - ref_chosen_logps) - (rejected_logps - ref_rejected_logps)
    return -F.logsigmoid(beta * h)


def ipo_loss(
    chosen_logps,
    rejected_logps,
    ref_chosen_logps,
    ref_rejected_logps,
    chosen_len,
    rejected_len,
    *,
    tau: float,
    average: bool = True,
) -> Tensor:
    """IPO (Azar et al. 2023, Eq. 17): (h − 1/(2τ))².

    ``average=True`` uses per-token averaged log-ratios, as TRL and SimPO's baseline do (TRL PR #1265,
    agreed with the IPO authors); ``average=False`` is Eq. 17 with sequence sums.
    """
    rw, rl = chosen_logps - ref_chosen_logps, rejected_logps - ref_rejected_logps
    if average:
        rw, rl = avg_logp(rw, chosen_len), avg_logp(rl, rejected_len)
    return (rw - rl - 1.0 / (2.0 * tau)) ** 2


def rdpo_loss(
    chosen_logps,
    rejected_logps,
    ref_chosen_logps,
    ref_rejected_logps,
    chosen_len,
    rejected_len,
    *,
    beta: float,
    alpha: float,
) -> Tensor:
    """R-DPO (Park et al. 2024, Eq. 9): −log σ(β h + (α|y_w| − α|y_l|)) — DPO with a length penalty.

    From max E[r − α|y|] − β KL, the implied reward is β log π/π_ref + α|y|, so a longer chosen
    response needs a *smaller* log-ratio margin: the sign is "+". (The RePO re-print of SimPO Table 3
    quoted in the dpo-baselines card writes "−", which would reward length instead of penalizing it.)
    """
    h = (chosen_logps - ref_chosen_logps) - (rejected_logps - ref_rejected_logps)
    return -F.logsigmoid(beta * h + alpha * (chosen_len - rejected_len))


def cpo_loss(chosen_logps, rejected_logps, chosen_len, *, beta: float, nll_weight: float) -> Tensor:
    """CPO (Xu et al. 2024, Eq. 3): −log σ(β log π_θ(y_w|x) − β log π_θ(y_l|x)) − λ log π_θ(y_w|x).

    The NLL term is the mean token NLL of y_w, as TRL's CPOTrainer (``cpo_alpha``) computes it.
    """
    return -F.logsigmoid(beta * (chosen_logps - rejected_logps)) + nll_weight * (-avg_logp(chosen_logps, chosen_len))


def slic_hf_loss(chosen_logps, rejected_logps, chosen_len, *, delta: float, nll_weight: float) -> Tensor:
    """SLiC-HF (Zhao et al. 2023): max(0, δ − log π_θ(y_w|x) + log π_θ(y_l|x)) − λ log π_θ(y_w|x).

    As in SimPO Table 3; the NLL term is the per-token mean (as for CPO) so λ is length-free.
    """
    return torch.relu(delta - chosen_logps + rejected_logps) + nll_weight * (-avg_logp(chosen_logps, chosen_len))


def orpo_loss(chosen_logps, rejected_logps, chosen_len, rejected_len, *, lam: float) -> Tensor:
    """ORPO (Hong et al. 2024): −log p_θ(y_w|x) − λ log σ(log odds(y_w) − log odds(y_l)),
    with p_θ(y|x) = exp((1/|y|) log π_θ(y|x)) and odds(p) = p/(1−p). NLL is the per-token mean of y_w.
    """
    aw, al = avg_logp(chosen_logps, chosen_len), avg_logp(rejected_logps, rejected_len)
    # log(p/(1-p)) = a - log(1 - e^a), computed stably with log1p(-exp(a)) for a < 0
    log_odds = (aw - torch.log1p(-torch.exp(aw).clamp(max=1 - 1e-6))) - (
        al - torch.log1p(-torch.exp(al).clamp(max=1 - 1e-6))
    )
    return -aw - lam * F.logsigmoid(log_odds)


def kto_loss(
    chosen_logps,
    rejected_logps,
    ref_chosen_logps,
    ref_rejected_logps,
    *,
    beta: float,
    desirable_weight: float = 1.0,
    undesirable_weight: float = 1.0,
    kl: Tensor | None = None,
) -> Tensor:
    """KTO (Ethayarajh et al. 2024, Eq. 8) on paired data unpaired as y_w desirable, y_l undesirable:
    λ_D(1 − σ(β(ρ_w − z₀))) + λ_U(1 − σ(β(z₀ − ρ_l))), z₀ = max(0, KL estimate), no gradient.

    KTO estimates z₀ from mismatched (x_i, y_j) pairs; ``kl`` lets the caller pass such an estimate.
    When None we use the batch mean of the matched log-ratios (a DEVIATION documented in
    conf/method/kto.yaml: it saves a third forward pass; both are detached batch statistics).
    """
    rw, rl = chosen_logps - ref_chosen_logps, rejected_logps - ref_rejected_logps
    if kl is None:
        kl = torch.cat([rw, rl]).mean()
    z0 = kl.detach().clamp(min=0)
    return desirable_weight * (1 - torch.sigmoid(beta * (rw - z0))) + undesirable_weight * (
        1 - torch.sigmoid(beta * (z0 - rl))
    )


def rrhf_loss(chosen_logps, rejected_logps, chosen_len, rejected_len, *, nll_weight: float) -> Tensor:
    """RRHF (Yuan et al. 2023) for two responses: max(0, p_l − p_w) + λ·NLL(y_w), p = (1/|y|) log π_θ(y|x)."""
    aw, al = avg_logp(chosen_logps, chosen_len), avg_logp(rejected_logps, rejected_len)
    return torch.relu(al - aw) + nll_weight * (-aw)


def sft_loss(chosen_logps, chosen_len) -> Tensor:
    """Supervised fine-tuning on y_w: mean token NLL."""
    return -avg_logp(chosen_logps, chosen_len)


_W, _L, _RW, _RL, _NW, _NL = (
    "chosen_logps",
    "rejected_logps",
    "ref_chosen_logps",
    "ref_rejected_logps",
    "chosen_len",
    "rejected_len",
)
_SPECS = {
    "simpo": LossSpec(simpo_loss, False, (_W, _L, _NW, _NL), ("beta", "gamma", "length_normalize", "label_smoothing")),
    "dpo": LossSpec(dpo_loss, True, (_W, _L, _RW, _RL), ("beta",)),
    "ipo": LossSpec(ipo_loss, True, (_W, _L, _RW, _RL, _NW, _NL), ("tau", "average")),
    "rdpo": LossSpec(rdpo_loss, True, (_W, _L, _RW, _RL, _NW, _NL), ("beta", "alpha")),
    "cpo": LossSpec(cpo_loss, False, (_W, _L, _NW), ("beta", "nll_weight")),
    "slic_hf": LossSpec(slic_hf_loss, False, (_W, _L, _NW), ("delta", "nll_weight")),
    "orpo": LossSpec(orpo_loss, False, (_W, _L, _NW, _NL), ("lam",)),
    "kto": LossSpec(kto_loss, True, (_W, _L, _RW, _RL), ("beta", "desirable_weight", "undesirable_weight")),
    "rrhf": LossSpec(rrhf_loss, False, (_W, _L, _NW, _NL), ("nll_weight",)),
    "sft": LossSpec(sft_loss, False, (_W, _NW), ()),
}
for _name, _spec in _SPECS.items():
    register(_name, _spec)
