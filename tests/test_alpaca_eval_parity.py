"""Parity with the ``alpaca-eval`` package's own metric code (``alpaca_eval.metrics``), run offline.

alpaca-eval 0.6.6 imports ``pkg_resources`` at module level (only used inside two helpers we do not call);
setuptools ≥ 81 no longer ships it, so a stub is inserted when the real one is missing. The GLM's data
downloads (``hf_hub_download`` of ``df_gamed.csv`` / ``instruction_difficulty.csv``) are replaced by
local files built from the same inputs we give our implementation. alpaca_eval failing to import is an error.
"""

import sys
import types

import numpy as np
import pandas as pd
import pytest

from replicate.metrics import winrate as W

try:
    import pkg_resources  # noqa: F401
except ModuleNotFoundError:
    sys.modules["pkg_resources"] = types.ModuleType("pkg_resources")
pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")  # sklearn deprecations inside alpaca_eval
# A plain import: alpaca-eval is pinned in requirements.lock, so a failure to import it is an error, not a skip.
import alpaca_eval.metrics as ae_metrics  # noqa: E402
from alpaca_eval.metrics import glm_winrate as ae_glm  # noqa: E402


@pytest.fixture(autouse=True)
def _sklearn_config():
    # alpaca_eval calls sklearn.set_config(enable_metadata_routing=True) globally; keep it local to each test
    import sklearn

    with sklearn.config_context():
        yield


@pytest.fixture(scope="module")
def data(public_data):
    from replicate.papers import lc_alpacaeval as lc

    return {
        "ann": lc.load_annotations(),
        "gamma": lc.load_difficulty(),
        "weights": lc.load_weights("HEAD"),
        "gamed": lc.pseudo_gamed_rows(),
    }


def _synthetic(n=400, seed=0):
    rng = np.random.default_rng(seed)
    lm, lb, g = rng.integers(100, 3000, n), rng.integers(100, 3000, n), rng.normal(size=n)
    p = W.logistic(0.3 - 1.5 * np.tanh(W.std_delta_len(lm, lb)) + 0.8 * g + rng.normal(0, 0.5, n))
    return p, lm, lb, g


# ------------------------------------------------------------------------- win rates
def test_get_winrate_parity_synthetic_with_ties_and_nan():
    prefs = [1.0, 2.0, 1.5, 0, np.nan, 1.3, 1.9999, 1.5000001, 1.4999999]
    ref = ae_metrics.get_winrate(pd.DataFrame({"preference": prefs}))
    ours = W.win_rates(prefs, encoding="alpaca_eval")
    for k in ("win_rate", "standard_error", "discrete_win_rate"):
        assert ours[k] == pytest.approx(ref[k], abs=1e-12), k
    for k in ("n_wins", "n_wins_base", "n_total"):
        assert ours[k] == ref[k], k


def test_get_winrate_parity_on_real_annotations(data):
    ann = data["ann"]
    for m in ("NullModel", "gpt4_gamed", "alpaca-7b_verbose", "claude-2.1", "phi-2"):
        prefs = ann.loc[ann.model == m, "preference"]
        ref = ae_metrics.get_winrate(pd.DataFrame({"preference": prefs}))
        ours = W.win_rates(prefs, encoding="alpaca_eval")
        for k in ("win_rate", "standard_error", "discrete_win_rate"):
            assert ours[k] == pytest.approx(ref[k], abs=1e-12), (m, k)
        assert ours["n_wins"] == ref["n_wins"] and ours["n_total"] == ref["n_total"]


# ------------------------------------------------------------------------- the GLM fit
def _ref_fit(X, p, sample_weight=None):
    df = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    df["preference"] = p
    return ae_glm.fit_LogisticRegressionCV(df, "preference", sample_weight=sample_weight)


@pytest.mark.parametrize("with_gamed", [False, True])
def test_fit_parity_synthetic(with_gamed):
    p, lm, lb, g = _synthetic()
    X = np.column_stack([np.tanh(W.std_delta_len(lm, lb)), g, np.ones(len(p))])
    sw = None
    if with_gamed:
        q, glm_, glb, gg = _synthetic(n=200, seed=1)
        Xg = np.column_stack([np.tanh(W.std_delta_len(glm_, glb)), gg, np.zeros(len(q))])
        X, p = np.concatenate([Xg, X]), np.concatenate([q, p])
        sw = np.concatenate([np.full(len(q), 0.1), np.ones(len(lm))])
    ref = _ref_fit(X, p, sw)
    coef, C, cv = W.fit_soft_logistic_cv(X, p, sw)
    assert C == pytest.approx(float(ref.C_[0]))
    np.testing.assert_allclose(coef, ref.coef_[0], rtol=0, atol=1e-10)
    ref_scores = -np.asarray(ref.scores_[1]).mean(axis=0)
    np.testing.assert_allclose(list(cv.values()), ref_scores, rtol=1e-9)


