"""LCPO / RE-PO (Cao et al. 2025) in a tabular Bradley–Terry world with injected label noise.

M prompts × N candidates with true scores r; a fixed set of K candidate pairs per prompt labelled by the
true order (the "GPT-4o labels as ground truth" of the controlled-noise study, §5.5), then each label is
flipped with probability ε (the same uniforms for every ε, so noise levels are nested). Tabular softmax
policies are trained from π_ref, full batch with Adam, on DPO, IPO, SimPO and CPO, each plain and wrapped
by LCPO's EM (E-step every step, η EMA with momentum α). Reported: the final reliability η̂ against the
true 1 − ε, the ranking accuracy of each loss's implicit reward on all clean candidate pairs, and how
much it degrades from ε = 0 to the largest ε.
"""

from __future__ import annotations

import torch

from ..losses import cpo_loss, dpo_loss, ipo_loss, simpo_loss
from ..losses.lcpo import LOGITS, e_step, lcpo_from_logit
from ..metrics.claims import claim
from ..worlds import tabular
from .interface import Paper
from .objectives_report import TabularResult as Result
from .objectives_report import render, tabular_metrics, validate_tabular

PAPER = "lcpo"
BASES = ("dpo", "ipo", "simpo", "cpo")


def make_data(cfg, design):
    w = cfg.paper.world
    world, r = tabular.make_bt_world(
        design.n_prompts,
        w.n_candidates,
        seed=cfg.seed,
        bt_scale=w.bt_scale,
        ref_scale=w.ref_scale,
        min_len=w.min_len,
        max_len=w.max_len,
    )
    g = torch.Generator().manual_seed(cfg.seed + 1)
    M, N, K = world.M, world.N, design.pairs_per_prompt
    a = torch.randint(0, N, (M, K), generator=g)
    b = (a + torch.randint(1, N, (M, K), generator=g)) % N  # a different candidate
    m = torch.arange(M)[:, None].expand(M, K)
    win = torch.where(r[m, a] > r[m, b], a, b)
    lose = torch.where(r[m, a] > r[m, b], b, a)
    u = torch.rand(M, K, generator=g, dtype=tabular.DTYPE)
    return world, r, m.reshape(-1), win.reshape(-1), lose.reshape(-1), u.reshape(-1)


def base_loss(name: str, hp, lw, ll, rw, rl, nw, nl):
    if name == "dpo":
        return dpo_loss(lw, ll, rw, rl, beta=hp.beta)
    if name == "ipo":
        return ipo_loss(lw, ll, rw, rl, nw, nl, tau=hp.tau)
    if name == "simpo":
        return simpo_loss(lw, ll, nw, nl, beta=hp.beta, gamma=hp.gamma)
    if name == "cpo":
        return cpo_loss(lw, ll, nw, beta=hp.beta, nll_weight=hp.nll_weight)
    raise ValueError(name)


def gibbs_logit(name: str, hp, lw, ll, rw, rl, nw, nl):
    f = LOGITS[name]
    if name == "dpo":
        return f(lw, ll, rw, rl, beta=hp.beta)
    if name == "ipo":
        return f(lw, ll, rw, rl, nw, nl, tau=hp.tau)
    if name == "simpo":
        return f(lw, ll, nw, nl, beta=hp.beta, gamma=hp.gamma)
    return f(lw, ll, nw, nl, beta=hp.beta, nll_weight=hp.nll_weight)


def implicit_reward(name: str, lp, ref_lp, lengths):
    """The score each loss ranks responses by: DPO log π/π_ref; IPO per-token log-ratio; SimPO average
    log π; CPO log π."""
    return {"dpo": lp - ref_lp, "ipo": (lp - ref_lp) / lengths, "simpo": lp / lengths, "cpo": lp}[name]


def ranking_accuracy(score, r):
    """Fraction of candidate pairs (per prompt, all i < j with r_i ≠ r_j) ordered like the true scores (ties ½)."""
    ds = score[:, :, None] - score[:, None, :]
    dr = r[:, :, None] - r[:, None, :]
    upper = torch.triu(torch.ones_like(dr), 1).bool() & (dr != 0)
    agree = (torch.sign(ds) == torch.sign(dr)).double() + 0.5 * (ds == 0).double()
    return float(agree[upper].mean())


def auroc(scores_pos, scores_neg):
    """P(score of a clean label > score of a flipped one), ties ½."""
    if len(scores_pos) == 0 or len(scores_neg) == 0:
        return float("nan")
    d = scores_pos[:, None] - scores_neg[None, :]
    return float(((d > 0).double() + 0.5 * (d == 0).double()).mean())


def run(cfg, progress: bool = True) -> Result:
    with tabular.single_thread():
        metrics, series = {}, {}
        for design in cfg.paper.designs:
            res = _run(cfg, design)
            metrics.update(res.metrics)
            series[design.name] = res.series
        return Result(metrics, series)


