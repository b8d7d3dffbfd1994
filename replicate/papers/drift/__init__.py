"""DRIFT in miniature: ``world`` (the users' feedback and a reviser), ``experiment`` (π_0, deployment logs and the
iterative arms, cached), ``control_seeds`` (K_revise's extra seeds), ``pc_seeds`` (the positive control's extra
seeds), ``claims`` (numbers and verdicts).

``PAPER`` is its interface (``replicate.papers.interface``); the other names are what its notebook and tests read.
"""

from ...core.config import at_scale
from ...training.pair_rules import drift_pairs
from ...training.toy_stages import seeds, setup_torch, sft_model
from ...training.world_cache import world_for
from ..interface import Metrics, Paper, toy_world_only
from . import claims, control_seeds, pc_seeds
from .claims import arm_list, conditioning_gain, curves, examples, flat_metrics, hindsight_gain, render_table
from .experiment import CONTROL_ARMS, deployment_logs, revision_data, revision_target, run_all, specs, validate
from .world import feedback, hindsight_conversation, revise


def metrics(results, cfg) -> Metrics:
    """Seed means for metrics.json, with each seed's value for ``make check``'s tolerances."""
    values, spread = flat_metrics(results)
    return Metrics(values, seeds(cfg), spread)


PAPER = Paper(
    name="drift",
    validate=toy_world_only(validate),
    run=pc_seeds.run,  # run_all, then K_revise's extra seeds (paper.power.k_revise_seeds), then PC's (paper.power.arms)
    metrics=metrics,
    claims=claims.claims,
    render_table=render_table,
)

__all__ = [
    "PAPER",
    "CONTROL_ARMS",
    "claims",
    "control_seeds",
    "pc_seeds",
    "metrics",
    "examples",
    "arm_list",
    "at_scale",
    "conditioning_gain",
    "curves",
    "deployment_logs",
    "drift_pairs",
    "feedback",
    "flat_metrics",
    "hindsight_conversation",
    "hindsight_gain",
    "render_table",
    "revise",
    "revision_data",
    "revision_target",
    "run_all",
    "seeds",
    "setup_torch",
    "sft_model",
    "specs",
    "validate",
    "world_for",
]
