"""AutoRule's three LLM stages and its verifier, with toy stand-ins for the LLM calls (card, Objective):

    stated reasons (Stage 1) → per-chain rules (Stage 2) → merged rule set MR (Stage 3) → verifier s_k(x, y) ∈ {0, 1}
    → r_RA(x, y) = (1/K) Σ_k s_k(x, y)

What is real and what is a stand-in:

* **Stage 1, reasoning chains (stand-in for the reasoning LLM).** The toy judge's logit is a sum of known terms
  (``judge_terms``: quality, verbosity, presentation order, noise). The chain states, in template English, the terms
  that pushed the judge towards the chosen response (largest first), each as the concrete property that caused it:
  a quality difference as the answer properties the chosen has and the rejected lacks, the verbosity term as
  "adds words after its answer", the order term as "was shown first/second", noise as a vague "reads better".
  So the reasons are true to what drove each label, including the judge's flaws — as a faithful reasoning model
  explaining a biased annotator would be. Paraphrases are drawn at random, so later stages see varied wording.
* **Stage 2, extraction (real text processing, no lexicon).** Each sentence's clause about the chosen response
  becomes a rule by replacing its subject: "Response A gives the exact correct answer, while B ..." → "The
  response gives the exact correct answer." Comparatives (…"than"…) are dropped as not checkable on one response.
* **Stage 3, merging (stand-in for the LLM's semantic dedup).** Rules are clustered greedily by the Jaccard
  similarity of their content words after a small synonym map; a cluster is named by its most frequent wording and
  kept if it appears in at least ``min_support`` of the chains and the verifier can check it (card, Pitfalls:
  "filter vague, non-verifiable rules").
* **Verifier (stand-in for the LLM verifier V_θ).** A rule text is mapped to a check on (x, y) by its content
  words; a rule no check matches is unverifiable. Each answer is flipped with probability ``flip`` (seeded by
  content) to mimic an imperfect LLM verifier (card, Scaled-down idea: "optionally with 10 % flip noise").
  Checking correctness computes the toy task's answer, which an LLM verifier would have to work out: with
  ``flip`` = 0 the correctness rule is exact, which an 8B verifier is not — the reason ``flip`` defaults above 0.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtri

from ...worlds.toy_lm import Judge, answer_similarity, oracle_quality, solve, split_response, unit_hash, valid_tail

# ---------------------------------------------------------------------------------------------
# What drove a judge's preference (known truth)


def judge_terms(judge: Judge, prompt: str, a: str, b: str) -> dict:
    """The judge's logit for "a ≻ b" as used by ``Judge.prob(prompt, a, b)`` (presentation order drawn from the
    content), split into its terms: quality α(q_a − q_b), verbosity λ·tanh((|a| − |b|)/s), order ±π, noise ε.
    They sum to ``Judge.logit(prompt, a, b, a_first)``."""
    a_first = unit_hash("order", str(judge.seed), prompt, a, b) < 0.5
    u = unit_hash(str(judge.seed), prompt, a, b, str(a_first))
    return {
        "quality": judge.sharpness * (oracle_quality(prompt, a) - oracle_quality(prompt, b)),
        "length": judge.length_bias * math.tanh((len(a) - len(b)) / judge.length_scale),
        "position": judge.position_bias if a_first else -judge.position_bias,
        "noise": judge.noise * float(ndtri(u)),
        "a_first": a_first,
    }


def answer_properties(prompt: str, response: str) -> dict:
    """The checkable properties of one response the reasons talk about."""
    ans, tail = split_response(response)
    truth = solve(prompt)
    return {
        "correct": ans == truth,
        "right_length": len(ans) == len(truth),
        "mostly_right": answer_similarity(ans, truth) >= 0.5,
        "clean": not tail or valid_tail(tail),
        "elaborates": bool(tail),
    }


# Paraphrases per property: (what the chosen does, what the rejected does). The first-person subject is replaced
# by Stage 2, so every phrasing must read as "Response A <clause>".
PHRASES = {
    "correct": [
        ("gives the exact correct answer", "gets the answer wrong"),
        ("has the right answer", "has a wrong answer"),
        ("states the correct result exactly", "makes a mistake in the result"),
    ],
    "right_length": [
        ("has an answer of the expected length", "has an answer with missing or extra characters"),
        ("has an answer with the expected number of characters", "has too many or too few characters"),
    ],
    "mostly_right": [
        ("has most of the answer's characters correct", "is mostly wrong"),
        ("gets most characters of the answer right", "gets most characters wrong"),
    ],
    "clean": [
        ("has no junk after the answer", "ends in garbled text"),
        ("contains no garbled text after the answer", "has junk after its answer"),
    ],
    "elaborates": [
        ("adds extra words after its answer", "stops at the bare answer"),
        ("includes some extra words beyond the answer", "gives only the bare answer"),
    ],
}
VAGUE = {
    "position_first": "was shown first",
    "position_second": "was shown second",
    "noise": ["reads better overall", "is more helpful in general", "feels like the better response"],
}
QUALITY_ORDER = ("correct", "right_length", "mostly_right", "clean")


def reasoning_chain(
    judge: Judge, prompt: str, chosen: str, rejected: str, rng: np.random.Generator, min_term: float = 0.25
) -> str:
    """Stage 1 stand-in: why ``chosen`` was preferred, from the judge terms that favoured it by more than
    ``min_term`` (logit units), largest first. ``chosen`` is "Response A", ``rejected`` "Response B"."""
    t = judge_terms(judge, prompt, chosen, rejected)
    pa, pb = answer_properties(prompt, chosen), answer_properties(prompt, rejected)
    terms = sorted(
        ((k, t[k]) for k in ("quality", "length", "position", "noise") if t[k] > min_term), key=lambda kv: -kv[1]
    )
    sents = []
    pick = lambda opts: opts[int(rng.integers(len(opts)))]
    for k, _ in terms:
        if k == "quality":
            diff = [p for p in QUALITY_ORDER if pa[p] and not pb[p]]
            if not diff:
                sents.append("Response A's answer is closer to the correct one than Response B's.")
            for p in diff:
                good, bad = pick(PHRASES[p])
                sents.append(f"Response A {good}, while Response B {bad}.")
        elif k == "length":
            if pa["elaborates"] and not pb["elaborates"]:
                good, bad = pick(PHRASES["elaborates"])
                sents.append(f"Response A {good}, while Response B {bad}.")
            else:
                sents.append("Response A is longer and more detailed than Response B.")
        elif k == "position":
            sents.append(f"Response A {VAGUE['position_first' if t['a_first'] else 'position_second']}.")
        else:
            sents.append(f"Response A {pick(VAGUE['noise'])}.")
    if not sents:
        sents.append("Both responses are similar; Response A is slightly preferred.")
    return " ".join(sents)


# ---------------------------------------------------------------------------------------------
# Stage 2: rules from one chain


_SUBJECT = re.compile(r"^Response A(?:'s)?\s+(.*)$")


def extract_rules(chain: str) -> list[str]:
    """Stage 2: one rule per sentence that says something about Response A on its own: the clause before
    ", while" with its subject replaced by "The response". Comparative sentences ("than") and sentences about
    both responses are not rules on a single response and are dropped."""
    rules = []
    for sent in re.split(r"(?<=\.)\s+", chain.strip()):
        sent = sent.strip().rstrip(".")
        clause = sent.split(", while")[0]
        m = _SUBJECT.match(clause)
        if not m or " than " in f" {clause} ":
            continue
        rules.append(f"The response {m.group(1).strip()}.")
    return list(dict.fromkeys(rules))


# ---------------------------------------------------------------------------------------------
# Stage 3: merging


STOP = {
    "the",
    "a",
    "an",
    "response",
    "has",
    "is",
    "its",
    "it",
    "of",
    "with",
    "that",
    "some",
    "no",
    "not",
    "in",
    "to",
    "and",
    "or",
    "gives",
    "states",
    "contains",
    "includes",
    "gets",
    "after",
    "beyond",
    "was",
    "more",
    "than",
    "one",
    "like",
    "s",
}
SYNONYMS = {
    "right": "correct",
    "exactly": "exact",
    "result": "answer",
    "junk": "garbled",
    "text": "garbled",
    "characters": "character",
    "words": "word",
    "number": "length",
    "adds": "extra",
    "most": "mostly",
}
NEGATIONS = {"no", "not", "never", "without"}


def content_words(rule: str) -> frozenset:
    """The rule's content words after lower-casing, the synonym map and stop-word removal; a negation is kept as
    a marker so "has no junk" and "has junk" never merge."""
    words = re.findall(r"[a-z]+", rule.lower())
    out = {SYNONYMS.get(w, w) for w in words if w not in STOP}
    if NEGATIONS & set(words):
        out.add("<neg>")
    return frozenset(out)


def jaccard(a: frozenset, b: frozenset) -> float:
    """Content-word overlap; 0 when one rule is negated and the other is not (opposites never merge)."""
    if ("<neg>" in a) != ("<neg>" in b):
        return 0.0
    return len(a & b) / len(a | b) if a | b else 1.0


@dataclass(frozen=True)
class MergedRule:
    text: str  # the cluster's most frequent wording
    support: float  # share of chains that state any rule of the cluster
    variants: tuple  # every wording merged into it
    check: str | None  # the verifier's check for it (None: unverifiable)


def merge_rules(
    per_chain: Sequence[Sequence[str]],
    *,
    threshold: float = 0.6,
    min_support: float = 0.05,
    max_rules: int | None = None,
) -> tuple[list[MergedRule], list[MergedRule]]:
    """Stage 3: greedy clustering by content-word Jaccard ≥ ``threshold`` (most frequent wordings first, each
    joining the first cluster it is similar enough to). Returns (kept, dropped): kept = verifiable clusters stated
    in ≥ ``min_support`` of the chains, most supported first (at most ``max_rules``)."""
    n = max(len(per_chain), 1)
    freq = Counter(r for rules in per_chain for r in rules)
    clusters: list[dict] = []
    for rule, _ in sorted(freq.items(), key=lambda kv: (-kv[1], kv[0])):
        w = content_words(rule)
        home = next((c for c in clusters if jaccard(w, c["words"]) >= threshold), None)
        if home is None:
            clusters.append({"words": w, "text": rule, "variants": [rule]})
        else:
            home["variants"].append(rule)
    kept, dropped = [], []
    for c in clusters:
        members = set(c["variants"])
        support = sum(bool(members & set(rules)) for rules in per_chain) / n
        m = MergedRule(c["text"], support, tuple(c["variants"]), check_for(c["text"]))
        (kept if m.check is not None and support >= min_support else dropped).append(m)
    kept.sort(key=lambda m: (-m.support, m.text))
    if max_rules is not None:
        dropped += kept[max_rules:]
        kept = kept[:max_rules]
    return kept, dropped


# ---------------------------------------------------------------------------------------------
# The verifier


# A check applies when all of its content words are in the rule (after the synonym map); the most specific
# (most words) wins. The checks themselves are the world's properties (``answer_properties``).
CHECKS = (
    ("correct", {"correct", "answer"}),
    ("right_length", {"expected", "length"}),
    ("mostly_right", {"mostly", "character", "correct"}),
    ("clean", {"<neg>", "garbled"}),
    ("elaborates", {"extra", "word"}),
)


def check_for(rule: str) -> str | None:
    """Which property the verifier checks for a rule text, or None when it cannot check it."""
    w = content_words(rule)
    hits = [(len(need), name) for name, need in CHECKS if need <= w]
    if not hits:
        return None
    best = max(h[0] for h in hits)
    names = {n for k, n in hits if k == best}
    return names.pop() if len(names) == 1 else None  # ambiguous: unverifiable


def verify(
    rules: Sequence[MergedRule], prompts: Sequence[str], responses: Sequence[str], *, flip: float = 0.0, seed: int = 0
) -> np.ndarray:
    """s_k(x, y) ∈ {0, 1} of shape (len(responses), K): each rule's check, flipped with probability ``flip``
    (seeded by the rule, prompt and response, so a verdict is reproducible)."""
    out = np.zeros((len(responses), len(rules)), dtype=float)
    for i, (p, y) in enumerate(zip(prompts, responses)):
        props = answer_properties(p, y)
        for k, r in enumerate(rules):
            s = bool(props[r.check])
            if flip > 0 and unit_hash("verifier", str(seed), r.text, p, y) < flip:
                s = not s
            out[i, k] = float(s)
    return out


def rule_reward(
    rules: Sequence[MergedRule], prompts: Sequence[str], responses: Sequence[str], *, flip: float = 0.0, seed: int = 0
) -> np.ndarray:
    """r_RA(x, y) = (1/K) Σ_k s_k(x, y) ∈ [0, 1] (card, Rule reward)."""
    if not rules:
        raise ValueError("the merged rule set is empty: no rule reward")
    return verify(rules, prompts, responses, flip=flip, seed=seed).mean(1)


def rule_agreement(rules: Sequence[MergedRule], pairs: dict, *, flip: float = 0.0, seed: int = 0) -> dict:
    """Card, Algorithm step 3: the share of pairs where r_RA(chosen) > r_RA(rejected), among pairs where they
    differ, and the per-pair agreement (1/0) for a bootstrap; ``ties``: share of pairs with equal r_RA."""
    rc = rule_reward(rules, pairs["prompt"], pairs["chosen"], flip=flip, seed=seed)
    rr = rule_reward(rules, pairs["prompt"], pairs["rejected"], flip=flip, seed=seed)
    m = rc != rr
    agree = (rc[m] > rr[m]).astype(float)
    return {
        "agreement": float(agree.mean()) if m.any() else float("nan"),
        "ties": float(1 - m.mean()),
        "n": int(m.sum()),
        "per_pair": agree.tolist(),
    }


def extract_rule_set(
    judge: Judge,
    pairs: dict,
    *,
    seed: int,
    min_term: float,
    threshold: float,
    min_support: float,
    max_rules: int | None = None,
) -> dict:
    """Stages 1–3 on judge-labelled pairs: chains, per-chain rules, merged set (kept and dropped)."""
    rng = np.random.default_rng(seed)
    chains = [
        reasoning_chain(judge, p, c, r, rng, min_term)
        for p, c, r in zip(pairs["prompt"], pairs["chosen"], pairs["rejected"])
    ]
    per_chain = [extract_rules(c) for c in chains]
    kept, dropped = merge_rules(per_chain, threshold=threshold, min_support=min_support, max_rules=max_rules)
    as_dict = lambda m: {"text": m.text, "support": m.support, "variants": list(m.variants), "check": m.check}
    return {
        "chains": chains,
        "per_chain": per_chain,
        "rules": [as_dict(m) for m in kept],
        "dropped": [as_dict(m) for m in dropped],
    }


def rules_from_dict(rows: Sequence[dict]) -> list[MergedRule]:
    return [MergedRule(r["text"], float(r["support"]), tuple(r["variants"]), r["check"]) for r in rows]