def _run(cfg, design) -> Result:
    p = cfg.paper
    world, r, m, win, lose, u = make_data(cfg, design)
    eps = torch.tensor([float(e) for e in p.noise_rates], dtype=tabular.DTYPE)
    E = len(eps)
    flip = u[None, :] < eps[:, None]  # (E, n) nested flips
    cw = torch.where(flip, lose[None], win[None])  # observed chosen
    cl = torch.where(flip, win[None], lose[None])
    mm = m[None].expand(E, -1)
    ref_lp, lens = world.ref_logp, world.lengths
    rw, rl = ref_lp[mm, cw], ref_lp[mm, cl]
    nw, nl = lens[mm, cw], lens[mm, cl]
    runs = [(b, v) for b in BASES for v in ("plain", "lcpo")]
    hps = {b: p.losses[b] for b in BASES}
    eta = {run: torch.full((E,), float(p.em.eta0), dtype=tabular.DTYPE) for run in runs if run[1] == "lcpo"}
    last_w = {}

    def loss(z):  # z: (len(runs), E, M, N)
        total = 0.0
        for k, (b, v) in enumerate(runs):
            lp = torch.log_softmax(z[k], -1)
            E_idx = torch.arange(E)[:, None].expand_as(cw)
            lw, ll = lp[E_idx, mm, cw], lp[E_idx, mm, cl]
            if v == "plain":
                total = total + base_loss(b, hps[b], lw, ll, rw, rl, nw, nl).mean(-1).sum()
            else:
                zl = gibbs_logit(b, hps[b], lw, ll, rw, rl, nw, nl)  # (E, n)
                et = eta[(b, v)][:, None].expand_as(zl)
                total = total + lcpo_from_logit(zl, et).mean(-1).sum()
                w = e_step(zl, et)  # E-step (no gradient)
                eta[(b, v)] = (1 - p.em.alpha) * eta[(b, v)] + p.em.alpha * w.mean(-1)  # EMA M-step for η
                last_w[(b, v)] = w
        return total

    init = world.ref_logits[None, None].expand(len(runs), E, -1, -1).clone()
    z, _ = tabular.fit(init, loss, steps=int(cfg.scale.tabular.inner_steps), lr=p.lr)
    metrics = {
        "world.n_prompts": world.M,
        "world.n_candidates": world.N,
        "pairs_per_prompt": int(design.pairs_per_prompt),
        "steps": int(cfg.scale.tabular.inner_steps),
    }
    acc = {}
    for k, (b, v) in enumerate(runs):
        lp = torch.log_softmax(z[k], -1)
        for e in range(E):
            a = ranking_accuracy(implicit_reward(b, lp[e], ref_lp, lens), r)
            acc[(b, v, e)] = a
            metrics[f"{b}.{v}.eps_{float(eps[e]):g}.accuracy"] = a
            if v == "lcpo":
                metrics[f"{b}.lcpo.eps_{float(eps[e]):g}.eta_hat"] = float(eta[(b, v)][e])
                metrics[f"{b}.lcpo.eps_{float(eps[e]):g}.eta_err"] = abs(float(eta[(b, v)][e]) - (1 - float(eps[e])))
                fl = flip[e]
                metrics[f"{b}.lcpo.eps_{float(eps[e]):g}.flip_auroc"] = auroc(
                    last_w[(b, v)][e][~fl], last_w[(b, v)][e][fl]
                )
        metrics[f"{b}.{v}.degradation"] = acc[(b, v, 0)] - acc[(b, v, E - 1)]
    for b in BASES:
        metrics[f"{b}.lcpo.max_eta_err"] = max(metrics[f"{b}.lcpo.eps_{float(e):g}.eta_err"] for e in eps)
    tag = design.name
    metrics = {f"{tag}.{k}": v for k, v in metrics.items()}
    series = {
        "eps": [float(e) for e in eps],
        "acc": {f"{b}.{v}": [acc[(b, v, e)] for e in range(E)] for b, v in runs},
        "eta": {b: [float(eta[(b, "lcpo")][e]) for e in range(E)] for b in BASES},
    }
    return Result(metrics, series)


def claims(res: Result, cfg) -> list[dict]:
    """The paper's claims on the exact quantities of ``run``'s result (no compute), per data design."""
    return [cl for design in cfg.paper.designs for cl in _design_claims(res, cfg, design)]


