"""Losses: closed-form values and parity with TRL's own code on fixed log-probs (to 1e-6)."""

import math
from collections import defaultdict
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from replicate import losses as L

torch.manual_seed(0)
B = 7
LW, LL = -torch.rand(B) * 30, -torch.rand(B) * 30  # summed log-probs
RW, RL = -torch.rand(B) * 30, -torch.rand(B) * 30  # reference
NW, NL = torch.randint(3, 40, (B,)).float(), torch.randint(3, 40, (B,)).float()


def test_dpo_at_zero_margin_is_ln2():
    z = torch.zeros(3)
    assert torch.allclose(L.dpo_loss(z, z, z, z, beta=0.1), torch.full((3,), math.log(2)))


def test_simpo_gamma0_is_logsigmoid_of_avg_logp_difference():
    got = L.simpo_loss(LW, LL, NW, NL, beta=2.5, gamma=0.0)
    want = -F.logsigmoid(2.5 * (LW / NW - LL / NL))
    assert torch.allclose(got, want, atol=1e-7)


def test_simpo_margin_shifts_the_logit():
    # z = β Δavg − γ: at Δavg = γ/β the loss is exactly ln 2
    nw, nl = torch.tensor([4.0]), torch.tensor([6.0])
    got = L.simpo_loss(torch.tensor([-6.0]), torch.tensor([-12.0]), nw, nl, beta=2.0, gamma=1.0)
    assert got.item() == pytest.approx(math.log(2), abs=1e-7)


def test_simpo_without_length_normalization_uses_sums():
    got = L.simpo_loss(LW, LL, NW, NL, beta=0.5, gamma=0.3, length_normalize=False)
    assert torch.allclose(got, -F.logsigmoid(0.5 * (LW - LL) - 0.3))


def test_ipo_minimum_at_target_margin():
    tau = 0.25
    # per-token averaged log-ratio margin exactly 1/(2τ) → loss 0
    nw, nl = torch.tensor([5.0]), torch.tensor([5.0])
    lw = torch.tensor([-1.0]) + 5 * (1 / (2 * tau))
    assert L.ipo_loss(
        lw, torch.tensor([-1.0]), torch.tensor([0.0]), torch.tensor([0.0]), nw, nl, tau=tau
    ).item() == pytest.approx(0, abs=1e-10)


def test_rdpo_alpha0_is_dpo():
    assert torch.allclose(
        L.rdpo_loss(LW, LL, RW, RL, NW, NL, beta=0.1, alpha=0.0), L.dpo_loss(LW, LL, RW, RL, beta=0.1)
    )


def test_rdpo_asks_less_of_a_longer_chosen_response():
    # implied reward β·log-ratio + α|y|: a longer winner already earns α·Δ|y| of margin, so its loss is lower
    longer = L.rdpo_loss(LW, LL, RW, RL, NL + 10, NL, beta=0.1, alpha=0.1)
    same = L.rdpo_loss(LW, LL, RW, RL, NL, NL, beta=0.1, alpha=0.1)
    assert (longer < same).all()
    h = (LW - RW) - (LL - RL)
    assert torch.allclose(longer, -F.logsigmoid(0.1 * h + 0.1 * 10), atol=1e-7)


def test_orpo_closed_form():
    aw, al = torch.tensor([-0.5]), torch.tensor([-1.5])
    odds = lambda a: math.log(math.exp(a) / (1 - math.exp(a)))
    want = 0.5 - 0.2 * math.log(1 / (1 + math.exp(-(odds(-0.5) - odds(-1.5)))))
    assert L.orpo_loss(aw * 4, al * 2, torch.tensor([4.0]), torch.tensor([2.0]), lam=0.2).item() == pytest.approx(
        want, rel=1e-6
    )


def test_kto_balanced_at_reference_is_half_per_term():
    z = torch.zeros(4)
    assert torch.allclose(L.kto_loss(z, z, z, z, beta=0.1), torch.full((4,), 1.0))  # 2 × (1 − σ(0))


