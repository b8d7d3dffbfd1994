"""Reward-model training on judge-labelled pairs through TRL's ``RewardTrainer`` (Bradley–Terry loss
−log σ(r(x, y_w) − r(x, y_l)); InstructGPT §3.5). The network is ``models.reward``'s scalar-head model."""

from __future__ import annotations

from pathlib import Path

from datasets import Dataset
from trl import RewardConfig, RewardTrainer

from .run_logs import without_printer
from .trl_hook import common_args, log_history, quiet_libraries


def train_reward_model(
    model,
    tokenizer,
    dataset: Dataset,
    hw,
    *,
    seed: int,
    lr: float,
    batch_size: int,
    epochs: float,
    max_steps: int | None,
    out: Path,
):
    """``dataset``: TRL's conversational preference format (``training.data.preference_dataset``)."""
    quiet_libraries()
    args = RewardConfig(
        **common_args(
            hw,
            seed=seed,
            lr=lr,
            batch_size=batch_size,
            output_dir=str(out / "trainer"),
            max_steps=max_steps,
            epochs=epochs,
            warmup=0.1,
        ),
        max_length=tokenizer.model_max_length,
    )
    trainer = without_printer(RewardTrainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer))
    trainer.train()
    return trainer.model, log_history(trainer)
