"""Capability controls for the papers that train with online RL against a learned reward (PAR, AutoRule).

``K_rl``: can GRPO (TRL's ``GRPOTrainer``, ``training.rl``) raise the oracle's quality of the SFT policy *at all*
when the reward is the oracle itself? If a perfect reward cannot move the policy in the RL budget a paper runs, no
claim about what a learned reward does under that budget (improves, hacks, is mitigated) can be read. The control
is one cached stage shared by every paper whose config composes the same ``capability/k_rl`` block
(``conf/capability/k_rl.yaml``): the key holds that block, the world, the SFT settings and this module's code, and
nothing of the paper, so PAR and AutoRule read the very same runs (computed once per seed).

``K_rm``: is the learned reward model a usable proxy? Its held-out agreement with the oracle minus chance, what it
pays for a correct answer over a one-edit wrong one, and that against what it pays per filler unit (oracle value 0).

The control's value is paired per prompt: q(after GRPO) − q(SFT) on the same held-out prompts, one sample each at
the training temperature, per seed (``metrics.verdicts.comparative_claim``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..core.config import ConfigError, at_scale, to_dict
from ..core.io import atomic_write_json, cached, read_json
from ..metrics.verdicts import all_of, capability_control, comparative_claim, interval_claim, seed_interval
from . import rl

CODE = ("training/rl_control.py", *rl.CODE)
SPLITS = ("dev", "eval")


def node_of(cfg):
    """The shared ``k_rl`` block a paper composes (``paper.k_rl``) with per-scale values taken at the current scale;
    ConfigError if the paper has none."""
    from omegaconf import OmegaConf

    node = cfg.paper.get("k_rl")
    if node is None:
        raise ConfigError(f"paper {cfg.paper.name} composes no k_rl block (defaults: /capability@k_rl: k_rl)")
    return OmegaConf.create({k: at_scale(cfg, v) for k, v in OmegaConf.to_container(node, resolve=True).items()})


def grpo_settings(node) -> rl.GRPOSettings:
    """The control's GRPO settings: ``steps`` optimizer steps of ``prompts_per_step × num_generations``."""
    return rl.settings_from(node)


def validate(cfg, node=None) -> None:
    """Bad input raises ConfigError before any compute."""
    node = node_of(cfg) if node is None else node
    w = cfg.scale.world
    if node.split not in SPLITS:
        raise ConfigError(f"k_rl.split must be one of {SPLITS}, got {node.split!r}")
    n_split = int(w.n_dev if node.split == "dev" else w.n_eval)
    if not 1 <= int(node.eval_prompts) <= n_split:
        raise ConfigError(f"k_rl.eval_prompts ({node.eval_prompts}) must be in [1, {n_split}] ({node.split} split)")
    if int(node.prompts) > int(w.n_pref_prompts):
        raise ConfigError(f"k_rl.prompts ({node.prompts}) exceed the world's {w.n_pref_prompts} preference prompts")
    if int(node.get("eval_repeats", 1)) < 1:
        raise ConfigError("k_rl.eval_repeats must be ≥ 1")
    if int(node.eval_every) < 1 or int(node.steps) % int(node.eval_every):
        raise ConfigError(f"k_rl.eval_every ({node.eval_every}) must divide k_rl.steps ({node.steps})")
    try:
        grpo_settings(node)
    except (ValueError, TypeError) as e:
        raise ConfigError(f"k_rl: {e}") from e


def key(cfg, node) -> dict:
    """Everything the control's runs depend on, and nothing of the paper that asks for it."""
    from .toy_stages import stage_key

    return stage_key(
        cfg, "k-rl", to_dict(node), to_dict(cfg.judge), to_dict(cfg.toy_world), to_dict(cfg.scale.sft), code=CODE
    )


