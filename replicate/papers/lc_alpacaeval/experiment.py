"""Length-Controlled AlpacaEval (Dubois et al., 2024), recomputed from public per-instruction data.

Loaders for the AlpacaEval files of the shared data bundle (``replicate.worlds.public_data``) and the
experiment functions ``notebooks/lc-alpacaeval.ipynb`` calls. Every number returned here is computed
from annotations, GLM weights, lengths or the Arena table; published leaderboard columns are only
read to *compare* with (or, where a model's annotations are not public, named as the input used).
"""

from __future__ import annotations

import json
from functools import cache

import pandas as pd

from ...core.config import ConfigError
from ...metrics import winrate
from ...metrics.alpaca_eval import (  # noqa: F401  (the notebook and tests read these names here; they live with the metric)
    BASELINE,
    DIFFICULTY,
    GAMED_BASELINES,
    LENGTHS,
    WEIGHTS,
    AnnotationsError,
    annotation_metrics,
    load_difficulty,
    load_lengths,
    load_weights,
    pseudo_gamed_rows,
)
from ...metrics.correlation import correlation_table
from ...worlds.public_data import data_path

AE = "alpaca_eval/"
ANNOTATIONS = AE + "annotations_weighted_alpaca_eval_gpt4_turbo__slim__48models.csv.gz"
LEADERBOARDS = {
    "HEAD": AE + "leaderboards/AE2_weighted_alpaca_eval_gpt4_turbo_leaderboard__HEAD.csv",
    "2024-03-19": AE + "leaderboards/AE2_weighted_alpaca_eval_gpt4_turbo_leaderboard__2024-03-19_241e1f6.csv",
}
BENCHMARKS = AE + "benchmarks_arena_elo_and_other_benchmarks.csv"
ARENA_COLUMN = "Arena Elo\n[Feb 2, 2024]"


# ----------------------------------------------------------------------------- loaders
@cache
def _annotations() -> pd.DataFrame:
    return pd.read_csv(data_path(ANNOTATIONS))


def load_annotations() -> pd.DataFrame:
    """Per-instruction judge annotations of 48 models (see the data README for the columns)."""
    return _annotations().copy()


def load_leaderboard(snapshot: str = "HEAD") -> pd.DataFrame:
    return pd.read_csv(data_path(LEADERBOARDS[snapshot]), index_col=0)


def load_arena() -> pd.Series:
    """Arena Elo (Feb 2, 2024) of the models the LC notebook correlates (rows with an LC value)."""
    b = pd.read_csv(data_path(BENCHMARKS), index_col=0)
    return b.dropna(subset=["LC AlpacaEval 2.0"])[ARENA_COLUMN].dropna()


def load_benchmarks() -> pd.DataFrame:
    return pd.read_csv(data_path(BENCHMARKS), index_col=0)


def load_annotations_json(relpath: str) -> pd.DataFrame:
    """A full AlpacaEval annotations.json (list of records) as a DataFrame."""
    with open(data_path(relpath)) as f:
        return pd.DataFrame(json.load(f))


# ----------------------------------------------------------------------------- 1. raw win rates
def raw_win_rates(ann: pd.DataFrame | None = None) -> pd.DataFrame:
    """Raw (weighted) and discrete win rates + SE of every annotated model, from its annotations."""
    ann = load_annotations() if ann is None else ann
    rows = {m: winrate.win_rates(g["preference"], encoding="alpaca_eval") for m, g in ann.groupby("model")}
    out = pd.DataFrame(rows).T
    out["avg_length"] = ann.groupby("model")["len_2"].mean()
    return out


def compare_with_leaderboard(
    ours: pd.DataFrame, lb: pd.DataFrame, columns=("win_rate", "standard_error", "discrete_win_rate")
) -> pd.DataFrame:
    common = [m for m in ours.index if m in lb.index]
    return pd.DataFrame({c: (ours.loc[common, c].astype(float) - lb.loc[common, c]).abs() for c in columns})


# ----------------------------------------------------------------------------- 2. LC from weights
def lc_from_published_weights(snapshot: str = "HEAD", difficulty: pd.Series | None = None) -> pd.DataFrame:
    """LC of every model in the weights file, predicted from (θ, ψ) and γ̂; with the leaderboard's LC."""
    w = load_weights(snapshot)
    g = (load_difficulty() if difficulty is None else difficulty).to_numpy()
    lb = load_leaderboard(snapshot)
    lc = {m: winrate.lc_from_weights(w, m, g, baseline=BASELINE) for m in w.index}
    out = pd.DataFrame({"lc_predicted": pd.Series(lc)})
    out["lc_leaderboard"] = lb["length_controlled_winrate"].reindex(out.index)
    out["abs_error"] = (out["lc_predicted"] - out["lc_leaderboard"]).abs()
    return out


