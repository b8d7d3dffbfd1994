"""Tiny Llama-architecture LMs built from scratch, and the Hub loading path for small/paper scales.

``small``/``paper`` load by Hub id through ``from_pretrained``; here, offline, the very same calls
are tested on checkpoints saved locally with ``save_pretrained``.
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM


def build_tiny_llama(
    tokenizer,
    *,
    hidden_size: int,
    num_layers: int,
    num_heads: int,
    intermediate_size: int,
    max_positions: int = 128,
    seed: int = 0,
    attn_implementation: str = "eager",
) -> LlamaForCausalLM:
    cfg = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=intermediate_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=num_heads,
        max_position_embeddings=max_positions,
        tie_word_embeddings=True,
        attention_dropout=0.0,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    cfg._attn_implementation = attn_implementation
    torch.manual_seed(seed)
    model = LlamaForCausalLM(cfg)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    return model


def build_model(model_cfg, tokenizer, seed: int):
    """From the ``model`` config group: a tiny Llama from scratch, or a pretrained one by id/path."""
    if model_cfg.kind == "tiny_llama":
        return build_tiny_llama(
            tokenizer,
            hidden_size=model_cfg.hidden_size,
            num_layers=model_cfg.num_layers,
            num_heads=model_cfg.num_heads,
            intermediate_size=model_cfg.intermediate_size,
            max_positions=model_cfg.max_positions,
            seed=seed,
            attn_implementation=model_cfg.get("attn_implementation", "eager"),
        )
    return load_pretrained(model_cfg.name_or_path, dtype=model_cfg.get("dtype", "float32"))[0]


def load_pretrained(name_or_path: str | Path, *, dtype: str = "float32", attn_implementation: str | None = None):
    """The small/paper-scale path: ``AutoModelForCausalLM`` + ``AutoTokenizer`` by Hub id or local dir.

    Offline (this machine, CI) a Hub id fails inside ``from_pretrained``; we turn that into a clear
    message instead of a long traceback.
    """
    kwargs = {"dtype": getattr(torch, dtype)}
    if attn_implementation:
        kwargs["attn_implementation"] = attn_implementation
    try:
        tok = AutoTokenizer.from_pretrained(name_or_path)
        model = AutoModelForCausalLM.from_pretrained(name_or_path, **kwargs)
    except OSError as e:
        raise OSError(
            f"could not load {name_or_path!r}: not a local directory and the Hugging Face Hub is unreachable "
            f"(HF_HUB_OFFLINE={__import__('os').environ.get('HF_HUB_OFFLINE')}). Download it on a machine with "
            "network access (huggingface-cli download ...) and pass its local path."
        ) from e
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    tok.padding_side = "left"  # batched generation and replicate.metrics.evaluation assume left padding
    return model, tok


def n_params(model) -> int:
    return sum(p.numel() for p in model.parameters())
