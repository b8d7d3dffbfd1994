"""Iterative preference optimisation in the tabular preference game (shared by SPPO, INPO, DNO).

Each method runs T iterations. Iteration t minimises the method's *exact expected loss* (an exact sum
over the tabular distribution of pairs/responses drawn from π_t, with labels from P) over the policy
logits with Adam (``replicate.worlds.tabular.fit``), starting from π_t, as the papers initialise π_{t+1}
from π_t. The losses are the ones in ``replicate.losses`` / ``replicate.losses.nash``, called on
per-sequence log-probs; nothing here re-implements them.

Step-size convention (one number for every method, so they are compared at the same step):
``step`` s multiplies the win rate in the ideal update π_{t+1} ∝ π_t exp(s · P(y ≻ π_t)).
SPPO η = s; INPO and DNO η = 1/s; DPO β = 1/s (DNO: "η plays DPO's β role").
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from ..losses import dpo_loss
from ..losses.nash import dno_loss, dno_regression_loss, inpo_loss, sppo_regression
from ..worlds import tabular


def auto_step(n_candidates: int, iterations: int) -> float:
    """Hedge's regret-optimal constant step √(8 ln N / T) for payoffs in [0, 1] (SPPO Thm 4.1: η = Θ(1/√T))."""
    return math.sqrt(8 * math.log(n_candidates) / iterations)


@dataclass
class Trajectory:
    method: str
    policies: list  # π_1 .. π_{T+1}, each (M, N)
    closed_form_err: list = field(default_factory=list)  # per iteration: max |log π_trained − log π_closed|
    steps_taken: list = field(default_factory=list)

    def average(self, upto: int | None = None) -> torch.Tensor:
        ps = self.policies[: (upto if upto is not None else len(self.policies))]
        return torch.stack(ps).mean(0)


def _log(pi):
    return torch.log(pi.clamp_min(1e-300))


def step_loss(method: str, world: tabular.World, pi_t: torch.Tensor, hp: dict, t: int):
    """The exact expected loss of iteration t (a function of logits) and the closed-form target (or None)."""
    P, ref = world.P, world.ref
    lp_t = _log(pi_t)
    s = hp["step"]
    if method == "sppo":
        w = tabular.win_rates(P, pi_t)

        def loss(z):  # y ~ π_t, regression of Eq. 4.7 with exact P(y ≻ π_t)
            lp = torch.log_softmax(z, -1)
            return (
                pi_t * sppo_regression(lp.reshape(-1), lp_t.reshape(-1), w.reshape(-1), eta=s).reshape(lp.shape)
            ).sum() / lp.shape[0]

        return loss, tabular.hedge_step(pi_t, P, s)
    if method in ("dpo", "dno_practical"):
        W = tabular.pair_weights(pi_t, P)
        if method == "dno_practical":  # keep large-margin pairs only (|r_t(y1) − r_t(y2)| ≥ margin)
            r = tabular.win_rates(P, pi_t)
            keep = ((r[:, :, None] - r[:, None, :]).abs() >= hp["margin"]).to(W.dtype)
            W = pi_t[:, :, None] * pi_t[:, None, :] * P * keep
            W = W / W.sum((-1, -2), keepdim=True).clamp_min(1e-300)
        c_t, r_t = tabular.pairs(lp_t)
        fn = dno_loss if method == "dno_practical" else (lambda *a, eta: dpo_loss(*a, beta=eta))

        def loss(z):
            c, rj = tabular.pairs(torch.log_softmax(z, -1))
            return tabular.expected(fn(c, rj, c_t, r_t, eta=1.0 / s), W)

        return loss, None
    if method == "inpo":
        eta = hp["eta_schedule"](t)
        tau = hp["tau"]
        W = tabular.pair_weights(pi_t, P)
        c_t, r_t = tabular.pairs(lp_t)
        c_ref, r_ref = tabular.pairs(world.ref_logp)

        def loss(z):
            c, rj = tabular.pairs(torch.log_softmax(z, -1))
            return tabular.expected(inpo_loss(c, rj, c_ref, r_ref, c_t, r_t, eta=eta, tau=tau), W)

        return loss, tabular.omd_step(pi_t, ref, P, eta=eta, tau=tau)
    if method == "dno_regression":
        r = tabular.win_rates(P, pi_t)
        W = pi_t[:, :, None] * pi_t[:, None, :] * (1 - torch.eye(P.shape[-1], dtype=P.dtype))
        W = W / W.sum((-1, -2), keepdim=True)
        c_t, r_t = tabular.pairs(lp_t)
        rc, rr = tabular.pairs(r)

        def loss(z):
            c, rj = tabular.pairs(torch.log_softmax(z, -1))
            return tabular.expected(dno_regression_loss(c, rj, c_t, r_t, rc, rr, eta=1.0 / s), W)

        return loss, tabular.hedge_step(pi_t, P, s)
    raise ValueError(f"unknown method {method!r}")


