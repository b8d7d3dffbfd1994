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
from . import winrate as W

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
    return W.load_weights(data_path(WEIGHTS[snapshot]))


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
        sdl = W.std_delta_len(L[gm].to_numpy(), L[BASELINE].to_numpy())
        wg = w.loc[gm]
        pref = W.logistic(wg["model"] + wg["length"] * np.tanh(sdl) + wg["difficulty"] * g.loc[L.index].to_numpy())
        parts.append(W.gamed_rows(pref, L[gm].to_numpy(), L[BASELINE].to_numpy(), g.loc[L.index].to_numpy()))
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


def annotation_metrics(df: pd.DataFrame, glm: str = "auto") -> dict:
    """AlpacaEval's metrics of one model from its annotations (instruction, output_1 = baseline, output_2, preference
    in AlpacaEval's encoding): raw, discrete and LC win rate with standard errors, average length. ``glm``: v1
    (difficulty + gamed-baseline rows; needs the 805 instructions), noreg, minimal, or auto (v1 when possible)."""
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
    r = W.lc_win_rate(
        df["preference"].to_numpy(),
        len_m,
        len_b,
        gamma,
        gamed if glm == "v1" else None,
        reg_lambda=W.DEFAULT_LAMBDA if glm == "v1" else None,
        encoding="alpaca_eval",
    )
    valid = np.isfinite(W.from_alpaca_eval(df["preference"]))
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
    if W.is_extreme_change(out["win_rate"], out["length_controlled_winrate"]):
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
        r = W.lc_win_rate(
            p[i],
            len_m[i],
            len_b[i],
            None if gamma is None else gamma[i],
            gamed,
            reg_lambda=W.DEFAULT_LAMBDA if gamma is not None else None,
            encoding="alpaca_eval",
        )
        lcs.append(r["lc_win_rate"])
    return float(np.std(lcs, ddof=1))
