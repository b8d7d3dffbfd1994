"""Generation on a real model: vLLM when installed and a GPU is visible, else batched ``model.generate``; every
call cached under the model's files, the prompts and the decoding settings."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch

from ..core.config import ConfigError
from ..core.io import atomic_write_json, cached, content_hash, read_json
from .data import messages
from .keys import id_key, stage_key


def generator(cfg) -> str:
    g = cfg.scale.get("generator", "auto")
    if g == "auto":
        return "vllm" if torch.cuda.is_available() and importlib.util.find_spec("vllm") is not None else "hf"
    if g not in ("hf", "vllm"):
        raise ConfigError(f"scale.generator must be auto, hf or vllm, got {g!r}")
    if g == "vllm" and importlib.util.find_spec("vllm") is None:
        raise ConfigError("scale.generator=vllm but vLLM is not installed (pip install vllm; optional, GPU only)")
    return g


def _generate_vllm(model_dir, instructions, s, n, seed) -> list[list[str]]:
    from transformers import AutoTokenizer
    from vllm import LLM, SamplingParams

    tok = AutoTokenizer.from_pretrained(model_dir)
    # the chat template already holds BOS: token ids, not text, go to vLLM, so it cannot add a second one (SimPO README)
    ids = [tok.apply_chat_template(messages(x), add_generation_prompt=True, tokenize=True) for x in instructions]
    ids = [i["input_ids"] if isinstance(i, dict) or hasattr(i, "keys") else i for i in ids]
    llm = LLM(model=str(model_dir), seed=seed, dtype="bfloat16")
    params = SamplingParams(
        n=n, temperature=float(s.temperature), top_p=float(s.top_p), max_tokens=int(s.max_new_tokens), seed=seed
    )
    outs = llm.generate([{"prompt_token_ids": i} for i in ids], params)
    return [[c.text for c in o.outputs] for o in outs]


@torch.no_grad()
def generate_hf(model_dir, instructions, s, n, seed, cfg, progress) -> list[list[str]]:
    """Batched ``model.generate`` for real models: prompts sorted by length (AlpacaEval's run from 10 to 4000
    characters, so unsorted batches are mostly padding), on the model's device, seeded per batch."""
    from tqdm.auto import tqdm

    from .fit import load_policy

    model, tok = load_policy(model_dir, cfg)
    model.eval()
    texts = [tok.apply_chat_template(messages(x), tokenize=False, add_generation_prompt=True) for x in instructions]
    flat = sorted(((i, k) for i in range(len(texts)) for k in range(n)), key=lambda ik: (len(texts[ik[0]]), ik))
    out: dict = {}
    bs = int(s.get("batch_size", 32))
    kw = (
        dict(do_sample=True, temperature=float(s.temperature), top_p=float(s.top_p))
        if float(s.temperature) > 0
        else dict(do_sample=False)
    )
    for b in tqdm(range(0, len(flat), bs), desc="generate", disable=not progress, leave=False):
        chunk = flat[b : b + bs]
        enc = tok([texts[i] for i, _ in chunk], return_tensors="pt", padding=True, add_special_tokens=False).to(
            model.device
        )
        torch.manual_seed(seed * 100003 + b)
        gen = model.generate(**enc, max_new_tokens=int(s.max_new_tokens), pad_token_id=tok.pad_token_id, **kw)
        for ik, y in zip(chunk, tok.batch_decode(gen[:, enc["input_ids"].shape[1] :], skip_special_tokens=True)):
            out[ik] = y
    return [[out[(i, k)] for k in range(n)] for i in range(len(texts))]


def generate(
    cfg, model_dir, instructions: list, *, n: int = 1, tag: str = "", sample=None, progress: bool = False
) -> list[list[str]]:
    """``n`` responses per instruction (a string, or a chat message list) from the model in ``model_dir`` (cached;
    vLLM or batched HF ``generate``); decoding from ``sample`` (default ``scale.sample``: temperature, top_p, max_new_tokens)."""
    s = sample if sample is not None else cfg.scale.sample
    gen = generator(cfg)
    key = stage_key(
        cfg,
        "generate",
        tag,
        id_key(model_dir),
        content_hash(instructions),
        n,
        gen,
        {k: s[k] for k in ("temperature", "top_p", "max_new_tokens")},
    )

    def compute(tmp: Path):
        if gen == "vllm":
            outs = _generate_vllm(model_dir, instructions, s, n, int(cfg.seed))
        else:
            outs = generate_hf(model_dir, instructions, s, n, int(cfg.seed), cfg, progress)
        atomic_write_json(tmp / "outputs.json", outs)

    return read_json(cached("real-generate", key, compute) / "outputs.json")
