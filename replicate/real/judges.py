"""Real judges of a model's answers against AlpacaEval's baseline answers, per instruction.

Every judge returns P(model ≻ baseline) in [0, 1] per instruction (``metrics.winrate``'s "prob" encoding):

* ``reward_model`` — a local sequence-classification reward model by Hub id or path:
  P = σ(r(x, y_model) − r(x, y_baseline)), the Bradley–Terry probability the reward model was trained on.
* ``alpaca_eval`` — AlpacaEval's own annotator (e.g. ``weighted_alpaca_eval_gpt4_turbo``) through the
  ``alpaca_eval`` package, imported only here and only when used; its API key is read from the environment
  by the package itself and never passes through our configs, logs or results.
* ``alpaca_eval`` with ``judge.annotations=FILE`` — a stub annotator that reads stored AlpacaEval annotations
  (``annotations.json``: instruction, preference) instead of calling the API: re-scoring a finished run, and
  the offline tests.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..core.config import ConfigError, to_dict
from ..core.io import atomic_write_json, cached, content_hash, read_json
from ..metrics.winrate import from_alpaca_eval
from .keys import id_key, stage_key
from .scorers import reward_model


def judge_preferences(
    judge_cfg,
    instructions: Sequence[str],
    outputs: Sequence[str],
    baseline_outputs: Sequence[str],
    *,
    generator: str = "model",
) -> np.ndarray:
    """P(model ≻ baseline) per instruction, by the judge ``judge_cfg`` (``conf/judge/``)."""
    kind = judge_cfg.get("kind")
    if kind == "reward_model":
        return reward_model_preferences(judge_cfg, instructions, outputs, baseline_outputs)
    if kind == "alpaca_eval":
        if judge_cfg.get("annotations"):
            return stored_preferences(judge_cfg.annotations, instructions)
        return alpaca_eval_preferences(judge_cfg, instructions, outputs, baseline_outputs, generator=generator)
    raise ConfigError(
        f"judge={judge_cfg.get('name')} is not a real judge; use judge=reward_model or judge=alpaca_eval"
    )


def reward_model_preferences(judge_cfg, instructions, outputs, baseline_outputs) -> np.ndarray:
    rm = reward_model(
        judge_cfg.name_or_path,
        dtype=str(judge_cfg.get("dtype", "float32")),
        batch_size=int(judge_cfg.get("batch_size", 16)),
        max_length=judge_cfg.get("max_length"),
    )
    r = rm([*instructions, *instructions], [*outputs, *baseline_outputs])
    n = len(instructions)
    return 1.0 / (1.0 + np.exp(-(r[:n] - r[n:])))


def stored_preferences(path: str | Path, instructions: Sequence[str]) -> np.ndarray:
    """The stub annotator: each instruction's stored AlpacaEval preference (1 = baseline, 2 = model) as P(model ≻ baseline)."""
    with open(path) as f:
        records = json.load(f)
    by_instruction = {r["instruction"]: r.get("preference") for r in records}
    missing = [x for x in instructions if x not in by_instruction]
    if missing:
        raise ConfigError(
            f"{path}: no stored annotation for {len(missing)} of {len(instructions)} instructions "
            f"(first: {missing[0][:60]!r})"
        )
    return from_alpaca_eval([by_instruction[x] for x in instructions])


def alpaca_eval_preferences(judge_cfg, instructions, outputs, baseline_outputs, *, generator: str) -> np.ndarray:
    if not os.environ.get(judge_cfg.api_key_env):
        raise ConfigError(
            f"judge=alpaca_eval needs the environment variable {judge_cfg.api_key_env} (the API key of "
            f"{judge_cfg.annotator}); or judge.annotations=FILE to read stored annotations"
        )
    try:
        from alpaca_eval.annotators import PairwiseAnnotator
    except ImportError as e:  # e.g. alpaca_eval 0.6.6 imports pkg_resources, gone from setuptools ≥ 81
        raise ConfigError(
            f"judge=alpaca_eval needs the alpaca_eval package, which does not import here ({e}); "
            "pip install alpaca-eval==0.6.2 'setuptools<81' (SimPO's README pins 0.6.2)"
        ) from None
    b = [
        {"instruction": x, "output": y, "generator": "gpt4_1106_preview"}
        for x, y in zip(instructions, baseline_outputs)
    ]
    m = [{"instruction": x, "output": y, "generator": generator} for x, y in zip(instructions, outputs)]
    annotations = PairwiseAnnotator(annotators_config=judge_cfg.annotator).annotate_head2head(outputs_1=b, outputs_2=m)
    return from_alpaca_eval([a.get("preference") for a in annotations])


def judge(
    cfg, instructions: list[str], outputs: list[str], baseline_outputs: list[str], *, tag: str = ""
) -> list[float]:
    """P(model ≻ baseline) per instruction by ``cfg.judge`` (cached: an API judge is paid for once)."""
    j = to_dict(cfg.judge)
    if j.get("annotations"):
        j["annotations"] = id_key(j["annotations"])
    key = stage_key(cfg, "judge", tag, j, content_hash([instructions, outputs, baseline_outputs]))

    def compute(tmp: Path):
        p = judge_preferences(cfg.judge, instructions, outputs, baseline_outputs, generator=tag or "model")
        atomic_write_json(tmp / "preferences.json", [None if p_ != p_ else float(p_) for p_ in p])

    return [
        float("nan") if v is None else v for v in read_json(cached("real-judge", key, compute) / "preferences.json")
    ]
