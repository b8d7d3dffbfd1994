"""SPPO (Wu et al. 2024) in the tabular preference game: the notebook's one call is ``run(cfg)``.

Three experiments, all exact (no sampling except where stated):
1. ``game``: SPPO's population loss (Eq. 4.7 with exact P(y ≻ π_t)) iterated T times on intransitive
   preferences, next to exact Hedge (Eq. 4.1) and iterated Bradley–Terry DPO (reference π_t); duality
   gaps of last and average iterates against the LP Nash equilibrium.
2. ``likelihood``: one SPPO iteration vs one DPO iteration on the same sampled pairs (K samples per
   prompt, y_w = argmax P̂, y_l = argmin P̂, P̂ with self-comparison as in SPPO) with a log-linear
   policy whose parameters are shared across prompts (as an LM's are): change of log π(y_w), log π(y_l).
3. ``dpo_sanity``: under Bradley–Terry preferences the trained DPO policy equals π_ref exp(r/β)/Z.
"""

from __future__ import annotations

import math

import torch

from ..losses import dpo_loss
from ..losses.nash import sppo_loss
from ..metrics.claims import claim
from ..worlds import tabular
from . import nash_game
from .interface import Paper
from .objectives_report import TabularResult as Result
from .objectives_report import render, tabular_metrics, validate_tabular


def step_size(cfg) -> float:
    s = cfg.paper.step
    return nash_game.auto_step(cfg.paper.world.n_candidates, cfg.scale.tabular.iterations) if s == "auto" else float(s)


def game_world(cfg, n_prompts=None) -> tabular.World:
    w = cfg.paper.world
    return tabular.make_game_world(
        n_prompts or w.n_prompts,
        w.n_candidates,
        seed=cfg.seed,
        cycle_size=w.cycle_size,
        cycle_strength=w.cycle_strength,
        bt_scale=w.bt_scale,
        ref_scale=w.ref_scale,
    )


def sample_pairs(world: tabular.World, pi: torch.Tensor, k: int, seed: int):
    """SPPO's data step per prompt: K samples from π, P̂(y_i ≻ π) = (1/K) Σ_k P(y_i ≻ y_k) (self included),
    y_w = argmax P̂, y_l = argmin P̂; prompts whose K samples are all the same response are dropped.
    Returns (prompt idx, y_w, y_l, P̂_w, P̂_l) tensors."""
    g = torch.Generator().manual_seed(seed)
    ms, ws, ls, pw, pl = [], [], [], [], []
    for m in range(world.M):
        ys = torch.multinomial(pi[m], k, replacement=True, generator=g)
        phat = world.P[m][ys][:, ys].mean(1)
        iw, il = int(torch.argmax(phat)), int(torch.argmin(phat))
        if ys[iw] == ys[il]:
            continue
        ms.append(m), ws.append(int(ys[iw])), ls.append(int(ys[il])), pw.append(phat[iw]), pl.append(phat[il])
    return torch.tensor(ms), torch.tensor(ws), torch.tensor(ls), torch.stack(pw), torch.stack(pl)


def likelihood_experiment(cfg, step: float) -> dict:
    lc = cfg.paper.likelihood
    world = game_world(cfg, n_prompts=lc.n_prompts)
    g = torch.Generator().manual_seed(cfg.seed + 1)
    phi = torch.randn(world.M, world.N, lc.n_features, generator=g, dtype=tabular.DTYPE)
    m, yw, yl, pw, pl = sample_pairs(world, world.ref, lc.k_samples, cfg.seed + 2)
    ref_lp = world.ref_logp

    def logp(theta):
        return torch.log_softmax(world.ref_logits + phi @ theta, -1)

    def dpo(theta):
        lp = logp(theta)
        return dpo_loss(lp[m, yw], lp[m, yl], ref_lp[m, yw], ref_lp[m, yl], beta=1.0 / step).mean()

    def sppo(theta):
        lp = logp(theta)
        return sppo_loss(lp[m, yw], lp[m, yl], ref_lp[m, yw], ref_lp[m, yl], pw, pl, eta=step).mean()

    out = {"n_pairs": int(len(m))}
    theta0 = torch.zeros(lc.n_features, dtype=tabular.DTYPE)
    for name, fn in (("dpo", dpo), ("sppo", sppo)):
        theta, _ = tabular.fit(theta0, fn, steps=cfg.scale.tabular.inner_steps, lr=cfg.paper.lr)
        d = logp(theta) - ref_lp
        dw, dl = d[m, yw], d[m, yl]
        out[f"{name}.dlogp_chosen"] = float(dw.mean())
        out[f"{name}.dlogp_rejected"] = float(dl.mean())
        out[f"{name}.frac_both_down"] = float(((dw < 0) & (dl < 0)).double().mean())
        out[f"{name}.frac_chosen_up_rejected_down"] = float(((dw > 0) & (dl < 0)).double().mean())
    return out


