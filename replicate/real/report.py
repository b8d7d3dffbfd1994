"""What a real-model run reports: AlpacaEval's metrics of each method (raw, discrete and LC win rates), the
paper's ``real.claims`` judged on per-instruction paired differences, ``metrics.json`` with provenance, and the
table beside the paper's numbers (``make tables``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..core.config import ConfigError, to_dict
from ..metrics.alpaca_eval import annotation_metrics
from ..metrics.claims import load_reported, write_metrics
from ..metrics.verdicts import comparative_claim, gate_on_control, interval_claim, paired_ci_lc

METRICS = (
    "win_rate",
    "standard_error",
    "discrete_win_rate",
    "lc_win_rate",
    "lc_standard_error",
    "avg_length",
    "n_total",
)


def ae_metrics(instructions, baseline, outputs, prefs) -> dict:
    """AlpacaEval's raw, discrete and LC win rates (``metrics.alpaca_eval.annotation_metrics``: the v1 GLM on the 805)."""
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
        **({"note": m["note"]} if "note" in m else {}),
    }


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
        # one training run per method: the interval is over seeds (docs/statistics.md §2), so with one seed every
        # claim reads inconclusive and says so; scale.n_seeds ≥ 3 is what makes a real-model claim decidable
        rule = f"{c['better']} − {c['than']} on {c['metric']} (points), 95 % t interval over seeds > 0"
        if c["metric"] == "lc_win_rate":
            out.append(interval_claim(c["id"], c["text"], paired_ci_lc([_lc_group(a, b)]), rule=rule, metric="lc"))
        elif c["metric"] == "win_rate":
            d = 100 * (np.asarray(a["preferences"], float) - np.asarray(b["preferences"], float))
            out.append(comparative_claim(c["id"], c["text"], [d[np.isfinite(d)]], rule=rule, metric="wr"))
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
        "judge": judge_name(cfg),
        "rows": {m: {"setting": rep.get("setting"), "row": m} for m in res},
        "table": rep.get("table"),
        "provenance": run_provenance(cfg, cfg.model.name_or_path, batch=_geometry(cfg)),
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


def _geometry(cfg) -> dict:
    from .fit import geometry

    return geometry(cfg)


def bos_check(model) -> dict:
    """How many BOS tokens a prompt carries on our generation paths, counted (not assumed): the chat template's own
    ids (what vLLM receives), its text tokenized without special tokens (batched ``generate``), and its text
    tokenized with the default (the double BOS a tokenizer update caused: SimPO's README). Refuses a double on ours."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(model))
    msgs = [{"role": "user", "content": "Hello"}]
    ids = tok.apply_chat_template(msgs, add_generation_prompt=True, tokenize=True)
    ids = list(ids["input_ids"] if hasattr(ids, "keys") else ids)
    txt = tok.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)
    bos = tok.bos_token_id
    count = lambda xs: sum(int(i == bos) for i in xs) if bos is not None else 0
    out = {
        "bos_token": tok.bos_token,
        "template_ids": count(ids),
        "generate_path": count(tok(txt, add_special_tokens=False)["input_ids"]),
        "default_tokenizer_call": count(tok(txt)["input_ids"]),
    }
    if max(out["template_ids"], out["generate_path"]) > 1:
        raise ConfigError(f"{model}: a prompt would carry {out} BOS tokens on the generation path; expected at most 1")
    return out


def run_provenance(cfg, model, *, batch: dict, sample=None) -> dict:
    """What a reproducer needs beside the numbers: the evaluation stack (alpaca_eval version, annotator and judge
    model), the generation backend and its settings, the tokenizer's BOS handling (checked) and the batch geometry."""
    from ..core.provenance import package_versions
    from .engines import settings

    j = cfg.judge
    return {
        "alpaca_eval": package_versions(("alpaca_eval",))["alpaca_eval"],
        "annotator": j.get("annotator") if j.get("kind") == "alpaca_eval" else None,
        "judge_model": j.get("name_or_path") if j.get("kind") == "reward_model" else j.get("annotator"),
        "stored_annotations": Path(str(j.annotations)).name if j.get("annotations") else None,
        "generation": settings(cfg, sample),
        "bos": bos_check(model),
        "batch": batch,
    }


def judge_name(cfg) -> str:
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


def example(res: dict, i: int = 0, width: int = 300) -> str:
    """One instruction and every method's answer to it, with the judge's P(answer ≻ baseline): what the claims
    compare, for a reader to look at before the numbers (the appendix of every notebook with a ``real:`` block)."""
    first = next(iter(res.values()))
    lines = [f"instruction: {first['instructions'][i][:width]}"]
    for m, r in res.items():
        lines.append(f"--- {m} (P(≻ baseline) = {r['preferences'][i]:.2f}): {r['outputs'][i][:width]}")
    return "\n".join(lines)


def report_markdown(path: str | Path) -> str:
    """A real-model ``metrics.json`` as a reader sees it: every claim with its verdict, then the table beside the
    paper's numbers."""
    from ..core.io import read_json
    from ..metrics.claims import claims_markdown

    doc = read_json(Path(path))
    return claims_markdown(doc["claims"]) + "\n\n" + render_table(doc)
