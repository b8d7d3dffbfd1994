"""Instruct-SkillMix's stages 1–2 in the toy world: the skill inventory, random k-skill combinations, their prompts,
held-out skill-pair prompts and shirker answers (pure functions of a seed)."""

from __future__ import annotations

import numpy as np

from ...core.config import ConfigError
from ...worlds.toy_lm import FILLERS, OTHER_SKILLS, WORD_SKILLS, make_prompts, random_word, solve

# ``random_word`` is the world's word distribution (3–5 letters), imported rather than copied so that skill-pair prompts
# look like the world's own.


# The one skill list every arm draws from, as the paper draws k = 1 and k = 2 from one skills.txt (card, stage 2): the
# world's composable (word) skills, the only ones ``solve`` can chain into pairs. count/add/max stay out of every
# arm's data; the evaluation prompts that need them measure what continued SFT forgets (``uncovered``).
INVENTORY = tuple(WORD_SKILLS)
PAIR_SKILLS = INVENTORY


SKILL_PAIRS = tuple((a, b) for a in PAIR_SKILLS for b in PAIR_SKILLS if a != b)  # 30 ordered pairs


def skills_of(prompt: str) -> tuple[str, ...]:
    """The skills a prompt needs, in order (``"sort+rev:abc"`` → ``("sort", "rev")``)."""
    return tuple(prompt.split(":", 1)[0].split("+"))


def is_composition(prompt: str) -> bool:
    return len(skills_of(prompt)) > 1


def in_inventory(prompt: str) -> bool:
    """Whether every skill the prompt needs is in ``INVENTORY`` (what the arms' data can cover)."""
    return all(s in INVENTORY for s in skills_of(prompt))


def skill_inventory(k: int) -> tuple[str, ...]:
    """Stage 1: the skill list a k-combination is drawn from — the same ``INVENTORY`` for every k, as in the paper."""
    if k not in (1, 2):
        raise ConfigError(f"the toy world composes at most two skills per prompt (k ∈ {{1, 2}}), got k={k}")
    return INVENTORY


def sample_combinations(n: int, k: int, seed: int) -> list[tuple[str, ...]]:
    """``get_combinations`` of 1_generate_data.py: shuffle the global skill list in place and take the first k, n
    times. Combinations can repeat and come in random order (card Pitfalls)."""
    skills = list(skill_inventory(k))
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        rng.shuffle(skills)
        out.append(tuple(skills[:k]))
    return out


def combination_prompt(combo: tuple[str, ...], rng: np.random.Generator) -> str:
    """A prompt that needs every skill of ``combo`` (applied left to right, as ``solve`` does)."""
    if len(combo) == 1 and combo[0] in OTHER_SKILLS:
        return f"{combo[0]}:{OTHER_SKILLS[combo[0]][0](rng)}"
    if not all(s in WORD_SKILLS for s in combo):
        raise ValueError(f"only word skills compose, got {combo}")
    return f"{'+'.join(combo)}:{random_word(rng)}"


def skillmix_prompts(n: int, k: int, seed: int, exclude: set = frozenset()) -> tuple[list[str], list[tuple]]:
    """n prompts of random k-combinations, none in ``exclude`` (held-out prompts are never trained on)."""
    rng = np.random.default_rng(seed + 1)
    prompts, combos = [], sample_combinations(n, k, seed)
    for c in combos:
        p = combination_prompt(c, rng)
        while p in exclude:
            p = combination_prompt(c, rng)
        prompts.append(p)
    return prompts, combos


def plain_prompts(n: int, seed: int, exclude: set = frozenset()) -> list[str]:
    """n prompts of the world's everyday mix (``make_prompts``: skewed to its six fixed compositions and single skills)
    restricted to ``INVENTORY``, none in ``exclude``: the plain mix covers the same skills as the ISM arms."""
    for m in (4 * n, 16 * n, 64 * n):  # ≈ 3/4 of the everyday mix is in the inventory; the same stream, longer
        out = [p for p in make_prompts(m, seed) if p not in exclude and in_inventory(p)][:n]
        if len(out) == n:
            return out
    raise ValueError(f"only {len(out)} of {n} everyday prompts are in the inventory and not excluded")


def pair_eval_prompts(n: int, seed: int) -> list[str]:
    """Held-out skill-pair prompts, balanced over the 30 pairs (n // 30 each, the rest to the first pairs), distinct."""
    rng = np.random.default_rng(seed)
    out, seen = [], set()
    for i in range(n):
        combo = SKILL_PAIRS[i % len(SKILL_PAIRS)]
        p = combination_prompt(combo, rng)
        while p in seen:
            p = combination_prompt(combo, rng)
        seen.add(p)
        out.append(p)
    return out


def shirker_response(prompt: str, kind: str, rng: np.random.Generator, filler_units: int = 4) -> str:
    """A low-quality answer (2_generate_junk_data.py). ``junk``: lazy and long — the input echoed back unprocessed
    followed by filler; ``brevity``: cut short — the first half of the correct answer."""
    if kind == "junk":
        return prompt.split(":", 1)[1].replace(" ", "") + "".join(rng.choice(FILLERS) for _ in range(filler_units))
    if kind == "brevity":
        truth = solve(prompt)
        return truth[: max(1, len(truth) // 2)]
    raise ValueError(f"shirker kind must be junk or brevity, got {kind!r}")


def with_shirkers(
    prompts, responses, share: float, kind: str, seed: int, filler_units: int = 4
) -> tuple[list, list[bool]]:
    """Replace the responses of the first round(share·n) examples (the paper regenerates the first 200 of 1000)."""
    m = int(round(share * len(prompts)))
    rng = np.random.default_rng(seed)
    out = [
        shirker_response(p, kind, rng, filler_units) if i < m else r
        for i, (p, r) in enumerate(zip(prompts, responses))
    ]
    return out, [i < m for i in range(len(prompts))]


def coverage(combos) -> np.ndarray:
    """Counts of (first skill, second skill) over k = 2 combinations: rows and columns in ``PAIR_SKILLS`` order."""
    idx = {s: i for i, s in enumerate(PAIR_SKILLS)}
    c = np.zeros((len(PAIR_SKILLS), len(PAIR_SKILLS)), dtype=int)
    for a, b in combos:
        c[idx[a], idx[b]] += 1
    return c
