"""``scale=small`` for a notebook: every method of a paper's ``real:`` block trained (cached), generated on
AlpacaEval 2's instructions and judged, ready for ``report``. A paper opts in with a ``real:`` block in
``conf/paper/<paper>.yaml``::

    real:
      methods:            # each trained from model.name_or_path (fit.train), then generated and judged
        start: {kind: start}
        dpo: {kind: preference, loss: dpo, beta: 0.01, lr: 5.0e-7, data: HuggingFaceH4/ultrafeedback_binarized, split: train_prefs}
      claims:             # judged on per-instruction paired differences (metrics.verdicts), gated on PC
        - {id: PC, text: ..., better: dpo, than: start, metric: win_rate}
      reported: {table: Table 4, setting: Llama-3-Base 8B}   # the rows of results/reported/<paper>.csv shown beside ours

and the notebook cells tagged ``real-model`` (``cli.run`` keeps those cells at a real scale and the ``toy-world``
ones otherwise).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from .data import eval_instructions
from .engines import generate
from .fit import train
from .iterative import refine_chain
from .judges import judge
from .methods import is_real, methods, with_eval_sample
from .preflight import require
from .report import ae_metrics


def applies(cfg) -> bool:
    """Whether the notebook runs its ``real-model`` cells (this scale uses a real model)."""
    return is_real(cfg)


def trained(cfg, name: str) -> Path:
    """The model directory of the ``paper.real`` method ``name`` (cached: after :func:`run` this only reads)."""
    return train(cfg, name, methods(cfg)[name])


def run(cfg, progress: bool = True) -> dict:
    """Every ``paper.real`` method: train (cached) → generate on AlpacaEval's instructions → judge → metrics."""
    require(cfg)  # every missing model, dataset, judge or package named before any compute
    cfg = with_eval_sample(cfg)
    rows = eval_instructions(cfg)
    xs, base = [r["instruction"] for r in rows], [r["baseline_output"] for r in rows]
    out = {}
    result = lambda ys, p: {
        "outputs": ys,
        "preferences": p,
        "baseline": base,
        "instructions": xs,
        "metrics": ae_metrics(xs, base, ys, p),
    }
    for name, m in tqdm(methods(cfg).items(), desc="train → generate → judge", disable=not progress):
        model_dir = train(cfg, name, m, progress=progress)
        if m["kind"] == "best_of_n":
            ys, p = best_of_n(cfg, model_dir, xs, base, int(m["n"]), tag=name, progress=progress)
        else:
            ys = [o[0] for o in generate(cfg, model_dir, xs, tag=name, progress=progress)]
            p = judge(cfg, xs, ys, base, tag=name)
        out[name] = result(ys, p)
        if m.get("eval_refine"):  # self-refinement at inference (EVOLVE): the chain's last answer, as `<name>_refined`
            ys = refine_chain(cfg, model_dir, xs, ys, m, tag=name, progress=progress)
            out[f"{name}_refined"] = result(ys, judge(cfg, xs, ys, base, tag=f"{name}_refined"))
    return out


def best_of_n(cfg, model_dir, xs, base, n: int, *, tag: str, progress: bool = False):
    """``n`` samples per instruction, the one the judge prefers most kept: selection by the judge itself, the
    upper bound a learned selector (a self-evaluation, a reward model) can approach (the toy world's best-of-n by oracle)."""
    outs = generate(cfg, model_dir, xs, n=n, tag=tag, progress=progress)
    ps = np.array(
        [judge(cfg, xs, [o[k] for o in outs], base, tag=f"{tag}#{k}") for k in range(n)]
    )  # (n, instructions)
    best = np.nanargmax(np.where(np.isfinite(ps), ps, -np.inf), axis=0)
    return [outs[i][k] for i, k in enumerate(best)], [float(ps[k, i]) for i, k in enumerate(best)]
