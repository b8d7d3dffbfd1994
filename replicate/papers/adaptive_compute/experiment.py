"""Adaptive Inference-Time Compute (Manvi, Singh, Ermon 2024) in the toy world: capability-aware,
mid-generation self-evaluation, and the three ways it spends compute (Best-of-N, adaptive sampling, pruning).

    SFT policy π_0 (shared) → 16 on-policy samples per training prompt, judged → self-eval targets
      → π_θ: π_0 fine-tuned (TRL SFTTrainer) to answer "redo?" after a full or partial response with n / y
      → a scalar-head reward model on the same judge-labelled samples (TRL RewardTrainer): the external-RM baseline
    → on dev/eval prompts: 16 samples at a fixed temperature and 16 in annealed rounds, scored by the oracle,
      the judge, the RM and π_θ (full and mid-generation) — every selection rule is then a function of scores
      (``models.search``), analysed in ``papers.adaptive_compute.claims``.

Every stage is cached under ``stage_key`` (``core.io.cached``); ``run_all`` runs ``scale.n_seeds`` seeds on
``hardware.workers`` processes (``core.parallel.Workers``).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from ...core.config import ConfigError, at_scale, to_dict
from ...core.io import atomic_write_json, cached, read_json
from ...models.distinct import score_distinct
from ...models.sampling import generate
from ...training.data import preference_dataset
from ...training.runner import run_stages
from ...training.toy_stages import (
    World,
    load_policy,
    seeds,
    sft_model,
    stage_key,  # noqa: F401
)

# The paper's public face: the notebook reads the claims module's names through this module.
from ...training.toy_stages import build_world as build_world
from ...training.world_cache import world_for
from ...worlds.tokenizer import chat
from ...worlds.toy_lm import oracle_quality

_CODE = (
    "papers/adaptive_compute/experiment.py",
    "models/distinct.py",
    "models/search.py",
    "models/reward.py",
    "training/reward.py",
)


def _key(cfg, *parts, **kw) -> dict:
    return stage_key(cfg, *parts, code=_CODE, **kw)


def validate(cfg) -> None:
    """Bad input raises ConfigError before any compute."""
    p = cfg.paper
    if cfg.scale.name in ("small", "paper"):
        raise ConfigError(
            f"adaptive-compute runs at scale=ci or tiny; scale={cfg.scale.name} needs the paper's 8B model "
            "and LMSYS prompts on GPUs (their settings: paper.paper_scale in conf/paper/adaptive-compute.yaml)"
        )
    n, rounds = int(p.n_samples), [int(r) for r in p.adaptive.rounds]
    if sum(rounds) != n or min(rounds) < 1:
        raise ConfigError(f"paper.adaptive.rounds {rounds} must be positive and sum to paper.n_samples={n}")
    if len(p.adaptive.temperatures) != len(rounds) or min(p.adaptive.temperatures) < 0:
        raise ConfigError("paper.adaptive.temperatures needs one non-negative temperature per round")
    for s in list(p.prune.shares) + list(p.prune.sweep):
        if not 0.0 <= float(s) < 1.0 or round(n * (1 - float(s))) < 1:
            raise ConfigError(f"prune share {s} must be in [0, 1) and keep at least one of {n} samples")
    if int(p.prune.at_tokens) < 1 or min(int(k) for k in p.self_eval.prefix_tokens) < 1:
        raise ConfigError("prefix lengths (paper.prune.at_tokens, paper.self_eval.prefix_tokens) must be ≥ 1 token")
    if p.self_eval.target not in ("judge", "oracle") or p.self_eval.labels not in ("sampled",):
        raise ConfigError("paper.self_eval.target must be judge|oracle and labels must be sampled")
    if not 0.0 <= float(p.self_eval.response_sft_share):
        raise ConfigError("paper.self_eval.response_sft_share must be ≥ 0")
    if not 0 < float(p.adaptive.budget) <= n:
        raise ConfigError(f"paper.adaptive.budget must be in (0, {n}]")
    for split in ("train", "dev", "eval"):
        want, have = int(at_scale(cfg, p.prompts[split])), len_split(cfg, split)
        if not 1 <= want <= have:
            raise ConfigError(f"paper.prompts.{split}={want} but the world's split has {have} prompts")
    at_scale(cfg, p.self_eval.steps), at_scale(cfg, p.reward_model.max_steps)


def len_split(cfg, split: str) -> int:
    w = cfg.scale.world
    return int({"train": w.n_pref_prompts, "dev": w.n_dev, "eval": w.n_eval}[split])


def prompts(cfg, world: World, split: str) -> list[str]:
    src = {"train": "pref", "dev": "dev", "eval": "eval"}[split]
    return world.prompts[src][: int(at_scale(cfg, cfg.paper.prompts[split]))]


# ---------------------------------------------------------------------------------------------
# The self-evaluation target (card, "Training target")


def not_better_share(values) -> np.ndarray:
    """p_i = P_{y' ~ π}[r(y') ≤ r(y_i)] estimated on the other samples of the same prompt (leave-one-out):
    the share of a prompt's other samples that are *not* better than sample i (ties count as not better).
    ``values``: (prompts, samples) rewards. 1 − p_i is the probability that restarting would do better."""
    v = np.asarray(values, dtype=float)
    if v.ndim != 2 or v.shape[1] < 2:
        raise ValueError(f"need (prompts, ≥ 2 samples), got shape {v.shape}")
    le = (v[:, None, :] <= v[:, :, None]).sum(2) - 1  # j ≠ i with r_j ≤ r_i
    return le / (v.shape[1] - 1)


def judge_matrix(judge, prompt: str, samples: list[str]) -> np.ndarray:
    """M[i, j] = P(y_i ≻ y_j) averaged over both presentation orders (M[i, i] = ½)."""
    n = len(samples)
    m = np.full((n, n), 0.5)
    for i in range(n):
        for j in range(n):
            if i != j:
                m[i, j] = 0.5 * (
                    judge.prob(prompt, samples[i], samples[j], a_first=True)
                    + judge.prob(prompt, samples[i], samples[j], a_first=False)
                )
    return m


def judge_not_better(m: np.ndarray) -> np.ndarray:
    """p_i = 1 − mean_{j ≠ i} P(y_j ≻ y_i): the judge's probability that a fresh sample is not better."""
    n = m.shape[0]
    return 1.0 - (m.sum(0) - np.diag(m)) / (n - 1)


