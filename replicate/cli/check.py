"""``make check``: re-run a replication into build/check and compare with the committed metrics."""

from __future__ import annotations

import sys

from ..core.config import compose
from ..metrics.claims import check
from .run import BUILD, run_notebook


def main_check(argv: list[str]) -> int:
    if not argv:
        print("usage: replicate check PAPER [key=value ...]", file=sys.stderr)
        return 2
    paper, overrides = argv[0], list(argv[1:])
    fresh_root = BUILD / "check" / "reproduced"
    overrides = [*overrides, f"results_dir={fresh_root}", f"figures_dir={BUILD / 'check' / 'figures'}"]
    cfg = compose(paper, overrides)
    run_notebook(paper, overrides, html=False, log_output=False, progress=True)  # one line; library output: build/logs
    tolerances = dict(cfg.paper.get("check", {}).get("tolerances", {}) or {})
    problems = check(paper, cfg.scale.name, fresh_root, tolerances)
    if problems:
        print(f"check {paper} ({cfg.scale.name}): {len(problems)} problem(s)")
        for p in problems:
            print(f"  - {p}")
        return 1
    print(f"check {paper} ({cfg.scale.name}): all metrics within tolerance, all claim verdicts unchanged")
    return 0
