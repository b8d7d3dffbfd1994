"""Any LM-world paper on a real model: ``scale=small`` in its notebook, and SimPO's paper-scale pipeline.

**scale=small.** A paper opts in with a ``real:`` block in ``conf/paper/<paper>.yaml``::

    real:
      methods:            # each trained from model.name_or_path (training.real_stages.train), then generated and judged
        start: {kind: start}
        dpo: {kind: preference, loss: dpo, beta: 0.01, lr: 5.0e-7, data: HuggingFaceH4/ultrafeedback_binarized, split: train_prefs}
      claims:             # judged on per-instruction paired differences (metrics.verdicts), gated on PC
        - {id: PC, text: ..., better: dpo, than: start, metric: win_rate}
      reported: {table: Table 4, setting: Llama-3-Base 8B}   # the rows of results/reported/<paper>.csv shown beside ours

and the notebook cells tagged ``real-model`` (they call :func:`run`, :func:`summary`, :func:`claims`,
:func:`flat_metrics`; ``cli.run`` keeps those cells at a real scale and the ``toy-world`` ones otherwise).

**scale=paper (SimPO).** :func:`pipeline`: train (``training.launch`` under accelerate + DeepSpeed ZeRO-3) →
generate on AlpacaEval 2's 805 instructions → AlpacaEval's annotator → LC and raw win rates into
``results/reproduced/<paper>/paper/metrics.json``; ``make tables`` puts them beside the reported Table 4.
Each stage is cached and runs alone (``replicate pipeline simpo scale=paper setup=... stage=generate``).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ..core.config import ConfigError, to_dict
from ..core.io import atomic_write_json, content_hash, read_json
from ..core.paths import ROOT
from ..metrics.claims import load_reported, metrics_path, write_metrics
from ..metrics.verdicts import comparative_claim, gate_on_control, interval_claim, paired_bootstrap_lc
from ..training import real_stages
from ..training.real_iterative import refine_chain
from .lc_alpacaeval import annotation_metrics

METRICS = (
    "win_rate",
    "standard_error",
    "discrete_win_rate",
    "lc_win_rate",
    "lc_standard_error",
    "avg_length",
    "n_total",
)
STAGES = ("train", "generate", "judge", "metrics")


def applies(cfg) -> bool:
    """Whether the notebook runs its ``real-model`` cells (this scale uses a real model)."""
    return real_stages.is_real(cfg)


def ae_metrics(instructions, baseline, outputs, prefs) -> dict:
    """AlpacaEval's raw, discrete and LC win rates (``lc_alpacaeval.annotation_metrics``: the v1 GLM on the 805)."""
    df = pd.DataFrame(
        {
            "instruction": list(instructions),
            "output_1": list(baseline),
            "output_2": list(outputs),
            "preference": 1.0 + np.asarray(prefs, dtype=float),
        }
    )
    m = annotation_metrics(df, glm="auto")
    return {
        "win_rate": m["win_rate"],
        "standard_error": m["standard_error"],
        "discrete_win_rate": m["discrete_win_rate"],
        "lc_win_rate": m["length_controlled_winrate"],
        "lc_standard_error": m["lc_standard_error"],
        "avg_length": m["avg_length"],
        "n_total": m["n_total"],
        "glm": m["glm"],
    }


# ----------------------------------------------------------------------------- scale=small
def run(cfg, progress: bool = True) -> dict:
    """Every ``paper.real`` method: train (cached) → generate on AlpacaEval's instructions → judge → metrics."""
    real_stages.require(cfg)  # every missing model, dataset, judge or package named before any compute
    rows = real_stages.eval_instructions(cfg)
    xs, base = [r["instruction"] for r in rows], [r["baseline_output"] for r in rows]
    out = {}
    result = lambda ys, p: {
        "outputs": ys,
        "preferences": p,
        "baseline": base,
        "instructions": xs,
        "metrics": ae_metrics(xs, base, ys, p),
    }
    for name, m in tqdm(real_stages.methods(cfg).items(), desc="train → generate → judge", disable=not progress):
        model_dir = real_stages.train(cfg, name, m, progress=progress)
        if m["kind"] == "best_of_n":
            ys, p = best_of_n(cfg, model_dir, xs, base, int(m["n"]), tag=name, progress=progress)
        else:
            ys = [o[0] for o in real_stages.generate(cfg, model_dir, xs, tag=name, progress=progress)]
            p = real_stages.judge(cfg, xs, ys, base, tag=name)
        out[name] = result(ys, p)
        if m.get("eval_refine"):  # self-refinement at inference (EVOLVE): the chain's last answer, as `<name>_refined`
            ys = refine_chain(cfg, model_dir, xs, ys, m, tag=name, progress=progress)
            out[f"{name}_refined"] = result(ys, real_stages.judge(cfg, xs, ys, base, tag=f"{name}_refined"))
    return out


