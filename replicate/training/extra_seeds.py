"""Seeds a control reads beyond the claims' ``scale.n_seeds`` (``paper.power``; docs/power.md §6, §9, §12, §13), and
running a stage graph on them alone.

Two ways a paper asks for them:

* a capability control's own count, ``paper.power.<key>`` by scale (K_rl's ``k_rl_seeds``, K_revise's
  ``k_revise_seeds``): the control reads that many seeds, the claims' first among them (``control_seeds``);
* SimPO's pair ``paper.power.extra_seeds`` (how many more, by scale) of ``paper.power.arms`` (which arms): a positive
  control's arms run on that many seeds after the claims' (``arm_seeds``); no arms, no seeds, which is how
  ``make check``'s seed-42 subset turns them off (``cli.check.no_extra_seeds``).

Either way the extra seeds are the ones right after the claims', never tuning seeds.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping

from ..core.config import ConfigError, at_scale


def control_seeds(cfg, key: str, control: str) -> list[int]:
    """The seeds after the claims' ``scale.n_seeds`` up to ``paper.power.<key>`` (none if it is not larger)."""
    n = int(cfg.scale.n_seeds)
    power = cfg.paper.get("power")
    k = int(at_scale(cfg, power[key])) if power is not None and key in power else n
    if k < n:
        raise ConfigError(f"paper.power.{key} ({k}) must be ≥ scale.n_seeds ({n}): {control} needs every claim's seed")
    return [int(cfg.seed) + i for i in range(n, k)]


def arm_seeds(cfg, arms: list[str]) -> list[int]:
    """The ``paper.power.extra_seeds`` seeds (by scale; a scale not named gets none) after the claims' ``scale.n_seeds``,
    or none when ``arms`` (the paper's validated ``paper.power.arms``) is empty."""
    power = cfg.paper.get("power")
    if power is None or not arms:
        return []
    n = int((power.get("extra_seeds") or {}).get(str(cfg.scale.name), 0))
    if n < 0:
        raise ConfigError(f"paper.power.extra_seeds.{cfg.scale.name} must be ≥ 0, got {n}")
    return [int(cfg.seed) + int(cfg.scale.n_seeds) + i for i in range(n)]


def run_on(
    cfg, seeds: list[int], job: Callable, stages: Mapping[Hashable, tuple], *, desc: str, progress: bool
) -> dict:
    """``runner.run_stages`` of ``job`` over ``stages`` on ``seeds`` alone (consecutive, as both functions above give
    them): ``{(seed, stage): result}``."""
    from .runner import run_stages
    from .toy_stages import with_seed

    c = with_seed(cfg, seeds[0])
    c.scale.n_seeds = len(seeds)
    return run_stages(c, job, stages, desc=desc, progress=progress)