def run_methods(
    world: tabular.World,
    arms: dict[str, tuple[str, dict]],
    *,
    iterations: int,
    inner_steps: int,
    lr: float,
    tol: float = 0.0,
) -> dict[str, Trajectory]:
    """T iterations of every arm {name: (method, hp)} from π_1 = π_ref.

    Each iteration minimises the arms' exact expected losses *jointly* with Adam (logits stacked in one
    tensor, losses summed): the losses share no parameters and Adam is per-coordinate, so each arm gets
    exactly the update it would get alone, at a fraction of the Python overhead.
    ``method="hedge"`` is the exact multiplicative-weights recursion (no training), the ideal update
    that SPPO and DNO approximate.
    """
    trajs = {name: Trajectory(m, [world.ref]) for name, (m, _) in arms.items()}
    trained = [n for n, (m, _) in arms.items() if m != "hedge"]
    for t in range(iterations):
        for name, (m, hp) in arms.items():
            if m == "hedge":
                trajs[name].policies.append(tabular.hedge_step(trajs[name].policies[-1], world.P, hp["step"]))
        if not trained:
            continue
        steps = [step_loss(arms[n][0], world, trajs[n].policies[-1], arms[n][1], t) for n in trained]
        init = torch.stack([_log(trajs[n].policies[-1]) for n in trained])
        z, n_steps = tabular.fit(
            init,
            lambda z, steps=steps: sum(fn(z[k]) for k, (fn, _) in enumerate(steps)),
            steps=inner_steps,
            lr=lr,
            tol=tol,
        )
        for k, name in enumerate(trained):
            lp = torch.log_softmax(z[k], -1)
            closed = steps[k][1]
            if closed is not None:
                trajs[name].closed_form_err.append(float((lp - _log(closed)).abs().max()))
            trajs[name].steps_taken.append(n_steps)
            trajs[name].policies.append(torch.exp(lp))
    return trajs


def inner_steps(cfg) -> int:
    """Adam steps per iteration: min(scale.tabular.inner_steps, paper.inner_steps_max)."""
    return int(min(cfg.scale.tabular.inner_steps, cfg.paper.get("inner_steps_max", cfg.scale.tabular.inner_steps)))


def tail_mean(xs: list[float]) -> float:
    """Mean over the second half of the iterations (t ≥ ⌈T/2⌉): where a last iterate lives when it does not
    settle — robust to the chaotic sensitivity of non-convergent dynamics, unlike the single final value."""
    return float(sum(xs[len(xs) // 2 :]) / len(xs[len(xs) // 2 :]))


def gaps(world: tabular.World, traj: Trajectory) -> dict[str, list[float]]:
    """Mean (over prompts) duality gap of the last and of the average iterate after each iteration."""
    last = [float(tabular.duality_gap(world.P, p).mean()) for p in traj.policies]
    avg = [float(tabular.duality_gap(world.P, traj.average(k + 1)).mean()) for k in range(len(traj.policies))]
    return {"last": last, "avg": avg}


def likelihood_changes(
    world: tabular.World, traj_pi_t: torch.Tensor, new_pi: torch.Tensor, pairs_idx
) -> tuple[float, float]:
    """Mean change of log π(y_w|x) and log π(y_l|x) over (prompt, chosen, rejected) index triples."""
    m, w, r = pairs_idx
    d = _log(new_pi) - _log(traj_pi_t)
    return float(d[m, w].mean()), float(d[m, r].mean())
