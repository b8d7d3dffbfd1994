"""CDR / Dr. SoW: density-ratio rewards of a strong over a weak LLM, as pure functions.

Conventions as in ``replicate.losses``: inputs are per-sequence *summed* response log-probs,
shape (B,) (or any shape: the functions are elementwise); ``lengths`` are response token counts.

Equations (cdr.md):
- Vanilla reward:     r(x, y) = log π_s(y | x) − log π_w(y | x)   (no length normalisation: CDR code
  ``src/dpo_vllm.py`` sums per-token log-probs after the prompt and subtracts).
- Customised reward:  r_c(x, y) = log π_s(y | c(x)) − log π_w(y | c(x)),  c(x) = the prompt with the
  criteria (system prompt) and/or exemplars of the domain d(x) ∈ {SAFETY, REASONING, CHAT} chosen by a
  router; both models see the same customised context. In ``vanilla_domain`` mode CHAT prompts stay
  uncustomised. Here the caller computes the log-probs under each context; ``customized_reward``
  picks, per example, the context of the routed domain.
- Pairs for preference tuning: chosen = argmax_i r_c(x, y_i); rejected = a uniformly random
  *non-best* sample (CDR ``process_preference_data.py``); prompts whose rewards all tie are skipped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch import Tensor


def density_ratio_reward(
    strong_logps: Tensor, weak_logps: Tensor, lengths: Tensor | None = None, *, length_normalize: bool = False
) -> Tensor:
    """r = log π_s(y|x) − log π_w(y|x); ``length_normalize=True`` divides by |y| (reward_hub's
    ``avg_drsow_reward`` variant; not the CDR paper's default)."""
    r = strong_logps - weak_logps
    if length_normalize:
        if lengths is None:
            raise ValueError("length_normalize=True needs lengths")
        r = r / lengths.clamp(min=1)
    return r


def customized_reward(
    strong_logps_by_context: Mapping[str, Tensor],
    weak_logps_by_context: Mapping[str, Tensor],
    domains: Sequence[str],
    *,
    uncustomized: Sequence[str] = ("CHAT",),
    lengths: Tensor | None = None,
    length_normalize: bool = False,
) -> Tensor:
    """r_c(x_i, y_i) with the context of each example's routed domain.

    ``*_by_context[d]`` holds log π(y | c_d(x)) for every example (shape (B,)), and key ``"none"``
    holds log π(y | x) without customisation. Domains listed in ``uncustomized`` use ``"none"``
    (CDR's ``vanilla_domain`` mode leaves CHAT uncustomised); pass ``uncustomized=()`` to customise all.
    """
    keys = ["none" if d in uncustomized else d for d in domains]
    missing = sorted(set(keys) - set(strong_logps_by_context) | set(keys) - set(weak_logps_by_context))
    if missing:
        raise KeyError(f"log-probs missing for contexts {missing}")
    idx = torch.arange(len(keys))
    s = torch.stack([strong_logps_by_context[k] for k in keys])[idx, idx]
    w = torch.stack([weak_logps_by_context[k] for k in keys])[idx, idx]
    return density_ratio_reward(s, w, lengths, length_normalize=length_normalize)


def pairwise_accuracy(reward_chosen: Tensor, reward_rejected: Tensor) -> float:
    """RewardBench-style accuracy: fraction of (chosen, rejected) pairs with r(chosen) > r(rejected);
    exact ties count ½."""
    d = reward_chosen - reward_rejected
    return float(((d > 0).double() + 0.5 * (d == 0).double()).mean())


def build_pairs(rewards: np.ndarray, rng: np.random.Generator) -> list[tuple[int, int, int]]:
    """CDR pair construction on an (n_prompts, n_samples) reward array: for each prompt,
    (prompt, argmax, random other index); prompts whose rewards all tie are skipped."""
    out = []
    for p, row in enumerate(np.asarray(rewards)):
        if np.all(row == row[0]):
            continue
        best = int(np.argmax(row))
        others = [i for i in range(len(row)) if i != best]
        out.append((p, best, int(rng.choice(others))))
    return out
