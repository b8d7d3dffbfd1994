"""Length-Controlled AlpacaEval (Dubois et al. 2024), recomputed from the public annotations: ``experiment`` (the
AlpacaEval files, LC from the published weights, GLM refits, Arena correlations, gameability; ``run`` does them
all), ``claims`` (the numbers of metrics.json and the claims C0–C6).

``PAPER`` is its interface (``replicate.papers.interface``); the other names are what its notebook, tests and other
modules read.
"""

from ..interface import Paper
from . import claims
from .claims import gameability, metrics, refit_summary, render_table, reported_table, variant_wr_sources
from .experiment import (
    ANNOTATIONS,
    BASELINE,
    DIFFICULTY,
    GAMED,
    LEADERBOARDS,
    WEIGHTS,
    AnnotationsError,
    annotation_metrics,  # the `replicate winrate` metrics; moving to metrics/ (real-model path)
    arena_correlations,
    arena_table,
    budget,
    compare_with_leaderboard,
    figure_arena,
    figure_length_control,
    figure_refit,
    gameability_inputs,
    lc_from_published_weights,
    load_annotations,
    load_difficulty,
    load_leaderboard,
    load_weights,
    prompt_variants_table,
    pseudo_gamed_rows,
    raw_win_rates,
    refit_all,
    refit_models,
    reported_vs_reproduced,
    run,
    validate,
)

PAPER = Paper(
    name="lc-alpacaeval",
    validate=validate,
    run=run,
    metrics=metrics,
    claims=claims.claims,
    render_table=render_table,
)

__all__ = [
    "PAPER",
    "ANNOTATIONS",
    "AnnotationsError",
    "BASELINE",
    "DIFFICULTY",
    "GAMED",
    "LEADERBOARDS",
    "WEIGHTS",
    "annotation_metrics",
    "arena_correlations",
    "arena_table",
    "budget",
    "claims",
    "compare_with_leaderboard",
    "figure_arena",
    "figure_length_control",
    "figure_refit",
    "gameability",
    "gameability_inputs",
    "lc_from_published_weights",
    "load_annotations",
    "load_difficulty",
    "load_leaderboard",
    "load_weights",
    "metrics",
    "prompt_variants_table",
    "pseudo_gamed_rows",
    "raw_win_rates",
    "refit_all",
    "refit_models",
    "refit_summary",
    "render_table",
    "reported_table",
    "reported_vs_reproduced",
    "run",
    "validate",
    "variant_wr_sources",
]
