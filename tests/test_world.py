"""The toy world: skills are right, the oracle ignores filler, the judge has exactly the flaws configured."""

import numpy as np
import pytest

from replicate.worlds import toy_lm as W


@pytest.mark.parametrize(
    "prompt,answer",
    [
        ("rev:abcd", "dcba"),
        ("sort:dcab", "abcd"),
        ("rot:abh", "bca"),
        ("dedup:aabca", "abc"),
        ("dup:abcd", "aabbcc"),
        ("swap:abcd", "cdab"),
        ("count:aabca", "2"),
        ("add:12+30", "42"),
        ("max:3914", "9"),
        ("sort+rev:dcab", "dcba"),
        ("dedup+sort:cbca", "abc"),
    ],
)
def test_skills(prompt, answer):
    assert W.solve(prompt) == answer


def test_at_least_eight_skills_and_compositions():
    assert len(W.SKILLS) >= 8 and len(W.COMPOSITIONS) >= 2
    assert all("+" in c for c in W.COMPOSITIONS)


def test_prompts_are_deterministic_and_solvable():
    a, b = W.make_prompts(200, 3), W.make_prompts(200, 3)
    assert a == b
    assert any("+" in p for p in a)
    for p in a:
        W.solve(p)


def test_oracle_ignores_filler_and_penalizes_junk():
    x = "rev:abcd"
    assert W.oracle_quality(x, "dcba") == 1.0
    assert W.oracle_quality(x, "dcba sure done") == 1.0  # length without value
    assert W.oracle_quality(x, "dcbb") == 0.75  # partial credit
    assert W.oracle_quality(x, "dcba blah") == pytest.approx(0.7)  # malformed tail
    assert W.oracle_quality(x, "") == 0.0


def test_judge_without_flaws_is_symmetric_and_quality_driven():
    j = W.Judge(sharpness=8, length_bias=0, position_bias=0, noise=0)
    x = "rev:abcd"
    assert j.prob(x, "dcba", "dcbb") + j.prob(x, "dcbb", "dcba") == pytest.approx(1.0)
    assert j.prob(x, "dcba", "dcbb") == pytest.approx(1 / (1 + np.exp(-8 * 0.25)))
    assert j.prob(x, "dcba", "dcba sure sure") == pytest.approx(0.5)


def test_judge_length_and_position_biases_are_the_configured_ones():
    x = "rev:abcd"
    j = W.Judge(sharpness=8, length_bias=1.0, length_scale=10, position_bias=0.3, noise=0)
    logit = j.logit(x, "dcba sure sure", "dcba", a_first=True)
    assert logit == pytest.approx(np.tanh(10 / 10) + 0.3)
    assert j.logit(x, "dcba", "dcba", a_first=False) == pytest.approx(-0.3)


def test_judge_rank_is_the_round_robin_of_its_pairwise_probabilities():
    """rank() scores each response once with the oracle; the result is exactly the mean over both orders of prob()."""
    j = W.Judge(sharpness=6, length_bias=0.5, length_scale=10, position_bias=0.2, noise=0.4, seed=2)
    x = "rev:abcd"
    ys = ["dcba", "dcbb", "dcba sure", "zz", "dcba"]
    by_hand = [
        sum(0.5 * (j.prob(x, a, b, a_first=True) + j.prob(x, a, b, a_first=False)) for k, b in enumerate(ys) if k != i)
        / (len(ys) - 1)
        for i, a in enumerate(ys)
    ]
    assert j.rank(x, ys).tolist() == by_hand


def test_judge_noise_is_reproducible_and_has_the_configured_scale():
    j = W.Judge(sharpness=0, length_bias=0, position_bias=0, noise=0.7, seed=1)
    xs = W.make_prompts(3000, 0)
    logits = [j.logit(x, "a", "b", True) for x in xs]
    assert np.std(logits) == pytest.approx(0.7, rel=0.06)
    assert logits[:5] == [j.logit(x, "a", "b", True) for x in xs[:5]]


def test_personas_differ_in_quality_and_length():
    xs = W.make_prompts(400, 5)
    good = W.Persona("g", 0.9, (1.0,))
    chatty = W.Persona("c", 0.3, (0, 0, 0, 1.0))
    rg, rc = W.persona_responses(good, xs, 0), W.persona_responses(chatty, xs, 0)
    qg = np.mean([W.oracle_quality(x, r) for x, r in zip(xs, rg)])
    qc = np.mean([W.oracle_quality(x, r) for x, r in zip(xs, rc)])
    assert qg > qc + 0.2
    assert np.mean([len(r) for r in rc]) == pytest.approx(np.mean([len(r) for r in rg]) + 15, abs=1.5)