# ----------------------------------------------------------------------------- 3. GLM refit
def refit_model(
    g: pd.DataFrame,
    *,
    difficulty: pd.Series | None,
    gamed: pd.DataFrame | None,
    reg_lambda: float | None = winrate.DEFAULT_LAMBDA,
    align: str = "row",
) -> dict:
    """Refit the LC GLM of one model from its annotations (``g``: its rows of the slim table).

    ``align="row"`` looks γ up by the row's position in the annotation file, as alpaca_eval's code does
    (``df["index"]`` after ``reset_index``), which differs from the instruction index for the 6 models
    whose file lacks some instructions; ``align="instruction"`` uses the true instruction index.
    """
    gam = None
    if difficulty is not None:
        key = g["row"] if align == "row" else g["instruction_idx"]
        gam = difficulty.reindex(key.to_numpy()).to_numpy()
    r = winrate.lc_win_rate(
        g["preference"].to_numpy(),
        g["len_2"].to_numpy(),
        g["len_1"].to_numpy(),
        gam,
        gamed=gamed,
        reg_lambda=reg_lambda,
        encoding="alpaca_eval",
    )
    f = r["glm"]
    return {
        "lc": r["lc_win_rate"],
        "lc_se": r["lc_standard_error"],
        "win_rate": r["win_rate"],
        "phi": f.length,
        "psi": f.difficulty,
        "theta": f.model,
        "C": f.C,
    }


def refit_all(models=None, *, variant: str = "reg", ann: pd.DataFrame | None = None) -> pd.DataFrame:
    """Refit every (or the given) annotated non-baseline model. Variants:

    * ``reg``: γ̂ (positional lookup) + pseudo-gamed rows with λ = 0.2 (``length_controlled_v1``);
    * ``noreg``: γ̂, no gamed rows (``length_controlled_noreg``);
    * ``minimal``: no γ, no gamed rows (``length_controlled_minimal``; what issue #316 advises off-set);
    * ``reg_instruction``: as ``reg`` but γ̂ looked up by the true instruction index.
    """
    ann = load_annotations() if ann is None else ann
    difficulty = load_difficulty()
    gamed = pseudo_gamed_rows() if variant in ("reg", "reg_instruction") else None
    models = sorted(m for m in ann["model"].unique() if m != BASELINE) if models is None else list(models)
    rows = {}
    for m in models:
        g = ann[ann["model"] == m]
        rows[m] = refit_model(
            g,
            difficulty=None if variant == "minimal" else difficulty,
            gamed=gamed,
            reg_lambda=winrate.DEFAULT_LAMBDA if gamed is not None else None,
            align="instruction" if variant == "reg_instruction" else "row",
        )
    return pd.DataFrame(rows).T


