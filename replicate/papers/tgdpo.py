"""TGDPO (Zhu et al. 2025) in a tabular token world where only some tokens carry the preference signal.

Each prompt's response is T tokens; position t has V possible tokens and the policy is a table of
per-position softmaxes (log π(y|x) = Σ_t log π_t(y_t|x), exact). The true reward is a sum of per-token
rewards that are non-zero only at a few *key* positions; the other positions are filler. Preference
pairs are sampled from π_ref and labelled by Bradley–Terry on the true reward. We train, full batch with
Adam from π_ref: DPO (whose final model is TGDPO's token-reward model π_θ̂, as the paper's practical recipe),
then TGDPO with α ∈ {0.5, 2} using that π_θ̂ (``losses.token_level.tgdpo_loss``). Everything evaluated is exact:
the policy's expected true reward, its KL to π_ref, and where its probability changes (key vs filler).
"""

from __future__ import annotations

import torch

from ..losses import dpo_loss
from ..losses.token_level import tgdpo_loss, tgdpo_weights
from ..metrics.claims import claim
from ..worlds import tabular
from .interface import Paper
from .objectives_report import TabularResult as Result
from .objectives_report import render, tabular_metrics, validate_tabular


def make_world(cfg):
    w = cfg.paper.world
    g = torch.Generator().manual_seed(cfg.seed)
    M, L, V = w.n_prompts, w.length, w.vocab
    key = torch.zeros(M, L, dtype=torch.bool)
    for m in range(M):
        key[m, torch.randperm(L, generator=g)[: w.n_key]] = True
    r_tok = torch.randn(M, L, V, generator=g, dtype=tabular.DTYPE) * w.key_scale * key[..., None]
    ref_logits = torch.randn(M, L, V, generator=g, dtype=tabular.DTYPE) * w.ref_scale
    # pairs from π_ref, BT labels on the true sequence reward
    ref = torch.softmax(ref_logits, -1)
    K = w.pairs_per_prompt
    y1 = torch.multinomial(ref.reshape(-1, V), K, replacement=True, generator=g).reshape(M, L, K).permute(0, 2, 1)
    y2 = torch.multinomial(ref.reshape(-1, V), K, replacement=True, generator=g).reshape(M, L, K).permute(0, 2, 1)
    R1, R2 = seq_reward(r_tok, y1), seq_reward(r_tok, y2)
    first = torch.rand(M, K, generator=g, dtype=tabular.DTYPE) < torch.sigmoid(R1 - R2)
    yw = torch.where(first[..., None], y1, y2)
    yl = torch.where(first[..., None], y2, y1)
    return {"key": key, "r_tok": r_tok, "ref_logits": ref_logits, "yw": yw, "yl": yl}


def seq_reward(r_tok, y):
    """Σ_t r*(x, t, y_t) for token sequences y of shape (M, K, L)."""
    M, K, L = y.shape
    return r_tok[torch.arange(M)[:, None, None], torch.arange(L)[None, None, :], y].sum(-1)


def token_logps(logits, y):
    """log π(y_t | x) per token, (M·K, L) rows for sequences y of shape (M, K, L)."""
    lp = torch.log_softmax(logits, -1)
    M, K, L = y.shape
    return lp[torch.arange(M)[:, None, None], torch.arange(L)[None, None, :], y].reshape(M * K, L)


def expected_reward(logits, r_tok):
    """E_{y ~ π}[Σ_t r*(t, y_t)] per prompt, averaged (exact: positions are independent)."""
    return float((torch.softmax(logits, -1) * r_tok).sum((-1, -2)).mean())


def kl_to_ref(logits, ref_logits):
    p, lp, lr = torch.softmax(logits, -1), torch.log_softmax(logits, -1), torch.log_softmax(ref_logits, -1)
    return float((p * (lp - lr)).sum((-1, -2)).mean())


def change_on(logits, ref_logits, mask):
    """Mean over prompts/positions in ``mask`` of TV(π_t(·|x), π_ref,t(·|x))."""
    d = 0.5 * (torch.softmax(logits, -1) - torch.softmax(ref_logits, -1)).abs().sum(-1)
    return float(d[mask].mean())


