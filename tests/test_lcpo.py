"""LCPO / RE-PO: Gibbs construction, E-step, M-step, reductions (cDPO), parity with TRL's label-smoothed sigmoid."""

import math

import pytest
import torch
import torch.nn.functional as F

from replicate import losses as L
from replicate.losses import lcpo as R

torch.manual_seed(2)
B = 8
LW, LL = -torch.rand(B, dtype=torch.float64) * 20, -torch.rand(B, dtype=torch.float64) * 20
RW, RL = -torch.rand(B, dtype=torch.float64) * 20, -torch.rand(B, dtype=torch.float64) * 20
NW, NL = torch.randint(2, 30, (B,)).double(), torch.randint(2, 30, (B,)).double()
H = (LW - RW) - (LL - RL)


def test_gibbs_of_dpo_is_bradley_terry():
    assert torch.allclose(R.lcpo_dpo_logit(LW, LL, RW, RL, beta=0.1), 0.1 * H, atol=1e-12)


def test_gibbs_of_ipo_is_linear_in_averaged_margin():
    tau = 0.2
    hbar = (LW - RW) / NW - (LL - RL) / NL
    assert torch.allclose(R.lcpo_ipo_logit(LW, LL, RW, RL, NW, NL, tau=tau), 2 * hbar / tau, atol=1e-10)


def test_gibbs_of_simpo_gamma0_and_cpo_nll():
    d = LW / NW - LL / NL
    assert torch.allclose(R.lcpo_simpo_logit(LW, LL, NW, NL, beta=2.0, gamma=0.0), 2.0 * d, atol=1e-10)
    got = R.lcpo_cpo_logit(LW, LL, NW, NL, beta=0.1, nll_weight=1.0)
    assert torch.allclose(got, 0.1 * (LW - LL) + (-LL / NL) - (-LW / NW), atol=1e-10)  # βd + λ(NLL̄_l − NLL̄_w)


def test_e_step_closed_form_and_limits():
    z = torch.tensor([0.0, 50.0, -50.0, 1.3], dtype=torch.float64)
    w = R.e_step(z, 0.9)
    p = torch.sigmoid(z)
    assert torch.allclose(w, p * 0.9 / (p * 0.9 + (1 - p) * 0.1))
    assert w[0].item() == pytest.approx(0.9) and w[1].item() == pytest.approx(1.0) and w[2].item() < 1e-15
    with pytest.raises(ValueError):
        R.e_step(z, 1.0)


def test_e_step_has_no_gradient():
    lw = LW.clone().requires_grad_(True)
    z = R.lcpo_dpo_logit(lw, LL, RW, RL, beta=0.1)
    w = R.e_step(z, 0.8)
    assert not w.requires_grad
    # ∂L_RE/∂z = σ(z) − w (the cross-entropy gradient with w held fixed)
    loss = R.lcpo_from_logit(z, 0.8).sum()
    (gz,) = torch.autograd.grad(loss, z)
    assert torch.allclose(gz, torch.sigmoid(z) - w)


def test_lcpo_dpo_is_cdpo_with_adaptive_smoothing():
    eta, beta = 0.85, 0.1
    w = R.e_step(beta * H, eta)
    cdpo = -(w * F.logsigmoid(beta * H) + (1 - w) * F.logsigmoid(-beta * H))
    assert torch.allclose(R.lcpo_dpo_loss(LW, LL, RW, RL, beta=beta, eta=eta), cdpo)


