"""A paper's ``real:`` block: its methods by kind, validated before any compute."""

from __future__ import annotations

import importlib

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
    return out
