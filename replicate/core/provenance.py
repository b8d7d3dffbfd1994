"""Provenance saved next to every result: versions, commit, config hash, seed, scale."""

from __future__ import annotations

import platform
import subprocess
import sys
from importlib import metadata

from .io import content_hash
from .paths import ROOT

PACKAGES = ("torch", "transformers", "trl", "peft", "hydra-core", "papermill", "numpy", "pandas", "scipy")


def package_versions(names=PACKAGES) -> dict:
    out = {}
    for n in names:
        try:
            out[n] = metadata.version(n)
        except metadata.PackageNotFoundError:
            out[n] = None
    return out


def git_commit() -> dict:
    def git(*args):
        try:
            return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
        except Exception:
            return ""

    commit = git("rev-parse", "HEAD") or None
    dirty = bool(git("status", "--porcelain", "--untracked-files=no")) if commit else None
    return {"commit": commit, "dirty": dirty}


def provenance(cfg: dict, *, seed: int | None = None, scale: str | None = None) -> dict:
    """Everything needed to say where a number came from.

    Deliberately excludes timestamps and hostnames so that two runs with the same config and seed
    write byte-identical metrics files on the same machine.
    """
    return {
        "config_hash": content_hash(cfg),
        "seed": seed if seed is not None else cfg.get("seed"),
        "scale": scale if scale is not None else cfg.get("scale", {}).get("name"),
        "versions": package_versions(),
        "python": sys.version.split()[0],
        "platform": platform.machine(),
        **git_commit(),
    }
