"""Checks once that K_revise's extra-seed stage (papers/drift/control_seeds.py) reads exactly what DRIFT's round 1
reads on a claim seed: for seed 42 at tiny, the stage's hindsight answers' qualities against the cached round-1
extras of the committed run (docs/power.md §12). Reads the cached round; computes only the extra-seed stage.

    PYTHONPATH=. .venv/bin/python bench/k_revise_seed_check.py [seed]
"""

from __future__ import annotations

import sys
import time

import numpy as np

from replicate.core.config import at_scale, compose, to_dict
from replicate.core.io import cache_dir, content_hash, read_json
from replicate.papers.drift import control_seeds as S
from replicate.papers.drift import experiment as E
from replicate.training import iterative
from replicate.training.toy_stages import setup_torch
from replicate.training.world_cache import world_for

seed = int(sys.argv[1]) if len(sys.argv) > 1 else 42
cfg = compose("drift", [f"seed={seed}"])
setup_torch(cfg)
w = world_for(cfg)
train, evals = E.specs(cfg)
start = iterative.Start(E.start_key(cfg), lambda: E.start_policy(cfg, w))
key = iterative.round_keys(
    cfg,
    name="drift-drift",
    start=start,
    train=train,
    evals=evals,
    rounds=int(at_scale(cfg, cfg.paper.rounds)),
    key_parts=(
        "drift",
        to_dict(cfg.paper.logs),
        to_dict(cfg.paper.sample),
        to_dict(cfg.paper.iterdpo),
        at_scale(cfg, cfg.paper.logs.n_prompts),
        to_dict(cfg.judge),
        to_dict(cfg.toy_world),
    ),
    code=E._CODE,
)[0]
d = cache_dir() / "iter-round" / content_hash(key)
if not (d / "DONE").exists():
    raise SystemExit(f"round 1 of seed {seed} is not cached at {d}: nothing to compare with")
ref = read_json(d / "record.json")["extras"]
t0 = time.time()
new = S.hindsight_answers(cfg, w)
print(f"seed {seed}: extra-seed stage {time.time() - t0:.0f} s")
for k in ("item", "q_positive", "q_negative", "q_unconditioned"):
    a, b = np.asarray(ref[k], float), np.asarray(new[k], float)
    same = a.shape == b.shape and np.array_equal(a, b)
    print(f"  {k}: {len(a)} values, identical: {same}" + ("" if same else f" (max |diff| {np.abs(a - b).max():.3g})"))
g = np.asarray(new["q_positive"]) - np.asarray(new["q_negative"])
print(f"  K_revise gain on this seed: {g.mean():+.3f} ± {g.std() / np.sqrt(len(g)):.3f} ({len(g)} items)")
