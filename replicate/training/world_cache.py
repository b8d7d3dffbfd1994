"""One toy world per worker process: building one (prompts, reference answers, tokenizer) costs ~0.6 s, and a
worker runs many jobs of the same seed. A separate module from ``toy_stages`` so that it is not part of the
code hash that keys cached stages (``toy_stages.CODE``): it changes no result."""

from __future__ import annotations

from ..core.config import to_dict
from ..core.io import content_hash
from .toy_stages import World, build_world

_WORLDS: dict = {}


def world_for(cfg) -> World:
    """``build_world(cfg)``, kept for the last (scale.world, toy_world, judge, seed) this process asked for."""
    k = content_hash([to_dict(cfg.scale.world), to_dict(cfg.toy_world), to_dict(cfg.judge), int(cfg.seed)])
    if k not in _WORLDS:
        _WORLDS.clear()
        _WORLDS[k] = build_world(cfg)
    return _WORLDS[k]
