"""WildBench (Lin et al., 2024): WB-Reward / WB-Score recomputed from the public leaderboard data.

Loaders for the WildBench files of the shared bundle and the experiments of ``notebooks/wildbench.ipynb``.
Rewards are recomputed from the outcome *counts*, scores from the mean judge score (and, for 29 files,
from per-example scores); the published ``reward`` / ``WB_score`` fields are only read to compare with.
External benchmark columns (Arena Elo, Arena-Hard, AlpacaEval) come from the same data files, as in the
paper's Table 3, and are named as such.
"""

from __future__ import annotations

import json
from functools import cache

import numpy as np
import pandas as pd

from ...core.config import ConfigError
from ...metrics import wildbench as wildbench_metrics
from ...metrics.correlation import correlation_table
from ...worlds.public_data import data_path

SNAPSHOTS = {
    "2024-06-18": "wildbench/leaderboard_data_dir__2024-06-18_8ed3a40/",  # closest to the paper's June-5 table
    "HEAD": "wildbench/leaderboard_data_dir__HEAD_2024-08-01/",
}
PER_EXAMPLE = "wildbench/wb_score_per_example__29files__slim.csv.gz"
BASELINES = {"gpt4t": "gpt-4-turbo-2024-04-09", "haiku": "claude-3-haiku-20240307", "llama": "Llama-2-70b-chat-hf"}
KS = (-1, 500, 1000, 1500)
ELO = "Arena Elo (hard) - 2024-05-20"
EXTERNAL = {"Arena-Hard": "Arena-Hard v0.1", "AlpacaEval2-LC": "AE2.0 LC", "AlpacaEval2": "AE2.0"}


@cache
def _json(relpath: str):
    with open(data_path(relpath)) as f:
        return json.load(f)


def load_pairwise(snapshot: str, baseline: str, K: int) -> dict:
    return _json(f"{SNAPSHOTS[snapshot]}pairwise-{baseline}-K={K}.json")


def load_scores(snapshot: str) -> dict:
    return _json(f"{SNAPSHOTS[snapshot]}score.json")


def load_all_stat(snapshot: str, K: int = -1) -> pd.DataFrame:
    return pd.DataFrame(_json(f"{SNAPSHOTS[snapshot]}all_stat_wildbench.{K}.json")).T


def load_external(snapshot: str = "2024-06-18") -> pd.DataFrame:
    """Arena Elo and the other benchmarks' columns (``all_stat.json``); '-' becomes NaN."""
    df = pd.DataFrame(_json(f"{SNAPSHOTS[snapshot]}all_stat.json")).T
    return df.apply(lambda s: pd.to_numeric(s.replace("-", np.nan), errors="coerce"))


def load_per_example() -> pd.DataFrame:
    return pd.read_csv(data_path(PER_EXAMPLE))


# ----------------------------------------------------------------------------- rewards
def rewards(snapshot: str, Ks=KS) -> pd.DataFrame:
    """Reward (×100) of every model against each baseline for each K, from the outcome counts.

    Columns: MultiIndex (K, baseline) plus (K, 'mix'); a baseline's reward against itself is 0.
    """
    cols = {}
    models: set[str] = set()
    for K in Ks:
        for b in BASELINES:
            d = load_pairwise(snapshot, b, K)
            cols[(K, b)] = {m: wildbench_metrics.reward(c) for m, c in d.items()}
            models |= set(d)
    df = pd.DataFrame(cols).reindex(sorted(models))
    for K in Ks:
        for b, name in BASELINES.items():
            if name in df.index:
                df.loc[name, (K, b)] = df.loc[name, (K, b)] if np.isfinite(df.loc[name, (K, b)]) else 0.0
        df[(K, "mix")] = df[[(K, b) for b in BASELINES]].mean(axis=1, skipna=False)
    return df.sort_index(axis=1)


def reward_checks(snapshot: str, Ks=KS) -> dict[str, float]:
    """Max |ours − file| for the reward, per-group rewards and task-macro reward (snapshot weights), and
    the K-rule invariants across the K files."""
    w = wildbench_metrics.TASK_WEIGHTS[snapshot]
    worst = {"reward": 0.0, "group_reward": 0.0, "task_macro_reward": 0.0}
    for K in Ks:
        for b in BASELINES:
            for c in load_pairwise(snapshot, b, K).values():
                worst["reward"] = max(worst["reward"], abs(wildbench_metrics.reward(c) / 100 - c["reward"]))
                gr = wildbench_metrics.group_rewards(c["task_categorized_results"])
                for g, v in gr.items():
                    worst["group_reward"] = max(worst["group_reward"], abs(v / 100 - c["task_categorized_rewards"][g]))
                worst["task_macro_reward"] = max(
                    worst["task_macro_reward"], abs(wildbench_metrics.task_macro(gr, w) / 100 - c["task_macro_reward"])
                )
    much_changed = shrink_violations = 0
    converted = []
    for b in BASELINES:
        base = load_pairwise(snapshot, b, -1)
        for K in Ks:
            if K == -1:
                continue
            for m, c in load_pairwise(snapshot, b, K).items():
                a = base[m]
                much_changed += (a["win_much"] != c["win_much"]) + (a["lose_much"] != c["lose_much"])
                shrink_violations += (c["win"] > a["win"]) + (c["lose"] > a["lose"])
                if K == 500:
                    converted.append((a["win"] + a["lose"] - c["win"] - c["lose"]) / max(a["win"] + a["lose"], 1))
    worst["K_much_changed"] = int(much_changed)
    worst["K_slight_increased"] = int(shrink_violations)
    worst["K500_share_of_slight_to_tie"] = float(np.mean(converted))
    return worst


