"""The one runner of an LM-world paper's per-seed stage graph: its jobs over ``hardware.workers`` processes
(``core.parallel.Workers.run_graph``), one progress bar, library noise in a log file.

A paper declares its graph as stages and what each needs, the same for every seed::

    STAGES = {"data": (), "self_eval": ("data",), "rm": ("data",), "dev": ("self_eval", "rm"), "eval": ("self_eval", "rm")}
    results = run_stages(cfg, _job, STAGES, desc="Adaptive compute: data, evaluators, scores")

and gets ``{(seed, stage): result}`` for every seed of ``toy_stages.seeds(cfg)``. ``job(cfg, stage)`` is a
module-level function (worker processes import it by name); it receives the config of one seed with the torch
threads set, and each stage it computes goes through ``core.io.cached``, so that the result does not depend on
which worker ran it or in what order: a stage starts as soon as the stages it needs exist for its seed, which
keeps every core busy across seeds.

The console: one bar over the graph's jobs (done / total, how many were already cached, an estimate of the time
left from the jobs that computed something), in the notebook, and for ``replicate run`` also on the terminal
(``REPLICATE_PROGRESS``: a JSON file the command polls). What the workers print — model-loading bars, trainer
dicts, warnings — goes to ``build/logs/<paper>-<scale>.log`` (``REPLICATE_LOG`` when ``replicate run`` names it), and
a job that fails raises :class:`StageFailed`, whose message names that file. A damaged cached stage that a worker
recomputed (``core.io.cached``) is reported in the notebook as one warning line.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
import traceback
from collections.abc import Callable, Hashable, Mapping
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from ..core.io import CACHE_EVENTS, atomic_write_text
from ..core.parallel import Workers
from ..core.paths import build_dir


class StageFailed(RuntimeError):
    """A job of a stage graph failed; the message names the seed, the stage and the log with the job's output."""


def log_path(cfg) -> Path:
    """Where this run's library output goes: ``REPLICATE_LOG``, else ``build/logs/<paper>-<scale>.log``."""
    named = os.environ.get("REPLICATE_LOG")
    return Path(named) if named else build_dir() / "logs" / f"{cfg.paper.name}-{cfg.scale.name}.log"


def times_path(log: Path) -> Path:
    """Where each job's time is recorded, next to the log: ``<log stem>.times.jsonl`` (``bench/budget.py`` reads it)."""
    return log.with_name(log.stem + ".times.jsonl")


def _record_time(path: Path, desc: str, seed: int, stage, computed: bool, seconds: float, cpu: float) -> None:
    """One line per finished job: which graph, seed and stage, whether it computed anything (else it read the
    cache), its wall and CPU seconds. Appended, so a notebook's several graphs share one file per run."""
    rec = {"graph": desc, "seed": int(seed), "stage": str(stage), "computed": bool(computed)}
    rec.update(wall_s=round(float(seconds), 3), cpu_s=round(float(cpu), 3), end=round(time.time(), 3))
    with open(path, "a") as f:
        f.write(json.dumps(rec) + "\n")


def time_summary(path: Path) -> list[dict]:
    """The recorded jobs (``_record_time``) summed per stage, costliest CPU first: stage, jobs, computed (jobs that
    computed something rather than reading the cache), wall_s and cpu_s. Empty when nothing was recorded."""
    per: dict = {}
    if not Path(path).exists():
        return []
    for line in Path(path).read_text().splitlines():
        r = json.loads(line)
        s = per.setdefault(r["stage"], {"stage": r["stage"], "jobs": 0, "computed": 0, "wall_s": 0.0, "cpu_s": 0.0})
        s["jobs"] += 1
        s["computed"] += int(r["computed"])
        s["wall_s"] += r["wall_s"]
        s["cpu_s"] += r["cpu_s"]
    return sorted(per.values(), key=lambda s: -s["cpu_s"])


def check_graph(stages: Mapping[Hashable, tuple]) -> None:
    """Every stage a stage needs is in the graph and comes before it (so the graph has no cycle)."""
    seen: set = set()
    for s, needs in stages.items():
        missing = [n for n in needs if n not in seen]
        if missing:
            raise ValueError(f"stage {s!r} needs {missing}, which are not stages listed before it")
        seen.add(s)


def run_stages(
    cfg,
    job: Callable[[Any, Hashable], Any],
    stages: Mapping[Hashable, tuple],
    *,
    desc: str,
    progress: bool = True,
    until: tuple | None = None,
) -> dict:
    """Run ``job(cfg_of_seed, stage)`` for every seed and stage, each once the stages it needs are done for its seed;
    ``{(seed, stage): result}`` (module docstring).

    ``until``: return as soon as these stages exist for every seed. Later stages a free worker started meanwhile
    finish into the cache (a later call with the whole graph reads them back); queued ones never start. So a
    notebook can show the first stages while no core sat idle waiting for the last of them."""
    from .toy_stages import seeds

    check_graph(stages)
    plain = OmegaConf.to_container(cfg, resolve=True)
    log = log_path(cfg)
    log.parent.mkdir(parents=True, exist_ok=True)
    sds = seeds(cfg)
    order = list(stages)
    first = [(job, plain, sd, s, str(log)) for sd in sds for s in order if not stages[s]]
    done: dict = {}
    pool = Workers.from_cfg(cfg, log=log)

    def after(j, _res):
        _, _, sd, s, _ = j
        done.setdefault(sd, set()).add(s)
        return [
            (job, plain, sd, nxt, str(log))
            for nxt in order
            if s in stages[nxt] and nxt not in done[sd] and all(n in done[sd] for n in stages[nxt])
        ]

    out: dict = {}
    times = times_path(log)
    target = None if until is None else {(sd, s) for sd in sds for s in until}
    bar = Progress(desc, len(target) if target else len(sds) * len(order), workers=pool.workers, show=progress)
    with pool, bar:
        graph = pool.run_graph(_run_job, first, after)
        try:
            for (_, _, sd, s, _), (res, computed, seconds, damaged, cpu) in graph:
                out[(sd, s)] = res
                _record_time(times, desc, sd, s, computed, seconds, cpu)
                for msg in damaged:  # a worker's warning went to the log: say it where the user reads
                    print(msg, file=sys.stderr, flush=True)
                    bar.note(msg)
                if target is None or (sd, s) in target:
                    bar.update(computed, seconds)
                if target is not None and target <= out.keys():
                    break
        except _JobError as e:
            raise StageFailed(
                f"{desc}: seed {e.seed}, stage {e.stage!r} failed: {e.error}. The job's output, traceback included, "
                f"is in {log}"
            ) from None
        finally:
            graph.close()
    return out


