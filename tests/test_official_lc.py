"""The official LC win rate when the Hub's files can be had, and the offline estimate (saying so) when not: alpaca_eval's
own get_length_controlled_winrate, driven offline through a stub of the Hub file it downloads."""

import json

import numpy as np
import pandas as pd
import pytest

from replicate.metrics import alpaca_eval as AE
from replicate.worlds.public_data import data_path

NULL = "alpaca_eval/NullModel__weighted_alpaca_eval_gpt4_turbo__annotations.json"


def _annotations() -> pd.DataFrame:
    with open(data_path(NULL)) as f:
        return pd.DataFrame(json.load(f))[["instruction", "output_1", "output_2", "preference"]]


@pytest.fixture
def hub_stub(tmp_path, monkeypatch):
    """df_gamed.csv as the Hub would serve it, built from the bundle's recovered difficulty and pseudo-gamed rows (so
    the official call and our v1 estimate see the same inputs), served by a stand-in for ``hf_hub_download``."""
    from alpaca_eval.metrics import glm_winrate

    gamed = AE.pseudo_gamed_rows()
    ids = AE.load_lengths().index.to_numpy()
    n = len(ids)
    stub = pd.DataFrame(
        {
            "model": np.repeat(AE.GAMED_BASELINES, n),
            "index": np.tile(ids, len(AE.GAMED_BASELINES)),
            "preference": gamed["preference"].to_numpy(),
            "std_delta_len": gamed["std_delta_len"].to_numpy(),
            "instruction_difficulty": gamed["difficulty"].to_numpy(),
            "not_gamed_baseline": False,
        }
    )
    path = tmp_path / "df_gamed.csv"
    stub.to_csv(path, index=False)
    calls = []

    def download(repo_id, filename, repo_type=None, **kw):
        calls.append((repo_id, filename, repo_type))
        assert (repo_id, filename, repo_type) == (AE.HUB_REPO, AE.HUB_GAMED, "dataset")
        return str(path)

    monkeypatch.setattr(glm_winrate, "hf_hub_download", download)
    return calls


def test_offline_falls_back_to_the_estimate_and_says_so():
    out = AE.annotation_metrics(_annotations())
    assert out["glm"] == "v1" and out["note"].startswith("offline: LC from the recovered estimate")
    with pytest.raises(AE.AnnotationsError, match="--glm official is not possible"):
        AE.annotation_metrics(_annotations(), "official")


def test_with_the_hub_files_the_lc_is_alpaca_evals_own(hub_stub):
    df = _annotations()
    official = AE.annotation_metrics(df)
    assert official["glm"] == "official" and "note" not in official and hub_stub
    estimate = AE.annotation_metrics(df, "v1")
    # same difficulty and gamed rows on both sides: alpaca_eval's fit and ours agree closely
    assert official["length_controlled_winrate"] == pytest.approx(estimate["length_controlled_winrate"], abs=0.5)
    assert official["win_rate"] == estimate["win_rate"]
    # each row reaches alpaca_eval with its own instruction's difficulty, whatever the file's order
    from alpaca_eval.metrics import glm_winrate

    seen, original = [], glm_winrate._get_featurized_data

    def spy(*a, **kw):
        out = original(*a, **kw)
        seen.append(out[1])  # the design matrix alpaca_eval predicts the LC win rate on
        return out

    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setattr(glm_winrate, "_get_featurized_data", spy)
    try:
        shuffled = df.sample(frac=1.0, random_state=0)
        AE.annotation_metrics(shuffled)
    finally:
        monkeypatch.undo()
    with open(data_path("alpaca_eval/eval_set_805_with_gpt4_1106_preview_baseline_outputs.json")) as f:
        ids = {r["instruction"]: r["instruction_idx"] for r in json.load(f)}
    gamma = AE.load_difficulty()
    want = gamma.loc[shuffled["instruction"].map(ids).to_numpy()].to_numpy()
    assert np.allclose(np.asarray(seen[0]["instruction_difficulty"]), want)
