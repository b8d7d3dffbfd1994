"""WildBench metrics (Lin et al., 2024): WB-Reward with the length rule K, and WB-Score.

**WB-Reward.** The judge compares the test model X with a baseline Y on each task and picks one of five
outcomes; from X's side

    win_much = +1,  win = +½,  tie = 0,  lose = −½,  lose_much = −1

    Reward_Y(X) = 100 · (n_win_much + ½ n_win − ½ n_lose − n_lose_much) / total

``total`` is the number of tasks (1,024), *including* pairs skipped because an output was truncated or
empty: skipped pairs act as 0-reward ties in the denominator (``leaderboard/data_dir/_create_tables.py``).
Three baselines (GPT-4-Turbo-2024-04-09, Claude-3-Haiku, Llama-2-70B-chat); WB-Reward-Mix is their mean
(a model's reward against itself is 0).

**Length rule K.** A *slight* verdict (extent 1) for the longer output becomes a tie when the winner is
longer than the loser by more than K characters; "much better" verdicts are never changed; K = −1 (∞)
disables it. Per-example verdicts are not public, so :func:`outcome` is exercised on synthetic data, and
the public aggregates are checked for the rule's invariants (win_much / lose_much unchanged across K,
win and lose only shrink).

**Task-macro.** Per task group g (a task counts in every group its tags map to), r_g uses the same formula
over the tasks of g, with the group's own count as denominator; the macro is Σ_g w_g r_g / Σ_g w_g over
all five groups. The weights changed between snapshots: Coding & Debugging weighs 1.0 in the 2024-06-18
data and 1.25 at HEAD (recovered exactly from the files).

**WB-Score.** Each response gets S ∈ {1..10}; rescaled S′ = 2·(S − 5) (5 = borderline ⇒ 0); the model's
WB-Score is mean S′ over all tasks (×10 on the leaderboard, range −80..100). Task-group scores average S′
over the non-truncated, non-empty responses of the group; the macro uses the weights above.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

OUTCOMES = ("win_much", "win", "tie", "lose", "lose_much")
OUTCOME_REWARD = {"win_much": 1.0, "win": 0.5, "tie": 0.0, "lose": -0.5, "lose_much": -1.0}
TASK_GROUPS = (
    "Creative Tasks",
    "Planning & Reasoning",
    "Math & Data Analysis",
    "Information/Advice seeking",
    "Coding & Debugging",
)
# leaderboard/data_dir/_create_tables.py weights_by_task; Coding was 1.0 in the 2024-06-18 snapshot.
TASK_WEIGHTS = {
    "HEAD": {
        "Creative Tasks": 0.5,
        "Planning & Reasoning": 1.25,
        "Math & Data Analysis": 1.0,
        "Information/Advice seeking": 0.75,
        "Coding & Debugging": 1.25,
    },
    "2024-06-18": {
        "Creative Tasks": 0.5,
        "Planning & Reasoning": 1.25,
        "Math & Data Analysis": 1.0,
        "Information/Advice seeking": 0.75,
        "Coding & Debugging": 1.0,
    },
}
NO_LENGTH_PENALTY = -1  # K = ∞ in the paper


def reward(counts: Mapping[str, float], total: float | None = None) -> float:
    """WB-Reward ×100 from outcome counts; ``total`` defaults to ``counts['total']``, else their sum."""
    if total is None:
        total = counts.get("total", sum(counts.get(o, 0) for o in OUTCOMES))
    if not total:
        raise ValueError("no outcomes")
    s = sum(OUTCOME_REWARD[o] * counts.get(o, 0) for o in OUTCOMES)
    return 100.0 * s / float(total)


def outcome(winner: str, extent: int, len_test: int, len_ref: int, K: int = NO_LENGTH_PENALTY) -> str:
    """One verdict -> outcome label from the test model's side, applying the length rule K.

    ``winner``: "test", "ref" or "tie"; ``extent``: 2 = much better, 1 = slightly better.
    """
    if winner == "tie":
        return "tie"
    if extent not in (1, 2):
        raise ValueError(f"extent must be 1 or 2, not {extent!r}")
    if winner == "test":
        if extent == 2:
            return "win_much"
        return "tie" if K >= 0 and len_test > len_ref + K else "win"
    if winner == "ref":
        if extent == 2:
            return "lose_much"
        return "tie" if K >= 0 and len_ref > len_test + K else "lose"
    raise ValueError(f"winner must be 'test', 'ref' or 'tie', not {winner!r}")


def count_outcomes(labels: Iterable[str]) -> dict[str, int]:
    c = {o: 0 for o in OUTCOMES}
    for lab in labels:
        c[lab] += 1
    return c


def rewards_from_verdicts(
    verdicts: Sequence[tuple],
    K: int = NO_LENGTH_PENALTY,
    *,
    total: int | None = None,
    skip: Sequence[bool] | None = None,
) -> float:
    """WB-Reward from per-task (winner, extent, len_test, len_ref) verdicts; ``skip`` marks truncated /
    empty pairs, which are not counted but stay in ``total`` (default: all tasks)."""
    skip = [False] * len(verdicts) if skip is None else list(skip)
    labels = [outcome(*v, K=K) for v, s in zip(verdicts, skip) if not s]
    return reward(count_outcomes(labels), total=len(verdicts) if total is None else total)


def task_macro(values: Mapping[str, float], weights: Mapping[str, float]) -> float:
    """Σ_g w_g v_g / Σ_g w_g, the denominator over *all* groups of ``weights`` (as the leaderboard code)."""
    return sum(values[g] * weights[g] for g in values) / sum(weights.values())


def group_rewards(task_counts: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
    """Per-group rewards (×100) with each group's own count as denominator."""
    return {g: reward(c, total=sum(c.get(o, 0) for o in OUTCOMES)) for g, c in task_counts.items()}


def rescale_score(s):
    """S′ = 2 (S − 5): 1..10 judge scores to −8..10, 5 (borderline acceptable) ⇒ 0."""
    return 2.0 * (np.asarray(s, dtype=float) - 5.0)


def wb_score(scores: Sequence[float]) -> dict[str, float]:
    """Mean raw score, adjusted score (mean S′) and the leaderboard's WB_score (10 · mean S′)."""
    s = np.asarray(scores, dtype=float)
    s = s[np.isfinite(s)]
    adj = float(rescale_score(s).mean())
    return {"score": float(s.mean()), "adjusted_score": adj, "WB_score": 10 * adj, "n": int(len(s))}
