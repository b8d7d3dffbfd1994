"""``make gpu-check``: without CUDA the GPU form exits 2 with one line; the CPU form runs every real-model stage on a
tiny random Qwen2-shaped model and reports each stage's time, tokens/s and memory."""

import json

import pytest
import torch

from replicate.real import gpu_check


def test_without_cuda_it_exits_2_naming_the_cpu_form(capsys, tmp_path):
    if torch.cuda.is_available():
        pytest.skip("a GPU is visible")
    assert gpu_check.main([f"out={tmp_path}"]) == 2
    err = capsys.readouterr().err
    assert "no CUDA device is visible" in err and 'ARGS="device=cpu size=tiny"' in err
    assert gpu_check.main(["device=tpu"]) == 2 and gpu_check.main(["bogus"]) == 2


def test_cpu_form_runs_every_stage(tmp_path, monkeypatch):
    for k in ("REPLICATE_DATA_DIR", "REPLICATE_CACHE_DIR", "REPLICATE_BUILD_DIR", "REPLICATE_ASSUME_GPU"):
        monkeypatch.setenv(k, "")  # main() sets them for its run; monkeypatch restores them afterwards
    assert gpu_check.main(["device=cpu", "size=tiny", f"out={tmp_path}"]) == 0
    doc = json.loads((tmp_path / "gpu_check.json").read_text())
    stages = [r["stage"] for r in doc["stages"]]
    assert stages[:2] == ["fit: SimPO, lora", "fit: SimPO, full"] and "GRPO: one step (PAR shaping)" in stages
    assert {"generate: batched transformers", "judge: reward model", "iterative: one IterDPO round"} <= set(stages)
    assert stages[-1] == "pipeline: generate → judge → metrics"
    assert all(r["seconds"] > 0 and r["peak_memory_gib"] > 0 for r in doc["stages"])
    assert all(r["tokens_per_s"] > 0 for r in doc["stages"] if r["tokens"])
    assert doc["device"] == "cpu" and all(r["mfu"] is None for r in doc["stages"])  # no bf16 peak to compare with
    metrics = json.loads((tmp_path / "work" / "results" / "simpo" / "paper" / "metrics.json").read_text())
    assert metrics["extra"]["provenance"]["bos"]["template_ids"] == 0  # the check's tokenizer has no BOS, as Qwen2.5


def test_flop_accounting():
    m = gpu_check.Meter({"params": 100, "layers": 2, "width": 8}, "cpu")
    assert m.flops_per_token(context=10, factor=3) == 3 * (2 * 100 + 2 * 2 * 8 * 10)
    assert dict(gpu_check.PEAK_BF16)["H100"] == 989e12