def _design_claims(res: Result, cfg, design) -> list[dict]:
    tag, c, sr = design.name, cfg.paper.claims, res.series[design.name]
    metrics = {k[len(tag) + 1 :]: v for k, v in res.metrics.items() if k.startswith(f"{tag}.")}
    eps, E = sr["eps"], len(sr["eps"])
    acc = {(b, v, e): sr["acc"][f"{b}.{v}"][e] for b in BASES for v in ("plain", "lcpo") for e in range(E)}
    claims = [
        claim(
            "lcpo.C4_noise_rate_recovered",
            "EM recovers the label-noise rate: |η̂ − (1 − ε)| <= "
            f"{c.eta_tol} for every ε in {list(map(float, eps))}, for each of DPO, IPO, SimPO, CPO",
            all(metrics[f"{b}.lcpo.max_eta_err"] <= c.eta_tol for b in BASES),
            f"max over losses and ε of |η̂ − (1 − ε)| <= {c.eta_tol}",
            {
                **{f"{b}.max_err": metrics[f"{b}.lcpo.max_eta_err"] for b in BASES},
                **{f"dpo.eta_hat@{float(e):g}": metrics[f"dpo.lcpo.eps_{float(e):g}.eta_hat"] for e in eps},
            },
        )
    ]
    for b in BASES:
        claims.append(
            claim(
                f"lcpo.{b}.C1_degrades_less",
                f"LCPO-{b.upper()} loses less ranking accuracy than plain "
                f"{b.upper()} from ε = 0 to ε = {float(eps[-1]):g}",
                metrics[f"{b}.lcpo.degradation"] < metrics[f"{b}.plain.degradation"],
                "degradation(LCPO) < degradation(plain), degradation = acc(ε=0) − acc(ε=max)",
                {
                    "lcpo": metrics[f"{b}.lcpo.degradation"],
                    "plain": metrics[f"{b}.plain.degradation"],
                    "lcpo@max": acc[(b, "lcpo", E - 1)],
                    "plain@max": acc[(b, "plain", E - 1)],
                },
            )
        )
    gap0 = max(abs(acc[(b, "lcpo", 0)] - acc[(b, "plain", 0)]) for b in BASES)
    claims.append(
        claim(
            "lcpo.no_harm_when_clean",
            f"On clean labels LCPO matches the plain losses (|Δacc| <= {c.clean_tol})",
            gap0 <= c.clean_tol,
            f"max over losses |acc_LCPO(0) − acc_plain(0)| <= {c.clean_tol}",
            {b: acc[(b, "lcpo", 0)] - acc[(b, "plain", 0)] for b in BASES},
        )
    )
    for cl in claims:
        cl["id"] = cl["id"].replace("lcpo.", f"lcpo.{tag}.", 1)
        cl["text"] = f"[{tag}: {design.pairs_per_prompt} labelled pairs per prompt] " + cl["text"]
    return claims


NAMES = {"dpo": "DPO", "ipo": "IPO", "simpo": "SimPO", "cpo": "CPO"}
LINKS = {
    f"lcpo.{d}.{b}.C1_degrades_less": [f"{NAMES[b]} Standard", f"{NAMES[b]} RE-PO"]
    for b in BASES
    for d in ("sparse", "dense")
}
LINKS.update(
    {
        f"lcpo.{d}.C4_noise_rate_recovered": ["RE-DPO eta0=0.9 (default)", "RE-DPO alpha=0.1 (default)"]
        for d in ("sparse", "dense")
    }
)


def plot(res: Result):
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    designs = list(res.series)
    fig, ax = plt.subplots(len(designs), 2, figsize=(11, 3.6 * len(designs)), squeeze=False, layout="constrained")
    for row, d in enumerate(designs):
        sr = res.series[d]
        eps = sr["eps"]
        for i, b in enumerate(BASES):
            ax[row, 0].plot(eps, sr["acc"][f"{b}.plain"], "--", color=f"C{i}", label=f"{b} plain")
            ax[row, 0].plot(eps, sr["acc"][f"{b}.lcpo"], "-o", color=f"C{i}", label=f"{b} LCPO")
            ax[row, 1].plot(eps, sr["eta"][b], "-o", color=f"C{i}", label=b)
        ax[row, 1].plot(eps, [1 - e for e in eps], "k:", label="1 − ε (truth)")
        ax[row, 0].set(
            title=f"{d}: ranking accuracy of the implicit reward", xlabel="label-flip rate ε", ylabel="accuracy"
        )
        ax[row, 1].set(title=f"{d}: EM reliability η̂", xlabel="label-flip rate ε", ylim=(0.5, 1.02))
        ax[row, 0].legend(fontsize=7, ncol=2)
        ax[row, 1].legend(fontsize=8)
    for a in fig.axes:  # iterations and optimiser steps are whole numbers
        if a.get_xlabel().startswith(("iteration", "Adam step")):
            a.xaxis.set_major_locator(MaxNLocator(integer=True))
    return fig


PAPER = Paper(
    name="lcpo",
    validate=validate_tabular,
    run=run,
    metrics=tabular_metrics,
    claims=claims,
    render_table=render,  # make tables; also what lists this paper in docs/objectives.md
)
