"""The paper's public face: what its notebook, tests and other modules read from ``experiment``."""

from .experiment import (
    PER_EXAMPLE,
    SNAPSHOTS,
    figure_correlation,
    load_all_stat,
    load_pairwise,
    load_scores,
    per_example_scores,
    reward_checks,
    rewards,
    scores,
    table3,
    table3_columns,
    table3_models,
)

__all__ = [
    "PER_EXAMPLE",
    "SNAPSHOTS",
    "figure_correlation",
    "load_all_stat",
    "load_pairwise",
    "load_scores",
    "per_example_scores",
    "reward_checks",
    "rewards",
    "scores",
    "table3",
    "table3_columns",
    "table3_models",
]
