"""Each paper's notebook executed once per test session at scale=ci, as `make replicate-<paper>` executes it, and
shared by every test that reads it (the notebook tests assert on its outputs, the report test builds the site from
all of them), across pytest-xdist workers too.

Where they live: ``<session tmp>/notebooks-ci/`` (under xdist the parent of the workers' temp dirs, shared by
them): ``build/notebooks/<paper>-ci.ipynb``, ``results/reproduced/<paper>/ci/metrics.json``, ``results/figures/``,
and one stage cache, so the toy-LM papers share one SFT model per seed as they do in a user's ``.cache/``
(``core.io.cached`` is safe when two workers compute the same stage). A file lock per paper makes the first test
that needs a notebook execute it and the others wait for it; a failed execution is recorded, so that every test
reading that notebook fails with its error instead of executing it again.
"""

from __future__ import annotations

import os
import traceback
from pathlib import Path

import pytest

SCALE = "ci"
# The notebooks that take longest at scale=ci (measured with --durations), started first so that two xdist workers
# finish together; the others follow in any order. A scheduling hint only: a paper missing here still runs.
LONGEST_FIRST = (  # -n 2, durations of one run (s, shared 2-core host): 208 153 152 142 109 83 61 58, then 14-27 each
    "simpo",
    "par",
    "adaptive-compute",
    "temporal-self-rewarding",
    "drift",
    "evolve",
    "autorule",
    "instruct-skillmix",
    "lcpo",
    "lc-alpacaeval",
)


def longest_first(papers: list[str]) -> list[str]:
    rank = {p: i for i, p in enumerate(LONGEST_FIRST)}
    return sorted(papers, key=lambda p: rank.get(p, len(rank)))


def under_xdist() -> bool:
    return "PYTEST_XDIST_WORKER" in os.environ


def shared_root(tmp_path_factory) -> Path:
    base = tmp_path_factory.getbasetemp()
    root = (base.parent if under_xdist() else base) / "notebooks-ci"
    root.mkdir(exist_ok=True)
    return root


def shared_cache(tmp_path_factory) -> Path:
    """The session's stage cache, shared with the notebooks: a test module that needs the toy world's SFT model
    at scale=ci finds it here instead of training its own copy (core.io.cached is safe for concurrent writers)."""
    return shared_root(tmp_path_factory) / "cache"


def fresh_cache_with_shared_sft(path: Path, tmp_path_factory) -> Path:
    """A new, empty stage cache except for the session's SFT models (``toy-sft``, linked from the shared cache): a test
    that compares two runs recomputes everything after SFT (SFT's own determinism across processes is
    tests/test_parallel.py's)."""
    sft = shared_cache(tmp_path_factory) / "toy-sft"
    sft.mkdir(parents=True, exist_ok=True)
    path.mkdir(parents=True, exist_ok=True)
    (path / "toy-sft").symlink_to(sft, target_is_directory=True)
    return path


def overrides(root: Path) -> list[str]:
    ov = [
        f"scale={SCALE}",
        f"results_dir={root / 'results' / 'reproduced'}",
        f"figures_dir={root / 'results' / 'figures'}",
    ]
    if under_xdist():  # two pytest workers already fill the two cores: no worker pool inside each notebook
        ov.append("hardware.workers=1")
    return ov


def executed(paper: str, root: Path, *, wait: bool = True) -> Path | None:
    """The executed copy of ``notebooks/<paper>.ipynb`` (executing it now if no test of this session has);
    with ``wait=False``, None at once while another process is executing it."""
    from filelock import FileLock, Timeout

    out = root / "build" / "notebooks" / f"{paper}-{SCALE}.ipynb"
    failed = root / "failed" / f"{paper}.txt"
    (root / "locks").mkdir(exist_ok=True)
    lock = FileLock(str(root / "locks" / f"{paper}.lock"))
    try:
        lock.acquire(timeout=-1 if wait else 0)
    except Timeout:
        return None
    try:
        if out.exists():
            return out
        if failed.exists():
            pytest.fail(f"notebooks/{paper}.ipynb failed earlier in this session:\n{failed.read_text()}", False)
        import replicate.cli.run as run

        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("REPLICATE_CACHE_DIR", str(root / "cache"))  # the kernel inherits it
            mp.setattr(run, "BUILD", root / "build")
            try:
                run.run_notebook(paper, overrides(root), html=False, log_output=False)
            except Exception:
                failed.parent.mkdir(exist_ok=True)
                failed.write_text(traceback.format_exc(limit=3))
                raise
    finally:
        lock.release()
    return out


def executed_all(papers: list[str], root: Path) -> dict[str, Path]:
    """Every paper's executed notebook: first those nobody is executing (executed here), then the rest (waited for),
    so that a test needing all of them works alongside the other workers instead of queueing behind them."""
    out = {p: nb for p in longest_first(papers) if (nb := executed(p, root, wait=False)) is not None}
    return {p: out.get(p) or executed(p, root) for p in papers}


def metrics_file(paper: str, root: Path) -> Path:
    return root / "results" / "reproduced" / paper / SCALE / "metrics.json"
