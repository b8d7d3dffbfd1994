"""Training curves of the real path in the tools people use: every trainer (SFT, the preference hook, GRPO, the
paper-scale launch) reports through TRL's ``report_to``, TensorBoard by default with its event files under
``build/logs/<paper>/<scale>/<run>`` (offline; ``tensorboard --logdir build/logs``), W&B or Trackio by override
(``scale.logging.report_to=wandb|trackio``), nothing with ``none``. TRL's per-step log also stays in each stage's
``history.json``."""

from __future__ import annotations

import os
import time
from pathlib import Path

from ..core.config import ConfigError
from ..core.paths import build_dir
from ..training.run_logs import TENSORBOARD_PIN as TENSORBOARD_PIN  # the note's pin, re-exported
from ..training.run_logs import resolve

_warned: set = set()


def logs_root() -> Path:
    return build_dir() / "logs"


def report_to(cfg) -> list[str]:
    """``scale.logging.report_to`` as TRL's list; TensorBoard falls back to none, with one line saying so, when the
    ``tensorboard`` package is absent (curves then live in ``history.json`` only); checked by the toy trainers' own
    ``training.run_logs.resolve``."""
    want = str((cfg.scale.get("logging") or {}).get("report_to", "tensorboard"))
    got = resolve(want, "scale.logging.report_to", noted=_warned, error=ConfigError)
    return [] if got == "none" else [got]


def trainer_logs(cfg, tmp: Path, run: str | None = None) -> dict:
    """TrainingArguments for the curves of one run: ``report_to``, ``logging_steps``, ``run_name``; TensorBoard's
    directory is set for the trainer about to be built (transformers reads ``TENSORBOARD_LOGGING_DIR`` then)."""
    name = run or Path(tmp).parent.name
    out = logs_root() / str(cfg.paper.name) / str(cfg.scale.name) / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"
    targets = report_to(cfg)
    if "tensorboard" in targets:
        out.mkdir(parents=True, exist_ok=True)
        os.environ["TENSORBOARD_LOGGING_DIR"] = str(out)
    steps = int((cfg.scale.get("logging") or {}).get("logging_steps", 5))
    return {"report_to": targets, "logging_steps": steps, "run_name": name}