def judge_rank(m: np.ndarray) -> np.ndarray:
    """The judge's round-robin score of each sample (``Judge.rank``): mean_{j ≠ i} P(y_i ≻ y_j)."""
    n = m.shape[0]
    return (m.sum(1) - np.diag(m)) / (n - 1)


# ---------------------------------------------------------------------------------------------
# The self-evaluation query: one forward pass after a (partial) response


def self_eval_text(tokenizer, query: str, prompt: str, response: str, prefix_tokens: int | None = None) -> str:
    """x, then y (complete, with its end-of-turn) or its first ``prefix_tokens`` tokens (mid-generation, no
    end-of-turn), then the query E. The character tokenizer makes a token one character."""
    if prefix_tokens is None:
        return tokenizer.apply_chat_template(chat(prompt, response), tokenize=False) + query
    head = tokenizer.apply_chat_template(chat(prompt), tokenize=False, add_generation_prompt=True)
    return head + response[:prefix_tokens] + query


def self_eval_scores(
    model,
    tokenizer,
    cfg,
    prompts_: list[str],
    responses: list[str],
    *,
    prefix_tokens: int | None = None,
    batch_size: int = 512,
) -> np.ndarray:
    """s_θ(x, y) = π_θ(No | x, y, E), renormalised over the two answer tokens (card, Objective); each distinct query
    once (``models.distinct``: mid-generation prefixes repeat across a prompt's samples)."""
    se = cfg.paper.self_eval
    ids = tokenizer.convert_tokens_to_ids([se.no_token, se.yes_token])
    model.eval()
    texts = [self_eval_text(tokenizer, se.query, p, r, prefix_tokens) for p, r in zip(prompts_, responses)]

    def no_share(enc):  # left padding: the last position is every row's answer slot
        return torch.softmax(model(**enc).logits[:, -1, ids].float(), -1)[:, 0]

    return score_distinct(texts, tokenizer, no_share, batch_size)


# ---------------------------------------------------------------------------------------------
# Stages


