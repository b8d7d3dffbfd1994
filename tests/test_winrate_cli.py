"""``replicate winrate``: any AlpacaEval-format annotations file -> win rates (text and --json)."""

import json

import numpy as np
import pytest

from replicate.cli.main import main
from replicate.metrics import winrate as W


def _write(tmp_path, records, name="ann.json"):
    p = tmp_path / name
    p.write_text(json.dumps(records))
    return str(p)


def _toy_records(n=60, seed=0, generator=None):
    rng = np.random.default_rng(seed)
    recs = []
    for i in range(n):
        lb, lm = int(rng.integers(20, 400)), int(rng.integers(20, 400))
        p = float(W.logistic(0.3 + 1.5 * np.tanh((lm - lb) / 150) + rng.normal(0, 0.5)))
        r = {"instruction": f"custom task {i}", "output_1": "b" * lb, "output_2": "m" * lm, "preference": 1 + p}
        if generator:
            r["generator_2"] = generator
        recs.append(r)
    recs[0]["preference"] = None  # unjudged rows are dropped
    recs[1]["preference"] = 0  # legacy tie
    return recs


def test_json_output_on_custom_instructions(tmp_path, capsys):
    recs = _toy_records()
    assert main(["winrate", _write(tmp_path, recs), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    prefs = [r["preference"] for r in recs]
    ref = W.win_rates([np.nan if p is None else p for p in prefs], encoding="alpaca_eval")
    assert out["win_rate"] == pytest.approx(ref["win_rate"]) and out["n_total"] == 59 and out["n_dropped"] == 1
    assert out["discrete_win_rate"] == pytest.approx(ref["discrete_win_rate"])
    assert out["glm"] == "minimal" and ("not in the AlpacaEval" in out["note"] or "bundle" in out["note"])
    assert out["avg_length"] == pytest.approx(np.mean([len(r["output_2"]) for r in recs]))
    for k in ("standard_error", "length_controlled_winrate", "lc_standard_error"):
        assert np.isfinite(out[k])


def test_text_output(tmp_path, capsys):
    assert main(["winrate", _write(tmp_path, _toy_records())]) == 0
    text = capsys.readouterr().out
    assert "win rate (weighted)" in text and "length-controlled (LC)" in text and "average length" in text


def test_bad_inputs_exit_2_with_message(tmp_path, capsys):
    assert main(["winrate", str(tmp_path / "missing.json")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["winrate", _write(tmp_path, [{"instruction": "x", "preference": 1.5}])]) == 2
    assert "output_1" in capsys.readouterr().err
    mixed = _toy_records(10, generator="a") + _toy_records(10, seed=1, generator="b")
    path = _write(tmp_path, mixed)
    assert main(["winrate", path]) == 2
    assert "--model" in capsys.readouterr().err
    assert main(["winrate", path, "--model", "a", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["n_total"] == 9
    assert main(["winrate", _write(tmp_path, _toy_records()), "--glm", "v1"]) == 2
    assert "--glm minimal" in capsys.readouterr().err


def test_nullmodel_file_matches_leaderboard(capsys, public_data):
    from replicate.worlds.public_data import data_path

    path = data_path("alpaca_eval/NullModel__weighted_alpaca_eval_gpt4_turbo__annotations.json", download=False)
    data_path("alpaca_eval/eval_set_805_with_gpt4_1106_preview_baseline_outputs.json", download=False)
    assert main(["winrate", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["win_rate"] == pytest.approx(76.91979180386511, abs=1e-6)  # leaderboard HEAD
    assert out["discrete_win_rate"] == pytest.approx(83.97515527950311, abs=1e-6)
    assert out["standard_error"] == pytest.approx(0.9090102449662572, abs=1e-6)
    assert out["avg_length"] == 872 and out["glm"] == "v1"
    assert abs(out["length_controlled_winrate"] - 86.45780691307947) < 1.0  # our refit approximates the official LC
