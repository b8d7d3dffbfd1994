"""Temporal Self-Rewarding (arXiv 2508.06026, Algorithm 1) against Self-Rewarding (Yuan et al. 2024) in the toy world,
the policy judging its own samples (``training.self_judge``).

    shared SFT π_SFT ──EFT ∪ IFT──► M_0 (policy and judge in one)          ``m0``: the self-judge is trained here
    Self-Rewarding, 4 rounds:  chunk t: N = 4 samples of M_t, judged ×3 by M_t → (max, min), ties dropped → DPO
    Temporal SR, 2 rounds:     chunk t: K = 7 of M_t and K of M_0, all judged by M_t → anchored rejection (Phase 1)
                               → M_f = DPO(M_t) → K of M_f judged by M_t → future-guided chosen (Phase 2) → DPO(M_t)

Both arms go through ``training.iterative.run_loop`` (each round cached; reference = the round's start). Rounds use
fresh prompt chunks of the world's ``pref`` split (round t → chunk t, the same chunks for both arms); every round
also measures, on a fixed probe of evaluation prompts, the self-judged chosen–rejected gap its pair rule produces,
the gap in oracle quality, and the self-judge's agreement with the oracle, the toy judge and length. ``run_all``
runs M_0 then both arms per seed on ``hardware.workers`` processes; ``temporal_self_rewarding_claims`` judges.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np

from ...core.config import ConfigError, at_scale, to_dict
from ...core.io import atomic_write_json, cached, read_json
from ...training import iterative, self_judge
from ...training.pair_rules import anchored_pairs, future_guided, sr_pairs  # noqa: F401  (shared with the real-model path)
from ...training.runner import run_stages
from ...training.toy_stages import World, build_world, load_policy, seeds, setup_torch, sft_model, stage_key, with_seed  # noqa: F401
from ...training.world_cache import world_for
from ...worlds.toy_lm import oracle_quality, persona_from_cfg, persona_responses, solve

PAPER = "temporal-self-rewarding"
_CODE = ("papers/temporal_self_rewarding/experiment.py", "training/self_judge.py", "training/pair_rules.py")
ARMS = ("sr", "tsr")


def validate(cfg) -> None:
    """Bad input raises ConfigError before any compute."""
    p = cfg.paper
    if cfg.scale.name in ("small", "paper"):
        raise ConfigError(
            f"{PAPER}'s toy world runs at scale=ci or tiny; at scale=small the notebook runs its real-model "
            "cells (paper.real); the paper-scale settings (Llama3.1-8B, UltraFeedback, 4,000-prompt chunks) "
            "are in paper.paper_scale of conf/paper/temporal-self-rewarding.yaml"
        )
    if at_scale(cfg, p.self_judge.reading) not in ("sampled", "expected"):
        raise ConfigError("paper.self_judge.reading must be sampled|expected")
    if p.self_judge.work not in ("answer", "none") or int(p.self_judge.work_max_tokens) < 1:
        raise ConfigError("paper.self_judge.work must be answer|none and work_max_tokens ≥ 1")
    if int(p.self_judge.n_judgments) < 1 or float(p.self_judge.temperature) < 0:
        raise ConfigError("paper.self_judge.n_judgments must be ≥ 1 and temperature ≥ 0")
    if int(p.sr.n_samples) < 2 or int(p.tsr.k) < 1:
        raise ConfigError("paper.sr.n_samples must be ≥ 2 (a best and a worst) and paper.tsr.k ≥ 1")
    if int(p.sr.rounds) < 1 or int(p.tsr.rounds) < 1:
        raise ConfigError("paper.sr.rounds and paper.tsr.rounds must be ≥ 1")
    chunk, rounds = int(at_scale(cfg, p.chunk)), max(int(p.sr.rounds), int(p.tsr.rounds))
    if chunk < 1 or chunk * rounds > int(cfg.scale.world.n_pref_prompts):
        raise ConfigError(
            f"{rounds} rounds of paper.chunk={chunk} fresh prompts need {chunk * rounds} but the world's "
            f"pref split has {cfg.scale.world.n_pref_prompts}"
        )
    e = p.self_judge.eft
    if not 1 <= int(at_scale(cfg, e.prompts)) <= int(cfg.scale.world.n_sft):
        raise ConfigError(f"paper.self_judge.eft.prompts must be in [1, scale.world.n_sft={cfg.scale.world.n_sft}]")
    if int(e.samples_per_prompt) < 1 or float(e.ift_share) < 0:
        raise ConfigError("paper.self_judge.eft.samples_per_prompt must be ≥ 1 and ift_share ≥ 0")
    probe, n_eval = int(at_scale(cfg, p.probe_prompts)), int(at_scale(cfg, p.eval.n_eval))
    if not 1 <= probe <= int(cfg.scale.world.n_eval) or not 1 <= n_eval <= int(cfg.scale.world.n_eval):
        raise ConfigError(
            f"paper.probe_prompts and paper.eval.n_eval must be in [1, scale.world.n_eval={cfg.scale.world.n_eval}]"
        )


# ---------------------------------------------------------------------------------------------
# M_0: the SFT policy fine-tuned on IFT ∪ EFT (Self-Rewarding §2.1; Temporal SR Algorithm 1, "M_0 = SFT(IFT ∪ EFT)")


def _key(cfg, *parts) -> dict:
    return stage_key(cfg, *parts, code=_CODE)


def eft_data(cfg, world: World) -> dict:
    """EFT data: SFT-split prompts, ``samples_per_prompt`` samples of π_SFT each, graded 0–5 by the toy judge against
    each other (``self_judge.eft_targets``); plus their oracle qualities (cached)."""
    e, s = cfg.paper.self_judge.eft, cfg.paper.sample
    key = _key(
        cfg,
        "tsr-eft-data",
        to_dict(e),
        to_dict(s),
        int(at_scale(cfg, e.prompts)),
        to_dict(cfg.judge),
        to_dict(cfg.scale.sft),
        to_dict(cfg.toy_world),
    )

    def compute(tmp: Path):
        ps = world.prompts["sft"][: int(at_scale(cfg, e.prompts))]
        ys = iterative.sample(
            sft_model(cfg, world),
            world.tokenizer,
            ps,
            n=int(e.samples_per_prompt),
            temperature=float(s.temperature),
            top_p=float(s.top_p),
            max_new_tokens=int(s.max_new_tokens),
            seed=int(cfg.seed) + 501,
        )
        atomic_write_json(
            tmp / "data.json",
            {
                "prompts": ps,
                "samples": ys,
                "targets": [self_judge.eft_targets(world.judge, p, c) for p, c in zip(ps, ys)],
                "q": [[oracle_quality(p, y) for y in c] for p, c in zip(ps, ys)],
            },
        )

    return read_json(cached("tsr-eft-data", key, compute) / "data.json")


def m0_key(cfg) -> dict:
    sj = cfg.paper.self_judge
    return _key(
        cfg,
        "tsr-m0",
        to_dict(sj),
        int(at_scale(cfg, sj.eft.prompts)),
        int(at_scale(cfg, sj.eft.steps)),
        to_dict(cfg.paper.sample),
        to_dict(cfg.judge),
        to_dict(cfg.scale.sft),
        to_dict(cfg.toy_world),
    )


def m0(cfg, world: World):
    """M_0: π_SFT fine-tuned (TRL SFTTrainer, completion loss) on the EFT rows and ``ift_share`` as many IFT rows (the
    demonstrator's SFT answers, the instruction data π_SFT was trained on)."""
    sj = cfg.paper.self_judge

    def compute(tmp: Path):
        from datasets import Dataset

        from ...training.trl_hook import sft

        d = eft_data(cfg, world)
        fp = [p for p, c in zip(d["prompts"], d["samples"]) for _ in c]
        fy = [y for c in d["samples"] for y in c]
        ft = [t for ts in d["targets"] for t in ts]
        n_ift = int(round(float(sj.eft.ift_share) * len(fp)))
        demo = persona_from_cfg("demonstrator", cfg.toy_world.demonstrator)
        ift_p = world.prompts["sft"][:n_ift]
        ift_y = persona_responses(demo, world.prompts["sft"], int(cfg.seed) + 1)[:n_ift]  # = π_SFT's training answers
        worked = [solve(p) for p in fp] if sj.work == "answer" else None  # the labeller's worked answer: the truth
        rows = self_judge.eft_rows(world.tokenizer, sj.query, fp, fy, ft, ift_p, ift_y, worked=worked)
        ds = Dataset.from_dict(rows).shuffle(seed=int(cfg.seed))
        model, hist = sft(
            sft_model(cfg, world),
            world.tokenizer,
            ds,
            cfg.hardware,
            seed=int(cfg.seed),
            lr=float(sj.eft.lr),
            batch_size=int(sj.eft.batch_size),
            steps=int(at_scale(cfg, sj.eft.steps)),
            out=tmp,
        )
        model.save_pretrained(tmp / "model")
        world.tokenizer.save_pretrained(tmp / "model")
        atomic_write_json(tmp / "history.json", hist)

    return load_policy(cached("tsr-m0", m0_key(cfg), compute) / "model")


# ---------------------------------------------------------------------------------------------
# Self-judging: M_t scores (prompts × candidates)


def self_scores(cfg, model, tokenizer, prompts, candidates, *, seed: int, reading: str | None = None) -> np.ndarray:
    """M_t's scores 0–5 of each candidate: the mean of ``n_judgments`` sampled judgments at ``temperature``
    (Self-Rewarding: 3 at T = 0.7), or the expectation from one forward pass; NaN = unparsable."""
    sj = cfg.paper.self_judge
    fp = [p for p, c in zip(prompts, candidates) for _ in c]
    fy = [y for c in candidates for y in c]
    if sj.work == "answer":
        logits, _ = self_judge.worked_logits(model, tokenizer, sj.query, fp, fy, max_tokens=int(sj.work_max_tokens))
    else:
        logits = self_judge.next_token_logits(model, tokenizer, sj.query, fp, fy)
    ids = self_judge.digit_ids(tokenizer)
    if (reading or at_scale(cfg, sj.reading)) == "expected":
        s = self_judge.expected_scores(logits, ids)
    else:
        s = self_judge.sampled_scores(logits, ids, n=int(sj.n_judgments), temperature=float(sj.temperature), seed=seed)
    k = len(candidates[0]) if candidates else 0
    return s.reshape(-1, k) if k else np.zeros((0, 0))


# ---------------------------------------------------------------------------------------------
# Pair rules (pure functions; sr_pairs, anchored_pairs and future_guided live in training/pair_rules.py)


def gaps(prompts, pairs: dict, key: str = "score") -> np.ndarray:
    """Per prompt: the chosen–rejected gap of the pair a rule formed for it (``score``: the self-judge's,
    ``q``: the oracle's), 0 where the rule formed none (ties, nothing to learn from)."""
    if key == "score":
        g = dict(
            zip(pairs["prompt"], np.asarray(pairs["score_chosen"], float) - np.asarray(pairs["score_rejected"], float))
        )
    else:
        g = {
            p: oracle_quality(p, c) - oracle_quality(p, r)
            for p, c, r in zip(pairs["prompt"], pairs["chosen"], pairs["rejected"])
        }
    return np.array([g.get(p, 0.0) for p in prompts])


def with_scores(pairs: dict, prompts, candidates, scores) -> dict:
    """``sr_pairs`` output plus the self-judge scores of its chosen and rejected (looked up among the candidates)."""
    look = {
        (p, y): float(s) for p, c, sc in zip(prompts, candidates, np.asarray(scores, float)) for y, s in zip(c, sc)
    }
    return {
        **pairs,
        "score_chosen": [look[(p, y)] for p, y in zip(pairs["prompt"], pairs["chosen"])],
        "score_rejected": [look[(p, y)] for p, y in zip(pairs["prompt"], pairs["rejected"])],
    }


# ---------------------------------------------------------------------------------------------
# The two arms as pair builders for ``training.iterative.run_loop``


def chunk(cfg, world: World, t: int) -> list[str]:
    """Round t's fresh prompts: chunk t of the ``pref`` split (Temporal SR §4.1: a new 4,000-prompt chunk per iteration)."""
    c = int(at_scale(cfg, cfg.paper.chunk))
    return world.prompts["pref"][(t - 1) * c : t * c]


def _gen(cfg) -> dict:
    s = cfg.paper.sample
    return dict(temperature=float(s.temperature), top_p=float(s.top_p), max_new_tokens=int(s.max_new_tokens))


def agreement(cfg, world: World, model, prompts, candidates, scores) -> dict:
    """How the self-judge's scores of one probe's candidates order them against the oracle, the toy judge's EFT grade
    (the labels it was trained to imitate) and a length-only scorer: per-prompt pair accuracies."""
    q = np.array([[oracle_quality(p, y) for y in c] for p, c in zip(prompts, candidates)])
    grade = np.array([self_judge.eft_targets(world.judge, p, c) for p, c in zip(prompts, candidates)])
    length = np.array([[len(y) for y in c] for c in candidates], dtype=float)
    expected = self_scores(cfg, model, world.tokenizer, prompts, candidates, seed=0, reading="expected")
    acc = self_judge.per_prompt_pair_accuracy
    return {
        "self_vs_oracle": acc(scores, q).tolist(),
        "self_expected_vs_oracle": acc(expected, q).tolist(),
        "length_vs_oracle": acc(length, q).tolist(),
        "grade_vs_oracle": acc(grade, q).tolist(),
        "self_vs_grade": acc(scores, grade).tolist(),
        "mean_score": float(np.nanmean(scores)),
        "unparsable": float(np.isnan(scores).mean()),
        "mean_q": float(q.mean()),
    }


def _probe_prompts(cfg, world: World) -> list[str]:
    return world.prompts["eval"][: int(at_scale(cfg, cfg.paper.probe_prompts))]


def sr_builder(cfg, world: World):
    """Self-Rewarding round t: N samples of M_t per chunk prompt, judged by M_t, (max, min) pairs, ties dropped."""
    n = int(cfg.paper.sr.n_samples)

    def build(ctx: iterative.RoundContext) -> dict:
        tok, ps = world.tokenizer, chunk(cfg, world, ctx.t)
        c = ctx.sample(ps, n=n, **_gen(cfg))
        ctx.progress("self-judge")
        pairs = with_scores(
            sr_pairs(ps, c, s := self_scores(cfg, ctx.policy, tok, ps, c, seed=ctx.seed + 1)), ps, c, s
        )
        pp = _probe_prompts(cfg, world)  # the same rule on the fixed probe prompts: gaps paired across rounds and arms
        cp = ctx.sample(pp, n=n, seed_offset=7, **_gen(cfg))
        sp = self_scores(cfg, ctx.policy, tok, pp, cp, seed=ctx.seed + 8)
        probe = with_scores(sr_pairs(pp, cp, sp), pp, cp, sp)
        pairs["_extras"] = {
            "n_prompts": len(ps),
            "n_samples": len(ps) * n,
            "n_judged": len(ps) * n,
            "probe_gap": gaps(pp, probe).tolist(),
            "probe_q_gap": gaps(pp, probe, "q").tolist(),
            "agreement": agreement(cfg, world, ctx.policy, pp, cp, sp),
        }
        return pairs

    return build


def _phase1(cfg, ctx: iterative.RoundContext, m_0, prompts, *, offset: int):
    """K samples of M_t and of M_0 per prompt, all judged by M_t, and the anchored pairs.
    Returns (M_t's samples, their scores, Phase-1 pairs)."""
    k, tok = int(cfg.paper.tsr.k), ctx.tokenizer
    cur = ctx.sample(prompts, n=k, seed_offset=offset, **_gen(cfg))
    past = ctx.sample(prompts, n=k, seed_offset=offset + 1, model=m_0, **_gen(cfg))
    ctx.progress("self-judge")
    s_cur = self_scores(cfg, ctx.policy, tok, prompts, cur, seed=ctx.seed + offset + 2)
    p1 = anchored_pairs(
        prompts, cur, s_cur, past, self_scores(cfg, ctx.policy, tok, prompts, past, seed=ctx.seed + offset + 3)
    )
    return cur, s_cur, p1


def tsr_builder(cfg, world: World):
    """Temporal SR round t (Algorithm 1): Phase 1 anchored rejection → future model M_f = DPO(M_t) → Phase 2
    future-guided chosen. M_f is trained like the round's model (same TrainSpec) and discarded after the round."""
    k = int(cfg.paper.tsr.k)

    def phase2(ctx, mf, p1, offset):
        fut = ctx.sample(p1["prompt"], n=k, seed_offset=offset, model=mf, **_gen(cfg))
        ctx.progress("self-judge future")
        return future_guided(
            p1, fut, self_scores(cfg, ctx.policy, ctx.tokenizer, p1["prompt"], fut, seed=ctx.seed + offset + 1)
        )

    def build(ctx: iterative.RoundContext) -> dict:
        m_0 = ctx.start_model()
        ps = chunk(cfg, world, ctx.t)
        _, _, p1 = _phase1(cfg, ctx, m_0, ps, offset=0)
        ctx.progress("train future")
        mf, _ = iterative.train_round(
            copy.deepcopy(ctx.policy),
            ctx.tokenizer,
            {k_: p1[k_] for k_ in iterative.REQUIRED},
            cfg.hardware,
            ctx.train,
            seed=ctx.seed + 5,
            out=ctx.out / "future",
        )
        pairs = phase2(ctx, mf, p1, 10)
        pp = _probe_prompts(cfg, world)
        cp, s_cp, q1 = _phase1(cfg, ctx, m_0, pp, offset=20)  # the same rule on the fixed probe prompts
        q2 = phase2(ctx, mf, q1, 30)
        pairs["_extras"] = {
            "n_prompts": len(ps),
            "n_samples": len(ps) * 2 * k + len(p1["prompt"]) * k,
            "n_judged": len(ps) * 2 * k + len(p1["prompt"]) * k,
            "n_pairs_phase1": len(p1["prompt"]),
            "rejected_from_past": float(np.mean([r == "past" for r in pairs["rejected_from"]]))
            if pairs["prompt"]
            else 0.0,
            "chosen_from_future": float(np.mean([c == "future" for c in pairs["chosen_from"]]))
            if pairs["prompt"]
            else 0.0,
            "probe_gap_phase1": gaps(pp, q1).tolist(),
            "probe_gap": gaps(pp, q2).tolist(),
            "probe_q_gap": gaps(pp, q2, "q").tolist(),
            "agreement": agreement(cfg, world, ctx.policy, pp, cp, s_cp),
        }
        return pairs

    return build


# ---------------------------------------------------------------------------------------------
# Both arms, every seed


def specs(cfg) -> tuple[iterative.TrainSpec, iterative.EvalSpec]:
    d, e = cfg.paper.dpo, cfg.paper.eval
    ms = at_scale(cfg, d.max_steps)
    return (
        iterative.TrainSpec(
            loss="dpo",
            loss_kwargs={"beta": float(d.beta)},
            lr=float(d.lr),
            batch_size=int(d.batch_size),
            epochs=float(d.epochs),
            max_steps=int(ms) if ms else None,
        ),
        iterative.EvalSpec(
            n_eval=int(at_scale(cfg, e.n_eval)),
            temperature=float(e.temperature),
            max_new_tokens=int(cfg.paper.sample.max_new_tokens),
            n_diverse=int(e.n_diverse),
            diverse_prompts=int(at_scale(cfg, e.diverse_prompts)),
            q_high=float(e.q_high),
            pair_probe=int(at_scale(cfg, e.pair_probe)),
        ),
    )


def run_arm(cfg, world: World, arm: str, progress: bool = True) -> list[dict]:
    """Records of rounds 0..T of one arm (``iterative.run_loop``; round 0 = M_0, shared by both arms)."""
    train, evals = specs(cfg)
    start = iterative.Start(m0_key(cfg), lambda: m0(cfg, world))
    p = cfg.paper
    build = {"sr": sr_builder, "tsr": tsr_builder}[arm](cfg, world)
    parts = (
        arm,
        to_dict(p.sample),
        to_dict(p.self_judge),
        to_dict(p[arm]),
        int(at_scale(cfg, p.chunk)),
        int(at_scale(cfg, p.probe_prompts)),
        to_dict(cfg.judge),
        to_dict(cfg.toy_world),
    )
    return iterative.run_loop(
        cfg,
        world,
        name=f"tsr-{arm}",
        start=start,
        build=build,
        train=train,
        evals=evals,
        rounds=int(p[arm].rounds),
        key_parts=parts,
        code=_CODE,
        progress=progress,
    )


# A seed's stages: M_0 (EFT on the judge's grades), then both arms from it.
STAGES = {"m0": (), "tsr": ("m0",), "sr": ("m0",)}


def _job(cfg, stage: str):
    world = world_for(cfg)
    if stage == "m0":
        m0(cfg, world)
        return None
    return run_arm(cfg, world, stage, progress=False)


def run_all(cfg, progress: bool = True) -> dict:
    """{seed: {"tsr": records, "sr": records}}: M_0 per seed, then both arms (``training.runner``)."""
    validate(cfg)
    res = run_stages(cfg, _job, STAGES, desc="M_0, then Temporal SR and Self-Rewarding", progress=progress)
    return {sd: {arm: res[(sd, arm)] for arm in ("tsr", "sr")} for sd in seeds(cfg)}