def onpolicy_data(cfg, world: World) -> dict:
    """16 on-policy samples per training prompt from π_0, the judge's pairwise matrix, self-eval targets,
    oracle qualities, and the RM's judge-labelled pairs (cached)."""
    s = cfg.paper.sample
    key = _key(
        cfg,
        "adaptive-data",
        int(cfg.paper.n_samples),
        to_dict(s),
        int(cfg.paper.reward_model.pairs_per_prompt),
        to_dict(cfg.judge),
        to_dict(cfg.scale.sft),
        to_dict(cfg.toy_world),
        at_scale(cfg, cfg.paper.prompts.train),
    )

    def compute(tmp: Path):
        ps = prompts(cfg, world, "train")
        samples = generate(
            sft_model(cfg, world),
            world.tokenizer,
            ps,
            n=int(cfg.paper.n_samples),
            temperature=float(s.temperature),
            top_p=float(s.top_p),
            max_new_tokens=int(s.max_new_tokens),
            seed=int(cfg.seed) + 101,
        )
        mats = [judge_matrix(world.judge, p, ys) for p, ys in zip(ps, samples)]
        q = [[oracle_quality(p, y) for y in ys] for p, ys in zip(ps, samples)]
        rank = np.array([judge_rank(m) for m in mats])
        pairs = _rm_pairs(ps, samples, rank, int(cfg.seed), int(cfg.paper.reward_model.pairs_per_prompt))
        atomic_write_json(
            tmp / "data.json",
            {
                "prompts": ps,
                "samples": samples,
                "q": q,
                "judge_rank": rank.tolist(),
                "target_judge": [judge_not_better(m).tolist() for m in mats],
                "target_oracle": not_better_share(np.array(q)).tolist(),
                "rm_pairs": pairs,
            },
        )

    return read_json(cached("adaptive-data", key, compute) / "data.json")


def _rm_pairs(ps, samples, rank: np.ndarray, seed: int, per_prompt: int) -> dict:
    """Chosen = the judge's best sample, rejected = ``per_prompt`` random other distinct ones
    (UltraFeedback-binarized, with several rejected per prompt)."""
    rng = np.random.default_rng(seed)
    out = {"prompt": [], "chosen": [], "rejected": []}
    for p, ys, r in zip(ps, samples, rank):
        c = int(np.argmax(r))
        others = sorted({ys[j] for j in range(len(ys)) if ys[j] != ys[c]})
        for y in rng.permutation(others)[:per_prompt] if others else []:
            out["prompt"].append(p), out["chosen"].append(ys[c]), out["rejected"].append(str(y))
    return out


def self_eval_dataset(cfg, data: dict, tokenizer):
    """Prompt–completion strings "x y E" → n|y, each sample once complete and once truncated at a random
    prefix length; the label drawn from the soft target p_i (n with probability p_i). Plus the regulariser:
    ``response_sft_share`` as many rows of π_0's own responses (x → y), so generation stays where it was."""
    from datasets import Dataset

    se = cfg.paper.self_eval
    rng = np.random.default_rng(int(cfg.seed) + 7)
    targets = data["target_judge" if se.target == "judge" else "target_oracle"]
    ks = [int(k) for k in se.prefix_tokens]
    rows = {"prompt": [], "completion": []}
    for p, ys, ts in zip(data["prompts"], data["samples"], targets):
        for y, t in zip(ys, ts):
            for k in (None, ks[int(rng.integers(len(ks)))]):
                rows["prompt"].append(self_eval_text(tokenizer, se.query, p, y, k))
                rows["completion"].append(se.no_token if rng.random() < t else se.yes_token)
    flat = [(p, y) for p, ys in zip(data["prompts"], data["samples"]) for y in ys]
    for j in rng.choice(len(flat), size=int(round(float(se.response_sft_share) * len(rows["prompt"]))), replace=True):
        p, y = flat[int(j)]
        rows["prompt"].append(tokenizer.apply_chat_template(chat(p), tokenize=False, add_generation_prompt=True))
        rows["completion"].append(y)  # TRL appends the end-of-turn token
    return Dataset.from_dict(rows).shuffle(seed=int(cfg.seed))


