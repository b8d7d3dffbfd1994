"""Instruct-SkillMix: numbers and claims from ``run_all``'s results (no compute beyond bootstraps): seed-paired
per-prompt differences (``metrics.verdicts``), gated on the positive control ``PC``."""

from __future__ import annotations

import numpy as np

from ...metrics.verdicts import (
    all_of,
    comparative_claim,
    gate_on_control,
    interval_claim,
    lc_group,
    paired_ci_lc,
)
from .experiment import budget
from .world import PAIR_SKILLS

SPLITS = ("general", "pairs")


METRICS = ("win_rate", "lc_win_rate", "avg_length", "oracle_quality")


def arm_names(runs: dict) -> list[str]:
    return list(dict.fromkeys(k[1] for k in runs))


def _seeds(runs: dict) -> list[int]:
    return sorted({k[0] for k in runs})


def is_composition(prompt: str) -> bool:
    return "+" in prompt.split(":", 1)[0]


def flat_metrics(runs: dict, coverage_by_seed: dict) -> tuple[dict, dict]:
    """(metrics, seed_spread): seed means, and per-seed values for ``make check``. Adds the general split's oracle
    quality on composition and single-skill prompts, and the pair coverage of each seed's k = 2 data at N
    (``coverage_by_seed``: {seed: matrix from ``coverage``})."""
    per_seed: dict[str, list] = {}
    for (_sd, a), r in sorted(runs.items()):
        for s in SPLITS:
            ev = r["eval"][s]
            for k in METRICS:
                per_seed.setdefault(f"{a}.{s}.{k}", []).append(ev[k])
        ev = r["eval"]["general"]
        comp, q = np.array([is_composition(p) for p in ev["prompts"]]), np.asarray(ev["oracle_qualities"])
        per_seed.setdefault(f"{a}.general.oracle_quality_composition", []).append(
            float(q[comp].mean()) if comp.any() else float("nan")
        )
        per_seed.setdefault(f"{a}.general.oracle_quality_single", []).append(
            float(q[~comp].mean()) if (~comp).any() else float("nan")
        )
    off = ~np.eye(len(PAIR_SKILLS), dtype=bool)
    for _sd, cov in sorted(coverage_by_seed.items()):
        per_seed.setdefault("coverage.pairs_covered", []).append(int((cov[off] > 0).sum()))
        per_seed.setdefault("coverage.min_count", []).append(int(cov[off].min()))
        per_seed.setdefault("coverage.max_count", []).append(int(cov[off].max()))
    metrics = {k: float(np.mean(v)) for k, v in per_seed.items()}
    return metrics, {k: [float(x) for x in v] for k, v in per_seed.items() if len(v) > 1}


def summary(runs: dict):
    """One row per arm and split: seed means of the evaluation metrics."""
    import pandas as pd

    rows = []
    for a in arm_names(runs):
        for s in SPLITS:
            evs = [runs[(sd, a)]["eval"][s] for sd in _seeds(runs)]
            rows.append({"arm": a, "split": s, **{k: float(np.mean([e[k] for e in evs])) for k in METRICS}})
    return pd.DataFrame(rows)


def per_seed(runs: dict):
    """One row per seed, arm and split (general, pairs): the evaluation metrics, tidy for plots and groupbys."""
    import pandas as pd

    rows = [
        {"seed": sd, "arm": a, "split": s, **{k: float(r["eval"][s][k]) for k in METRICS}}
        for (sd, a), r in sorted(runs.items())
        for s in SPLITS
    ]
    return pd.DataFrame(rows)


def examples(runs: dict, seed: int, arms, split: str = "pairs", n: int = 6):
    """The first ``n`` prompts of ``split`` with each of ``arms``' answers for ``seed``."""
    from ...metrics.examples import examples_frame

    evs = {a: runs[(seed, a)]["eval"][split] for a in arms}
    return examples_frame(next(iter(evs.values()))["prompts"], evs, n)


def q_diff(cid: str, runs: dict, a: str, b: str, split: str, effect: float | None = None) -> dict:
    """Oracle quality of arm a minus arm b on the same prompts, per seed (``split``: general or pairs)."""
    d = [
        np.asarray(runs[(sd, a)]["eval"][split]["oracle_qualities"])
        - np.asarray(runs[(sd, b)]["eval"][split]["oracle_qualities"])
        for sd in _seeds(runs)
    ]
    return comparative_claim(cid, "", d, rule=f"q({a}) − q({b}) > 0 on {split} prompts", effect=effect, metric="q")


