"""Config -> papermill: execute a paper's notebook with a Hydra-composed config.

The notebook receives the override list as its only parameter and composes the same config
itself (so it also runs by hand in Jupyter). Executed copies and HTML renderings land in
``build/notebooks/<paper>-<scale>.{ipynb,html}``; at ``scale=tiny`` a copy without volatile metadata also goes
beside the results, ``results/notebooks/<paper>-tiny.ipynb`` (``reporting.published``), for a reader who runs nothing.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

from ..core.config import ConfigError, compose
from ..core.paths import ROOT, build_dir
from ..reporting import published

BUILD = build_dir()


def notebook_for(paper: str) -> Path:
    return ROOT / "notebooks" / f"{paper}.ipynb"


def run_notebook(
    paper: str, overrides: list[str], *, html: bool = True, log_output: bool = False, progress: bool = False
) -> Path:
    cfg = compose(paper, overrides)  # fails fast on bad input, before any compute
    from ..papers.interface import load

    load(paper).validate(cfg)  # the paper's own settings, still before the kernel starts
    if cfg.scale.name == "paper" and paper == "simpo":
        raise ConfigError(
            "scale=paper trains the papers' own 7-9B models on GPUs, outside the notebooks: "
            "`replicate pipeline simpo scale=paper hardware=multi_gpu_zero3 setup=simpo_llama3_instruct` "
            "(train → generate → judge → metrics; docs/running.md); notebooks run ci/tiny/small"
        )
    if cfg.scale.get(
        "real", False
    ):  # a real model: every missing model, dataset, judge or key named before the kernel starts
        from ..real.preflight import require

        require(cfg)
    nb = notebook_for(paper)
    if not nb.exists():
        raise ConfigError(f"paper {paper!r} has a config but no notebook at {nb.relative_to(ROOT)}")
    import papermill as pm

    out_dir = BUILD / "notebooks"
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"{paper}-{cfg.scale.name}.ipynb"
    tmp = out.with_suffix(".tmp.ipynb")
    src = out.with_suffix(".src.ipynb")
    select_cells(nb, src, real=bool(cfg.scale.get("real", False)), paper=paper)
    try:
        kw = dict(parameters={"overrides": list(overrides)}, cwd=str(ROOT), log_output=log_output, progress_bar=False,
                  kernel_name="python3")  # fmt: skip
        with _kernel_draws_inline():
            if progress:  # the terminal shows one bar (cells, a stage graph's jobs); library output goes to the log
                from papermill.engines import papermill_engines

                from .console import Console, papermill_engine

                with Console(paper, cfg.scale.name) as console:
                    papermill_engines.register("replicate", papermill_engine(console))
                    pm.execute_notebook(str(src), str(tmp), **kw, engine_name="replicate")
            else:
                pm.execute_notebook(str(src), str(tmp), **kw)
    finally:
        src.unlink(missing_ok=True)
    os.replace(tmp, out)
    if cfg.scale.name in published.SCALES:  # readable without running: beside the metrics.json this run wrote
        published.publish(out, paper, cfg.scale.name, Path(cfg.results_dir).parent / "notebooks")
    if html:
        from nbconvert import HTMLExporter

        body, _ = HTMLExporter().from_filename(str(out))
        html_path = out.with_suffix(".html")
        html_tmp = html_path.with_suffix(".tmp")
        html_tmp.write_text(body)
        os.replace(html_tmp, html_path)
    return out


@contextlib.contextmanager
def _kernel_draws_inline():
    """The kernel inherits our environment; ipykernel picks its inline backend (figures in the executed notebook)
    only where ``MPLBACKEND`` is unset, and make and the tests set it to Agg for everything else."""
    saved = os.environ.pop("MPLBACKEND", None)
    try:
        yield
    finally:
        if saved is not None:
            os.environ["MPLBACKEND"] = saved


TOY, REAL = "toy-world", "real-model"


def select_cells(nb: Path, dest: Path, *, real: bool, paper: str) -> Path:
    """The notebook to execute at this scale: cells tagged ``toy-world`` run on the toy world (ci, tiny), cells
    tagged ``real-model`` on a Hugging Face model (scale=small, ``scale.real``); untagged cells always run."""
    import nbformat

    doc = nbformat.read(str(nb), as_version=4)
    drop = TOY if real else REAL
    tags = [set(c.get("metadata", {}).get("tags", [])) for c in doc.cells]
    if real and not any(REAL in t for t in tags):
        raise ConfigError(
            f"notebooks/{paper}.ipynb has no real-model cells, so it cannot run at a real-model scale; "
            "see replicate/real/runner.py for how a paper opts in"
        )
    doc.cells = [c for c, t in zip(doc.cells, tags) if drop not in t]
    nbformat.write(doc, str(dest))
    return dest


def _print_times(log: Path) -> None:
    """Where the stage graphs' time went (``training.runner.time_summary``): the three costliest stages by CPU."""
    from ..training.runner import format_seconds, time_summary, times_path

    rows = time_summary(times_path(log))
    if rows:
        top = ", ".join(f"{r['stage']} {format_seconds(r['cpu_s'])}" for r in rows[:3])
        cpu = format_seconds(sum(r["cpu_s"] for r in rows))
        print(f"stage jobs: {sum(r['jobs'] for r in rows)} ({sum(r['computed'] for r in rows)} computed), {cpu} of "
              f"CPU; costliest: {top} (every job: {_rel(times_path(log))})")  # fmt: skip


def main_run(argv: list[str]) -> int:
    if not argv:
        from ..core.config import papers

        print(f"usage: replicate run PAPER [key=value ...]; papers: {', '.join(papers())}", file=sys.stderr)
        return 2
    from papermill.exceptions import PapermillExecutionError

    from .console import log_file

    cfg = compose(argv[0], argv[1:])
    log = log_file(argv[0], cfg.scale.name)
    print(f"running notebooks/{argv[0]}.ipynb at scale={cfg.scale.name}; library output: {_rel(log)}", file=sys.stderr)
    try:
        out = run_notebook(argv[0], argv[1:], progress=True)
    except PapermillExecutionError as e:  # the notebook's own error, without papermill's traceback
        print(
            f"error: notebooks/{argv[0]}.ipynb stopped in cell {e.exec_count}: {e.ename}: {e.evalue}\n"
            f"(partial executed copy: {BUILD / 'notebooks'}/{argv[0]}-*.tmp.ipynb; library output: {_rel(log)})",
            file=sys.stderr,
        )
        return 1
    print(f"executed notebook: {_rel(out)} (+ .html)")
    _print_times(log)
    if cfg.scale.name in published.SCALES:
        print(f"readable copy: {_rel(Path(cfg.results_dir).parent / 'notebooks' / out.name)}")
    from ..core.io import read_json
    from ..metrics.claims import claims_markdown, metrics_path

    m = metrics_path(argv[0], cfg.scale.name, cfg.results_dir)
    if m.exists():
        print(f"metrics: {_rel(m)}\n")
        print(claims_markdown(read_json(m)["claims"]))
    return 0


def _rel(p: Path) -> Path:
    return p.relative_to(ROOT) if p.is_relative_to(ROOT) else p
