"""The policy as its own judge (Self-Rewarding's LLM-as-a-Judge, Yuan et al. 2024 §2.1; Temporal Self-Rewarding's
M_i scoring its own samples): a capability of the toy policy, trained and measured, not the oracle in disguise.

    judge turn   x, y (complete, with its end-of-turn), then the user turn ``<u>score?``, answered right after the
                 "?" by one character, a digit 0–5 (the additive 5-point rubric's "Score: <points>", card §B)
    worked       optionally (``work: answer``) the judge first writes its own answer to x and a "=" (the toy
                 analogue of the rubric's justification: room to work out what a right answer is before scoring),
                 decoded greedily, and the score is read at the token after the "="
    reading      one forward pass gives the next-token distribution; the score is either its expectation over the
                 six digits (``expected_scores``) or the mean of ``n`` draws at temperature T with undigit draws
                 discarded as unparsable (``sampled_scores``: the card's 3 judgments at T = 0.7, averaged)
    training     EFT (Self-Rewarding §2.1, "evaluation fine-tuning"): the judge turn → the digit, with targets from
                 the toy world's judge (``eft_target``: the stand-in for GPT-4-labelled EFT data) on the SFT policy's
                 own samples, mixed with IFT rows (instruction → response) so generation stays where it was

Adaptive Inference-Time Compute's "redo?" self-evaluation (``papers/adaptive_compute/experiment.py``) is the precedent: same
query layout (no assistant tag before the answer: a tiny model trained to answer after "<a>" answers digits to every
prompt), an absolute 0–5 grade instead of a relative n/y.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ..worlds.tokenizer import chat
from ..worlds.toy_lm import Judge

DIGITS = "012345"
SEP = "="  # ends the judge's worked answer; the score is the token after it (not in any toy answer: letters/digits)


def judge_text(tokenizer, query: str, prompt: str, response: str) -> str:
    """x, then y with its end-of-turn, then the judge query; the next token is the score."""
    return tokenizer.apply_chat_template(chat(prompt, response), tokenize=False) + query


def eft_targets(judge: Judge, prompt: str, responses: Sequence[str], top: int = 5) -> list[int]:
    """The toy judge's grades 0..``top`` of a prompt's responses: round(top · mean_{j≠i} P(y_i ≻ y_j)), the round-robin
    score (``Judge.rank``, both presentation orders) against the prompt's other responses. Graded against samples of
    the same policy, the grades spread over the whole scale (a grade against a strong fixed reference answer put
    60–70 % of π_SFT's samples at 0, and a self-judge trained on it learned only that mode)."""
    return [int(v) for v in np.clip(np.floor(top * judge.rank(prompt, list(responses)) + 0.5), 0, top)]


@torch.no_grad()
def next_token_logits(
    model,
    tokenizer,
    query: str,
    prompts: Sequence[str],
    responses: Sequence[str],
    *,
    batch_size: int = 512,
    worked: Sequence[str] | None = None,
) -> np.ndarray:
    """(n, vocab) logits of the token after the judge query (left padding: the last position is the query's),
    or, with ``worked`` answers, after the query, the worked answer and ``SEP``."""
    model.eval()
    out = []
    tail = [f"{w}{SEP}" for w in worked] if worked is not None else [""] * len(prompts)
    for i in range(0, len(prompts), batch_size):
        texts = [
            judge_text(tokenizer, query, p, r) + t
            for p, r, t in zip(prompts[i : i + batch_size], responses[i : i + batch_size], tail[i : i + batch_size])
        ]
        enc = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
        out.append(model(**enc).logits[:, -1, :].float())
    return torch.cat(out).numpy() if out else np.zeros((0, len(tokenizer)))


@torch.no_grad()
def worked_logits(
    model,
    tokenizer,
    query: str,
    prompts: Sequence[str],
    responses: Sequence[str],
    *,
    max_tokens: int,
    batch_size: int = 512,
) -> tuple[np.ndarray, list[str]]:
    """The judge works first: after the judge query it writes (greedy) its own answer up to ``SEP`` or
    ``max_tokens`` tokens, ``SEP`` is appended where it stopped without one, and the score is the token after
    ``SEP``. Returns ((n, vocab) logits of that token, the worked answers)."""
    model.eval()
    stop = tokenizer.convert_tokens_to_ids([SEP, tokenizer.eos_token])
    texts = [judge_text(tokenizer, query, p, r) for p, r in zip(prompts, responses)]
    worked: list[str] = []
    for i in range(0, len(texts), batch_size):
        enc = tokenizer(texts[i : i + batch_size], return_tensors="pt", padding=True, add_special_tokens=False)
        gen = model.generate(
            **enc,
            max_new_tokens=max_tokens,
            do_sample=False,
            eos_token_id=stop,
            pad_token_id=tokenizer.pad_token_id,
            use_cache=True,
        )
        new = tokenizer.batch_decode(gen[:, enc["input_ids"].shape[1] :], skip_special_tokens=True)
        worked += [w.split(SEP, 1)[0] for w in new]
    logits = next_token_logits(model, tokenizer, query, prompts, responses, batch_size=batch_size, worked=worked)
    return logits, worked


def digit_ids(tokenizer, digits: str = DIGITS) -> list[int]:
    return tokenizer.convert_tokens_to_ids(list(digits))


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(-1, keepdims=True)


def expected_scores(logits: np.ndarray, ids: Sequence[int]) -> np.ndarray:
    """E[score] under the next-token distribution renormalised over the digits 0..len(ids)−1."""
    p = _softmax(np.asarray(logits, dtype=float)[:, list(ids)])
    return p @ np.arange(len(ids), dtype=float)


def digit_mass(logits: np.ndarray, ids: Sequence[int]) -> np.ndarray:
    """Probability the next token is a digit at all (1 − the chance an answer is unparsable)."""
    return _softmax(np.asarray(logits, dtype=float))[:, list(ids)].sum(-1)


def sampled_scores(logits: np.ndarray, ids: Sequence[int], *, n: int, temperature: float, seed: int) -> np.ndarray:
    """Mean of ``n`` judgments drawn at ``temperature`` from the full next-token distribution; a draw that is not a
    digit is unparsable and discarded (lucidrains returns None; card Pitfalls); all ``n`` unparsable → NaN.
    Temperature 0 is greedy: every draw is the argmax."""
    z = np.asarray(logits, dtype=float)
    value = np.full(z.shape[1], np.nan)
    value[list(ids)] = np.arange(len(ids), dtype=float)
    if temperature <= 0:
        draws = np.repeat(z.argmax(-1)[:, None], n, axis=1)
    else:
        p = _softmax(z / temperature)
        u = np.random.default_rng(seed).random((z.shape[0], n))
        draws = np.minimum((p.cumsum(-1)[:, None, :] < u[:, :, None]).sum(-1), z.shape[1] - 1)
    v = value[draws]
    ok = ~np.isnan(v)
    with np.errstate(invalid="ignore"):
        return np.where(ok.any(1), np.nansum(v, 1) / np.maximum(ok.sum(1), 1), np.nan)


def eft_rows(
    tokenizer,
    query: str,
    prompts: Sequence[str],
    responses: Sequence[str],
    targets: Sequence[int],
    ift_prompts: Sequence[str],
    ift_responses: Sequence[str],
    worked: Sequence[str] | None = None,
) -> dict:
    """Prompt–completion rows (strings) for TRL's SFTTrainer: EFT rows "x y <u>score?" → digit (or, with
    ``worked`` answers, → answer "=" digit), then IFT rows "x <a>" → y (Self-Rewarding's M_1 = SFT on IFT ∪ EFT)."""
    if worked is not None and (len(worked) != len(targets) or any(SEP in w for w in worked)):
        raise ValueError(f"need one worked answer per EFT row, none containing {SEP!r}")
    head = [f"{w}{SEP}" for w in worked] if worked is not None else [""] * len(targets)
    rows = {
        "prompt": [judge_text(tokenizer, query, p, r) for p, r in zip(prompts, responses)],
        "completion": [h + DIGITS[int(t)] for h, t in zip(head, targets)],
    }
    rows["prompt"] += [
        tokenizer.apply_chat_template(chat(p), tokenize=False, add_generation_prompt=True) for p in ift_prompts
    ]
    rows["completion"] += list(ift_responses)
    return rows


def _pair_hits(scores, truth) -> tuple[np.ndarray, np.ndarray]:
    """Per prompt: (agreements, pairs) over ordered pairs of samples with different ``truth``; a tie in
    ``scores`` counts half, NaN scores are left out."""
    s, q = np.asarray(scores, dtype=float), np.asarray(truth, dtype=float)
    dq = np.sign(q[:, :, None] - q[:, None, :])
    ds = np.sign(s[:, :, None] - s[:, None, :])
    m = (dq != 0) & ~np.isnan(ds)
    return (((ds == dq) + 0.5 * (ds == 0)) * m).sum((1, 2)), m.sum((1, 2))


def pair_accuracy(scores, truth) -> float:
    """Share of same-prompt pairs of samples with different ``truth`` that ``scores`` order the same way.
    ``scores``/``truth``: (prompts, samples)."""
    hit, n = _pair_hits(scores, truth)
    return float(hit.sum() / max(n.sum(), 1))


def per_prompt_pair_accuracy(scores, truth) -> np.ndarray:
    """``pair_accuracy`` per prompt (NaN where a prompt has no pair with different truth)."""
    hit, n = _pair_hits(scores, truth)
    return np.where(n > 0, hit / np.maximum(n, 1), np.nan)
