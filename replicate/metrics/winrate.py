"""AlpacaEval win rates: raw (weighted), discrete, and length-controlled (the LC GLM).

Preference encodings (read this first)
--------------------------------------
* **AlpacaEval files** store ``preference`` in ``[1, 2]``: 1 = ``output_1`` (the *baseline*) wins,
  2 = ``output_2`` (the *model*) wins, anything in between is the judge's probability shifted by one
  (the weighted GPT-4 judge gives ``2 - p(first shown is better)``, un-switched). Legacy ties are
  ``0`` (mapped to 1.5); NaN means "no annotation" and is dropped.
* **This module works in probabilities** ``p in [0, 1]`` = P(model output is better than the
  baseline's), 1 = model wins. :func:`from_alpaca_eval` converts (``p = preference - 1`` after the tie
  mapping); every function that accepts AlpacaEval values says so with ``encoding="alpaca_eval"``.

Raw win rate (``AbsoluteScoringRule.describe_head2head`` in alpaca_eval):

    WR = 100 · (1/N) Σ_x p_x,        SE = 100 · sd(p) / √N   (ddof = 1)

Discrete win rate (``ZeroOneScoringRule``): each row counts 1 if p > ½, ½ if p = ½, 0 otherwise.

Length-controlled win rate (Dubois et al. 2024, §3; ``glm_winrate.py``, ``length_controlled_v1``):
a logistic GLM per model,

    q_x = σ( θ + φ · tanh( (len_b,x − len_m,x) / sd_x(len_b − len_m) ) + ψ · γ_x )

with θ the model-identity term, φ the length slope (on *baseline minus model*, as in the code, so
fitted φ are negative), γ_x the instruction difficulty and ψ its per-model multiplier. The baseline's
weights are all 0. LC is the prediction with the length term at zero:

    LC = 100 · (1/N) Σ_x σ(θ + ψ γ_x),     SE_LC = 100 · sd_x(σ(θ + ψ γ_x)) / √N.

Fit (as the code): soft labels by row duplication (label 1 with weight p, label 0 with weight 1 − p),
L1-penalised logistic regression without intercept (liblinear, ``random_state=123``), C chosen from
``logspace(-4, 4, 10)`` by 5-fold ``GroupKFold`` (the two copies of a row in one group) on the
weighted continuous log loss, then refit on all rows. *Regularisation toward gamed baselines*:
rows of the baseline's own verbose/concise variants vs the baseline are appended with the model
term switched off (their quality equals the baseline's by construction) and weight λ/2 each
(λ = 0.2), which pins φ to the length effect seen on pure-length manipulations.

With no instruction difficulty (custom instruction sets, toy worlds), the γ term is dropped
(alpaca_eval issue #316: "length_controlled_minimal").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

# Column names of the published weights CSV (patsy terms of the length_controlled_v1 formula).
WEIGHT_COLUMNS = {
    "length": "np.tanh(std_delta_len)",
    "difficulty": "instruction_difficulty",
    "model": "not_gamed_baseline.astype(float)",
}
DEFAULT_CS = 10  # LogisticRegressionCV default: logspace(-4, 4, 10)
DEFAULT_SPLITS = 5  # glm_winrate.GLM_INFO["length_controlled_v1"]["kwargs"]["n_splits"]
DEFAULT_LAMBDA = 0.2  # glm_winrate.GLM_INFO["length_controlled_v1"]["regularize_to_baseline_lambda"]
RANDOM_STATE = 123  # glm_winrate.fit_LogisticRegressionCV dflt_kwargs


# ----------------------------------------------------------------------------- encodings
def from_alpaca_eval(preference: Sequence[float] | np.ndarray | pd.Series) -> np.ndarray:
    """AlpacaEval preferences (1 = baseline wins, 2 = model wins, 0/1.5 = tie) -> p in [0, 1].

    Values outside [1, 2] (after 0 -> 1.5) and NaN become NaN; callers drop them.
    """
    x = np.asarray(pd.to_numeric(pd.Series(preference), errors="coerce"), dtype=float)
    x = np.where(x == 0.0, 1.5, x)
    ok = (x >= 1.0) & (x <= 2.0)
    return np.where(ok, x - 1.0, np.nan)


def to_probability(preferences, encoding: str = "prob") -> np.ndarray:
    """Preferences as P(model wins) in [0, 1]; ``encoding`` is "prob" or "alpaca_eval"."""
    if encoding == "alpaca_eval":
        return from_alpaca_eval(preferences)
    if encoding != "prob":
        raise ValueError(f"encoding must be 'prob' or 'alpaca_eval', not {encoding!r}")
    p = np.asarray(preferences, dtype=float)
    bad = np.isfinite(p) & ((p < 0) | (p > 1))
    if bad.any():
        raise ValueError(
            f"{int(bad.sum())} preferences outside [0, 1] with encoding='prob' "
            "(AlpacaEval's 1..2 values need encoding='alpaca_eval')"
        )
    return p


# ----------------------------------------------------------------------------- raw / discrete
def win_rates(preferences, encoding: str = "prob") -> dict[str, float]:
    """Raw (weighted) and discrete win rates, in percent, with the raw rate's standard error.

    Returns ``win_rate, standard_error, discrete_win_rate, n_wins, n_wins_base, n_draws, n_total``,
    the fields of AlpacaEval's leaderboard. NaN / invalid preferences are dropped (n_total counts
    the rest); a draw is p = ½ exactly.
    """
    p = to_probability(preferences, encoding)
    p = p[np.isfinite(p)]
    n = len(p)
    if n == 0:
        raise ValueError("no valid preferences")
    wins, losses, draws = int((p > 0.5).sum()), int((p < 0.5).sum()), int((p == 0.5).sum())
    return {
        "win_rate": float(p.mean() * 100),
        "standard_error": float(p.std(ddof=1) / np.sqrt(n) * 100) if n > 1 else float("nan"),
        "discrete_win_rate": float((wins + 0.5 * draws) / n * 100),
        "n_wins": wins,
        "n_wins_base": losses,
        "n_draws": draws,
        "n_total": n,
    }


# ----------------------------------------------------------------------------- LC GLM
def logistic(x):
    """σ(x) = 1 / (1 + e^{−x}), computed stably (as glm_winrate._logistic)."""
    return np.exp(-np.logaddexp(0, -np.asarray(x, dtype=float)))


def std_delta_len(len_model, len_baseline) -> np.ndarray:
    """(len_baseline − len_model) / sd(len_baseline − len_model): the code's sign; sd with ddof = 1.

    A zero sd (all differences equal) gives a zero feature rather than a division by zero.
    """
    d = np.asarray(len_baseline, dtype=float) - np.asarray(len_model, dtype=float)
    sd = d.std(ddof=1) if len(d) > 1 else 0.0
    return d / sd if sd > 0 else np.zeros_like(d)


def gamed_rows(
    preferences, len_model, len_baseline, instruction_difficulty=None, encoding: str = "prob"
) -> pd.DataFrame:
    """Rows of a gamed baseline (e.g. the baseline prompted to be verbose) vs the baseline.

    Pass one call per gamed variant and ``pd.concat`` them; :func:`fit_lc_glm` gives these rows no
    model term and weight λ/2 each (the official code has two gamed variants).
    """
    p = to_probability(preferences, encoding)
    df = pd.DataFrame({"preference": p, "std_delta_len": std_delta_len(len_model, len_baseline)})
    if instruction_difficulty is not None:
        df["difficulty"] = np.asarray(instruction_difficulty, dtype=float)
    return df


@dataclass
class GLMFit:
    """A fitted LC GLM: coefficients in the published-weights convention, plus fit diagnostics."""

    length: float  # φ: coefficient of tanh((len_b − len_m)/sd)
    difficulty: float  # ψ (0 when the γ term is dropped)
    model: float  # θ
    C: float  # chosen inverse regularisation strength
    uses_difficulty: bool
    cv_scores: dict = field(default_factory=dict)

    def as_weights(self) -> dict[str, float]:
        """The row this model would have in alpaca_eval's weights CSV."""
        return {
            WEIGHT_COLUMNS["length"]: self.length,
            WEIGHT_COLUMNS["difficulty"]: self.difficulty,
            WEIGHT_COLUMNS["model"]: self.model,
        }

    def predict(self, instruction_difficulty=None, n: int | None = None, length_feature=None) -> np.ndarray:
        """Per-instruction P(model wins); the length term is 0 unless ``length_feature`` is given."""
        if self.uses_difficulty:
            g = np.asarray(instruction_difficulty, dtype=float)
        else:
            g = np.zeros(n if n is not None else (len(length_feature) if length_feature is not None else 1))
        z = self.model + self.difficulty * g
        if length_feature is not None:
            z = z + self.length * np.tanh(np.asarray(length_feature, dtype=float))
        return logistic(z)


