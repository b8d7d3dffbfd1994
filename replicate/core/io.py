"""Atomic writes and content hashes: no half-written result, caches keyed by what determines them."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .paths import ROOT

_UMASK = os.umask(0)
os.umask(_UMASK)


def _json_default(o: Any):
    if hasattr(o, "item"):  # numpy / torch scalars
        return o.item()
    if hasattr(o, "tolist"):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serializable: {type(o)}")


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=_json_default)


def content_hash(obj: Any, n: int = 16) -> str:
    """Stable hash of a JSON-able object (dict order does not matter)."""
    return hashlib.sha256(canonical_json(obj).encode()).hexdigest()[:n]


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp creates 0600; results are ordinary files
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode())


def atomic_write_json(path: str | Path, obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def read_json(path: str | Path) -> Any:
    with open(path) as f:
        return json.load(f)


def cache_dir() -> Path:
    """Where expensive stages live; REPLICATE_CACHE_DIR overrides (tests use a temp dir)."""
    return Path(os.environ.get("REPLICATE_CACHE_DIR", ROOT / ".cache"))


def cached(stage: str, key: Any, compute: Callable[[Path], None], *, done_file: str = "DONE") -> Path:
    """Run ``compute(tmpdir)`` once per (stage, key); return the final directory.

    The stage directory is filled in a temp dir and renamed into place, so an interrupted run
    leaves nothing that looks finished and the next run resumes from the last completed stage.
    Processes sharing one cache may compute the same stage at once: the first rename wins, the others
    keep the winner's copy (a finished directory is never removed or changed).
    """
    import shutil

    final = cache_dir() / stage / content_hash(key)
    if (final / done_file).exists():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}."))
    try:
        compute(tmp)
        atomic_write_json(tmp / "key.json", key)
        (tmp / done_file).write_text("ok\n")
        try:
            os.replace(tmp, final)  # fails on a non-empty ``final``
        except OSError:
            if not (final / done_file).exists():  # not another process's finished copy: a stale partial dir
                shutil.rmtree(final)
                os.replace(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # gone after a successful rename; the loser's copy otherwise
    return final
