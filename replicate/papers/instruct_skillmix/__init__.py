"""Instruct-SkillMix in miniature: ``world`` (skills, k-skill combinations, prompts, shirkers), ``experiment`` (data
and every SFT arm, cached), ``pc_seeds`` (the positive control's extra seeds), ``claims`` (numbers and verdicts).

``PAPER`` is its interface (``replicate.papers.interface``); the other names are what its notebook and tests read.
"""

from ...training.toy_stages import build_world, seeds, setup_torch
from ..interface import Metrics, Paper, toy_world_only
from . import claims, pc_seeds
from .claims import arm_names, examples, flat_metrics, forgetting, forgetting_extra, per_seed, render_table, summary
from .experiment import (
    arm_data,
    arms,
    budget,
    coverage_by_seed,
    datasets,
    draw_datasets,
    eval_splits,
    run_all,
    validate,
)
from .world import (
    INVENTORY,
    PAIR_SKILLS,
    SKILL_PAIRS,
    coverage,
    in_inventory,
    is_composition,
    pair_eval_prompts,
    plain_prompts,
    sample_combinations,
    shirker_response,
    skill_inventory,
    skillmix_prompts,
    skills_of,
    with_shirkers,
)


def metrics(results, cfg) -> Metrics:
    """Seed means for metrics.json, with each seed's value for ``make check``'s tolerances."""
    values, spread = flat_metrics(results, coverage_by_seed(cfg))
    return Metrics(values, seeds(cfg), spread, extra={"forgetting": forgetting_extra(results)})


PAPER = Paper(
    name="instruct-skillmix",
    validate=toy_world_only(validate),
    run=pc_seeds.run,  # run_all, then the positive control's extra seeds (paper.power)
    metrics=metrics,
    claims=claims.claims,
    render_table=render_table,
)

__all__ = [
    "PAPER",
    "claims",
    "pc_seeds",
    "metrics",
    "per_seed",
    "examples",
    "INVENTORY",
    "PAIR_SKILLS",
    "SKILL_PAIRS",
    "arm_data",
    "arm_names",
    "arms",
    "budget",
    "build_world",
    "coverage",
    "coverage_by_seed",
    "datasets",
    "draw_datasets",
    "eval_splits",
    "forgetting",
    "forgetting_extra",
    "in_inventory",
    "is_composition",
    "plain_prompts",
    "skills_of",
    "flat_metrics",
    "pair_eval_prompts",
    "render_table",
    "run_all",
    "sample_combinations",
    "seeds",
    "setup_torch",
    "shirker_response",
    "skill_inventory",
    "skillmix_prompts",
    "summary",
    "validate",
    "with_shirkers",
]
