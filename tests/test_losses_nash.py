"""SPPO, INPO, DNO, SPIN losses: closed forms, reductions to known losses, parity with TRL's sppo_hard."""

import math
from collections import defaultdict
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from replicate import losses as L
from replicate.losses import nash as N

torch.manual_seed(1)
B = 6
LW, LL = -torch.rand(B, dtype=torch.float64) * 30, -torch.rand(B, dtype=torch.float64) * 30
RW, RL = -torch.rand(B, dtype=torch.float64) * 30, -torch.rand(B, dtype=torch.float64) * 30
PW, PL = -torch.rand(B, dtype=torch.float64) * 30, -torch.rand(B, dtype=torch.float64) * 30  # π_t (INPO)
NW, NL = torch.randint(3, 40, (B,)).double(), torch.randint(3, 40, (B,)).double()
WW, WL = torch.rand(B, dtype=torch.float64), torch.rand(B, dtype=torch.float64)  # win rates


# ------------------------------------------------------------------------------------ SPPO


def test_sppo_zero_at_target():
    eta = 5.0
    lw = RW + eta * (WW - 0.5)
    ll = RL + eta * (WL - 0.5)
    assert torch.allclose(
        N.sppo_loss(lw, ll, RW, RL, WW, WL, eta=eta), torch.zeros(B, dtype=torch.float64), atol=1e-12
    )


def test_sppo_closed_form_value():
    eta = 2.0
    got = N.sppo_loss(LW, LL, RW, RL, WW, WL, eta=eta)
    want = 0.5 * ((LW - RW - eta * (WW - 0.5)) ** 2 + (LL - RL - eta * (WL - 0.5)) ** 2)
    assert torch.allclose(got, want)
    # coin-flip win rates (½): the loss only pulls the log-ratios to 0
    half = torch.full((B,), 0.5, dtype=torch.float64)
    assert torch.allclose(N.sppo_loss(LW, LL, RW, RL, half, half, eta=eta), 0.5 * ((LW - RW) ** 2 + (LL - RL) ** 2))


def test_sppo_gradient_raises_chosen_and_lowers_rejected_from_reference():
    # at π = π_t the gradient pushes log π(y_w) up iff P̂_w > ½ and log π(y_l) down iff P̂_l < ½
    lw, ll = RW.clone().requires_grad_(True), RL.clone().requires_grad_(True)
    pw, pl = torch.full((B,), 0.8, dtype=torch.float64), torch.full((B,), 0.2, dtype=torch.float64)
    N.sppo_loss(lw, ll, RW, RL, pw, pl, eta=3.0).sum().backward()
    assert (lw.grad < 0).all() and (ll.grad > 0).all()


def test_sppo_hard_is_twice_soft_with_hard_labels():
    beta = 0.1
    ones, zeros = torch.ones(B, dtype=torch.float64), torch.zeros(B, dtype=torch.float64)
    assert torch.allclose(
        N.sppo_hard_loss(LW, LL, RW, RL, beta=beta), 2 * N.sppo_loss(LW, LL, RW, RL, ones, zeros, eta=1 / beta)
    )


def test_sppo_single_zero_at_its_targets():
    eta, p = 4.0, torch.rand(B, dtype=torch.float64)
    assert torch.allclose(
        N.sppo_single_loss(RW + eta * (p - 0.5), RL - eta * (p - 0.5), RW, RL, p, eta=eta),
        torch.zeros(B, dtype=torch.float64),
    )


class _Identity:
    device = torch.device("cpu")

    def gather_for_metrics(self, x):
        return x

    gather = gather_for_metrics


