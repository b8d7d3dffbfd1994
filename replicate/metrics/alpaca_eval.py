"""AlpacaEval's metrics of any model from its annotations (``annotation_metrics``: raw, discrete and LC win rates
with standard errors), with what the LC GLM (``length_controlled_v1``) needs from the public AlpacaEval data: the
instruction difficulty, the published GLM weights, the output lengths and the gamed-baseline rows. Used by
``replicate winrate``, the real-model path and the LC-AlpacaEval replication."""

from __future__ import annotations

import json
from functools import cache

import numpy as np
import pandas as pd

from ..worlds.public_data import data_path
from . import winrate

BASELINE = "gpt4_1106_preview"
AE = "alpaca_eval/"
WEIGHTS = {
    "HEAD": AE
    + "glm_weights__weighted_alpaca_eval_gpt4_turbo__length_controlled_v1__baseline_gpt4_1106_preview__HEAD.csv",
    "2024-03-19": AE
    + "glm_weights__weighted_alpaca_eval_gpt4_turbo__length_controlled_v1__baseline_gpt4_1106_preview__2024-03-19_241e1f6.csv",
}
DIFFICULTY = AE + "derived__instruction_difficulty_recovered_ridge0.15.csv"
LENGTHS = AE + "model_output_char_lengths__wide.csv.gz"
GAMED_BASELINES = ("gpt4_1106_preview_verbose", "gpt4_1106_preview_concise")


class AnnotationsError(ValueError):
    """An annotations file or a GLM choice that cannot be used; the message says why."""


def load_weights(snapshot: str = "HEAD") -> pd.DataFrame:
    """Published GLM weights (columns length = φ, difficulty = ψ, model = θ)."""
    return winrate.load_weights(data_path(WEIGHTS[snapshot]))


@cache
def load_difficulty() -> pd.Series:
    """γ̂_x (derived estimate; the official γ is not public on GitHub), indexed by instruction 0..804."""
    s = pd.read_csv(data_path(DIFFICULTY), index_col=0).iloc[:, 0]
    return s.sort_index()


@cache
def load_lengths() -> pd.DataFrame:
    """Character length of every model's output, 805 × models, indexed by instruction."""
    return pd.read_csv(data_path(LENGTHS), index_col=0).sort_index()


def pseudo_gamed_rows(weights: pd.DataFrame | None = None, difficulty: pd.Series | None = None) -> pd.DataFrame:
    """Stand-in for alpaca_eval's ``df_gamed.csv`` (judge annotations of the baseline's verbose/concise
    variants vs the baseline, on the Hugging Face Hub, not public on GitHub).

    DEVIATION: the preferences are the *expected* judge preferences implied by the published weights of
    ``gpt4_1106_preview_{verbose,concise}``: σ(θ_g + φ_g tanh(Δ_x/sd) + ψ_g γ̂_x) with their real output
    lengths Δ_x = len_baseline − len_g (length matrix); the real file holds the judge's draws.
    """
    w = load_weights("HEAD") if weights is None else weights
    g = load_difficulty() if difficulty is None else difficulty
    L = load_lengths()
    parts = []
    for gm in GAMED_BASELINES:
        sdl = winrate.std_delta_len(L[gm].to_numpy(), L[BASELINE].to_numpy())
        wg = w.loc[gm]
        pref = winrate.logistic(
            wg["model"] + wg["length"] * np.tanh(sdl) + wg["difficulty"] * g.loc[L.index].to_numpy()
        )
        parts.append(winrate.gamed_rows(pref, L[gm].to_numpy(), L[BASELINE].to_numpy(), g.loc[L.index].to_numpy()))
    return pd.concat(parts, ignore_index=True)


def glm_context(df: pd.DataFrame):
    """(difficulty per row, gamed rows) for the v1 GLM, or a reason why it is not available."""
    try:
        with open(data_path(AE + "eval_set_805_with_gpt4_1106_preview_baseline_outputs.json")) as f:
            eval_set = pd.DataFrame(json.load(f))
        gamma = load_difficulty()
        gamed = pseudo_gamed_rows()
    except FileNotFoundError as e:
        return None, None, f"the AlpacaEval data bundle is not available ({str(e).split(':')[0]})"
    index = dict(zip(eval_set["instruction"], eval_set["instruction_idx"]))
    idx = df["instruction"].map(index)
    if idx.isna().any():
        return None, None, f"{int(idx.isna().sum())} instructions are not in the AlpacaEval 805-instruction set"
    return gamma.reindex(idx.astype(int).to_numpy()).to_numpy(), gamed, None


HUB_REPO, HUB_GAMED = "tatsu-lab/alpaca_eval", "df_gamed.csv"  # the official γ and gamed-baseline annotations
OFFLINE_NOTE = (
    "offline: LC from the recovered estimate of AlpacaEval's instruction difficulty and pseudo-gamed rows, up to ~2 LC "
    "points off the leaderboard on models it was not fitted on; the official LC needs the Hub file "
    f"{HUB_REPO}/{HUB_GAMED}"
)


