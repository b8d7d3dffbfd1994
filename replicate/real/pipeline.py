"""``scale=paper`` (SimPO): train (``launch`` under accelerate + DeepSpeed ZeRO-3) → generate on AlpacaEval 2's 805
instructions → AlpacaEval's annotator → LC and raw win rates into ``results/reproduced/<paper>/paper/metrics.json``;
``make tables`` puts them beside the reported Table 4. Each stage is cached and runs alone
(``replicate pipeline simpo scale=paper setup=... stage=generate``)."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.config import ConfigError, to_dict
from ..core.io import atomic_write_json, content_hash, read_json
from ..core.paths import ROOT
from ..metrics.alpaca_eval import lc_bootstrap_se
from ..metrics.claims import load_reported, metrics_path, write_metrics
from ..metrics.verdicts import EMPIRICAL, INCONCLUSIVE, equivalence
from .data import eval_instructions
from .engines import generate
from .judges import judge
from .preflight import require_judge, resolvable
from .report import METRICS, ae_metrics, judge_name, run_provenance

STAGES = ("train", "generate", "judge", "metrics")


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
    cmd = [sys.executable, "-m", "replicate.real.launch", cfg.setup.paper, *overrides, f"+output_dir={out}"]
    if cfg.hardware.get("accelerate_config"):
        cmd = [
            str(Path(sys.executable).with_name("accelerate")),
            "launch",
            "--config_file",
            str(ROOT / cfg.hardware.accelerate_config),
            "-m",
            "replicate.real.launch",
            cfg.setup.paper,
            *overrides,
            f"+output_dir={out}",
        ]
    print("+", shlex.join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT)
    return out


def paper_geometry(cfg, world_size: int | None = None) -> dict:
    """The setup's batch on ``world_size`` processes (default ``hardware.num_devices``): accumulation derived so the
    effective batch is the paper's global batch (``launch`` derives it the same way from ``WORLD_SIZE``)."""
    from ..core.config import derive_grad_accum

    s = cfg.setup
    devices = int(world_size or cfg.hardware.num_devices)
    accum = derive_grad_accum(int(s.global_batch_size), int(s.per_device_batch_size), devices)
    out = {"global_batch_size": int(s.global_batch_size), "per_device": int(s.per_device_batch_size)}
    return out | {"devices": devices, "grad_accum": accum, "effective": int(s.per_device_batch_size) * devices * accum}


def model_for_eval(cfg) -> Path | str:
    """The trained model of this setup, or ``+pipeline_model=ID_OR_DIR`` (e.g. a released checkpoint)."""
    return cfg.get("pipeline_model") or run_dir(cfg) / "model"


def generate_stage(cfg) -> Path:
    rows = eval_instructions(cfg)
    xs = [r["instruction"] for r in rows]
    model = model_for_eval(cfg)
    if not resolvable(str(model)):
        raise ConfigError(f"no model to evaluate at {model}: run stage=train first, or pass +pipeline_model=ID_OR_DIR")
    ys = generate(cfg, model, xs, tag=str(cfg.setup.loss), sample=cfg.setup.eval, progress=True)
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
    base = {r["instruction"]: r["baseline_output"] for r in eval_instructions(cfg)}
    xs, ys = [o["instruction"] for o in outs], [o["output"] for o in outs]
    bs = [base[x] for x in xs]
    p = judge(cfg, xs, ys, bs, tag=outs[0]["generator"] if outs else "")
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
    df = pd.DataFrame({"instruction": [r["instruction"] for r in recs], "output_1": [r["output_1"] for r in recs],
                       "output_2": [r["output_2"] for r in recs], "preference": [r["preference"] for r in recs]})  # fmt: skip
    se = lc_bootstrap_se(df.dropna(subset=["preference"]), seed=int(cfg.seed))
    m["lc_se_bootstrap"] = se
    key = f"{cfg.setup.reported.setting}/{cfg.setup.loss}"
    paper = cfg.setup.paper
    old_path = metrics_path(paper, "paper", cfg.results_dir)
    old = read_json(old_path) if old_path.exists() else {"metrics": {}, "claims": [], "extra": {"rows": {}}}
    metrics = {k: v for k, v in old["metrics"].items() if not k.startswith(key + ".")}
    metrics.update({f"{key}.{k}": float(m[k]) for k in (*METRICS, "lc_se_bootstrap")})
    rows = {
        **old["extra"].get("rows", {}),
        key: {
            "setting": str(cfg.setup.reported.setting),
            "row": str(cfg.setup.loss),
            "lc_glm": m["glm"],  # "official" (alpaca_eval's own, from the Hub) or our offline estimate, with why
            **({"lc_note": m["note"]} if "note" in m else {}),
        },
    }
    claim = _reported_claim(paper, key, rows[key], m, se=se, judge=judge_name(cfg))
    cl = [c for c in old["claims"] if c["id"] != f"R:{key}"] + [claim]
    extra = {
        "real": True,
        "model": str(model_for_eval(cfg)),
        "judge": judge_name(cfg),
        "rows": rows,
        "table": "Table 4",
        "provenance": run_provenance(cfg, model_for_eval(cfg), batch=paper_geometry(cfg), sample=cfg.setup.eval),
    }
    return write_metrics(
        paper, "paper", metrics, cl, to_dict(cfg), seed=int(cfg.seed), root=cfg.results_dir, extra=extra
    )


# Independent re-evaluations of one released SimPO checkpoint differ by about 1 LC point (SimPO issue #21): a faithful
# re-run cannot be asked to agree more closely than that, so agreement within 1.5 points is a reproduction.
EQUIVALENCE_MARGIN = 1.5
PAPER_ANNOTATOR = "weighted_alpaca_eval_gpt4_turbo"  # AlpacaEval 2's judge, the papers' own (LC-AlpacaEval card)


def _reported_claim(paper: str, key: str, row: dict, m: dict, *, se: float, judge: str) -> dict:
    """The paper's AE2 LC win rate reproduces when ours agrees with it within ±``EQUIVALENCE_MARGIN`` points by two
    one-sided tests on a bootstrap-over-instructions SE (``verdicts.equivalence``), and only with the paper's judge."""
    rep = load_reported(paper)
    v = rep[
        (rep.setting == row["setting"])
        & (rep.row == row["row"])
        & (rep.metric == "AE2 LC")
        & (rep.reference.astype(str).str.lower() == "true")
    ].value
    rule = f"|our LC − the paper's| < {EQUIVALENCE_MARGIN} points (two one-sided tests at 5 %, bootstrap SE over instructions), paper's judge only"
    base = {"id": f"R:{key}", "rule": rule, "kind": EMPIRICAL}
    ev = {"lc_win_rate": m["lc_win_rate"], "judge": judge, "se_bootstrap": se}
    if not len(v):
        return {**base, "text": f"{key}: no reported AE2 LC to compare with", "verdict": INCONCLUSIVE, "evidence": ev}
    reported = float(v.iloc[0])
    verdict, eq = equivalence(m["lc_win_rate"], se, reported, margin=EQUIVALENCE_MARGIN)
    ev.update(eq, reported=reported)
    if judge != f"alpaca_eval {PAPER_ANNOTATOR}":
        ev.update(ungated_verdict=verdict, note=f"judged by {judge}, not the paper's {PAPER_ANNOTATOR}")
        verdict = INCONCLUSIVE
    return {**base, "text": f"{key}: AE2 LC win rate {reported} (Table 4)", "verdict": verdict, "evidence": ev}


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
        require_judge(cfg)
        out["judge"] = judge_stage(cfg)
    if "metrics" in stages:
        out["metrics"] = metrics_stage(cfg)
    return out
