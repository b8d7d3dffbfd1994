"""Scoring each distinct text once, in length-sorted batches (models.distinct), gives every text the score it gets
alone, in the caller's order, with one model row per distinct text."""

import numpy as np
import torch

from replicate.models.distinct import score_distinct
from replicate.models.lm import build_tiny_llama
from replicate.worlds.tokenizer import build_tokenizer


def test_each_text_gets_its_own_score_in_order_and_repeats_cost_nothing():
    tok = build_tokenizer()
    model = build_tiny_llama(tok, hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64, seed=3).eval()
    texts = ["<u>rev:abc<a>cba", "<u>cd<a>d", "<u>rev:abc<a>cba", "<u>defgh<a>hgfedxx", "<u>cd<a>d", "<u>x<a>"]
    rows = []

    def last_logit(enc):  # left padding: the last position is each row's own last token
        rows.append(len(enc["input_ids"]))
        return model(**enc).logits[:, -1, 0]

    got = score_distinct(texts, tok, last_logit, batch_size=2)
    with torch.no_grad():
        alone = [
            model(**tok([t], return_tensors="pt", add_special_tokens=False)).logits[0, -1, 0].item() for t in texts
        ]
    np.testing.assert_allclose(got, alone, atol=1e-5)
    assert got[0] == got[2] and got[1] == got[4]
    assert sum(rows) == 4 and rows == [2, 2]  # four distinct texts, two batches
    assert score_distinct([], tok, last_logit).shape == (0,)