def test_lcpo_dpo_parity_with_trl_label_smoothing():
    """With the reference at 0, RE-DPO with weight w equals TRL CPOTrainer's sigmoid loss (cDPO form
    −(1−ε) log σ(βd) − ε log σ(−βd)) with ε = 1 − w, example by example."""
    from trl.experimental.cpo import CPOTrainer

    class _Acc:
        device = torch.device("cpu")

    beta, eta = 0.1, 0.8
    z = torch.zeros(B, dtype=torch.float64)
    ours = R.lcpo_dpo_loss(LW, LL, z, z, beta=beta, eta=eta)
    w = R.e_step(beta * (LW - LL), eta)
    for i in range(B):
        tr = object.__new__(CPOTrainer)
        tr.alpha, tr.loss_type, tr.beta, tr.simpo_gamma = 0.0, "sigmoid", beta, 0.0
        tr.label_smoothing, tr.accelerator = float(1 - w[i]), _Acc()
        trl, _, _ = CPOTrainer.cpo_loss(tr, LW[i : i + 1], LL[i : i + 1])
        assert trl.item() == pytest.approx(ours[i].item(), rel=1e-9)


def test_reliability_update_and_exact_m_step():
    w = torch.tensor([1.0, 1.0, 0.0, 0.5], dtype=torch.float64)
    assert R.update_reliability(0.9, w, alpha=0.1) == pytest.approx(0.9 * 0.9 + 0.1 * 0.625)
    assert R.update_reliability(0.9, w, alpha=1.0) == pytest.approx(0.625)


def test_em_recovers_flip_rate_with_a_calibrated_confident_model():
    # a model certain of the true order (|z| large, right sign): EM's fixed point is η = 1 − (flip fraction)
    g = torch.Generator().manual_seed(0)
    n, eps = 4000, 0.3
    flipped = torch.rand(n, generator=g, dtype=torch.float64) < eps
    z = torch.where(flipped, -30.0, 30.0).double()  # logit of the *observed* label under the true order
    eta = 0.9
    for _ in range(50):
        eta = R.update_reliability(eta, R.e_step(z, eta), alpha=1.0)
    assert eta == pytest.approx(1 - flipped.double().mean().item(), abs=1e-6)


def test_observed_likelihood_increases_under_em():
    g = torch.Generator().manual_seed(1)
    z = torch.randn(500, generator=g, dtype=torch.float64) * 3 + 1
    eta, prev = 0.6, -math.inf
    for _ in range(20):
        ll = R.observed_likelihood(z, eta).sum().item()
        assert ll >= prev - 1e-9
        prev = ll
        eta = R.update_reliability(eta, R.e_step(z, eta), alpha=1.0)


def test_registered_specs_match_functions():
    batch = {
        "chosen_logps": LW,
        "rejected_logps": LL,
        "ref_chosen_logps": RW,
        "ref_rejected_logps": RL,
        "chosen_len": NW,
        "rejected_len": NL,
    }
    assert torch.allclose(
        L.LOSSES["lcpo_dpo"](batch, beta=0.1, eta=0.9), R.lcpo_dpo_loss(LW, LL, RW, RL, beta=0.1, eta=0.9)
    )
    assert torch.allclose(
        L.LOSSES["lcpo_simpo"](batch, beta=2.0, gamma=1.0, eta=0.9),
        R.lcpo_simpo_loss(LW, LL, NW, NL, beta=2.0, gamma=1.0, eta=0.9),
    )
    assert torch.allclose(
        L.LOSSES["lcpo_cpo"](batch, beta=0.1, nll_weight=1.0, eta=0.9),
        R.lcpo_cpo_loss(LW, LL, NW, NL, beta=0.1, nll_weight=1.0, eta=0.9),
    )
    assert torch.allclose(
        L.LOSSES["lcpo_ipo"](batch, tau=0.1, eta=0.9), R.lcpo_ipo_loss(LW, LL, RW, RL, NW, NL, tau=0.1, eta=0.9)
    )


def test_per_example_reliability_tensor():
    eta = torch.full((B,), 0.7, dtype=torch.float64)
    assert torch.allclose(
        R.lcpo_dpo_loss(LW, LL, RW, RL, beta=0.1, eta=eta), R.lcpo_dpo_loss(LW, LL, RW, RL, beta=0.1, eta=0.7)
    )
