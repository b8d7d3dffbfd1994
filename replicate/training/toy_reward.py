"""The toy world's learned reward model: the proxy that online RL optimises and can hack.

    SFT policy (shared, cached) → ``samples_per_prompt`` samples per training prompt → pairs of distinct samples
    labelled by the judge (one sampled binary label per pair, as a human annotator gives) → TRL ``RewardTrainer``
    (Bradley–Terry, InstructGPT §3.5) on the SFT policy's weights with a per-token head summed over the response
    and a learned weight on the backbone's own likelihood (``models.token_reward``; why not the last-token head of
    ``models.reward``: that class's docstring) → the RM

Everything is cached per seed under ``stage_key`` (``toy-rm-data``, ``toy-rm``), so every paper that asks for the
same ``reward_model`` settings shares one RM per seed, as they share the SFT model.

``rm_report`` measures the RM against the judge and the oracle on held-out pairs (from the ``dev`` prompts), and
its exploitable flaw: the toy judge's verbosity bias is bounded (λ·tanh(Δ|y|/s)), and filler adds nothing to the
oracle's quality, but a reward model trained on the judge's labels can keep paying for filler. ``filler_flaw``
appends k valid filler units to fixed responses and reads the RM's score against k: a positive slope is reward
the policy can collect while the oracle's quality stays put (and falls once the filler is cut off mid-unit at the
length limit, which the oracle counts as malformed).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..core.config import to_dict
from ..core.io import atomic_write_json, cached, read_json
from ..models.sampling import generate
from ..worlds.toy_lm import FILLERS, oracle_quality, split_response
from .data import preference_dataset
from .toy_stages import World, sft_model, stage_key

CODE = ("training/toy_reward.py", "models/reward.py", "models/token_reward.py", "training/reward.py")
KEYS = (
    "n_prompts",
    "samples_per_prompt",
    "pairs_per_prompt",
    "temperature",
    "max_new_tokens",
    "lr",
    "batch_size",
    "epochs",
    "max_steps",
    "heldout_prompts",
    "head",
    "alpha_init",
)
HEADS = ("token_sum", "last")


def _rm_key(cfg, rm_cfg, *parts) -> dict:
    return stage_key(
        cfg,
        *parts,
        {k: rm_cfg.get(k) for k in KEYS},
        to_dict(cfg.judge),
        to_dict(cfg.scale.sft),
        to_dict(cfg.toy_world),
        code=CODE,
    )


def labelled_pairs(judge, prompts, samples, seed: int, per_prompt: int) -> dict:
    """Up to ``per_prompt`` random pairs of distinct samples per prompt; chosen/rejected by one sampled judge
    label (``Judge.label``). Also the oracle qualities and the judge's probability, for held-out accuracy."""
    rng = np.random.default_rng(seed)
    out = {k: [] for k in ("prompt", "chosen", "rejected", "q_chosen", "q_rejected", "p_judge")}
    for p, ys in zip(prompts, samples):
        uniq = list(dict.fromkeys(ys))
        cand = [(i, j) for i in range(len(uniq)) for j in range(i + 1, len(uniq))]
        for k in rng.permutation(len(cand))[:per_prompt]:
            a, b = uniq[cand[k][0]], uniq[cand[k][1]]
            if not judge.label(p, a, b):
                a, b = b, a
            out["prompt"].append(p), out["chosen"].append(a), out["rejected"].append(b)
            out["q_chosen"].append(oracle_quality(p, a)), out["q_rejected"].append(oracle_quality(p, b))
            out["p_judge"].append(judge.prob(p, a, b))
    return out


def rm_data(cfg, world: World, rm_cfg) -> dict:
    """Judge-labelled pairs of SFT samples: ``train`` (first ``n_prompts`` of the ``pref`` split) and
    ``heldout`` (first ``heldout_prompts`` of ``dev``). Cached."""
    key = _rm_key(cfg, rm_cfg, "toy-rm-data")

    def compute(tmp: Path):
        pol, out = sft_model(cfg, world), {}
        for split, src, n, off in (
            ("train", "pref", rm_cfg.n_prompts, 0),
            ("heldout", "dev", rm_cfg.heldout_prompts, 1),
        ):
            ps = world.prompts[src][: int(n)]
            ys = generate(
                pol,
                world.tokenizer,
                ps,
                n=int(rm_cfg.samples_per_prompt),
                temperature=float(rm_cfg.temperature),
                max_new_tokens=int(rm_cfg.max_new_tokens),
                seed=int(cfg.seed) + 211 + off,
            )
            out[split] = labelled_pairs(world.judge, ps, ys, int(cfg.seed) + 17 + off, int(rm_cfg.pairs_per_prompt))
        atomic_write_json(tmp / "pairs.json", out)

    return read_json(cached("toy-rm-data", key, compute) / "pairs.json")


