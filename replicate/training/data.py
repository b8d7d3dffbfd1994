"""SFT and preference datasets from the toy world, in TRL's conversational formats."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from datasets import Dataset

from ..worlds.toy_lm import Judge, oracle_quality


def _user(p):
    return [{"role": "user", "content": p}]


def _assistant(r):
    return [{"role": "assistant", "content": r}]


def sft_dataset(prompts: Sequence[str], responses: Sequence[str]) -> Dataset:
    """Prompt–completion pairs: TRL's SFTTrainer trains on completion tokens only."""
    return Dataset.from_dict({"prompt": [_user(p) for p in prompts], "completion": [_assistant(r) for r in responses]})


def preference_dataset(pairs: dict) -> Dataset:
    """``pairs`` = {"prompt", "chosen", "rejected"} lists of strings → TRL's conversational preference format."""
    return Dataset.from_dict(
        {
            "prompt": [_user(p) for p in pairs["prompt"]],
            "chosen": [_assistant(r) for r in pairs["chosen"]],
            "rejected": [_assistant(r) for r in pairs["rejected"]],
        }
    )


def pairs_from_candidates(
    prompts: Sequence[str], candidates: Sequence[Sequence[str]], judge: Judge, *, rejected: str, seed: int
) -> dict:
    """Rank each prompt's candidates by the judge (round-robin, both orders) and pick a pair.

    ``rejected="random"``: chosen = best, rejected = a random other candidate (UltraFeedback-binarized).
    ``rejected="worst"``: chosen = best, rejected = worst (SimPO on-policy pipeline,
    on_policy_data_gen/post_process.py); prompts whose candidates are all identical are dropped.
    """
    rng = np.random.default_rng(seed)
    out = {k: [] for k in ("prompt", "chosen", "rejected", "score_chosen", "score_rejected", "q_chosen", "q_rejected")}
    for p, cands in zip(prompts, candidates):
        if len(set(cands)) < 2:
            continue
        s = judge.rank(p, cands)
        order = np.argsort(-s, kind="stable")
        c = int(order[0])
        if rejected == "worst":
            r = int(order[-1])
        elif rejected == "random":
            r = int(rng.choice([i for i in range(len(cands)) if i != c]))
        else:
            raise ValueError(f"rejected must be 'random' or 'worst', got {rejected!r}")
        if cands[c] == cands[r]:
            continue
        out["prompt"].append(p)
        out["chosen"].append(cands[c])
        out["rejected"].append(cands[r])
        out["score_chosen"].append(float(s[c]))
        out["score_rejected"].append(float(s[r]))
        out["q_chosen"].append(oracle_quality(p, cands[c]))
        out["q_rejected"].append(oracle_quality(p, cands[r]))
    return out


def pair_stats(pairs: dict) -> dict:
    """How the judge's labels relate to truth and length: the biases a method can learn."""
    lc = np.array([len(x) for x in pairs["chosen"]])
    lr = np.array([len(x) for x in pairs["rejected"]])
    qc, qr = np.array(pairs["q_chosen"]), np.array(pairs["q_rejected"])
    return {
        "n_pairs": len(lc),
        "chosen_longer": float(np.mean(lc > lr)),
        "mean_len_chosen": float(lc.mean()),
        "mean_len_rejected": float(lr.mean()),
        "oracle_agrees": float(np.mean(qc > qr) + 0.5 * np.mean(qc == qr)),
    }


def split(d: dict, n_first: int) -> tuple[dict, dict]:
    return {k: v[:n_first] for k, v in d.items()}, {k: v[n_first:] for k, v in d.items()}
