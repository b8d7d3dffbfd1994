"""AutoRule in miniature: ``rules`` (reasons, rule extraction and merging, the verifier: the LLM stages' toy
stand-ins), ``experiment`` (rules, RM and both GRPO arms, cached), ``claims`` (numbers and verdicts).

``PAPER`` is its interface (``replicate.papers.interface``); the other names are what its notebook and tests read.
"""

from ...training import rl, rl_control_seeds
from ...training.toy_stages import seeds, setup_torch
from ...training.world_cache import world_for
from ..interface import Metrics, Paper, toy_world_only
from . import claims
from .claims import curves_frame, flat_metrics, render_table
from .experiment import ARMS, rl_settings, rm_cfg, rule_score, rule_set, run_all, validate


def metrics(results, cfg) -> Metrics:
    """Seed means for metrics.json, with each seed's value for ``make check``'s tolerances."""
    values, spread = flat_metrics(results)
    return Metrics(values, seeds(cfg), spread, extra={"rules": {sd: r["rules"]["rules"] for sd, r in results.items()}})


def run(cfg, progress: bool = True) -> dict:
    """``run_all``, then K_rl's extra seeds (``paper.power.k_rl_seeds``; ``training.rl_control_seeds``)."""
    return rl_control_seeds.with_extra_seeds(cfg, run_all(cfg, progress), progress)


PAPER = Paper(
    name="autorule",
    validate=toy_world_only(validate),
    run=run,
    metrics=metrics,
    claims=claims.claims,
    render_table=render_table,
)

__all__ = [
    "PAPER",
    "claims",
    "metrics",
    "ARMS",
    "curves_frame",
    "flat_metrics",
    "render_table",
    "rl",
    "rl_settings",
    "rm_cfg",
    "rule_score",
    "rule_set",
    "run_all",
    "seeds",
    "setup_torch",
    "validate",
    "world_for",
]
