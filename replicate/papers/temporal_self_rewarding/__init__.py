"""Temporal Self-Rewarding in miniature: ``experiment`` (M_0 and the SR / TSR arms, cached), ``claims`` (numbers and
verdicts).

``PAPER`` is its interface (``replicate.papers.interface``); the other names are what its notebook and tests read.
"""

from ...core.config import at_scale
from ...training.pair_rules import anchored_pairs, future_guided, sr_pairs
from ...training.toy_stages import build_world, seeds, setup_torch
from ..interface import Metrics, Paper, toy_world_only
from . import claims
from .claims import curves, flat_metrics, render_table
from .experiment import ARMS, eft_data, gaps, run_all, run_arm, validate, with_scores


def metrics(results, cfg) -> Metrics:
    """Seed means for metrics.json, with each seed's value for ``make check``'s tolerances."""
    values, spread = flat_metrics(results)
    return Metrics(values, seeds(cfg), spread)


PAPER = Paper(
    name="temporal-self-rewarding",
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
    "ARMS",
    "anchored_pairs",
    "at_scale",
    "build_world",
    "curves",
    "eft_data",
    "flat_metrics",
    "future_guided",
    "gaps",
    "render_table",
    "run_all",
    "run_arm",
    "seeds",
    "setup_torch",
    "sr_pairs",
    "validate",
    "with_scores",
]