def test_slic_and_rrhf_hinges():
    assert (
        L.slic_hf_loss(
            torch.tensor([0.0]), torch.tensor([-5.0]), torch.tensor([1.0]), delta=1.0, nll_weight=0.0
        ).item()
        == 0.0
    )
    assert (
        L.rrhf_loss(
            torch.tensor([-2.0]), torch.tensor([-1.0]), torch.tensor([1.0]), torch.tensor([1.0]), nll_weight=0.0
        ).item()
        == 1.0
    )


def test_registry_rejects_unknown_hyperparameter():
    batch = {"chosen_logps": LW, "rejected_logps": LL, "chosen_len": NW, "rejected_len": NL}
    with pytest.raises(TypeError, match="unknown hyperparameters"):
        L.LOSSES["simpo"](batch, beta=2.0, gamma=1.0, gama=3)


# --- parity with TRL's own code -------------------------------------------------------------


class _Identity:
    device = torch.device("cpu")

    def gather_for_metrics(self, x):
        return x

    gather = gather_for_metrics


def _trl_dpo_loss(loss_type: str, beta: float, lw, ll, rw, rl, nw, nl):
    """Run TRL's DPOTrainer._compute_loss on fixed per-token log-probs (a stub model returns them)."""
    from trl import DPOTrainer

    T = int(max(nw.max(), nl.max())) + 2
    n = len(lw)
    mask = torch.zeros(2 * n, T + 1, dtype=torch.long)
    per_tok = torch.zeros(2 * n, T)
    ref_tok = torch.zeros(2 * n, T)
    for i, (lens, lp, rp) in enumerate(((nw, lw, rw), (nl, ll, rl))):
        for j in range(n):
            k = int(lens[j])
            mask[i * n + j, 1 : k + 1] = 1  # completion tokens after a 1-token prompt
            per_tok[i * n + j, :k] = lp[j] / k  # spread the sum evenly over the completion
            ref_tok[i * n + j, :k] = rp[j] / k

    def model_out(lp):
        z = torch.zeros_like(lp)
        return SimpleNamespace(log_probs=lp, entropy=z, mean_logits=z, is_top1=z.bool(), aux_loss=None)

    tr = object.__new__(DPOTrainer)
    tr.model = SimpleNamespace(training=True)
    tr.accelerator = _Identity()
    tr.aux_loss_enabled = False
    tr.ld_alpha = None
    tr.precompute_ref_logps = True
    tr.f_divergence_type = "reverse_kl"
    tr.loss_types, tr.loss_weights = [loss_type], [1.0]
    tr.beta, tr.label_smoothing, tr.use_weighting = beta, 0.0, False
    tr._metrics = {"train": defaultdict(list)}
    tr._total_train_tokens, tr._tp_size = 0, 1
    inputs = {
        "input_ids": torch.zeros_like(mask),
        "attention_mask": torch.ones_like(mask),
        "completion_mask": mask,
        "ref_chosen_logps": ref_tok[:n].sum(1),
        "ref_rejected_logps": ref_tok[n:].sum(1),
    }
    return DPOTrainer._compute_loss(tr, lambda **kw: model_out(per_tok), inputs, False)


@pytest.mark.parametrize(
    "loss_type,ours",
    [
        ("sigmoid", lambda: L.dpo_loss(LW, LL, RW, RL, beta=0.1)),
        # TRL's hinge relu(1 − βh) is SLiC's hinge with δ = 1/β, scaled by β
        (
            "hinge",
            lambda: (
                0.1 * L.slic_hf_loss((LW - RW) - (LL - RL), torch.zeros(B), torch.ones(B), delta=10.0, nll_weight=0.0)
            ),
        ),
        ("ipo", lambda: L.ipo_loss(LW, LL, RW, RL, NW, NL, tau=0.1)),
    ],
)
def test_parity_with_trl_dpo_trainer(loss_type, ours):
    trl = _trl_dpo_loss(loss_type, 0.1, LW, LL, RW, RL, NW, NL)
    assert trl.item() == pytest.approx(ours().mean().item(), abs=1e-6)


def test_trl_hinge_equals_slic_without_nll():
    # SLiC-HF with δ = 1/β scaled by β equals TRL's hinge on log-ratios; here both on the same h
    h = (LW - RW) - (LL - RL)
    ours = L.slic_hf_loss(h, torch.zeros(B), torch.ones(B), delta=10.0, nll_weight=0.0) * 0.1
    assert torch.allclose(ours, torch.relu(1 - 0.1 * h), atol=1e-6)
    assert _trl_dpo_loss("hinge", 0.1, LW, LL, RW, RL, NW, NL).item() == pytest.approx(ours.mean().item(), abs=1e-6)


