"""Adaptive Inference-Time Compute: the self-evaluation target, the selection rules on fixed scores
(closed forms), config errors, and determinism of the analysis."""

import math

import numpy as np
import pytest

from replicate.core.config import ConfigError, compose
from replicate.models.search import (
    adaptive_sampling,
    best_of_n,
    expected_samples,
    pick,
    prune_then_select,
    pruned_token_share,
    round_ends,
)
from replicate.papers import adaptive_compute as exp
from replicate.papers.adaptive_compute import claims as ac
from replicate.worlds.toy_lm import Judge


def test_target_is_share_of_other_samples_not_better():
    q = np.array([[0.2, 0.5, 0.5, 1.0], [0.3, 0.3, 0.3, 0.3]])
    p = exp.not_better_share(q)
    # sample 0 of prompt 0: no other is ≤ 0.2 → a fresh sample is better with probability 1
    np.testing.assert_allclose(p[0], [0.0, 2 / 3, 2 / 3, 1.0])
    np.testing.assert_allclose(p[1], [1.0, 1.0, 1.0, 1.0])  # ties count as not better
    np.testing.assert_allclose(ac.not_better_share(q), p)
    with pytest.raises(ValueError):
        exp.not_better_share(np.array([[0.5]]))


def test_judge_target_matches_bradley_terry_closed_form():
    j = Judge(sharpness=4.0, length_bias=0.0, position_bias=0.0, noise=0.0)
    prompt, ys = "rev:abc", ["cba", "cbb", "zzz"]  # oracle q = 1, 2/3, 0
    qs = np.array([1.0, 2 / 3, 0.0])
    m = exp.judge_matrix(j, prompt, ys)
    sig = lambda z: 1 / (1 + math.exp(-z))
    want = [1 - np.mean([sig(4 * (qs[k] - qs[i])) for k in range(3) if k != i]) for i in range(3)]
    np.testing.assert_allclose(exp.judge_not_better(m), want, atol=1e-12)
    np.testing.assert_allclose(exp.judge_rank(m), j.rank(prompt, ys), atol=1e-12)


def test_best_of_n_and_pick():
    s = np.array([[0.1, 0.9, 0.9, 0.2], [0.5, 0.4, 0.3, 0.8]])
    assert best_of_n(s).tolist() == [1, 3]  # ties go to the earliest sample
    assert best_of_n(s, 1).tolist() == [0, 0]
    assert pick(np.arange(8).reshape(2, 4), [1, 3]).tolist() == [1, 7]
    with pytest.raises(ValueError):
        best_of_n(s, 5)


def test_adaptive_stopping_on_fixed_scores():
    rounds = [1, 1, 2, 4, 8]
    assert round_ends(rounds).tolist() == [1, 2, 4, 8, 16]
    s = np.zeros((3, 16))
    s[0, 0] = 0.9  # stops after the first sample
    s[1, 3] = 0.95  # first ≥ τ in round 3 (samples 3–4) → 4 samples
    s[2, :] = 0.1  # never → all 16, best = first
    s[2, 10] = 0.5
    ch, used = adaptive_sampling(s, rounds, tau=0.8)
    assert used.tolist() == [1, 4, 16] and ch.tolist() == [0, 3, 10]
    # τ above every score: always the full budget; τ ≤ min: always one sample
    assert adaptive_sampling(s, rounds, 2.0)[1].tolist() == [16, 16, 16]
    assert adaptive_sampling(s, rounds, 0.0)[1].tolist() == [1, 1, 1]


def test_expected_samples_closed_form():
    rounds = [1, 1, 2, 4, 8]
    # stop after each round with probability ½: 1 + ½ + ¼·2 + ⅛·4 + ¹⁄₁₆·8 = 3
    assert expected_samples([0.5] * 4, rounds) == pytest.approx(3.0)
    assert expected_samples([1.0] * 4, rounds) == pytest.approx(1.0)
    assert expected_samples([0.0] * 4, rounds) == pytest.approx(16.0)
    # i.i.d. U(0,1) scores: P(max of the first e < τ) = τ^e, so E[n] = Σ size_r τ^{e_{r−1}}
    tau, ends = 0.8, np.cumsum(rounds)
    closed = sum(r * tau ** (ends[i - 1] if i else 0) for i, r in enumerate(rounds))
    cond = [1 - tau ** (ends[i] - (ends[i - 1] if i else 0)) for i in range(len(rounds))]
    assert expected_samples(cond, rounds) == pytest.approx(closed)
    sim = adaptive_sampling(np.random.default_rng(0).random((40000, 16)), rounds, tau)[1].mean()
    assert sim == pytest.approx(closed, abs=0.08)


