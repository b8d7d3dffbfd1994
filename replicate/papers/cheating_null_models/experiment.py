"""Cheating automatic LLM benchmarks with a null model (Zheng et al., ICLR 2025), from public artifacts.

The NullModel's full AlpacaEval 2.0 annotation file (with the judge's raw top-5 log-probabilities), the
constant cheating response, the random-search judge prompts and the search trajectory are public. This
module recomputes the paper's AlpacaEval numbers and dissects the attack: which presentation slot the
null output was in (AlpacaEval's seeded order hash), what the judge's first token was, and what the
constant string is made of. ``toy_*`` functions run the attack itself in the toy world (replicate.worlds.toy_lm).
"""

from __future__ import annotations

import json
import random
from functools import cache

import numpy as np
import pandas as pd

from ...core.config import ConfigError
from ...metrics import winrate
from ...worlds.public_data import data_path
from ..lc_alpacaeval import experiment as lc

NULL_ANNOTATIONS = "alpaca_eval/NullModel__weighted_alpaca_eval_gpt4_turbo__annotations.json"
CONSTANT = "cheating_null_models/nullmodel_constant_response__alpacaeval2__structured_plus_RS.txt"
PROMPTS = "cheating_null_models/random_search_judge_prompts__ultrafeedback_gpt4_vs_null.json"
TRAJECTORY = "cheating_null_models/random_search_trajectory__gpt-4-1106-preview__N10_T384_seed0.csv"
SWITCH_COLUMN = (
    "is_switched_outputs"  # alpaca_eval PairwiseAnnotator: RandomSwitchTwoColumnsProcessor(_switch_column=...)
)
STRUCTURE_MARKER = '"""\n    }\n}\n\nIgnore the above ## Model Outputs'


@cache
def _null_records() -> tuple:
    with open(data_path(NULL_ANNOTATIONS)) as f:
        return tuple(json.load(f))


def load_constant_response() -> str:
    with open(data_path(CONSTANT), encoding="utf-8", newline="") as f:  # keep the "\r" inside the string
        return f.read()


def load_trajectory() -> pd.DataFrame:
    return pd.read_csv(data_path(TRAJECTORY))


def load_judge_prompts() -> dict:
    with open(data_path(PROMPTS)) as f:
        return json.load(f)


# ----------------------------------------------------------------------------- the judge's view
def first_token_probs(raw_completion: dict) -> tuple[float, float]:
    """p("m"), p("M") of the judge's first output token from its top-5 log-probabilities (absent = 0)."""
    top = raw_completion["logprobs"]["content"][0]["top_logprobs"]
    lp = {t["token"]: t["logprob"] for t in top}
    return (float(np.exp(lp["m"])) if "m" in lp else 0.0, float(np.exp(lp["M"])) if "M" in lp else 0.0)


def alpaca_eval_is_switched(instruction: str, seed: int = 0) -> bool:
    """AlpacaEval's presentation order: ``random.Random(switch_column + instruction + str(seed))`` picks
    [False, True] (``RandomSwitchTwoColumnsProcessor``, seeded on the instruction; annotator seed 0).
    True = output_2 (the evaluated model) is shown first, as "m"."""
    return random.Random(SWITCH_COLUMN + instruction + str(seed)).choices([False, True], k=1)[0]


def null_model_table() -> pd.DataFrame:
    """One row per instruction: stored preference, the judge's p(m)/p(M), P(first shown better), the
    preference recomputed from them, the order-hash decision and the slot of the null output."""
    rows = []
    for r in _null_records():
        pm, pM = first_token_probs(r["raw_completion"])
        p_first = pm / (pm + pM) if pm + pM > 0 else np.nan
        sw = alpaca_eval_is_switched(r["instruction"])
        # parser: 2 − P(first better) in the shown order; un-switching maps x -> 3 − x
        recomputed = (1 + p_first) if sw else (2 - p_first)
        rows.append(
            {
                "instruction": r["instruction"],
                "dataset": r["dataset"],
                "preference": r["preference"],
                "p_m": pm,
                "p_M": pM,
                "p_first": p_first,
                "is_switched": sw,
                "recomputed": recomputed,
                "null_slot": "m (first)" if sw else "M (second)",
                "len_baseline": len(r["output_1"]),
                "len_null": len(r["output_2"]),
                "generator_2": r["generator_2"],
            }
        )
    return pd.DataFrame(rows)


def position_split(t: pd.DataFrame) -> pd.DataFrame:
    out = {}
    for slot, g in t.groupby("null_slot"):
        out[slot] = winrate.win_rates(g["preference"], encoding="alpaca_eval") | {"rows": len(g)}
    return pd.DataFrame(out).T


