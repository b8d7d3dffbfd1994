"""WildBench (Lin et al. 2024): WB-Reward, WB-Score and Table 3 recomputed from the public leaderboard data:
``experiment`` (loaders, rewards and scores from the counts, Table 3's correlations, the K sweep; ``run`` does them
all), ``claims`` (the numbers of metrics.json and the claims W1–W9).

``PAPER`` is its interface (``replicate.papers.interface``); the other names are what its notebook and tests read.
"""

from ..interface import Paper
from . import claims
from .claims import metrics, render_table, reported_table, table3_key
from .experiment import (
    PER_EXAMPLE,
    SNAPSHOTS,
    budget,
    figure_correlation,
    k_sweep,
    length_ranks,
    load_all_stat,
    load_pairwise,
    load_scores,
    per_example_scores,
    reward_checks,
    rewards,
    run,
    scores,
    table3,
    table3_columns,
    table3_models,
    validate,
)

PAPER = Paper(
    name="wildbench",
    validate=validate,
    run=run,
    metrics=metrics,
    claims=claims.claims,
    render_table=render_table,
)

__all__ = [
    "PAPER",
    "PER_EXAMPLE",
    "SNAPSHOTS",
    "budget",
    "claims",
    "figure_correlation",
    "k_sweep",
    "length_ranks",
    "load_all_stat",
    "load_pairwise",
    "load_scores",
    "metrics",
    "per_example_scores",
    "render_table",
    "reported_table",
    "reward_checks",
    "rewards",
    "run",
    "scores",
    "table3",
    "table3_columns",
    "table3_key",
    "table3_models",
    "validate",
]
