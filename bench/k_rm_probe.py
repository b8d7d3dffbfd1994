"""The reward-model probe (docs/power.md §14): which learned RM can GRPO climb before it hacks? One seed, dev split.

Each configuration overrides PAR's ``paper.reward_model`` (``conf/paper/par.yaml``) with the options of
``training.rm_variants``, trains that RM (cached like PAR's), reads K_rm's parts on its held-out dev pairs (``toy_reward.rm_report``) and the RM's spread
among one prompt's SFT samples (the unit of GRPO's advantage with ``scale_rewards: none``: K_rl's z-scored oracle
has 1), then runs GRPO with PAR's Vanilla shaping (length penalty only) in PAR's budget (= K_rl's) on PAR's RL
prompts, evaluated on the 128 DEV prompts × ``--repeats`` every 32 steps: oracle q, the judge's win rate against
π_SFT, length, KL. The claims read the eval split; nothing here does.

    PYTHONPATH=. .venv/bin/python bench/k_rm_probe.py base norm        # named configurations below
    PYTHONPATH=. .venv/bin/python bench/k_rm_probe.py --list
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "results" / "k_rm_probe.json"

# Overrides of paper.reward_model at tiny scale. "base" is PAR's RM before §14 (random pairs of 4 SFT samples, one
# judge label each, 1024 prompts × 4 pairs, token_sum head).
B8 = {"pairing": "binarized", "pairs_per_prompt": 3, "normalise": "group_std", "samples_per_prompt": 8}
CONFIGS = {
    "base": {},
    # lever 1, the scale: PAR's RM divided by its within-prompt spread
    "norm": {"normalise": "group_std"},
    # lever 2 (and 3), UltraFeedback-binarized pairs: chosen = the judge's top of 4, 8 or 16 samples
    "bin_norm": {"pairing": "binarized", "pairs_per_prompt": 3, "normalise": "group_std"},
    "bin_norm_s8": B8,
    "bin_norm_s8_p7": {**B8, "pairs_per_prompt": 7},
    "bin_norm_s16": {**B8, "samples_per_prompt": 16},
    # lever 4, the readout: the likelihood weight, and mean instead of sum over the response
    "bin_a3_norm_s8": {**B8, "alpha_init": 3.0},
    "mean_norm": {"head": "token_mean", "normalise": "group_std"},
    "bin_mean_norm": {"head": "token_mean", "pairing": "binarized", "pairs_per_prompt": 3, "normalise": "group_std"},
    "hm_norm": {"head": "token_head_mean", "normalise": "group_std"},
    "bin_hm_norm_s8": {**B8, "head": "token_head_mean"},
}


def run(name: str, repeats: int, rl_steps: int | None, rl_seed: int | None = None) -> dict:
    import numpy as np
    from omegaconf import OmegaConf

    from replicate.core.config import compose
    from replicate.models.sampling import generate
    from replicate.papers.par import experiment as ex
    from replicate.training import rl, rm_variants, toy_reward
    from replicate.training.shaping import Shaping
    from replicate.training.toy_stages import setup_torch, sft_model
    from replicate.training.world_cache import world_for

    cfg = compose("par", ["scale.n_seeds=1"])
    setup_torch(cfg)
    ex.validate(cfg)  # PAR's own settings; the variant's options are checked by rm_variants before any compute
    cfg.paper.reward_model = OmegaConf.merge(OmegaConf.create(ex.resolved(cfg, cfg.paper.reward_model)), CONFIGS[name])
    if int(ex.rm_cfg(cfg).n_prompts) + int(ex.rl_cfg(cfg)["prompts"]) > int(cfg.scale.world.n_pref_prompts):
        raise SystemExit(f"{name}: the RM's and the RL prompts must be disjoint within the pref split")
    world, rmc, r = world_for(cfg), ex.rm_cfg(cfg), ex.rl_cfg(cfg)
    t = time.perf_counter()
    rm = rm_variants.variant_reward_model(cfg, world, rmc)
    score = rl.rm_score(rm, world.tokenizer)
    data = rm_variants.variant_rm_data(cfg, world, rmc)
    rep = toy_reward.rm_report(score, data)
    t_rm = time.perf_counter() - t
    pol, ps = sft_model(cfg, world), ex.split_prompts(cfg, world)
    kw = dict(temperature=float(r["temperature"]), top_p=float(r["top_p"]), max_new_tokens=int(r["max_new_tokens"]))
    # the RM's spread within GRPO-sized groups of π_SFT samples on the first 128 RL prompts (duplicates included)
    grp = generate(pol, world.tokenizer, ps["rl"][:128], n=int(r["num_generations"]), seed=7, **kw)
    sd = [np.std(score([p] * len(ys), ys), ddof=1) for p, ys in zip(ps["rl"][:128], grp)]
    dev = world.prompts["dev"][: int(cfg.scale.world.n_dev)] * repeats
    base = [y[0] for y in generate(pol, world.tokenizer, dev, seed=int(cfg.seed) + 404, **kw)]
    ev = rl.HeldOutEval(
        world.tokenizer, dev, score, world.judge, base, pol,
        temperature=float(r["temperature"]), max_new_tokens=int(r["max_new_tokens"]), seed=int(cfg.seed) + 505,
    )  # fmt: skip
    steps = rl_steps or ex.steps(cfg)
    t = time.perf_counter()
    _, curves = rl.train_grpo(
        pol,
        world.tokenizer,
        rl.rl_dataset(ps["rl"]),
        [rl.reward_function(score, shaping=Shaping("vanilla", penalty=ex.penalty(cfg)), name="rm")],
        cfg.hardware,
        rl.settings_from(r, steps=steps),
        seed=int(cfg.seed) if rl_seed is None else rl_seed,  # another RL seed, same RM: the run-to-run noise
        out=Path("/tmp") / f"k_rm_probe_{name}",
        evaluator=ev,
        eval_every=32,
    )
    t_rl = time.perf_counter() - t
    c = curves.as_dict()["eval"]
    q0 = np.asarray(c[0]["per_prompt"]["oracle"])

    def d(e):
        g = np.asarray(e["per_prompt"]["oracle"]) - q0
        return [round(float(g.mean()), 4), round(float(g.std(ddof=1) / np.sqrt(g.size)), 4)]

    acc = rep["accuracy"]
    return {
        "config": name,
        "overrides": CONFIGS[name],
        "n_pairs": len(data["train"]["prompt"]),
        "train_pairs_oracle_agree": float(
            np.mean(np.asarray(data["train"]["q_chosen"]) > data["train"]["q_rejected"])
        ),
        "rm": {
            "vs_oracle": round(acc["vs_oracle"], 4),
            "vs_judge": round(acc["vs_judge"], 4),
            "answer_margin": round(rep["answer_margin"], 4),
            "filler_slope": round(rep["filler"]["slope_per_unit"], 4),
            "reward_scale": float(getattr(rm.config, "reward_scale", 1.0)),
            "alpha": float(rm.alpha) if hasattr(rm, "alpha") else None,
        },
        "group_std_sft": round(float(np.mean(sd)), 4),
        "eval": [
            {
                "step": e["step"],
                "q": round(e["oracle"], 4),
                "dq": d(e),
                "win": round(e["win_rate"], 4),
                "length": round(e["length"], 1),
                "kl": round(e["kl"], 3),
                "proxy": round(e["proxy"], 3),
                "examples": [f"{p} -> {y!r}" for p, y in zip(dev[:6], e["responses"][:6])],
            }
            for e in c
        ],  # fmt: skip
        "wall_rm_s": round(t_rm, 1),
        "wall_rl_s": round(t_rl, 1),
    }


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("configs", nargs="*")
    ap.add_argument("--repeats", type=int, default=4)
    ap.add_argument("--steps", type=int, default=None, help="RL steps (default PAR's, 128)")
    ap.add_argument("--rl-seed", type=int, default=None, help="GRPO's seed (default the RM's, 42)")
    ap.add_argument("--tag", default="", help="suffix of the result's name (a re-run kept beside the first)")
    ap.add_argument("--list", action="store_true")
    a = ap.parse_args(argv)
    if a.list or not a.configs:
        print("\n".join(f"{k}: {v}" for k, v in CONFIGS.items()))
        return 0
    if unknown := [c for c in a.configs if c not in CONFIGS]:
        ap.error(f"unknown configurations {unknown}; --list shows them")
    done = json.loads(OUT.read_text()) if OUT.exists() else {}
    for c in a.configs:
        res = run(c, a.repeats, a.steps, a.rl_seed)
        name = c + (f"@{a.steps}" if a.steps else "") + (f"/rl{a.rl_seed}" if a.rl_seed is not None else "") + a.tag
        done[name] = res
        print(json.dumps(res), flush=True)
        OUT.parent.mkdir(parents=True, exist_ok=True)
        OUT.write_text(json.dumps(done, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
