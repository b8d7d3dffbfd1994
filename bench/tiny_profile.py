"""Where a tiny SimPO run's time goes, and generation throughput against plain ``model.generate``.

Stages are timed from an empty cache (a temporary REPLICATE_CACHE_DIR), in the order the notebook runs
them: world, SFT, pair building split into sampling and judging, then each method's train + evaluate
(the SFT row is evaluation only, so "train ≈ total − SFT's evaluation"). Generation is measured side
by side on the SFT model: our batched sampler (one padded batch, KV cache) against ``model.generate``
called prompt by prompt, the way a first notebook would; tokens/s counts generated tokens up to EOS.

    make bench-profile                                   # tiny scale, both settings, all Table 4 methods
    make bench-profile ARGS="--settings instruct --methods sft dpo simpo scale.world.n_pref_prompts=4096"

Writes bench/results/tiny_profile.json.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "results"


def _clock(fn, *a, **kw):
    t = time.perf_counter()
    out = fn(*a, **kw)
    return out, time.perf_counter() - t


def generation_throughput(model, tokenizer, prompts, *, max_new_tokens: int, temperature: float = 0.7) -> dict:
    """Generated tokens per second: replicate.models.sampling.generate (batched) vs model.generate per prompt."""
    import torch

    from replicate.models.sampling import generate
    from replicate.worlds.tokenizer import chat

    def n_tokens(texts):
        return sum(len(tokenizer(t, add_special_tokens=False)["input_ids"]) + 1 for t in texts)  # + EOS

    outs, t_batched = _clock(
        generate, model, tokenizer, prompts, temperature=temperature, max_new_tokens=max_new_tokens, seed=0
    )
    tok_batched = n_tokens([o[0] for o in outs])
    t = time.perf_counter()
    plain = []
    with torch.no_grad():
        for p in prompts:
            enc = tokenizer(
                tokenizer.apply_chat_template(chat(p), tokenize=False, add_generation_prompt=True),
                return_tensors="pt",
                add_special_tokens=False,
            )
            g = model.generate(
                **enc,
                max_new_tokens=max_new_tokens,
                do_sample=True,
                temperature=temperature,
                pad_token_id=tokenizer.pad_token_id,
                eos_token_id=tokenizer.eos_token_id,
            )
            plain.append(tokenizer.decode(g[0, enc["input_ids"].shape[1] :], skip_special_tokens=True))
    t_plain = time.perf_counter() - t
    tok_plain = n_tokens(plain)
    return {
        "n_prompts": len(prompts),
        "batched_tokens_per_s": tok_batched / t_batched,
        "plain_tokens_per_s": tok_plain / t_plain,
        "speedup": (tok_batched / t_batched) / (tok_plain / t_plain),
        "batched_s": t_batched,
        "plain_s": t_plain,
    }


def profile(overrides: list[str], settings: list[str] | None, methods: list[str] | None, gen_prompts: int) -> dict:
    import torch

    from replicate.core.config import compose
    from replicate.models.sampling import generate
    from replicate.papers import simpo
    from replicate.training import data as D

    cfg = compose("simpo", overrides)
    simpo.setup_torch(cfg)
    stages: dict[str, float] = {}
    world, stages["world"] = _clock(simpo.build_world, cfg)
    sft, stages["sft"] = _clock(simpo.sft_model, cfg, world)
    s = cfg.scale.sample
    ps = world.prompts["pref"]
    samples, stages["pairs.sampling"] = _clock(
        generate,
        sft,
        world.tokenizer,
        ps,
        n=int(s.n_per_prompt),
        temperature=float(s.temperature),
        top_p=float(s.top_p),
        max_new_tokens=int(s.max_new_tokens),
        seed=int(cfg.seed) + 3,
    )
    _, stages["pairs.judging"] = _clock(
        D.pairs_from_candidates,
        ps,
        samples,
        world.judge,
        rejected=cfg.paper.pairs.instruct_rejected,
        seed=int(cfg.seed),
    )
    # the cached stage repeats sampling and judging (both splits, both settings): timed whole, not added twice
    pairs, stages["pairs.all(cached stage)"] = _clock(simpo.preference_pairs, cfg, world, sft)
    per_method = {}
    for setting in settings or list(cfg.paper.settings):
        for m in methods or list(simpo.METHODS_TABLE4):
            _, per_method[f"{setting}.{m}"] = _clock(simpo.run_method, cfg, world, pairs, setting, m)
    n = min(gen_prompts, len(world.prompts["eval"]))
    gen = generation_throughput(
        sft, world.tokenizer, world.prompts["eval"][:n], max_new_tokens=int(cfg.paper.eval.max_new_tokens)
    )
    total = sum(stages.values()) - stages["pairs.sampling"] - stages["pairs.judging"] + sum(per_method.values())
    return {
        "scale": cfg.scale.name,
        "overrides": overrides,
        "threads": torch.get_num_threads(),
        "stages_s": stages,
        "train_and_eval_s": per_method,
        "total_s": total,
        "generation": gen,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--settings", nargs="*", default=None)
    ap.add_argument("--methods", nargs="*", default=None)
    ap.add_argument("--gen-prompts", type=int, default=64)
    ap.add_argument("--out", default=str(OUT / "tiny_profile.json"))
    ap.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. scale=ci")
    a = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as cache:
        os.environ["REPLICATE_CACHE_DIR"] = cache  # cold: every stage is computed, none read from .cache/
        res = profile(a.overrides, a.settings, a.methods, a.gen_prompts)
    from replicate.core.io import atomic_write_json

    atomic_write_json(Path(a.out), res)
    print(f"scale={res['scale']} threads={res['threads']} total ≈ {res['total_s']:.1f} s")
    for k, v in {**res["stages_s"], **res["train_and_eval_s"]}.items():
        print(f"  {k:28s} {v:7.2f} s")
    g = res["generation"]
    print(
        f"  generation: batched {g['batched_tokens_per_s']:.0f} tok/s vs plain model.generate "
        f"{g['plain_tokens_per_s']:.0f} tok/s ({g['speedup']:.1f}x, {g['n_prompts']} prompts)"
    )
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
