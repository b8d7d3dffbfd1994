"""RL steps per second: our GRPO path (``training.rl.train_grpo``: reward function with PAR shaping and logging, the
RLCurves callback) against TRL's ``GRPOTrainer`` run bare (a plain reward function, no callback), side by side.

Both train the same tiny toy-world policy from the same weights against the same reward model for the same steps
with the same ``GRPOConfig``; runs alternate (ours, bare, ours, bare, ...) and the median of ``--repeats`` runs of
each is reported, so machine load hits both alike. Without a held-out evaluation (``eval_every = 0``): the
evaluation is extra work a paper asks for, not overhead of the path; its cost is reported separately.

    .venv/bin/python bench/rl_steps.py                  # → bench/results/rl_steps.json
    .venv/bin/python bench/rl_steps.py --steps 4 --repeats 2
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "results"


def _setup():
    import numpy as np
    import torch
    from omegaconf import OmegaConf

    from replicate.core.config import compose
    from replicate.models.lm import build_model
    from replicate.models.token_reward import token_reward_model_from_policy
    from replicate.worlds.tokenizer import build_tokenizer
    from replicate.worlds.toy_lm import make_prompts

    torch.manual_seed(0)
    cfg = compose("par", [])
    tok = build_tokenizer()
    policy = build_model(cfg.model, tok, seed=0)
    rm = token_reward_model_from_policy(policy, tok).eval()
    prompts = make_prompts(64, seed=1)
    refs = np.random.default_rng(0).normal(size=(len(prompts), 10)).tolist()
    hw = OmegaConf.create({"bf16": False, "gradient_checkpointing": False})
    return cfg, tok, policy, rm, prompts, refs, hw


def _ours(tok, policy, rm, prompts, refs, hw, settings, out):
    from replicate.training import rl
    from replicate.training.shaping import Shaping

    fn = rl.reward_function(rl.rm_score(rm, tok), shaping=Shaping("par", penalty=(28, 0.01), n_refs=10), name="rm")
    t = time.perf_counter()
    rl.train_grpo(policy, tok, rl.rl_dataset(prompts, {"ref_rewards": refs}), [fn], hw, settings, seed=0, out=out)
    return time.perf_counter() - t


def _bare(tok, policy, rm, prompts, refs, hw, settings, out):
    import copy

    from trl import GRPOTrainer

    from replicate.models.reward import reward_scores
    from replicate.training import rl

    def reward(prompts, completions, task, **kw):  # the RM's score, nothing else
        return reward_scores(rm, tok, task, [c[0]["content"] for c in completions]).tolist()

    model = rl._with_reference_path(copy.deepcopy(policy), out)  # TRL reloads its reference from the model's path
    args = rl.grpo_config(hw, settings, seed=0, out=out)
    args.logging_steps = 10_000
    tr = GRPOTrainer(
        model=model, reward_funcs=[reward], args=args, train_dataset=rl.rl_dataset(prompts), processing_class=tok
    )
    t = time.perf_counter()
    tr.train()
    return time.perf_counter() - t


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args(argv)
    import torch

    from replicate.training import rl

    torch.set_num_threads(1)
    cfg, tok, policy, rm, prompts, refs, hw = _setup()
    r = cfg.paper.rl
    settings = rl.settings_from(r, steps=a.steps, max_new_tokens=int(cfg.scale.sample.max_new_tokens))
    times: dict[str, list[float]] = {"ours": [], "trl_bare": []}
    for _ in range(a.repeats):
        for name, fn in (("ours", _ours), ("trl_bare", _bare)):
            with tempfile.TemporaryDirectory() as d:
                times[name].append(fn(tok, policy, rm, prompts, refs, hw, settings, Path(d)))
    med = {k: statistics.median(v) for k, v in times.items()}
    res = {
        "steps": a.steps,
        "repeats": a.repeats,
        "completions_per_step": settings.prompts_per_step * settings.num_generations,
        "seconds": times,
        "steps_per_second": {k: a.steps / v for k, v in med.items()},
        "ours_over_bare_steps_per_second": med["trl_bare"] / med["ours"],
        "torch_threads": 1,
        "note": "train() wall time including TRL's set-up; the same GRPOConfig, policy, RM and prompts for both",
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "rl_steps.json").write_text(json.dumps(res, indent=2) + "\n")
    print(json.dumps({k: res[k] for k in ("steps_per_second", "ours_over_bare_steps_per_second")}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