def _trl_dpo_trainer_loss(loss_type, beta, lw, ll, rw, rl):
    """TRL 1.16 DPOTrainer._compute_loss on fixed log-probs: a stub model returns per-token log-probs whose
    completion sums are (lw, ll); reference sums are precomputed inputs. Batch mean, as TRL reports it."""
    from trl import DPOTrainer

    n, T = len(lw), 3
    mask = torch.zeros(2 * n, T + 1, dtype=torch.long)
    mask[:, 1:] = 1
    per_tok = torch.cat([lw, ll]).float()[:, None].repeat(1, T) / T
    z = torch.zeros_like(per_tok)
    out = SimpleNamespace(log_probs=per_tok, entropy=z, mean_logits=z, is_top1=z.bool(), aux_loss=None)
    tr = object.__new__(DPOTrainer)
    tr.model = SimpleNamespace(training=True)
    tr.accelerator = _Identity()
    tr.aux_loss_enabled, tr.ld_alpha, tr.precompute_ref_logps = False, None, True
    tr.f_divergence_type, tr.loss_types, tr.loss_weights = "reverse_kl", [loss_type], [1.0]
    tr.beta, tr.label_smoothing, tr.use_weighting = beta, 0.0, False
    tr._metrics = {"train": defaultdict(list)}
    tr._total_train_tokens, tr._tp_size = 0, 1
    inputs = {
        "input_ids": torch.zeros_like(mask),
        "attention_mask": torch.ones_like(mask),
        "completion_mask": mask,
        "ref_chosen_logps": rw.float(),
        "ref_rejected_logps": rl.float(),
    }
    return DPOTrainer._compute_loss(tr, lambda **kw: out, inputs, False)


@pytest.mark.parametrize("beta", [0.1, 0.5, 1.0])
def test_sppo_hard_parity_with_trl(beta):
    # per example (batch of one) and as a batch mean
    lw, ll, rw, rl = LW / 10, LL / 10, RW / 10, RL / 10  # float32 in TRL: keep magnitudes moderate
    ours = N.sppo_hard_loss(lw, ll, rw, rl, beta=beta)
    for i in range(B):
        trl = _trl_dpo_trainer_loss("sppo_hard", beta, lw[i : i + 1], ll[i : i + 1], rw[i : i + 1], rl[i : i + 1])
        assert trl.item() == pytest.approx(ours[i].item(), rel=1e-5, abs=1e-4)
    assert _trl_dpo_trainer_loss("sppo_hard", beta, lw, ll, rw, rl).item() == pytest.approx(
        ours.mean().item(), rel=1e-5
    )


def test_sppo_hard_parity_fails_on_the_pre_1615_formula():
    # TRL PR #1612 had β inside the squares; the test above would catch a regression to it
    beta = 0.5
    old = (beta * (LW - RW) - 0.5) ** 2 + (beta * (LL - RL) + 0.5) ** 2
    assert not torch.allclose(old, N.sppo_hard_loss(LW, LL, RW, RL, beta=beta))


def test_dno_parity_with_trl_sigmoid():
    eta = 0.3
    lw, ll, rw, rl = LW / 10, LL / 10, RW / 10, RL / 10
    trl = _trl_dpo_trainer_loss("sigmoid", eta, lw, ll, rw, rl)
    assert trl.item() == pytest.approx(N.dno_loss(lw, ll, rw, rl, eta=eta).mean().item(), rel=1e-5)


# ------------------------------------------------------------------------------------ INPO


def test_inpo_tau_equal_eta_is_ipo_with_sums():
    eta = 0.7
    got = N.inpo_loss(LW, LL, RW, RL, PW, PL, eta=eta, tau=eta)
    assert torch.allclose(got, L.ipo_loss(LW, LL, RW, RL, NW, NL, tau=eta, average=False))


def test_inpo_tau0_uses_only_previous_iterate():
    eta = 0.7
    got = N.inpo_loss(LW, LL, RW, RL, PW, PL, eta=eta, tau=0.0)
    assert torch.allclose(got, ((LW - PW) - (LL - PL) - 1 / (2 * eta)) ** 2)


def test_inpo_mixed_reference_and_zero_at_target():
    eta, tau = 0.5, 0.5 / 3
    mixed_w, mixed_l = tau / eta * RW + (1 - tau / eta) * PW, tau / eta * RL + (1 - tau / eta) * PL
    h = N.inpo_h(LW, LL, RW, RL, PW, PL, eta=eta, tau=tau)
    assert torch.allclose(h, (LW - mixed_w) - (LL - mixed_l))
    lw = mixed_w + (LL - mixed_l) + 1 / (2 * eta)  # h = 1/(2η) exactly
    assert torch.allclose(
        N.inpo_loss(lw, LL, RW, RL, PW, PL, eta=eta, tau=tau), torch.zeros(B, dtype=torch.float64), atol=1e-10
    )


