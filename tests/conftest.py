"""Fixtures shared by the real-model tests (test_real_model, test_real_iterative, test_real_rl)."""

import pytest
import torch
from datasets import Dataset

from replicate.models.lm import build_tiny_llama
from replicate.worlds.tokenizer import build_tokenizer


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    """A tiny causal LM, a tiny reward model (random, seeded head) and UltraFeedback-format pairs, all on disk."""
    root = tmp_path_factory.mktemp("real")
    tok = build_tokenizer()
    tok.model_max_length = 1024
    lm = build_tiny_llama(
        tok, hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64, max_positions=1024, seed=0
    )
    lm.save_pretrained(root / "lm")
    tok.save_pretrained(root / "lm")
    from transformers import LlamaForSequenceClassification

    rcfg = lm.config.__class__.from_dict(
        {**lm.config.to_dict(), "num_labels": 1, "id2label": {0: "LABEL_0"}, "label2id": {"LABEL_0": 0}}
    )
    torch.manual_seed(1)
    LlamaForSequenceClassification(rcfg).save_pretrained(root / "rm")
    tok.save_pretrained(root / "rm")
    rows = {
        "prompt": [f"rev:ab{c}" for c in "abcdefgh"],
        "chosen": [
            [{"role": "user", "content": f"rev:ab{c}"}, {"role": "assistant", "content": f"{c}ba"}] for c in "abcdefgh"
        ],
        "rejected": [
            [{"role": "user", "content": f"rev:ab{c}"}, {"role": "assistant", "content": f"{c}ba sure"}]
            for c in "abcdefgh"
        ],
    }
    Dataset.from_dict(rows).save_to_disk(str(root / "pairs"))
    return root


@pytest.fixture
def env(monkeypatch, tmp_path):
    import huggingface_hub.constants as hc

    monkeypatch.setenv("REPLICATE_ASSUME_GPU", "1")  # scale=small/paper require a GPU; these tests run their CPU path
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hc, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("REPLICATE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("REPLICATE_BUILD_DIR", str(tmp_path / "build"))
    return tmp_path
