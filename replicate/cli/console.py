"""The terminal of ``replicate run``: one progress line, and everything else in a log file.

While papermill executes a notebook, this process's stdout and stderr (and so the kernel's, which inherits them:
its start-up warnings) go to ``build/logs/<paper>-<scale>.log``; the workers of a stage graph write there too
(``training.runner`` reads the file's name from ``REPLICATE_LOG``). The terminal keeps one bar: the notebook's
cell, and while a stage graph runs its jobs — done / total, how many were cached, the time left — read from the
JSON file the runner writes (``REPLICATE_PROGRESS``). A damaged cached stage the runner recomputed is printed
above the bar.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
from pathlib import Path

from ..core.paths import build_dir


def log_file(paper: str, scale: str) -> Path:
    return build_dir() / "logs" / f"{paper}-{scale}.log"


class Console:
    """``with Console(paper, scale) as c:`` output redirected to ``c.log``; ``c.cell(i, n)`` from papermill."""

    def __init__(self, paper: str, scale: str, *, poll_s: float = 0.5):
        self.log = log_file(paper, scale)
        self.progress = self.log.with_suffix(".progress.json")
        self.poll_s = poll_s
        self._cell = (0, 0)
        self._graph: dict | None = None
        self._notes_shown, self._graph_id, self._line = 0, None, ""
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._env: dict = {}

    def __enter__(self) -> Console:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.progress.unlink(missing_ok=True)
        from ..training.runner import times_path

        times_path(self.log).unlink(missing_ok=True)  # this run's job times only
        for k, v in (("REPLICATE_LOG", str(self.log)), ("REPLICATE_PROGRESS", str(self.progress))):
            self._env[k] = os.environ.get(k)
            os.environ[k] = v
        sys.stdout.flush()
        sys.stderr.flush()
        self._saved = os.dup(1), os.dup(2)
        self.term = open(os.dup(2), "w", buffering=1)  # closed in __exit__
        fd = os.open(self.log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
        from tqdm import tqdm

        # disable=False: TQDM_DISABLE (set by quiet_libraries for TRL's bars) must not hide this one
        self.bar = tqdm(total=0, file=self.term, bar_format="{desc}{postfix}", dynamic_ncols=True, disable=False)
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    def cell(self, index: int, total: int) -> None:
        with self._lock:
            self._cell = (index + 1, total)
            self._render()

    def _poll(self) -> None:
        while not self._stop.wait(self.poll_s):
            try:
                state = json.loads(self.progress.read_text())
            except (OSError, ValueError):
                continue
            with self._lock:
                if (state.get("pid"), state.get("started")) != self._graph_id:  # a new graph: its own notes
                    self._graph_id, self._notes_shown = (state.get("pid"), state.get("started")), 0
                self._graph = state
                for note in state.get("notes", [])[self._notes_shown :]:
                    self.bar.write(note, file=self.term)
                self._notes_shown = len(state.get("notes", []))
                self._render()

    def _render(self) -> None:
        i, n = self._cell
        parts = [f"cell {i}/{n}" if n else "starting the kernel"]
        g = self._graph
        if g is not None and g["done"] < g["total"]:
            from ..training.runner import format_seconds

            left = "time left unknown" if g["eta_s"] is None else f"≈ {format_seconds(g['eta_s'])} left"
            parts.append(f"{g['desc']}: {g['done']}/{g['total']} jobs ({g['cached']} cached, {left})")
        line = " · ".join(parts)
        if line != self._line:  # redraw on change only: a log (CI) gets one line per change, not per poll
            self._line = line
            self.bar.set_description_str(line, refresh=True)

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        with self._lock:
            self.bar.close()
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(self._saved[0], 1)
        os.dup2(self._saved[1], 2)
        for fd in self._saved:
            os.close(fd)
        self.term.close()
        for k, v in self._env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        with contextlib.suppress(OSError):
            self.progress.unlink()


def papermill_engine(console: Console):
    """papermill's nbclient engine, telling ``console`` which cell starts (papermill's engines are pluggable:
    ``papermill.engines.papermill_engines.register``)."""
    from papermill.engines import NBClientEngine

    class Engine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, **kwargs):
            start = nb_man.cell_start

            def cell_start(cell, cell_index=None, **kw):
                if cell_index is not None:
                    console.cell(cell_index, len(nb_man.nb.cells))
                return start(cell, cell_index, **kw)

            nb_man.cell_start = cell_start
            return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)

    return Engine