def official_lc(df: pd.DataFrame) -> tuple[dict | None, str | None]:
    """alpaca_eval's own ``get_length_controlled_winrate`` (``length_controlled_v1`` with the official instruction
    difficulty and gamed-baseline annotations from the Hugging Face Hub), or ``(None, why)`` when the Hub file cannot
    be had (offline, unreachable, not cached) or the instructions are not AlpacaEval's 805."""
    from alpaca_eval.metrics import glm_winrate

    try:  # the same call alpaca_eval makes, first, so that only the download's failure means "offline"
        glm_winrate.hf_hub_download(repo_id=HUB_REPO, filename=HUB_GAMED, repo_type="dataset")
    except Exception as e:  # noqa: BLE001 (offline mode, no network, no cache: each library raises its own type)
        return None, f"{type(e).__name__}: {str(e).splitlines()[0][:160]}"
    try:
        with open(data_path(AE + "eval_set_805_with_gpt4_1106_preview_baseline_outputs.json")) as f:
            index = {r["instruction"]: int(r["instruction_idx"]) for r in json.load(f)}
    except FileNotFoundError as e:
        return None, f"the AlpacaEval eval set is not available ({str(e).split(':')[0]})"
    idx = df["instruction"].map(index)
    if idx.isna().any():
        return None, f"{int(idx.isna().sum())} instructions are not in the AlpacaEval 805-instruction set"
    # alpaca_eval reads each row's instruction from the frame's index (reset_index → "index"): index by instruction id
    ann = df.assign(generator_1=BASELINE, generator_2="model").set_index(pd.Index(idx.astype(int).to_numpy()))
    out = glm_winrate.get_length_controlled_winrate(ann, save_weights_dir=None, is_warn_extreme_changes=False)
    return {"length_controlled_winrate": float(out["length_controlled_winrate"]),
            "lc_standard_error": float(out["lc_standard_error"])}, None  # fmt: skip


def annotation_metrics(df: pd.DataFrame, glm: str = "auto") -> dict:
    """AlpacaEval's metrics of one model from its annotations (instruction, output_1 = baseline, output_2, preference
    in AlpacaEval's encoding): raw, discrete and LC win rate with standard errors, average length. ``glm``: official
    (alpaca_eval's own LC from the Hub's files), v1 (our estimate of it: recovered difficulty + pseudo-gamed rows;
    needs the 805 instructions), noreg, minimal, or auto (official when the Hub can be reached, else v1 with a note
    saying so, else minimal)."""
    if glm in ("auto", "official"):
        off, why = official_lc(df)
        if off is not None:
            out = _estimated_metrics(df, "minimal")  # raw win rates and lengths; LC replaced by the official one
            out = {**{k: v for k, v in out.items() if k != "note"}, **off, "glm": "official", "glm_weights": None}
            if winrate.is_extreme_change(out["win_rate"], out["length_controlled_winrate"]):
                out["note"] = "LC differs extremely from the raw win rate (alpaca_eval's sanity warning)"
            return out
        if glm == "official":
            raise AnnotationsError(f"--glm official is not possible: {why}")
        out = _estimated_metrics(df, "auto")
        out["note"] = OFFLINE_NOTE + f" ({why})" + (f"; {out['note']}" if "note" in out else "")
        return out
    return _estimated_metrics(df, glm)


def _estimated_metrics(df: pd.DataFrame, glm: str) -> dict:
    """``annotation_metrics`` with our own LC GLM: v1, noreg, minimal, or auto (v1 when possible, else minimal)."""
    len_m = df["output_2"].str.len().to_numpy()
    len_b = df["output_1"].str.len().to_numpy()
    note = None
    gamma = gamed = None
    if glm in ("auto", "v1", "noreg"):
        gamma, gamed, why = glm_context(df)
        if why is not None:
            if glm != "auto":
                raise AnnotationsError(f"--glm {glm} is not possible: {why}; use --glm minimal")
            glm, note = "minimal", f"LC uses the minimal GLM (no instruction difficulty): {why}"
        elif glm == "auto":
            glm = "v1"
    if glm == "minimal":
        gamma = gamed = None
    r = winrate.lc_win_rate(
        df["preference"].to_numpy(),
        len_m,
        len_b,
        gamma,
        gamed if glm == "v1" else None,
        reg_lambda=winrate.DEFAULT_LAMBDA if glm == "v1" else None,
        encoding="alpaca_eval",
    )
    valid = np.isfinite(winrate.from_alpaca_eval(df["preference"]))
    out = {
        "win_rate": r["win_rate"],
        "standard_error": r["standard_error"],
        "discrete_win_rate": r["discrete_win_rate"],
        "length_controlled_winrate": r["lc_win_rate"],
        "lc_standard_error": r["lc_standard_error"],
        "avg_length": float(len_m.mean()),
        "n_total": int(r["n_total"]),
        "n_dropped": int((~valid).sum()),
        "glm": glm,
        "glm_weights": r["glm"].as_weights(),
    }
    if winrate.is_extreme_change(out["win_rate"], out["length_controlled_winrate"]):
        note = (
            note + "; " if note else ""
        ) + "LC differs extremely from the raw win rate (alpaca_eval's sanity warning)"
    if note:
        out["note"] = note
    return out


def lc_bootstrap_se(df: pd.DataFrame, *, n_boot: int = 100, seed: int = 0) -> float:
    """The sampling standard error of the LC win rate: the SD of the GLM refitted on instructions resampled with
    replacement (each keeps its difficulty; the gamed-baseline rows stay), the GLM variant ``annotation_metrics``
    chooses. ``lc_standard_error`` is not this: it is the spread of the GLM's per-instruction predictions."""
    gamma, gamed, why = glm_context(df)
    if why is not None:
        gamma = gamed = None
    p = df["preference"].to_numpy(dtype=float)
    len_m, len_b = df["output_2"].str.len().to_numpy(), df["output_1"].str.len().to_numpy()
    rng = np.random.default_rng(seed)
    lcs = []
    for _ in range(n_boot):
        i = rng.integers(len(df), size=len(df))
        r = winrate.lc_win_rate(
            p[i],
            len_m[i],
            len_b[i],
            None if gamma is None else gamma[i],
            gamed,
            reg_lambda=winrate.DEFAULT_LAMBDA if gamma is not None else None,
            encoding="alpaca_eval",
        )
        lcs.append(r["lc_win_rate"])
    return float(np.std(lcs, ddof=1))
