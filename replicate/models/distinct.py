"""Scoring many texts with one forward pass each, without repeats and with little padding.

Best-of-N and mid-generation scoring read the same text many times (16 samples of a prompt often share their first
few characters: at a 2-character prefix a third of the queries are distinct), and a padded batch of random lengths
is a third padding (tiny world: mean 32 tokens, longest 51). So each distinct text is scored once, in batches of
similar length, and the scores are mapped back in the caller's order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch


@torch.no_grad()
def score_distinct(
    texts: Sequence[str], tokenizer, score_batch: Callable[[dict], torch.Tensor], batch_size: int = 512
) -> np.ndarray:
    """``score_batch(encoding) -> [rows]`` applied to each distinct text once, shortest first, in padded batches of
    ``batch_size``; returns one float per text of ``texts``, in order. A text's score does not depend on which others
    share its batch (up to float rounding: tests/test_distinct.py)."""
    distinct = list(dict.fromkeys(texts))
    if not distinct:
        return np.zeros(0, dtype=np.float32)
    lengths = [len(ids) for ids in tokenizer(distinct, add_special_tokens=False)["input_ids"]]
    order = sorted(range(len(distinct)), key=lambda i: (lengths[i], i))
    scores = np.empty(len(distinct), dtype=np.float32)
    for i in range(0, len(order), batch_size):
        rows = order[i : i + batch_size]
        enc = tokenizer([distinct[j] for j in rows], return_tensors="pt", padding=True, add_special_tokens=False)
        scores[rows] = score_batch(enc).float().numpy()
    at = {t: k for k, t in enumerate(distinct)}
    return scores[[at[t] for t in texts]]