@tabular.single_threaded
def run(cfg, progress: bool = True) -> Result:
    p = cfg.paper
    W = make_world(cfg)
    ref_logits, r_tok, key, yw, yl = W["ref_logits"], W["r_tok"], W["key"], W["yw"], W["yl"]
    steps, every = int(cfg.scale.tabular.inner_steps), max(1, int(cfg.scale.tabular.inner_steps) // p.n_checkpoints)
    rw, rl = token_logps(ref_logits, yw), token_logps(ref_logits, yl)
    ones = torch.ones_like(rw)
    beta = float(p.beta)

    curves = {}

    def tracker(name, k_of):
        curves[name] = [(0, expected_reward(ref_logits, r_tok))]

        def cb(k, z):
            if k % every == 0 or k == steps:
                curves[name].append((k, expected_reward(k_of(z), r_tok)))

        return cb

    def dpo(z):
        return dpo_loss(
            token_logps(z, yw).sum(-1), token_logps(z, yl).sum(-1), rw.sum(-1), rl.sum(-1), beta=beta
        ).mean()

    early_step = max(1, int(round(steps * float(p.early_rm_fraction))))
    snap = {}

    def dpo_cb(k, z):
        track_dpo(k, z)
        if k == early_step:
            snap["early"] = z.clone()

    track_dpo = tracker("dpo", lambda z: z)
    z_dpo, _ = tabular.fit(ref_logits, dpo, steps=steps, lr=p.lr, callback=dpo_cb)
    alphas = [float(a) for a in p.alphas]
    # token-reward models: the final DPO policy (primary) and, post hoc, its early checkpoint
    rms = {"": z_dpo, "early_": snap["early"]}
    arms = [(pre, a) for pre in rms for a in alphas]
    rm_lp = {pre: (token_logps(z, yw), token_logps(z, yl)) for pre, z in rms.items()}

    def tg(z):
        return sum(
            tgdpo_loss(
                token_logps(z[i], yw), token_logps(z[i], yl), rw, rl, *rm_lp[pre], ones, ones, beta=beta, alpha=a
            ).mean()
            for i, (pre, a) in enumerate(arms)
        )

    cbs = [tracker(f"tgdpo_{pre}a{a:g}", lambda z, i=i: z[i]) for i, (pre, a) in enumerate(arms)]
    z_tg, _ = tabular.fit(
        ref_logits[None].expand(len(arms), -1, -1, -1).clone(),
        tg,
        steps=steps,
        lr=p.lr,
        callback=lambda k, z: [cb(k, z) for cb in cbs],
    )
    weights = {pre: tgdpo_weights(*rm_lp[pre], rw, rl, beta=beta, alpha=max(alphas)) for pre in rms}
    R0 = expected_reward(ref_logits, r_tok)
    best = float((r_tok.max(-1).values).sum(-1).mean())
    m = {
        "world.n_prompts": int(key.shape[0]),
        "world.length": int(key.shape[1]),
        "world.n_key": int(p.world.n_key),
        "pairs_per_prompt": int(p.world.pairs_per_prompt),
        "steps": steps,
        "ref.reward": R0,
        "optimal.reward": best,
        "early_rm_step": early_step,
    }
    for pre, (fw, fl) in weights.items():
        m[f"tgdpo_{pre}min_weight"] = float(torch.minimum(fw.min(), fl.min()))
        m[f"tgdpo_{pre}max_weight"] = float(torch.maximum(fw.max(), fl.max()))
    models = {"dpo": z_dpo, **{f"tgdpo_{pre}a{a:g}": z_tg[i] for i, (pre, a) in enumerate(arms)}}
    for name, z in models.items():
        curve = [v for _, v in curves[name]]
        m[f"{name}.reward"] = expected_reward(z, r_tok)
        m[f"{name}.reward_peak"] = max(curve)
        m[f"{name}.drop_from_peak"] = (max(curve) - curve[-1]) / max(max(curve) - R0, 1e-12)
        m[f"{name}.kl"] = kl_to_ref(z, ref_logits)
        m[f"{name}.change_key"] = change_on(z, ref_logits, key)
        m[f"{name}.change_filler"] = change_on(z, ref_logits, ~key)
        m[f"{name}.key_over_filler"] = m[f"{name}.change_key"] / max(m[f"{name}.change_filler"], 1e-12)
    gain = {n: m[f"{n}.reward"] - R0 for n in models}
    return Result(m, {"curves": curves, "ref": R0, "optimal": best, "gain": gain})


def claims(res: Result, cfg) -> list[dict]:
    """The paper's claims on the exact quantities of ``run``'s result (no compute)."""
    p, m, c = cfg.paper, res.metrics, cfg.paper.claims
    alphas = [float(a) for a in p.alphas]
    R0, best, gain = res.series["ref"], res.series["optimal"], res.series["gain"]
    claims = []
    for pre, tag in (
        ("", ""),
        ("early_", f"[post hoc: token-reward model = DPO at {float(p.early_rm_fraction):.0%} of its steps] "),
    ):
        a0, a1 = f"tgdpo_{pre}a{alphas[0]:g}", f"tgdpo_{pre}a{alphas[-1]:g}"
        cid = "tgdpo." + ("early_rm." if pre else "")
        claims += [
            claim(
                cid + "C1_beats_dpo",
                tag + f"TGDPO (α = {alphas[0]:g}) reaches a higher true reward than DPO",
                m[f"{a0}.reward"] > m["dpo.reward"],
                f"E_π[R*] of TGDPO α={alphas[0]:g} > DPO's",
                {"tgdpo": m[f"{a0}.reward"], "dpo": m["dpo.reward"], "ref": R0, "optimal": best},
            ),
            claim(
                cid + "credit_assignment",
                tag + "Token weights concentrate the policy change on the tokens that "
                "carry the preference (key vs filler positions) more than DPO does",
                m[f"{a0}.key_over_filler"] > m["dpo.key_over_filler"],
                "key/filler change ratio: TGDPO > DPO",
                {"tgdpo": m[f"{a0}.key_over_filler"], "dpo": m["dpo.key_over_filler"]},
            ),
            claim(
                cid + "C3_no_degradation",
                tag + f"Trained to convergence TGDPO keeps its reward (drop from peak <= "
                f"{c.drop_tol:.0%} of its gain) while DPO loses more",
                m[f"{a0}.drop_from_peak"] <= c.drop_tol and m["dpo.drop_from_peak"] > m[f"{a0}.drop_from_peak"],
                f"drop(TGDPO) <= {c.drop_tol} and drop(DPO) > drop(TGDPO)",
                {"tgdpo": m[f"{a0}.drop_from_peak"], "dpo": m["dpo.drop_from_peak"]},
            ),
            claim(
                cid + "C4_alpha_robust",
                tag + f"α ∈ {alphas} give similar final reward (|Δgain| <= "
                f"{c.alpha_tol:.0%} of the α = {alphas[0]:g} gain)",
                abs(gain[a1] - gain[a0]) <= c.alpha_tol * abs(gain[a0]),
                f"|gain(α={alphas[-1]:g}) − gain(α={alphas[0]:g})| <= {c.alpha_tol} × gain(α={alphas[0]:g})",
                {"dpo": gain["dpo"], a0: gain[a0], a1: gain[a1]},
            ),
        ]
    return claims


LINKS = {
    "tgdpo.C1_beats_dpo": ["Llama3-8B-Instruct + PairRM DPO", "Llama3-8B-Instruct + PairRM TGDPO"],
    "tgdpo.C3_no_degradation": ["DPO w/ convergence", "TGDPO w/ convergence"],
    "tgdpo.C4_alpha_robust": ["TGDPO alpha=0.5", "TGDPO alpha=1.0", "TGDPO alpha=2.0"],
}


def plot(res: Result):
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(6, 3.8), layout="constrained")
    for i, (name, curve) in enumerate(res.series["curves"].items()):
        k, v = zip(*curve)
        ax.plot(k, v, "o-", ms=3, color=f"C{i}", label=name)
    ax.axhline(res.series["ref"], color="0.5", ls=":", label="π_ref")
    ax.set(title="true reward of the policy during training", xlabel="Adam step", ylabel="E_π[R*]")
    ax.legend(fontsize=8)
    for a in fig.axes:  # iterations and optimiser steps are whole numbers
        if a.get_xlabel().startswith(("iteration", "Adam step")):
            a.xaxis.set_major_locator(MaxNLocator(integer=True))
    return fig


PAPER = Paper(
    name="tgdpo",
    validate=validate_tabular,
    run=run,
    metrics=tabular_metrics,
    claims=claims,
    render_table=render,  # make tables; also what lists this paper in docs/objectives.md
)