def test_fit_parity_real_model_with_gamed_rows(data):
    ann, gamma, gamed = data["ann"], data["gamma"], data["gamed"]
    g = ann[ann.model == "gpt4_gamed"]
    fit = W.fit_lc_glm(
        g["preference"].to_numpy(),
        g["len_2"].to_numpy(),
        g["len_1"].to_numpy(),
        gamma.reindex(g["row"].to_numpy()).to_numpy(),
        gamed=gamed,
        encoding="alpaca_eval",
    )
    X = np.column_stack(
        [np.tanh(W.std_delta_len(g["len_2"], g["len_1"])), gamma.reindex(g["row"]).to_numpy(), np.ones(len(g))]
    )
    Xg = np.column_stack([np.tanh(gamed["std_delta_len"]), gamed["difficulty"], np.zeros(len(gamed))])
    p = np.concatenate([gamed["preference"], W.from_alpaca_eval(g["preference"])])
    sw = np.concatenate([np.full(len(gamed), 0.1), np.ones(len(g))])
    ref = _ref_fit(np.concatenate([Xg, X]), p, sw)
    np.testing.assert_allclose([fit.length, fit.difficulty, fit.model], ref.coef_[0], atol=1e-10)
    assert fit.C == pytest.approx(float(ref.C_[0]))


# ------------------------------------------------------------------------- the whole LC pipeline
def test_get_length_controlled_winrate_parity(tmp_path, monkeypatch):
    """alpaca_eval's end-to-end LC (featurization, gamed-row weights, prediction) vs lc_win_rate."""
    n = 805
    rng = np.random.default_rng(5)
    gamma = rng.normal(size=n)
    len_b, len_m = rng.integers(50, 3000, n), rng.integers(50, 3000, n)
    p = W.logistic(-0.5 - 1.8 * np.tanh(W.std_delta_len(len_m, len_b)) + 0.7 * gamma + rng.normal(0, 0.4, n))
    pref = 1 + p
    pref[3], pref[10] = 0.0, 1.5  # legacy tie and exact tie
    gamed_parts = []
    for k in range(2):  # two gamed baselines, as df_gamed.csv
        gl = rng.integers(50, 4000, n)
        q = W.logistic(-1.2 * np.tanh(W.std_delta_len(gl, len_b)) + 0.3 * gamma + rng.normal(0, 0.3, n))
        gamed_parts.append(
            pd.DataFrame(
                {
                    "preference": q,
                    "index": np.arange(n),
                    "std_delta_len": W.std_delta_len(gl, len_b),
                    "instruction_difficulty": gamma,
                    "not_gamed_baseline": False,
                    "model": f"gamed{k}",
                }
            )
        )
    df_gamed = pd.concat(gamed_parts, ignore_index=True)
    path = tmp_path / "df_gamed.csv"
    df_gamed.to_csv(path, index=False)
    monkeypatch.setattr(ae_glm, "hf_hub_download", lambda **kw: str(path))

    annotations = pd.DataFrame(
        {
            "instruction": [f"i{i}" for i in range(n)],
            "output_1": ["b" * int(x) for x in len_b],
            "output_2": ["m" * int(x) for x in len_m],
            "generator_1": "base",
            "generator_2": "model",
            "annotator": "weighted_alpaca_eval_gpt4_turbo",
            "preference": pref,
        }
    )
    ref = ae_glm.get_length_controlled_winrate(annotations, save_weights_dir=None, is_warn_extreme_changes=False)

    gamed = pd.concat(
        [W.gamed_rows(gp["preference"], np.zeros(n), np.zeros(n), gamma) for gp in gamed_parts], ignore_index=True
    )
    gamed["std_delta_len"] = df_gamed["std_delta_len"].to_numpy()  # use the file's standardization as is
    ours = W.lc_win_rate(pref, len_m, len_b, gamma, gamed, encoding="alpaca_eval")
    assert ours["lc_win_rate"] == pytest.approx(ref["length_controlled_winrate"], abs=1e-9)
    assert ours["lc_standard_error"] == pytest.approx(ref["lc_standard_error"], abs=1e-9)
    assert ours["win_rate"] == pytest.approx(ref["win_rate"], abs=1e-12)
    assert ours["discrete_win_rate"] == pytest.approx(ref["discrete_win_rate"], abs=1e-12)


def test_predict_winrate_parity(data, monkeypatch):
    gamma = data["gamma"]
    monkeypatch.setattr(ae_glm, "_get_instructions_difficulty", lambda: gamma)
    w_ours = data["weights"]
    w_ref = w_ours.rename(columns=W.WEIGHT_COLUMNS)
    for m, b in (("NullModel", "gpt4_1106_preview"), ("gpt4_gamed", "claude-2.1"), ("alpaca-7b", "gpt4_0613_concise")):
        ref = ae_glm.predict_winrate(m, b, weights=w_ref) * 100
        assert W.lc_from_weights(w_ours, m, gamma.to_numpy(), baseline=b) == pytest.approx(ref, abs=1e-10)


@pytest.mark.parametrize("wr,lc", [(20, 9.9), (20, 10.1), (50, 62.6), (50, 62.4), (3.7, 12.2), (76.9, 86.5)])
def test_extreme_change_parity(wr, lc):
    assert W.is_extreme_change(wr, lc) == bool(ae_glm.get_is_extreme_changes(wr, lc))
