"""AutoRule (Wang & Xiong 2025; arXiv 2506.15651) in the toy instruction world.

    SFT policy (shared) → judge-labelled pairs of its samples → learned reward model r_RM (``training.toy_reward``,
    shared with every paper asking for the same RM settings)
    → rules: reasons for the first ``rules.examples`` pairs (Stage 1), per-chain rules (Stage 2), merged set MR
      (Stage 3), verifier → r_RA = fraction of rules met (``papers.autorule.rules``; which parts are toy stand-ins
      for LLM calls is said there)
    → GRPO through TRL's GRPOTrainer (``training.rl``) for two episodes over the RL prompts, with r_RM alone
      ("grpo") and with r_RM + w·r_RA ("autorule"), same seed, same settings
    → held-out curves (oracle quality, RM score, judge win rate vs the SFT policy) at the end of each episode and
      early on, and the final policies' (LC) win rates against the reference policy on the eval prompts.

Every stage is cached under ``stage_key``; ``run_all`` runs ``scale.n_seeds`` seeds on ``hardware.workers``
processes. Claims (``claims``) are judged on seed-paired per-prompt differences and gated on the positive control.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from omegaconf import OmegaConf

from ...core.config import ConfigError, at_scale, to_dict
from ...core.io import atomic_write_json, cached, read_json
from ...metrics.evaluation import evaluate_policy
from ...models.sampling import generate
from ...training import rl, rl_control, toy_reward
from ...training.runner import run_stages
from ...training.toy_stages import World, seeds, sft_model, stage_key
from ...training.world_cache import world_for
from . import rules as autorule_rules

_CODE = ("papers/autorule/experiment.py", "papers/autorule/rules.py", *rl.CODE)
ARMS = ("grpo", "autorule")


def rm_cfg(cfg):
    """The reward model's settings with per-scale values resolved (``toy_reward`` reads plain values)."""
    d = OmegaConf.to_container(cfg.paper.reward_model, resolve=True)
    return OmegaConf.create({k: at_scale(cfg, v) for k, v in d.items()})