def lc_diff(cid: str, runs: dict, a: str, b: str, split: str = "general") -> dict:
    """LC win rate (vs the reference policy) of arm a minus arm b, the GLM refit on each bootstrap resample."""
    groups = [lc_group(runs[(sd, a)]["eval"][split], runs[(sd, b)]["eval"][split]) for sd in _seeds(runs)]
    return interval_claim(cid, "", paired_ci_lc(groups), rule=f"lc({a}) − lc({b}) > 0 on {split} prompts", metric="lc")


def claims(runs: dict, cfg) -> list[dict]:
    """PC, C1 (ISM vs plain mix), C2 (k = 2 vs k = 1), C3 (shirkers), C4 (data size); gated on PC."""
    k1 = f"ism_k{int(cfg.paper.skills.k_ablation)}"
    top = max(float(s) for s in cfg.paper.shirker.shares)
    sizes = sorted(int(n) for n in budget(cfg).sizes)
    small = f"n={sizes[0]}" if sizes[0] != sizes[-1] else "ism"
    out = [
        all_of(
            "PC",
            "Positive control: SFT on the teacher's skill-pair data beats its start (the shared SFT policy) on "
            "held-out skill-pair prompts by a wide margin (≥ 0.05 oracle quality), and on the LC win rate the "
            "claims are also judged on",
            [
                q_diff("pairs.q", runs, "ism", "initial", "pairs", effect=0.05),
                lc_diff("pairs.lc", runs, "ism", "initial", "pairs"),
            ],
            rule="q(ism) − q(initial) > 0 on held-out pair prompts, interval not below 0.05; lc(ism) − lc(initial) > 0",
        ),
        all_of(
            "C1",
            "SFT on ISM data beats SFT on a plain mix of the same size (LC win rate and oracle quality on the "
            "general evaluation prompts)",
            [lc_diff("lc", runs, "ism", "plain"), q_diff("q", runs, "ism", "plain", "general")],
            rule="lc(ism) − lc(plain) > 0 and q(ism) − q(plain) > 0, general prompts",
        ),
        all_of(
            "C2",
            "Skill mixing (k = 2) beats single-skill data (k = 1) at the same size",
            [lc_diff("lc", runs, "ism", k1), q_diff("q", runs, "ism", k1, "general")],
            rule=f"lc(ism) − lc({k1}) > 0 and q(ism) − q({k1}) > 0, general prompts",
        ),
        all_of(
            "C3",
            f"Shirkers degrade the model: {top:.0%} low-quality ({cfg.paper.shirker.kind}) answers do worse "
            "than clean data",
            [lc_diff("lc", runs, "ism", f"shirker={top:g}"), q_diff("q", runs, "ism", f"shirker={top:g}", "general")],
            rule=f"lc(ism) − lc(shirker={top:g}) > 0 and q(ism) − q(shirker={top:g}) > 0, general prompts",
        ),
        all_of(
            "C4",
            f"More ISM data helps: N = {sizes[-1]} beats N = {sizes[0]} (the paper's 4K vs 1K)",
            [lc_diff("lc", runs, "ism", small), q_diff("q", runs, "ism", small, "general")],
            rule=f"lc(ism) − lc({small}) > 0 and q(ism) − q({small}) > 0, general prompts",
        ),
    ]
    return gate_on_control(out)


def render_table(doc: dict) -> str:
    """Per arm: LC / raw win rate, length and oracle quality on the general prompts; oracle quality on held-out pairs."""
    m = doc["metrics"]
    arms_ = list(dict.fromkeys(k.split(".general.")[0] for k in m if ".general.lc_win_rate" in k))
    n = len(doc.get("seeds", [])) or 1
    lines = [
        f"_Means over {n} seed(s); the claims below carry the intervals. Paper: LLaMA-3-8B-Base + SFT on 4K ISM "
        "examples, AlpacaEval 2.0 LC 42.76 % (abstract); no per-arm tables were released (card)._\n",
        "| arm | LC WR | WR | avg len | oracle q (general) | q compositions | q single skills | q held-out pairs |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for a in arms_:
        g = lambda k, a=a: m.get(f"{a}.general.{k}", float("nan"))
        lines.append(
            f"| {a} | {g('lc_win_rate'):.1f} | {g('win_rate'):.1f} | {g('avg_length'):.1f} | {g('oracle_quality'):.3f} | "
            f"{g('oracle_quality_composition'):.3f} | {g('oracle_quality_single'):.3f} | "
            f"{m.get(f'{a}.pairs.oracle_quality', float('nan')):.3f} |"
        )
    return "\n".join(lines)
