"""The K_rl sweep (docs/power.md §9): GRPO with the oracle as reward from π_SFT, one seed, read on the dev split.

Each configuration overrides the shared ``conf/capability/k_rl.yaml`` block and runs ``training.rl_control.oracle_rl``
(cached like the control itself) with the held-out evaluation on the 128 dev prompts, each sampled ``--repeats``
times, every quarter of training. Printed per configuration: dev q at step 0 and after, the paired gain with its
standard error over prompts (one seed: no interval over training noise), length, KL, the training rollouts' q in
the first and last eighth of steps, and the wall time. Nothing here reads a paper's claims.

    PYTHONPATH=. .venv/bin/python bench/k_rl_sweep.py base dr        # named configurations below
    PYTHONPATH=. .venv/bin/python bench/k_rl_sweep.py --list
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "results" / "k_rl_sweep.json"

# Overrides of conf/capability/k_rl.yaml. "base" is the budget PAR ran before issue 24 (32 steps of 8 × 5, TRL's
# per-sequence "grpo" loss, lr 3e-4).
CONFIGS = {
    "base": {},
    "dr": {"loss_type": "dr_grpo"},
    "dr_lr1e-3": {"loss_type": "dr_grpo", "lr": 1.0e-3},
    "dr_lr1e-4": {"loss_type": "dr_grpo", "lr": 1.0e-4},
    "dr_64": {"loss_type": "dr_grpo", "steps": 64},
    "dr_64_g8": {"loss_type": "dr_grpo", "steps": 64, "num_generations": 8},
    "grpo_64": {"steps": 64},
    "dr_64_lr1e-3": {"loss_type": "dr_grpo", "steps": 64, "lr": 1.0e-3},
    "dr_96": {"loss_type": "dr_grpo", "steps": 96},
    "dr_g8": {"loss_type": "dr_grpo", "num_generations": 8},
    # one pass over distinct prompts (base cycles 128 prompts twice: the training rollouts' q rose 0.42 → 0.59 while
    # held-out q moved +0.016, i.e. the policy learned those prompts)
    "fresh": {"prompts": 256},
    "dr_fresh": {"loss_type": "dr_grpo", "prompts": 256},
    "dr_fresh_lr1e-3": {"loss_type": "dr_grpo", "prompts": 256, "lr": 1.0e-3},
    "dr_fresh_64": {"loss_type": "dr_grpo", "prompts": 512, "steps": 64},
    "dr_fresh_128": {"loss_type": "dr_grpo", "prompts": 1024, "steps": 128},
    "fresh_128": {"prompts": 1024, "steps": 128},
    "dr_fresh_64_lr1e-3": {"loss_type": "dr_grpo", "prompts": 512, "steps": 64, "lr": 1.0e-3},
    "dr_fresh_64_g8": {"loss_type": "dr_grpo", "prompts": 512, "steps": 64, "num_generations": 8},
    # train as evaluated: HeldOutEval samples at top-p 1.0, the runs above trained at top-p 0.9 (the training
    # rollouts' q rose while held-out q at top-p 1.0 did not)
    "p1": {"top_p": 1.0},
    "p1_fresh": {"top_p": 1.0, "prompts": 256},
    "p1_dr_fresh": {"top_p": 1.0, "prompts": 256, "loss_type": "dr_grpo"},
    "p1_fresh_64": {"top_p": 1.0, "prompts": 512, "steps": 64},
    "p1_dr_fresh_64": {"top_p": 1.0, "prompts": 512, "steps": 64, "loss_type": "dr_grpo"},
    "p1_dr_fresh_128": {"top_p": 1.0, "prompts": 1024, "steps": 128, "loss_type": "dr_grpo"},
    "p1_fresh_128": {"top_p": 1.0, "prompts": 1024, "steps": 128},
    "p1_fresh_64_lr1e-3": {"top_p": 1.0, "prompts": 512, "steps": 64, "lr": 1.0e-3},
    "p1_fresh_64_lr1e-4": {"top_p": 1.0, "prompts": 512, "steps": 64, "lr": 1.0e-4},
    "p1_fresh_64_g8": {"top_p": 1.0, "prompts": 512, "steps": 64, "num_generations": 8},
    "p1_fresh_128_lr1e-3": {"top_p": 1.0, "prompts": 1024, "steps": 128, "lr": 1.0e-3},
    "p1_dr_fresh_128_lr1e-3": {"top_p": 1.0, "prompts": 1024, "steps": 128, "lr": 1.0e-3, "loss_type": "dr_grpo"},
    "p1_fresh_256": {"top_p": 1.0, "prompts": 2048, "steps": 256},
    "p1_dr_fresh_64_lr1e-3": {"top_p": 1.0, "prompts": 512, "steps": 64, "lr": 1.0e-3, "loss_type": "dr_grpo"},
    "p1_dr_fresh_64_lr6e-4": {"top_p": 1.0, "prompts": 512, "steps": 64, "lr": 6.0e-4, "loss_type": "dr_grpo"},
}


def run(name: str, repeats: int, extra: dict) -> dict:
    import numpy as np
    from omegaconf import OmegaConf

    from replicate.core.config import compose
    from replicate.training import rl_control
    from replicate.training.toy_stages import setup_torch
    from replicate.training.world_cache import world_for

    cfg = compose("par", ["scale.n_seeds=1"])
    setup_torch(cfg)
    node = OmegaConf.merge(OmegaConf.to_container(rl_control.node_of(cfg)), CONFIGS[name], extra)
    node.split, node.eval_prompts, node.eval_repeats = "dev", int(cfg.scale.world.n_dev), repeats
    node.eval_every = int(node.steps) // 4
    t = time.perf_counter()
    cur = rl_control.oracle_rl(cfg, world_for(cfg), node)
    wall = time.perf_counter() - t
    ev, tr = cur["eval"], cur["train"]
    g = rl_control.gain(cur)
    k = max(1, len(tr) // 8)
    return {
        "config": name,
        "overrides": {**CONFIGS[name], **extra},
        "wall_s": round(wall, 1),
        "q_by_step": {e["step"]: round(e["oracle"], 4) for e in ev},
        "gain": float(g.mean()),
        "gain_se": float(g.std(ddof=1) / np.sqrt(g.size)),
        "n": int(g.size),
        "length": [round(ev[0]["length"], 1), round(ev[-1]["length"], 1)],
        "kl_end": round(ev[-1]["kl"], 3),
        "train_q_first_last": [
            round(float(np.mean([r["oracle"] for r in tr[:k]])), 4),
            round(float(np.mean([r["oracle"] for r in tr[-k:]])), 4),
        ],
    }


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("configs", nargs="*")
    ap.add_argument("--repeats", type=int, default=4)
    ap.add_argument("--list", action="store_true")
    a = ap.parse_args(argv)
    if a.list or not a.configs:
        print("\n".join(f"{k}: {v}" for k, v in CONFIGS.items()))
        return 0
    if unknown := [c for c in a.configs if c not in CONFIGS]:
        ap.error(f"unknown configurations {unknown}; --list shows them")
    done = json.loads(OUT.read_text()) if OUT.exists() else {}
    for c in a.configs:
        res = run(c, a.repeats, {})
        done[c] = res
        print(json.dumps(res), flush=True)
        OUT.parent.mkdir(parents=True, exist_ok=True)
        OUT.write_text(json.dumps(done, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
