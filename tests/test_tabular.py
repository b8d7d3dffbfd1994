"""Tabular world: equilibria by LP and Newton, closed-form updates reproduced by training the papers' losses,
exact expectations, determinism of a replication run."""

import math

import numpy as np
import pytest
import torch

from replicate.losses import dpo_loss
from replicate.papers import nash_game as G
from replicate.worlds import tabular as T

RPS = torch.tensor([[0.5, 0.9, 0.1], [0.1, 0.5, 0.9], [0.9, 0.1, 0.5]], dtype=T.DTYPE)


def test_lp_nash_of_rock_paper_scissors_is_uniform():
    pi, v = T.nash_lp(RPS.numpy())
    assert np.allclose(pi, 1 / 3, atol=1e-9) and abs(v) < 1e-9
    assert T.duality_gap(RPS[None], torch.tensor(pi)[None]).item() == pytest.approx(0, abs=1e-9)


def test_lp_nash_of_cyclic_tournament_and_of_bradley_terry():
    P5 = 0.5 + 0.4 * T.cyclic_tournament(5)
    assert np.allclose(T.nash_lp(P5.numpy())[0], 0.2, atol=1e-9)
    s = torch.tensor([0.3, 1.2, -0.5, 0.9], dtype=T.DTYPE)
    pi, _ = T.nash_lp(T.bradley_terry(s).numpy())  # transitive: the Condorcet winner, a pure strategy
    assert np.allclose(pi, np.eye(4)[1], atol=1e-9)


def test_exploitability_of_pure_rock():
    rock = torch.tensor([[1.0, 0, 0]], dtype=T.DTYPE)
    assert T.exploitability(RPS[None], rock).item() == pytest.approx(0.4)  # paper beats rock w.p. 0.9
    assert T.duality_gap(RPS[None], rock).item() == pytest.approx(0.8)


def test_preference_checks_and_noise():
    with pytest.raises(ValueError):
        T.check_preference(torch.full((1, 3, 3), 0.6, dtype=T.DTYPE))
    P = T.flip_labels(RPS, 0.2)
    T.check_preference(P)
    assert P[0, 1].item() == pytest.approx(0.8 * 0.9 + 0.2 * 0.1)


def test_annotator_mixture_is_intransitive():
    S = torch.tensor([[3.0, 2, 1], [1, 3, 2], [2, 1, 3]], dtype=T.DTYPE)  # three cyclic tastes
    P = T.annotator_mixture(S, torch.ones(3, dtype=T.DTYPE))
    T.check_preference(P)
    assert P[0, 1] > 0.5 and P[1, 2] > 0.5 and P[2, 0] > 0.5  # a Condorcet cycle, although each annotator is BT


def test_game_world_is_valid_and_its_lp_nash_has_zero_gap():
    w = T.make_game_world(4, 8, seed=0)
    T.check_preference(w.P)
    assert w.kinds == ("intransitive", "mixture", "intransitive", "mixture")
    ne = T.nash_all(w.P)
    assert T.duality_gap(w.P, ne).abs().max() < 1e-9
    assert (T.duality_gap(w.P, w.ref) > 0.1).all()  # the reference is far from it


def test_regularized_nash_fixed_point_and_limits():
    w = T.make_game_world(2, 6, seed=1)
    for tau in (1.0, 0.1, 0.01):
        r = T.regularized_nash(w.P, w.ref, tau)
        assert T.regularized_exploitability(w.P, w.ref, tau, r).abs().max() < 1e-12
        fixed = torch.softmax(torch.log(w.ref) + T.win_rates(w.P, r) / tau, -1)
        assert torch.allclose(r, fixed, atol=1e-10)
    big = T.regularized_nash(w.P, w.ref, 100.0)
    assert T.tv(big, w.ref).max() < 0.01  # strong regularisation: stays at π_ref
    gaps = [T.duality_gap(w.P, T.regularized_nash(w.P, w.ref, t)).mean().item() for t in (0.1, 0.01, 0.001)]
    assert gaps[0] > gaps[1] > gaps[2] and gaps[2] < 0.01  # τ → 0: the Nash equilibrium


def test_regularized_exploitability_is_nonnegative_elsewhere():
    w = T.make_game_world(2, 6, seed=2)
    g = torch.Generator().manual_seed(0)
    for _ in range(5):
        pi = torch.softmax(torch.randn(2, 6, generator=g, dtype=T.DTYPE), -1)
        assert (T.regularized_exploitability(w.P, w.ref, 0.2, pi) >= -1e-12).all()


def test_pair_weights_and_expectation():
    mu = torch.tensor([[0.2, 0.3, 0.5]], dtype=T.DTYPE)
    W = T.pair_weights(mu, RPS[None])
    assert W.sum().item() == pytest.approx(1.0) and W[0].diagonal().abs().sum() == 0
    # E over pairs of the indicator "winner index" — by hand
    c, _ = T.pairs(torch.arange(3, dtype=T.DTYPE)[None])
    want = sum(mu[0, i] * mu[0, j] * RPS[i, j] * i for i in range(3) for j in range(3) if i != j)
    want /= sum(mu[0, i] * mu[0, j] * RPS[i, j] for i in range(3) for j in range(3) if i != j)
    assert T.expected(c, W).item() == pytest.approx(want.item())


