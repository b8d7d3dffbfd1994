"""A real model as a policy: loaded on the GPU when there is one, in the precision its use needs, or wrapped in LoRA.

Its own module because generation engines, scorers, fitting, RL and the iterative loop all load policies.
"""

from __future__ import annotations

import torch


def load_policy(name_or_path, cfg, *, master: bool = False):
    """A policy and its tokenizer, on the GPU when there is one: bf16 weights under ``hardware.bf16``, except
    ``master=True`` (weights a full fine-tuning updates), which keeps them fp32 for mixed precision."""
    from ..models.lm import load_pretrained

    dtype = "bfloat16" if cfg.hardware.get("bf16") and not master else "float32"
    model, tok = load_pretrained(name_or_path, dtype=dtype, attn_implementation=cfg.model.get("attn_implementation"))
    if torch.cuda.is_available():
        model = model.to("cuda")
    return model, tok


def lora(cfg, model):
    """``model`` wrapped in a LoRA adapter of ``scale.finetune.lora`` (PEFT)."""
    from peft import LoraConfig, get_peft_model

    lo = cfg.scale.finetune.lora
    tm = lo.target_modules if isinstance(lo.target_modules, str) else list(lo.target_modules)
    return get_peft_model(
        model,
        LoraConfig(
            r=int(lo.r),
            lora_alpha=int(lo.alpha),
            lora_dropout=float(lo.dropout),
            target_modules=tm,
            task_type="CAUSAL_LM",
        ),
    )
