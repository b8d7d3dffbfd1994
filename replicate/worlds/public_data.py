"""Public data files: read from ``$REPLICATE_DATA_DIR``, else a user cache, else downloaded upstream.

Every file the evaluation replications read is named by its path relative to the shared data bundle
(``alpaca_eval/...``, ``wildbench/...``, ``cheating_null_models/...``; the layout of ``../shared/data``,
each folder documented by its README). :func:`data_path` resolves such a path:

1. ``$REPLICATE_DATA_DIR/<relpath>`` if it exists (``.ci/run`` and the Makefile point the variable at
   ``../shared/data``); the file is used as is.
2. ``<cache>/<relpath>`` if it exists and its sha256 matches the manifest (``public_data.toml``); the cache is
   ``$REPLICATE_DATA_CACHE`` or ``~/.cache/replicate/data``.
3. For a file that is a verbatim copy of an upstream file: download it from
   ``raw.githubusercontent.com/<repo>/<commit>/<path>`` at the pinned commit, check its sha256 and
   size, and store it in the cache (atomically: a partial download never looks finished).
   ``REPLICATE_OFFLINE=1`` forbids this step.

Otherwise :class:`DataFileNotFound` (a ``FileNotFoundError``) says which file is missing, where it
was looked for, and how to get it. Some files of the bundle are *derived* (slimmed annotation tables,
an estimated instruction difficulty, a length matrix, artifacts decoded from pickles): they have no
upstream file to download, and the error says how they were produced instead of inventing a URL.

The checksums were computed from the shared bundle. Three AlpacaEval leaderboard CSVs in it are
byte-identical to the copies shipped in the ``alpaca-eval==0.6.6`` wheel, which supports that the
files marked upstream are verbatim; a file that is not would fail the check with a clear error rather
than be used silently.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import NamedTuple

from ..core.io import file_sha256

ENV_DIR = "REPLICATE_DATA_DIR"
ENV_CACHE = "REPLICATE_DATA_CACHE"
ENV_OFFLINE = "REPLICATE_OFFLINE"
RAW_URL = "https://raw.githubusercontent.com/{repo}/{commit}/{path}"


class DataFileNotFound(FileNotFoundError):
    """A public data file is neither in $REPLICATE_DATA_DIR nor in the cache and cannot be downloaded."""


class DataChecksumError(OSError):
    """A downloaded or cached file does not have the registered sha256 (it is never used)."""


class _F(NamedTuple):
    sha256: str
    size: int
    repo: str | None = None
    commit: str | None = None
    path: str | None = None

    @property
    def url(self) -> str | None:
        if self.repo is None:
            return None
        return RAW_URL.format(repo=self.repo, commit=self.commit, path=self.path)


MANIFEST = Path(__file__).with_name("public_data.toml")


def load_manifest(path: Path = MANIFEST) -> tuple[dict[str, _F], dict[str, str]]:
    """The manifest (``public_data.toml``): relpath → (sha256, size[, upstream repo, pinned commit, path in that
    repo]) for every file, and relpath → how it was made for the derived ones (no upstream file to download)."""
    import tomllib

    with open(path, "rb") as f:
        entries = tomllib.load(f)
    files, derived = {}, {}
    for rel, e in entries.items():
        upstream = e.get("upstream")
        if upstream:
            repo, rest = upstream.split("@", 1)
            commit, upath = rest.split(":", 1)
            files[rel] = _F(e["sha256"], int(e["size"]), repo, commit, upath)
        else:
            files[rel] = _F(e["sha256"], int(e["size"]))
        if "derived" in e:
            derived[rel] = e["derived"]
    return files, derived


FILES, DERIVED = load_manifest()


def cache_root() -> Path:
    return Path(os.environ.get(ENV_CACHE) or Path.home() / ".cache" / "replicate" / "data")


def data_dir() -> Path | None:
    d = os.environ.get(ENV_DIR)
    return Path(d) if d else None


sha256_of = file_sha256  # one streaming SHA-256 for the whole package (replicate.core.io)


def data_path(relpath: str, *, verify: bool = False, download: bool | None = None) -> Path:
    """Local path of a public data file (see the module docstring for the search order).

    ``verify``: also check the sha256 of a file found under $REPLICATE_DATA_DIR.
    ``download``: allow fetching from upstream (default: unless ``REPLICATE_OFFLINE=1``).
    Raises :class:`DataFileNotFound` with instructions when the file cannot be had.
    """
    relpath = str(relpath).lstrip("/")
    entry = FILES.get(relpath)
    root = data_dir()
    if root is not None and (root / relpath).is_file():
        p = root / relpath
        if verify and entry is not None and sha256_of(p) != entry.sha256:
            raise DataChecksumError(
                f"{p}: sha256 differs from the registered {entry.sha256[:12]}… (a different version of the file?)"
            )
        return p
    cached = cache_root() / relpath
    if entry is not None and cached.is_file():
        if sha256_of(cached) == entry.sha256:
            return cached
        cached.unlink()  # corrupt or stale: fetch again below
    if download is None:
        download = os.environ.get(ENV_OFFLINE, "") not in ("1", "true", "yes")
    if entry is not None and entry.url is not None and download:
        try:
            return _download(entry, cached)
        except DataChecksumError:
            raise
        except OSError as e:
            raise DataFileNotFound(_missing_message(relpath, entry, root, cached, f"download failed: {e}")) from None
    raise DataFileNotFound(_missing_message(relpath, entry, root, cached, None if download else "downloads are off"))


def _missing_message(relpath, entry, root, cached, why) -> str:
    where = f"${ENV_DIR} ({root}/{relpath})" if root is not None else f"${ENV_DIR} (not set)"
    lines = [f"public data file {relpath!r} not found: looked in {where} and the cache ({cached})."]
    if entry is None:
        lines.append("It is not in replicate.worlds.public_data.FILES; check the name against the data READMEs.")
    elif entry.url is not None:
        lines.append(
            f"It is downloaded from {entry.url} (pinned commit, sha256 {entry.sha256[:12]}…)"
            + (f"; {why}." if why else ".")
        )
        lines.append(
            f"Offline: fetch that URL elsewhere and save it as {cached}, or set {ENV_DIR} to a "
            "copy of the shared data bundle (the Makefile uses ../shared/data)."
        )
    else:
        how = DERIVED.get(relpath, "documentation that ships with the bundle")
        lines.append(
            f"It has no upstream file to download: it is derived ({how}) and comes with the shared "
            f"data bundle. Set {ENV_DIR} to a copy of that bundle (the Makefile uses ../shared/data) "
            f"or place the file at {cached}."
        )
    return " ".join(lines)


def _download(entry: _F, dest: Path) -> Path:
    import urllib.request

    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    try:
        h = hashlib.sha256()
        n = 0
        with urllib.request.urlopen(entry.url, timeout=60) as r, os.fdopen(fd, "wb") as f:
            for chunk in iter(lambda: r.read(1 << 20), b""):
                h.update(chunk)
                n += len(chunk)
                f.write(chunk)
        if h.hexdigest() != entry.sha256 or n != entry.size:
            raise DataChecksumError(
                f"{entry.url}: got sha256 {h.hexdigest()[:12]}… ({n} bytes), expected "
                f"{entry.sha256[:12]}… ({entry.size} bytes); the file was not used"
            )
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return dest


def verify_all(root: str | Path | None = None) -> dict[str, str]:
    """Check every registered file present under ``root`` (default $REPLICATE_DATA_DIR): relpath -> problem."""
    root = Path(root) if root is not None else data_dir()
    problems = {}
    for rel, e in FILES.items():
        p = root / rel
        if not p.is_file():
            problems[rel] = "missing"
        elif p.stat().st_size != e.size or sha256_of(p) != e.sha256:
            problems[rel] = "checksum mismatch"
    return problems
