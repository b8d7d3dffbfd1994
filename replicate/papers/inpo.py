"""INPO (Zhang et al. 2024) in the tabular preference game: the notebook's one call is ``run(cfg)``.

INPO's population loss (Eq. 8: on-policy pairs y, y' ~ π_t, label from P, square loss of h_t against
1/(2η)) is minimised exactly each iteration; Prop. 6 says the minimiser is the OMD update (Eq. 5).
Arms: constant η with τ = η/3 (App. B), the Thm 4 schedule η_t = τ(t+2)/2, τ = 0 (Table 3 ablation),
and iterated Bradley–Terry DPO. The KL-regularised Nash equilibrium π*_τ, to which Thm 4 says the
last iterate converges, is computed independently by a convex program (``tabular.regularized_nash``),
and the unregularised one by linear programming.
"""

from __future__ import annotations

from ..metrics.claims import claim
from ..worlds import tabular
from . import nash_game
from .interface import Paper
from .objectives_report import TabularResult as Result
from .objectives_report import render, tabular_metrics, validate_tabular
from .sppo import game_world, step_size


@tabular.single_threaded
def run(cfg, progress: bool = True) -> Result:
    p, sc = cfg.paper, cfg.scale.tabular
    Tn, s = sc.iterations, step_size(cfg)
    eta = 1.0 / s
    tau = eta * p.tau_over_eta
    world = game_world(cfg)
    ne = tabular.nash_all(world.P)
    rne = tabular.regularized_nash(world.P, world.ref, tau)
    arms = {
        "inpo": ("inpo", {"step": s, "tau": tau, "eta_schedule": lambda t: eta}),
        "inpo_thm4": ("inpo", {"step": s, "tau": tau, "eta_schedule": lambda t: tau * (t + 2) / 2}),
        "inpo_tau0": ("inpo", {"step": s, "tau": 0.0, "eta_schedule": lambda t: eta}),
        "dpo": ("dpo", {"step": s}),
    }
    trajs = nash_game.run_methods(world, arms, iterations=Tn, inner_steps=nash_game.inner_steps(cfg), lr=p.lr)
    gaps = {k: nash_game.gaps(world, v) for k, v in trajs.items()}
    kls = {k: [float(tabular.kl(rne, pi).mean()) for pi in trajs[k].policies] for k in ("inpo", "inpo_thm4")}
    move = {k: float(tabular.tv(v.policies[-1], v.policies[-2]).mean()) for k, v in trajs.items()}
    eta_sweep = []
    for e in p.eta_sweep:
        e = eta if e == "auto" else float(e)
        t_ = e * p.tau_over_eta
        r_ = tabular.regularized_nash(world.P, world.ref, t_)
        pis = {"const": world.ref, "thm4": world.ref}
        for t in range(Tn):
            pis = {
                "const": tabular.omd_step(pis["const"], world.ref, world.P, eta=e, tau=t_),
                "thm4": tabular.omd_step(pis["thm4"], world.ref, world.P, eta=t_ * (t + 2) / 2, tau=t_),
            }
        eta_sweep.append(
            {
                "eta": e,
                "tau": t_,
                "reg_nash_gap": float(tabular.duality_gap(world.P, r_).mean()),
                **{f"{k}.kl_T": float(tabular.kl(r_, v).mean()) for k, v in pis.items()},
                **{f"{k}.gap_last": float(tabular.duality_gap(world.P, v).mean()) for k, v in pis.items()},
            }
        )
    sweep = [tau / 2**i for i in range(p.tau_sweep_halvings + 1)]
    sweep_gap = [
        float(tabular.duality_gap(world.P, tabular.regularized_nash(world.P, world.ref, tt)).mean()) for tt in sweep
    ]

    m = {
        "world.n_prompts": world.M,
        "world.n_candidates": world.N,
        "iterations": Tn,
        "eta": eta,
        "tau": tau,
        "nash.lp_gap": float(tabular.duality_gap(world.P, ne).max()),
        "ref.gap": gaps["inpo"]["last"][0],
        "reg_nash.gap": float(tabular.duality_gap(world.P, rne).mean()),
        "reg_nash.reg_exploitability": float(
            tabular.regularized_exploitability(world.P, world.ref, tau, rne).abs().max()
        ),
        "inpo.max_step_err_vs_omd": max(trajs["inpo"].closed_form_err),
        "inpo_thm4.max_step_err_vs_omd": max(trajs["inpo_thm4"].closed_form_err),
        "inpo.kl_to_reg_nash": kls["inpo"][-1],
        "inpo_thm4.kl_to_reg_nash": kls["inpo_thm4"][-1],
        "inpo.kl_to_reg_nash_t1": kls["inpo"][1],
        "inpo_thm4.kl_to_reg_nash_t1": kls["inpo_thm4"][1],
    }
    for k in arms:
        m[f"{k}.gap_last"] = gaps[k]["last"][-1]
        m[f"{k}.gap_avg"] = gaps[k]["avg"][-1]
        m[f"{k}.gap_last_tail"] = nash_game.tail_mean(gaps[k]["last"])
        m[f"{k}.last_move_tv"] = move[k]
    for i, row in enumerate(eta_sweep):
        for k, v in row.items():
            m[f"eta_sweep.{i}.{k}"] = v
    for i, (tt, gg) in enumerate(zip(sweep, sweep_gap)):
        m[f"tau_sweep.{i}.tau"], m[f"tau_sweep.{i}.reg_nash_gap"] = tt, gg

    series = {"gaps": gaps, "kls": kls, "sweep": list(zip(sweep, sweep_gap)), "eta_sweep": eta_sweep, "iterations": Tn}
    return Result(m, series)


