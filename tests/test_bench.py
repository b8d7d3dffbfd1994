"""The benchmark script runs (its numbers are reported by `make bench`, never asserted here)."""
import importlib.util
from pathlib import Path


def test_bench_runs_side_by_side_on_the_tiny_model():
    path = Path(__file__).resolve().parent.parent / "bench" / "simpo_vs_dpo.py"
    spec = importlib.util.spec_from_file_location("bench_simpo_vs_dpo", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    t = bench.time_side_by_side("tiny_llama", batch_size=2, seq_len=16, steps=1, repeats=1)
    assert set(t) == {"simpo", "dpo", "trl_dpo"} and all(v > 0 for v in t.values())
    mem = bench.worker("dpo", "tiny_llama", batch_size=2, seq_len=16, steps=1)
    assert mem["ref_model_bytes"] > 0  # vanilla DPO holds a frozen reference; SimPO does not
    assert bench.worker("simpo", "tiny_llama", batch_size=2, seq_len=16, steps=1)["ref_model_bytes"] == 0


def test_tiny_profile_runs_at_ci_scale(tmp_path):
    path = Path(__file__).resolve().parent.parent / "bench" / "tiny_profile.py"
    spec = importlib.util.spec_from_file_location("bench_tiny_profile", path)
    prof = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(prof)
    out = tmp_path / "p.json"
    assert prof.main(["--settings", "instruct", "--methods", "sft", "simpo", "--gen-prompts", "4",
                      "--out", str(out), "scale=ci"]) == 0
    import json

    res = json.loads(out.read_text())
    assert set(res["train_and_eval_s"]) == {"instruct.sft", "instruct.simpo"}
    assert res["generation"]["batched_tokens_per_s"] > 0 and res["generation"]["plain_tokens_per_s"] > 0


def test_length_groups_bench_runs_at_ci_scale(tmp_path):
    path = Path(__file__).resolve().parent.parent / "bench" / "length_groups.py"
    spec = importlib.util.spec_from_file_location("bench_length_groups", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out = tmp_path / "g.json"
    assert bench.main(["--settings", "instruct", "--batches", "2", "--repeats", "1", "--out", str(out), "scale=ci"]) == 0
    import json

    r = json.loads(out.read_text())["settings"]["instruct"]
    assert 0 < r["tokens_real_share"]["one_forward"] <= r["tokens_real_share"]["4_groups"] <= 1
    assert r["ms_per_step"]["one_forward"] > 0 and r["ms_per_step"]["length_groups"] > 0
