"""The paper's public face: what its notebook, tests and other modules read from ``experiment``."""

from .experiment import (
    METHODS_TABLE4,
    build_world,
    claims,
    flat_metrics,
    pair_stats_by_seed,
    preference_dataset_on_disk,
    preference_pairs,
    prepare,
    run_all,
    run_method,
    seeds,
    setup_torch,
    sft_model,
    summary,
)

__all__ = [
    "METHODS_TABLE4",
    "build_world",
    "claims",
    "flat_metrics",
    "pair_stats_by_seed",
    "preference_dataset_on_disk",
    "preference_pairs",
    "prepare",
    "run_all",
    "run_method",
    "seeds",
    "setup_torch",
    "sft_model",
    "summary",
]