def claims(res: Result, cfg) -> list[dict]:
    """The paper's claims on the exact quantities of ``run``'s result (no compute)."""
    m, c = res.metrics, cfg.paper.claims
    tau, eta_sweep = m["tau"], res.series["eta_sweep"]
    claims = [
        claim(
            "inpo.P6_loss_minimiser_is_omd",
            "Minimising INPO's loss on on-policy pairs gives exactly the OMD update "
            "π ∝ exp(P(y≻π_t)/η) π_ref^{τ/η} π_t^{1−τ/η} (Prop. 6)",
            max(m["inpo.max_step_err_vs_omd"], m["inpo_thm4.max_step_err_vs_omd"]) <= c.closed_form_err,
            f"max_t |log π_trained − log π_OMD| <= {c.closed_form_err} (both schedules)",
            {"constant_eta": m["inpo.max_step_err_vs_omd"], "thm4": m["inpo_thm4.max_step_err_vs_omd"]},
        ),
        claim(
            "inpo.C5_last_iterate_converges",
            "INPO's last iterate converges to the KL-regularised Nash "
            "equilibrium π*_τ (Thm 4), with the paper's constant η and τ = η/3",
            m["inpo.kl_to_reg_nash"] <= c.kl_tol,
            f"KL(π*_τ ‖ π_T+1) <= {c.kl_tol}",
            {"kl_T": m["inpo.kl_to_reg_nash"], "kl_1": m["inpo.kl_to_reg_nash_t1"]},
        ),
        claim(
            "inpo.C5_thm4_schedule",
            "With Thm 4's schedule η_t = τ(t+2)/2 the last iterate also converges to π*_τ",
            m["inpo_thm4.kl_to_reg_nash"] <= c.kl_tol,
            f"KL(π*_τ ‖ π_T+1) <= {c.kl_tol}",
            {"kl_T": m["inpo_thm4.kl_to_reg_nash"], "kl_1": m["inpo_thm4.kl_to_reg_nash_t1"]},
        ),
        claim(
            "inpo.converges_to_lp_nash",
            "INPO's last iterate reaches the (unregularised) LP Nash equilibrium",
            m["inpo.gap_last"] <= c.gap_tol,
            f"inpo.gap_last <= {c.gap_tol}",
            {"inpo.gap_last": m["inpo.gap_last"], "reg_nash.gap": m["reg_nash.gap"], "tau": tau},
        ),
        claim(
            "inpo.C3_kl_term_matters",
            "Without the KL term (τ = 0) the last iterate keeps moving; with it, it settles",
            m["inpo_tau0.last_move_tv"] >= 10 * m["inpo.last_move_tv"],
            "TV(π_T, π_T+1) at τ=0 >= 10 × TV at τ=η/3",
            {"tau0": m["inpo_tau0.last_move_tv"], "tau": m["inpo.last_move_tv"]},
        ),
        claim(
            "inpo.beats_dpo_last_iterate",
            "INPO's last iterate is less exploitable than iterated DPO's last iterate "
            "(DPO's averaged over the second half of the iterations, since it does not settle)",
            m["inpo.gap_last"] < m["dpo.gap_last_tail"],
            "inpo.gap_last < dpo.gap_last_tail",
            {
                "inpo.gap_last": m["inpo.gap_last"],
                "dpo.gap_last_tail": m["dpo.gap_last_tail"],
                "dpo.gap_last": m["dpo.gap_last"],
            },
        ),
    ]
    best = min(eta_sweep, key=lambda r: r["const.gap_last"])
    claims.append(
        claim(
            "inpo.lp_nash_at_any_eta",
            "At τ = η/3, some η in the sweep (incl. the paper's 0.005) brings INPO's last "
            "iterate to the LP Nash equilibrium within T iterations (closed-form OMD, exact by Prop. 6)",
            min(min(r["const.gap_last"], r["thm4.gap_last"]) for r in eta_sweep) <= c.gap_tol,
            f"min over η, schedule of gap_last <= {c.gap_tol}",
            {
                "best_eta": best["eta"],
                "best_gap_last": min(min(r["const.gap_last"], r["thm4.gap_last"]) for r in eta_sweep),
                "paper_eta_const_gap": eta_sweep[-1]["const.gap_last"],
            },
        )
    )
    return claims


