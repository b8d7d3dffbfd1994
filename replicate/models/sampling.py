"""Batched generation with KV cache: prompts in, response strings out, seeded."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from tqdm.auto import tqdm

from ..worlds.tokenizer import chat


@torch.no_grad()
def generate(
    model,
    tokenizer,
    prompts: Sequence[str],
    *,
    n: int = 1,
    temperature: float = 0.0,
    top_p: float = 1.0,
    max_new_tokens: int = 48,
    batch_size: int = 256,
    seed: int = 0,
    progress: bool = False,
) -> list[list[str]]:
    """``n`` responses per prompt (temperature 0 = greedy). Returns ``[[resp]*n for prompt]``.

    Seeded through ``torch.manual_seed`` per batch, so the same model, prompts and seed give the same
    responses on the same machine.
    """
    model.eval()
    texts = [tokenizer.apply_chat_template(chat(p), tokenize=False, add_generation_prompt=True) for p in prompts]
    flat = [t for t in texts for _ in range(n)]
    out: list[str] = []
    it = range(0, len(flat), batch_size)
    for k, i in enumerate(tqdm(it, desc="generate", disable=not progress, leave=False)):
        enc = tokenizer(flat[i : i + batch_size], return_tensors="pt", padding=True, add_special_tokens=False)
        torch.manual_seed(seed * 100003 + k)
        kw = dict(do_sample=True, temperature=temperature, top_p=top_p) if temperature > 0 else dict(do_sample=False)
        gen = model.generate(
            **enc,
            max_new_tokens=max_new_tokens,
            use_cache=True,
            **kw,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
        )
        new = gen[:, enc["input_ids"].shape[1] :]
        out += tokenizer.batch_decode(new, skip_special_tokens=True)
    return [out[j * n : (j + 1) * n] for j in range(len(prompts))]
