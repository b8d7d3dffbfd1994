"""Atomic writes and content hashes: no half-written result, caches keyed by what determines them."""

from __future__ import annotations

import ast
import functools
import hashlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .paths import ROOT


@functools.cache
def _umask() -> int:
    """The process's umask, read once, at the first write (reading it means setting it: set it back at once)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


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


def code_fingerprint(path: str | Path) -> str:
    """What a Python module's code does, as text: its syntax tree without docstrings. Comments, blank lines,
    formatting and docstrings are not part of it, so editing them leaves every stage keyed on the module valid;
    any change to a statement or expression changes it. (The Python version is part of it: ``ast.dump``'s text
    may change between versions.)"""
    st = os.stat(path)
    return _fingerprint(str(path), st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=512)
def _fingerprint(path: str, mtime_ns: int, size: int) -> str:  # keyed on the file's state: parsed once per edit
    tree = ast.parse(Path(path).read_text())
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                if isinstance(body[0].value.value, str):
                    node.body = body[1:] or [ast.Pass()]
    return f"py{sys.version_info[0]}.{sys.version_info[1]}:" + ast.dump(tree, annotate_fields=False)


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
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; results are ordinary files
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


class CacheEvents:
    """What this process's stage cache did since the last :meth:`take`: stages computed, and damaged stages found
    (and recomputed). ``training.runner`` reads it around each job to count cached jobs and to pass the warnings of
    worker processes, whose output goes to a log file, on to the notebook."""

    def __init__(self):
        self.computed, self.damaged = 0, []

    def take(self) -> tuple[int, list[str]]:
        out = (self.computed, self.damaged)
        self.computed, self.damaged = 0, []
        return out


CACHE_EVENTS = CacheEvents()


def cached(stage: str, key: Any, compute: Callable[[Path], None], *, done_file: str = "DONE") -> Path:
    """Run ``compute(tmpdir)`` once per (stage, key); return the final directory.

    The stage directory is filled in a temp dir and renamed into place, so an interrupted run leaves nothing that
    looks finished and the next run resumes from the last completed stage. The DONE marker records the size and
    SHA-256 of every file the stage wrote; a stage whose files no longer match (truncated, edited, missing) is
    recomputed with a one-line warning on stderr, and only that stage: the ones it was built from are checked
    when they are read. Processes sharing one cache may compute the same stage at once: the first rename wins, the
    others keep the winner's copy (a finished directory is never removed or changed).
    """
    final = cache_dir() / stage / content_hash(key)
    done = final / done_file
    if done.exists():
        problem = damage(final, done_file)
        if problem is None:
            return final
        msg = f"warning: cached stage {stage}/{final.name} is damaged ({problem}); recomputing it"
        print(msg, file=sys.stderr, flush=True)
        CACHE_EVENTS.damaged.append(msg)
        _discard(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}."))
    try:
        compute(tmp)
        atomic_write_json(tmp / "key.json", key)
        files = {
            str(f.relative_to(tmp)): [f.stat().st_size, file_sha256(f)] for f in sorted(tmp.rglob("*")) if f.is_file()
        }
        (tmp / done_file).write_text(json.dumps({"files": files}, sort_keys=True) + "\n")
        CACHE_EVENTS.computed += 1
        try:
            os.replace(tmp, final)  # fails on a non-empty ``final``
        except OSError:
            if not (final / done_file).exists():  # not another process's finished copy: a stale partial dir
                shutil.rmtree(final)
                os.replace(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # gone after a successful rename; the loser's copy otherwise
    return final


# Files this process has verified, by (path, size, mtime): a stage read by many jobs is hashed once per process.
_VERIFIED: set = set()


def damage(final: Path, done_file: str = "DONE") -> str | None:
    """What is wrong with a finished stage directory (a missing, resized or changed file), or None when every file
    its DONE marker lists is intact. A marker without a file list (written before checksums were recorded) is
    trusted."""
    try:
        files = json.loads((final / done_file).read_text()).get("files")
    except (ValueError, AttributeError):
        return None
    for rel, (size, digest) in files.items():
        f = final / rel
        try:
            st = f.stat()
        except FileNotFoundError:
            return f"{rel} is missing"
        if st.st_size != size:
            return f"{rel} has {st.st_size} bytes, {size} when written"
        seen = (str(f), st.st_size, st.st_mtime_ns)
        if seen not in _VERIFIED:
            if file_sha256(f) != digest:
                return f"{rel} changed since it was written (SHA-256 differs)"
            _VERIFIED.add(seen)
    return None


def _discard(final: Path) -> None:
    """Move a damaged stage aside (one rename, so no reader sees half of it), then delete it."""
    trash = final.with_name(f".{final.name}.damaged.{os.getpid()}")
    try:
        os.replace(final, trash)
    except FileNotFoundError:  # another process discarded it first
        return
    shutil.rmtree(trash, ignore_errors=True)
