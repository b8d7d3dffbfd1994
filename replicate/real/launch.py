"""Paper-scale training entry point: the paper's model and dataset by Hub id, multi-GPU via accelerate.

    accelerate launch --config_file conf/accelerate/zero3.yaml -m replicate.real.launch simpo \\
        scale=paper hardware=multi_gpu_zero3 setup=simpo_llama3_instruct

It runs the same ``PreferenceTrainer`` hook as the tiny scale; only the model, data and batch
geometry change. Gradient accumulation is derived from the paper's global batch and the number of processes
actually launched (``WORLD_SIZE``), so the effective batch stays the paper's on any GPU count (SimPO issue #61: a
smaller effective batch moved LC 50.3 → 34.8); it must divide evenly. Rows are converted to TRL's conversational
format first (UltraFeedback-binarized repeats the user turn inside chosen and rejected). The run records its
curves (``logs``) and the sanity checks users compare against (``sanity.json``: the loss at step 0, ln 2 for a
reference-based loss, and whether the reward margins rise).
Offline, the same code path runs on a locally saved checkpoint and dataset (tests/test_launch.py).
"""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path

from transformers import TrainerCallback

from ..core.config import compose, derive_grad_accum
from ..core.io import atomic_write_json
from .data import open_dataset, to_conversational
from .logs import trainer_logs


def build_trainer(cfg, *, output_dir: str, max_steps: int | None = None):
    from trl import DPOConfig

    from ..models.lm import load_pretrained
    from ..training.trl_hook import PreferenceTrainer, common_args

    s, hw = cfg.setup, cfg.hardware
    devices, per_device = world_size(cfg), int(s.per_device_batch_size)
    accum = derive_grad_accum(s.global_batch_size, s.per_device_batch_size, devices)
    # bf16 weights only under DeepSpeed, whose bf16 optimizer keeps fp32 master weights; otherwise fp32 weights and
    # bf16 autocast, since AdamW on bf16 weights rounds updates at lr 3e-7..1e-6 away (fit.py's docstring)
    master_in_optimizer = bool(hw.bf16 and hw.get("accelerate_config"))
    model, tok = load_pretrained(
        s.model,
        dtype="bfloat16" if master_in_optimizer else "float32",
        attn_implementation=s.get("attn_implementation"),
    )
    train = open_dataset(s.dataset, s.train_split)
    train = train.map(to_conversational, remove_columns=train.column_names)
    args = DPOConfig(
        **common_args(
            hw,
            seed=int(cfg.seed),
            lr=float(s.lr),
            batch_size=per_device,
            output_dir=output_dir,
            max_steps=max_steps,
            epochs=float(s.epochs),
            warmup=float(s.warmup_ratio),
            scheduler=s.scheduler,
        )
        | trainer_logs(cfg, Path(output_dir) / "trainer", run=f"{s.paper}-{s.loss}"),
        gradient_accumulation_steps=accum,
        max_length=int(s.max_length),
        beta=float(s.beta),
    )
    loss_kwargs = {"beta": float(s.beta), "gamma": float(s.gamma)} if s.loss == "simpo" else {"beta": float(s.beta)}
    trainer = PreferenceTrainer(
        model=model, args=args, train_dataset=train, processing_class=tok, loss=s.loss, loss_kwargs=loss_kwargs
    )
    assert per_device * devices * accum == int(s.global_batch_size)  # the paper's effective batch, on any GPU count
    trainer.add_callback(Sanity(Path(output_dir) / "sanity.json", reference_free=s.loss in REFERENCE_FREE))
    return trainer, accum


REFERENCE_FREE = ("simpo", "cpo", "orpo", "rrhf", "slic_hf")


def world_size(cfg) -> int:
    """The processes actually launched (accelerate sets ``WORLD_SIZE``), else ``hardware.num_devices``."""
    return int(os.environ.get("WORLD_SIZE") or cfg.hardware.num_devices)


class Sanity(TrainerCallback):
    """The cheap checks users compare a preference run against (SPPO issues #10, #26): the loss at the first
    logged step (≈ ln 2 = 0.693 for DPO-family losses with reference = policy at step 0) and the reward margins'
    trend (first vs last logged), written to ``sanity.json`` at the end of training."""

    def __init__(self, path: Path, *, reference_free: bool):
        self.path, self.reference_free, self.logs = Path(path), reference_free, []

    def on_log(self, args, state, control, logs=None, **kw):
        if logs and "loss" in logs:
            self.logs.append({"step": state.global_step, **{k: v for k, v in logs.items() if isinstance(v, float)}})

    def on_train_end(self, args, state, control, **kw):
        margins = [h[k] for h in self.logs for k in h if k.endswith("margins")]
        doc = {
            "first_loss": self.logs[0]["loss"] if self.logs else None,
            "ln2": math.log(2),
            "expect_ln2": not self.reference_free,  # a reference-free loss (SimPO) starts at its own margin term
            "margins_first_last": [margins[0], margins[-1]] if margins else None,
            "margins_rising": bool(margins and margins[-1] > margins[0]),
            "logged": self.logs,
        }
        if state.is_world_process_zero:
            atomic_write_json(self.path, doc)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:
        print("usage: python -m replicate.real.launch PAPER scale=paper setup=... [key=value ...]", file=sys.stderr)
        return 2
    cfg = compose(argv[0], argv[1:])
    if not cfg.get("setup"):
        print("error: choose a paper-scale setup, e.g. setup=simpo_llama3_instruct", file=sys.stderr)
        return 2
    out = cfg.get("output_dir") or str(
        Path("build") / "paper" / cfg.setup.paper
    )  # +output_dir=: the paper pipeline's run_dir
    trainer, _ = build_trainer(cfg, output_dir=str(out))
    trainer.train()
    trainer.save_model()
    return 0


if __name__ == "__main__":
    from ..core.config import cli_entry

    cli_entry(main)
