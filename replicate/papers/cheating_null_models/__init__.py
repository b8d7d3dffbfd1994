"""Null models achieve high win rates (Zheng et al., ICLR 2025), from the public artifacts and in the toy world:
``experiment`` (the NullModel's annotations, the judge's view, the string's anatomy, the search log; ``run`` does
them all), ``world`` (the attack in miniature: random search against the toy and a learned judge, and the
defenses), ``claims`` (the numbers of metrics.json and the claims N1–N6, T1a–T3).

``PAPER`` is its interface (``replicate.papers.interface``); the other names are what its notebook and tests read.
"""

from ..interface import Paper
from . import claims
from .claims import metrics, render_table, reported_table, threshold_claim, toy_table
from .experiment import (
    CONSTANT,
    NULL_ANNOTATIONS,
    PROMPTS,
    STRUCTURE_MARKER,
    TRAJECTORY,
    alpaca_eval_is_switched,
    anatomy,
    figure_trajectory,
    fill_prompt,
    first_token_probs,
    judge_position_bias,
    load_constant_response,
    load_judge_prompts,
    load_trajectory,
    null_model_table,
    position_split,
    run,
    trajectory_summary,
    validate,
)
from .world import CharBigramLM, LearnedJudge, random_search, toy_defenses, toy_win_probs, toy_world

PAPER = Paper(
    name="cheating-null-models",
    validate=validate,
    run=run,
    metrics=metrics,
    claims=claims.claims,
    render_table=render_table,
)

__all__ = [
    "PAPER",
    "CONSTANT",
    "CharBigramLM",
    "LearnedJudge",
    "NULL_ANNOTATIONS",
    "PROMPTS",
    "STRUCTURE_MARKER",
    "TRAJECTORY",
    "alpaca_eval_is_switched",
    "anatomy",
    "claims",
    "figure_trajectory",
    "fill_prompt",
    "first_token_probs",
    "judge_position_bias",
    "load_constant_response",
    "load_judge_prompts",
    "load_trajectory",
    "metrics",
    "null_model_table",
    "position_split",
    "random_search",
    "render_table",
    "reported_table",
    "run",
    "threshold_claim",
    "toy_defenses",
    "toy_table",
    "toy_win_probs",
    "toy_world",
    "trajectory_summary",
    "validate",
]
