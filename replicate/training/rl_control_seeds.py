"""More seeds for the shared K_rl control than a paper's claims run (``paper.power.k_rl_seeds``), as SimPO spends
seeds on its control (docs/power.md §6, §9).

K_rl's per-seed gains vary between seeds more than its 1024 prompts' standard error (on 3 seeds: +0.062, +0.020,
+0.051, each ≥ 2 SE), and the t interval over 3 seeds is 4.30·sd/√3 wide; over 5 it is 2.78·sd/√5, half as wide.
The extra seeds run the very same cached stage (``rl_control.oracle_rl``, same key per seed, so PAR and AutoRule still
share them); the claims keep their seeds. Kept apart from ``rl_control`` so that its code, which keys the control's
runs, is unchanged.
"""

from __future__ import annotations

from ..metrics.verdicts import paired_ci
from . import rl_control
from .extra_seeds import control_seeds, run_on


def extra_seeds(cfg) -> list[int]:
    """The seeds after the claims' ``scale.n_seeds`` up to ``paper.power.k_rl_seeds`` (none if it is not larger)."""
    return control_seeds(cfg, "k_rl_seeds", "K_rl")


def _job(cfg, stage: str):
    from .world_cache import world_for

    return rl_control.oracle_rl(cfg, world_for(cfg))


def with_extra_seeds(cfg, results: dict, progress: bool = True) -> dict:
    """``results`` ({seed: {..., "k_rl": curves}}) with the extra seeds' K_rl curves under the first seed's
    ``"k_rl_extra"`` ({seed: curves}); the claims' seeds stay the keys of ``results``."""
    extra = extra_seeds(cfg)
    if not extra:
        return results
    res = run_on(cfg, extra, _job, {"k_rl": ()}, desc="K_rl: the control's extra seeds", progress=progress)
    results[min(results)]["k_rl_extra"] = {sd: res[(sd, "k_rl")] for sd in extra}
    return results


def control_runs(runs: dict) -> list[dict]:
    """K_rl's curves on the claims' seeds, then on the extra seeds."""
    extra = runs[min(runs)].get("k_rl_extra", {})
    return [runs[sd]["k_rl"] for sd in sorted(runs)] + [extra[sd] for sd in sorted(extra, key=int)]


def k_rl(runs: dict, cfg, gates) -> dict:
    """``rl_control.k_rl`` on every K_rl seed, with the reading on the claims' seeds alone kept in the evidence."""
    claim = rl_control.k_rl(control_runs(runs), rl_control.node_of(cfg), gates=gates)
    own = paired_ci([rl_control.gain(runs[sd]["k_rl"]) for sd in sorted(runs)])
    claim["evidence"].update(
        {
            "claim_seeds": len(runs),
            "claim_seeds.diff": own["diff"],
            "claim_seeds.ci_lo": own["lo"],
            "claim_seeds.ci_hi": own["hi"],
        }
    )
    return claim