def dpo_sanity(cfg) -> dict:
    sc = cfg.paper.dpo_sanity
    world, r = tabular.make_bt_world(sc.n_prompts, cfg.paper.world.n_candidates, seed=cfg.seed + 3)
    W = tabular.pair_weights(world.ref, world.P)
    cr, rr = tabular.pairs(world.ref_logp)

    def loss(z):
        c, rj = tabular.pairs(torch.log_softmax(z, -1))
        return tabular.expected(dpo_loss(c, rj, cr, rr, beta=sc.beta), W)

    z, _ = tabular.fit(world.ref_logits, loss, steps=cfg.scale.tabular.inner_steps, lr=cfg.paper.lr)
    target = tabular.dpo_optimum(world.ref, r, sc.beta)
    return {
        "dpo_sanity.max_abs_logp_err": float((torch.log_softmax(z, -1) - torch.log(target)).abs().max()),
        "dpo_sanity.tv": float(tabular.tv(torch.softmax(z, -1), target).max()),
    }


@tabular.single_threaded
def run(cfg, progress: bool = True) -> Result:
    p, sc = cfg.paper, cfg.scale.tabular
    Tn, s = sc.iterations, step_size(cfg)
    world = game_world(cfg)
    ne = tabular.nash_all(world.P)
    arms = {"hedge": ("hedge", {"step": s}), "sppo": ("sppo", {"step": s}), "dpo": ("dpo", {"step": s})}
    trajs = nash_game.run_methods(world, arms, iterations=Tn, inner_steps=nash_game.inner_steps(cfg), lr=p.lr)
    gaps = {k: nash_game.gaps(world, v) for k, v in trajs.items()}
    bound = math.sqrt(2 * math.log(world.N) / Tn)
    metrics = {
        "world.n_prompts": world.M,
        "world.n_candidates": world.N,
        "iterations": Tn,
        "step": s,
        "nash.lp_gap": float(tabular.duality_gap(world.P, ne).max()),
        "ref.gap": gaps["sppo"]["last"][0],
        "hedge_bound": bound,
        "sppo.max_step_err_vs_hedge": max(trajs["sppo"].closed_form_err),
    }
    for k in arms:
        metrics[f"{k}.gap_last"] = gaps[k]["last"][-1]
        metrics[f"{k}.gap_avg"] = gaps[k]["avg"][-1]
        metrics[f"{k}.gap_last_tail"] = nash_game.tail_mean(gaps[k]["last"])
        metrics[f"{k}.gap_last_min"] = min(gaps[k]["last"])
    metrics.update(likelihood_experiment(cfg, s))
    metrics.update(dpo_sanity(cfg))

    series = {"gaps": gaps, "bound": bound, "iterations": Tn}
    return Result(metrics, series)


