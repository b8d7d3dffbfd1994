"""DNO (Rosset et al. 2024) in the tabular preference game: the notebook's one call is ``run(cfg)``.

Arms, on the world of conf/paper/sppo.yaml:
- ``dno_regression``: the conceptual DNO loss (Alg. 1, Eq. 8): soft-label logistic regression of
  η·(log-ratio difference against π_t) onto r_t(y1) − r_t(y2), r_t = P(y ≻ π_t), pairs y1, y2 ~ π_t.
  Its exact minimiser is soft policy iteration π_{t+1} ∝ π_t exp(r_t/η), checked every iteration.
- ``dno_practical``: DNO-Prct (Alg. 2, Eq. 13): DPO with reference π_t on *large-margin* pairs only
  (|r_t(y1) − r_t(y2)| ≥ margin), labels from the annotator P.
- ``dpo``: iterated Bradley–Terry DPO (reference π_t, all on-policy pairs, labels from P).
- ``hedge``: the exact soft-policy-iteration recursion (no training).
DNO outputs the uniform mixture of its iterates (Alg. 1), so the average iterate is its output.
"""

from __future__ import annotations

import math

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
    world = game_world(cfg)
    ne = tabular.nash_all(world.P)
    arms = {
        "hedge": ("hedge", {"step": s}),
        "dno_regression": ("dno_regression", {"step": s}),
        "dno_practical": ("dno_practical", {"step": s, "margin": p.margin}),
        "dpo": ("dpo", {"step": s}),
    }
    trajs = nash_game.run_methods(world, arms, iterations=Tn, inner_steps=nash_game.inner_steps(cfg), lr=p.lr)
    gaps = {k: nash_game.gaps(world, v) for k, v in trajs.items()}
    improve = {
        k: [float(tabular.preference(world.P, v.policies[t + 1], v.policies[t]).min()) for t in range(Tn)]
        for k, v in trajs.items()
    }
    bound = math.sqrt(2 * math.log(world.N) / Tn)
    m = {
        "world.n_prompts": world.M,
        "world.n_candidates": world.N,
        "iterations": Tn,
        "eta": 1.0 / s,
        "margin": float(p.margin),
        "nash.lp_gap": float(tabular.duality_gap(world.P, ne).max()),
        "ref.gap": gaps["dpo"]["last"][0],
        "hedge_bound": bound,
        "dno_regression.max_step_err_vs_spi": max(trajs["dno_regression"].closed_form_err),
    }
    for k in arms:
        m[f"{k}.gap_last"] = gaps[k]["last"][-1]
        m[f"{k}.gap_avg"] = gaps[k]["avg"][-1]
        m[f"{k}.gap_last_tail"] = nash_game.tail_mean(gaps[k]["last"])
        m[f"{k}.min_pref_next_over_prev"] = min(improve[k])
    return Result(m, {"gaps": gaps, "improve": improve, "bound": bound, "iterations": Tn})