def self_evaluator(cfg, world: World, data: dict | None = None, target: str | None = None):
    """π_θ: the SFT policy fine-tuned on the self-eval answer token only (TRL SFTTrainer, completion loss).
    ``target`` overrides ``paper.self_eval.target``: ``"oracle"`` trains the capability control's evaluator
    (K_selfeval: can this model learn the self-evaluation at all, given the perfect target?)."""
    se = cfg.paper.self_eval
    if target is not None and target != se.target:
        from omegaconf import OmegaConf

        cfg = OmegaConf.merge(cfg, {"paper": {"self_eval": {"target": target}}})
        se = cfg.paper.self_eval
    key = _key(
        cfg,
        "adaptive-selfeval",
        to_dict(se),
        int(at_scale(cfg, se.steps)),
        to_dict(cfg.paper.sample),
        to_dict(cfg.judge),
        to_dict(cfg.scale.sft),
        to_dict(cfg.toy_world),
        int(cfg.paper.n_samples),
        at_scale(cfg, cfg.paper.prompts.train),
    )

    def compute(tmp: Path):
        from ...training.trl_hook import sft

        d = data if data is not None else onpolicy_data(cfg, world)
        model, hist = sft(
            sft_model(cfg, world),
            world.tokenizer,
            self_eval_dataset(cfg, d, world.tokenizer),
            cfg.hardware,
            seed=int(cfg.seed),
            lr=float(se.lr),
            batch_size=int(se.batch_size),
            steps=int(at_scale(cfg, se.steps)),
            out=tmp,
        )
        model.save_pretrained(tmp / "model")
        world.tokenizer.save_pretrained(tmp / "model")
        atomic_write_json(tmp / "history.json", hist)

    return load_policy(cached("adaptive-selfeval", key, compute) / "model")


def reward_model(cfg, world: World, data: dict | None = None):
    """The external-RM baseline: a scalar head on π_0's backbone, TRL RewardTrainer on judge-labelled pairs."""
    rm_cfg = cfg.paper.reward_model
    key = _key(
        cfg,
        "adaptive-rm",
        to_dict(rm_cfg),
        at_scale(cfg, rm_cfg.max_steps),
        to_dict(cfg.paper.sample),
        to_dict(cfg.judge),
        to_dict(cfg.scale.sft),
        to_dict(cfg.toy_world),
        int(cfg.paper.n_samples),
        at_scale(cfg, cfg.paper.prompts.train),
    )

    def compute(tmp: Path):
        from ...models.reward import reward_model_from_policy
        from ...training.reward import train_reward_model

        d = data if data is not None else onpolicy_data(cfg, world)
        rm = reward_model_from_policy(sft_model(cfg, world), world.tokenizer)
        ms = at_scale(cfg, rm_cfg.max_steps)
        rm, hist = train_reward_model(
            rm,
            world.tokenizer,
            preference_dataset(d["rm_pairs"]),
            cfg.hardware,
            seed=int(cfg.seed),
            lr=float(rm_cfg.lr),
            batch_size=int(rm_cfg.batch_size),
            epochs=float(rm_cfg.epochs),
            max_steps=int(ms) if ms else None,
            out=tmp,
        )
        rm.save_pretrained(tmp / "model")
        atomic_write_json(tmp / "history.json", hist)

    from transformers import AutoModelForSequenceClassification

    m = AutoModelForSequenceClassification.from_pretrained(
        cached("adaptive-rm", key, compute) / "model", dtype=torch.float32
    )
    return m.eval()


def _flat(ps, samples):
    return [p for p, ys in zip(ps, samples) for _ in ys], [y for ys in samples for y in ys]


def _grid(x, n):
    return np.asarray(x, dtype=float).reshape(-1, n).tolist()