# ----------------------------------------------------------------------------- scores
def scores(snapshot: str) -> pd.DataFrame:
    """WB-Score per model from score.json's mean judge score; task-macro from the group scores."""
    w = wildbench_metrics.TASK_WEIGHTS[snapshot]
    rows = {}
    for m, v in load_scores(snapshot).items():
        adj = float(wildbench_metrics.rescale_score(v["score"]))
        rows[m] = {
            "score": v["score"],
            "WB_score": 10 * adj,
            "adjusted_score_file": v["adjusted_score"],
            "task_macro_score": 10 * wildbench_metrics.task_macro(v["task_categorized_scores"], w),
            "task_macro_score_file": 10 * v["task_macro_score"],
            "avg_len": v["avg_len"],
            "total": v["total"],
        }
        for g in wildbench_metrics.TASK_GROUPS:
            rows[m][f"WB_score.{g}"] = 10 * v["task_categorized_scores"].get(g, np.nan)
    return pd.DataFrame(rows).T


def per_example_scores(head_scores: dict | None = None) -> pd.DataFrame:
    """WB-Score of the 29 per-example files, with the HEAD score.json value where the same run is there."""
    df = load_per_example()
    head = load_scores("HEAD") if head_scores is None else head_scores
    rows = []
    for (ver, judge, model), g in df.groupby(["version", "judge", "model"]):
        s = wildbench_metrics.wb_score(g["score"])
        ok = g[~g["truncated"].astype(bool) & ~g["empty"].astype(bool)]
        file_score = head.get(model, {}).get("score") if (ver == "v2.0625" and judge.startswith("gpt-4o")) else None
        rows.append(
            {
                "version": ver,
                "judge": judge,
                "model": model,
                "n": s["n"],
                "score": s["score"],
                "WB_score": s["WB_score"],
                "avg_len": float(ok["output_chars"].mean()),
                "score_json": file_score,
                "abs_diff": abs(s["score"] - file_score) if file_score is not None else np.nan,
            }
        )
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- Table 3
def table3_models(snapshot: str = "2024-06-18") -> list[str]:
    """The models with Arena Elo (hard, 2024-05-20), Arena-Hard, AE2-LC and AE2 (the paper's 14), without the
    duplicate greedy-decoding run of Qwen1.5-72B-Chat."""
    ext = load_external(snapshot)
    ok = ext[[ELO, *EXTERNAL.values()]].dropna()
    return [m for m in ok.index if not m.endswith("-greedy")]


def table3_columns(snapshot: str = "2024-06-18") -> tuple[dict[str, pd.Series], pd.Series]:
    """Benchmark columns (external ones from the data files, WB ones recomputed) and Arena Elo."""
    ext = load_external(snapshot)
    rw = rewards(snapshot, Ks=(-1, 500))
    sc = scores(snapshot)
    cols = {name: ext[col] for name, col in EXTERNAL.items()}
    cols["WB-Score"] = sc["WB_score"].astype(float)
    for K, tag in ((-1, "K=inf"), (500, "K=500")):
        cols[f"WB-Reward-mix {tag}"] = rw[(K, "mix")]
        for b in BASELINES:
            cols[f"WB-Reward-{b} {tag}"] = rw[(K, b)]
    cols["Avg Length"] = sc["avg_len"].astype(float)
    return cols, ext[ELO]


def table3(snapshot: str = "2024-06-18", *, n_boot: int = 2000, seed: int = 0, top_k: int = 6) -> pd.DataFrame:
    cols, elo = table3_columns(snapshot)
    models = table3_models(snapshot)
    cols = {k: v.reindex(models) for k, v in cols.items()}
    return correlation_table(
        cols, elo.reindex(models), methods=("pearson", "spearman", "kendall"), n_boot=n_boot, seed=seed, top_k=top_k
    )


