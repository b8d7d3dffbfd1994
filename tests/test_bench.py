"""The benchmark scripts run and report what they measure (their timings are reported by `make bench`, never
asserted here). Minutes of smoke testing for a `make bench` user: marked slow, so `make check` runs them."""

import importlib.util
import json
import math
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def _bench(name: str):
    """A bench/ script loaded as a module (bench/ is not a package)."""
    spec = importlib.util.spec_from_file_location(
        f"bench_{name}", Path(__file__).resolve().parent.parent / "bench" / f"{name}.py"
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_bench_runs_side_by_side_on_the_tiny_model():
    bench = _bench("simpo_vs_dpo")
    t = bench.time_side_by_side("tiny_llama", batch_size=2, seq_len=16, steps=1, repeats=1)
    assert set(t) == {"simpo", "dpo", "trl_dpo"} and all(math.isfinite(v) for v in t.values())
    mem = bench.worker("dpo", "tiny_llama", batch_size=2, seq_len=16, steps=1)
    _, _, model, _ = bench._setup("tiny_llama", 2, 16)
    # vanilla DPO holds a frozen copy of the policy as its reference; SimPO none
    assert mem["ref_model_bytes"] == sum(p.numel() * p.element_size() for p in model.parameters())
    assert bench.worker("simpo", "tiny_llama", batch_size=2, seq_len=16, steps=1)["ref_model_bytes"] == 0


def test_tiny_profile_runs_at_ci_scale(tmp_path):
    prof = _bench("tiny_profile")
    out = tmp_path / "p.json"
    assert (
        prof.main(
            [
                "--settings",
                "instruct",
                "--methods",
                "sft",
                "simpo",
                "--gen-prompts",
                "4",
                "--out",
                str(out),
                "scale=ci",
            ]
        )
        == 0
    )
    res = json.loads(out.read_text())
    assert set(res["train_and_eval_s"]) == {"instruct.sft", "instruct.simpo"}
    assert all(math.isfinite(v) for v in res["generation"].values() if isinstance(v, float))


def test_length_groups_bench_runs_at_ci_scale(tmp_path):
    bench = _bench("length_groups")
    out = tmp_path / "g.json"
    assert (
        bench.main(["--settings", "instruct", "--batches", "2", "--repeats", "1", "--out", str(out), "scale=ci"]) == 0
    )
    r = json.loads(out.read_text())["settings"]["instruct"]
    # grouping rows by length can only cut padding: the real-token share rises (or stays)
    assert 0 < r["tokens_real_share"]["one_forward"] <= r["tokens_real_share"]["4_groups"] <= 1
    assert r["n_batches"] == 2 and set(r["ms_per_step"]) == {"one_forward", "length_groups", "trl_fused_head"}
