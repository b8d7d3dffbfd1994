"""The paper's public face: what its notebook, tests and other modules read from ``experiment``."""

from .experiment import (
    ARMS,
    claims,
    curves_frame,
    flat_metrics,
    rl,
    rl_settings,
    rm_cfg,
    rule_score,
    rule_set,
    run_all,
    seeds,
    setup_torch,
    validate,
    world_for,
)

__all__ = [
    "ARMS",
    "claims",
    "curves_frame",
    "flat_metrics",
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
