"""More seeds for DRIFT's capability control K_revise than its claims run (``paper.power.k_revise_seeds``), as PAR and
AutoRule spend seeds on K_rl (``training.rl_control_seeds``; docs/power.md §9, §12).

K_revise's per-seed gains vary between seeds more than its ~1,300 logged items' standard error (on 3 seeds: +0.187,
+0.109, +0.292), so the t interval over seeds sets its width: 4.30·sd/√3 over 3 seeds, 2.78·sd/√5 over 5. An extra
seed runs only what K_revise reads: that seed's π_0 (the paper's own cached stage) and its logs, then the answers of
DRIFT's round-1 step 1, y⁺ ~ π_0(·|x ⊕ y⁻ ⊕ f) on every logged DSAT item, sampled by DRIFT's own round builder with
round 1's seed — the same numbers ``hindsight_gain`` reads from the arm's round 1 on a claim seed. No DPO round, no
other arm. Kept apart from ``experiment`` so that its code, which keys every DRIFT stage, is unchanged.
"""

from __future__ import annotations

from pathlib import Path

from ...core.config import at_scale, to_dict
from ...core.io import atomic_write_json, cached, read_json
from ...training import iterative
from ...training.extra_seeds import control_seeds, run_on
from ...training.toy_stages import World, stage_key
from . import experiment

_CODE = ("papers/drift/control_seeds.py", *experiment._CODE)


def extra_seeds(cfg) -> list[int]:
    """The seeds after the claims' ``scale.n_seeds`` up to ``paper.power.k_revise_seeds`` (none if it is not larger)."""
    return control_seeds(cfg, "k_revise_seeds", "K_revise")


def hindsight_answers(cfg, world: World) -> dict:
    """Round 1's DRIFT extras for ``cfg.seed`` without the round (cached): ``q_positive``, ``q_negative``,
    ``q_unconditioned`` and ``item``, from DRIFT's own builder on π_0 with round 1's seed (``iterative.run_loop``:
    ``seed·1000 + 100·t``)."""
    logs = experiment.deployment_logs(cfg, world)
    key = stage_key(
        cfg,
        "drift-k-revise",
        experiment.start_key(cfg),
        to_dict(cfg.paper.logs),
        to_dict(cfg.paper.sample),
        at_scale(cfg, cfg.paper.eval.pair_probe),
        code=_CODE,
    )

    def compute(tmp: Path):
        policy = experiment.start_policy(cfg, world)
        start = iterative.Start(experiment.start_key(cfg), lambda: experiment.start_policy(cfg, world))
        t = 1
        ctx = iterative.RoundContext(t, policy, world, cfg, int(cfg.seed) * 1000 + 100 * t, tmp, start, {}, None)
        pairs = experiment.builder(cfg, logs, "drift")(ctx)
        atomic_write_json(tmp / "extras.json", pairs["_extras"])

    return read_json(cached("drift-k-revise", key, compute) / "extras.json")


def _job(cfg, stage: str):
    from ...training.world_cache import world_for

    return hindsight_answers(cfg, world_for(cfg))


def with_extra_seeds(cfg, res: dict, progress: bool = True) -> dict:
    """``res`` (``run_all``'s) with ``res["k_revise_extra"] = {seed: round-1 extras}`` for the extra seeds; the claims'
    seeds stay those of ``res["runs"]``."""
    extra = extra_seeds(cfg)
    if not extra:
        return res
    out = run_on(cfg, extra, _job, {"k_revise": ()}, desc="K_revise: the control's extra seeds", progress=progress)
    res["k_revise_extra"] = {sd: out[(sd, "k_revise")] for sd in extra}
    return res


def run(cfg, progress: bool = True) -> dict:
    """``run_all``, then K_revise's extra seeds (``paper.power.k_revise_seeds``)."""
    return with_extra_seeds(cfg, experiment.run_all(cfg, progress), progress)