def test_pruning_on_fixed_scores():
    prefix = np.array([[0.9, 0.1, 0.8, 0.2]])
    full = np.array([[0.3, 1.0, 0.7, 0.9]])
    ch, kept = prune_then_select(prefix, full, keep=2)
    assert kept.tolist() == [[True, False, True, False]]  # the best full response (index 1) was pruned
    assert ch.tolist() == [2]
    lengths = np.array([[10, 10, 10, 2]])
    # kept: 10 + 10; pruned after 3 tokens: 3 + min(2, 3) = 5 → 25 of 32 spent
    assert pruned_token_share(lengths, kept, 3) == pytest.approx(1 - 25 / 32)
    with pytest.raises(ValueError):
        prune_then_select(prefix, full, keep=0)


def test_self_eval_text_appends_the_query_after_a_prefix_or_a_complete_response():
    from replicate.worlds.tokenizer import build_tokenizer

    tok = build_tokenizer()
    full = exp.self_eval_text(tok, "<u>redo?", "rev:abc", "cba sure")
    part = exp.self_eval_text(tok, "<u>redo?", "rev:abc", "cba sure", prefix_tokens=2)
    assert full == "<s><u>rev:abc<a>cba sure<e><u>redo?"
    assert part == "<s><u>rev:abc<a>cb<u>redo?"
    ids = tok(part, add_special_tokens=False)["input_ids"]
    assert tok.convert_ids_to_tokens(ids)[-1] == "?" and ids.count(tok.bos_token_id) == 1


@pytest.mark.parametrize(
    "override, msg",
    [
        ("paper.adaptive.rounds=[1,1,2,4]", "sum to"),
        ("paper.adaptive.temperatures=[0.2,0.5]", "one non-negative temperature"),
        ("paper.prune.shares=[1.0]", "prune share"),
        ("paper.prune.at_tokens=0", "prefix lengths"),
        ("paper.prompts.eval.ci=100000", "paper.prompts.eval"),
        ("scale=paper", "scale=paper"),
    ],
)
def test_bad_config_raises_before_compute(override, msg):
    with pytest.raises(ConfigError, match=msg):
        exp.validate(compose("adaptive-compute", ["scale=ci", override], check_hardware=False))


def _fake_runs(seed: int = 0, n_prompts: int = 40, gap: float = 0.3, learnable: bool = True) -> dict:
    """Scores with known structure: the self-evaluation is the oracle's target plus noise (``learnable=False``:
    the control evaluator trained on the oracle's target is noise alone, the capability absent)."""
    rng = np.random.default_rng(seed)
    runs = {}
    for sd in (1, 2, 3):  # three seeds: fewer leave a claim inconclusive (no interval over training noise)
        r = {}
        for split in ("dev", "eval"):
            q = rng.random((n_prompts, 16)) * gap
            qa = rng.random((n_prompts, 16)) * gap
            noisy = lambda x: np.clip(ac.not_better_share(x) + 0.1 * rng.standard_normal(x.shape), 0, 1)
            sc = {
                "fixed.q": q.tolist(),
                "annealed.q": qa.tolist(),
                "fixed.judge": q.tolist(),
                "fixed.rm": q.tolist(),
                "fixed.self_eval": noisy(q).tolist(),
                "annealed.self_eval": noisy(qa).tolist(),
                "fixed.self_eval@3": noisy(q).tolist(),
                "fixed.self_eval_oracle": (noisy(q) if learnable else rng.random(q.shape)).tolist(),
                "fixed.target_judge": ac.not_better_share(q).tolist(),
                "fixed.len": np.full((n_prompts, 16), 12).tolist(),
                "own_q": q[:, 0].tolist(),
                "gen_samples": 16 * n_prompts,
                "gen_seconds": 1.0,
                "self_eval_seconds": 1.0,
            }
            r[split] = sc
        runs[sd] = r
    return runs


