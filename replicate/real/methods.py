"""A paper's ``real:`` block: its methods by kind, validated before any compute."""

from __future__ import annotations

import copy
import importlib

from omegaconf import OmegaConf, open_dict

from ..core.config import ConfigError, to_dict

# Kinds whose training is a loop of its own live in their own module, each with validate(name, m),
# missing(cfg, m) -> [what is absent] and train(cfg, name, m, progress) -> model dir.
PLUGINS = {"iterative": "iterative", "grpo": "rl"}
KINDS = ("start", "preference", "sft", "best_of_n", *PLUGINS)


def plugin(kind: str):
    """The module that trains a ``PLUGINS`` kind (imported lazily: it imports the modules that import this one)."""
    return importlib.import_module(f"{__package__}.{PLUGINS[kind]}")


def is_real(cfg) -> bool:
    """Whether this scale runs the real-model path (``scale.real``) instead of the toy world."""
    return bool(cfg.scale.get("real", False))


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
    _same_lengths(cfg, out)
    return out


def eval_sample(cfg):
    """The evaluation's decoding: ``scale.sample`` with the paper's ``real.sample`` over it."""
    over = cfg.paper.real.get("sample")
    return OmegaConf.create({**to_dict(cfg.scale.sample), **(to_dict(over) if over is not None else {})})


def with_eval_sample(cfg):
    """The config whose ``scale.sample`` is :func:`eval_sample` (what ``runner.run`` generates and judges with)."""
    c = copy.deepcopy(cfg)
    with open_dict(c):
        c.scale.sample = eval_sample(cfg)
    return c


def _same_lengths(cfg, ms: dict) -> None:
    """A policy trained on answers of at most N new tokens is evaluated at N: judged on longer answers than it ever
    wrote, its evaluation would measure what it does past its training length (PAR and AutoRule's GRPO at 256)."""
    ev = int(eval_sample(cfg).max_new_tokens)
    rl = to_dict(cfg.paper.real.rl) if cfg.paper.real.get("rl") is not None else {}
    for name, m in ms.items():
        if m["kind"] == "grpo":
            n = m.get("max_new_tokens", rl.get("max_new_tokens"))
        elif m["kind"] == "iterative":
            n = (m.get("sample") or {}).get("max_new_tokens")  # unset: scale.sample's, as the evaluation's
        else:
            continue
        if n is not None and int(n) != ev:
            raise ConfigError(
                f"paper.real.methods.{name} trains on answers of at most {n} new tokens but would be evaluated at "
                f"{ev} (scale.sample.max_new_tokens, overridden by paper.real.sample.max_new_tokens): set them equal"
            )