def claims(res: Result, cfg) -> list[dict]:
    """The paper's claims on the exact quantities of ``run``'s result (no compute)."""
    m, bound, c = res.metrics, res.series["bound"], cfg.paper.claims
    claims = [
        claim(
            "dno.regression_is_soft_policy_iteration",
            "Minimising the DNO regression loss gives exactly π_{t+1} ∝ π_t exp(r_t/η) (Alg. 1 / Eq. 8)",
            m["dno_regression.max_step_err_vs_spi"] <= c.closed_form_err,
            f"max_t |log π_trained − log π_SPI| <= {c.closed_form_err}",
            {"max_err": m["dno_regression.max_step_err_vs_spi"]},
        ),
        claim(
            "dno.C7_monotone_improvement",
            "Each DNO iterate is at least as preferred as the previous one: "
            "P(π_{t+1} ≻ π_t) ≥ ½ for every t and prompt (Thm 1 consequence)",
            m["dno_regression.min_pref_next_over_prev"] >= 0.5 - 1e-9,
            "min_t,x P(π_t+1 ≻ π_t) >= 0.5",
            {
                "dno_regression": m["dno_regression.min_pref_next_over_prev"],
                "dno_practical": m["dno_practical.min_pref_next_over_prev"],
                "dpo": m["dpo.min_pref_next_over_prev"],
            },
        ),
        claim(
            "dno.C7_mixture_converges",
            "The uniform mixture of DNO iterates approaches the Nash equilibrium "
            "(duality gap below the O(1/√T) bound √(2 ln N / T))",
            m["dno_regression.gap_avg"] <= bound and m["dno_regression.gap_avg"] < m["ref.gap"],
            "dno_regression.gap_avg <= sqrt(2 ln N / T) and < ref.gap",
            {"gap_avg": m["dno_regression.gap_avg"], "bound": bound, "ref.gap": m["ref.gap"]},
        ),
        claim(
            "dno.practical_mixture_converges",
            "The practical DNO (DPO vs π_t on large-margin pairs) mixture also approaches the Nash equilibrium",
            m["dno_practical.gap_avg"] <= bound,
            "dno_practical.gap_avg <= sqrt(2 ln N / T)",
            {"gap_avg": m["dno_practical.gap_avg"], "bound": bound},
        ),
        claim(
            "dno.practical_monotone",
            "Practical DNO also improves monotonically: P(π_{t+1} ≻ π_t) ≥ ½",
            m["dno_practical.min_pref_next_over_prev"] >= 0.5 - 1e-9,
            "min_t,x P(π_t+1 ≻ π_t) >= 0.5",
            {"dno_practical": m["dno_practical.min_pref_next_over_prev"]},
        ),
        claim(
            "dno.beats_dpo_mixture",
            "DNO's mixture is less exploitable than iterated DPO's mixture",
            m["dno_regression.gap_avg"] < m["dpo.gap_avg"],
            "dno_regression.gap_avg < dpo.gap_avg",
            {"dno_regression.gap_avg": m["dno_regression.gap_avg"], "dpo.gap_avg": m["dpo.gap_avg"]},
        ),
        claim(
            "dno.beats_dpo_last_iterate",
            "DNO's last iterate is less exploitable than iterated DPO's "
            "(averaged over the second half of the iterations)",
            m["dno_regression.gap_last_tail"] < m["dpo.gap_last_tail"],
            "dno_regression.gap_last_tail < dpo.gap_last_tail",
            {"dno_regression": m["dno_regression.gap_last_tail"], "dpo": m["dpo.gap_last_tail"]},
        ),
    ]
    return claims


LINKS = {
    "dno.C7_monotone_improvement": ["DNO Iter 1", "DNO Iter 2", "DNO Iter 3"],
    "dno.beats_dpo_mixture": ["DNO Iter 3", "Offline DPO (ours) Epoch 4"],
    "dno.beats_dpo_last_iterate": ["DNO Iter 3", "Offline DPO (ours) Epoch 4"],
    "dno.practical_mixture_converges": ["DNO Iter 3"],
}


def plot(res: Result):
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    g, Tn = res.series["gaps"], res.series["iterations"]
    fig, ax = plt.subplots(1, 3, figsize=(14, 3.6), layout="constrained")
    it = range(1, Tn + 2)
    for k, col in (("hedge", "0.6"), ("dno_regression", "C0"), ("dno_practical", "C2"), ("dpo", "C3")):
        ax[0].plot(it, g[k]["last"], color=col, label=k)
        ax[1].plot(it, g[k]["avg"], color=col, label=k)
        if k != "hedge":
            ax[2].plot(range(1, Tn + 1), res.series["improve"][k], color=col, label=k)
    ax[1].plot(
        it, [math.sqrt(2 * math.log(res.metrics["world.n_candidates"]) / t) for t in it], "k:", label="√(2 ln N / T)"
    )
    ax[0].set(title="last iterate", xlabel="iteration t", ylabel="duality gap vs LP Nash")
    ax[1].set(title="mixture of iterates (DNO's output)", xlabel="iteration t", ylim=(0, 0.6))
    ax[2].axhline(0.5, color="k", ls=":")
    ax[2].set(title="min over prompts of P(π_t+1 ≻ π_t)", xlabel="iteration t")
    ax[1].legend(fontsize=8)
    for a in fig.axes:  # iterations and optimiser steps are whole numbers
        if a.get_xlabel().startswith(("iteration", "Adam step")):
            a.xaxis.set_major_locator(MaxNLocator(integer=True))
    return fig


PAPER = Paper(
    name="dno",
    validate=validate_tabular,
    run=run,
    metrics=tabular_metrics,
    claims=claims,
    render_table=render,  # make tables; also what lists this paper in docs/objectives.md
)
