"""Everything the real path needs, checked before any compute: every missing model, dataset, judge, package or
API key is named in one ``ConfigError``. Offline (``HF_HUB_OFFLINE=1``, CI) every id must be a local directory or
already in the Hugging Face cache."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import torch

from ..core.config import ConfigError
from ..worlds.public_data import DataFileNotFound, data_path
from .data import EVAL_SET
from .methods import PLUGINS, methods, plugin


def offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0") not in ("", "0", "false", "False")


def _hub_cached(repo_id: str, filename: str, repo_type: str = "model") -> bool:
    from huggingface_hub import try_to_load_from_cache

    try:
        return isinstance(try_to_load_from_cache(repo_id, filename, repo_type=repo_type), str)
    except Exception:  # an id that is not a valid repo name is simply not cached
        return False


def resolvable(name_or_path: str, repo_type: str = "model") -> bool:
    """A local path, or (offline) a Hub id already in the Hugging Face cache; online every id may be downloaded."""
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
    missing += judge_missing(cfg)
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
    require_gpu_options(cfg)


def judge_missing(cfg) -> list[str]:
    j = cfg.judge
    if j.get("kind") == "reward_model":
        if not resolvable(j.name_or_path):
            return [
                f"reward model {j.name_or_path!r} (judge.name_or_path): not a local directory and not in the "
                "Hugging Face cache"
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
    missing = judge_missing(cfg)
    if missing:
        raise ConfigError(f"judge={cfg.judge.name} cannot run; missing: " + "; ".join(missing))


def require_gpu_options(cfg) -> None:
    if torch.cuda.is_available():
        return
    if cfg.hardware.get("bf16"):
        raise ConfigError(
            f"hardware={cfg.hardware.name} trains in bf16 with gradient checkpointing on a CUDA GPU and none "
            "is visible; on CPU (tiny checkpoints only) choose hardware=cpu"
        )
    if cfg.scale.get("generator", "auto") == "vllm":
        raise ConfigError("scale.generator=vllm needs a CUDA GPU and none is visible; use generator=auto or hf")