LINKS = {
    "inpo.C5_last_iterate_converges": ["INPO (PM)"],
    "inpo.beats_dpo_last_iterate": ["INPO (PM)", "Iterative DPO (PM)"],
    "inpo.C3_kl_term_matters": ["INPO (PM) w/o KL", "INPO (PM)"],
    "inpo.converges_to_lp_nash": ["INPO (PM)", "SPPO (PM)"],
}


def plot(res: Result):
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    g, Tn = res.series["gaps"], res.series["iterations"]
    fig, ax = plt.subplots(1, 3, figsize=(14, 3.6), layout="constrained")
    it = range(1, Tn + 2)
    for k, col in (("inpo", "C0"), ("inpo_thm4", "C2"), ("inpo_tau0", "C1"), ("dpo", "C3")):
        ax[0].plot(it, g[k]["last"], color=col, label=k)
    ax[0].axhline(res.metrics["reg_nash.gap"], color="k", ls=":", label="gap of π*_τ")
    ax[0].set(title="last iterate", xlabel="iteration t", ylabel="duality gap vs LP Nash")
    ax[0].legend(fontsize=8)
    for k, col in (("inpo", "C0"), ("inpo_thm4", "C2")):
        ax[1].semilogy(it, [max(v, 1e-16) for v in res.series["kls"][k]], color=col, label=k)
    ax[1].set(title="KL(π*_τ ‖ π_t)", xlabel="iteration t")
    ax[1].legend(fontsize=8)
    tt, gg = zip(*res.series["sweep"])
    ax[2].loglog(tt, gg, "o-")
    ax[2].set(title="gap of the regularised equilibrium", xlabel="τ", ylabel="duality gap of π*_τ")
    for a in fig.axes:  # iterations and optimiser steps are whole numbers
        if a.get_xlabel().startswith(("iteration", "Adam step")):
            a.xaxis.set_major_locator(MaxNLocator(integer=True))
    return fig


PAPER = Paper(
    name="inpo",
    validate=validate_tabular,
    run=run,
    metrics=tabular_metrics,
    claims=claims,
    render_table=render,  # make tables; also what lists this paper in docs/objectives.md
)
