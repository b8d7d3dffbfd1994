"""K_judge probe for Temporal Self-Rewarding (docs/power.md §8): train M_0 (SFT + EFT, the notebook's own cached
stage) under the given overrides and measure its self-judge on the probe prompts as the run does — pair accuracy
against the oracle, against length and against its own EFT grades — plus M_0's oracle quality. One seed, no DPO.

    python bench/tsr_judge_probe.py scale=tiny seed=42 paper.self_judge.work=answer ...
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np

from replicate.core.config import at_scale, compose
from replicate.papers.temporal_self_rewarding import experiment as exp
from replicate.training import iterative, self_judge
from replicate.training.world_cache import world_for
from replicate.worlds.toy_lm import oracle_quality


def main(overrides: list[str]) -> dict:
    cfg = compose("temporal-self-rewarding", overrides)
    exp.validate(cfg)
    world = world_for(cfg)
    t0 = time.perf_counter()
    m0 = exp.m0(cfg, world)
    t_m0 = time.perf_counter() - t0
    pp = exp._probe_prompts(cfg, world)
    n = int(cfg.paper.sr.n_samples)
    s = cfg.paper.sample
    cand = iterative.sample(
        m0,
        world.tokenizer,
        pp,
        n=n,
        temperature=float(s.temperature),
        top_p=float(s.top_p),
        max_new_tokens=int(s.max_new_tokens),
        seed=int(cfg.seed) + 7,
    )
    t0 = time.perf_counter()
    sc = exp.self_scores(cfg, m0, world.tokenizer, pp, cand, seed=1)
    t_judge = time.perf_counter() - t0
    ag = exp.agreement(cfg, world, m0, pp, cand, sc)
    greedy = iterative.sample(m0, world.tokenizer, pp, n=1, temperature=0.0, top_p=1.0, max_new_tokens=48, seed=0)
    out = {
        "overrides": overrides,
        "self_vs_oracle": float(np.nanmean(ag["self_vs_oracle"])),
        "self_expected_vs_oracle": float(np.nanmean(ag["self_expected_vs_oracle"])),
        "length_vs_oracle": float(np.nanmean(ag["length_vs_oracle"])),
        "grade_vs_oracle": float(np.nanmean(ag["grade_vs_oracle"])),
        "self_vs_grade": float(np.nanmean(ag["self_vs_grade"])),
        "unparsable": ag["unparsable"],
        "m0_q_sampled": ag["mean_q"],
        "m0_q_greedy": float(np.mean([oracle_quality(p, g[0]) for p, g in zip(pp, greedy)])),
        "eft_rows": 2
        * int(at_scale(cfg, cfg.paper.self_judge.eft.prompts))
        * int(cfg.paper.self_judge.eft.samples_per_prompt),
        "seconds_m0": round(t_m0, 1),
        "seconds_judge": round(t_judge, 1),
        "judged": len(pp) * n,
    }
    if cfg.paper.self_judge.work == "answer":
        fp = [p for p, c in zip(pp, cand) for _ in c]
        fy = [y for c in cand for y in c]
        _, worked = self_judge.worked_logits(m0, world.tokenizer, cfg.paper.self_judge.query, fp, fy, max_tokens=16)
        from replicate.worlds.toy_lm import solve

        out["worked_exact"] = float(np.mean([w == solve(p) for p, w in zip(fp, worked)]))
    return out


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:])), flush=True)