# ----------------------------------------------------------------------------- 4. Arena correlation
def arena_table(snapshot: str = "HEAD", ann: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per Arena model: raw WR (from annotations where public, else the leaderboard, column ``wr_source``),
    LC predicted from the published weights and γ̂, average length, and Arena Elo."""
    arena = load_arena()
    lb = load_leaderboard(snapshot)
    ours = raw_win_rates(ann)
    lcw = lc_from_published_weights(snapshot)
    models = [m for m in arena.index if m in lb.index]
    df = pd.DataFrame(index=models)
    df["elo"] = arena.loc[models]
    df["win_rate"] = [float(ours.loc[m, "win_rate"]) if m in ours.index else lb.loc[m, "win_rate"] for m in models]
    df["wr_source"] = ["annotations" if m in ours.index else "leaderboard" for m in models]
    df["lc"] = lcw["lc_predicted"].reindex(models)
    df["lc_leaderboard"] = lb.loc[models, "length_controlled_winrate"]
    df["avg_length"] = lb.loc[models, "avg_length"]
    return df


def arena_correlations(df: pd.DataFrame, *, n_boot: int, seed: int) -> pd.DataFrame:
    cols = {
        "AlpacaEval 2.0 (raw WR)": df["win_rate"],
        "LC AlpacaEval 2.0": df["lc"],
        "LC (leaderboard column)": df["lc_leaderboard"],
        "average length": df["avg_length"],
    }
    return correlation_table(cols, df["elo"], methods=("spearman", "kendall", "pearson"), n_boot=n_boot, seed=seed)


# ----------------------------------------------------------------------------- 5. gameability
def gameability_inputs(snapshot: str = "2024-03-19", ann: pd.DataFrame | None = None) -> pd.DataFrame:
    """The snapshot's leaderboard rows with recomputed columns: ``win_rate_ours`` (annotations where
    public, else the leaderboard's value) and ``lc_ours`` (published weights of that snapshot and γ̂)."""
    lb = load_leaderboard(snapshot).copy()
    ours = raw_win_rates(ann)
    lcw = lc_from_published_weights(snapshot)
    lb["wr_source"] = ["annotations" if m in ours.index else "leaderboard" for m in lb.index]
    lb["win_rate_ours"] = [
        float(ours.loc[m, "win_rate"]) if m in ours.index else lb.loc[m, "win_rate"] for m in lb.index
    ]
    lb["lc_ours"] = lcw["lc_predicted"].reindex(lb.index)
    return lb


def prompt_variants_table(lb: pd.DataFrame, wr: str = "win_rate_ours", lc: str = "lc_ours") -> pd.DataFrame:
    models = [m for m in lb.index if f"{m}_verbose" in lb.index and f"{m}_concise" in lb.index]
    rows = {}
    for m in models:
        rows[m] = {
            f"WR {k}": lb.loc[f"{m}{s}", wr]
            for k, s in (("concise", "_concise"), ("standard", ""), ("verbose", "_verbose"))
        }
        rows[m].update(
            {
                f"LC {k}": lb.loc[f"{m}{s}", lc]
                for k, s in (("concise", "_concise"), ("standard", ""), ("verbose", "_verbose"))
            }
        )
    return pd.DataFrame(rows).T


# ----------------------------------------------------------------------------- notebook helpers
def budget(cfg) -> dict:
    """How much of the fixed public data a scale recomputes (``paper.budget.<scale>``, else ``tiny``)."""
    b = cfg.paper.budget
    return dict(b.get(cfg.scale.name, b.tiny))


def validate(cfg) -> None:
    """Bad input raises ConfigError before any compute: the snapshots, this scale's refit models and bootstrap."""
    for k in ("current", "paper"):
        snap = str(cfg.paper.snapshots[k])
        if snap not in LEADERBOARDS or snap not in WEIGHTS:
            raise ConfigError(f"paper.snapshots.{k}={snap!r}: choose one of {sorted(LEADERBOARDS)}")
    b = budget(cfg)
    if int(b["n_boot"]) < 1:
        raise ConfigError(f"paper.budget.{cfg.scale.name}.n_boot={b['n_boot']} must be ≥ 1")
    sel = b["refit_models"]
    if sel != "all" and (isinstance(sel, str) or GAMED not in list(sel)):
        raise ConfigError(
            f"paper.budget.{cfg.scale.name}.refit_models must be 'all' or a list holding {GAMED} (claims C5, §4.3)"
        )


def refit_models(cfg, ann: pd.DataFrame) -> list[str]:
    sel = budget(cfg)["refit_models"]
    models = sorted(m for m in ann["model"].unique() if m != BASELINE)
    return models if sel == "all" else [m for m in models if m in set(sel)]


def reported_vs_reproduced(reported: pd.DataFrame, pairs: list[tuple], *, atol: float | None = None) -> pd.DataFrame:
    """Join reproduced numbers with the reference rows of ``results/reported/<paper>.csv``.

    ``pairs``: (table, row, metric, reproduced value[, metrics key]). Rows not found in the CSV raise,
    so a renamed reported row cannot silently drop out of the comparison.
    """
    rep = reported[reported["reference"].astype(str).str.lower() == "true"]
    out = []
    for t in pairs:
        table, row, metric, value = t[:4]
        hit = rep[(rep["table"] == table) & (rep["row"] == row) & (rep["metric"] == metric)]
        if len(hit) != 1:
            raise KeyError(f"reported row ({table!r}, {row!r}, {metric!r}) found {len(hit)} times")
        r = hit.iloc[0]
        out.append(
            {
                "table": table,
                "row": row,
                "metric": metric,
                "reported": float(r["value"]),
                "reproduced": float(value),
                "abs_diff": abs(float(value) - float(r["value"])),
                "metrics_key": t[4] if len(t) > 4 else "",
                "source": r["source"],
            }
        )
    return pd.DataFrame(out)


def figure_length_control(lb: pd.DataFrame, wr: str, lc: str, title: str):
    """Win rate vs average output length before and after length control (one panel each)."""
    import matplotlib.pyplot as plt
    from scipy.stats import spearmanr

    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for ax, col, name in ((axes[0], wr, "raw win rate"), (axes[1], lc, "length-controlled win rate")):
        d = lb[["avg_length", col]].dropna()
        ax.scatter(d["avg_length"], d[col], s=12, alpha=0.7)
        for m in ("gpt4_1106_preview_verbose", "gpt4_1106_preview_concise", "gpt4_gamed", "NullModel"):
            if m in d.index:
                ax.annotate(m, (d.loc[m, "avg_length"], d.loc[m, col]), fontsize=7)
        rho = spearmanr(d["avg_length"], d[col]).statistic
        ax.set(xlabel="average output length (characters)", title=f"{name}\nSpearman with length {rho:.2f}")
    axes[0].set_ylabel("win rate vs gpt4_1106_preview (%)")
    fig.suptitle(title, y=1.02)
    fig.tight_layout()
    return fig


def figure_arena(df: pd.DataFrame):
    import matplotlib.pyplot as plt
    from scipy.stats import spearmanr

    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for ax, col, name in ((axes[0], "win_rate", "AlpacaEval 2.0 (raw)"), (axes[1], "lc", "LC AlpacaEval 2.0")):
        ax.scatter(df[col], df["elo"], s=14)
        rho = spearmanr(df[col], df["elo"]).statistic
        ax.set(xlabel=f"{name} win rate (%)", title=f"{name}: Spearman {rho:.3f} (n={len(df)})")
    axes[0].set_ylabel("Chatbot Arena Elo (Feb 2, 2024)")
    return fig


def figure_refit(refit: pd.DataFrame, official: pd.Series, title: str):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 5))
    common = [m for m in refit.index if m in official.index]
    ax.scatter(official.loc[common], refit.loc[common, "lc"], s=14)
    lim = [0, max(100, float(refit["lc"].max()))]
    ax.plot(lim, lim, "k--", lw=0.8)
    ax.set(xlabel="published LC win rate (%)", ylabel="our GLM refit LC win rate (%)", title=title)
    return fig


