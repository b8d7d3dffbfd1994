"""EVOLVE / ARIES (Zeng et al. 2025, arXiv 2502.05605): preference training interleaved with self-refinement
data collection, in the toy world.

    shared SFT policy (direct answers only)
      → C1's chat model: SFT on (x → y_w), (c_ref(x, y_l) → y_w) with y_w, y_l two personas' independent answers
        (it knows the refinement turn, but its second answers re-answer: the "off-the-shelf" model of claim 1)
      → π_0: SFT stage on (x → y_w) and (c_ref(x, y_l) → y_w), y_l = the shared SFT policy's own draft, y_w = that
        draft refined by one edit toward the truth (``refine_target``); the capability control K_refine reads π_0's
        refinement gain on the dev split
      → rounds t = 1..T (``training.iterative.run_loop``), each from π_{t−1}, reference = π_{t−1}:
           EVOLVE:         a self-refinement chain y⁰ ~ π(·|x), y^{j+1} ~ π(·|c_ref(x, y^j)) per prompt, the judge's
                           best and worst of the chain → two DPO rows (x; y_w, y_l) and (c_ref(x, y_l); y_w, y_l)
           iterative DPO:  J + 1 direct samples per prompt (the same number of generations), best vs worst → (x; y_w, y_l)
      → every π_t answered directly (y⁰) and after J refinements (y^J) on the evaluation prompts

c_ref(x, y) is a chat turn: the prompt, the previous answer, then a user turn "improve" (the paper's template was not
found). Every stage is cached (``core.io.cached``); ``run_all`` spreads seeds × {start, EVOLVE, iterative DPO} over
``hardware.workers`` processes. The claims and tables are in ``papers.evolve.claims``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ...core.config import ConfigError, at_scale, to_dict
from ...core.io import atomic_write_json, cached, content_hash, read_json
from ...metrics.evaluation import judge_against_reference
from ...metrics.winrate import lc_win_rate
from ...training import iterative
from ...training.data import sft_dataset
from ...training.pair_rules import refine_pairs
from ...training.runner import run_stages
from ...training.toy_stages import (
    World,
    load_policy,
    seeds,
    sft_key,
    sft_model,
    stage_key,
)  # noqa: F401

# used by the notebook through this module
from ...training.toy_stages import build_world as build_world
from ...training.toy_stages import setup_torch as setup_torch
from ...training.world_cache import world_for
from ...worlds.tokenizer import ASSISTANT, EOS, USER
from ...worlds.toy_lm import oracle_quality, persona_from_cfg, persona_responses, solve, split_response, valid_tail

_CODE = ("papers/evolve/experiment.py", "training/pair_rules.py")
ARMS = ("evolve", "iterdpo")


def validate(cfg) -> None:
    """Bad input raises ConfigError before any compute."""
    p = cfg.paper
    if cfg.scale.name in ("small", "paper"):
        raise ConfigError(
            "evolve's toy world runs at scale=ci or tiny; at scale=small the notebook runs its real-model "
            "cells (paper.real); the paper's settings are paper.paper_scale in conf/paper/evolve.yaml"
        )
    if int(p.refine.depth) < 1:
        raise ConfigError(f"paper.refine.depth (J) must be ≥ 1, got {p.refine.depth}")
    if not str(p.refine.instruction) or any(t in str(p.refine.instruction) for t in (USER, ASSISTANT, EOS)):
        raise ConfigError("paper.refine.instruction must be a non-empty plain user turn")
    rounds, n = int(at_scale(cfg, p.rounds)), int(at_scale(cfg, p.prompts_per_round))
    if rounds < 1 or n < 1 or rounds * n > int(cfg.scale.world.n_pref_prompts):
        raise ConfigError(
            f"paper.rounds × paper.prompts_per_round = {rounds} × {n} must be ≥ 1 and fit the world's "
            f"{cfg.scale.world.n_pref_prompts} preference prompts (each round takes fresh prompts)"
        )
    for stage in ("sft_stage", "chat"):
        if int(at_scale(cfg, p[stage].prompts)) > int(cfg.scale.world.n_sft):
            raise ConfigError(f"paper.{stage}.prompts exceeds the world's {cfg.scale.world.n_sft} SFT prompts")
    for k in ("n_eval", "loop_n_eval"):
        if int(at_scale(cfg, p.eval[k])) > int(cfg.scale.world.n_eval):
            raise ConfigError(f"paper.eval.{k} exceeds the world's {cfg.scale.world.n_eval} evaluation prompts")
    if p.train.loss not in ("dpo",):
        raise ConfigError("paper.train.loss must be dpo (the card's L_pref is a sum of two DPO terms)")


# ---------------------------------------------------------------------------------------------
# The refinement context and the pair rules (pure)


def c_ref(x: str, y: str, instruction: str = "improve") -> str:
    """c_ref(x, y) as one user-turn string whose chat rendering is the three-turn conversation
    [user x, assistant y, user instruction] (the template's special tokens inside it are tokenized as such), so the
    one TRL hook, which takes string prompts, trains on it unchanged (card, Notation; template not found)."""
    return f"{x}{ASSISTANT}{y}{EOS}{USER}{instruction}"


def refine_conversation(x: str, y: str, instruction: str = "improve") -> list[dict]:
    """The same context as a chat message list (what ``c_ref`` renders as)."""
    return [
        {"role": "user", "content": x},
        {"role": "assistant", "content": y},
        {"role": "user", "content": instruction},
    ]


def sft_pairs(prompts: Sequence[str], a: Sequence[str], b: Sequence[str]) -> dict:
    """Two independent answers with known truth as (y_w, y_l): y_w = the one with the higher oracle quality, y_l = the
    other; prompts where the two tie are dropped. The data of C1's chat model (``chat_examples``): second turns that
    re-answer, not refine."""
    out = {"prompt": [], "y_w": [], "y_l": []}
    for x, ya, yb in zip(prompts, a, b):
        qa, qb = oracle_quality(x, ya), oracle_quality(x, yb)
        if qa == qb:
            continue
        w, l_ = (ya, yb) if qa > qb else (yb, ya)
        out["prompt"].append(x), out["y_w"].append(w), out["y_l"].append(l_)
    return out


def refine_target(x: str, y: str) -> str:
    """A refinement of the draft y that depends on it (the world's reviser, who knows the truth): one edit toward the
    right answer — a malformed tail is dropped, else the first wrong character is set right, a missing last character
    appended, or a surplus character dropped; filler is kept. A right draft is returned unchanged (a refinement must
    not break it). q(refine_target(x, y)) > q(y) whenever q(y) < 1."""
    ans, tail = split_response(y)
    if tail and not valid_tail(tail):
        return ans
    truth = solve(x)
    if ans == truth:
        return y
    for i, (a, b) in enumerate(zip(ans, truth)):
        if a != b:
            return ans[:i] + b + ans[i + 1 :] + tail
    if len(ans) < len(truth):
        return ans + truth[len(ans)] + tail
    return ans[:-1] + tail


def refine_examples(prompts: Sequence[str], drafts: Sequence[str]) -> dict:
    """The SFT stage's examples from the policy's own drafts: y_l = the draft, y_w = ``refine_target(x, y_l)`` (equal
    to it when the draft is already right)."""
    return {
        "prompt": list(prompts),
        "y_w": [refine_target(x, y) for x, y in zip(prompts, drafts)],
        "y_l": list(drafts),
    }


def sft_rows(ex: dict, instruction: str) -> dict:
    """L_SFT = −log π(y_w|x) − log π(y_w|c_ref(x, y_l)) (card, "Training: SFT stage", reconstruction) as data: two
    prompt–completion rows per example, the direct answer and the refinement of y_l into y_w."""
    rows = {"prompt": [], "completion": []}
    for x, w, l_ in zip(ex["prompt"], ex["y_w"], ex["y_l"]):
        rows["prompt"] += [x, c_ref(x, l_, instruction)]
        rows["completion"] += [w, w]
    return rows


def evolve_pairs(prompts: Sequence[str], chains: Sequence[Sequence[str]], scores, instruction: str) -> dict:
    """EVOLVE's pairs (``training.pair_rules.refine_pairs``: best vs worst of each chain, a direct and a refinement
    DPO row per pair) with the toy world's c_ref."""
    return refine_pairs(prompts, chains, scores, lambda x, y: c_ref(x, y, instruction))


def rule_pairs(prompts: Sequence[str], chains: Sequence[Sequence[str]]) -> dict:
    """The card's rule-based selector (b), *unverified exact rule*: the last refinement y^J is preferred to the first
    answer y⁰; chains where the two coincide are dropped. Not trained on here: its assumption (later is better) is
    measured each round (``rule_agreement``) instead."""
    return iterative.spin_pairs(prompts, [c[-1] for c in chains], [c[0] for c in chains])


# ---------------------------------------------------------------------------------------------
# Sampling a self-refinement chain


def refinement_chain(sample, prompts: Sequence[str], depth: int, instruction: str, **kw) -> list[list[str]]:
    """[[y⁰, y¹, .., y^J] per prompt]: y⁰ ~ π(·|x), y^{j+1} ~ π(·|c_ref(x, y^j)) (card, "Inference"). ``sample`` is
    ``RoundContext.sample`` or ``iterative.sample`` bound to a model; step j draws with seed offset j."""
    ys = [c[0] for c in sample(list(prompts), seed_offset=0, **kw)]
    chains = [[y] for y in ys]
    for j in range(1, depth + 1):
        ys = [c[0] for c in sample([c_ref(x, y, instruction) for x, y in zip(prompts, ys)], seed_offset=j, **kw)]
        for ch, y in zip(chains, ys):
            ch.append(y)
    return chains


def _gen_kwargs(cfg) -> dict:
    s = cfg.paper.sample
    return dict(temperature=float(s.temperature), top_p=float(s.top_p), max_new_tokens=int(s.max_new_tokens))


def round_prompts(cfg, world: World, t: int) -> list[str]:
    """Round t's prompts: a fresh slice of the world's preference prompts (no prompt is seen twice)."""
    n = int(at_scale(cfg, cfg.paper.prompts_per_round))
    return world.prompts["pref"][(t - 1) * n : t * n]


def builder(cfg, arm: str):
    """The pair builder of one arm for ``iterative.run_loop``."""
    J, instr = int(cfg.paper.refine.depth), str(cfg.paper.refine.instruction)

    def build(ctx: iterative.RoundContext) -> dict:
        ps = round_prompts(cfg, ctx.world, ctx.t)
        if arm == "evolve":
            chains = refinement_chain(ctx.sample, ps, J, instr, **_gen_kwargs(cfg))
        else:  # iterative DPO: the same number of generations, all direct
            chains = ctx.sample(ps, n=J + 1, **_gen_kwargs(cfg))
        ctx.progress("judge")
        scores = iterative.judge_scores(ctx.world.judge, ps, chains)
        q = iterative.oracle_scores(ps, chains)
        pairs = (
            evolve_pairs(ps, chains, scores, instr) if arm == "evolve" else iterative.best_vs_worst(ps, chains, scores)
        )
        rule = rule_pairs(ps, chains)
        rq = [
            oracle_quality(x, w) - oracle_quality(x, l_)
            for x, w, l_ in zip(rule["prompt"], rule["chosen"], rule["rejected"])
        ]
        pairs["_extras"] = {
            "chain_q": q.mean(0).tolist(),  # mean oracle quality at each chain position
            "rule_agreement": float(np.mean(np.asarray(rq) > 0)) if rq else float("nan"),
            "n_prompts": len(ps),
        }
        return pairs

    return build


# ---------------------------------------------------------------------------------------------
# Cached stages


def _key(cfg, *parts, **kw) -> dict:
    return stage_key(cfg, *parts, code=_CODE, **kw)


def pi0_key(cfg) -> dict:
    return _key(
        cfg,
        "evolve-sft",
        content_hash(sft_key(cfg)),
        to_dict(cfg.paper.sft_stage),
        at_scale(cfg, cfg.paper.sft_stage.steps),
        at_scale(cfg, cfg.paper.sft_stage.prompts),
        str(cfg.paper.refine.instruction),
        to_dict(cfg.paper.sample),
        to_dict(cfg.toy_world.demonstrator),
        world={"n_sft": int(cfg.scale.world.n_sft)},
    )


def chat_key(cfg) -> dict:
    return _key(
        cfg,
        "evolve-chat",
        content_hash(sft_key(cfg)),
        to_dict(cfg.paper.chat),
        at_scale(cfg, cfg.paper.chat.steps),
        at_scale(cfg, cfg.paper.chat.prompts),
        str(cfg.paper.refine.instruction),
        to_dict(cfg.toy_world.demonstrator),
        world={"n_sft": int(cfg.scale.world.n_sft)},
    )


def sft_examples(cfg, world: World, policy=None) -> dict:
    """The SFT stage's examples: on the SFT prompts, the shared SFT policy's own drafts (sampled as the rounds sample,
    so π_0 learns to refine the drafts it will meet) and their refinements (``refine_examples``). ``policy``: the
    shared SFT model, if already loaded."""
    st = cfg.paper.sft_stage
    ps = world.prompts["sft"][: int(at_scale(cfg, st.prompts))]
    pol = sft_model(cfg, world) if policy is None else policy
    drafts = [
        c[0] for c in iterative.sample(pol, world.tokenizer, ps, seed=int(cfg.seed) * 1000 + 73, **_gen_kwargs(cfg))
    ]
    return refine_examples(ps, drafts)


def chat_examples(cfg, world: World) -> dict:
    """C1's chat model's examples: the demonstrator's and a weak persona's answers to the SFT prompts, ordered by q
    (``sft_pairs``): a second turn whose answer is an independent (better) answer, never a revision of the first."""
    st = cfg.paper.chat
    ps = world.prompts["sft"][: int(at_scale(cfg, st.prompts))]
    a = persona_responses(persona_from_cfg("demonstrator", cfg.toy_world.demonstrator), ps, int(cfg.seed) * 1000 + 71)
    b = persona_responses(persona_from_cfg("weak", st.weak), ps, int(cfg.seed) * 1000 + 72)
    return sft_pairs(ps, a, b)


def _sft_stage(cfg, world: World, name: str, key: dict, examples, st):
    """The shared SFT policy after TRL SFTTrainer (completion loss) on ``sft_rows(examples(...))`` (cached)."""

    def compute(tmp: Path):
        from ...training.trl_hook import sft

        base = sft_model(cfg, world)
        rows = sft_rows(examples(base), str(cfg.paper.refine.instruction))
        model, hist = sft(
            base,
            world.tokenizer,
            sft_dataset(rows["prompt"], rows["completion"]),
            cfg.hardware,
            seed=int(cfg.seed),
            lr=float(st.lr),
            batch_size=int(st.batch_size),
            steps=int(at_scale(cfg, st.steps)),
            out=tmp,
        )
        model.save_pretrained(tmp / "model")
        world.tokenizer.save_pretrained(tmp / "model")
        atomic_write_json(tmp / "history.json", hist)

    return load_policy(cached(name, key, compute) / "model")


def pi0(cfg, world: World):
    """π_0: the shared SFT policy after EVOLVE's SFT stage on its own drafts and their refinements (cached)."""
    return _sft_stage(
        cfg, world, "evolve-sft", pi0_key(cfg), lambda base: sft_examples(cfg, world, base), cfg.paper.sft_stage
    )


def chat_model(cfg, world: World):
    """C1's off-the-shelf model: the shared SFT policy after SFT on two-turn dialogues whose second answer re-answers
    (``chat_examples``): it knows the refinement turn's format but was never taught to improve a draft (cached)."""
    return _sft_stage(cfg, world, "evolve-chat", chat_key(cfg), lambda base: chat_examples(cfg, world), cfg.paper.chat)


def train_spec(cfg) -> iterative.TrainSpec:
    t = cfg.paper.train
    ms = at_scale(cfg, t.max_steps)
    return iterative.TrainSpec(
        loss=str(t.loss),
        loss_kwargs={"beta": float(t.beta)},
        lr=float(t.lr),
        batch_size=int(t.batch_size),
        epochs=float(t.epochs),
        max_steps=int(ms) if ms else None,
    )


def eval_spec(cfg) -> iterative.EvalSpec:
    e = cfg.paper.eval
    return iterative.EvalSpec(
        n_eval=int(at_scale(cfg, e.loop_n_eval)),
        temperature=float(e.temperature),
        max_new_tokens=int(cfg.paper.sample.max_new_tokens),
        n_diverse=int(e.n_diverse),
        diverse_prompts=int(at_scale(cfg, e.diverse_prompts)),
        diverse_temperature=float(e.diverse_temperature),
        q_high=float(e.q_high),
        pair_probe=int(at_scale(cfg, e.pair_probe)),
    )


def run_arm(cfg, world: World, arm: str, progress: bool = False) -> list[dict]:
    """Rounds 0..T of one arm (``iterative.run_loop``; each round cached, a killed run resumes)."""
    p = cfg.paper
    return iterative.run_loop(
        cfg,
        world,
        name=f"evolve-{arm}",
        start=iterative.Start(pi0_key(cfg), lambda: pi0(cfg, world)),
        build=builder(cfg, arm),
        train=train_spec(cfg),
        evals=eval_spec(cfg),
        rounds=int(at_scale(cfg, p.rounds)),
        key_parts=(arm, to_dict(p.refine), to_dict(p.sample), int(at_scale(cfg, p.prompts_per_round))),
        code=_CODE,
        progress=progress,
    )


def _eval_block(world: World, ps, responses, split: str = "eval") -> dict:
    """Judge (vs the reference policy), LC win rate and oracle quality of one set of answers (``evaluate_policy``'s fields)."""
    ref = world.reference[split][: len(ps)]
    prefs = judge_against_reference(world.judge, ps, responses, ref)
    lm, lb = np.array([len(r) for r in responses], float), np.array([len(r) for r in ref], float)
    q = [oracle_quality(x, y) for x, y in zip(ps, responses)]
    return {
        "win_rate": float(100 * prefs.mean()),
        "lc_win_rate": float(lc_win_rate(prefs, lm, lb)["lc_win_rate"]),
        "oracle_quality": float(np.mean(q)),
        "avg_length": float(lm.mean()),
        "responses": list(responses),
        "preferences": prefs.tolist(),
        "oracle_qualities": q,
        "reference_lengths": lb.tolist(),
    }


def refine_eval(cfg, world: World, name: str, key: dict, load, split: str = "eval") -> dict:
    """A model (``load()``, named by the content ``key``) on the evaluation prompts (``split="dev"``: all the dev
    prompts, where the capability control K_refine is read): one chain y⁰..y^J per prompt at the evaluation
    temperature, the same seeds for every model (paired): ``direct`` (y⁰) and ``refined`` (y^J) blocks and the mean
    oracle quality at every step (cached)."""
    e, J = cfg.paper.eval, int(cfg.paper.refine.depth)
    k = _key(
        cfg,
        "evolve-refine-eval",
        name,
        split,
        content_hash(key),
        to_dict(e),
        to_dict(cfg.paper.refine),
        to_dict(cfg.paper.sample),
        to_dict(cfg.judge),
        to_dict(cfg.toy_world.reference),
    )

    def compute(tmp: Path):
        ps = world.prompts[split] if split == "dev" else world.prompts["eval"][: int(at_scale(cfg, e.n_eval))]
        model = load()
        gen = dict(temperature=float(e.temperature), max_new_tokens=int(cfg.paper.sample.max_new_tokens))

        def sample(convs, seed_offset=0, **kw):
            return iterative.sample(model, world.tokenizer, convs, seed=int(cfg.seed) + 29 + seed_offset, **kw)

        chains = refinement_chain(sample, ps, J, str(cfg.paper.refine.instruction), **gen)
        q = iterative.oracle_scores(ps, chains)
        atomic_write_json(
            tmp / "eval.json",
            {
                "direct": _eval_block(world, ps, [c[0] for c in chains], split),
                "refined": _eval_block(world, ps, [c[-1] for c in chains], split),
                "q_by_step": q.mean(0).tolist(),
            },
        )

    return read_json(cached("evolve-refine-eval", k, compute) / "eval.json")


# ---------------------------------------------------------------------------------------------
# All seeds over the cores


# A seed's stages: the SFT model's, C1's chat model's and π_0's refinement evaluations (π_0's also on the dev split,
# for K_refine), then each arm's rounds.
STAGES = {"start": (), **{arm: ("start",) for arm in ARMS}}


def _job(cfg, stage: str):
    world = world_for(cfg)
    if stage == "start":
        return {
            "sft": refine_eval(cfg, world, "sft", sft_key(cfg), lambda: sft_model(cfg, world)),
            "chat": refine_eval(cfg, world, "chat", chat_key(cfg), lambda: chat_model(cfg, world)),
            "pi0": refine_eval(cfg, world, "pi0", pi0_key(cfg), lambda: pi0(cfg, world)),
            "pi0_dev": refine_eval(cfg, world, "pi0", pi0_key(cfg), lambda: pi0(cfg, world), split="dev"),
        }
    recs = run_arm(cfg, world, stage)
    keys = [pi0_key(cfg)] + [{"round_dir": Path(r["dir"]).name} for r in recs[1:]]
    refined = [refine_eval(cfg, world, "pi0", keys[0], lambda: pi0(cfg, world))]
    refined += [
        refine_eval(cfg, world, f"{stage}-{t}", keys[t], lambda t=t: iterative.round_model(recs, t))
        for t in range(1, len(recs))
    ]
    for r in recs:
        r.pop("history", None)  # TRL's log history stays in the round's cache directory
    return {"records": recs, "refine": refined}


def run_all(cfg, progress: bool = True) -> dict:
    """{seed: {"sft", "pi0": refine evals, "evolve", "iterdpo": {"records": rounds 0..T, "refine": refine evals 0..T}}}
    (``training.runner``: a seed's arms start once its π_0 exists, so both cores stay busy across seeds)."""
    validate(cfg)
    res = run_stages(cfg, _job, STAGES, desc="EVOLVE: π_0, then EVOLVE and iterative DPO", progress=progress)
    return {sd: {**res[(sd, "start")], **{arm: res[(sd, arm)] for arm in ARMS}} for sd in seeds(cfg)}
