"""Generation on a real model: vLLM when installed and a GPU is visible, else batched ``model.generate``; every
call cached under the model's files, the prompts and the decoding settings.

**One vLLM engine per process.** An engine reserves a fixed share of the GPU's memory when it starts
(``scale.vllm.gpu_memory_utilization``, set explicitly: vLLM's default 0.9 leaves a trained policy or a reward model no
room) and checks at start-up that this much is free, so a second engine, or one started while a policy is still loaded,
fails. Here the engine of the model being sampled stays alive across calls (an iterative round samples the same
policy several times), a different model tears it down before the next one starts, and :func:`release` tears it down
before any training resumes (``fit.fit`` and GRPO call it). Tests replace ``ENGINE`` with a fake that counts
constructions and teardowns.
"""

from __future__ import annotations

import gc
import importlib.util
from pathlib import Path

import torch

from ..core.config import ConfigError
from ..core.io import atomic_write_json, cached, content_hash, read_json
from .data import messages
from .keys import id_key, stage_key


def vllm_installed() -> bool:
    return importlib.util.find_spec("vllm") is not None


def generator(cfg) -> str:
    g = cfg.scale.get("generator", "auto")
    if g == "auto":
        return "vllm" if torch.cuda.is_available() and vllm_installed() else "hf"
    if g not in ("hf", "vllm"):
        raise ConfigError(f"scale.generator must be auto, hf or vllm, got {g!r}")
    if g == "vllm" and not vllm_installed():
        raise ConfigError("scale.generator=vllm but vLLM is not installed (pip install vllm; optional, GPU only)")
    return g


def vllm_settings(cfg) -> dict:
    """The engine's construction settings (explicit, recorded in every metrics.json): memory share, dtype."""
    v = cfg.scale.get("vllm") or {}
    frac = float(v.get("gpu_memory_utilization", 0.5))
    if not 0 < frac < 1:
        raise ConfigError(f"scale.vllm.gpu_memory_utilization must be in (0, 1), got {frac}")
    return {"gpu_memory_utilization": frac, "dtype": "bfloat16", "enforce_eager": bool(v.get("enforce_eager", False))}


def _vllm_engine(model_dir: str, seed: int, **settings):
    from vllm import LLM

    return LLM(model=model_dir, seed=seed, **settings)


def _vllm_teardown(llm) -> None:
    """Stop the engine and free its memory: vLLM's V1 engine core runs in a child process that ``shutdown`` ends."""
    core = getattr(getattr(llm, "llm_engine", None), "engine_core", None)
    if core is not None and hasattr(core, "shutdown"):
        core.shutdown()
    try:
        from vllm.distributed.parallel_state import destroy_distributed_environment, destroy_model_parallel

        destroy_model_parallel()
        destroy_distributed_environment()
    except ImportError:  # a vLLM without these helpers (or a fake engine in tests)
        pass


ENGINE = {"make": _vllm_engine, "teardown": _vllm_teardown}
_live: dict = {}  # the one engine of this process: {"key": (model_dir, seed, settings), "llm": LLM}


def engine(model_dir, seed: int, settings: dict):
    """The process's engine for ``model_dir``: reused when it is the one alive, else the old one torn down first."""
    key = (str(model_dir), int(seed), tuple(sorted(settings.items())))
    if _live.get("key") != key:
        release()
        _live["llm"] = ENGINE["make"](str(model_dir), int(seed), **settings)
        _live["key"] = key
    return _live["llm"]


def release() -> None:
    """Tear down the process's vLLM engine (if any) and return cached CUDA memory: call before training."""
    llm = _live.pop("llm", None)
    _live.pop("key", None)
    if llm is not None:
        ENGINE["teardown"](llm)
        del llm
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _generate_vllm(model_dir, instructions, s, n, seed, settings) -> list[list[str]]:
    from transformers import AutoTokenizer
    from vllm import SamplingParams

    tok = AutoTokenizer.from_pretrained(model_dir)
    # the chat template already holds BOS: token ids, not text, go to vLLM, so it cannot add a second one (SimPO README)
    ids = [tok.apply_chat_template(messages(x), add_generation_prompt=True, tokenize=True) for x in instructions]
    ids = [i["input_ids"] if isinstance(i, dict) or hasattr(i, "keys") else i for i in ids]
    llm = engine(model_dir, seed, settings)
    params = SamplingParams(
        n=n, temperature=float(s.temperature), top_p=float(s.top_p), max_tokens=int(s.max_new_tokens), seed=seed
    )
    outs = llm.generate([{"prompt_token_ids": i} for i in ids], params)
    return [[c.text for c in o.outputs] for o in outs]


@torch.no_grad()
def generate_hf(model_dir, instructions, s, n, seed, cfg, progress) -> list[list[str]]:
    """Batched ``model.generate`` for real models: prompts sorted by length (AlpacaEval's run from 10 to 4000
    characters, so unsorted batches are mostly padding), on the model's device, seeded per batch, KV cache on."""
    from tqdm.auto import tqdm

    from .policy import load_policy

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
        # the template's text already holds any BOS: add_special_tokens=False keeps it single (metrics record the check)
        enc = tok([texts[i] for i, _ in chunk], return_tensors="pt", padding=True, add_special_tokens=False).to(
            model.device
        )
        torch.manual_seed(seed * 100003 + b)
        gen = model.generate(
            **enc, max_new_tokens=int(s.max_new_tokens), pad_token_id=tok.pad_token_id, use_cache=True, **kw
        )
        for ik, y in zip(chunk, tok.batch_decode(gen[:, enc["input_ids"].shape[1] :], skip_special_tokens=True)):
            out[ik] = y
    del model
    return [[out[(i, k)] for k in range(n)] for i in range(len(texts))]


def settings(cfg, sample=None) -> dict:
    """The generation backend and its settings, as the cache key and every metrics.json record them."""
    s = sample if sample is not None else cfg.scale.sample
    gen = generator(cfg)
    out = {"backend": gen, **{k: s[k] for k in ("temperature", "top_p", "max_new_tokens")}}
    return out | ({"vllm": vllm_settings(cfg)} if gen == "vllm" else {"batch_size": int(s.get("batch_size", 32))})


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
            outs = _generate_vllm(model_dir, instructions, s, n, int(cfg.seed), vllm_settings(cfg))
        else:
            outs = generate_hf(model_dir, instructions, s, n, int(cfg.seed), cfg, progress)
        atomic_write_json(tmp / "outputs.json", outs)

    return read_json(cached("real-generate", key, compute) / "outputs.json")
