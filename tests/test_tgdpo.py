"""TGDPO per-token loss: reductions to DPO, closed form, masking, stop-gradient through the token reward."""

import torch
import torch.nn.functional as F

from replicate import losses as L
from replicate.losses import token_level as TK

torch.manual_seed(3)
B, T = 5, 7
PW, PL = -torch.rand(B, T, dtype=torch.float64) * 3, -torch.rand(B, T, dtype=torch.float64) * 3  # policy
RW, RL = -torch.rand(B, T, dtype=torch.float64) * 3, -torch.rand(B, T, dtype=torch.float64) * 3  # reference
MW, ML = -torch.rand(B, T, dtype=torch.float64) * 3, -torch.rand(B, T, dtype=torch.float64) * 3  # token-reward model
KW = (torch.arange(T)[None] < torch.randint(2, T + 1, (B, 1))).double()  # masks
KL = (torch.arange(T)[None] < torch.randint(2, T + 1, (B, 1))).double()


def _dpo_on_sums(beta):
    return L.dpo_loss((PW * KW).sum(-1), (PL * KL).sum(-1), (RW * KW).sum(-1), (RL * KL).sum(-1), beta=beta)


def test_alpha0_is_dpo():
    got = TK.tgdpo_loss(PW, PL, RW, RL, MW, ML, KW, KL, beta=0.1, alpha=0.0)
    assert torch.allclose(got, _dpo_on_sums(0.1))


def test_reward_model_equal_to_reference_is_dpo():
    got = TK.tgdpo_loss(PW, PL, RW, RL, RW, RL, KW, KL, beta=0.1, alpha=2.0)
    assert torch.allclose(got, _dpo_on_sums(0.1))


def test_closed_form():
    beta, alpha = 0.1, 0.5
    fw = 1 + alpha * beta * (MW - RW)
    fl = 1 - alpha * beta * (ML - RL)
    z = (beta * fw * (PW - RW) * KW).sum(-1) - (beta * fl * (PL - RL) * KL).sum(-1)
    assert torch.allclose(TK.tgdpo_loss(PW, PL, RW, RL, MW, ML, KW, KL, beta=beta, alpha=alpha), -F.logsigmoid(z))


def test_constant_token_reward_rescales_beta_per_side():
    beta, alpha, c = 0.2, 1.5, 0.8
    mw, ml = RW + c / beta, RL + c / beta  # r̂ = c on every token
    got = TK.tgdpo_loss(PW, PL, RW, RL, mw, ml, KW, KL, beta=beta, alpha=alpha)
    z = beta * (1 + alpha * c) * ((PW - RW) * KW).sum(-1) - beta * (1 - alpha * c) * ((PL - RL) * KL).sum(-1)
    assert torch.allclose(got, -F.logsigmoid(z))


def test_masked_positions_are_ignored():
    junk = torch.where(KW.bool(), PW, torch.full_like(PW, 1e6))
    assert torch.allclose(
        TK.tgdpo_loss(junk, PL, RW, RL, MW, ML, KW, KL, beta=0.1, alpha=0.5),
        TK.tgdpo_loss(PW, PL, RW, RL, MW, ML, KW, KL, beta=0.1, alpha=0.5),
    )


def test_no_gradient_through_token_reward():
    mw = MW.clone().requires_grad_(True)
    pw = PW.clone().requires_grad_(True)
    TK.tgdpo_loss(pw, PL, RW, RL, mw, ML, KW, KL, beta=0.1, alpha=0.5).sum().backward()
    assert mw.grad is None and pw.grad is not None
    # gradient w.r.t. a chosen token log-prob is −σ(−z) β f_w (more weight where the reward model moved up)
    fw, _ = TK.tgdpo_weights(MW, ML, RW, RL, beta=0.1, alpha=0.5)
    z = -TK.tgdpo_loss(PW, PL, RW, RL, MW, ML, KW, KL, beta=0.1, alpha=0.5)  # log σ(z_seq)
    assert torch.allclose(pw.grad, -(1 - torch.exp(z))[:, None] * 0.1 * fw * KW)


def test_weights_sign_flip_is_possible_without_clipping():
    fw, fl = TK.tgdpo_weights(RW - 30, RL + 30, RW, RL, beta=0.1, alpha=1.0)  # r̂ = −3 (chosen), +3 (rejected)
    assert (fw < 0).all() and (fl < 0).all()