class _JobError(Exception):
    def __init__(self, seed, stage, error: str):
        super().__init__(seed, stage, error)
        self.seed, self.stage, self.error = seed, stage, error


def _run_job(job, plain: dict, seed: int, stage, log: str):
    """In a worker (or inline): the seed's config, torch threads, the job with its output in the log; returns
    (result, whether it computed any stage, seconds, damaged-stage warnings, CPU seconds of this process: all its
    threads, the job alone since a worker runs one job at a time)."""
    from .toy_stages import setup_torch, with_seed

    CACHE_EVENTS.take()
    t0, c0 = time.perf_counter(), time.process_time()
    with _output_to(log):
        print(f"--- seed {seed}, stage {stage!r} (pid {os.getpid()})", flush=True)
        try:
            cfg = with_seed(OmegaConf.create(plain), seed)
            setup_torch(cfg)
            res = job(cfg, stage)
        except Exception as e:
            traceback.print_exc()
            raise _JobError(seed, stage, f"{type(e).__name__}: {e}") from None
    computed, damaged = CACHE_EVENTS.take()
    return res, computed > 0, time.perf_counter() - t0, damaged, time.process_time() - c0


@contextlib.contextmanager
def _output_to(log: str):
    """stdout and stderr of this process (Python's and the file descriptors) into ``log`` for the block. A worker
    process writes there anyway (``Workers(log=...)``); this is what keeps ``hardware.workers=1`` quiet too."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    py = sys.stdout, sys.stderr
    try:
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        sys.stdout = sys.stderr = open(fd, "w", buffering=1, closefd=False)
        yield
    finally:
        sys.stdout.flush()
        sys.stdout, sys.stderr = py
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for f in (*saved, fd):
            os.close(f)


class Progress:
    """The graph's bar: jobs done of total, how many were cached, and the time left estimated from the jobs that
    computed (the cached ones take seconds). Shown in the notebook (tqdm) and written to ``REPLICATE_PROGRESS`` for
    ``replicate run``'s terminal."""

    def __init__(self, desc: str, total: int, *, workers: int, show: bool = True):
        self.desc, self.total, self.workers, self.show = desc, total, max(1, workers), show
        self.done = self.cached = 0
        self.seconds: list[float] = []
        self.notes: list[str] = []
        self.t0 = time.monotonic()
        self.file = os.environ.get("REPLICATE_PROGRESS")
        self.bar = None

    def __enter__(self) -> Progress:
        if self.show:
            from tqdm.auto import tqdm

            self.bar = tqdm(
                total=self.total, desc=self.desc, unit="job", file=sys.stderr, disable=False
            )  # not TQDM_DISABLE: that is for TRL's bars
        self._publish()
        return self

    def eta(self) -> float | None:
        """Seconds left: the jobs not done × the mean time of a job that computed something / the workers."""
        if not self.seconds:
            return None
        return (self.total - self.done) * sum(self.seconds) / len(self.seconds) / self.workers

    def update(self, computed: bool, seconds: float) -> None:
        self.done += 1
        if computed:
            self.seconds.append(seconds)
        else:
            self.cached += 1
        if self.bar is not None:
            self.bar.set_postfix_str(self.postfix(), refresh=False)
            self.bar.update(1)
        self._publish()

    def note(self, msg: str) -> None:
        self.notes.append(msg)
        self._publish()

    def postfix(self) -> str:
        eta = self.eta()
        left = "time left unknown" if eta is None else f"≈ {format_seconds(eta)} left"
        return f"{self.cached} cached, {left}"

    def _publish(self) -> None:
        if self.file:
            state = {
                "desc": self.desc,
                "done": self.done,
                "total": self.total,
                "cached": self.cached,
                "eta_s": self.eta(),
                "elapsed_s": time.monotonic() - self.t0,
                "notes": self.notes,
                "pid": os.getpid(),
                "started": self.t0,
            }
            with contextlib.suppress(OSError):  # the terminal's bar is a courtesy: never fail a run for it
                atomic_write_text(self.file, json.dumps(state))

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.close()


def format_seconds(s: float) -> str:
    s = int(round(s))
    return f"{s} s" if s < 90 else f"{round(s / 60)} min" if s < 5400 else f"{s / 3600:.1f} h"  # 100 s → 2 min