def claims(res: Result, cfg) -> list[dict]:
    """The paper's claims on the exact quantities of ``run``'s result (no compute)."""
    metrics, bound, tol = res.metrics, res.series["bound"], cfg.paper.claims

    return [
        claim(
            "sppo.C7_average_converges",
            "SPPO's average iterate approaches the Nash equilibrium: its duality gap "
            "falls below the O(1/√T) Hedge bound √(2 ln N / T) (Thm 4.1)",
            metrics["sppo.gap_avg"] <= bound and metrics["sppo.gap_avg"] < metrics["ref.gap"],
            "sppo.gap_avg <= sqrt(2 ln N / T) and sppo.gap_avg < ref.gap",
            {"sppo.gap_avg": metrics["sppo.gap_avg"], "bound": bound, "ref.gap": metrics["ref.gap"]},
        ),
        claim(
            "sppo.tracks_hedge",
            "Minimising the SPPO square loss reproduces the multiplicative-weights update "
            "(log Z replaced by η/2, App. A) up to a small error",
            metrics["sppo.max_step_err_vs_hedge"] <= tol.hedge_err,
            f"max_t |log π_SPPO − log π_Hedge| <= {tol.hedge_err}",
            {"max_err": metrics["sppo.max_step_err_vs_hedge"]},
        ),
        claim(
            "sppo.beats_dpo_last_iterate",
            "The last SPPO iterate (the released model) is less exploitable than the "
            "last iterated-DPO iterate (gap averaged over the second half of the iterations: neither settles)",
            metrics["sppo.gap_last_tail"] < metrics["dpo.gap_last_tail"],
            "sppo.gap_last_tail < dpo.gap_last_tail",
            {
                "sppo.gap_last_tail": metrics["sppo.gap_last_tail"],
                "dpo.gap_last_tail": metrics["dpo.gap_last_tail"],
                "sppo.gap_last": metrics["sppo.gap_last"],
                "dpo.gap_last": metrics["dpo.gap_last"],
            },
        ),
        claim(
            "sppo.beats_dpo_average",
            "SPPO's average iterate is less exploitable than iterated DPO's average iterate "
            "(iterated Bradley–Terry DPO does not converge to the Nash equilibrium)",
            metrics["sppo.gap_avg"] < metrics["dpo.gap_avg"],
            "sppo.gap_avg < dpo.gap_avg",
            {"sppo.gap_avg": metrics["sppo.gap_avg"], "dpo.gap_avg": metrics["dpo.gap_avg"]},
        ),
        claim(
            "sppo.chosen_up_rejected_down",
            "SPPO raises log π(y_w) and lowers log π(y_l) on its training pairs",
            metrics["sppo.dlogp_chosen"] > 0 and metrics["sppo.dlogp_rejected"] < 0,
            "mean Δlog π(y_w) > 0 and mean Δlog π(y_l) < 0 (SPPO)",
            {k: metrics[f"sppo.{k}"] for k in ("dlogp_chosen", "dlogp_rejected", "frac_chosen_up_rejected_down")},
        ),
        claim(
            "dpo.can_lower_both",
            "DPO can lower the likelihood of both y_w and y_l (SPPO cannot, on the same pairs)",
            metrics["dpo.frac_both_down"] > metrics["sppo.frac_both_down"],
            "frac_both_down(DPO) > frac_both_down(SPPO)",
            {
                k: metrics[k]
                for k in ("dpo.frac_both_down", "sppo.frac_both_down", "dpo.dlogp_chosen", "dpo.dlogp_rejected")
            },
        ),
        claim(
            "dpo.sanity_closed_form",
            "Trained tabular DPO policy equals π_ref·exp(r/β)/Z under Bradley–Terry",
            metrics["dpo_sanity.tv"] <= tol.closed_form_tv,
            f"max over prompts of TV(π_DPO, π_ref e^(r/β)/Z) <= {tol.closed_form_tv}",
            {"tv": metrics["dpo_sanity.tv"], "max_abs_logp_err": metrics["dpo_sanity.max_abs_logp_err"]},
        ),
    ]


LINKS = {
    "sppo.C7_average_converges": ["Mistral-7B-SPPO Iter1", "Mistral-7B-SPPO Iter2", "Mistral-7B-SPPO Iter3"],
    "sppo.beats_dpo_last_iterate": ["Mistral-7B-SPPO Iter3", "Mistral-7B-DPO Iter3"],
    "sppo.beats_dpo_average": ["Mistral-7B-SPPO Iter3", "Mistral-7B-DPO Iter2"],
}


def plot(res: Result):
    """Duality gap to the LP Nash equilibrium per iteration, last and average iterate: if the paper is right, SPPO's
    average iterate falls under the O(1/√T) bound and below iterated DPO's."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    g, Tn = res.series["gaps"], res.series["iterations"]
    fig, ax = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True, layout="constrained")
    it = range(1, Tn + 2)
    for k, c, name in (
        ("hedge", "0.6", "exact Hedge (Eq. 4.1)"),
        ("sppo", "C0", "SPPO"),
        ("dpo", "C3", "iterated DPO"),
    ):
        ax[0].plot(it, g[k]["last"], color=c, label=name)
        ax[1].plot(it, g[k]["avg"], color=c, label=name)
    bound = [math.sqrt(2 * math.log(res.metrics["world.n_candidates"]) / t) for t in it]
    ax[1].plot(it, bound, "k:", label="bound √(2 ln N / T)")
    ax[0].set(title="last iterate", xlabel="iteration t", ylabel="duality gap to the Nash equilibrium")
    ax[1].set(title="average iterate", xlabel="iteration t", ylim=(0, max(g["dpo"]["last"]) * 1.1))
    for a in ax:  # iterations are whole numbers
        a.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax[0].legend(fontsize=8)
    ax[1].legend(fontsize=8)
    return fig


PAPER = Paper(
    name="sppo",
    validate=validate_tabular,
    run=run,
    metrics=tabular_metrics,
    claims=claims,
    render_table=render,  # make tables; also what lists this paper in docs/objectives.md
)
