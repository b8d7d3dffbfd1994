"""Paper-scale training entry point: the paper's model and dataset by Hub id, multi-GPU via accelerate.

    accelerate launch --config_file conf/accelerate/zero3.yaml -m replicate.real.launch simpo \\
        scale=paper hardware=multi_gpu_zero3 setup=simpo_llama3_instruct

It runs the same ``PreferenceTrainer`` hook as the tiny scale; only the model, data and batch
geometry change. Gradient accumulation is derived from the global batch (must divide evenly).
Offline, the same code path runs on a locally saved checkpoint and dataset (tests/test_launch.py).
"""

from __future__ import annotations

import sys
from pathlib import Path

from ..core.config import compose, derive_grad_accum
from .data import open_dataset


def build_trainer(cfg, *, output_dir: str, max_steps: int | None = None):
    from trl import DPOConfig

    from ..models.lm import load_pretrained
    from ..training.trl_hook import PreferenceTrainer, common_args

    s, hw = cfg.setup, cfg.hardware
    accum = derive_grad_accum(s.global_batch_size, s.per_device_batch_size, hw.num_devices)
    model, tok = load_pretrained(
        s.model, dtype="bfloat16" if hw.bf16 else "float32", attn_implementation=s.get("attn_implementation")
    )
    train = open_dataset(s.dataset, s.train_split)
    keep = [c for c in ("prompt", "chosen", "rejected") if c in train.column_names]
    train = train.select_columns(keep)
    args = DPOConfig(
        **common_args(
            hw,
            seed=int(cfg.seed),
            lr=float(s.lr),
            batch_size=int(s.per_device_batch_size),
            output_dir=output_dir,
            max_steps=max_steps,
            epochs=float(s.epochs),
            warmup=float(s.warmup_ratio),
            scheduler=s.scheduler,
        ),
        gradient_accumulation_steps=accum,
        max_length=int(s.max_length),
        beta=float(s.beta),
    )
    loss_kwargs = {"beta": float(s.beta), "gamma": float(s.gamma)} if s.loss == "simpo" else {"beta": float(s.beta)}
    return PreferenceTrainer(
        model=model, args=args, train_dataset=train, processing_class=tok, loss=s.loss, loss_kwargs=loss_kwargs
    ), accum


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
