"""The real-model stages every LM-world paper shares at ``scale=small`` (and SimPO's paper-scale pipeline).

    require → policy (Hub id or local dir, chat template) → train (LoRA via PEFT, or full) → generate on
    AlpacaEval 2's instructions (vLLM when installed, else batched ``generate``) → judge (metrics.judges)

Each stage is a function of the config, cached under a content hash of what determines it (``core.io.cached``):
the model and data ids, the stage's config slice, the seed, package versions and the code of the modules
involved, so a killed run resumes from its last finished stage and ``paper.real`` methods that resolve to the
same training run share it. Offline (``HF_HUB_OFFLINE=1``, CI) every id must be a local directory or already
in the Hugging Face cache; :func:`require` checks all of them, and the judge, *before* any compute and names
each missing piece in one ``ConfigError``.

A paper opts in with a ``real:`` block in ``conf/paper/<paper>.yaml`` (``methods`` and ``claims``; see
``replicate/papers/real_model.py``) and the notebook cells tagged ``real-model``.
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import torch

from ..core.config import ConfigError, to_dict
from ..core.io import atomic_write_json, cached, code_fingerprint, content_hash, read_json
from ..core.paths import ROOT
from ..core.provenance import package_versions
from ..worlds.public_data import DataFileNotFound, data_path

EVAL_SET = (
    "alpaca_eval/eval_set_805_with_gpt4_1106_preview_baseline_outputs.json"  # AlpacaEval 2's 805 + gpt4_1106_preview
)
CODE = (
    "models/lm.py",
    "losses",
    "training/trl_hook.py",
    "training/trl_internals.py",
    "training/real_stages.py",
    "training/real_iterative.py",
    "training/real_rl.py",
    "metrics/judges.py",
)
# Kinds whose training is a loop of its own live in their own module, each with validate(name, m),
# missing(cfg, m) -> [what is absent] and train(cfg, name, m, progress) -> model dir.
PLUGINS = {"iterative": "real_iterative", "grpo": "real_rl"}
KINDS = ("start", "preference", "sft", "best_of_n", *PLUGINS)


def plugin(kind: str):
    """The module that trains a ``PLUGINS`` kind (imported lazily: it imports this module)."""
    import importlib

    return importlib.import_module(f"{__package__}.{PLUGINS[kind]}")


def is_real(cfg) -> bool:
    """Whether this scale runs the real-model path (``scale.real``) instead of the toy world."""
    return bool(cfg.scale.get("real", False))


def offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0") not in ("", "0", "false", "False")


def methods(cfg) -> dict:
    """``paper.real.methods``: name → {kind, loss, hyperparameters, data}; refuses a paper without one."""
    real = cfg.paper.get("real")
    if real is None:
        raise ConfigError(
            f"paper {cfg.paper.name} has no real-model path at scale={cfg.scale.name}: add a `real:` "
            "block to its conf/paper yaml (methods, claims; see conf/paper/simpo.yaml)"
        )
    out = to_dict(real.methods)
    for name, m in out.items():
        if m.get("kind") not in KINDS:
            raise ConfigError(f"paper.real.methods.{name}.kind must be one of {KINDS}, got {m.get('kind')!r}")
        if m["kind"] in ("preference", "sft") and not m.get("data"):
            raise ConfigError(f"paper.real.methods.{name} ({m['kind']}) needs data: a dataset id or local path")
        if m["kind"] == "best_of_n" and int(m.get("n") or 0) < 1:
            raise ConfigError(f"paper.real.methods.{name} (best_of_n) needs n ≥ 1 samples")
        if m["kind"] in PLUGINS:
            plugin(m["kind"]).validate(name, m)
    return out


# ----------------------------------------------------------------------------- availability, before compute
def _hub_cached(repo_id: str, filename: str, repo_type: str = "model") -> bool:
    from huggingface_hub import try_to_load_from_cache

    try:
        return isinstance(try_to_load_from_cache(repo_id, filename, repo_type=repo_type), str)
    except Exception:  # an id that is not a valid repo name is simply not cached
        return False


def resolvable(name_or_path: str, repo_type: str = "model") -> bool:
    p = Path(str(name_or_path))
    if p.exists():
        return True
    if not offline():
        return True  # from_pretrained / load_dataset will download it
    return _hub_cached(str(name_or_path), "config.json" if repo_type == "model" else "README.md", repo_type)


def require(cfg) -> None:
    """Everything the real path needs, or one ``ConfigError`` that names each missing piece (before compute)."""
    missing = []
    ms = methods(cfg)
    if not resolvable(cfg.model.name_or_path):
        missing.append(
            f"model {cfg.model.name_or_path!r} (model.name_or_path): not a local directory and not in the "
            "Hugging Face cache"
        )
    for data in sorted({m["data"] for m in ms.values() if m.get("data")}):
        if not resolvable(data, "dataset"):
            missing.append(
                f"dataset {data!r} (paper.real.methods.*.data): not a local path and not in the Hugging Face cache"
            )
    for m in ms.values():
        if m["kind"] in PLUGINS:
            missing += plugin(m["kind"]).missing(cfg, m)
    missing += _judge_missing(cfg)
    if cfg.scale.finetune.mode == "lora" and importlib.util.find_spec("peft") is None:
        missing.append("the peft package (scale.finetune.mode=lora); pip install peft, or scale.finetune.mode=full")
    try:
        data_path(EVAL_SET)
    except DataFileNotFound as e:
        missing.append(f"AlpacaEval's instructions: {str(e).splitlines()[0].rstrip('.')}")
    missing = list(dict.fromkeys(missing))  # methods sharing a dataset or plugin setting name it once
    if missing:
        hint = (
            " The Hugging Face Hub is unreachable (HF_HUB_OFFLINE=1): download on a machine with network access "
            "(huggingface-cli download ID) and pass local paths, e.g. model.name_or_path=/path/to/model."
            if offline()
            else ""
        )
        raise ConfigError(
            f"scale={cfg.scale.name} for {cfg.paper.name} cannot start; missing: " + "; ".join(missing) + "." + hint
        )
    _require_gpu_options(cfg)


def _judge_missing(cfg) -> list[str]:
    j = cfg.judge
    if j.get("kind") == "reward_model":
        if not resolvable(j.name_or_path):
            return [
                f"reward model {j.name_or_path!r} (judge.name_or_path): not a local directory and not in the Hugging Face cache"
            ]
        return []
    if j.get("kind") == "alpaca_eval":
        if j.get("annotations"):
            return (
                [] if Path(j.annotations).exists() else [f"stored annotations {j.annotations!r} (judge.annotations)"]
            )
        out = []
        if not os.environ.get(j.api_key_env):
            out.append(
                f"an API key for AlpacaEval's annotator {j.annotator}: set the environment variable {j.api_key_env} "
                "(it is read at call time and never written to a notebook, log or result)"
            )
        try:
            import alpaca_eval.annotators  # noqa: F401  (imported here only to fail before compute, not after generation)
        except ImportError as e:  # absent, or alpaca_eval 0.6.6 importing pkg_resources, gone from setuptools ≥ 81
            out.append(
                f"a working alpaca_eval package ({e}): pip install alpaca-eval==0.6.2 'setuptools<81' "
                "(SimPO's README pins 0.6.2)"
            )
        return out
    return [f"a real judge: judge={j.get('name')} is the toy world's; use judge=reward_model or judge=alpaca_eval"]


def require_judge(cfg) -> None:
    missing = _judge_missing(cfg)
    if missing:
        raise ConfigError(f"judge={cfg.judge.name} cannot run; missing: " + "; ".join(missing))


def _require_gpu_options(cfg) -> None:
    if torch.cuda.is_available():
        return
    if cfg.hardware.get("bf16"):
        raise ConfigError(
            f"hardware={cfg.hardware.name} trains in bf16 with gradient checkpointing on a CUDA GPU and none "
            "is visible; on CPU (tiny checkpoints only) choose hardware=cpu"
        )
    if cfg.scale.get("generator", "auto") == "vllm":
        raise ConfigError("scale.generator=vllm needs a CUDA GPU and none is visible; use generator=auto or hf")


# ----------------------------------------------------------------------------- keys
def id_key(name_or_path: str) -> dict:
    """A Hub id by name; a local directory by name and its files' sizes (a re-saved checkpoint is a new key)."""
    p = Path(str(name_or_path))
    if p.is_dir():
        return {
            "path": str(p.resolve()),
            "files": sorted((str(f.relative_to(p)), f.stat().st_size) for f in p.rglob("*") if f.is_file()),
        }
    if p.is_file():
        return {"path": str(p.resolve()), "size": p.stat().st_size}
    return {"id": str(name_or_path)}


