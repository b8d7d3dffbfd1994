"""More seeds for DRIFT's positive control PC than its claims run (``paper.power.extra_seeds`` of ``paper.power.arms``,
SimPO's keys; docs/power.md §13), as ``control_seeds`` does for K_revise.

PC's two parts (one judge-labelled IterDPO round and one oracle-labelled round from π_0) moved the same way on every
one of the claims' 3 seeds (win rate +0.1, +4.2, +8.1 points) but spread so widely between seeds that the t interval
over seeds could not exclude 0 (4.30·sd/√3; over 5 seeds 2.78·sd/√5). An extra seed runs only what PC reads: that
seed's π_0 and logs (cached stages of the paper's own code), π_0's round-0 evaluation and round 1 of each arm in
``paper.power.arms`` (``iterdpo``, ``oracle``), with the same cache keys as round 1 of a claim seed's run (a round's key
does not depend on how many rounds follow it). No DRIFT, no SPIN, no round 2. Kept apart from ``experiment`` and
``control_seeds`` so that their code, which keys every DRIFT stage and K_revise's extra seeds, is unchanged.
"""

from __future__ import annotations

from ...core.config import ConfigError
from ...training.extra_seeds import arm_seeds, run_on
from ...training.toy_stages import with_seed
from . import control_seeds, experiment

PC_ARMS = ("iterdpo", "oracle")  # the arms PC compares with their own round 0 (claims.claims: PC's parts)


def pc_arms(cfg) -> list[str]:
    """``paper.power.arms`` (the arms run on the extra seeds), each one of PC's arms; none without ``power``."""
    power = cfg.paper.get("power")
    arms = [] if power is None or power.get("arms") is None else [str(a) for a in power.arms]
    if bad := [a for a in arms if a not in PC_ARMS]:
        raise ConfigError(f"paper.power.arms: {bad} are not arms of DRIFT's positive control {list(PC_ARMS)}")
    return arms


def extra_seeds(cfg) -> list[int]:
    """The ``paper.power.extra_seeds`` seeds after the claims' (``training.extra_seeds.arm_seeds``), or none when
    ``paper.power.arms`` is empty (``make check``'s seed-42 subset sets it so)."""
    return arm_seeds(cfg, pc_arms(cfg))


def _one_round(cfg):
    """``cfg`` with every arm run for ``pc_rounds`` round(s): IterDPO stops after the round PC reads (the rounds
    count keys no stage)."""
    out = with_seed(cfg, int(cfg.seed))
    out.paper.rounds = out.paper.pc_rounds
    return out


def _job(cfg, stage: str):
    from ...training.world_cache import world_for

    world = world_for(cfg)
    if stage == "logs":  # as experiment._job: a seed's π_0 and logs first, so its arms only load them
        experiment.start_policy(cfg, world)
        return experiment.deployment_logs(cfg, world)
    return experiment.run_arm(_one_round(cfg), world, stage)


def with_extra_seeds(cfg, res: dict, progress: bool = True) -> dict:
    """``res`` with ``res["pc_extra"] = {(seed, arm): records of rounds 0..1}`` for the extra seeds and
    ``paper.power.arms``; the claims' seeds stay those of ``res["runs"]``."""
    extra, arms = extra_seeds(cfg), pc_arms(cfg)
    if not extra:
        return res
    out = run_on(
        cfg,
        extra,
        _job,
        {"logs": (), **{a: ("logs",) for a in arms}},
        desc="PC: the control's extra seeds (π_0, one round of each PC arm)",
        progress=progress,
    )
    res["pc_extra"] = {(sd, a): out[(sd, a)] for sd in extra for a in arms}
    return res


def run(cfg, progress: bool = True) -> dict:
    """``control_seeds.run`` (``run_all``, then K_revise's extra seeds), then PC's extra seeds."""
    pc_arms(cfg)  # bad input before compute
    return with_extra_seeds(cfg, control_seeds.run(cfg, progress), progress)