def _fit_step(method, world, pi, hp, steps=800):
    loss, closed = G.step_loss(method, world, pi, hp, 0)
    z, _ = T.fit(torch.log(pi), loss, steps=steps, lr=0.1)
    return torch.log_softmax(z, -1), closed


def test_dpo_training_reaches_closed_form_optimum():
    world, r = T.make_bt_world(2, 5, seed=3)
    beta = 0.5
    W = T.pair_weights(world.ref, world.P)
    cr, rr = T.pairs(world.ref_logp)

    def loss(z):
        c, rj = T.pairs(torch.log_softmax(z, -1))
        return T.expected(dpo_loss(c, rj, cr, rr, beta=beta), W)

    with T.single_thread():
        z, _ = T.fit(world.ref_logits, loss, steps=1500, lr=0.1)
    assert torch.allclose(torch.log_softmax(z, -1), torch.log(T.dpo_optimum(world.ref, r, beta)), atol=1e-6)


@pytest.mark.parametrize(
    "method,hp",
    [
        ("inpo", {"step": 1.0, "tau": 0.3, "eta_schedule": lambda t: 1.0}),
        ("inpo", {"step": 1.0, "tau": 0.0, "eta_schedule": lambda t: 0.5}),
        ("dno_regression", {"step": 1.5}),
    ],
)
def test_trained_iteration_equals_closed_form(method, hp):
    w = T.make_game_world(2, 6, seed=4)
    with T.single_thread():
        lp, closed = _fit_step(method, w, w.ref, hp)
    assert (lp - torch.log(closed)).abs().max() < 1e-6


def test_sppo_iteration_approximates_hedge_but_not_exactly():
    w = T.make_game_world(2, 6, seed=4)
    with T.single_thread():
        lp, closed = _fit_step("sppo", w, w.ref, {"step": 1.0})
    err = (lp - torch.log(closed)).abs().max().item()
    assert 1e-6 < err < 0.05  # log Z ≈ η/2 is an approximation (SPPO App. A)


def test_spin_step_closed_form():
    from replicate.papers.spin import spin_expected_loss

    g = torch.Generator().manual_seed(5)
    p_data = torch.softmax(torch.randn(2, 5, generator=g, dtype=T.DTYPE), -1)
    pi = torch.softmax(torch.randn(2, 5, generator=g, dtype=T.DTYPE), -1)
    assert torch.allclose(T.spin_step(pi, p_data, 1.0), p_data)
    with T.single_thread():
        z, _ = T.fit(torch.log(pi), lambda z: spin_expected_loss(z, pi, p_data, 2.0), steps=800, lr=0.1)
    assert torch.allclose(torch.log_softmax(z, -1), torch.log(T.spin_step(pi, p_data, 2.0)), atol=1e-6)
    # at π_t = p_data the loss is log 2 and stays there
    assert spin_expected_loss(torch.log(p_data), p_data, p_data, 0.1).item() == pytest.approx(math.log(2))


def test_hedge_and_omd_closed_forms():
    u = torch.full((1, 3), 1 / 3, dtype=T.DTYPE)
    assert torch.allclose(T.hedge_step(u, RPS[None], 2.0), u)  # the equilibrium is a fixed point
    ref = torch.tensor([[0.5, 0.3, 0.2]], dtype=T.DTYPE)
    # τ = η: OMD forgets π_t, π_{t+1} ∝ π_ref exp(P(y ≻ π_t)/η)
    pi = torch.tensor([[0.1, 0.6, 0.3]], dtype=T.DTYPE)
    want = torch.softmax(torch.log(ref) + T.win_rates(RPS[None], pi) / 0.4, -1)
    assert torch.allclose(T.omd_step(pi, ref, RPS[None], eta=0.4, tau=0.4), want)


def test_fit_is_deterministic_and_callback_sees_every_step():
    w = T.make_game_world(1, 5, seed=6)
    loss, _ = G.step_loss("dpo", w, w.ref, {"step": 1.0}, 0)
    seen = []
    a, n = T.fit(torch.log(w.ref), loss, steps=40, lr=0.1, callback=lambda k, p: seen.append(k))
    b, _ = T.fit(torch.log(w.ref), loss, steps=40, lr=0.1)
    assert torch.equal(a, b) and n == 40 and seen == list(range(1, 41))


def test_replication_run_is_deterministic():
    import replicate.core.config as C
    from replicate.papers import sppo

    cfg = C.compose(
        "sppo",
        ["scale=ci", "scale.tabular.iterations=2", "scale.tabular.inner_steps=30", "paper.likelihood.n_prompts=8"],
    )
    a, b = sppo.run(cfg), sppo.run(cfg)
    verdicts = [[c["verdict"] for c in sppo.claims(r, cfg)] for r in (a, b)]
    assert a.metrics == b.metrics and verdicts[0] == verdicts[1]