def test_claims_are_deterministic_and_gated_by_the_control():
    cfg = compose("adaptive-compute", ["scale=ci"], check_hardware=False)
    runs = _fake_runs()
    a, b = ac.claims(runs, cfg), ac.claims(_fake_runs(), cfg)
    assert a == b and [c["id"] for c in a] == ["K_selfeval", "K_bon", "PC", "C1", "C2", "C3", "C4"]
    # s tracks the oracle target: both capabilities present, the control and C1 reproduced, nothing gated by a K
    assert [c["verdict"] for c in a[:4]] == ["reproduced"] * 4
    assert not any(c["evidence"].get("gated_by") for c in a)
    assert ac.flat_metrics(runs, cfg) == ac.flat_metrics(_fake_runs(), cfg)
    # no headroom (every sample equal): the control fails and no other claim may be decided
    flat = _fake_runs(gap=0.0)
    gated = ac.claims(flat, cfg)
    assert gated[0]["verdict"] != "reproduced"
    assert all(c["verdict"] == "inconclusive" for c in gated[3:])
    assert "adaptive_random" in " ".join(ac.flat_metrics(runs, cfg)[0])  # annealing apart from the self-evaluator
    assert "adaptive" in ac.render_table({"metrics": ac.flat_metrics(runs, cfg)[0], "seeds": [1, 2, 3]})


def test_capability_controls_gate_what_needs_them():
    cfg = compose("adaptive-compute", ["scale=ci"], check_hardware=False)
    # the oracle-target evaluator learned nothing: C2–C4 read inconclusive for K_selfeval; C1 is judged as measured
    out = {c["id"]: c for c in ac.claims(_fake_runs(learnable=False), cfg)}
    assert out["K_selfeval"]["verdict"] != "reproduced" and out["K_selfeval"]["gates"] == ["C2", "C3", "C4"]
    for cid in ("C2", "C3", "C4"):
        assert "K_selfeval" in out[cid]["evidence"]["gated_by"] and out[cid]["verdict"] == "inconclusive"
    assert "gated_by" not in out["C1"]["evidence"] and out["C1"]["verdict"] == "reproduced"
    # Best-of-16 by the self-evaluation gains nothing (its scores reversed): K_bon absent gates C3 and C4, not C2
    runs = _fake_runs()
    for r in runs.values():
        for split in r.values():
            split["fixed.self_eval"] = (-np.asarray(split["fixed.self_eval"])).tolist()
    out = {c["id"]: c for c in ac.claims(runs, cfg)}
    assert out["K_bon"]["verdict"] == "not reproduced" and out["K_bon"]["gates"] == ["C3", "C4"]
    assert all("K_bon" in out[c]["evidence"]["gated_by"] for c in ("C3", "C4"))
    assert "K_bon" not in out["C2"]["evidence"].get("gated_by", "") and out["C2"]["verdict"] == "not reproduced"


def test_annealing_without_the_self_evaluator():
    """Random scores stop and pick at random: the chosen τ keeps the budget on dev, and the first annealed sample
    alone is the schedule's low-temperature draw."""
    cfg = compose("adaptive-compute", ["scale=ci"], check_hardware=False)
    r = _fake_runs()[1]
    tau = ac.choose_tau(r["dev"], cfg, "annealed", "random")
    assert ac.adaptive(r["dev"], cfg, tau, "annealed", "random")[1].mean() <= float(cfg.paper.adaptive.budget)
    q, used = ac.adaptive(r["eval"], cfg, 1.01, "annealed", "random")  # τ above every score: all 16 drawn
    assert (used == 16).all()
    x = ac.per_seed({1: r}, cfg)[1]
    assert np.array_equal(x["annealed_first.q"], np.asarray(r["eval"]["annealed.q"])[:, 0])
