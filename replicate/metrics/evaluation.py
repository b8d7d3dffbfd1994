"""Evaluate a policy in the toy world: AlpacaEval-style win rates against the reference policy,
oracle quality, length, and likelihood-level diagnostics on held-out preference pairs."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ..models.sampling import generate
from ..worlds.tokenizer import chat
from ..worlds.toy_lm import Judge, oracle_quality


@torch.no_grad()
def sequence_logps(model, tokenizer, prompts: Sequence[str], responses: Sequence[str], batch_size: int = 256):
    """Summed log π(y|x) over response tokens (incl. end-of-turn) and |y|, as the trainer hook computes them."""
    model.eval()
    logps, lens = [], []
    for i in range(0, len(prompts), batch_size):
        ps, rs = prompts[i : i + batch_size], responses[i : i + batch_size]
        full = [tokenizer.apply_chat_template(chat(p, r), tokenize=False) for p, r in zip(ps, rs)]
        plen = [
            len(
                tokenizer(
                    tokenizer.apply_chat_template(chat(p), tokenize=False, add_generation_prompt=True),
                    add_special_tokens=False,
                )["input_ids"]
            )
            for p in ps
        ]
        enc = tokenizer(full, return_tensors="pt", padding=True, add_special_tokens=False)
        ids, att = enc["input_ids"], enc["attention_mask"]
        logits = model(input_ids=ids, attention_mask=att).logits[:, :-1].float()
        tok_lp = torch.log_softmax(logits, -1).gather(-1, ids[:, 1:, None]).squeeze(-1)
        # response mask: real tokens after the prompt (works for left or right padding)
        T = ids.shape[1]
        pos = torch.arange(T)[None, :].expand(len(ps), T)
        first = att.float().argmax(1)  # index of the first real token
        start = (first + torch.tensor(plen))[:, None]
        resp = ((pos >= start) & att.bool())[:, 1:].float()
        logps.append((tok_lp * resp).sum(1))
        lens.append(resp.sum(1))
    return torch.cat(logps).numpy(), torch.cat(lens).numpy()


def pair_diagnostics(model, tokenizer, pairs: dict, *, ref_model=None, beta: float = 1.0, gamma: float = 0.0) -> dict:
    """On held-out pairs: likelihood–preference agreement (SimPO §2.2, Fig. 4b), i.e. how often the
    average log-likelihood ranks chosen above rejected; and reward accuracies of the SimPO reward
    (β·avg logp, SimPO Fig. 3) and, given a reference, of the DPO reward (β·log π/π_ref)."""
    P, C, R = pairs["prompt"], pairs["chosen"], pairs["rejected"]
    lw, nw = sequence_logps(model, tokenizer, P, C)
    ll, nl = sequence_logps(model, tokenizer, P, R)
    avg_margin = lw / nw - ll / nl
    out = {
        "agreement": float(np.mean(avg_margin > 0)),
        "simpo_reward_accuracy": float(np.mean(beta * avg_margin > 0)),
        "simpo_margin_accuracy": float(np.mean(beta * avg_margin > gamma)),
        "avg_logp_chosen": float(np.mean(lw / nw)),
        "avg_logp_rejected": float(np.mean(ll / nl)),
        "reward_margins": (beta * avg_margin).tolist(),
    }
    if ref_model is not None:
        rw, _ = sequence_logps(ref_model, tokenizer, P, C)
        rl, _ = sequence_logps(ref_model, tokenizer, P, R)
        out["dpo_reward_accuracy"] = float(np.mean((lw - rw) - (ll - rl) > 0))
    return out


def judge_against_reference(
    judge: Judge, prompts: Sequence[str], responses: Sequence[str], reference: Sequence[str]
) -> np.ndarray:
    """P(model ≻ reference) per prompt, presentation order randomized per example (AlpacaEval)."""
    return np.array([judge.prob(p, y, r) for p, y, r in zip(prompts, responses, reference)])


def evaluate_policy(
    model,
    tokenizer,
    judge: Judge,
    prompts: Sequence[str],
    reference: Sequence[str],
    *,
    temperature: float,
    max_new_tokens: int,
    seed: int,
) -> dict:
    """Generate, judge against the reference policy, and score with the oracle."""
    from .winrate import lc_win_rate

    responses = [
        r[0]
        for r in generate(model, tokenizer, prompts, temperature=temperature, max_new_tokens=max_new_tokens, seed=seed)
    ]
    prefs = judge_against_reference(judge, prompts, responses, reference)
    len_m = np.array([len(r) for r in responses], dtype=float)
    len_b = np.array([len(r) for r in reference], dtype=float)
    lc = lc_win_rate(prefs, len_m, len_b)
    q = [oracle_quality(p, y) for p, y in zip(prompts, responses)]
    return {
        "win_rate": float(100 * prefs.mean()),
        "win_rate_se": float(100 * prefs.std(ddof=1) / np.sqrt(len(prefs))),
        "lc_win_rate": float(lc["lc_win_rate"]),
        "lc_win_rate_se": float(lc.get("lc_standard_error", float("nan"))),
        "avg_length": float(len_m.mean()),
        "oracle_quality": float(np.mean(q)),
        "responses": responses,
        "preferences": prefs.tolist(),
        "oracle_qualities": q,  # per prompt: claims are judged on paired per-prompt differences
        "reference_lengths": len_b.tolist(),  # the LC GLM's baseline lengths, for bootstrap refits
    }