def rl_settings(cfg) -> rl.GRPOSettings:
    """Two episodes over ``rl.prompts`` prompts: steps = episodes · prompts / prompts_per_step."""
    r = cfg.paper.rl
    n, per = int(at_scale(cfg, r.prompts)), int(r.prompts_per_step)
    return rl.settings_from(r, steps=int(r.episodes) * n // per)


def validate(cfg) -> None:
    """Bad input raises ConfigError before any compute."""
    p = cfg.paper
    if cfg.scale.name in ("small", "paper"):
        raise ConfigError(
            f"autorule runs at scale=ci or tiny; scale={cfg.scale.name} needs the paper's 8B policy, "
            "a reasoning LLM and an LLM verifier on GPUs (paper.paper_scale in conf/paper/autorule.yaml)"
        )
    r, w = p.rl, cfg.scale.world
    n_rl, per = int(at_scale(cfg, r.prompts)), int(r.prompts_per_step)
    if n_rl % per or int(r.episodes) < 2:
        raise ConfigError(
            f"paper.rl.prompts ({n_rl}) must be a multiple of prompts_per_step ({per}), and "
            f"episodes ≥ 2 (the claim is about the second episode), got {r.episodes}"
        )
    if int(at_scale(cfg, p.reward_model.n_prompts)) + n_rl > int(w.n_pref_prompts):
        raise ConfigError(
            "paper.reward_model.n_prompts + paper.rl.prompts exceed the world's pref split "
            f"({w.n_pref_prompts}); RL prompts are taken after the RM's"
        )
    if int(at_scale(cfg, p.reward_model.heldout_prompts)) > int(w.n_dev) or int(at_scale(cfg, p.eval.dev)) > int(
        w.n_dev
    ):
        raise ConfigError(f"held-out prompts exceed the world's dev split ({w.n_dev})")
    if int(at_scale(cfg, p.eval.prompts)) > int(w.n_eval):
        raise ConfigError(f"paper.eval.prompts exceeds the world's eval split ({w.n_eval})")
    if not 0.0 <= float(p.rules.flip) < 0.5 or not 0.0 < float(p.rules.threshold) <= 1.0:
        raise ConfigError("paper.rules.flip must be in [0, 0.5) and threshold in (0, 1]")
    if float(p.rules.weight) < 0:
        raise ConfigError("paper.rules.weight must be ≥ 0")
    per_episode = rl_settings(cfg).steps // int(r.episodes)
    early = int(at_scale(cfg, r.early_step))
    if early < 1 or per_episode % early:
        raise ConfigError(
            f"paper.rl.early_step ({early}) must divide an episode ({per_episode} steps): the held-out "
            "evaluation runs every early_step steps"
        )
    rl_settings(cfg)  # GRPOSettings validates its own values
    rl_control.validate(cfg)
    k, s = rl_control.node_of(cfg), rl_settings(cfg)
    budget = {"steps": s.steps, **{n: getattr(s, n) for n in BUDGET}}
    if diff := {n: (v, k[n]) for n, v in budget.items() if v != k[n]}:
        raise ConfigError(
            f"paper.rl must run the RL budget its capability control K_rl measured (conf/capability/k_rl.yaml): "
            f"(paper.rl, k_rl) differ on {diff}"
        )


# What K_rl's oracle-reward runs share with both arms' runs: with less, K_rl would not say whether *this* budget can
# raise quality (conf/paper/autorule.yaml takes the rest of K_rl's settings too).
BUDGET = ("prompts_per_step", "num_generations", "lr", "loss_type", "beta", "temperature", "top_p")


def _key(cfg, *parts) -> dict:
    return stage_key(cfg, *parts, to_dict(cfg.judge), to_dict(cfg.scale.sft), to_dict(cfg.toy_world), code=_CODE)


# ---------------------------------------------------------------------------------------------
# Stages


def rule_set(cfg, world: World) -> dict:
    """Stages 1–3 on the first ``rules.examples`` RM training pairs, and the merged rules' agreement with the
    labels of the RM's held-out pairs (card, Algorithm step 3). Cached (cheap, but the notebook prints it)."""
    ru, rmc = cfg.paper.rules, rm_cfg(cfg)
    key = _key(cfg, "autorule-rules", to_dict(ru), to_dict(rmc))

    def compute(tmp: Path):
        data = toy_reward.rm_data(cfg, world, rmc)
        n = int(at_scale(cfg, ru.examples))
        src = {k: v[:n] for k, v in data["train"].items()}
        out = autorule_rules.extract_rule_set(
            world.judge,
            src,
            seed=int(cfg.seed) + 31,
            min_term=float(ru.min_term),
            threshold=float(ru.threshold),
            min_support=float(ru.min_support),
            max_rules=ru.get("max_rules"),
        )
        if not out["rules"]:
            raise RuntimeError("rule extraction kept no verifiable rule; lower paper.rules.min_support")
        rules = autorule_rules.rules_from_dict(out["rules"])
        out["agreement"] = autorule_rules.rule_agreement(
            rules, data["heldout"], flip=float(ru.flip), seed=int(cfg.seed)
        )
        score = rl.rm_score(toy_reward.toy_reward_model(cfg, world, rmc), world.tokenizer)
        out["rm_report"] = toy_reward.rm_report(score, data)  # K_rm: agreement, pay for correctness and for filler
        out["rm_accuracy"] = out["rm_report"]["accuracy"]
        atomic_write_json(tmp / "rules.json", out)

    return read_json(cached("autorule-rules", key, compute) / "rules.json")


def rule_score(rules: list, flip: float, seed: int) -> rl.Score:
    def score(prompts, responses):
        return autorule_rules.rule_reward(rules, prompts, responses, flip=flip, seed=seed)

    return score


def rl_prompts(cfg, world: World) -> list[str]:
    n0 = int(at_scale(cfg, cfg.paper.reward_model.n_prompts))
    return world.prompts["pref"][n0 : n0 + int(at_scale(cfg, cfg.paper.rl.prompts))]


def rule_weight(cfg, world: World, rm_score, r_score) -> float:
    """w in r = r_RM + w·r_RA. ``rules.weight_mode``: ``fixed`` (w = ``rules.weight``) or ``match_std``
    (w = ``rules.weight`` · std(r_RM)/std(r_RA) over the SFT policy's samples on the RL prompts, so both rewards
    move the group-normalised advantage comparably; card, Pitfalls: "r_RM's scale can swamp r_RA")."""
    ru = cfg.paper.rules
    if ru.weight_mode == "fixed":
        return float(ru.weight)
    ps = rl_prompts(cfg, world)
    ys = generate(
        sft_model(cfg, world),
        world.tokenizer,
        ps,
        n=4,
        temperature=float(cfg.paper.rl.temperature),
        max_new_tokens=int(cfg.paper.rl.max_new_tokens),
        seed=int(cfg.seed) + 53,
    )
    fp = [p for p, y in zip(ps, ys) for _ in y]
    fy = [x for y in ys for x in y]
    a, b = np.std(rm_score(fp, fy)), np.std(r_score(fp, fy))
    return float(ru.weight) * float(a / b) if b > 0 else float(ru.weight)


def run_arm(cfg, world: World, arm: str) -> dict:
    """GRPO with r_RM ("grpo") or r_RM + w·r_RA ("autorule"): the held-out curves and the final policy's
    evaluation against the reference policy. Cached per arm and seed."""
    if arm not in ARMS:
        raise ConfigError(f"unknown arm {arm!r}; arms: {ARMS}")
    p, rmc = cfg.paper, rm_cfg(cfg)
    key = _key(
        cfg,
        "autorule-rl",
        arm,
        to_dict(p.rl),
        to_dict(p.rules),
        to_dict(rmc),
        to_dict(p.eval),
        to_dict(cfg.scale.world),
    )

    def compute(tmp: Path):
        tok, judge = world.tokenizer, world.judge
        policy = sft_model(cfg, world)
        rm = toy_reward.toy_reward_model(cfg, world, rmc)
        rm_s = rl.rm_score(rm, tok)
        funcs, weights, w = [rl.reward_function(rm_s, name="rm")], [1.0], 0.0
        if arm == "autorule":
            rules = autorule_rules.rules_from_dict(rule_set(cfg, world)["rules"])
            r_s = rule_score(rules, float(p.rules.flip), int(cfg.seed))
            w = rule_weight(cfg, world, rm_s, r_s)
            funcs.append(rl.reward_function(r_s, name="rules"))
            weights.append(w)
        s = rl_settings(cfg)
        dev = world.prompts["dev"][: int(at_scale(cfg, p.eval.dev))]
        base = [
            y[0]
            for y in generate(
                policy, tok, dev, temperature=s.temperature, max_new_tokens=s.max_new_tokens, seed=int(cfg.seed) + 61
            )
        ]
        ev = rl.HeldOutEval(
            tok, dev, rm_s, judge, base, policy, s.temperature, s.max_new_tokens, seed=int(cfg.seed) + 67
        )
        per_episode = s.steps // int(p.rl.episodes)
        model, curves = rl.train_grpo(
            policy,
            tok,
            rl.rl_dataset(rl_prompts(cfg, world)),
            funcs,
            cfg.hardware,
            s,
            seed=int(cfg.seed),
            out=tmp,
            weights=weights,
            evaluator=ev,
            eval_every=int(at_scale(cfg, p.rl.early_step)),
        )
        ne = int(at_scale(cfg, p.eval.prompts))
        final = evaluate_policy(
            model,
            tok,
            judge,
            world.prompts["eval"][:ne],
            world.reference["eval"][:ne],
            temperature=s.temperature,
            max_new_tokens=s.max_new_tokens,
            seed=int(cfg.seed) + 71,
        )
        rules_final = None
        if arm == "autorule":
            rules_final = autorule_rules.rule_reward(
                autorule_rules.rules_from_dict(rule_set(cfg, world)["rules"]),
                world.prompts["eval"][:ne],
                final["responses"],
            ).tolist()
        atomic_write_json(
            tmp / "run.json",
            {
                "curves": curves.as_dict(),
                "final": final,
                "rule_weight": w,
                "steps": s.steps,
                "per_episode": per_episode,
                "final_rule_reward": rules_final,
            },
        )

    return read_json(cached("autorule-rl", key, compute) / "run.json")


# ---------------------------------------------------------------------------------------------
# All seeds over the cores: rules (and with them the RM) first, then both arms


# A seed's stages: its RM and rule set, then both GRPO arms.
STAGES = {"k_rl": (), "rules": (), **{arm: ("rules",) for arm in ARMS}}


def _job(cfg, stage: str):
    world = world_for(cfg)
    if stage == "k_rl":  # shared with PAR: the same cache entry whichever paper asks first
        return rl_control.oracle_rl(cfg, world)
    if stage == "rules":
        return rule_set(cfg, world)
    return run_arm(cfg, world, stage)


def run_all(cfg, progress: bool = True) -> dict:
    """{seed: {"k_rl": the oracle-reward control's curves, "rules": rule_set, "grpo": run, "autorule": run}}
    (``training.runner``: a seed's arms start once its RM and rules are cached, so both cores stay busy across
    seeds)."""
    validate(cfg)
    res = run_stages(cfg, _job, STAGES, desc="AutoRule: RM + rules, then GRPO arms", progress=progress)
    return {sd: {s: res[(sd, s)] for s in STAGES} for sd in seeds(cfg)}
