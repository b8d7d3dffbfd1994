"""Command line: ``replicate run|check|tables|winrate ...`` (also ``python -m replicate``)."""

from __future__ import annotations

import sys

from ..core.config import ConfigError

USAGE = """usage: replicate COMMAND ...
  run PAPER [key=value ...]     execute notebooks/PAPER.ipynb with a Hydra-composed config
  check PAPER [key=value ...]   re-run PAPER at its check scale and compare with the committed metrics
  tables [PAPER]                render results/tables/*.md from results/ files only
  winrate ANNOTATIONS [--json]  win rates of an AlpacaEval-format annotations file
  pipeline PAPER scale=paper setup=... [stage=train,generate,judge,metrics] [key=value ...]
                                the paper-scale pipeline (SimPO): each stage cached, each runnable alone
  papers                        list known papers
"""


def main(argv: list[str] | None = None) -> int:
    import os

    from ..core.provenance import NUMERICS_ENV

    for k, v in NUMERICS_ENV.items():  # before anything loads torch; the kernels inherit them
        os.environ.setdefault(k, v)
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if argv else 2
    cmd, rest = argv[0], argv[1:]
    try:
        if cmd == "run":
            from .run import main_run

            return main_run(rest)
        if cmd == "check":
            from .check import main_check

            return main_check(rest)
        if cmd == "tables":
            from ..reporting.paper_index import update_readme, update_results_page
            from ..reporting.tables import render_deviations, render_tables

            for p in [
                *render_tables(rest[0] if rest else None),
                render_deviations(),
                update_readme(),
                update_results_page(),
            ]:
                print(f"wrote {p}")
            return 0
        if cmd == "winrate":
            from .winrate import main_winrate

            return main_winrate(rest)
        if cmd == "pipeline":
            return main_pipeline(rest)
        if cmd == "papers":
            from ..core.config import papers

            print("\n".join(papers()))
            return 0
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"error: unknown command {cmd!r}\n{USAGE}", file=sys.stderr)
    return 2


def main_pipeline(argv: list[str]) -> int:
    if not argv:
        print(
            "usage: replicate pipeline PAPER scale=paper setup=... [stage=train,generate,judge,metrics]",
            file=sys.stderr,
        )
        return 2
    from ..real.pipeline import STAGES, pipeline

    stages = [a.split("=", 1)[1] for a in argv[1:] if a.startswith("stage=")]
    stages = [s for a in stages for s in a.split(",")] or list(STAGES)
    for stage, path in pipeline(argv[0], [a for a in argv[1:] if not a.startswith("stage=")], stages).items():
        print(f"{stage}: {path}")
    return 0
