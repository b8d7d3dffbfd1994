"""Figures: saved under results/figures/ (or a given dir), atomically, as PNG."""
from __future__ import annotations

import os
from pathlib import Path

import matplotlib

from ..core.paths import ROOT

matplotlib.use("Agg")  # headless: CI and papermill have no display

FIGURES = ROOT / "results" / "figures"


def savefig(fig, name: str, directory: str | Path | None = None) -> Path:
    d = Path(directory) if directory is not None else FIGURES
    d.mkdir(parents=True, exist_ok=True)
    path = d / (name if name.endswith(".png") else f"{name}.png")
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=110, bbox_inches="tight", metadata={"Software": None})
    os.replace(tmp, path)
    return path