def test_parity_with_trl_cpo_simpo_cpo_alpha0():
    from trl.experimental.cpo import CPOTrainer

    beta, gamma = 2.5, 1.375  # TRL PR #5071 example: γ = 0.55 × 2.5
    tr = object.__new__(CPOTrainer)
    tr.alpha, tr.loss_type, tr.beta, tr.simpo_gamma, tr.label_smoothing = 0.0, "simpo", beta, gamma, 0.0
    tr.accelerator = _Identity()
    trl_losses, _, _ = CPOTrainer.cpo_loss(tr, LW / NW, LL / NL)  # CPOTrainer passes average log-probs for simpo
    assert torch.allclose(trl_losses, L.simpo_loss(LW, LL, NW, NL, beta=beta, gamma=gamma), atol=1e-6)


def test_parity_with_trl_cpo_sigmoid_without_nll():
    from trl.experimental.cpo import CPOTrainer

    tr = object.__new__(CPOTrainer)
    tr.alpha, tr.loss_type, tr.beta, tr.simpo_gamma, tr.label_smoothing = 0.0, "sigmoid", 0.1, 0.0, 0.0
    tr.accelerator = _Identity()
    trl_losses, _, _ = CPOTrainer.cpo_loss(tr, LW, LL)
    assert torch.allclose(trl_losses, L.cpo_loss(LW, LL, NW, beta=0.1, nll_weight=0.0), atol=1e-6)


# --- KTO, ORPO, R-DPO, RRHF at non-trivial inputs ----------------------------------------------
# TRL 1.16 has KTO (trl.KTOTrainer) and ORPO (trl.experimental.orpo), so those are checked against TRL's own loss
# code. It has no R-DPO (its DPO loss types have no length term; `ld_alpha` is LD-DPO's token down-weighting) and
# no RRHF, so R-DPO is checked as TRL's DPO loss on length-shifted log-probs and RRHF against its closed form.


def _trl_kto_loss(beta, lw, ll, rw, rl, kl_policy, kl_ref, desirable_weight, undesirable_weight):
    """TRL's KTOTrainer._compute_loss on fixed sequence log-probs: rows 0..n−1 desirable (y_w), n..2n−1 undesirable
    (y_l); the KL estimate comes from the mismatched completions' log-probs ``kl_policy`` − ``kl_ref``."""
    from trl import KTOTrainer

    n, T = len(lw), 3
    per_tok = torch.cat([lw, ll])[:, None].repeat(1, T) / T  # the sequence log-prob spread over T tokens

    def model_out(**kw):
        z = torch.zeros_like(per_tok)
        return SimpleNamespace(log_probs=per_tok, entropy=z, mean_logits=z, aux_loss=None)

    tr = object.__new__(KTOTrainer)
    tr.model = SimpleNamespace(training=True)
    tr.accelerator = _Identity()
    tr.aux_loss_enabled, tr.precompute_ref_logps, tr.calculate_KL = False, True, True
    tr.loss_type, tr.beta = "kto", beta
    tr.desirable_weight, tr.undesirable_weight = desirable_weight, undesirable_weight
    tr._metrics = {"train": defaultdict(list)}
    tr._total_train_tokens, tr._tp_size = 0, 1
    tr._compute_kl_logps = lambda model, batch: kl_policy  # the KL completions' forward pass, stubbed
    ids = torch.zeros(2 * n, T + 1, dtype=torch.long)
    inputs = {
        "input_ids": ids,
        "attention_mask": torch.ones_like(ids),
        "completion_mask": torch.ones_like(ids),
        "label": torch.tensor([True] * n + [False] * n),
        "ref_logps": torch.cat([rw, rl]),
        "ref_KL_logps": kl_ref,
    }
    return KTOTrainer._compute_loss(tr, model_out, inputs, False)


