"""PAR — "Reward Shaping to Mitigate Reward Hacking in RLHF" (Fu et al. 2025, arXiv 2502.18770) in the toy world.

    SFT policy π_SFT (shared, cached) → proxy RM (``training.toy_reward``: TRL RewardTrainer on judge-labelled
    pairs of SFT samples; it pays for filler the oracle does not value) → ``gen_refs``: M = 10 SFT samples per RL
    prompt scored by the RM → GRPO from π_SFT through TRL's GRPOTrainer (``training.rl``) once per shaping
    (``training.shaping``: Vanilla, PAR, PAR with M = 1, the uncentered sigmoid, Meanstd, Clip, Minmax, LSC, ...),
    all with the same prompts, steps, seeds and settings (matched compute) → every ``eval_every`` steps, on held-out
    prompts: the RM's score, the oracle's quality, the judge's win rate against π_SFT's responses, KL to π_SFT, length.

The paper's measure is the judge's (DeepSeek-V3's) win rate against the SFT model, averaged over the saved
checkpoints; ours is the toy judge's, and the oracle shows what the win rate cannot: whether the policy got better
or only better at pleasing the proxy. Every stage is cached under ``stage_key``; ``run_all`` spreads seeds and
shapings over ``hardware.workers`` processes. Claims: ``papers.par.claims``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from omegaconf import OmegaConf

from ...core.config import ConfigError, at_scale, to_dict
from ...core.io import atomic_write_json, cached, read_json
from ...models.sampling import generate
from ...training import rl, rl_control, toy_reward
from ...training.runner import run_stages
from ...training.shaping import SHAPINGS, Shaping, length_penalty
from ...training.toy_stages import World, seeds, setup_torch, sft_model, stage_key, with_seed  # noqa: F401
from ...training.world_cache import world_for

_CODE = ("papers/par/experiment.py",) + rl.CODE


def _key(cfg, *parts) -> dict:
    return stage_key(cfg, *parts, to_dict(cfg.judge), to_dict(cfg.toy_world), to_dict(cfg.scale.sft), code=_CODE)


def resolved(cfg, node) -> dict:
    """A config block with every per-scale value taken at the current scale."""
    return {k: at_scale(cfg, v) for k, v in OmegaConf.to_container(node, resolve=True).items()}


def rm_cfg(cfg):
    return OmegaConf.create(resolved(cfg, cfg.paper.reward_model))


def rl_cfg(cfg) -> dict:
    return resolved(cfg, cfg.paper.rl)


def methods(cfg) -> dict:
    """{name: {shaping, n_refs, hp}} from ``paper.methods``."""
    out = {}
    for name, m in OmegaConf.to_container(cfg.paper.methods, resolve=True).items():
        m = dict(m)
        out[name] = {"shaping": m.pop("shaping"), "n_refs": m.pop("n_refs", None), "hp": m}
    return out


def validate(cfg) -> None:
    """Bad input raises ConfigError before any compute."""
    if cfg.scale.name in ("small", "paper"):
        raise ConfigError(
            f"par runs at scale=ci or tiny; scale={cfg.scale.name} needs the paper's Gemma2-2B / Llama3-8B "
            "on GPUs (their settings: paper.paper_scale in conf/paper/par.yaml)"
        )
    r, w = rl_cfg(cfg), cfg.scale.world
    rm = rm_cfg(cfg)
    if int(rm.n_prompts) + int(r["prompts"]) > int(w.n_pref_prompts):
        raise ConfigError(
            f"paper.reward_model.n_prompts ({rm.n_prompts}) + paper.rl.prompts ({r['prompts']}) exceed the "
            f"world's {w.n_pref_prompts} preference prompts (RM and RL prompts must be disjoint)"
        )
    if int(r["eval_prompts"]) > int(w.n_eval) or int(rm.heldout_prompts) > int(w.n_dev):
        raise ConfigError(
            "paper.rl.eval_prompts must fit the eval split and reward_model.heldout_prompts the dev split"
        )
    if int(r["prompts"]) % int(r["prompts_per_step"]):
        raise ConfigError(
            f"paper.rl.prompts ({r['prompts']}) must be a multiple of prompts_per_step ({r['prompts_per_step']})"
        )
    if rm.get("head", "token_sum") not in toy_reward.HEADS:
        raise ConfigError(f"paper.reward_model.head must be one of {toy_reward.HEADS}")
    ms = methods(cfg)
    for name, m in ms.items():
        if m["shaping"] not in SHAPINGS:
            raise ConfigError(f"paper.methods.{name}: unknown shaping {m['shaping']!r} (known: {', '.join(SHAPINGS)})")
        if m["n_refs"] is not None and not 1 <= int(m["n_refs"]) <= int(r["n_refs"]):
            raise ConfigError(f"paper.methods.{name}.n_refs must be in [1, paper.rl.n_refs={r['n_refs']}]")
    for need in ("vanilla", "par"):
        if need not in ms:
            raise ConfigError(f"paper.methods needs a '{need}' entry (the claims compare against it)")
    try:
        rl.settings_from(r, steps=steps(cfg))
    except ValueError as e:
        raise ConfigError(f"paper.rl: {e}") from e
    rl_control.validate(cfg)
    k = rl_control.node_of(cfg)
    budget = {"steps": steps(cfg), **{n: r[n] for n in BUDGET}}
    if diff := {n: (v, k[n]) for n, v in budget.items() if v != k[n]}:
        raise ConfigError(
            f"paper.rl must run the RL budget its capability control K_rl measured (conf/capability/k_rl.yaml): "
            f"(paper.rl, k_rl) differ on {diff}"
        )


# What K_rl's oracle-reward runs share with every shaping's run: with less, K_rl would not say whether *this* budget
# can raise quality (the other settings are PAR's, and K_rl's are stated in conf/capability/k_rl.yaml).
BUDGET = ("prompts_per_step", "num_generations", "lr", "loss_type", "beta", "temperature", "top_p")


def steps(cfg) -> int:
    r = rl_cfg(cfg)
    return int(r["epochs"]) * int(r["prompts"]) // int(r["prompts_per_step"])


def penalty(cfg) -> tuple[float, float] | None:
    lp = cfg.paper.length_penalty
    return (float(lp.threshold), float(lp.coef)) if lp.enabled else None


def split_prompts(cfg, world: World) -> dict:
    """RL prompts: the ``pref`` split after the RM's prompts (disjoint from them); evaluation: the ``eval`` split."""
    n_rm, r = int(rm_cfg(cfg).n_prompts), rl_cfg(cfg)
    return {
        "rl": world.prompts["pref"][n_rm : n_rm + int(r["prompts"])],
        "eval": world.prompts["eval"][: int(r["eval_prompts"])],
    }


