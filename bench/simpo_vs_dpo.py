"""SimPO C5 as a benchmark: SimPO vs vanilla DPO step time and peak memory, and our hook vs plain TRL.

Ratios are measured side by side in one run (interleaved, median of repeats), on the tiny toy-world
model and on a ~25M-parameter Llama. Peak memory: each configuration runs in its own subprocess and
reports its peak RSS above the RSS after setup (CPU) or ``torch.cuda.max_memory_allocated`` (GPU).

    make bench                       # both models
    make bench ARGS="--models tiny_llama --steps 5"

Paper (SimPO §4.4, Fig. 5c, Llama-3-Base on 8×H100): SimPO/DPO run time ≈ 0.8, peak memory ≈ 0.9.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "results"

# name -> (trainer, loss, precompute_ref): "vanilla" DPO runs its reference every step (SimPO's comparison)
CONFIGS = {
    "simpo": ("hook", "simpo", True),
    "dpo": ("hook", "dpo", False),
    "trl_dpo": ("trl", "sigmoid", False),
}


def _setup(model_name: str, batch_size: int, seq_len: int):
    import torch
    from datasets import Dataset

    from replicate.core.config import compose
    from replicate.models.lm import build_model
    from replicate.worlds.tokenizer import build_tokenizer

    torch.manual_seed(0)
    cfg = compose("simpo", [f"model={model_name}"])
    tok = build_tokenizer()
    model = build_model(cfg.model, tok, seed=0)
    n = batch_size * 4
    # fixed-length responses so every configuration sees identical batches
    resp = ("abcdefgh" * 20)[: seq_len // 2]
    ds = Dataset.from_dict(
        {
            "prompt": [[{"role": "user", "content": f"rev:{'abcdefgh'[i % 8]}bc"}] for i in range(n)],
            "chosen": [[{"role": "assistant", "content": resp}] for _ in range(n)],
            "rejected": [[{"role": "assistant", "content": resp[::-1]}] for _ in range(n)],
        }
    )
    return cfg, tok, model, ds


def _trainer(kind: str, loss: str, precompute: bool, cfg, tok, model, ds, batch_size: int):
    import torch
    from trl import DPOConfig, DPOTrainer

    from replicate.training.trl_hook import PreferenceTrainer, common_args

    args = DPOConfig(
        **common_args(
            cfg.hardware,
            seed=0,
            lr=1e-4,
            batch_size=batch_size,
            output_dir="/tmp/bench-trainer",
            max_steps=10,
            epochs=1,
            warmup=0.0,
        ),
        precompute_ref_log_probs=precompute,
        max_length=256,
        beta=0.1,
        loss_type=["sigmoid"],
    )
    if torch.cuda.is_available():
        args.bf16 = True
    if kind == "trl":
        import copy

        ref = (
            copy.deepcopy(model).eval() if not precompute else None
        )  # a model built in memory has no Hub id to reload
        tr = DPOTrainer(model=model, ref_model=ref, args=args, train_dataset=ds, processing_class=tok)
    else:
        kw = {"beta": 2.0, "gamma": 1.0} if loss == "simpo" else {"beta": 0.1}
        tr = PreferenceTrainer(
            model=model, args=args, train_dataset=ds, processing_class=tok, loss=loss, loss_kwargs=kw
        )
    tr.create_optimizer_and_scheduler(num_training_steps=10)
    tr.current_gradient_accumulation_steps = 1  # set by Trainer.train(); we call training_step directly
    tr.model.train()
    batch = next(iter(tr.get_train_dataloader()))
    return tr, batch


def _step(tr, batch):
    tr.training_step(tr.model, batch)
    tr.optimizer.step()
    tr.optimizer.zero_grad(set_to_none=True)


def worker(name: str, model_name: str, batch_size: int, seq_len: int, steps: int) -> dict:
    """One configuration in a fresh process: peak memory above the post-setup baseline."""
    import torch

    torch.set_num_threads(2)
    kind, loss, pre = CONFIGS[name]
    cfg, tok, model, ds = _setup(model_name, batch_size, seq_len)
    tr, batch = _trainer(kind, loss, pre, cfg, tok, model, ds, batch_size)
    cuda = torch.cuda.is_available()
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    else:
        _reset_peak_rss()  # the peak must be that of training steps, not of imports and model building
        base = _rss_kib()
    for _ in range(steps):
        _step(tr, batch)
    if cuda:
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() - base
    else:
        peak = (_rss_kib("VmHWM") - base) * 1024
    # the reference model's parameters count as memory DPO holds and SimPO does not
    ref = getattr(tr, "ref_model", None)
    ref_bytes = sum(p.numel() * p.element_size() for p in ref.parameters()) if ref is not None else 0
    return {"peak_bytes": int(peak), "ref_model_bytes": int(ref_bytes)}


def _rss_kib(field: str = "VmRSS") -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1])
    return 0


def _reset_peak_rss() -> None:
    """Linux: writing 5 to clear_refs resets VmHWM (the peak resident set) to the current RSS."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def time_side_by_side(model_name: str, batch_size: int, seq_len: int, steps: int, repeats: int) -> dict:
    """Interleaved timing in one process: the same batch through each configuration, ABCABC…"""
    import torch

    torch.set_num_threads(2)
    runs = {}
    for name, (kind, loss, pre) in CONFIGS.items():
        cfg, tok, model, ds = _setup(model_name, batch_size, seq_len)
        runs[name] = _trainer(kind, loss, pre, cfg, tok, model, ds, batch_size)
        _step(*runs[name])  # warm-up
    times = {n: [] for n in runs}
    for _ in range(repeats):
        for n, (tr, batch) in runs.items():
            t = time.perf_counter()
            for _ in range(steps):
                _step(tr, batch)
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            times[n].append((time.perf_counter() - t) / steps)
    return {n: statistics.median(v) for n, v in times.items()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=["tiny_llama", "llama_25m"])
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--seq-len", type=int, default=96)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--worker", nargs=2, metavar=("CONFIG", "MODEL"), help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.worker:
        print(json.dumps(worker(a.worker[0], a.worker[1], a.batch_size, a.seq_len, a.steps)))
        return 0
    report = {}
    for m in a.models:
        t = time_side_by_side(m, a.batch_size, a.seq_len, a.steps, a.repeats)
        mem = {}
        for name in CONFIGS:
            r = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--worker",
                    name,
                    m,
                    "--batch-size",
                    str(a.batch_size),
                    "--seq-len",
                    str(a.seq_len),
                    "--steps",
                    str(a.steps),
                ],
                capture_output=True,
                text=True,
                check=True,
                cwd=ROOT,
            )
            mem[name] = json.loads(r.stdout.strip().splitlines()[-1])
        report[m] = {
            "step_seconds": t,
            "memory": mem,
            "simpo_over_dpo_time": t["simpo"] / t["dpo"],
            "simpo_over_dpo_peak_memory": mem["simpo"]["peak_bytes"] / max(mem["dpo"]["peak_bytes"], 1),
            "simpo_over_dpo_memory_incl_ref_model": (mem["simpo"]["peak_bytes"] + mem["simpo"]["ref_model_bytes"])
            / max(mem["dpo"]["peak_bytes"] + mem["dpo"]["ref_model_bytes"], 1),
            "hook_over_trl_dpo_time": t["dpo"] / t["trl_dpo"],
        }
        r = report[m]
        print(
            f"{m:11} SimPO/DPO time {r['simpo_over_dpo_time']:.2f} (paper ≈0.8) | SimPO/DPO peak memory "
            f"{r['simpo_over_dpo_peak_memory']:.2f}, incl. reference weights {r['simpo_over_dpo_memory_incl_ref_model']:.2f} "
            f"(paper ≈0.9) | hook/TRL DPO time {r['hook_over_trl_dpo_time']:.3f} (target ≤ 1.05)"
        )
    import platform

    import torch

    report["_meta"] = {
        "device": "cuda" if torch.cuda.is_available() else f"cpu ({platform.machine()}, 2 threads)",
        "args": vars(a),
        "torch": torch.__version__,
    }
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / "simpo_vs_dpo.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(report, indent=2) + "\n")
    tmp.replace(path)
    print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