def stage_key(cfg, *parts) -> dict:
    pkg = ROOT / "replicate"
    files = []
    for m in CODE:
        path = pkg / m
        files += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    return {
        "versions": package_versions(("torch", "transformers", "trl", "peft", "datasets", "tokenizers")),
        "code": content_hash([(str(f.relative_to(pkg)), code_fingerprint(f)) for f in files]),
        "cuda": torch.cuda.is_available(),
        "hardware": {k: v for k, v in to_dict(cfg.hardware).items() if k != "workers"},
        "seed": int(cfg.seed),
        "model": {
            **to_dict(cfg.model),
            "files": id_key(cfg.model.name_or_path) if cfg.model.get("name_or_path") else None,
        },
        "parts": parts,
    }


# ----------------------------------------------------------------------------- data
def eval_instructions(cfg) -> list[dict]:
    """AlpacaEval 2's instructions with the baseline's (gpt4_1106_preview) outputs: the first ``scale.world.n_eval``."""
    with open(data_path(EVAL_SET)) as f:
        rows = json.load(f)
    n = int(cfg.scale.world.n_eval)
    return rows[:n]


def to_conversational(row: dict) -> dict:
    """A preference row as TRL's conversational prompt/chosen/rejected. UltraFeedback-binarized stores the whole
    conversation in chosen/rejected (user turn included) and the prompt as a string; the last turn is the response."""
    ch, rj = row["chosen"], row["rejected"]
    if isinstance(ch, list):
        prompt = ch[:-1] if len(ch) > 1 else [{"role": "user", "content": row["prompt"]}]
        return {"prompt": prompt, "chosen": ch[-1:], "rejected": rj[-1:]}
    return {
        "prompt": [{"role": "user", "content": row["prompt"]}],
        "chosen": [{"role": "assistant", "content": ch}],
        "rejected": [{"role": "assistant", "content": rj}],
    }