@pytest.mark.parametrize("kl_shift", [2.0, -3.0])  # a positive KL estimate, and a negative one that z₀ clamps to 0
def test_kto_parity_with_trl(kl_shift):
    kl_ref = -torch.rand(B) * 30
    kl_policy = kl_ref + kl_shift + torch.linspace(-1, 1, B)  # mean shift = kl_shift
    trl = _trl_kto_loss(0.1, LW, LL, RW, RL, kl_policy, kl_ref, 1.3, 0.7)
    ours = L.kto_loss(
        LW, LL, RW, RL, beta=0.1, desirable_weight=1.3, undesirable_weight=0.7, kl=(kl_policy - kl_ref).mean()
    )
    # TRL averages over the 2B unpaired rows; ours is one value per pair (its desirable + undesirable terms)
    assert trl.item() == pytest.approx(ours.mean().item() / 2, abs=1e-6)
    assert abs(trl.item() - 1.0) > 1e-3  # not the trivial point where every term is 1 − σ(0)


def test_kto_default_reference_point_is_the_clamped_batch_mean_log_ratio():
    rw, rl = LW - RW, LL - RL
    z0 = torch.cat([rw, rl]).mean().clamp(min=0)
    want = (1 - torch.sigmoid(0.1 * (rw - z0))) + (1 - torch.sigmoid(0.1 * (z0 - rl)))
    assert torch.allclose(L.kto_loss(LW, LL, RW, RL, beta=0.1), want, atol=1e-7)
    # raising y_w's log-prob lowers the loss, raising y_l's raises it
    lw, ll = LW.clone().requires_grad_(), LL.clone().requires_grad_()
    L.kto_loss(lw, ll, RW, RL, beta=0.1, kl=torch.tensor(1.0)).sum().backward()
    assert (lw.grad < 0).all() and (ll.grad > 0).all()


def test_orpo_parity_with_trl():
    from trl.experimental.orpo import ORPOTrainer

    lam = 0.25
    tr = object.__new__(ORPOTrainer)
    tr.beta, tr.accelerator = lam, _Identity()
    aw, al = LW / NW, LL / NL  # ORPOTrainer works on average token log-probs
    trl_or, *_ = ORPOTrainer.odds_ratio_loss(tr, aw, al)
    # TRL's loss is NLL(y_w) − mean(λ log σ(log odds ratio)); its NLL is a token mean over the batch's chosen
    # tokens, which is each example's −avg log-prob when the batch holds one example: compare per example
    assert torch.allclose(L.orpo_loss(LW, LL, NW, NL, lam=lam), -aw - trl_or, atol=1e-6)
    assert trl_or.abs().mean() > 0.1  # the odds-ratio term is far from 0 here


def test_rdpo_is_trl_dpo_on_length_shifted_log_probs():
    """R-DPO's logit β h + α(|y_w| − |y_l|) is DPO's with log π(y_w) raised by (α/β)(|y_w| − |y_l|)."""
    beta, alpha = 0.1, 0.05
    shifted = LW + (alpha / beta) * (NW - NL)
    trl = _trl_dpo_loss("sigmoid", beta, shifted, LL, RW, RL, NW, NL)
    ours = L.rdpo_loss(LW, LL, RW, RL, NW, NL, beta=beta, alpha=alpha)
    assert trl.item() == pytest.approx(ours.mean().item(), abs=1e-6)
    assert not torch.allclose(ours, L.dpo_loss(LW, LL, RW, RL, beta=beta), atol=1e-3)  # the length term acts


def test_rrhf_closed_form_at_non_trivial_inputs():
    aw, al = LW / NW, LL / NL
    got = L.rrhf_loss(LW, LL, NW, NL, nll_weight=0.4)
    assert torch.allclose(got, torch.clamp(al - aw, min=0) + 0.4 * (-aw), atol=1e-7)
    active = al > aw
    assert active.any() and (~active).any()  # both sides of the hinge are exercised
    lw, ll = LW.clone().requires_grad_(), LL.clone().requires_grad_()
    L.rrhf_loss(lw, ll, NW, NL, nll_weight=0.4).sum().backward()
    assert (lw.grad < 0).all()  # raising y_w always lowers the loss (ranking term where active, NLL always)
    assert torch.allclose(ll.grad, active.float() / NL)  # y_l is pushed down only where it outranks y_w
