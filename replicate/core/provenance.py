"""Provenance saved next to every result: versions, commit, config hash, seed, scale, CPU."""

from __future__ import annotations

import os
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
    # dirty: the code or configs differ from the commit; results/ is left out, since it is what runs write (a paper
    # re-run after another would otherwise read dirty for the other's fresh metrics)
    dirty = (
        bool(git("status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)results")) if commit else None
    )
    return {"commit": commit, "dirty": dirty}


# Kernel choices that change floating-point results between CPUs: the Makefile pins them to the AVX2 code paths, so a
# host with AVX-512 computes what a host with AVX2 computes (docs/statistics.md, "Across machines").
# The CLI sets these defaults before torch loads (``cli.main``), as the Makefile does for every target.
NUMERICS_ENV = {"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2"}


def cpu() -> dict:
    """The CPU model, the vector instruction set torch's kernels use, and the numerics pins in effect."""
    model = platform.processor() or None
    try:
        with open("/proc/cpuinfo") as f:
            model = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), model)
    except OSError:
        pass
    return {"model": model, "cores": os.cpu_count(), **numerics()}


def numerics() -> dict:
    """The kernel paths this process computes with: torch's ISA as loaded (an ``ATEN_CPU_CAPABILITY`` set after torch
    loaded does not count) and the pins as set. Part of every toy stage's cache key: a bare ``python`` script on an
    AVX-512 host, started without the Makefile's pins, trains other weights than ``make`` does and must not write them
    under the pinned runs' key (it did once: docs/statistics.md, "Across machines")."""
    import torch

    return {"torch_isa": torch.backends.cpu.get_cpu_capability(), "pins": {k: os.environ.get(k) for k in NUMERICS_ENV}}


# Where a run writes, not what it computes: left out of the config hash, so one config hashes the same in every
# checkout (they are absolute paths under the checkout's root).
OUTPUT_KEYS = ("results_dir", "figures_dir")


def config_hash(cfg: dict) -> str:
    """The hash of everything in ``cfg`` that can change a number (``OUTPUT_KEYS`` excluded)."""
    return content_hash({k: v for k, v in cfg.items() if k not in OUTPUT_KEYS})


def provenance(cfg: dict, *, seed: int | None = None, scale: str | None = None) -> dict:
    """Everything needed to say where a number came from.

    Deliberately excludes timestamps and hostnames so that two runs with the same config and seed
    write byte-identical metrics files on the same machine.
    """
    return {
        "config_hash": config_hash(cfg),
        "seed": seed if seed is not None else cfg.get("seed"),
        "scale": scale if scale is not None else cfg.get("scale", {}).get("name"),
        "versions": package_versions(),
        "python": sys.version.split()[0],
        "platform": platform.machine(),
        "cpu": cpu(),
        **git_commit(),
    }