def to_sft(row: dict) -> dict:
    """An SFT row as TRL's conversational prompt/completion (``messages`` lists or prompt/response strings)."""
    if "messages" in row:
        return {"prompt": row["messages"][:-1], "completion": row["messages"][-1:]}
    if row.get("input"):  # Alpaca's optional input field follows the instruction, as in its own template
        row = {**row, "instruction": f"{row['instruction']}\n\n{row['input']}"}
    resp = row.get("completion", row.get("response", row.get("output")))
    return {
        "prompt": [{"role": "user", "content": row["prompt"] if "prompt" in row else row["instruction"]}],
        "completion": [{"role": "assistant", "content": resp}],
    }


def raw_rows(name_or_path: str, split: str, n: int, seed: int, subset: str | None = None):
    """``n`` rows of a dataset (Hub id with an optional ``subset``, ``save_to_disk`` dir or JSON lines), shuffled by
    ``seed``, as stored."""
    from .launch import load_preference_data

    if subset and not Path(str(name_or_path)).exists():
        from datasets import load_dataset

        ds = load_dataset(str(name_or_path), subset, split=split)
    else:
        ds = load_preference_data(str(name_or_path), split)
    return ds.shuffle(seed=seed).select(range(min(n, len(ds))))


def load_rows(name_or_path: str, split: str, n: int, seed: int, kind: str, subset: str | None = None):
    """``raw_rows`` in TRL's format."""
    ds = raw_rows(name_or_path, split, n, seed, subset)
    fn = to_conversational if kind == "preference" else to_sft
    return ds.map(fn, remove_columns=ds.column_names)


# ----------------------------------------------------------------------------- policy and training
def load_policy(name_or_path, cfg):
    from ..models.lm import load_pretrained

    dtype = "bfloat16" if cfg.hardware.get("bf16") else "float32"
    model, tok = load_pretrained(name_or_path, dtype=dtype, attn_implementation=cfg.model.get("attn_implementation"))
    if torch.cuda.is_available():
        model = model.to("cuda")
    return model, tok


def with_lora(cfg, model):
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


def train(cfg, name: str, method: dict, progress: bool = False) -> Path:
    """The model directory of one ``paper.real.methods`` entry (the start model itself for ``start``/``best_of_n``)."""
    if method["kind"] in ("start", "best_of_n"):
        return Path(cfg.model.name_or_path)
    if method["kind"] in PLUGINS:
        return plugin(method["kind"]).train(cfg, name, method, progress=progress)
    ft = cfg.scale.finetune
    key = stage_key(
        cfg, "train", {k: v for k, v in method.items() if k != "label"}, to_dict(ft), id_key(method["data"])
    )

    def compute(tmp: Path):
        n = int(
            method.get("max_rows") or int(ft.steps) * int(ft.batch_size) * int(ft.grad_accum)
        )  # max_rows: equal-size arms
        data = load_rows(
            method["data"], method.get("split", "train"), n, int(cfg.seed), method["kind"], method.get("subset")
        )
        fit(cfg, cfg.model.name_or_path, data, method, tmp)

    return cached("real-train", key, compute) / "model"


