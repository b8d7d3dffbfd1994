"""Spread independent, cached jobs over the CPU's cores: one process per core, one torch thread each.

A tiny model's training step uses 2 intra-op threads well, but much of a job is single-threaded Python
(tokenization, the judge, the LC fit, trainer set-up). Measured on 2 cores: a 4096-pair DPO run with its
evaluation takes 12.4 s on 2 threads and 18.6 s on 1, while two 1-thread runs side by side take 20.2 s
and 20.7 s, i.e. 10.3 s per run; so the cores are better spent on two jobs at once. Results do not depend on the order jobs finish in: every job
writes its result through ``core.io.cached`` under a content key, and the caller reads results by key.

``workers=1`` runs everything in this process, in submission order (tests, debugging, a GPU).

``log``: a file that receives everything the worker processes write to stdout and stderr (library progress bars,
trainer dicts, warnings), so that it reaches neither the notebook nor the terminal; ``training.runner`` names it.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any


def _init_worker(threads: int, log: str | None = None) -> None:
    if log is not None:  # before the imports below, whose warnings are part of the noise
        redirect_output(log)
    import torch

    torch.set_num_threads(threads)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def redirect_output(log: str | os.PathLike) -> None:
    """Send this process's stdout and stderr, Python's and the file descriptors C libraries write to, to ``log``."""
    import sys

    sys.stdout.flush()
    sys.stderr.flush()
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    sys.stdout = open(1, "w", buffering=1, closefd=False)  # lives as long as the process
    sys.stderr = open(2, "w", buffering=1, closefd=False)


class Workers:
    """``with Workers(n, threads) as pool: fut = pool.submit(fn, *args)`` — a process pool, or inline when n == 1.

    Processes are *spawned* (not forked): forking a process that has started OpenMP threads (any torch
    op) can deadlock, and a notebook kernel is such a process. ``fn`` must be importable (module level).
    """

    def __init__(self, workers: int, threads: int = 1, *, log: str | os.PathLike | None = None):
        if workers < 1 or threads < 1:
            raise ValueError(f"workers and threads must be ≥ 1, got {workers} and {threads}")
        self.workers, self.threads = int(workers), int(threads)
        self.log = None if log is None else str(log)
        self._pool: ProcessPoolExecutor | None = None

    @classmethod
    def from_cfg(cls, cfg, *, log: str | os.PathLike | None = None) -> Workers:
        """The pool ``hardware.workers`` × ``hardware.torch_threads`` asks for (each at least 1)."""
        hw = cfg.hardware
        return cls(int(hw.get("workers", 1) or 1), int(hw.get("torch_threads") or 1), log=log)

    def __enter__(self) -> Workers:
        if self.workers > 1:
            self._pool = ProcessPoolExecutor(
                self.workers,
                mp_context=mp.get_context("spawn"),
                initializer=_init_worker,
                initargs=(self.threads, self.log),
            )
        return self

    def __exit__(self, *exc) -> None:
        if self._pool is not None:
            # on an error (or Ctrl-C) drop queued jobs; finished ones are already in the cache
            self._pool.shutdown(wait=True, cancel_futures=exc[0] is not None)
            self._pool = None

    def submit(self, fn: Callable, *args: Any) -> Future:
        if self._pool is not None:
            return self._pool.submit(fn, *args)
        fut: Future = Future()
        try:
            fut.set_result(fn(*args))
        except BaseException as e:  # surfaced by fut.result(), as a pool would
            fut.set_exception(e)
        return fut

    def run_graph(self, fn: Callable, first: list[tuple], after: Callable[[tuple, Any], list[tuple]]):
        """Run ``fn(*job)`` for each job of ``first``; when a job finishes, queue the jobs ``after(job, result)``
        returns (stages that need it), so the cores stay busy across seeds. Yields ``(job, result)`` as jobs finish;
        a job's error is re-raised here.

        Jobs are handed to the workers one per free worker, in queue order, never queued ahead inside the pool: so
        a caller may stop early (``break``, e.g. once the stages it needs exist) and only the jobs already running
        finish (into the cache), which lets an idle core start later stages while the last of the earlier ones runs.
        """
        from collections import deque
        from concurrent.futures import FIRST_COMPLETED, wait

        queue, futs = deque(first), {}

        def fill():
            while queue and len(futs) < self.workers:
                job = queue.popleft()
                futs[self.submit(fn, *job)] = job

        fill()
        try:
            while futs:
                done, _ = wait(set(futs), return_when=FIRST_COMPLETED)
                finished = []
                for f in done:
                    job = futs.pop(f)
                    res = f.result()
                    queue.extend(after(job, res))
                    finished.append((job, res))
                fill()  # before handing results back, so a slow consumer never idles a worker
                yield from finished
        finally:
            wait(set(futs))  # stopped early or failed: let the running jobs finish; queued ones never start
