"""EVOLVE in miniature: ``experiment`` (π_0 and the iterative arms with refinement chains, cached), ``claims`` (numbers
and verdicts).

``PAPER`` is its interface (``replicate.papers.interface``); the other names are what its notebook and tests read.
"""

from ...core.config import at_scale
from ...training.toy_stages import build_world, seeds, setup_torch
from ..interface import Metrics, Paper, toy_world_only
from . import claims
from .claims import LABEL, curves, flat_metrics, render_table, summary
from .experiment import (
    ARMS,
    c_ref,
    chat_examples,
    evolve_pairs,
    refine_conversation,
    refine_examples,
    refine_target,
    rule_pairs,
    run_all,
    sft_examples,
    sft_pairs,
    sft_rows,
    validate,
)


def metrics(results, cfg) -> Metrics:
    """Seed means for metrics.json, with each seed's value for ``make check``'s tolerances."""
    values, spread = flat_metrics(results)
    return Metrics(values, seeds(cfg), spread)


PAPER = Paper(
    name="evolve",
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
    "LABEL",
    "at_scale",
    "build_world",
    "c_ref",
    "chat_examples",
    "curves",
    "evolve_pairs",
    "flat_metrics",
    "refine_conversation",
    "refine_examples",
    "refine_target",
    "render_table",
    "rule_pairs",
    "run_all",
    "seeds",
    "setup_torch",
    "sft_examples",
    "sft_pairs",
    "sft_rows",
    "summary",
    "validate",
]
