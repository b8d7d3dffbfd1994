"""SimPO (Meng, Xia & Chen 2024) Table 4 in miniature: ``experiment`` (SFT → pairs → each method, cached, over seeds
and cores), ``claims`` (numbers and verdicts), ``tune`` (``make tune-simpo``).

``PAPER`` is its interface (``replicate.papers.interface``); the other names are what its notebook and tests read.
"""

from ...training.toy_stages import build_world, seeds, setup_torch, sft_model
from ..interface import Metrics, Paper, toy_world_only
from . import claims
from .claims import METHODS_TABLE4, flat_metrics, render_table, summary
from .experiment import (
    pair_stats_by_seed,
    preference_dataset_on_disk,
    preference_pairs,
    prepare,
    run_all,
    run_method,
    validate,
)


def metrics(results, cfg) -> Metrics:
    """Seed means for metrics.json, with each seed's value for ``make check``'s tolerances."""
    values, spread = flat_metrics(results, pair_stats_by_seed(cfg))
    return Metrics(values, seeds(cfg), spread)


PAPER = Paper(
    name="simpo",
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
    "METHODS_TABLE4",
    "build_world",
    "flat_metrics",
    "pair_stats_by_seed",
    "preference_dataset_on_disk",
    "preference_pairs",
    "prepare",
    "render_table",
    "run_all",
    "run_method",
    "seeds",
    "setup_torch",
    "sft_model",
    "summary",
    "validate",
]