# ---------------------------------------------------------------------------------------------
# Stages


def reward_model(cfg, world: World):
    return toy_reward.toy_reward_model(cfg, world, rm_cfg(cfg))


def references(cfg, world: World) -> dict:
    """``gen_refs``: M SFT samples per RL prompt, the RM's (length-penalised) scores of them, and π_SFT's one
    response per evaluation prompt (the win-rate baseline). Cached."""
    r = rl_cfg(cfg)
    key = _key(
        cfg,
        "par-refs",
        to_dict(cfg.paper.reward_model),
        {k: r[k] for k in ("prompts", "eval_prompts", "n_refs", "temperature", "top_p", "max_new_tokens")},
        to_dict(cfg.paper.length_penalty),
    )

    def compute(tmp: Path):
        pol, rm, ps = sft_model(cfg, world), reward_model(cfg, world), split_prompts(cfg, world)
        m, kw = (
            int(r["n_refs"]),
            dict(
                temperature=float(r["temperature"]), top_p=float(r["top_p"]), max_new_tokens=int(r["max_new_tokens"])
            ),
        )
        refs = generate(pol, world.tokenizer, ps["rl"], n=m, seed=int(cfg.seed) + 303, **kw)
        flat_p = [p for p in ps["rl"] for _ in range(m)]
        flat_y = [y for ys in refs for y in ys]
        scores = rl.rm_score(rm, world.tokenizer)(flat_p, flat_y)
        lens = [len(world.tokenizer(y, add_special_tokens=False)["input_ids"]) + 1 for y in flat_y]  # + end-of-turn
        if penalty(cfg) is not None:
            scores = length_penalty(scores, lens, *penalty(cfg))
        # DEVIATION (conf/paper/par.yaml, rl.top_p): the baseline at top_p, the evaluated policies at 1.0 (HeldOutEval)
        base = [y[0] for y in generate(pol, world.tokenizer, ps["eval"], seed=int(cfg.seed) + 404, **kw)]
        atomic_write_json(
            tmp / "refs.json",
            {"responses": refs, "rewards": np.asarray(scores).reshape(-1, m).tolist(), "baseline": base},
        )

    return read_json(cached("par-refs", key, compute) / "refs.json")


