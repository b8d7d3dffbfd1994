"""PAR (reward shaping against reward hacking) in miniature: ``experiment`` (reward model, references and GRPO runs,
cached), ``claims`` (numbers and verdicts).

``PAPER`` is its interface (``replicate.papers.interface``); the other names are what its notebook and tests read.
"""

from ...training import rl, rl_control_seeds, toy_reward
from ...training.toy_stages import seeds, setup_torch
from ...training.world_cache import world_for
from ..interface import Metrics, Paper, toy_world_only
from . import claims
from .claims import flat_metrics, render_table, summary
from .experiment import (
    methods,
    penalty,
    references,
    reward_model,
    rl_cfg,
    rm_cfg,
    rm_diagnostics,
    run_all,
    split_prompts,
    steps,
    validate,
)


def metrics(results, cfg) -> Metrics:
    """Seed means for metrics.json, with each seed's value for ``make check``'s tolerances."""
    values, spread = flat_metrics(results, cfg)
    return Metrics(values, seeds(cfg), spread)


def run(cfg, progress: bool = True) -> dict:
    """``run_all``, then K_rl's extra seeds (``paper.power.k_rl_seeds``; ``training.rl_control_seeds``)."""
    return rl_control_seeds.with_extra_seeds(cfg, run_all(cfg, progress), progress)


PAPER = Paper(
    name="par",
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
    "toy_reward",
    "flat_metrics",
    "methods",
    "penalty",
    "references",
    "render_table",
    "reward_model",
    "rl",
    "rl_cfg",
    "rm_cfg",
    "rm_diagnostics",
    "run_all",
    "seeds",
    "setup_torch",
    "split_prompts",
    "steps",
    "summary",
    "validate",
    "world_for",
]
