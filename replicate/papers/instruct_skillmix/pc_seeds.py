"""More seeds for Instruct-SkillMix's positive control PC than its claims run (``paper.power.extra_seeds`` of
``paper.power.arms``, SimPO's keys; docs/power.md §13).

PC (``ism`` vs ``initial`` on held-out skill-pair prompts) moved the same way on every one of the claims' 3 seeds, but
its LC part spread so widely between seeds that the t interval over seeds could not exclude 0 (4.30·sd/√3; over 5
seeds 2.78·sd/√5). An extra seed runs only what PC reads: the untrained start (``initial``) and the ``ism`` arm, each
with its evaluation (``experiment._job``: the paper's own cached stages; the held-out pairs are one of its three
evaluation splits). No other arm. Kept apart from ``experiment`` so that its code, which keys every stage, is unchanged.

The results keep the claims' form, ``{(seed, arm): result}``, with the extra seeds' under the one key ``"pc_extra"``
(``{(seed, arm): result}``): ``claims.runs_of`` strips it for everything but PC.
"""

from __future__ import annotations

from ...core.config import ConfigError
from ...training.extra_seeds import arm_seeds, run_on
from . import experiment

PC_ARMS = ("initial", "ism")  # the arms PC compares (claims.claims: PC's parts)
EXTRA = "pc_extra"  # the results' key of the extra seeds' runs


def pc_arms(cfg) -> list[str]:
    """``paper.power.arms`` (the arms run on the extra seeds), each one of PC's arms; none without ``power``."""
    power = cfg.paper.get("power")
    arms = [] if power is None or power.get("arms") is None else [str(a) for a in power.arms]
    if bad := [a for a in arms if a not in PC_ARMS]:
        raise ConfigError(f"paper.power.arms: {bad} are not arms of the positive control {list(PC_ARMS)}")
    if arms and set(arms) != set(PC_ARMS):
        raise ConfigError(f"paper.power.arms: PC compares {list(PC_ARMS)}; run both or none, got {arms}")
    return arms


def extra_seeds(cfg) -> list[int]:
    """The ``paper.power.extra_seeds`` seeds after the claims' (``training.extra_seeds.arm_seeds``), or none when
    ``paper.power.arms`` is empty (``make check``'s seed-42 subset sets it so)."""
    return arm_seeds(cfg, pc_arms(cfg))


def with_extra_seeds(cfg, runs: dict, progress: bool = True) -> dict:
    """``runs`` with ``runs["pc_extra"] = {(seed, arm): result}`` for the extra seeds and ``paper.power.arms``."""
    extra = extra_seeds(cfg)
    if not extra:
        return runs
    out = run_on(
        cfg,
        extra,
        experiment._job,
        {"initial": (), "ism": ("initial",)},
        desc="PC: the control's extra seeds (initial, ism)",
        progress=progress,
    )
    return {**runs, EXTRA: {(sd, a): out[(sd, a)] for sd in extra for a in PC_ARMS}}


def run(cfg, progress: bool = True) -> dict:
    """``experiment.run_all``, then PC's extra seeds."""
    pc_arms(cfg)  # bad input before compute
    return with_extra_seeds(cfg, experiment.run_all(cfg, progress), progress)
