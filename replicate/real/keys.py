"""Cache keys of the real-model stages: the model and data ids (a local directory by its files' sizes), the
stage's config slice, the seed, the hardware, package versions and the code of the modules involved."""

from __future__ import annotations

from pathlib import Path

import torch

from ..core.config import to_dict
from ..core.io import code_fingerprint, content_hash
from ..core.paths import ROOT
from ..core.provenance import package_versions

# what a cached stage's result depends on: the report, runner, pipeline and check modules only read results
CODE = (
    "models/lm.py",
    "losses",
    "training/trl_hook.py",
    "training/trl_internals.py",
    *(
        f"real/{m}.py"
        for m in ("methods", "keys", "data", "engines", "fit", "policy", "scorers", "judges", "iterative", "rl")
    ),
)


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
