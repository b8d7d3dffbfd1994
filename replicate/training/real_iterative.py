"""Iterative preference rounds on a real model (``scale=small``, kind ``iterative``): not built yet.

Contract (``real_stages.PLUGINS``): ``validate(name, m)``, ``missing(cfg, m) -> list[str]``,
``train(cfg, name, m, progress) -> Path`` of the final model directory.
"""
from __future__ import annotations

from pathlib import Path

from ..core.config import ConfigError


def validate(name: str, m: dict) -> None:
    raise ConfigError(f"paper.real.methods.{name}: kind 'iterative' is not built yet")


def missing(cfg, m: dict) -> list[str]:
    return []


def train(cfg, name: str, m: dict, progress: bool = False) -> Path:
    raise ConfigError(f"paper.real.methods.{name}: kind 'iterative' is not built yet")
