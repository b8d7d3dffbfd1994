"""A data example a reader can scan: a few evaluation prompts, the right answer, and each arm's answer with its
oracle quality, as one tidy table (rows = prompts, a column per arm)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def examples_frame(prompts: Sequence[str], evals: Mapping[str, dict], n: int = 6):
    """``prompts``: the evaluation prompts, in the order of each evaluation's ``responses``; ``evals``: by arm, an
    evaluation record with ``responses`` and ``oracle_qualities`` (``metrics.evaluation.evaluate``'s)."""
    import pandas as pd

    from ..worlds.toy_lm import solve

    rows = []
    for i, x in enumerate(prompts[:n]):
        row = {"prompt": x, "truth": solve(x)}
        row.update({a: f"{e['responses'][i]!r} q={e['oracle_qualities'][i]:.2f}" for a, e in evals.items()})
        rows.append(row)
    return pd.DataFrame(rows)
