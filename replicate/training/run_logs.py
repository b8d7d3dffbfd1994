"""Training curves of the toy-world trainers in the tools people use, through TRL's ``report_to``.

Every toy trainer (SFT, the preference hook, reward models, iterative rounds, GRPO) logs every ``LOGGING_STEPS``
steps (GRPO every step) to TensorBoard by default, offline, with its event files under
``build/logs/tensorboard/<stage>/<key>``: the cache stage the run belongs to and the first 16 characters of its cache
key (``tensorboard --logdir build/logs``). ``REPLICATE_REPORT_TO=wandb`` or ``trackio`` sends them there instead,
``none`` turns them off (the tests do, but one). The real-model path keeps its own setting, ``scale.logging``
(``replicate/real/logs.py``).

Logging reads a run and never changes it: the trained weights are bit-identical with and without it
(``tests/test_run_logs.py``). So where the curves go is not part of any cache key, and this module is not in
``training.toy_stages.CODE``: a run found in the cache is not re-trained to log it (its curves are where the run
that computed it wrote them).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

from ..core.paths import build_dir

LOGGING_STEPS = 10  # toy runs are 30–600 steps: a curve of 3–60 points
TARGETS = ("tensorboard", "wandb", "trackio", "none")
TENSORBOARD_PIN = "tensorboard==2.21.0"  # as requirements.lock pins it
_noted: set[str] = set()


def resolve(want: str, setting: str, *, noted: set[str] | None = None, error: type[Exception] = ValueError) -> str:
    """A ``report_to`` target, named by ``setting`` in messages, checked before any training: one of ``TARGETS`` with
    its package importable (TensorBoard through tensorboardX too). An absent tensorboard falls back to ``none`` with
    one note per process (``noted``: the targets already noted); wandb or trackio absent is an ``error``. Shared by
    the toy trainers (:func:`target`) and the real path (``real/logs.py``)."""
    if want not in TARGETS:
        raise error(f"{setting}={want!r}: choose one of {', '.join(TARGETS)}")
    if want == "none":
        return want
    if importlib.util.find_spec(want) is None and not (
        want == "tensorboard" and importlib.util.find_spec("tensorboardX")
    ):
        if want != "tensorboard":
            raise error(f"{setting}={want} but the {want} package is not installed")
        noted = _noted if noted is None else noted
        if want not in noted:  # a bare environment still trains, without curves
            noted.add(want)
            print(
                f"note: training curves are not written to TensorBoard: the tensorboard package is not installed "
                f"(pip install {TENSORBOARD_PIN}); {setting}=none silences this",
                file=sys.stderr,
            )
        return "none"
    return want


def target() -> str:
    """``REPLICATE_REPORT_TO`` (default ``tensorboard``), checked by :func:`resolve`."""
    return resolve(os.environ.get("REPLICATE_REPORT_TO", "tensorboard").strip().lower(), "REPLICATE_REPORT_TO")


def run_name(output_dir: str | Path) -> str:
    """``<stage>/<key>`` for a trainer whose output directory lies in a cache stage being computed
    (``core.io.cached`` fills ``<cache>/<stage>/.<key>.<random>``), else the output directory's parent name."""
    parts = Path(output_dir).parts
    for i in range(len(parts) - 1, 0, -1):
        name = parts[i]
        if name.startswith(".") and name.count(".") >= 2:
            return f"{parts[i - 1]}/{name.split('.')[1][:16]}"
    return Path(output_dir).parent.name or "run"


def report_args(output_dir: str | Path) -> dict:
    """The TrainingArguments for a toy run's curves: ``report_to`` and ``logging_steps``. For TensorBoard it also
    points transformers' callback at the run's event directory (it reads ``TENSORBOARD_LOGGING_DIR`` when the
    trainer is built, which follows at once)."""
    want = target()
    if want == "none":
        return {"report_to": [], "logging_steps": 10_000}
    if want == "tensorboard":
        os.environ["TENSORBOARD_LOGGING_DIR"] = str(build_dir() / "logs" / "tensorboard" / run_name(output_dir))
    return {"report_to": [want], "logging_steps": LOGGING_STEPS}


def without_printer(trainer):
    """The trainer without transformers' PrinterCallback, which (with tqdm off, as here) prints every log dict."""
    from transformers import PrinterCallback

    trainer.remove_callback(PrinterCallback)
    return trainer
