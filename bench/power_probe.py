"""The power probe of docs/power.md: how much headroom the toy LM world leaves above SFT, whether the
judge can see it, and what DPO and SimPO make of it (paired differences against SFT with intervals).

    .venv/bin/python bench/power_probe.py                                  # headroom + training, tiny scale
    .venv/bin/python bench/power_probe.py scale.world.n_pref_prompts=4096 scale.pref.epochs=3

Uses the notebook's own stages (``replicate.papers.simpo``), so every stage is cached in .cache/.
"""

from __future__ import annotations

import sys
import time
from collections import defaultdict

import numpy as np


def headroom(cfg, world, sft, n: int = 16) -> dict:
    from replicate.models.sampling import generate
    from replicate.worlds.toy_lm import oracle_quality

    P, ev = world.prompts["eval"], cfg.paper.eval
    g = generate(
        sft, world.tokenizer, P, n=n, temperature=float(ev.temperature), max_new_tokens=int(ev.max_new_tokens), seed=5
    )
    q = np.array([[oracle_quality(p, y) for y in ys] for p, ys in zip(P, g)])
    lens = np.array([[len(y) for y in ys] for ys in g])
    judge_best = [oracle_quality(p, ys[int(np.argmax(world.judge.rank(p, ys[: n // 2])))]) for p, ys in zip(P, g)]
    greedy = generate(sft, world.tokenizer, P, temperature=0.0, max_new_tokens=int(ev.max_new_tokens), seed=5)
    agree = [
        (world.judge.prob(p, a, b) > 0.5) == (oracle_quality(p, a) > oracle_quality(p, b))
        for p, (a, b, *_) in zip(P, g)
        if oracle_quality(p, a) != oracle_quality(p, b)
    ]
    by_skill = defaultdict(list)
    for p, row in zip(P, q):
        by_skill[p.split(":")[0]].append(row.mean())
    return {
        "sft_q": q.mean(),
        "sft_greedy_q": np.mean([oracle_quality(p, y[0]) for p, y in zip(P, greedy)]),
        f"best_of_{n}_oracle_q": q.max(1).mean(),
        f"best_of_{n // 2}_judge_q": np.mean(judge_best),
        "reference_q": np.mean([oracle_quality(p, y) for p, y in zip(P, world.reference["eval"])]),
        "share_exact": (q == 1).mean(),
        "sft_len_mean": lens.mean(),
        "sft_len_sd": lens.std(),
        "judge_oracle_agreement": np.mean(agree),
        "n_agreement_pairs": len(agree),
        **{f"q.{k}": float(np.mean(v)) for k, v in sorted(by_skill.items())},
    }


def main(argv: list[str]) -> int:
    from replicate.core.config import compose
    from replicate.metrics.verdicts import paired_ci
    from replicate.papers import simpo
    from replicate.worlds.toy_lm import oracle_quality

    cfg = compose("simpo", argv)
    simpo.setup_torch(cfg)
    world = simpo.build_world(cfg)
    sft = simpo.sft_model(cfg, world)
    for k, v in headroom(cfg, world, sft).items():
        print(f"{k:28s} {v:.3f}" if isinstance(v, float) else f"{k:28s} {v}")
    pairs = simpo.preference_pairs(cfg, world, sft)
    for setting in cfg.paper.settings:
        res = {}
        for m in ("sft", "dpo", "simpo"):
            t = time.time()
            ev = simpo.run_method(cfg, world, pairs, setting, m)["eval"]
            q = np.array([oracle_quality(p, y) for p, y in zip(world.prompts["eval"], ev["responses"])])
            res[m] = (100 * np.array(ev["preferences"]), q)
            print(
                f"{setting} {m}: {time.time() - t:.1f}s wr={ev['win_rate']:.1f} lc={ev['lc_win_rate']:.1f} "
                f"q={ev['oracle_quality']:.3f} len={ev['avg_length']:.1f}"
            )
        for m in ("dpo", "simpo"):
            for name, i in (("raw WR", 0), ("oracle q", 1)):
                ci = paired_ci(res[m][i] - res["sft"][i])
                print(
                    f"  {setting} {m} − sft, {name}: {ci['diff']:+.3f} [{ci['lo']:+.3f}, {ci['hi']:+.3f}] "
                    f"z={ci['diff'] / ci['se']:.1f}"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