# ----------------------------------------------------------------------------- the whole recomputation
GAMED = "gpt4_gamed"  # the truncation attack's model (§4.3)
SEMANTICS_PAIRS = (
    ("NullModel", "gpt4_gamed"),
    ("claude-2.1", "alpaca-7b"),
    ("gpt4_1106_preview_verbose", "gpt4_0613_concise"),
)


def run(cfg, progress: bool = True) -> dict:
    """Every quantity the notebook shows and ``claims`` judges, recomputed from the public files (seconds to a minute:
    the GLM refits of ``refit_models(cfg)`` dominate). ``progress`` is accepted for the paper interface; nothing here
    is long enough for a bar."""
    snap, paper_snap = cfg.paper.snapshots.current, cfg.paper.snapshots.paper
    ann = load_annotations()
    ours = raw_win_rates(ann)
    lb_head = load_leaderboard(snap)
    # 2. LC from the published weights, and its win-rate semantics (C2) exactly on those weights
    w_head, gamma = load_weights(snap), load_difficulty()
    g = gamma.to_numpy()
    semantics = {
        "self_win_rate": winrate.lc_from_weights(w_head, BASELINE, g, baseline=BASELINE),
        "antisymmetry_max_err": max(
            abs(
                winrate.lc_from_weights(w_head, a, g, baseline=b)
                + winrate.lc_from_weights(w_head, b, g, baseline=a)
                - 100
            )
            for a, b in SEMANTICS_PAIRS
        ),
        "all_lc": [
            winrate.lc_from_weights(w_head, m, g, baseline=b) for m in w_head.index[:40] for b in w_head.index[:40]
        ],
    }
    # 3. GLM refits; the models whose annotation rows are not in instruction order get γ̂ by position upstream
    models = refit_models(cfg, ann)
    refits = {v: refit_all(models, variant=v, ann=ann) for v in ("reg", "noreg", "minimal")}
    misaligned = sorted(
        m
        for m, grp in ann.groupby("model")
        if (grp["row"].to_numpy() != grp["instruction_idx"].to_numpy()).any() and m in models
    )
    refits["reg_instruction"] = refit_all(misaligned, variant="reg_instruction", ann=ann)
    # 4. Arena correlations, 5. gameability inputs of the paper-era leaderboard
    arena = arena_table(snap, ann)
    gi = gameability_inputs(paper_snap, ann)
    return {
        "annotations": ann,
        "raw": ours,
        "leaderboard": lb_head,
        "raw_vs_leaderboard": compare_with_leaderboard(ours, lb_head),
        "weights": w_head,
        "difficulty": gamma,
        "lc_weights": lc_from_published_weights(snap),
        "semantics": semantics,
        "refits": refits,
        "misaligned": misaligned,
        "arena": arena,
        "arena_correlations": arena_correlations(arena, n_boot=budget(cfg)["n_boot"], seed=int(cfg.seed)),
        "gameability_inputs": gi,
        "variants": prompt_variants_table(gi),
    }
