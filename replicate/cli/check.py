"""``make check`` / ``make check-full``: re-run a replication into build/check and compare with the committed metrics.

``make check`` (CI) re-runs a paper's stated subset: for a paper whose conf has ``check.subset: {n_seeds: 1}`` (the
LM-world papers, minutes per seed), only its first seed, compared number by number with that seed's committed
per-seed values and per-seed claim effects; every other paper in full. ``make check-full`` (``--full``) re-runs
every seed of every paper and compares verdicts too. Tolerances: ``replicate.metrics.claims.compare``.
"""

from __future__ import annotations

import sys

from ..core.config import ConfigError, compose, to_dict
from ..core.io import read_json
from ..metrics.claims import check, cpu_model, metrics_path
from .run import BUILD, run_notebook

# Seed 42 alone: no extra seeds where a paper spends more (``paper.power``): SimPO's compared arms, K_rl's control.
# (SimPO's ``extra_seeds`` counts seeds for its ``arms``: with no arms it costs nothing, so it needs no override.)
_NO_EXTRA_SEEDS = {"arms": "[]", "k_rl_seeds": "1", "k_revise_seeds": "1", "extra_seeds": None}


def no_extra_seeds(cfg) -> list[str]:
    """The overrides that turn off every extra seed a paper's ``paper.power`` asks for (an unknown key is an error,
    not a silent extra cost in CI)."""
    power = to_dict(cfg.paper).get("power") or {}
    if unknown := [k for k in power if k not in _NO_EXTRA_SEEDS]:
        raise ConfigError(f"paper.power.{unknown[0]}: make check's seed-42 subset does not know how to turn it off")
    return [f"paper.power.{k}={_NO_EXTRA_SEEDS[k]}" for k in power if _NO_EXTRA_SEEDS[k] is not None]


def main_check(argv: list[str]) -> int:
    if not argv:
        print("usage: replicate check PAPER [--full] [key=value ...]", file=sys.stderr)
        return 2
    paper, rest = argv[0], list(argv[1:])
    full = "--full" in rest
    overrides = [o for o in rest if o != "--full"]
    fresh_root = BUILD / "check" / "reproduced"
    overrides = [*overrides, f"results_dir={fresh_root}", f"figures_dir={BUILD / 'check' / 'figures'}"]
    cfg = compose(paper, overrides)
    spec = to_dict(cfg.paper).get("check", {}) or {}
    subset = {} if full else dict(spec.get("subset") or {})
    if spec.get("across_cpus") not in (None, "trained"):
        raise ConfigError(
            f"conf/paper/{paper}.yaml check.across_cpus: only 'trained' is known, got {spec['across_cpus']!r}"
        )
    seed = None
    if subset:
        if set(subset) != {"n_seeds"} or int(subset["n_seeds"]) != 1:
            raise ConfigError(f"conf/paper/{paper}.yaml check.subset: only {{n_seeds: 1}} is supported, got {subset}")
        overrides.append("scale.n_seeds=1")
        overrides += no_extra_seeds(cfg)
        seed = int(cfg.seed)
    run_notebook(paper, overrides, html=False, log_output=False, progress=True)  # one line; library output: build/logs
    moved: list[str] = []
    problems = check(
        paper,
        cfg.scale.name,
        fresh_root,
        dict(spec.get("tolerances", {}) or {}),
        effects=dict(spec.get("effects", {}) or {}),
        verdict_only=list(spec.get("verdict_only", []) or []),
        seed=seed,
        across_cpus=spec.get("across_cpus"),
        moved=moved,
    )
    what = f"seed {seed} of {cfg.scale.name}" if seed is not None else cfg.scale.name
    if moved:
        here, there = (cpu_model(read_json(metrics_path(paper, cfg.scale.name, r))) for r in (fresh_root, None))
        print(
            f"check {paper} ({what}): committed on {there}, run on {here}: {len(moved)} seed-dependent number(s) moved"
            " beyond tolerance, as another seed's would (training amplifies the CPUs' float rounding;"
            " docs/statistics.md, 'Across machines'). Reported, not failed; the first five:"
        )
        for m in moved[:5]:
            print(f"  ~ {m}")
    if problems:
        print(f"check {paper} ({what}): {len(problems)} problem(s)")
        for p in problems:
            print(f"  - {p}")
        return 1
    verdicts = "" if seed is not None else ", all claim verdicts unchanged"
    if moved:
        print(
            f"check {paper} ({what}): every seed-independent number within tolerance, every metric and claim present"
        )
        return 0
    print(f"check {paper} ({what}): all metrics and claim effects within tolerance{verdicts}")
    return 0