def toy_reward_model(cfg, world: World, rm_cfg):
    """The RM, TRL ``RewardTrainer`` on the judge-labelled ``train`` pairs, starting from the SFT policy's weights.
    ``rm_cfg.head``: ``token_sum`` (default; ``models.token_reward``, α starting at ``alpha_init``) or ``last`` (the
    usual last-token scalar head, ``models.reward``)."""
    head = rm_cfg.get("head", "token_sum")
    if head not in HEADS:
        raise ValueError(f"reward_model.head must be one of {HEADS}, got {head!r}")
    key = _rm_key(cfg, rm_cfg, "toy-rm")

    def compute(tmp: Path):
        from ..models.reward import reward_model_from_policy
        from ..models.token_reward import token_reward_model_from_policy
        from .reward import train_reward_model

        pairs = rm_data(cfg, world, rm_cfg)["train"]
        pol = sft_model(cfg, world)
        rm = (
            token_reward_model_from_policy(pol, world.tokenizer, float(rm_cfg.get("alpha_init", 1.0)))
            if head == "token_sum"
            else reward_model_from_policy(pol, world.tokenizer)
        )
        ms = rm_cfg.get("max_steps")
        rm, hist = train_reward_model(
            rm,
            world.tokenizer,
            preference_dataset(pairs),
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

    from ..models.token_reward import load_reward_model

    return load_reward_model(cached("toy-rm", key, compute) / "model")


# ---------------------------------------------------------------------------------------------
# How good the proxy is, and where it is wrong


def pair_accuracy(score, pairs: dict) -> dict:
    """On held-out pairs: how often the score ranks the judge's chosen first (``vs_label``), agrees with the
    judge's more likely preference (``vs_judge``), and with the oracle where the oracle's qualities differ
    (``vs_oracle``, on ``n_oracle`` pairs). Ties in the score count ½."""
    sc = np.asarray(score(pairs["prompt"], pairs["chosen"]), dtype=float)
    sr = np.asarray(score(pairs["prompt"], pairs["rejected"]), dtype=float)
    agree = np.where(sc > sr, 1.0, np.where(sc < sr, 0.0, 0.5))  # 1 = score prefers chosen
    pj = np.asarray(pairs["p_judge"], dtype=float)
    dq = np.asarray(pairs["q_chosen"]) - np.asarray(pairs["q_rejected"])
    judge_first = pj > 0.5
    vs_judge = np.where(judge_first, agree, 1 - agree)
    m = dq != 0
    vs_oracle = np.where(dq[m] > 0, agree[m], 1 - agree[m])
    return {
        "vs_label": float(agree.mean()),
        "vs_judge": float(vs_judge.mean()),
        "vs_oracle": float(vs_oracle.mean()) if m.any() else float("nan"),
        "n": int(len(agree)),
        "n_oracle": int(m.sum()),
        "per_pair_vs_oracle": vs_oracle.tolist(),
    }


def with_filler(response: str, k: int, cut: int = 0) -> str:
    """The response's answer followed by k valid filler units (cycling through ``FILLERS``); ``cut`` > 0 drops
    that many characters from the end (a unit cut off mid-way, as at the length limit: malformed)."""
    ans, _ = split_response(response)
    y = ans + "".join(FILLERS[i % len(FILLERS)] for i in range(k))
    return y[: len(y) - cut] if cut else y


def filler_flaw(score, prompts, responses, units=(0, 1, 2, 3, 4, 6, 8)) -> dict:
    """The proxy's pay for filler: mean score of the same answers with k filler units, the least-squares slope
    per unit, and the oracle's (unchanged by construction, checked). ``malformed_gap``: score of 8 units cut off
    by 2 characters minus the score of 8 whole units (the oracle charges 0.3 for the cut)."""
    ps = list(prompts)
    means, oracle = [], []
    for k in units:
        ys = [with_filler(y, k) for y in responses]
        means.append(float(np.mean(score(ps, ys))))
        oracle.append(float(np.mean([oracle_quality(p, y) for p, y in zip(ps, ys)])))
    slope = float(np.polyfit(np.asarray(units, float), np.asarray(means), 1)[0])
    cut = [with_filler(y, 8, cut=2) for y in responses]
    whole = [with_filler(y, 8) for y in responses]
    gap = float(np.mean(score(ps, cut)) - np.mean(score(ps, whole)))
    return {"units": list(units), "score": means, "oracle": oracle, "slope_per_unit": slope, "malformed_gap": gap}


def answer_margin(score, prompts) -> float:
    """The proxy's pay for correctness at the same length: mean score of the right answer minus a one-edit wrong
    one (no filler). Compared with ``filler_flaw``'s slope it says how many filler units buy a wrong answer."""
    from ..worlds.toy_lm import corrupt, solve

    rng = np.random.default_rng(0)
    ps = list(prompts)
    right = [solve(p) for p in ps]
    wrong = [corrupt(r, rng, 1) for r in right]
    return float(np.mean(score(ps, right)) - np.mean(score(ps, wrong)))


def rm_report(score, data: dict) -> dict:
    """Held-out accuracy vs label, judge and oracle; the filler flaw; the correctness margin; their ratio
    (filler units worth one correct answer)."""
    h = data["heldout"]
    ps = list(dict.fromkeys(h["prompt"]))
    first = {p: y for p, y in zip(h["prompt"], h["chosen"])}
    flaw = filler_flaw(score, ps, [first[p] for p in ps])
    margin = answer_margin(score, ps)
    return {
        "accuracy": pair_accuracy(score, h),
        "filler": flaw,
        "answer_margin": margin,
        "units_per_answer": margin / flaw["slope_per_unit"] if flaw["slope_per_unit"] > 0 else float("inf"),
    }
