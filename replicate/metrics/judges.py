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

from ..core.config import ConfigError
from .winrate import from_alpaca_eval


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
    rm = RewardModel(
        judge_cfg.name_or_path,
        dtype=str(judge_cfg.get("dtype", "float32")),
        batch_size=int(judge_cfg.get("batch_size", 16)),
        max_length=judge_cfg.get("max_length"),
    )
    r = rm([*instructions, *instructions], [*outputs, *baseline_outputs])
    n = len(instructions)
    return 1.0 / (1.0 + np.exp(-(r[:n] - r[n:])))


class RewardModel:
    """A local sequence-classification reward model by Hub id or path, loaded once: ``rm(instructions, responses)``
    is r(x, y) per pair, the pair written in the reward model's own chat template (its dtype only on a GPU). The
    judge above and the RL reward of ``training.real_rl`` (called every step) share it."""

    def __init__(self, name_or_path, *, dtype: str = "float32", batch_size: int = 16, max_length: int | None = None):
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        cuda = torch.cuda.is_available()
        self.tok = AutoTokenizer.from_pretrained(name_or_path)
        self.rm = AutoModelForSequenceClassification.from_pretrained(
            name_or_path, dtype=getattr(torch, dtype) if cuda else torch.float32, num_labels=1
        )
        if self.tok.pad_token is None:
            self.tok.pad_token = self.tok.eos_token
        self.rm.config.pad_token_id = self.tok.pad_token_id
        if cuda:
            self.rm = self.rm.to("cuda")
        self.rm.eval()
        self.batch_size, self.max_length = int(batch_size), max_length

    def __call__(self, instructions: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        import torch

        tok = self.tok
        texts = [
            tok.apply_chat_template(
                [{"role": "user", "content": x}, {"role": "assistant", "content": y}], tokenize=False
            )
            for x, y in zip(instructions, responses)
        ]
        order = sorted(
            range(len(texts)), key=lambda i: len(texts[i])
        )  # length-sorted batches: little padding on real answers
        r = np.zeros(len(texts))
        with torch.no_grad():
            for b in range(0, len(order), self.batch_size):
                idx = order[b : b + self.batch_size]
                enc = tok(
                    [texts[i] for i in idx],
                    return_tensors="pt",
                    padding=True,
                    add_special_tokens=False,
                    truncation=self.max_length is not None,
                    max_length=self.max_length,
                ).to(self.rm.device)
                r[idx] = self.rm(**enc).logits[:, 0].float().cpu().numpy()
        return r


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