def best_of_n(cfg, model_dir, xs, base, n: int, *, tag: str, progress: bool = False):
    """``n`` samples per instruction, the one the judge prefers most kept: selection by the judge itself, the
    upper bound a learned selector (a self-evaluation, a reward model) can approach (the toy world's best-of-n by oracle)."""
    outs = real_stages.generate(cfg, model_dir, xs, n=n, tag=tag, progress=progress)
    ps = np.array(
        [real_stages.judge(cfg, xs, [o[k] for o in outs], base, tag=f"{tag}#{k}") for k in range(n)]
    )  # (n, instructions)
    best = np.nanargmax(np.where(np.isfinite(ps), ps, -np.inf), axis=0)
    return [outs[i][k] for i, k in enumerate(best)], [float(ps[k, i]) for i, k in enumerate(best)]


def summary(res: dict) -> pd.DataFrame:
    return pd.DataFrame({m: {k: r["metrics"][k] for k in METRICS} for m, r in res.items()}).T


def flat_metrics(res: dict) -> dict:
    return {f"{m}.{k}": float(r["metrics"][k]) for m, r in res.items() for k in METRICS}


def _lc_group(a: dict, b: dict) -> dict:
    return {
        "pref_a": a["preferences"],
        "len_a": [len(y) for y in a["outputs"]],
        "pref_b": b["preferences"],
        "len_b": [len(y) for y in b["outputs"]],
        "len_ref": [len(y) for y in a["baseline"]],
    }


def claims(res: dict, cfg) -> list[dict]:
    """``paper.real.claims``: "``better`` beats ``than`` on ``metric``" on paired per-instruction differences, gated on PC."""
    out = []
    for c in to_dict(cfg.paper.real.claims):
        a, b = res.get(c["better"]), res.get(c["than"])
        if a is None or b is None:
            raise ConfigError(
                f"paper.real.claims {c['id']}: {c['better']!r} or {c['than']!r} is not a paper.real method"
            )
        rule = f"{c['better']} − {c['than']} on {c['metric']} (points), 95 % bootstrap interval over instructions > 0"
        if c["metric"] == "lc_win_rate":
            out.append(
                interval_claim(
                    c["id"], c["text"], paired_bootstrap_lc([_lc_group(a, b)], seed=int(cfg.seed)), rule=rule
                )
            )
        elif c["metric"] == "win_rate":
            d = 100 * (np.asarray(a["preferences"], float) - np.asarray(b["preferences"], float))
            out.append(comparative_claim(c["id"], c["text"], d[np.isfinite(d)], rule=rule, seed=int(cfg.seed)))
        else:
            raise ConfigError(
                f"paper.real.claims {c['id']}: metric must be win_rate or lc_win_rate, got {c['metric']!r}"
            )
    return gate_on_control(out)


def save(res: dict, cfg, paper: str) -> Path:
    """metrics.json at this scale, marked as a real-model run so ``make tables`` renders it with :func:`render_table`."""
    rep = to_dict(cfg.paper.real.get("reported") or {})
    extra = {
        "real": True,
        "model": str(cfg.model.name_or_path),
        "judge": _judge_name(cfg),
        "rows": {m: {"setting": rep.get("setting"), "row": m} for m in res},
        "table": rep.get("table"),
    }
    return write_metrics(
        paper,
        cfg.scale.name,
        flat_metrics(res),
        claims(res, cfg),
        to_dict(cfg),
        seed=int(cfg.seed),
        root=cfg.results_dir,
        extra=extra,
    )


def _judge_name(cfg) -> str:
    j = cfg.judge
    if j.kind == "reward_model":
        return f"reward model {j.name_or_path}"
    return f"stored annotations {Path(j.annotations).name}" if j.get("annotations") else f"alpaca_eval {j.annotator}"


