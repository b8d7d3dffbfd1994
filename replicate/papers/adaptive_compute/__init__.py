"""Adaptive Inference-Time Compute in miniature: ``experiment`` (on-policy data, self-evaluator, reward model, scores
per split, cached), ``claims`` (numbers, curves and verdicts).

``PAPER`` is its interface (``replicate.papers.interface``); the other names are what its notebook and tests read.
"""

from ...training.toy_stages import build_world, seeds, setup_torch
from ..interface import Metrics, Paper, toy_world_only
from . import claims
from .claims import SELECTORS, adaptive_curve, bon_curve, flat_metrics, prune_curve, render_table, speed, summary
from .experiment import (
    judge_matrix,
    judge_not_better,
    judge_rank,
    not_better_share,
    onpolicy_data,
    run_all,
    self_eval_dataset,
    self_eval_text,
    validate,
)


def metrics(results, cfg) -> Metrics:
    """Seed means for metrics.json, with each seed's value for ``make check``'s tolerances."""
    values, spread = flat_metrics(results, cfg)
    return Metrics(values, seeds(cfg), spread, extra={"speed": speed(results)})


PAPER = Paper(
    name="adaptive-compute",
    validate=toy_world_only(validate),
    run=run_all,
    metrics=metrics,
    claims=claims.claims,
    render_table=render_table,
)

__all__ = [
    "PAPER",
    "claims",
    "metrics",
    "SELECTORS",
    "adaptive_curve",
    "bon_curve",
    "build_world",
    "flat_metrics",
    "judge_matrix",
    "judge_not_better",
    "judge_rank",
    "not_better_share",
    "onpolicy_data",
    "prune_curve",
    "render_table",
    "run_all",
    "seeds",
    "self_eval_dataset",
    "self_eval_text",
    "setup_torch",
    "speed",
    "summary",
    "validate",
]