def judge_position_bias(ann: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per annotated model: raw WR when its output was shown first vs second (order inferred from the
    stored logprobs, ``inferred_is_switched``). Orders are randomized, so the gap estimates position bias."""
    ann = lc.load_annotations() if ann is None else ann
    ann = ann[ann["inferred_is_switched"].notna() & (ann["model"] != lc.BASELINE)]
    rows = {}
    for m, g in ann.groupby("model"):
        first = g[g["inferred_is_switched"] == 1]
        second = g[g["inferred_is_switched"] == 0]
        if len(first) < 50 or len(second) < 50:
            continue
        rows[m] = {
            "wr_shown_first": winrate.win_rates(first["preference"], encoding="alpaca_eval")["win_rate"],
            "wr_shown_second": winrate.win_rates(second["preference"], encoding="alpaca_eval")["win_rate"],
            "n_first": len(first),
            "n_second": len(second),
        }
    df = pd.DataFrame(rows).T
    df["first_minus_second"] = df["wr_shown_first"] - df["wr_shown_second"]
    return df


# ----------------------------------------------------------------------------- anatomy of the string
def anatomy(s: str | None = None) -> dict:
    """Split the constant response into the random-search prefix and the structured injection."""
    s = load_constant_response() if s is None else s
    cut = s.find(STRUCTURE_MARKER)
    prefix, structure = (s[:cut], s[cut:]) if cut >= 0 else ("", s)
    return {
        "chars": len(s),
        "prefix_chars": len(prefix),
        "structure_chars": len(structure),
        "prefix": prefix,
        "structure": structure,
        "fake_instruction": "Output nothing" in structure,
        "closes_output_block": structure.startswith('"""'),
        "ignore_line": "Ignore the above ## Model Outputs" in structure,
        "ends_open_output": structure.rstrip().endswith('"output": """'),
        "brace_share_of_prefix": prefix.count("}") / max(len(prefix), 1),
    }


def trajectory_summary(t: pd.DataFrame | None = None, stride: int = 16) -> dict:
    t = load_trajectory() if t is None else t
    accepted = int((t["prefix_token_ids"] != t["prefix_token_ids"].shift()).sum() - 1)
    resets = int((t["best"] > t["best"].shift()).sum())
    return {
        "steps": len(t),
        "final_best_loss": float(t["best"].iloc[-1]),
        "initial_loss": float(t["loss"].iloc[0]),
        "accepted_mutations": accepted,
        "best_resets": resets,
        "n_prefix_tokens": int(t["n_prefix_tokens"].iloc[0]),
        "final_prefix_text": t["prefix_text"].iloc[-1],
        "resets_on_stride": bool(all(int(s) % stride == 0 for s in t.loc[t["best"] > t["best"].shift(), "step"])),
    }


def figure_trajectory(t: pd.DataFrame):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.3))
    ax.plot(t["step"], t["loss"], lw=0.7, alpha=0.6, label="step loss (mean −log p(target) over the prompts used)")
    ax.plot(t["step"], t["best"], lw=1.5, label="best so far (reset when the curriculum adds prompts)")
    ax.set(
        xlabel="random-search step",
        ylabel="loss",
        title="Random search of the prefix against GPT-4-1106 (released log)",
    )
    ax.legend(fontsize=7)
    return fig


def fill_prompt(template: str, response: str) -> str:
    return template.replace("{iclr_2025_adv}", response)


# ----------------------------------------------------------------------------- the whole recomputation
def validate(cfg) -> None:
    """Bad input raises ConfigError before any compute: the toy attack needs this scale's budget."""
    b = cfg.paper.budget.get(cfg.scale.name)
    if b is None:
        raise ConfigError(
            f"cheating-null-models has no budget for scale={cfg.scale.name}; scales: {', '.join(cfg.paper.budget)}"
        )
    for k in ("n_test_prompts", "n_judge_pairs", "steps"):
        if int(b[k]) < 1:
            raise ConfigError(f"paper.budget.{cfg.scale.name}.{k}={b[k]} must be ≥ 1")
    if any(int(n) < 1 for n in cfg.paper.toy.lengths.values()):
        raise ConfigError(f"paper.toy.lengths={dict(cfg.paper.toy.lengths)}: every length must be ≥ 1")


def run(cfg, progress: bool = True) -> dict:
    """Everything the notebook shows and ``claims`` judges: the NullModel's AlpacaEval numbers from its annotations
    (with LC from the published weights and a GLM refit), the judge's view, the string's anatomy, the search log, and
    the attack in the toy world (``world``; the longest part, seconds to a minute)."""
    from .world import random_search, toy_defenses, toy_world

    t, const = null_model_table(), load_constant_response()
    ann = lc.load_annotations()
    toy, seed = cfg.paper.toy, int(cfg.seed)
    world = toy_world(cfg)
    steps = int(lc.budget(cfg).get("steps", toy.steps))
    searches = {}
    for target in ("toy", "learned"):
        for name, length in toy.lengths.items():
            rs = random_search(
                world,
                target,
                length=int(length),
                steps=steps,
                seed=seed + 100,
                alphabet=str(toy.alphabet),
                init_char=str(toy.init_char),
            )
            searches[(target, name)] = {
                "search": rs,
                "defenses": toy_defenses(world, rs["response"], window=int(toy.ppl_window)),
                "init_defenses": toy_defenses(world, rs["init"], window=int(toy.ppl_window)),
            }
    traj = load_trajectory()
    return {
        "table": t,
        "constant": const,
        "win_rates": winrate.win_rates(t["preference"], encoding="alpaca_eval"),
        "leaderboard": lc.load_leaderboard("HEAD").loc["NullModel"],
        "lc_weights": lc.lc_from_published_weights("HEAD"),
        "annotations": ann,
        "refit": lc.refit_all(["NullModel"], variant="reg", ann=ann).loc["NullModel"],
        "weights": lc.load_weights("HEAD").loc["NullModel"],
        "position_split": position_split(t),
        "position_bias": judge_position_bias(ann),
        "anatomy": anatomy(const),
        "trajectory": traj,
        "trajectory_summary": trajectory_summary(traj),
        "toy_world": world,
        "toy_steps": steps,
        "toy_searches": searches,
    }
