"""LCPO / RE-PO: EM reliability weights wrapped around existing preference losses (pure functions).

Conventions as in ``replicate.losses``: per-sequence inputs of shape (B,), per-example loss out.
The base losses (DPO, IPO, SimPO, CPO) are *called*, not re-implemented: the wrapper evaluates a
base loss L twice, once as labelled (y_w ≻ y_l) and once with the pair swapped (y_l ≻ y_w).

Equations (LCPO/RE-PO §4; lcpo.md):
- Gibbs preference from any loss:  p_θ(y_w ≻* y_l | x) = σ( L(y_l ≻ y_w) − L(y_w ≻ y_l) ) = σ(z).
  For DPO z = β h exactly (Bradley–Terry); for IPO with averaged log-ratios z = 4·(1/(2τ))·h̄ = 2h̄/τ;
  for SimPO (γ > 0) and CPO (NLL term) it is a surrogate, not the base loss itself. We optimise the
  Gibbs surrogate (the paper's M-step), not a weighted copy of the base loss — stated as lcpo.md asks.
- E-step (no gradient):  w_i = p η / (p η + (1 − p)(1 − η)) = σ(z_i + logit η),  η the annotator reliability.
- M-step (policy):  L_RE = −[ w_i log σ(z_i) + (1 − w_i) log σ(−z_i) ].
  For DPO this is cDPO with a per-example adaptive smoothing ε_i = 1 − w_i.
- M-step (reliability):  exact η = mean_i w_i; mini-batch EMA η ← (1 − α) η + α mean_{i∈B} w_i.

The reliability η is state carried across steps; the loss functions take it as a hyperparameter
(a float or a per-example tensor of shape (B,) for multi-annotator data, η_{k_i}).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from .preference import cpo_loss, dpo_loss, ipo_loss, simpo_loss
from .registry import LossSpec, register


def _logit(eta) -> Tensor | float:
    if isinstance(eta, Tensor):
        return torch.log(eta) - torch.log1p(-eta)
    if not 0.0 < eta < 1.0:
        raise ValueError(f"reliability eta must be in (0, 1), got {eta}")
    return math.log(eta) - math.log1p(-eta)


def gibbs_logit(loss_fwd: Tensor, loss_rev: Tensor) -> Tensor:
    """z = L(y_l ≻ y_w) − L(y_w ≻ y_l): the logit of p_θ(y_w ≻* y_l | x)."""
    return loss_rev - loss_fwd


def e_step(z: Tensor, eta) -> Tensor:
    """Posterior that the label is correct, w = σ(z + logit η); detached (stop-gradient)."""
    return torch.sigmoid(z.detach() + _logit(eta))


def lcpo_from_logit(z: Tensor, eta) -> Tensor:
    """L_RE = −[ w log σ(z) + (1 − w) log σ(−z) ], w = e_step(z, η) (no gradient through w)."""
    w = e_step(z, eta)
    return -(w * F.logsigmoid(z) + (1 - w) * F.logsigmoid(-z))


def update_reliability(eta: float, weights: Tensor, *, alpha: float) -> float:
    """EMA M-step for one annotator: η ← (1 − α) η + α mean(w). ``alpha=1`` is the exact M-step."""
    return float((1 - alpha) * eta + alpha * weights.detach().mean())


def observed_likelihood(z: Tensor, eta) -> Tensor:
    """log p(observed label) = log( σ(z) η + σ(−z)(1 − η) ) — the quantity EM increases."""
    eta = torch.as_tensor(eta, dtype=z.dtype)
    return torch.logaddexp(F.logsigmoid(z) + torch.log(eta), F.logsigmoid(-z) + torch.log1p(-eta))


# ---------------------------------------------------------------- wrapped base losses (z, then L_RE)


def lcpo_dpo_logit(chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps, *, beta: float) -> Tensor:
    fwd = dpo_loss(chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps, beta=beta)
    rev = dpo_loss(rejected_logps, chosen_logps, ref_rejected_logps, ref_chosen_logps, beta=beta)
    return gibbs_logit(fwd, rev)


def lcpo_ipo_logit(
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
    fwd = ipo_loss(
        chosen_logps,
        rejected_logps,
        ref_chosen_logps,
        ref_rejected_logps,
        chosen_len,
        rejected_len,
        tau=tau,
        average=average,
    )
    rev = ipo_loss(
        rejected_logps,
        chosen_logps,
        ref_rejected_logps,
        ref_chosen_logps,
        rejected_len,
        chosen_len,
        tau=tau,
        average=average,
    )
    return gibbs_logit(fwd, rev)


def lcpo_simpo_logit(
    chosen_logps, rejected_logps, chosen_len, rejected_len, *, beta: float, gamma: float, length_normalize: bool = True
) -> Tensor:
    fwd = simpo_loss(
        chosen_logps,
        rejected_logps,
        chosen_len,
        rejected_len,
        beta=beta,
        gamma=gamma,
        length_normalize=length_normalize,
    )
    rev = simpo_loss(
        rejected_logps,
        chosen_logps,
        rejected_len,
        chosen_len,
        beta=beta,
        gamma=gamma,
        length_normalize=length_normalize,
    )
    return gibbs_logit(fwd, rev)


def lcpo_cpo_logit(
    chosen_logps, rejected_logps, chosen_len, rejected_len, *, beta: float, nll_weight: float
) -> Tensor:
    fwd = cpo_loss(chosen_logps, rejected_logps, chosen_len, beta=beta, nll_weight=nll_weight)
    rev = cpo_loss(rejected_logps, chosen_logps, rejected_len, beta=beta, nll_weight=nll_weight)
    return gibbs_logit(fwd, rev)


def lcpo_dpo_loss(chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps, *, beta: float, eta) -> Tensor:
    """RE-DPO: L_RE with z = β h (= cDPO with adaptive ε_i = 1 − w_i)."""
    return lcpo_from_logit(
        lcpo_dpo_logit(chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps, beta=beta), eta
    )


def lcpo_ipo_loss(
    chosen_logps,
    rejected_logps,
    ref_chosen_logps,
    ref_rejected_logps,
    chosen_len,
    rejected_len,
    *,
    tau: float,
    eta,
    average: bool = True,
) -> Tensor:
    """RE-IPO: L_RE with z = (h̄ + 1/(2τ))² − (h̄ − 1/(2τ))² = 2h̄/τ (Gibbs surrogate of IPO)."""
    return lcpo_from_logit(
        lcpo_ipo_logit(
            chosen_logps,
            rejected_logps,
            ref_chosen_logps,
            ref_rejected_logps,
            chosen_len,
            rejected_len,
            tau=tau,
            average=average,
        ),
        eta,
    )


def lcpo_simpo_loss(
    chosen_logps,
    rejected_logps,
    chosen_len,
    rejected_len,
    *,
    beta: float,
    gamma: float,
    eta,
    length_normalize: bool = True,
) -> Tensor:
    """RE-SimPO: L_RE with z = L_SimPO(y_l ≻ y_w) − L_SimPO(y_w ≻ y_l) (surrogate when γ > 0)."""
    return lcpo_from_logit(
        lcpo_simpo_logit(
            chosen_logps,
            rejected_logps,
            chosen_len,
            rejected_len,
            beta=beta,
            gamma=gamma,
            length_normalize=length_normalize,
        ),
        eta,
    )


def lcpo_cpo_loss(
    chosen_logps, rejected_logps, chosen_len, rejected_len, *, beta: float, nll_weight: float, eta
) -> Tensor:
    """RE-CPO: L_RE with z = β(log π(y_w) − log π(y_l)) + λ (NLL̄(y_l) − NLL̄(y_w)) (surrogate; the NLL term
    enters through the swap, as the Gibbs construction of lcpo.md prescribes)."""
    return lcpo_from_logit(
        lcpo_cpo_logit(chosen_logps, rejected_logps, chosen_len, rejected_len, beta=beta, nll_weight=nll_weight), eta
    )


LOGITS = {"dpo": lcpo_dpo_logit, "ipo": lcpo_ipo_logit, "simpo": lcpo_simpo_logit, "cpo": lcpo_cpo_logit}

_W, _L, _RW, _RL, _NW, _NL = (
    "chosen_logps",
    "rejected_logps",
    "ref_chosen_logps",
    "ref_rejected_logps",
    "chosen_len",
    "rejected_len",
)
SPECS = {
    "lcpo_dpo": LossSpec(lcpo_dpo_loss, True, (_W, _L, _RW, _RL), ("beta", "eta")),
    "lcpo_ipo": LossSpec(lcpo_ipo_loss, True, (_W, _L, _RW, _RL, _NW, _NL), ("tau", "eta", "average")),
    "lcpo_simpo": LossSpec(lcpo_simpo_loss, False, (_W, _L, _NW, _NL), ("beta", "gamma", "eta", "length_normalize")),
    "lcpo_cpo": LossSpec(lcpo_cpo_loss, False, (_W, _L, _NW, _NL), ("beta", "nll_weight", "eta")),
}
for _name, _spec in SPECS.items():
    register(_name, _spec)