def _weighted_soft_logloss(p_true, q, w=None) -> float:
    """alpaca_eval's logloss_continuous: −mean_i w_i [p_i log q_i + (1−p_i) log(1−q_i)] (clipped)."""
    eps = 1e-15
    q = np.clip(q, eps, 1 - eps)
    ll = p_true * np.log(q) + (1 - p_true) * np.log(1 - q)
    if w is not None:
        ll = ll * w
    return float(-np.mean(ll))


def fit_soft_logistic_cv(
    X: np.ndarray,
    p: np.ndarray,
    sample_weight: np.ndarray | None = None,
    *,
    Cs: int | Sequence[float] = DEFAULT_CS,
    n_splits: int = DEFAULT_SPLITS,
    random_state: int = RANDOM_STATE,
) -> tuple[np.ndarray, float, dict]:
    """L1 logistic regression on soft labels with grouped CV over C (alpaca_eval's fit, re-implemented).

    Each row i is duplicated: (x_i, y=1, weight p_i·w_i) and (x_i, y=0, weight (1−p_i)·w_i). For each C
    and each of ``n_splits`` GroupKFold folds (both copies of a row in one group) liblinear is fit on the
    training copies and scored by the weighted soft log loss on the held-out copies; the C with the
    best summed score (first on ties, as ``LogisticRegressionCV``) is refit on all rows.
    Returns (coef, C, {C: mean held-out loss}).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold

    X = np.asarray(X, dtype=float)
    p = np.asarray(p, dtype=float)
    n = len(p)
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    Xd = np.concatenate([X, X], axis=0)
    yd = np.concatenate([np.ones(n, dtype=int), np.zeros(n, dtype=int)])
    pd_ = np.concatenate([p, 1 - p])  # "true_prob" of each copy
    wd = np.concatenate([w, w])
    sw = pd_ * wd
    groups = np.concatenate([np.arange(n), np.arange(n)])
    Cs_ = np.logspace(-4, 4, Cs) if np.isscalar(Cs) else np.asarray(Cs, dtype=float)

    def make(C, rs=random_state):
        return LogisticRegression(C=C, l1_ratio=1.0, solver="liblinear", fit_intercept=False, random_state=rs)

    scores = np.zeros((n_splits, len(Cs_))) if n_splits > 0 else None
    if n_splits > 0:
        for k, (tr, te) in enumerate(GroupKFold(n_splits=n_splits).split(Xd, yd, groups)):
            # sklearn's path draws one liblinear seed per C from one RandomState per fold; do the same so
            # that the held-out scores (and hence the chosen C) match LogisticRegressionCV bit for bit
            rs = np.random.RandomState(random_state)
            for j, C in enumerate(Cs_):
                m = make(C, rs).fit(Xd[tr], yd[tr], sample_weight=sw[tr])
                q = m.predict_proba(Xd[te])[:, 1]
                # the scorer sees y_true = p for the label-1 copy and 1 − (1 − p) = p for the label-0 copy
                y_true = np.where(yd[te] == 1, pd_[te], 1 - pd_[te])
                w_te = wd[te] if sample_weight is not None else None
                scores[k, j] = -_weighted_soft_logloss(y_true, q, w_te)
        best = int(scores.sum(axis=0).argmax())
        C = float(Cs_[best])
    else:
        C = float(Cs_[0]) if not np.isscalar(Cs) else 100.0
    model = make(C).fit(Xd, yd, sample_weight=sw)
    cv = {float(c): float(-scores[:, j].mean()) for j, c in enumerate(Cs_)} if scores is not None else {}
    return model.coef_[0].copy(), C, cv


def fit_lc_glm(
    preferences,
    len_model,
    len_baseline,
    instruction_difficulty=None,
    *,
    gamed: pd.DataFrame | None = None,
    reg_lambda: float | None = DEFAULT_LAMBDA,
    encoding: str = "prob",
    Cs=DEFAULT_CS,
    n_splits: int = DEFAULT_SPLITS,
    random_state: int = RANDOM_STATE,
) -> GLMFit:
    """Fit the LC GLM of one model against its baseline (see the module docstring).

    ``preferences``: per instruction, P(model wins) (or AlpacaEval values with
    ``encoding="alpaca_eval"``); NaNs are dropped. ``len_model``/``len_baseline``: output lengths in
    characters (alpaca_eval issue #270). ``instruction_difficulty``: γ_x per row, or None to drop the
    term. ``gamed``: rows from :func:`gamed_rows` (used only when ``reg_lambda`` is truthy).
    """
    p = to_probability(preferences, encoding)
    sdl = std_delta_len(len_model, len_baseline)  # sd over all rows, as the code (before NaN filter)
    use_g = instruction_difficulty is not None
    cols = [np.tanh(sdl)]
    if use_g:
        g = np.asarray(instruction_difficulty, dtype=float)
        if len(g) != len(p):
            raise ValueError(f"instruction_difficulty has {len(g)} values for {len(p)} preferences")
        cols.append(g)
    cols.append(np.ones(len(p)))
    X = np.column_stack(cols)
    w = None
    if reg_lambda and gamed is not None and len(gamed):
        gcols = [np.tanh(gamed["std_delta_len"].to_numpy(float))]
        if use_g:
            if "difficulty" not in gamed:
                raise ValueError("gamed rows need a 'difficulty' column when instruction_difficulty is given")
            gcols.append(gamed["difficulty"].to_numpy(float))
        gcols.append(np.zeros(len(gamed)))
        X = np.concatenate([np.column_stack(gcols), X], axis=0)  # gamed rows first, as pd.concat([df_gamed, df])
        p = np.concatenate([gamed["preference"].to_numpy(float), p])
        w = np.concatenate([np.full(len(gamed), reg_lambda / 2), np.ones(len(sdl))])
    keep = np.isfinite(p)
    coef, C, cv = fit_soft_logistic_cv(
        X[keep], p[keep], None if w is None else w[keep], Cs=Cs, n_splits=n_splits, random_state=random_state
    )
    return GLMFit(
        length=float(coef[0]),
        difficulty=float(coef[1]) if use_g else 0.0,
        model=float(coef[-1]),
        C=C,
        uses_difficulty=use_g,
        cv_scores=cv,
    )


def lc_win_rate(
    preferences,
    len_model,
    len_baseline,
    instruction_difficulty=None,
    gamed=None,
    *,
    reg_lambda: float | None = DEFAULT_LAMBDA,
    encoding: str = "prob",
    Cs=DEFAULT_CS,
    n_splits: int = DEFAULT_SPLITS,
    random_state: int = RANDOM_STATE,
) -> dict[str, Any]:
    """Raw and length-controlled win rates of one model vs its baseline, from per-instruction judgments.

    Works on plain arrays and any instruction set: e.g. a toy judge's P(model wins) in [0, 1]
    (``encoding="prob"``, the default; 1 = model wins) with output lengths in any consistent unit.
    Without ``instruction_difficulty`` the γ term is dropped (issue #316); without ``gamed`` rows there
    is no regularisation toward the gamed baselines.

    Returns ``win_rate, standard_error, discrete_win_rate, n_total, lc_win_rate, lc_standard_error,
    glm`` (a :class:`GLMFit`) and ``glm_preference`` (per-row LC predictions; NaN rows excluded).
    """
    p = to_probability(preferences, encoding)
    out: dict[str, Any] = dict(win_rates(p))
    fit = fit_lc_glm(
        p,
        len_model,
        len_baseline,
        instruction_difficulty,
        gamed=gamed,
        reg_lambda=reg_lambda,
        Cs=Cs,
        n_splits=n_splits,
        random_state=random_state,
    )
    keep = np.isfinite(p)
    g = None if instruction_difficulty is None else np.asarray(instruction_difficulty, dtype=float)[keep]
    q = fit.predict(g, n=int(keep.sum()))
    out.update(
        lc_win_rate=float(q.mean() * 100),
        lc_standard_error=float(q.std(ddof=1) / np.sqrt(len(q)) * 100) if len(q) > 1 else float("nan"),
        glm=fit,
        glm_preference=q,
    )
    return out


# ----------------------------------------------------------------------------- published weights
def load_weights(path) -> pd.DataFrame:
    """alpaca_eval's weights CSV -> DataFrame indexed by model with columns length, difficulty, model."""
    w = pd.read_csv(path, index_col=0)
    inv = {v: k for k, v in WEIGHT_COLUMNS.items()}
    return w.rename(columns=inv)[["length", "difficulty", "model"]]


def lc_from_weights(
    weights: pd.DataFrame | Mapping,
    model: str,
    instruction_difficulty,
    *,
    baseline: str = "gpt4_1106_preview",
    per_instruction: bool = False,
):
    """LC win rate (%) of ``model`` vs ``baseline`` from stored GLM weights (``predict_winrate``).

    LC(m, b) = 100 · mean_x σ((θ_m − θ_b) + (ψ_m − ψ_b) γ_x); antisymmetric: LC(m,b) = 100 − LC(b,m).
    """
    wm, wb = weights.loc[model], weights.loc[baseline]
    q = logistic(
        (wm["model"] - wb["model"])
        + (wm["difficulty"] - wb["difficulty"]) * np.asarray(instruction_difficulty, dtype=float)
    )
    return q if per_instruction else float(q.mean() * 100)


def is_extreme_change(win_rate: float, lc: float, abs_diff: float = 10, rel_diff: float = 4) -> bool:
    """alpaca_eval's sanity warning: LC below min(WR − WR/4, WR − 10) or above max(WR + (100−WR)/4, WR + 10)."""
    too_small = lc < min(win_rate - win_rate / rel_diff, win_rate - abs_diff)
    too_large = lc > max(win_rate + (100 - win_rate) / rel_diff, win_rate + abs_diff)
    return bool(too_small or too_large)


# ----------------------------------------------------------------------------- gameability
def gameability(lb: pd.DataFrame, metric: str, *, raw: str = "win_rate") -> dict[str, float]:
    """Length gameability of a leaderboard metric (LC paper §4.1; notebook ``length_controlled.ipynb``).

    ``lb``: index = model names incl. ``<m>_verbose`` / ``<m>_concise`` variants; columns ``raw`` and
    ``metric``. For the models m with both variants, the relative std (pandas std, ddof = 1, over the
    pair {m, m_verbose}, divided by the pair's mean) is averaged over models, multiplied by
    w = std(raw)/std(metric) across the non-verbose rows (so shrinking a metric's scale cannot hide
    gameability) and by 100. Likewise for conciseness; "gameability" is the mean of the two.
    """
    idx = list(lb.index)
    gamed = [m for m in idx if f"{m}_verbose" in lb.index and f"{m}_concise" in lb.index]
    non_verbose = [m for m in idx if "_verbose" not in m]
    weight = lb.loc[non_verbose, raw].std() / lb.loc[non_verbose, metric].std()

    def rel(suffix):
        vals = []
        for m in gamed:
            pair = lb.loc[[m, f"{m}{suffix}"], metric]
            vals.append(pair.std() / pair.mean())
        return float(np.mean(vals) * weight * 100)

    v, c = rel("_verbose"), rel("_concise")
    return {
        "verbosity": v,
        "conciseness": c,
        "gameability": (v + c) / 2,
        "metric_weight": float(weight),
        "n_models": len(gamed),
    }