def figure_correlation(
    cols: dict,
    elo: pd.Series,
    models: list[str],
    names=("WB-Reward-mix K=inf", "WB-Score", "Arena-Hard", "AlpacaEval2-LC"),
):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(names), figsize=(4 * len(names), 3.6))
    e = elo.reindex(models)
    for ax, n in zip(axes, names):
        x = cols[n].reindex(models)
        ax.scatter(x, e, s=16)
        for m in models:
            ax.annotate(m.split("-2024")[0][:18], (x[m], e[m]), fontsize=6)
        r = np.corrcoef(x.astype(float), e.astype(float))[0, 1]
        ax.set(xlabel=n, title=f"{n}: Pearson {r:.3f}")
    axes[0].set_ylabel("Arena Elo (hard-en, 2024-05-20)")
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- the whole recomputation
def budget(cfg) -> dict:
    """How many bootstrap resamples this scale spends on Table 3's intervals (``paper.budget.<scale>``, else tiny)."""
    return dict(cfg.paper.budget.get(cfg.scale.name, cfg.paper.budget.tiny))


def validate(cfg) -> None:
    """Bad input raises ConfigError before any compute: the snapshots, the K margins, Table 3's settings."""
    for k in ("paper", "current"):
        if str(cfg.paper.snapshots[k]) not in SNAPSHOTS:
            raise ConfigError(f"paper.snapshots.{k}={cfg.paper.snapshots[k]!r}: choose one of {sorted(SNAPSHOTS)}")
    bad = [k for k in cfg.paper.Ks if int(k) not in KS]
    if bad or -1 not in [int(k) for k in cfg.paper.Ks]:
        raise ConfigError(f"paper.Ks={list(cfg.paper.Ks)}: choose among {list(KS)} (public pairwise files), with -1")
    if int(cfg.paper.table3.top_k) < 2:
        raise ConfigError(f"paper.table3.top_k={cfg.paper.table3.top_k} must be ≥ 2 (a correlation needs two models)")
    if int(budget(cfg)["n_boot"]) < 1:
        raise ConfigError(f"paper.budget.{cfg.scale.name}.n_boot must be ≥ 1")


LENGTH_CLAIM_MODELS = ("Llama-2-70b-chat-hf", "Meta-Llama-3-70B-Instruct", "Yi-1.5-6B-Chat")


def k_sweep(rw: pd.DataFrame, elo: pd.Series, models: list[str], Ks, top_k: int) -> pd.DataFrame:
    """WB-Reward-mix's correlations with Arena Elo at each length margin K (K = ∞ first, then descending)."""
    from ...metrics.correlation import correlation

    rows = {}
    for K in sorted(Ks, key=lambda k: (k != -1, -k)):
        x, e = rw[(K, "mix")].reindex(models).astype(float), elo.reindex(models).astype(float)
        top = e.sort_values(ascending=False).index[:top_k]
        rows["∞" if K == -1 else K] = {
            "pearson_top": correlation(x[top], e[top], "pearson"),
            "pearson": correlation(x, e, "pearson"),
            "spearman": correlation(x, e, "spearman"),
            "kendall": correlation(x, e, "kendall"),
        }
    return pd.DataFrame(rows).T


def length_ranks(rw: pd.DataFrame, sc: pd.DataFrame) -> pd.DataFrame:
    """Claim 4's models: average length, its rank, and the WB-Reward-mix rank (K = ∞)."""
    mix_rank = rw[(-1, "mix")].rank(ascending=False, method="min")
    len_rank = sc["avg_len"].astype(float).rank(ascending=False, method="min")
    return (
        pd.DataFrame({"avg_len": sc["avg_len"].astype(float), "length_rank": len_rank, "mix_rank": mix_rank})
        .reindex(list(LENGTH_CLAIM_MODELS))
        .dropna(how="all")
    )


def run(cfg, progress: bool = True) -> dict:
    """Everything the notebook shows and ``claims`` judges, recomputed from the public files (Table 3's bootstrap
    dominates: seconds)."""
    paper, head, Ks = cfg.paper.snapshots.paper, cfg.paper.snapshots.current, list(cfg.paper.Ks)
    top_k = int(cfg.paper.table3.top_k)
    rw, sc = rewards(paper, Ks), scores(paper)
    cols, elo = table3_columns(paper)
    models = table3_models(paper)
    return {
        "snapshots": (paper, head),
        "checks": {s: reward_checks(s, Ks) for s in (paper, head)},
        "rewards": rw,
        "rewards_head": rewards(head, Ks),
        "scores": sc,
        "scores_head": scores(head),
        "all_stat": load_all_stat(paper, -1),
        "per_example": per_example_scores(),
        "table3": table3(paper, n_boot=budget(cfg)["n_boot"], seed=int(cfg.seed), top_k=top_k),
        "table3_columns": cols,
        "elo": elo,
        "table3_models": models,
        "k_sweep": k_sweep(rw, elo, models, Ks, top_k),
        "length_ranks": length_ranks(rw, sc),
    }
