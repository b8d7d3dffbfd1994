"""``make tune-simpo``: the same small hyperparameter budget for every method, chosen on the dev split.

SimPO App. B tuned each baseline's own knobs (Table 3 ranges) and the learning rate per method. We
do the same at tiny scale: every method gets the grid in ``conf/method/<m>.yaml:search`` (8
configurations each), trained on the training pairs and scored by LC win rate on the *dev* prompts
(never the evaluation prompts). The winners are written to ``conf/tuned/simpo_<scale>.yaml`` with the
command that produced them.
"""

from __future__ import annotations

import itertools
import sys

from omegaconf import OmegaConf
from tqdm.auto import tqdm

from ...core.config import CONF_DIR, compose
from ...core.io import atomic_write_text
from ...core.provenance import git_commit
from . import experiment as exp


def grid(search: dict) -> list[dict]:
    keys = sorted(search)
    return [dict(zip(keys, vals)) for vals in itertools.product(*(search[k] for k in keys))]


def tune(cfg, progress: bool = True, only: list[str] | None = None) -> dict:
    exp.setup_torch(cfg)
    world = exp.build_world(cfg)
    pairs = exp.preference_pairs(cfg, world, exp.sft_model(cfg, world))
    chosen, trace = {}, []
    methods = [m for m in exp.METHODS_TABLE4 if m != "sft" and (not only or m in only)]
    jobs = [
        (s, m, c)
        for s in cfg.paper.settings
        for m in methods
        for c in grid(OmegaConf.to_container(cfg.paper.methods[m].search, resolve=True))
    ]
    for s, m, combo in tqdm(jobs, desc="tune (dev split)", disable=not progress):
        r = exp.run_method(cfg, world, pairs, s, m, split="dev", tag="tune", use_tuned=False, **combo)
        trace.append((s, m, combo, r["eval"]["lc_win_rate"]))
    for s in cfg.paper.settings:
        for m in exp.METHODS_TABLE4:
            cands = [(lc, combo) for (s2, m2, combo, lc) in trace if s2 == s and m2 == m]
            if cands:
                best = max(cands, key=lambda z: z[0])  # first maximum in grid order on ties
                chosen.setdefault(s, {})[m] = {**best[1], "dev_lc_win_rate": round(best[0], 3)}
    return {"chosen": chosen, "trace": trace}


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
    command = f'make tune-simpo ARGS="{" ".join(argv + (["--only", ",".join(only)] if only else []))}" @ {git_commit()["commit"]}'
    chosen = OmegaConf.to_container(OmegaConf.load(path), resolve=True) if (only and path.exists()) else {}
    chosen = chosen or {}
    for s, per_method in out["chosen"].items():
        for m, v in per_method.items():
            chosen.setdefault(s, {})[m] = {**v, "dev_tuned_by": command}
    lines = [
        "# Written by `make tune-simpo` (python -m replicate.papers.simpo.tune); each method's dev_tuned_by",
        f"# records the command and commit that chose it. scale={cfg.scale.name}, seed={cfg.seed}.",
        "# Selection: highest LC win rate on the dev prompts (n_dev), each method over its conf/method/<m>.yaml",
        "# search grid (8 configurations each). dev_* fields are informational and not read by the code.",
    ]
    body = OmegaConf.to_yaml(OmegaConf.create(chosen))
    atomic_write_text(path, "\n".join(lines) + "\n" + body)
    for s, m, combo, lc in out["trace"]:
        print(f"{s:9} {m:8} {combo} dev LC {lc:.2f}")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    from ...core.config import cli_entry

    cli_entry(main)