def fit(cfg, start, data, method: dict, tmp: Path) -> Path:
    """Fine-tune ``start`` (Hub id or dir) on TRL-format ``data`` — SFT for kind ``sft``, else ``method["loss"]``
    through the one preference hook with ``start`` as the reference — LoRA or full per ``scale.finetune``; saves a
    plain (merged) checkpoint to ``tmp/model`` and the trainer's log to ``tmp/history.json``."""
    from trl import DPOConfig, SFTConfig, SFTTrainer

    from .trl_hook import PreferenceTrainer, common_args, log_history

    ft = cfg.scale.finetune
    model, tok = load_policy(start, cfg)
    if ft.mode == "lora":
        model = with_lora(cfg, model)
        if cfg.hardware.get("gradient_checkpointing"):
            model.enable_input_require_grads()  # checkpointed blocks need a grad-requiring input when the base is frozen
    lr = float(method["lr"]) * (float(ft.lr_scale) if ft.mode == "lora" else 1.0)
    common = common_args(
        cfg.hardware,
        seed=int(cfg.seed),
        lr=lr,
        batch_size=int(ft.batch_size),
        output_dir=str(tmp / "trainer"),
        max_steps=int(ft.steps),
        epochs=1,
        warmup=0.1,
    )
    common["gradient_accumulation_steps"] = int(ft.grad_accum)
    if method["kind"] == "sft":
        trainer = SFTTrainer(
            model=model,
            args=SFTConfig(**common, max_length=int(ft.max_length)),
            train_dataset=data,
            processing_class=tok,
        )
    else:
        kw = {k: float(method[k]) for k in ("beta", "gamma") if k in method}
        trainer = PreferenceTrainer(
            model=model,
            args=DPOConfig(
                **common, max_length=int(ft.max_length), beta=kw.get("beta", 0.1), precompute_ref_log_probs=True
            ),
            train_dataset=data,
            processing_class=tok,
            loss=method["loss"],
            loss_kwargs=kw,
        )
    trainer.train()
    out = trainer.model
    if ft.mode == "lora":
        out = out.merge_and_unload()  # a plain checkpoint: vLLM and from_pretrained load it as they load the start
    out.save_pretrained(tmp / "model")
    tok.save_pretrained(tmp / "model")
    atomic_write_json(tmp / "history.json", log_history(trainer))
    return tmp / "model"


# ----------------------------------------------------------------------------- generation
def _generator(cfg) -> str:
    g = cfg.scale.get("generator", "auto")
    if g == "auto":
        return "vllm" if torch.cuda.is_available() and importlib.util.find_spec("vllm") is not None else "hf"
    if g not in ("hf", "vllm"):
        raise ConfigError(f"scale.generator must be auto, hf or vllm, got {g!r}")
    if g == "vllm" and importlib.util.find_spec("vllm") is None:
        raise ConfigError("scale.generator=vllm but vLLM is not installed (pip install vllm; optional, GPU only)")
    return g


def messages(x) -> list[dict]:
    """An instruction as a chat: a string is one user turn; a message list (a multi-turn context) is kept."""
    return [{"role": "user", "content": x}] if isinstance(x, str) else list(x)


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
def _generate_hf(model_dir, instructions, s, n, seed, cfg, progress) -> list[list[str]]:
    """Batched ``model.generate`` for real models: prompts sorted by length (AlpacaEval's run from 10 to 4000
    characters, so unsorted batches are mostly padding), on the model's device, seeded per batch."""
    from tqdm.auto import tqdm

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
    gen = _generator(cfg)
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
            outs = _generate_hf(model_dir, instructions, s, n, int(cfg.seed), cfg, progress)
        atomic_write_json(tmp / "outputs.json", outs)

    return read_json(cached("real-generate", key, compute) / "outputs.json")


# ----------------------------------------------------------------------------- judging
def judge(
    cfg, instructions: list[str], outputs: list[str], baseline_outputs: list[str], *, tag: str = ""
) -> list[float]:
    """P(model ≻ baseline) per instruction by ``cfg.judge`` (cached: an API judge is paid for once)."""
    from ..metrics.judges import judge_preferences

    j = to_dict(cfg.judge)
    if j.get("annotations"):
        j["annotations"] = id_key(j["annotations"])
    key = stage_key(cfg, "judge", tag, j, content_hash([instructions, outputs, baseline_outputs]))

    def compute(tmp: Path):
        p = judge_preferences(cfg.judge, instructions, outputs, baseline_outputs, generator=tag or "model")
        atomic_write_json(tmp / "preferences.json", [None if p_ != p_ else float(p_) for p_ in p])

    return [
        float("nan") if v is None else v for v in read_json(cached("real-judge", key, compute) / "preferences.json")
    ]
