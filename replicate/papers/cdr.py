"""CDR / Dr. SoW (Xu et al. 2024) in a tabular world: density-ratio rewards of strong over weak models.

M prompts × N candidate responses with true quality q. The weak base model π_0 knows nothing about q
(random logits). A family of "aligned" models is trained from π_0 by DPO on a noisy judge's pairs
(Bradley–Terry on q), with different amounts of data and seeds, so their alignment differs. For every
ordered pair (strong, weak) of models with strength(strong) > strength(weak), where strength is the
model's expected true quality E_π[q] (the analogue of a benchmark score), the density-ratio reward
r = log π_strong − log π_weak (``density_ratio.density_ratio_reward``) ranks held-out candidate pairs
that differ clearly in quality (RewardBench-style accuracy). Claim C2: accuracy grows with the strength gap.
"""

from __future__ import annotations

import numpy as np
import torch

from ..losses import dpo_loss
from ..metrics.claims import claim
from ..metrics.density_ratio import density_ratio_reward, pairwise_accuracy
from ..worlds import tabular
from .interface import Paper
from .objectives_report import TabularResult as Result
from .objectives_report import render, tabular_metrics, validate_tabular


@tabular.single_threaded
def run(cfg, progress: bool = True) -> Result:
    from scipy.stats import spearmanr

    p, w = cfg.paper, cfg.paper.world
    world, q = tabular.make_bt_world(
        w.n_prompts, w.n_candidates, seed=cfg.seed, bt_scale=w.quality_scale, ref_scale=w.base_scale
    )
    M, N = world.M, world.N
    g = torch.Generator().manual_seed(cfg.seed + 1)
    sizes, seeds = [int(x) for x in p.family.pairs_per_prompt], int(p.family.seeds)
    K = max(sizes)
    specs = [(n, s) for n in sizes for s in range(seeds)]
    # judge data: per seed, K pairs per prompt of distinct candidates, label ~ Bernoulli(σ(q_a − q_b))
    data = []
    for _ in range(seeds):
        a = torch.randint(0, N, (M, K), generator=g)
        b = (a + torch.randint(1, N, (M, K), generator=g)) % N
        mm = torch.arange(M)[:, None].expand(M, K)
        first = torch.rand(M, K, generator=g, dtype=tabular.DTYPE) < torch.sigmoid(
            (q[mm, a] - q[mm, b]) / w.judge_temperature
        )
        data.append((mm, torch.where(first, a, b), torch.where(first, b, a)))
    base_lp = world.ref_logp

    def loss(z):
        total = 0.0
        for k, (n, s) in enumerate(specs):
            mm, cw, cl = (x[:, :n] for x in data[s])
            lp = torch.log_softmax(z[k], -1)
            total = total + dpo_loss(lp[mm, cw], lp[mm, cl], base_lp[mm, cw], base_lp[mm, cl], beta=p.beta).mean()
        return total

    z, _ = tabular.fit(
        world.ref_logits[None].expand(len(specs), -1, -1).clone(),
        loss,
        steps=int(cfg.scale.tabular.inner_steps),
        lr=p.lr,
    )
    models = {"base": base_lp, **{f"n{n}_s{s}": torch.log_softmax(z[k], -1) for k, (n, s) in enumerate(specs)}}
    strength = {k: float((torch.exp(v) * q).sum(-1).mean()) for k, v in models.items()}
    # held-out evaluation pairs: every candidate pair whose quality differs by at least the margin
    ii, jj = torch.triu_indices(N, N, 1)
    dq = q[:, ii] - q[:, jj]
    keep = dq.abs() >= p.eval_margin
    mi = torch.arange(M)[:, None].expand_as(dq)[keep]
    ch = torch.where(dq > 0, ii[None].expand_as(dq), jj[None].expand_as(dq))[keep]
    rj = torch.where(dq > 0, jj[None].expand_as(dq), ii[None].expand_as(dq))[keep]
    rows = []
    names = list(models)
    for a in names:
        for b in names:
            if a == b or strength[a] <= strength[b]:
                continue
            r = density_ratio_reward(models[a], models[b])
            rows.append(
                {
                    "strong": a,
                    "weak": b,
                    "gap": strength[a] - strength[b],
                    "accuracy": pairwise_accuracy(r[mi, ch], r[mi, rj]),
                }
            )
    gaps = np.array([r["gap"] for r in rows])
    accs = np.array([r["accuracy"] for r in rows])
    rho, pval = spearmanr(gaps, accs)
    order = np.argsort(gaps)
    third = max(1, len(rows) // 3)
    low, high = float(accs[order[:third]].mean()), float(accs[order[-third:]].mean())
    strongest = max(strength, key=strength.get)
    r_best = density_ratio_reward(models[strongest], models["base"])
    acc_ratio = pairwise_accuracy(r_best[mi, ch], r_best[mi, rj])
    acc_strong_alone = pairwise_accuracy(models[strongest][mi, ch], models[strongest][mi, rj])
    m = {
        "world.n_prompts": M,
        "world.n_candidates": N,
        "n_models": len(models),
        "n_model_pairs": len(rows),
        "n_eval_pairs": int(keep.sum()),
        "spearman_gap_accuracy": float(rho),
        "spearman_pvalue": float(pval),
        "accuracy.low_gap_third": low,
        "accuracy.high_gap_third": high,
        "accuracy.mean": float(accs.mean()),
        "strongest_over_base.accuracy": acc_ratio,
        "strongest_alone.accuracy": acc_strong_alone,
        "strength.base": strength["base"],
        "strength.strongest": strength[strongest],
    }
    for k, v in strength.items():
        m[f"strength.{k}"] = v
    return Result(m, {"rows": rows})


def claims(res: Result, cfg) -> list[dict]:
    """The paper's claims on the exact quantities of ``run``'s result (no compute)."""
    m, c, rows = res.metrics, cfg.paper.claims, res.series["rows"]
    rho, pval = m["spearman_gap_accuracy"], m["spearman_pvalue"]
    high, low = m["accuracy.high_gap_third"], m["accuracy.low_gap_third"]
    acc_ratio, acc_strong_alone = m["strongest_over_base.accuracy"], m["strongest_alone.accuracy"]
    claims = [
        claim(
            "cdr.C2_accuracy_grows_with_gap",
            "Reward accuracy of log π_strong − log π_weak grows with the strength "
            f"gap across {len(rows)} model pairs (Spearman > 0, p < {c.p_value})",
            rho > 0 and pval < c.p_value,
            f"Spearman(gap, accuracy) > 0 with p < {c.p_value}",
            {"spearman": float(rho), "p": float(pval), "n_pairs": len(rows)},
        ),
        claim(
            "cdr.C2_large_gap_beats_small_gap",
            "Pairs with the largest third of gaps rank better than the smallest third",
            high > low,
            "mean accuracy(top third of gaps) > mean accuracy(bottom third)",
            {"high": high, "low": low},
        ),
        claim(
            "cdr.C1_ratio_beats_likelihood",
            "Dividing by the weak model helps: the density ratio of the strongest "
            "model over the base ranks better than the strongest model's own log-likelihood",
            acc_ratio > acc_strong_alone,
            "acc(log π_s − log π_0) > acc(log π_s)",
            {"ratio": acc_ratio, "strong_alone": acc_strong_alone},
        ),
    ]
    return claims


LINKS = {
    "cdr.C2_accuracy_grows_with_gap": ["LLM pairs studied"],
    "cdr.C1_ratio_beats_likelihood": ["RewardBench overall"],
}


def plot(res: Result):
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    rows = res.series["rows"]
    fig, ax = plt.subplots(figsize=(5.5, 3.8), layout="constrained")
    base = [r for r in rows if r["weak"] == "base"]
    other = [r for r in rows if r["weak"] != "base"]
    ax.scatter(
        [r["gap"] for r in other],
        [r["accuracy"] for r in other],
        s=12,
        alpha=0.6,
        label="strong over a weaker trained model",
    )
    ax.scatter(
        [r["gap"] for r in base], [r["accuracy"] for r in base], s=22, color="C3", label="strong over the base model"
    )
    ax.axhline(0.5, color="k", ls=":")
    ax.set(
        xlabel="strength gap E_πs[q] − E_πw[q]",
        ylabel="pairwise accuracy of log πs − log πw",
        title=f"density-ratio reward vs gap (ρ = {res.metrics['spearman_gap_accuracy']:.2f})",
    )
    ax.legend(fontsize=8)
    for a in fig.axes:  # iterations and optimiser steps are whole numbers
        if a.get_xlabel().startswith(("iteration", "Adam step")):
            a.xaxis.set_major_locator(MaxNLocator(integer=True))
    return fig


PAPER = Paper(
    name="cdr",
    validate=validate_tabular,
    run=run,
    metrics=tabular_metrics,
    claims=claims,
    render_table=render,  # make tables; also what lists this paper in docs/objectives.md
)