def oracle_rl(cfg, world, node=None) -> dict:
    """GRPO from π_SFT with the oracle q(x, y) as the reward, on ``node.prompts`` preference prompts (cycled), held-out
    evaluation on the first ``eval_prompts`` of ``node.split`` every ``eval_every`` steps and at step 0 (π_SFT).
    Returns ``RLCurves.as_dict()``; cached per seed under ``key``."""
    from ..models.sampling import generate
    from .toy_stages import sft_model

    node = node_of(cfg) if node is None else node
    validate(cfg, node)

    def compute(tmp: Path):
        s = grpo_settings(node)
        policy = sft_model(cfg, world)
        # eval_repeats > 1 (the dev sweep, bench/k_rl_sweep.py): each prompt k times, an independent sample each,
        # since the dev split has only 128 prompts
        ps = world.prompts[str(node.split)][: int(node.eval_prompts)] * int(node.get("eval_repeats", 1))
        base = [
            y[0]
            for y in generate(
                policy,
                world.tokenizer,
                ps,
                temperature=s.temperature,
                top_p=s.top_p,
                max_new_tokens=s.max_new_tokens,
                seed=int(cfg.seed) + 811,
            )
        ]
        ev = rl.HeldOutEval(
            world.tokenizer,
            ps,
            rl.oracle_score,
            world.judge,
            base,
            policy,
            temperature=s.temperature,
            max_new_tokens=s.max_new_tokens,
            seed=int(cfg.seed) + 813,
        )
        _, curves = rl.train_grpo(
            policy,
            world.tokenizer,
            rl.rl_dataset(world.prompts["pref"][: int(node.prompts)]),
            [rl.reward_function(rl.oracle_score, name="oracle")],
            cfg.hardware,
            s,
            seed=int(cfg.seed),
            out=tmp,
            evaluator=ev,
            eval_every=int(node.eval_every),
        )
        atomic_write_json(tmp / "curves.json", curves.as_dict())

    return read_json(cached("k-rl", key(cfg, node), compute) / "curves.json")


# ---------------------------------------------------------------------------------------------
# The controls as claims


def gain(curves: dict, key: str = "oracle") -> np.ndarray:
    """Per held-out prompt: ``key`` at the last evaluation minus at step 0 (π_SFT)."""
    ev = curves["eval"]
    if ev[0]["step"] != 0 or len(ev) < 2:
        raise ValueError("the control's curves need a step-0 evaluation and at least one after it")
    return np.asarray(ev[-1]["per_prompt"][key], dtype=float) - np.asarray(ev[0]["per_prompt"][key], dtype=float)


def k_rl(runs: list[dict], node, gates) -> dict:
    """``K_rl`` from each seed's ``oracle_rl`` curves: q(after) − q(SFT) > 0 per prompt, interval over seeds."""
    return capability_control(
        comparative_claim(
            "K_rl",
            f"Capability control: GRPO with the oracle itself as the reward raises the SFT policy's held-out oracle "
            f"quality in this RL budget ({int(node.steps)} steps of {int(node.prompts_per_step)} prompts × "
            f"{int(node.num_generations)}, loss {node.loss_type}, lr {float(node.lr):g})",
            [gain(r) for r in runs],
            rule=f"q(GRPO on the oracle, step {int(node.steps)}) − q(SFT) > 0 on {int(node.eval_prompts)} held-out "
            f"{node.split} prompts (paired per prompt)",
            metric="q",
            evidence={
                "q_sft": float(np.mean([r["eval"][0]["oracle"] for r in runs])),
                "q_after": float(np.mean([r["eval"][-1]["oracle"] for r in runs])),
                "length_sft": float(np.mean([r["eval"][0]["length"] for r in runs])),
                "length_after": float(np.mean([r["eval"][-1]["length"] for r in runs])),
            },
        ),
        capability="RL raises true quality given a perfect reward",
        gates=list(gates),
    )


def k_rm(reports: list[dict], gates=()) -> dict:
    """``K_rm`` from each seed's ``toy_reward.rm_report``: (a) agreement with the oracle on held-out pairs − ½,
    (b) a correct answer over a one-edit wrong one is paid (> 0), (c) it is paid more than one filler unit."""
    agree = comparative_claim(
        "agree",
        "",
        [np.asarray(r["accuracy"]["per_pair_vs_oracle"], dtype=float) - 0.5 for r in reports],
        rule="agreement with the oracle − 0.5 > 0 (held-out pairs where q differs)",
    )
    answer = interval_claim(
        "answer",
        "",
        seed_interval([r["answer_margin"] for r in reports]),
        rule="r(correct) − r(one-edit wrong) > 0",
    )
    over = interval_claim(
        "answer_over_filler",
        "",
        seed_interval([r["answer_margin"] - r["filler"]["slope_per_unit"] for r in reports]),
        rule="[r(correct) − r(one-edit wrong)] − [pay per filler unit] > 0",
        evidence={"filler_slope": float(np.mean([r["filler"]["slope_per_unit"] for r in reports]))},
    )
    return capability_control(
        all_of(
            "K_rm",
            "Capability control: the learned reward model ranks by true quality on held-out pairs (above chance), "
            "pays for correctness, and pays more for a correct answer than for a filler unit",
            [agree, answer, over],
            rule="every part's interval above zero",
        ),
        capability="the learned RM tracks true quality",
        gates=list(gates),
    )