def render_table(doc: dict) -> str:
    """Our AlpacaEval numbers per method beside the paper's (``results/reported/<paper>.csv``): same benchmark,
    different model and judge at scale=small, the paper's own at scale=paper."""
    ex, m = doc["extra"], doc["metrics"]
    try:
        rep = load_reported(doc["paper"])
        rep = rep[rep.reference.astype(str).str.lower() == "true"]
    except FileNotFoundError:
        rep = None
    lines = [
        f"Model `{ex.get('model')}`, judge: {ex.get('judge')}; AlpacaEval 2 instructions vs gpt4_1106_preview.\n",
        "| method | setting | LC win rate | ± SE | win rate | ± SE | avg length | paper LC | paper WR |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for key, r in ex["rows"].items():

        def paper(metric, r=r):
            if rep is None or r.get("setting") is None:
                return "–"
            v = rep[
                (rep.setting == r["setting"])
                & (rep.row == r["row"])
                & (rep.metric == metric)
                & (rep.table == (ex.get("table") or "Table 4"))
            ].value
            return f"{float(v.iloc[0]):.1f}" if len(v) else "–"

        g = lambda k, key=key: m.get(f"{key}.{k}", float("nan"))
        lines.append(
            f"| {key} | {r.get('setting') or '–'} | {g('lc_win_rate'):.1f} | {g('lc_standard_error'):.1f} | "
            f"{g('win_rate'):.1f} | {g('standard_error'):.1f} | {g('avg_length'):.0f} | {paper('AE2 LC')} | {paper('AE2 WR')} |"
        )
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- scale=paper (SimPO)
def run_dir(cfg) -> Path:
    """Where a paper-scale setup's model, outputs and annotations live: one folder per setup config."""
    s = to_dict(cfg.setup)
    return (
        Path(os.environ.get("REPLICATE_BUILD_DIR", ROOT / "build"))
        / "paper"
        / f"{s['paper']}-{Path(str(s['model'])).name}-{s['loss']}-{content_hash(s, 8)}"
    )


def _pipeline_cfg(cfg) -> None:
    if cfg.scale.name != "paper" or not cfg.get("setup"):
        raise ConfigError(
            "the paper pipeline runs at scale=paper with a setup, e.g. scale=paper setup=simpo_llama3_instruct"
        )
    if cfg.judge.get("kind") != "alpaca_eval":
        raise ConfigError("the paper pipeline judges with AlpacaEval's annotator: judge=alpaca_eval")


def train_stage(cfg, overrides: list[str]) -> Path:
    """accelerate + DeepSpeed ZeRO-3 (``hardware.accelerate_config``) or one process; skipped when already trained."""
    out = run_dir(cfg) / "model"
    if (out / "config.json").exists():
        return out
    cmd = [sys.executable, "-m", "replicate.training.launch", cfg.setup.paper, *overrides, f"+output_dir={out}"]
    if cfg.hardware.get("accelerate_config"):
        cmd = [
            str(Path(sys.executable).with_name("accelerate")),
            "launch",
            "--config_file",
            str(ROOT / cfg.hardware.accelerate_config),
            "-m",
            "replicate.training.launch",
            cfg.setup.paper,
            *overrides,
            f"+output_dir={out}",
        ]
    print("+", shlex.join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT)
    return out


def model_for_eval(cfg) -> Path | str:
    """The trained model of this setup, or ``+pipeline_model=ID_OR_DIR`` (e.g. a released checkpoint)."""
    return cfg.get("pipeline_model") or run_dir(cfg) / "model"


def generate_stage(cfg) -> Path:
    rows = real_stages.eval_instructions(cfg)
    xs = [r["instruction"] for r in rows]
    model = model_for_eval(cfg)
    if not real_stages.resolvable(str(model)):
        raise ConfigError(f"no model to evaluate at {model}: run stage=train first, or pass +pipeline_model=ID_OR_DIR")
    ys = real_stages.generate(cfg, model, xs, tag=str(cfg.setup.loss), sample=cfg.setup.eval, progress=True)
    path = run_dir(cfg) / "model_outputs.json"
    atomic_write_json(
        path,
        [
            {
                "instruction": x,
                "output": y[0],
                "generator": f"{cfg.setup.paper}-{cfg.setup.loss}",
                "dataset": r["dataset"],
            }
            for x, y, r in zip(xs, ys, rows)
        ],
    )
    return path


def judge_stage(cfg) -> Path:
    path = run_dir(cfg) / "model_outputs.json"
    if not path.exists():
        raise ConfigError(f"no generations at {path}: run stage=generate first")
    outs = read_json(path)
    base = {r["instruction"]: r["baseline_output"] for r in real_stages.eval_instructions(cfg)}
    xs, ys = [o["instruction"] for o in outs], [o["output"] for o in outs]
    bs = [base[x] for x in xs]
    p = real_stages.judge(cfg, xs, ys, bs, tag=outs[0]["generator"] if outs else "")
    ann = run_dir(cfg) / "annotations.json"  # AlpacaEval's format: `replicate winrate` reads it too
    atomic_write_json(
        ann,
        [
            {
                "instruction": x,
                "output_1": b,
                "generator_1": "gpt4_1106_preview",
                "output_2": y,
                "generator_2": o["generator"],
                "preference": None if q != q else 1.0 + q,
            }
            for x, b, y, o, q in zip(xs, bs, ys, outs, p)
        ],
    )
    return ann


def metrics_stage(cfg) -> Path:
    """LC and raw win rates of this setup merged into ``<paper>/paper/metrics.json`` (one row per setup and loss)."""
    ann = run_dir(cfg) / "annotations.json"
    if not ann.exists():
        raise ConfigError(f"no annotations at {ann}: run stage=judge first")
    recs = read_json(ann)
    p = [np.nan if r["preference"] is None else r["preference"] - 1.0 for r in recs]
    m = ae_metrics([r["instruction"] for r in recs], [r["output_1"] for r in recs], [r["output_2"] for r in recs], p)
    key = f"{cfg.setup.reported.setting}/{cfg.setup.loss}"
    paper = cfg.setup.paper
    old_path = metrics_path(paper, "paper", cfg.results_dir)
    old = read_json(old_path) if old_path.exists() else {"metrics": {}, "claims": [], "extra": {"rows": {}}}
    metrics = {k: v for k, v in old["metrics"].items() if not k.startswith(key + ".")}
    metrics.update({f"{key}.{k}": float(m[k]) for k in METRICS})
    rows = {
        **old["extra"].get("rows", {}),
        key: {"setting": str(cfg.setup.reported.setting), "row": str(cfg.setup.loss)},
    }
    cl = [c for c in old["claims"] if c["id"] != f"R:{key}"] + [_reported_claim(paper, key, rows[key], m)]
    extra = {
        "real": True,
        "model": str(model_for_eval(cfg)),
        "judge": _judge_name(cfg),
        "rows": rows,
        "table": "Table 4",
    }
    return write_metrics(
        paper, "paper", metrics, cl, to_dict(cfg), seed=int(cfg.seed), root=cfg.results_dir, extra=extra
    )


def _reported_claim(paper: str, key: str, row: dict, m: dict) -> dict:
    """The paper's number reproduces when it lies inside our LC win rate's 95 % interval (± 1.96 SE)."""
    rep = load_reported(paper)
    v = rep[
        (rep.setting == row["setting"])
        & (rep.row == row["row"])
        & (rep.metric == "AE2 LC")
        & (rep.reference.astype(str).str.lower() == "true")
    ].value
    lo, hi = m["lc_win_rate"] - 1.96 * m["lc_standard_error"], m["lc_win_rate"] + 1.96 * m["lc_standard_error"]
    ev = {"lc_win_rate": m["lc_win_rate"], "ci_lo": lo, "ci_hi": hi, "se": m["lc_standard_error"]}
    if not len(v):
        return {
            "id": f"R:{key}",
            "text": f"{key}: no reported AE2 LC to compare with",
            "rule": "reported value in our 95 % interval",
            "verdict": "inconclusive",
            "evidence": ev,
        }
    reported = float(v.iloc[0])
    verdict = "reproduced" if lo <= reported <= hi else "not reproduced"
    return {
        "id": f"R:{key}",
        "text": f"{key}: AE2 LC win rate {reported} (Table 4)",
        "rule": "reported value in our 95 % interval (LC ± 1.96 SE)",
        "verdict": verdict,
        "evidence": {**ev, "reported": reported},
    }


def pipeline(paper: str, overrides: list[str], stages=STAGES) -> dict:
    """Run the paper-scale stages in order (each cached or skipped when its output exists)."""
    from ..core.config import compose

    cfg = compose(paper, overrides)
    _pipeline_cfg(cfg)
    bad = [s for s in stages if s not in STAGES]
    if bad:
        raise ConfigError(f"unknown stage {bad[0]!r}; stages: {', '.join(STAGES)}")
    out = {}
    if "train" in stages and not cfg.get("pipeline_model"):
        out["train"] = train_stage(cfg, overrides)
    if "generate" in stages:
        out["generate"] = generate_stage(cfg)
    if "judge" in stages:
        real_stages.require_judge(cfg)
        out["judge"] = judge_stage(cfg)
    if "metrics" in stages:
        out["metrics"] = metrics_stage(cfg)
    return out