def rm_diagnostics(cfg, world: World) -> dict:
    """The proxy's held-out accuracy against the judge and the oracle, and its filler flaw (cached)."""
    key = _key(cfg, "par-rm-report", to_dict(cfg.paper.reward_model))

    def compute(tmp: Path):
        rep = toy_reward.rm_report(
            rl.rm_score(reward_model(cfg, world), world.tokenizer), toy_reward.rm_data(cfg, world, rm_cfg(cfg))
        )
        atomic_write_json(tmp / "report.json", rep)

    return read_json(cached("par-rm-report", key, compute) / "report.json")


def run_method(cfg, world: World, name: str) -> dict:
    """GRPO from π_SFT against the RM shaped by ``paper.methods[name]``: per-step curves and held-out evaluations."""
    m, r = methods(cfg)[name], rl_cfg(cfg)
    key = _key(
        cfg, "par-run", name, m, r, to_dict(cfg.paper.reward_model), to_dict(cfg.paper.length_penalty), steps(cfg)
    )

    def compute(tmp: Path):
        pol, rm = sft_model(cfg, world), reward_model(cfg, world)
        refs, ps = references(cfg, world), split_prompts(cfg, world)
        score = rl.rm_score(rm, world.tokenizer)
        n_refs = int(m["n_refs"]) if m["n_refs"] is not None else int(r["n_refs"])
        shaping = Shaping(m["shaping"], penalty=penalty(cfg), n_refs=n_refs, **m["hp"])
        fn = rl.reward_function(score, shaping=shaping, name="rm")
        ds = rl.rl_dataset(ps["rl"], {"ref_rewards": refs["rewards"]})
        ev = rl.HeldOutEval(
            world.tokenizer,
            ps["eval"],
            score,
            world.judge,
            refs["baseline"],
            pol,
            temperature=float(r["temperature"]),
            max_new_tokens=int(r["max_new_tokens"]),
            seed=int(cfg.seed) + 505,
        )
        settings = rl.settings_from(r, steps=steps(cfg))
        _, curves = rl.train_grpo(
            pol,
            world.tokenizer,
            ds,
            [fn],
            cfg.hardware,
            settings,
            seed=int(cfg.seed),
            out=tmp,
            evaluator=ev,
            eval_every=int(r["eval_every"]),
        )
        atomic_write_json(tmp / "curves.json", curves.as_dict())

    return read_json(cached("par-run", key, compute) / "curves.json")


# ---------------------------------------------------------------------------------------------
# All seeds and methods over the cores


def _job(cfg, stage: str):
    world = world_for(cfg)
    if stage == "k_rl":  # shared with AutoRule: the same cache entry whichever paper asks first
        return rl_control.oracle_rl(cfg, world)
    if stage == "prep":
        references(cfg, world)
        return rm_diagnostics(cfg, world)
    return run_method(cfg, world, stage)


def run_all(cfg, progress: bool = True) -> dict:
    """{seed: {"k_rl": the oracle-reward control's curves, "rm": RM diagnostics, "runs": {method: curves}}}
    (``training.runner``: a seed's RL runs start as soon as its RM and references exist, so both cores stay busy
    across seeds; K_rl is the stage AutoRule shares, read from the cache when it ran first)."""
    validate(cfg)
    names = list(methods(cfg))
    res = run_stages(
        cfg,
        _job,
        {"k_rl": (), "prep": (), **{n: ("prep",) for n in names}},
        desc="PAR: K_rl, RM, then GRPO runs",
        progress=progress,
    )
    return {
        sd: {"runs": {n: res[(sd, n)] for n in names}, "rm": res[(sd, "prep")], "k_rl": res[(sd, "k_rl")]}
        for sd in seeds(cfg)
    }
