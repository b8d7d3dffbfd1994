"""``replicate winrate ANNOTATIONS [--json]``: AlpacaEval metrics of any annotations file.

The file is AlpacaEval's ``annotations.json``: a list of records with ``instruction``, ``output_1``
(the baseline's output), ``output_2`` (the evaluated model's output) and ``preference`` (1 = baseline
better, 2 = model better, values in between = the judge's probability + 1, 0 or 1.5 = tie, null = no
judgment). Printed: raw (weighted) win rate and its standard error, discrete win rate, the
length-controlled win rate and its standard error, and the model's average output length (chars).

The LC GLM (``--glm``):

* ``v1`` — AlpacaEval's ``length_controlled_v1``: instruction difficulty + regularization toward
  the baseline's verbose/concise variants. Needs the AlpacaEval data bundle (γ̂, weights, lengths; see
  ``replicate.worlds.public_data``) and instructions from the 805-instruction AlpacaEval set.
* ``noreg`` — as v1 without the gamed-baseline rows.
* ``minimal`` — length and model terms only: what alpaca_eval issue #316 advises for other instruction sets.
* ``official`` — alpaca_eval's own ``get_length_controlled_winrate``, with the official instruction difficulty and
  gamed-baseline annotations from the Hugging Face Hub (tatsu-lab/alpaca_eval, df_gamed.csv).
* ``auto`` (default) — ``official`` when the Hub can be reached, else ``v1`` (saying so), else ``minimal`` (the
  reason is printed).

Our v1 uses the bundle's estimated difficulty γ̂ and pseudo-gamed rows, so it approximates the official
LC (mean absolute difference 0.6 points over 46 leaderboard models, up to ~2 points on models it was not fitted
on; notebooks/lc-alpacaeval.ipynb).
"""

from __future__ import annotations

import argparse
import json
import sys

import pandas as pd

from ..metrics.alpaca_eval import AnnotationsError as InputError
from ..metrics.alpaca_eval import annotation_metrics as compute

FIELDS = (
    "win_rate",
    "standard_error",
    "discrete_win_rate",
    "length_controlled_winrate",
    "lc_standard_error",
    "avg_length",
    "n_total",
    "glm",
)


def load_annotations(path: str, model: str | None = None) -> pd.DataFrame:
    try:
        with open(path) as f:
            records = json.load(f)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except json.JSONDecodeError as e:
        raise InputError(f"{path}: not JSON ({e.msg} at line {e.lineno})") from None
    if not isinstance(records, list) or not records or not all(isinstance(r, dict) for r in records):
        raise InputError(f"{path}: expected a non-empty JSON list of records (AlpacaEval annotations.json)")
    df = pd.DataFrame(records)
    missing = [c for c in ("instruction", "output_1", "output_2", "preference") if c not in df.columns]
    if missing:
        raise InputError(
            f"{path}: records lack {missing}; AlpacaEval annotations have instruction, "
            "output_1 (baseline), output_2 (model), preference"
        )
    if model is not None:
        if "generator_2" not in df.columns:
            raise InputError("--model needs a generator_2 field in the records")
        df = df[df["generator_2"] == model]
        if df.empty:
            raise InputError(f"no records with generator_2 == {model!r}")
    elif "generator_2" in df.columns and df["generator_2"].nunique() > 1:
        names = ", ".join(map(str, sorted(df["generator_2"].dropna().unique())[:8]))
        raise InputError(f"{path} mixes several models (generator_2: {names}); choose one with --model NAME")
    df["preference"] = pd.to_numeric(df["preference"], errors="coerce")
    df["output_1"] = df["output_1"].fillna("").astype(str)
    df["output_2"] = df["output_2"].fillna("").astype(str)
    return df.reset_index(drop=True)


def main_winrate(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(
        prog="replicate winrate",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("annotations", help="AlpacaEval annotations.json (list of records)")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    ap.add_argument(
        "--glm",
        choices=("auto", "official", "v1", "noreg", "minimal"),
        default="auto",
        help="which LC GLM (default: official when the Hub is reachable, else v1 when the bundle allows, else minimal)",
    )
    ap.add_argument("--model", help="keep only records with this generator_2 (files with several models)")
    args = ap.parse_args(argv)
    try:
        out = compute(load_annotations(args.annotations, args.model), args.glm)
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(out, sort_keys=True))
        return 0
    print(
        f"annotations: {args.annotations}  ({out['n_total']} judged, {out['n_dropped']} without a preference dropped)"
    )
    print(f"  win rate (weighted)      {out['win_rate']:6.2f}  ± {out['standard_error']:.2f} (SE)")
    print(f"  discrete win rate        {out['discrete_win_rate']:6.2f}")
    print(
        f"  length-controlled (LC)   {out['length_controlled_winrate']:6.2f}  ± {out['lc_standard_error']:.2f} (SE)"
        f"   [GLM {out['glm']}]"
    )
    print(f"  average length (chars)   {out['avg_length']:8.1f}")
    if "note" in out:
        print(f"  note: {out['note']}")
    return 0
