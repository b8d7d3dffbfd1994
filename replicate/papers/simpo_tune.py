"""``make tune-simpo``: every method of SimPO's Table 4 tuned the same way, on the dev split, at the scale that runs.

SimPO App. B tuned each baseline's own knobs (Table 3 ranges) and the learning rate per method. Here, for a fair
comparison at tiny scale:

* every method gets the same number of configurations: its grid in ``conf/method/<m>.yaml: search`` (12 each: the
  method's own knobs × three learning rates; SimPO's β and γ/β cover the paper's ranges, β 2–10 and γ/β 0.3–0.8);
* every configuration trains on the pairs and for the steps the replication runs with (the same ``scale``);
* it is scored by the LC win rate on the *dev* prompts (``paper.tune.n_dev`` of them; the evaluation split is never
  generated for, judged or read), averaged over ``paper.tune.seeds`` — seeds that are not evaluation seeds, so the
  training noise that selected a configuration never reappears in the verdicts;
* a choice on the edge of a numeric grid axis of three or more values is flagged (``dev_at_edge``): widen that axis
  and re-tune (a two-value axis is all edges: it brackets a range).

The winners go to ``conf/tuned/simpo_<scale>.yaml`` with the command and commit that chose them.
"""

from __future__ import annotations

import itertools
import sys

import numpy as np
from omegaconf import OmegaConf
from tqdm.auto import tqdm

from ..core.config import CONF_DIR, ConfigError, compose
from ..core.io import atomic_write_text
from ..core.parallel import Workers
from ..core.provenance import git_commit
from ..training.world_cache import job_setup
from . import simpo as exp


def grid(search: dict) -> list[dict]:
    keys = sorted(search)
    return [dict(zip(keys, vals)) for vals in itertools.product(*(search[k] for k in keys))]


def tuning_config(cfg):
    """The replication's config with the tuning's dev split size (``paper.tune.n_dev``)."""
    t = cfg.paper.tune
    out = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))
    out.scale.world.n_dev = int(t.n_dev)
    evaluation = {int(cfg.seed) + k for k in range(int(cfg.scale.n_seeds))}
    if clash := evaluation & {int(s) for s in t.seeds}:
        raise ConfigError(f"paper.tune.seeds {sorted(clash)} are evaluation seeds; tune on other seeds")
    return out


def _tune_job(plain: dict, seed: int, setting: str | None = None, method: str | None = None, combo=None):
    """One tuning seed's SFT model and pairs (``setting`` None), or one configuration's dev LC win rate."""
    cfg, world = job_setup(plain, seed)
    if setting is None:
        return exp.preference_pairs(cfg, world, exp.sft_model(cfg, world))
    r = exp.run_method(cfg, world, exp.preference_pairs(cfg, world), setting, method, split="dev", tag="tune",
                       use_tuned=False, **combo)  # fmt: skip
    return float(r["eval"]["lc_win_rate"])


def tune(cfg, progress: bool = True, only: list[str] | None = None) -> dict:
    """{"chosen": {setting: {method: record}}, "trace": [(setting, method, combo, [dev LC per seed])]}."""
    tcfg = tuning_config(cfg)
    plain = OmegaConf.to_container(tcfg, resolve=True)
    methods = [m for m in exp.METHODS_TABLE4 if m != "sft" and (not only or m in only)]
    unknown = set(only or ()) - set(methods)
    if unknown:
        raise ConfigError(f"--only {sorted(unknown)}: not tunable methods; choose from {methods}")
    grids = {m: grid(OmegaConf.to_container(cfg.paper.methods[m].search, resolve=True)) for m in methods}
    runs = [(s, m, c) for s in cfg.paper.settings for m in methods for c in grids[m]]
    seeds = [int(s) for s in cfg.paper.tune.seeds]
    scores: dict = {}
    bar = tqdm(total=len(seeds) * (1 + len(runs)), desc="tune (dev split)", disable=not progress)
    with Workers(int(cfg.hardware.get("workers", 1) or 1), int(cfg.hardware.get("torch_threads") or 1)) as pool:
        after = lambda job, _res: [(plain, job[1], s, m, c) for s, m, c in runs] if len(job) == 2 else []
        for job, res in pool.run_graph(_tune_job, [(plain, sd) for sd in seeds], after):
            bar.update()
            if len(job) > 2:
                _, sd, s, m, c = job
                scores.setdefault((s, m, tuple(sorted(c.items()))), {})[sd] = res
    bar.close()
    trace = [(s, m, c, [scores[(s, m, tuple(sorted(c.items())))][sd] for sd in seeds]) for s, m, c in runs]
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
        "# Written by `make tune-simpo` (python -m replicate.papers.simpo_tune); each method's dev_tuned_by records",
        f"# the command and commit that chose it. scale={cfg.scale.name}: the pairs and steps the replication runs",
        f"# with; tuning seeds {list(t.seeds)} (never evaluation seeds), {t.n_dev} dev prompts each.",
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
    from ..core.config import cli_entry

    cli_entry(main)
