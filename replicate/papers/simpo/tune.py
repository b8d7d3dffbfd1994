"""``make tune-simpo``: every method of SimPO's Table 4 tuned the same way, on the dev split, at the scale that runs.

SimPO App. B tuned each baseline's own knobs (Table 3 ranges) and the learning rate per method. Here, for a fair
comparison at tiny scale:

* every method gets the same number of configurations: its grid in ``conf/method/<m>.yaml: search`` (16 each: the
  method's own knobs × four learning rates; SimPO's β and γ/β cover the paper's ranges, β 2–10 and γ/β 0.3–0.8);
* every configuration trains on the pairs and for the steps the replication runs with (the same ``scale``);
* it is scored by the LC win rate on the *dev* prompts (``paper.tune.n_dev`` of them; the evaluation split is never
  generated for, judged or read), averaged over the tuning seeds (``paper.tune``) — never evaluation seeds, so the
  training noise that selected a configuration never reappears in the verdicts;
* a choice on the edge of a numeric grid axis of three or more values is flagged (``dev_at_edge``): widen that axis
  and re-tune (a two-value axis is all edges: it brackets a range).

The winners go to ``conf/tuned/simpo_<scale>.yaml`` with the command and commit that chose them.
"""

from __future__ import annotations

import itertools
import json
import sys

import numpy as np
from omegaconf import OmegaConf

from ...core.config import CONF_DIR, ConfigError, compose
from ...core.io import atomic_write_text
from ...core.provenance import git_commit
from ...training.runner import run_stages
from ...training.world_cache import world_for
from . import experiment as exp


def grid(search: dict) -> list[dict]:
    keys = sorted(search)
    return [dict(zip(keys, vals)) for vals in itertools.product(*(search[k] for k in keys))]


def tuning_config(cfg):
    """The replication's config on the tuning seeds (``paper.tune.seed`` and the next ``n_seeds − 1``) with the
    tuning's dev split size; refused if a tuning seed is an evaluation seed."""
    t = cfg.paper.tune
    evaluation = {int(cfg.seed) + k for k in range(int(cfg.scale.n_seeds))}
    tuning = {int(t.seed) + k for k in range(int(t.n_seeds))}
    if clash := evaluation & tuning:
        raise ConfigError(f"paper.tune seeds {sorted(clash)} are evaluation seeds; tune on other seeds")
    out = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))
    out.seed, out.scale.n_seeds, out.scale.world.n_dev = int(t.seed), int(t.n_seeds), int(t.n_dev)
    return out


def _stage(setting: str, method: str, combo: dict) -> tuple:
    return ("tune", setting, method, json.dumps(combo, sort_keys=True))


def _job(cfg, stage):
    """A tuning seed's SFT model and pairs ("prep"), or one configuration's LC win rate on the dev prompts."""
    world = world_for(cfg)
    if stage == "prep":
        return exp.preference_pairs(cfg, world, exp.sft_model(cfg, world))
    _, setting, method, combo = stage
    r = exp.run_method(cfg, world, exp.preference_pairs(cfg, world), setting, method, split="dev", use_tuned=False,
                       **json.loads(combo))  # fmt: skip
    return float(r["eval"]["lc_win_rate"])


def tune(cfg, progress: bool = True, only: list[str] | None = None) -> dict:
    """{"chosen": {setting: {method: record}}, "trace": [(setting, method, combo, [dev LC per seed])]}."""
    tcfg = tuning_config(cfg)
    methods = [m for m in exp.METHODS_TABLE4 if m != "sft" and (not only or m in only)]
    unknown = set(only or ()) - set(methods)
    if unknown:
        raise ConfigError(f"--only {sorted(unknown)}: not tunable methods; choose from {methods}")
    grids = {m: grid(OmegaConf.to_container(cfg.paper.methods[m].search, resolve=True)) for m in methods}
    runs = [(s, m, c) for s in cfg.paper.settings for m in methods for c in grids[m]]
    stages = {"prep": (), **{_stage(*r): ("prep",) for r in runs}}
    res = run_stages(tcfg, _job, stages, desc="tune SimPO's Table 4 (dev split)", progress=progress)
    seeds = sorted({sd for sd, _ in res})
    trace = [(s, m, c, [res[(sd, _stage(s, m, c))] for sd in seeds]) for s, m, c in runs]
    chosen: dict = {}
    for s in cfg.paper.settings:
        for m in methods:
            cands = [(float(np.mean(v)), c, v) for s2, m2, c, v in trace if (s2, m2) == (s, m)]
            best = max(cands, key=lambda z: z[0])  # first maximum in grid order on ties
            chosen.setdefault(s, {})[m] = record(best[1], best[0], best[2], grids[m])
    return {"chosen": chosen, "trace": trace, "seeds": seeds}


def record(combo: dict, mean: float, per_seed: list[float], configs: list[dict]) -> dict:
    """The tuned values (SimPO's γ/β as the absolute γ the loss takes) and the informational ``dev_*`` fields."""
    out = dict(combo)
    if "gamma_beta_ratio" in out:
        out["gamma"] = round(float(out.pop("gamma_beta_ratio")) * float(out["beta"]), 6)
    edges = [
        k
        for k, v in combo.items()
        if isinstance(v, (int, float))
        and len(axis := sorted({float(c[k]) for c in configs})) > 2
        and float(v) in (axis[0], axis[-1])
    ]
    out.update(
        dev_lc_win_rate=round(mean, 3),
        dev_lc_win_rate_per_seed=[round(x, 3) for x in per_seed],
        dev_configs=len(configs),
        dev_at_edge=sorted(edges),
    )
    return out


def main(argv=None) -> int:
    """``--only m1,m2`` re-tunes some methods and keeps the others' committed values."""
    argv = list(sys.argv[1:] if argv is None else argv)
    only = None
    if "--only" in argv:
        i = argv.index("--only")
        only = argv[i + 1].split(",")
        argv = argv[:i] + argv[i + 2 :]
    cfg = compose("simpo", argv)
    out = tune(cfg, only=only)
    path = CONF_DIR / "tuned" / f"simpo_{cfg.scale.name}.yaml"
    command = f'make tune-simpo ARGS="{" ".join(argv + (["--only", ",".join(only)] if only else []))}"'
    command += f" @ {git_commit()['commit']}"
    chosen = OmegaConf.to_container(OmegaConf.load(path), resolve=True) if (only and path.exists()) else {}
    chosen = chosen or {}
    for s, per_method in out["chosen"].items():
        for m, v in per_method.items():
            chosen.setdefault(s, {})[m] = {**v, "dev_tuned_by": command}
    t = cfg.paper.tune
    lines = [
        "# Written by `make tune-simpo` (python -m replicate.papers.simpo.tune); each method's dev_tuned_by records",
        f"# the command and commit that chose it. scale={cfg.scale.name}: the pairs and steps the replication runs",
        f"# with; tuning seeds {out['seeds']} (never evaluation seeds), {t.n_dev} dev prompts each.",
        "# Selection: highest mean LC win rate on the dev prompts over the tuning seeds, each method over its",
        "# conf/method/<m>.yaml search grid (dev_configs configurations each). dev_at_edge lists grid axes on whose",
        "# edge the choice sits. dev_* fields are informational and not read by the code.",
    ]
    atomic_write_text(path, "\n".join(lines) + "\n" + OmegaConf.to_yaml(OmegaConf.create(chosen)))
    for s, m, combo, lc in out["trace"]:
        print(f"{s:9} {m:8} {combo} dev LC {np.mean(lc):.2f} {[round(x, 2) for x in lc]}")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    from ...core.config import cli_entry

    cli_entry(main)
