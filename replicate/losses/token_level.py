"""Token-level preference losses: TGDPO (Zhu et al., ICML 2025), as pure functions.

Per-token convention (differs from the per-sequence modules):
- ``*_token_logps`` have shape (B, T): log π(y_t | x, y_<t) of each response token, already
  gathered at the response token ids; ``*_mask`` (B, T) is 1 on response tokens (EOS included) and 0
  on prompt/padding positions. Masked positions may hold any finite value: they are zeroed here.
- chosen and rejected may be padded to the same T independently (their own masks).
- Policy (π_θ), reference (π_ref) and token-reward model (π_θ̂) log-probs must come from the same
  tokenisation and positions (TGDPO multiplies them token by token).
- The output is the per-example loss, shape (B,), like every ``replicate.losses*`` function.
Summing a per-token tensor over T with its mask gives the per-sequence log-prob of ``replicate.losses``.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


def token_reward(rm_token_logps: Tensor, ref_token_logps: Tensor, *, beta: float) -> Tensor:
    """TGDPO token reward r̂_t = β [log π_θ̂(y_t|s_t) − log π_ref(y_t|s_t)] (no gradient: the
    reward model is frozen; the official code computes it under ``torch.no_grad()``)."""
    return (beta * (rm_token_logps - ref_token_logps)).detach()


def tgdpo_weights(
    chosen_rm_token_logps,
    rejected_rm_token_logps,
    ref_chosen_token_logps,
    ref_rejected_token_logps,
    *,
    beta: float,
    alpha: float,
) -> tuple[Tensor, Tensor]:
    """f_w = 1 + α r̂_t on chosen tokens, f_l = 1 − α r̂_t on rejected tokens (no clipping, as the
    official code; f can turn negative when α|r̂| > 1 — log min/max of f)."""
    rw = token_reward(chosen_rm_token_logps, ref_chosen_token_logps, beta=beta)
    rl = token_reward(rejected_rm_token_logps, ref_rejected_token_logps, beta=beta)
    return 1 + alpha * rw, 1 - alpha * rl


def tgdpo_loss(
    chosen_token_logps,
    rejected_token_logps,
    ref_chosen_token_logps,
    ref_rejected_token_logps,
    chosen_rm_token_logps,
    rejected_rm_token_logps,
    chosen_mask,
    rejected_mask,
    *,
    beta: float,
    alpha: float,
) -> Tensor:
    """TGDPO loss (official code, dvlab-research/TGDPO src/llamafactory/train/tgdpo/trainer.py ``dpo_loss``,
    sigmoid branch):

        −log σ( Σ_t β f_w(r̂_t^w) log π_θ(y_w^t|s_t)/π_ref(y_w^t|s_t) − Σ_t β f_l(r̂_t^l) log π_θ(y_l^t|s_t)/π_ref(y_l^t|s_t) )

    with r̂_t = β [log π_θ̂ − log π_ref] (same β, as in the code), f_w = 1 + α r̂, f_l = 1 − α r̂.
    α = 0 (or a reward model equal to π_ref) gives DPO on the summed sequence log-ratios.
    """
    fw, fl = tgdpo_weights(
        chosen_rm_token_logps,
        rejected_rm_token_logps,
        ref_chosen_token_logps,
        ref_rejected_token_logps,
        beta=beta,
        alpha=alpha,
    )
    mw, ml = chosen_mask.to(chosen_token_logps.dtype), rejected_mask.to(rejected_token_logps.dtype)
    zw = (beta * fw * (chosen_token_logps - ref_chosen_token_logps) * mw).sum(-1)
    zl = (beta * fl * (rejected_token_logps - ref_rejected_token_logps) * ml).sum(-1)
    return -F.logsigmoid(zw - zl)


# TGDPO is not registered in replicate.losses.LOSSES: that registry's hook passes per-sequence sums,
# while TGDPO needs per-token log-probs of three models (trl-coverage.md: "requires a custom
# _compute_loss with per-token log-ratios and a third model").
TOKEN_INPUTS = (
    "chosen_token_logps",
    "rejected_token_logps",
    "ref_chosen_token_logps",
    "ref_rejected_token_logps",
    "chosen_rm_token_logps",
    "rejected_rm_token_logps",
    "chosen_mask",
    "rejected_mask",
)
