"""DRIFT (Wang et al. 2025, arXiv 2510.02341): iterative DPO that keeps real *dissatisfied* responses as fixed negatives
and samples the positives from the current policy conditioned on the user's feedback — in the toy instruction world.

    shared SFT π_sft ──(revision dialogues: the deployed Instruct model's ability to act on feedback)──► π_0
    deployment logs: a weak deployed assistant answers the log prompts; users are dissatisfied (DSAT) unless the answer
      is exactly right, and say what was wrong in a feedback message f (known truth); explicit satisfaction is scarce
    arms, each T rounds of ``training.iterative.run_loop`` from π_0, same prompts, DPO β, lr and epochs:
      DRIFT    chosen y⁺ ~ π_{t−1}(·| x ⊕ y⁻ ⊕ f), rejected = the logged DSAT answer y⁻, trained on x alone
      IterDPO  chosen/rejected = the judge's best/worst of N samples from π_{t−1}(·|x)
      SPIN     chosen = the demonstrator's (SFT-data) answer, rejected = a sample from π_{t−1}(·|x)

Claims (card numbering) are judged by ``claims`` on seed-paired differences (``metrics.verdicts``), gated on the
positive control PC; C2 and C3 need the real models and are not judged.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...core.config import ConfigError, at_scale, to_dict
from ...core.io import atomic_write_json, cached, read_json
from ...training import iterative
from ...training.pair_rules import drift_pairs  # noqa: F401  (the rule, shared with the real-model path)
from ...training.runner import run_stages
from ...training.toy_stages import World, load_policy, seeds, sft_key, sft_model, stage_key
from ...training.world_cache import world_for
from ...worlds.toy_lm import oracle_quality, persona_from_cfg, persona_responses
from .world import feedback, hindsight_conversation, revise

_CODE = ("papers/drift/experiment.py", "papers/drift/world.py", "training/pair_rules.py")
ARMS = ("drift", "iterdpo", "spin")
# the positive control's arm (PC b): IterDPO's rule with the oracle as labeller, run for ``pc_rounds`` round(s) only
CONTROL_ARMS = ("oracle",)


def validate(cfg) -> None:
    """Bad input raises ConfigError before any compute."""
    p = cfg.paper
    if cfg.scale.name in ("small", "paper"):
        raise ConfigError(
            "drift's toy world runs at scale=ci or tiny; at scale=small the notebook runs its real-model "
            "cells (paper.real); the paper's own settings are paper.paper_scale in conf/paper/drift.yaml"
        )
    n_logs, n_pref = int(at_scale(cfg, p.logs.n_prompts)), int(cfg.scale.world.n_pref_prompts)
    if not 1 <= n_logs <= n_pref:
        raise ConfigError(f"paper.logs.n_prompts={n_logs} must be in [1, scale.world.n_pref_prompts={n_pref}]")
    if int(at_scale(cfg, p.rounds)) < 1 or int(at_scale(cfg, p.pc_rounds)) < 1:
        raise ConfigError("paper.rounds and paper.pc_rounds must be ≥ 1")
    if int(p.iterdpo.n_samples) < 2:
        raise ConfigError("paper.iterdpo.n_samples must be ≥ 2 (best vs worst of N)")
    if not 0.0 <= float(p.logs.sat_report_rate) <= 1.0:
        raise ConfigError("paper.logs.sat_report_rate must lie in [0, 1]")
    n_cap = int(at_scale(cfg, p.capability.n_dialogues))
    if n_cap > int(cfg.scale.world.n_sft):
        raise ConfigError(
            f"paper.capability.n_dialogues={n_cap} exceeds the world's {cfg.scale.world.n_sft} SFT prompts"
        )
    if p.capability.target not in ("draft", "independent"):
        raise ConfigError(f"paper.capability.target must be draft or independent, got {p.capability.target!r}")
    if int(at_scale(cfg, p.eval.n_eval)) > int(cfg.scale.world.n_eval):
        raise ConfigError(f"paper.eval.n_eval exceeds scale.world.n_eval={cfg.scale.world.n_eval}")
    for a in p.arms:
        if a not in ARMS:
            raise ConfigError(f"unknown arm {a!r}; arms: {ARMS}")


# ---------------------------------------------------------------------------------------------
# The world's deployment logs: dissatisfaction with a feedback message naming what was wrong (``world``)


def deployment_logs(cfg, world: World) -> dict:
    """The toy WildFeedback (cached): the deployed assistant's answers to the log prompts; ``dsat`` items (prompt,
    rejected answer, feedback) and the scarce explicit ``sat`` reports (correct answers a user bothered to approve)."""
    lg = cfg.paper.logs
    key = stage_key(cfg, "drift-logs", to_dict(lg), at_scale(cfg, lg.n_prompts), code=_CODE)

    def compute(tmp: Path):
        ps = world.prompts["pref"][: int(at_scale(cfg, lg.n_prompts))]
        deployed = persona_from_cfg("deployed", lg.deployed)
        ys = persona_responses(deployed, ps, int(cfg.seed) * 1000 + 601)
        rng = np.random.default_rng(int(cfg.seed) * 1000 + 602)
        out = {
            "dsat": {"prompt": [], "rejected": [], "feedback": []},
            "sat": {"prompt": [], "response": []},
            "n_logged": len(ps),
        }
        for p, y in zip(ps, ys):
            f = feedback(p, y)
            if f is not None:
                out["dsat"]["prompt"].append(p), out["dsat"]["rejected"].append(y), out["dsat"]["feedback"].append(f)
            elif rng.random() < float(lg.sat_report_rate):
                out["sat"]["prompt"].append(p), out["sat"]["response"].append(y)
        demo = persona_from_cfg("demonstrator", cfg.toy_world.demonstrator)
        # SPIN's "real" responses: the SFT data distribution (the demonstrator) on the same DSAT prompts
        # DEVIATION (conf/paper/drift.yaml, arms): π_0 was fit to this distribution: SPIN has little to gain from it
        out["dsat"]["demonstration"] = persona_responses(demo, out["dsat"]["prompt"], int(cfg.seed) * 1000 + 603)
        atomic_write_json(tmp / "logs.json", out)

    return read_json(cached("drift-logs", key, compute) / "logs.json")


# ---------------------------------------------------------------------------------------------
# π_0: the shared SFT policy taught to act on feedback (the Instruct model DRIFT starts from)


def revision_data(cfg, world: World) -> dict:
    """Revision dialogues on the world's SFT prompts (disjoint from the log and evaluation prompts): the deployed
    assistant's wrong answer y⁻ (the drafts π_0 revises at deployment are the deployed assistant's, so these are the
    drafts it will meet), the user's feedback f, and the reviser's revision of that draft (``revise(y⁻, f)``: the
    draft with the hint applied, so the target depends on the draft and is better than it); plus single-turn
    demonstrator answers (``single_turn_share`` as many) so single-turn skill is kept."""
    c, seed = cfg.paper.capability, int(cfg.seed)
    n = int(at_scale(cfg, c.n_dialogues))
    ps = world.prompts["sft"]
    deployed = persona_from_cfg("deployed", cfg.paper.logs.deployed)
    demo = persona_from_cfg("demonstrator", cfg.toy_world.demonstrator)
    bad = persona_responses(deployed, ps, seed * 1000 + 611)
    good = persona_responses(demo, ps, seed * 1000 + 612)
    rows = {"prompt": [], "completion": []}
    for p, y, d in zip(ps, bad, good):
        f = feedback(p, y)
        if f is None:
            continue
        rows["prompt"].append(hindsight_conversation(p, y, f))
        rows["completion"].append([{"role": "assistant", "content": revision_target(c, y, d, f)}])
        if len(rows["prompt"]) == n:
            break
    m = int(round(float(c.single_turn_share) * len(rows["prompt"])))
    rng = np.random.default_rng(seed * 1000 + 613)
    for j in rng.choice(len(ps), size=m, replace=False):
        rows["prompt"].append([{"role": "user", "content": ps[int(j)]}])
        rows["completion"].append([{"role": "assistant", "content": good[int(j)]}])
    return rows


def revision_target(c, draft: str, independent: str, fb: str) -> str:
    """The second-turn target of a revision dialogue: ``revise(draft, f)`` (``capability.target: draft``, a revision
    of the answer the user complained about), or the earlier design ``revise(independent, f)`` (``target:
    independent``: the demonstrator's own answer with the hint applied, which ignores the draft; kept for the
    sensitivity runs in docs/power.md)."""
    if c.target == "draft":
        return revise(draft, fb)
    if c.target == "independent":
        return revise(independent, fb)
    raise ConfigError(f"paper.capability.target must be draft or independent, got {c.target!r}")


def start_key(cfg) -> dict:
    c = cfg.paper.capability
    return stage_key(
        cfg,
        "drift-pi0",
        sft_key(cfg),
        to_dict(c),
        at_scale(cfg, c.n_dialogues),
        at_scale(cfg, c.steps),
        to_dict(cfg.paper.logs.deployed),
        code=_CODE,
    )


def start_policy(cfg, world: World):
    """π_0 (cached): TRL SFTTrainer from the shared SFT model on ``revision_data``."""
    c = cfg.paper.capability

    def compute(tmp: Path):
        from datasets import Dataset

        from ...training.trl_hook import sft

        ds = Dataset.from_dict(revision_data(cfg, world)).shuffle(seed=int(cfg.seed))
        model, hist = sft(
            sft_model(cfg, world),
            world.tokenizer,
            ds,
            cfg.hardware,
            seed=int(cfg.seed),
            lr=float(c.lr),
            batch_size=int(c.batch_size),
            steps=int(at_scale(cfg, c.steps)),
            out=tmp,
        )
        model.save_pretrained(tmp / "model")
        world.tokenizer.save_pretrained(tmp / "model")
        atomic_write_json(tmp / "history.json", hist)

    return load_policy(cached("drift-pi0", start_key(cfg), compute) / "model")


# ---------------------------------------------------------------------------------------------
# Pair rules (pure) and the arms' round builders


def _with_items(pairs: dict, prompts: list[str]) -> dict:
    """Add the log index of each pair (prompts are distinct within a split)."""
    idx = {p: i for i, p in enumerate(prompts)}
    return {**pairs, "item": [idx[p] for p in pairs["prompt"]]}


def _sample_kw(cfg) -> dict:
    s = cfg.paper.sample
    return dict(temperature=float(s.temperature), top_p=float(s.top_p), max_new_tokens=int(s.max_new_tokens))


def builder(cfg, logs: dict, arm: str):
    """The round builder of one arm (``training.iterative.Builder``)."""
    items = logs["dsat"]
    kw = _sample_kw(cfg)

    def drift(ctx: iterative.RoundContext) -> dict:
        convs = [
            hindsight_conversation(p, y, f) for p, y, f in zip(items["prompt"], items["rejected"], items["feedback"])
        ]
        pos = [c[0] for c in ctx.sample(convs, **kw)]
        # diagnostic on the first pair_probe items: the same policy without the feedback (the value of conditioning on it)
        plain = [
            c[0]
            for c in ctx.sample(items["prompt"][: int(at_scale(cfg, cfg.paper.eval.pair_probe))], seed_offset=7, **kw)
        ]
        pairs = drift_pairs(items, pos)
        qp = [oracle_quality(x, y) for x, y in zip(items["prompt"], pos)]
        pairs["_extras"] = {
            "q_positive": qp,
            "q_negative": [oracle_quality(x, y) for x, y in zip(items["prompt"], items["rejected"])],
            "q_unconditioned": [oracle_quality(x, y) for x, y in zip(items["prompt"], plain)],
            "item": pairs["item"],
        }
        return pairs

    def iterdpo(ctx: iterative.RoundContext, oracle: bool = False) -> dict:
        ps = items["prompt"]
        cands = ctx.sample(ps, n=int(cfg.paper.iterdpo.n_samples), **kw)
        ctx.progress("label")
        scores = iterative.oracle_scores(ps, cands) if oracle else iterative.judge_scores(ctx.world.judge, ps, cands)
        pairs = _with_items(iterative.best_vs_worst(ps, cands, scores), ps)
        pairs["_extras"] = {"item": pairs["item"]}
        return pairs

    def spin(ctx: iterative.RoundContext) -> dict:
        ps = items["prompt"]
        own = [c[0] for c in ctx.sample(ps, **kw)]
        pairs = _with_items(iterative.spin_pairs(ps, items["demonstration"], own), ps)
        pairs["_extras"] = {"item": pairs["item"]}
        return pairs

    return {"drift": drift, "iterdpo": iterdpo, "spin": spin, "oracle": lambda ctx: iterdpo(ctx, oracle=True)}[arm]


def specs(cfg) -> tuple[iterative.TrainSpec, iterative.EvalSpec]:
    t, e = cfg.paper.train, cfg.paper.eval
    return (
        iterative.TrainSpec(
            loss="dpo",
            loss_kwargs={"beta": float(t.beta)},
            lr=float(t.lr),
            batch_size=int(t.batch_size),
            epochs=float(t.epochs),
            max_steps=at_scale(cfg, t.max_steps),
            scheduler=str(t.scheduler),
        ),
        iterative.EvalSpec(
            n_eval=int(at_scale(cfg, e.n_eval)),
            temperature=float(e.temperature),
            max_new_tokens=int(e.max_new_tokens),
            n_diverse=int(e.n_diverse),
            diverse_prompts=int(at_scale(cfg, e.diverse_prompts)),
            diverse_temperature=float(e.diverse_temperature),
            q_high=float(e.q_high),
            pair_probe=int(at_scale(cfg, e.pair_probe)),
        ),
    )


def run_arm(cfg, world: World, arm: str, progress: bool = False) -> list[dict]:
    """T rounds of one arm from π_0 (every round cached): records of rounds 0..T (``iterative.run_loop``)."""
    logs = deployment_logs(cfg, world)
    train, evals = specs(cfg)
    start = iterative.Start(start_key(cfg), lambda: start_policy(cfg, world))
    return iterative.run_loop(
        cfg,
        world,
        name=f"drift-{arm}",
        start=start,
        build=builder(cfg, logs, arm),
        train=train,
        evals=evals,
        rounds=int(at_scale(cfg, cfg.paper.pc_rounds))
        if arm in CONTROL_ARMS
        else int(at_scale(cfg, cfg.paper.rounds)),
        key_parts=(
            arm,
            to_dict(cfg.paper.logs),
            to_dict(cfg.paper.sample),
            to_dict(cfg.paper.iterdpo),
            at_scale(cfg, cfg.paper.logs.n_prompts),
            to_dict(cfg.judge),
            to_dict(cfg.toy_world),
        ),
        code=_CODE,
        progress=progress,
    )


# ---------------------------------------------------------------------------------------------
# All arms over seeds and cores


def _job(cfg, stage: str):
    world = world_for(cfg)
    if stage == "logs":  # a seed's first job: π_0 and the logs, so that its arms only load them
        start_policy(cfg, world)
        return deployment_logs(cfg, world)
    return run_arm(cfg, world, stage)


def run_all(cfg, progress: bool = True) -> dict:
    """{"logs": {seed: logs}, "runs": {(seed, arm): records of rounds 0..T}} for every seed and arm (``training.runner``:
    a seed's arms start once its π_0 and logs exist)."""
    validate(cfg)
    arms = list(cfg.paper.arms) + list(CONTROL_ARMS)
    res = run_stages(
        cfg,
        _job,
        {"logs": (), **{a: ("logs",) for a in arms}},
        desc="DRIFT: π_0 + logs, then arms × rounds",
        progress=progress,
    )
    sds = seeds(cfg)
    return {"logs": {sd: res[(sd, "logs")] for sd in sds}, "runs": {(sd, a): res[(sd, a)] for sd in sds for a in arms}}