def score_split(cfg, world: World, split: str) -> dict:
    """On ``split`` prompts: 16 samples of π_0 at the fixed temperature (pool "fixed") and 16 in annealed
    rounds (pool "annealed"), each scored by the oracle and π_θ (complete and at every prefix length used),
    pool "fixed" also by the judge and the RM; plus one sample of π_θ itself (how far the fine-tuning moved
    generation) and the generation throughput (cached)."""
    p = cfg.paper
    key = _key(
        cfg, "adaptive-score", split, to_dict(p), to_dict(cfg.scale), to_dict(cfg.judge), to_dict(cfg.toy_world)
    )

    def compute(tmp: Path):
        n, tok, s = int(p.n_samples), world.tokenizer, p.sample
        ps = prompts(cfg, world, split)
        policy, judge_ = sft_model(cfg, world), world.judge
        se, rm = self_evaluator(cfg, world), reward_model(cfg, world)
        se_oracle = self_evaluator(cfg, world, target="oracle")
        gen = dict(top_p=float(s.top_p), max_new_tokens=int(s.max_new_tokens))
        t0 = time.perf_counter()
        fixed = generate(policy, tok, ps, n=n, temperature=float(s.temperature), seed=int(cfg.seed) + 201, **gen)
        t_fixed = time.perf_counter() - t0
        rounds = [
            generate(policy, tok, ps, n=int(r), temperature=float(t), seed=int(cfg.seed) + 301 + k, **gen)
            for k, (r, t) in enumerate(zip(p.adaptive.rounds, p.adaptive.temperatures))
        ]
        annealed = [sum((rd[i] for rd in rounds), []) for i in range(len(ps))]
        own = [
            y[0] for y in generate(se, tok, ps, n=1, temperature=float(s.temperature), seed=int(cfg.seed) + 401, **gen)
        ]
        out = {
            "prompts": ps,
            "fixed": fixed,
            "annealed": annealed,
            "own_q": [oracle_quality(x, y) for x, y in zip(ps, own)],
            "gen_seconds": t_fixed,
            "gen_samples": len(ps) * n,
        }
        ks = sorted({int(k) for k in p.self_eval.prefix_tokens} | {int(p.prune.at_tokens)})
        for pool in ("fixed", "annealed"):
            fp, fy = _flat(ps, out[pool])
            out[f"{pool}.q"] = _grid([oracle_quality(x, y) for x, y in zip(fp, fy)], n)
            out[f"{pool}.len"] = _grid(
                [len(tok(y, add_special_tokens=False)["input_ids"]) + 1 for y in fy], n
            )  # + <e>
            t0 = time.perf_counter()
            out[f"{pool}.self_eval"] = _grid(self_eval_scores(se, tok, cfg, fp, fy), n)
            if pool == "fixed":
                out["self_eval_seconds"] = time.perf_counter() - t0
                out["fixed.self_eval_oracle"] = _grid(self_eval_scores(se_oracle, tok, cfg, fp, fy), n)
                for k in ks:
                    out[f"fixed.self_eval@{k}"] = _grid(self_eval_scores(se, tok, cfg, fp, fy, prefix_tokens=k), n)
                from ...models.reward import reward_scores

                out["fixed.rm"] = _grid(reward_scores(rm, tok, fp, fy), n)
                mats = [judge_matrix(judge_, x, ys) for x, ys in zip(ps, fixed)]
                out["fixed.judge"] = [judge_rank(m).tolist() for m in mats]
                out["fixed.target_judge"] = [judge_not_better(m).tolist() for m in mats]
        atomic_write_json(tmp / "scores.json", out)

    return read_json(cached("adaptive-score", key, compute) / "scores.json")


# ---------------------------------------------------------------------------------------------
# All seeds over the cores: data → (self-evaluator, RM) → scoring of dev and eval, per seed


# A seed's stages: its on-policy data, then the evaluators trained on it (the self-evaluator on the paper's target,
# its capability control's twin on the oracle's, and the RM), then each split scored by all of them.
STAGES = {
    "data": (),
    "self_eval": ("data",),
    "self_eval_oracle": ("data",),
    "rm": ("data",),
    "dev": ("self_eval", "self_eval_oracle", "rm"),
    "eval": ("self_eval", "self_eval_oracle", "rm"),
}


def _job(cfg, stage: str):
    world = world_for(cfg)
    if stage == "data":
        onpolicy_data(cfg, world)
    elif stage == "self_eval":
        self_evaluator(cfg, world)
    elif stage == "self_eval_oracle":
        self_evaluator(cfg, world, target="oracle")
    elif stage == "rm":
        reward_model(cfg, world)
    else:
        return score_split(cfg, world, stage)
    return None


def run_all(cfg, progress: bool = True) -> dict:
    """{seed: {"dev": scores, "eval": scores}} for every seed (``training.runner``: a seed's stages start as soon as
    the stages they need exist, so both cores stay busy across seeds)."""
    validate(cfg)
    res = run_stages(cfg, _job, STAGES, desc="Adaptive compute: data, self-evaluator, RM, scores", progress=progress)
    return {sd: {split: res[(sd, split)] for split in ("dev", "eval")} for sd in seeds(cfg)}
