"""Training curves of the real path in the tools people use: every trainer (SFT, the preference hook, GRPO, the
paper-scale launch) reports through TRL's ``report_to``, TensorBoard by default with its event files under
``build/logs/<paper>/<scale>/<run>`` (offline; ``tensorboard --logdir build/logs``), W&B or Trackio by override
(``scale.logging.report_to=wandb|trackio``), nothing with ``none``. TRL's per-step log also stays in each stage's
``history.json``."""

from __future__ import annotations

import importlib.util
import os
import sys
import time
from pathlib import Path

from ..core.config import ConfigError
from ..core.paths import ROOT

TENSORBOARD_PIN = "tensorboard==2.21.0"  # the version to add to requirements.lock (not installed here)
_warned: set = set()


def logs_root() -> Path:
    return Path(os.environ.get("REPLICATE_BUILD_DIR", ROOT / "build")) / "logs"


def report_to(cfg) -> list[str]:
    """``scale.logging.report_to`` as TRL's list; TensorBoard falls back to none, with one line saying so, when the
    ``tensorboard`` package is absent (curves then live in ``history.json`` only)."""
    want = str((cfg.scale.get("logging") or {}).get("report_to", "tensorboard"))
    if want not in ("tensorboard", "wandb", "trackio", "none"):
        raise ConfigError(f"scale.logging.report_to must be tensorboard, wandb, trackio or none, got {want!r}")
    if want == "none":
        return []
    module = {"tensorboard": "tensorboard", "wandb": "wandb", "trackio": "trackio"}[want]
    if importlib.util.find_spec(module) is None and not (
        want == "tensorboard" and importlib.util.find_spec("tensorboardX")
    ):
        if want != "tensorboard":
            raise ConfigError(f"scale.logging.report_to={want} but the {want} package is not installed")
        if want not in _warned:
            _warned.add(want)
            print(
                f"note: training curves are not written to TensorBoard: the tensorboard package is not installed "
                f"(pip install {TENSORBOARD_PIN}); they stay in each stage's history.json "
                "(scale.logging.report_to=none silences this)",
                file=sys.stderr,
            )
        return []
    return [want]


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
