"""Single-seed probe of the revision skills DRIFT's and EVOLVE's start models need (issue 24; docs/power.md, *Revision
and refinement skills*): builds π_0 with the given SFT steps (the paper's own cached stage, so the final run reuses it
when the settings match) and reads the capability control on it — never a claim.

    drift  <target> <steps>: K_revise on the first 512 logged DSAT items: q(y⁺ ~ π_0(·|x ⊕ y⁻ ⊕ f)) − q(y⁻), plus
                             π_0's plain answers to the same prompts and a few examples
    evolve <steps>:          K_refine: π_0's refinement gain q(y^J) − q(y⁰) on the dev split

    PYTHONPATH=. .venv/bin/python bench/revision_probe.py drift draft 120
    PYTHONPATH=. .venv/bin/python bench/revision_probe.py evolve 400
"""

from __future__ import annotations

import sys
import time

import numpy as np

from replicate.core.config import compose
from replicate.training import iterative
from replicate.training.toy_stages import setup_torch
from replicate.training.world_cache import world_for
from replicate.worlds.toy_lm import oracle_quality


def drift(target: str, steps: int, seed: int = 42, n: int = 512) -> None:
    from replicate.papers.drift import experiment as E

    cfg = compose(
        "drift",
        ["scale=tiny", f"paper.capability.target={target}", f"paper.capability.steps.tiny={steps}", f"seed={seed}"],
    )
    setup_torch(cfg)
    w = world_for(cfg)
    t0 = time.time()
    pol = E.start_policy(cfg, w)
    t1 = time.time()
    lg = E.deployment_logs(cfg, w)["dsat"]
    ps, ys, fs = lg["prompt"][:n], lg["rejected"][:n], lg["feedback"][:n]
    kw = E._sample_kw(cfg)
    convs = [E.hindsight_conversation(*a) for a in zip(ps, ys, fs)]
    pos = [c[0] for c in iterative.sample(pol, w.tokenizer, convs, seed=seed, **kw)]
    plain = [c[0] for c in iterative.sample(pol, w.tokenizer, ps, seed=seed + 1, **kw)]
    q = lambda rs: np.array([oracle_quality(x, y) for x, y in zip(ps, rs)])
    qp, qn, qu = q(pos), q(ys), q(plain)
    d = qp - qn
    print(
        f"drift target={target} steps={steps} seed={seed}: π_0 {t1 - t0:.0f} s; K_revise gain {d.mean():+.3f} ± "
        f"{d.std() / np.sqrt(n):.3f} (q(y⁺) {qp.mean():.3f}, q(y⁻) {qn.mean():.3f}); q(plain) {qu.mean():.3f}"
    )
    for i in range(4):
        print(f"  {ps[i]} | {ys[i]} | {fs[i]} → {pos[i]}")


def evolve(steps: int, seed: int = 42) -> None:
    from replicate.papers.evolve import experiment as E

    cfg = compose("evolve", ["scale=tiny", f"paper.sft_stage.steps.tiny={steps}", f"seed={seed}"])
    setup_torch(cfg)
    w = world_for(cfg)
    t0 = time.time()
    ev = E.refine_eval(cfg, w, "pi0", E.pi0_key(cfg), lambda: E.pi0(cfg, w), split="dev")
    g = np.asarray(ev["refined"]["oracle_qualities"]) - np.asarray(ev["direct"]["oracle_qualities"])
    print(
        f"evolve steps={steps} seed={seed}: {time.time() - t0:.0f} s; K_refine gain {g.mean():+.3f} ± "
        f"{g.std() / np.sqrt(len(g)):.3f}; q by chain step {np.round(ev['q_by_step'], 3).tolist()}"
    )


if __name__ == "__main__":
    if sys.argv[1] == "drift":
        drift(sys.argv[2], int(sys.argv[3]))
    elif sys.argv[1] == "evolve":
        evolve(int(sys.argv[2]))
    else:
        raise SystemExit(__doc__)