# ------------------------------------------------------------------------------------- DNO


def test_dno_practical_is_dpo_against_previous_iterate():
    assert torch.allclose(N.dno_loss(LW, LL, PW, PL, eta=0.1), L.dpo_loss(LW, LL, PW, PL, beta=0.1))


def test_dno_regression_minimiser_is_reward_difference():
    # convex in h with zero gradient at η h = r1 − r2 (soft policy iteration), and larger elsewhere
    eta, r1, r2 = 2.0, torch.rand(B, dtype=torch.float64), torch.rand(B, dtype=torch.float64)
    z = torch.zeros(B, dtype=torch.float64)
    h = ((r1 - r2) / eta).requires_grad_(True)
    loss = N.dno_regression_loss(h, z, z, z, r1, r2, eta=eta)
    loss.sum().backward()
    assert h.grad.abs().max() < 1e-12
    for d in (-0.1, 0.1):
        assert (N.dno_regression_loss(h.detach() + d, z, z, z, r1, r2, eta=eta) > loss.detach()).all()


def test_dno_regression_equal_rewards_is_symmetric():
    r = torch.rand(B, dtype=torch.float64)
    got = N.dno_regression_loss(LW, LL, RW, RL, r, r, eta=0.5)
    h = (LW - RW) - (LL - RL)
    assert torch.allclose(got, -0.5 * (F.logsigmoid(0.5 * h) + F.logsigmoid(-0.5 * h)))


# ------------------------------------------------------------------------------------ SPIN


def test_spin_is_dpo_real_vs_generated_and_ln2_at_fixed_point():
    assert torch.allclose(N.spin_loss(LW, LL, PW, PL, beta=0.1), L.dpo_loss(LW, LL, PW, PL, beta=0.1))
    # π_θ = π_t: every log-ratio 0, loss log 2 (SPIN's fixed point p_θ = p_data)
    assert torch.allclose(N.spin_loss(PW, PL, PW, PL, beta=0.1), torch.full((B,), math.log(2), dtype=torch.float64))


def test_spin_hinge_and_bad_type():
    h = (LW - PW) - (LL - PL)
    assert torch.allclose(N.spin_loss(LW, LL, PW, PL, beta=0.1, loss_type="hinge"), torch.relu(1 - 0.1 * h))
    with pytest.raises(ValueError):
        N.spin_loss(LW, LL, PW, PL, beta=0.1, loss_type="ipo")


# -------------------------------------------------------------------------------- registry


def test_registered_with_extra_inputs():
    batch = {
        "chosen_logps": LW,
        "rejected_logps": LL,
        "ref_chosen_logps": RW,
        "ref_rejected_logps": RL,
        "chosen_winrate": WW,
        "rejected_winrate": WL,
        "prev_chosen_logps": PW,
        "prev_rejected_logps": PL,
        "chosen_reward": WW,
        "rejected_reward": WL,
        "pair_prob": WW,
    }
    assert torch.allclose(L.LOSSES["sppo"](batch, eta=2.0), N.sppo_loss(LW, LL, RW, RL, WW, WL, eta=2.0))
    assert torch.allclose(
        L.LOSSES["inpo"](batch, eta=0.5, tau=0.1), N.inpo_loss(LW, LL, RW, RL, PW, PL, eta=0.5, tau=0.1)
    )
    assert torch.allclose(
        L.LOSSES["dno_regression"](batch, eta=0.5), N.dno_regression_loss(LW, LL, RW, RL, WW, WL, eta=0.5)
    )
    for name in ("sppo", "sppo_hard", "inpo", "dno", "dno_regression", "spin"):
        spec = L.LOSSES[name]
        assert spec.needs_reference and set(spec.inputs) - set(batch) == set()
        assert all(k in N.EXTRA_KEYS for k in spec.inputs[4:])
