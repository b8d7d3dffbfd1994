"""The toy instruction world (DESIGN §5): skills with computable answers, an oracle, a flawed judge.

Why a toy world: real 7B runs are out of reach on 2 CPU cores, but every mechanism SimPO and its
baselines act on is present here — answers that are right or partly wrong, filler that adds length
but no value, a judge that (like GPT-4-Turbo) prefers longer answers and the first-shown answer, and
a fixed reference policy that plays AlpacaEval's GPT-4-Turbo baseline. Unlike the papers, we also
know the truth: the oracle quality q(x, y).

A prompt is ``"<skill>:<args>"`` (e.g. ``"sort+rev:dcab"``); a response is an answer optionally
followed by filler units (``"dcba sure done"``). Everything is a pure function of its inputs and a
seed, so datasets and judge labels are reproducible and cacheable.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtri

LETTERS = "abcdefgh"
DIGITS = "0123456789"
FILLERS = (" sure", " done", " okay", " yes!")  # length without value; every unit is 5 characters
FILLER_LEN = 5


def random_word(rng: np.random.Generator, lo: int = 3, hi: int = 5) -> str:
    return "".join(rng.choice(list(LETTERS), size=int(rng.integers(lo, hi + 1))))


def _rot(w: str) -> str:
    return "".join(LETTERS[(LETTERS.index(c) + 1) % len(LETTERS)] for c in w)


def _dedup(w: str) -> str:
    return "".join(dict.fromkeys(w))


def _swap(w: str) -> str:
    h = len(w) // 2
    return w[h:] + w[:h]


# Word skills map a letter string to a letter string and can be composed ("sort+rev").
WORD_SKILLS: dict[str, Callable[[str], str]] = {
    "rev": lambda w: w[::-1],
    "sort": lambda w: "".join(sorted(w)),
    "rot": _rot,
    "dedup": _dedup,
    "dup": lambda w: "".join(c + c for c in w[:3]),
    "swap": _swap,
}


def _count_args(rng):
    w = random_word(rng, 4, 6)
    return f"{rng.choice(list(w))}{w}"  # first letter is the one to count


def _add_args(rng):
    return f"{int(rng.integers(10, 50))}+{int(rng.integers(10, 50))}"


def _max_args(rng):
    return "".join(rng.choice(list(DIGITS), size=4))


OTHER_SKILLS: dict[str, tuple[Callable, Callable[[str], str]]] = {
    "count": (_count_args, lambda a: str(a[1:].count(a[0]))),
    "add": (_add_args, lambda a: str(sum(int(x) for x in a.split("+")))),
    "max": (_max_args, lambda a: max(a)),
}
SKILLS = tuple(WORD_SKILLS) + tuple(OTHER_SKILLS)
COMPOSITIONS = ("sort+rev", "rev+rot", "dedup+sort", "swap+rev", "rot+sort", "dedup+rev")


def solve(prompt: str) -> str:
    """The correct answer for a prompt (raises on malformed prompts)."""
    skill, args = prompt.split(":", 1)
    if skill in OTHER_SKILLS:
        return OTHER_SKILLS[skill][1](args)
    out = args
    for s in skill.split("+"):
        out = WORD_SKILLS[s](out)
    return out


def make_prompt(rng: np.random.Generator, composition_rate: float = 0.25) -> str:
    if rng.random() < composition_rate:
        return f"{rng.choice(COMPOSITIONS)}:{random_word(rng)}"
    skill = str(rng.choice(SKILLS))
    if skill in OTHER_SKILLS:
        return f"{skill}:{OTHER_SKILLS[skill][0](rng)}"
    return f"{skill}:{random_word(rng)}"


def make_prompts(n: int, seed: int, composition_rate: float = 0.25) -> list[str]:
    rng = np.random.default_rng(seed)
    return [make_prompt(rng, composition_rate) for _ in range(n)]


# ---------------------------------------------------------------------------------------------
# Oracle quality


def split_response(response: str) -> tuple[str, str]:
    ans, _, tail = response.partition(" ")
    return ans, (" " + tail if tail else "")


def valid_tail(tail: str) -> bool:
    if len(tail) % FILLER_LEN:
        return False
    return all(tail[i : i + FILLER_LEN] in FILLERS for i in range(0, len(tail), FILLER_LEN))


def answer_similarity(ans: str, truth: str) -> float:
    """Position-wise character agreement, normalized by the longer string: partial credit."""
    if not ans or not truth:
        return 0.0
    same = sum(a == b for a, b in zip(ans, truth))
    return same / max(len(ans), len(truth))


def oracle_quality(prompt: str, response: str, malformed_penalty: float = 0.3) -> float:
    """q(x, y) ∈ [0, 1]: correctness of the answer; filler adds nothing, junk after it costs."""
    ans, tail = split_response(response)
    q = answer_similarity(ans, solve(prompt))
    if tail and not valid_tail(tail):
        q -= malformed_penalty
    return float(min(1.0, max(0.0, q)))


# ---------------------------------------------------------------------------------------------
# Scripted response generators: demonstrators, the UltraFeedback-like pool, the reference policy


def corrupt(answer: str, rng: np.random.Generator, n_edits: int) -> str:
    chars = list(answer)
    alphabet = DIGITS if answer.isdigit() else LETTERS
    for _ in range(n_edits):
        op = rng.integers(3) if len(chars) > 1 else 0
        i = int(rng.integers(len(chars)))
        if op == 0:
            chars[i] = str(rng.choice([c for c in alphabet if c != chars[i]]))
        elif op == 1:
            del chars[i]
        else:
            chars.insert(i, str(rng.choice(list(alphabet))))
    return "".join(chars)


@dataclass(frozen=True)
class Persona:
    """A scripted responder: how often it is right, how many errors otherwise, how verbose."""

    name: str
    p_correct: float
    filler_probs: tuple[float, ...]  # P(number of filler units = k), k = 0..len-1
    max_edits: int = 2

    def respond(self, prompt: str, rng: np.random.Generator) -> str:
        truth = solve(prompt)
        ans = truth if rng.random() < self.p_correct else corrupt(truth, rng, int(rng.integers(1, self.max_edits + 1)))
        k = int(rng.choice(len(self.filler_probs), p=np.asarray(self.filler_probs) / sum(self.filler_probs)))
        return ans + "".join(rng.choice(FILLERS) for _ in range(k))


def persona_responses(persona: Persona, prompts: Sequence[str], seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    return [persona.respond(p, rng) for p in prompts]


def persona_from_cfg(name: str, d) -> Persona:
    return Persona(name, float(d["p_correct"]), tuple(float(x) for x in d["filler_probs"]), int(d.get("max_edits", 2)))


# ---------------------------------------------------------------------------------------------
# The judge: GPT-4-Turbo's stand-in, with every flaw a config value


def unit_hash(*parts: str) -> float:
    """A deterministic U(0,1) from strings: judge noise and presentation order depend on content only."""
    h = hashlib.blake2b("\x1f".join(parts).encode(), digest_size=8).digest()
    return (int.from_bytes(h, "little") + 0.5) / 2**64


@dataclass(frozen=True)
class Judge:
    """P(a ≻ b | a shown first) = σ(α·(q_a − q_b) + λ·tanh((|a| − |b|)/s) + π + ε).

    α (``sharpness``) how much quality matters; λ (``length_bias``) and s (``length_scale``, chars)
    the verbosity bias; π (``position_bias``) the bonus of the first-shown answer; ε ~ N(0, σ²)
    (``noise``) per comparison, seeded by the comparison's content so labels are reproducible.
    """

    sharpness: float = 8.0
    length_bias: float = 1.0
    length_scale: float = 10.0
    position_bias: float = 0.2
    noise: float = 0.5
    seed: int = 0

    def logit(self, prompt: str, a: str, b: str, a_first: bool, q_a: float | None = None, q_b: float | None = None):
        q_a = oracle_quality(prompt, a) if q_a is None else q_a
        q_b = oracle_quality(prompt, b) if q_b is None else q_b
        u = unit_hash(str(self.seed), prompt, a, b, str(a_first))
        eps = self.noise * float(ndtri(u))  # standard normal quantile of a content hash
        pos = self.position_bias if a_first else -self.position_bias
        return (
            self.sharpness * (q_a - q_b)
            + self.length_bias * math.tanh((len(a) - len(b)) / self.length_scale)
            + pos
            + eps
        )

    def prob(
        self,
        prompt: str,
        a: str,
        b: str,
        *,
        a_first: bool | None = None,
        q_a: float | None = None,
        q_b: float | None = None,
    ) -> float:
        """P(a ≻ b). The presentation order is drawn from the content when not given (as AlpacaEval
        randomizes it per example). ``q_a``/``q_b``: the responses' oracle qualities, if already known."""
        if a_first is None:
            a_first = unit_hash("order", str(self.seed), prompt, a, b) < 0.5
        return 1.0 / (1.0 + math.exp(-self.logit(prompt, a, b, a_first, q_a, q_b)))

    def label(self, prompt: str, a: str, b: str) -> bool:
        """A binary preference sampled from prob(): True if a wins."""
        return unit_hash("label", str(self.seed), prompt, a, b) < self.prob(prompt, a, b)

    def rank(self, prompt: str, responses: Sequence[str]) -> np.ndarray:
        """Round-robin pairwise scores (PairRM-style): mean P(y_i ≻ y_j) over j ≠ i, both orders."""
        n = len(responses)
        s = np.zeros(n)
        q = [oracle_quality(prompt, y) for y in responses]  # once per response, not once per comparison
        for i in range(n):
            for j in range(n):
                if i != j:
                    s[i] += 0.5 * (
                        self.prob(prompt, responses[i], responses[j], a_first=True, q_a=q[i], q_b=q[j])
                        + self.prob(prompt, responses[i], responses[j], a_first=False, q_a=q[i], q_b=q[j])
                    )
        return s / max(n - 1, 1)


def judge_from_cfg(d, seed: int) -> Judge:
    return Judge(
        float(d["sharpness"]),
        float(d["length_bias"]),
        float(d["length_scale"]),
        float(d["position_bias"]),
        float(d["noise"]),
        int(seed),
    )
