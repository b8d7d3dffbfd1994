"""AutoRule: the judge's terms and the reasons they produce, rule extraction, merging and the verifier on hand-made
examples; the RL path with the rule reward takes one GRPO step and changes the policy; config errors; determinism
of the rule stages and of the claims on fixed runs."""

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from replicate.core.config import ConfigError, compose
from replicate.papers import autorule as exp
from replicate.papers.autorule import rules as R
from replicate.worlds.toy_lm import Judge, solve

J = Judge(sharpness=8.0, length_bias=1.0, length_scale=10.0, position_bias=-0.17, noise=0.5, seed=3)


def test_judge_terms_sum_to_the_judges_logit_and_probability():
    for x, a, b in [("rev:abc", "cba sure", "cbz"), ("add:12+30", "42", "41 done okay"), ("max:1234", "4", "4 yes!")]:
        t = R.judge_terms(J, x, a, b)
        z = t["quality"] + t["length"] + t["position"] + t["noise"]
        assert z == pytest.approx(J.logit(x, a, b, t["a_first"]))
        assert 1 / (1 + np.exp(-z)) == pytest.approx(J.prob(x, a, b))
    t = R.judge_terms(J, "rev:abc", "cba", "cbz")
    assert t["quality"] == pytest.approx(8.0 * (1 - 2 / 3)) and t["length"] == 0.0


def test_reasons_state_what_drove_the_preference():
    """Noise-free judge without order bias: a correct, longer answer over a wrong bare one is explained by
    correctness (and its sub-properties) and verbosity, and nothing else."""
    j = Judge(sharpness=8.0, length_bias=1.0, position_bias=0.0, noise=0.0)
    x = "sort:dcba"
    chain = R.reasoning_chain(j, x, "abcd sure", "abdc", np.random.default_rng(0))
    rules = R.extract_rules(chain)
    checks = [R.check_for(r) for r in rules]
    assert checks[0] == "correct"  # the largest term (quality, 8 · 0.5 = 4) is stated first
    assert "elaborates" in checks and "right_length" not in checks  # both answers have 4 characters
    assert not any(w in chain for w in ("shown", "overall", "general"))
    # a pure length preference: same answer, the judge only sees the filler
    chain = R.reasoning_chain(j, x, "abcd sure done", "abcd", np.random.default_rng(0))
    assert [R.check_for(r) for r in R.extract_rules(chain)] == ["elaborates"]
    # nothing above the threshold: a single vague sentence, no rule
    chain = R.reasoning_chain(
        Judge(length_bias=0.0, position_bias=0.0, noise=0.0), x, "abcd", "abcd", np.random.default_rng(0)
    )
    assert R.extract_rules(chain) == []


def test_extraction_on_hand_written_chains():
    chain = (
        "Response A gives the exact correct answer, while Response B gets the answer wrong. "
        "Response A is longer and more detailed than Response B. Response A was shown second. "
        "Both responses are similar. Response A's answer is closer to the correct one than Response B's."
    )
    assert R.extract_rules(chain) == ["The response gives the exact correct answer.", "The response was shown second."]


def test_merging_clusters_paraphrases_and_drops_unverifiable_and_rare_rules():
    per_chain = [
        ["The response gives the exact correct answer.", "The response reads better overall."],
        ["The response has the right answer."],
        ["The response states the correct result exactly.", "The response adds extra words after its answer."],
        ["The response has no junk after the answer.", "The response gives the exact correct answer."],
        ["The response has junk after its answer."],
    ]
    kept, dropped = R.merge_rules(per_chain, threshold=0.6, min_support=0.3)
    assert [m.check for m in kept] == ["correct"]  # 4 of 5 chains state a correctness rule
    assert kept[0].support == pytest.approx(4 / 5) and len(kept[0].variants) == 3
    assert kept[0].text == "The response gives the exact correct answer."  # the most frequent wording names it
    by_text = {m.text: m for m in dropped}
    assert by_text["The response reads better overall."].check is None  # unverifiable
    assert by_text["The response adds extra words after its answer."].support == pytest.approx(1 / 5)  # too rare
    # negation keeps "no junk" and "junk" apart; only the negated one is checkable
    assert by_text["The response has no junk after the answer."].check == "clean"
    assert by_text["The response has junk after its answer."].check is None
    kept, _ = R.merge_rules(per_chain, threshold=0.6, min_support=0.0, max_rules=2)
    assert len(kept) == 2 and kept[0].check == "correct"


def test_verifier_and_rule_reward_closed_form():
    rules = [
        R.MergedRule(t, 1.0, (t,), R.check_for(t))
        for t in (
            "The response has the right answer.",
            "The response adds extra words after its answer.",
            "The response has no junk after the answer.",
            "The response has an answer of the expected length.",
        )
    ]
    assert [r.check for r in rules] == ["correct", "elaborates", "clean", "right_length"]
    x = "rev:abcd"
    ys = ["dcba", "dcba sure", "dcbb sure", "dcb su", "dcbaa"]
    s = R.verify(rules, [x] * len(ys), ys)
    np.testing.assert_array_equal(s, [[1, 0, 1, 1], [1, 1, 1, 1], [0, 1, 1, 1], [0, 1, 0, 0], [0, 0, 1, 0]])
    np.testing.assert_allclose(R.rule_reward(rules, [x] * len(ys), ys), s.mean(1))
    # flip noise: deterministic, and about the requested share of verdicts flipped
    xs = [f"rev:{w}" for w in ("abc", "bcd", "cde", "def", "efg", "fgh", "gha", "hab")] * 25
    ys2 = [solve(p) + (" sure" if i % 2 else "") for i, p in enumerate(xs)]
    a = R.verify(rules, xs, ys2, flip=0.2, seed=1)
    np.testing.assert_array_equal(a, R.verify(rules, xs, ys2, flip=0.2, seed=1))
    assert 0.1 < np.mean(a != R.verify(rules, xs, ys2)) < 0.3
    with pytest.raises(ValueError, match="empty"):
        R.rule_reward([], [x], ["dcba"])


def test_rule_agreement_counts_only_pairs_where_the_rule_reward_differs():
    rules = [R.MergedRule("The response has the right answer.", 1.0, (), "correct")]
    pairs = {"prompt": ["rev:abc"] * 3, "chosen": ["cba", "cbb", "cba"], "rejected": ["cbb", "cba", "cba sure"]}
    a = R.rule_agreement(rules, pairs)
    assert a["agreement"] == 0.5 and a["n"] == 2 and a["ties"] == pytest.approx(1 / 3) and a["per_pair"] == [1.0, 0.0]


def test_extract_rule_set_is_deterministic_and_finds_the_correctness_rule():
    rng = np.random.default_rng(0)
    from replicate.worlds.toy_lm import corrupt, make_prompts

    ps = make_prompts(200, 5)
    pairs = {"prompt": [], "chosen": [], "rejected": []}
    for p in ps:
        a, b = solve(p) + " sure" * int(rng.integers(2)), corrupt(solve(p), rng, 1)
        if not J.label(p, a, b):
            a, b = b, a
        pairs["prompt"].append(p), pairs["chosen"].append(a), pairs["rejected"].append(b)
    kw = dict(seed=0, min_term=0.25, threshold=0.6, min_support=0.05)
    out = R.extract_rule_set(J, pairs, **kw)
    assert out == R.extract_rule_set(J, pairs, **kw)
    assert out["rules"][0]["check"] == "correct" and out["rules"][0]["support"] > 0.8
    assert {r["check"] for r in out["dropped"]} >= {None}  # the order and noise reasons are not verifiable
    agree = R.rule_agreement(R.rules_from_dict(out["rules"]), pairs)
    assert agree["agreement"] > 0.8


@pytest.mark.parametrize(
    "overrides, msg",
    [
        (["scale=small"], "needs the paper's 8B policy"),
        (["scale=ci", "paper.rl.prompts.ci=6"], "multiple of prompts_per_step"),
        (["scale=ci", "paper.rl.episodes=1"], "episodes ≥ 2"),
        (["scale=ci", "paper.rules.flip=0.5"], "flip"),
        (["scale=tiny", "paper.rl.early_step.tiny=3"], "early_step"),
    ],
)
def test_config_errors_before_compute(overrides, msg):
    cfg = compose("autorule", overrides, check_hardware=False)  # composes: the error below is the paper's validate
    with pytest.raises(ConfigError, match=msg):
        exp.validate(cfg)


def test_valid_configs_pass_and_resolve_per_scale():
    exp.validate(compose("autorule", ["scale=ci"]))
    exp.validate(compose("autorule", ["scale=tiny"]))
    s = exp.rl_settings(compose("autorule", ["scale=tiny"]))
    assert s.steps == 2 * 512 // 8 and s.num_generations == 5  # K_rl's budget (conf/capability/k_rl.yaml)


def test_one_grpo_step_with_the_rule_reward_changes_the_policy(tmp_path):
    """The AutoRule reward path (RM score + w · rule reward, two TRL reward functions) takes one optimizer step
    through GRPOTrainer and moves the weights; the same seed gives the same weights."""
    from replicate.models.lm import build_tiny_llama
    from replicate.training import rl
    from replicate.worlds.tokenizer import build_tokenizer

    tok = build_tokenizer()
    pol = build_tiny_llama(tok, hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64, seed=0)
    rules = [
        R.MergedRule("The response has the right answer.", 1.0, (), "correct"),
        R.MergedRule("The response adds extra words after its answer.", 1.0, (), "elaborates"),
    ]
    fake_rm = lambda ps, ys: -np.array([len(y) for y in ys], float)
    funcs = [rl.reward_function(fake_rm, name="rm"), rl.reward_function(exp.rule_score(rules, 0.1, 0), name="rules")]
    s = rl.GRPOSettings(lr=5e-3, beta=0.04, num_generations=4, prompts_per_step=2, steps=1, max_new_tokens=8)
    ds = rl.rl_dataset(["rev:abc", "sort:cab", "dup:abc", "max:1234"])
    hw = OmegaConf.create({"bf16": False, "gradient_checkpointing": False})
    flat = lambda m: torch.cat([p.detach().flatten() for p in m.parameters()])
    m1, c1 = rl.train_grpo(pol, tok, ds, funcs, hw, s, seed=0, out=tmp_path / "a", weights=[1.0, 3.0])
    m2, _ = rl.train_grpo(pol, tok, ds, funcs, hw, s, seed=0, out=tmp_path / "b", weights=[1.0, 3.0])
    assert not torch.equal(flat(m1), flat(pol))
    assert torch.equal(flat(m1), flat(m2))
    # the logged rule reward is the mean of K = 2 rules' 0/1 verdicts over the step's 2 × 4 completions, and the
    # fake RM's is minus their mean length: what the two reward functions computed, not some number in a range
    raw = c1.train[0]["rules/raw"]
    assert abs(16 * raw - round(16 * raw)) < 1e-9 and 0.0 <= raw <= 1.0
    assert c1.train[0]["rm/raw"] < 0 and abs(c1.train[0]["rm/raw"] - round(c1.train[0]["rm/raw"] * 8) / 8) < 1e-9


def _fake_run(q: dict, proxy_steps=(0, 1, 2, 4)) -> dict:
    """A run dict as ``run_arm`` writes it: held-out oracle per prompt at steps 0, 1 (early), 2 (episode 1), 4."""
    rows = [
        {
            "step": st,
            "oracle": float(np.mean(q[st])),
            "proxy": 0.0,
            "win_rate": 0.5,
            "kl": 0.0,
            "length": 5.0,
            "per_prompt": {"oracle": list(q[st])},
        }
        for st in proxy_steps
    ]
    final = {
        "preferences": [0.4, 0.6, 0.5, 0.5],
        "responses": ["ab", "abc", "a", "abcd"],
        "reference_lengths": [3, 3, 3, 3],
        "lc_win_rate": 50.0,
        "win_rate": 50.0,
        "avg_length": 2.5,
        "oracle_quality": 0.5,
    }
    return {"curves": {"eval": rows, "train": []}, "final": final, "rule_weight": 1.0, "steps": 4, "per_episode": 2}


def test_claims_on_fixed_runs():
    """PC reads GRPO at the end of episode 1; C3 the second-episode change, AutoRule minus GRPO."""
    cfg = compose("autorule", ["scale=ci"])
    rules = {
        "rules": [{"text": "r", "support": 1.0, "variants": ["r"], "check": "correct"}],
        "agreement": {"agreement": 0.8, "ties": 0.1, "n": 5, "per_pair": [1, 1, 1, 1, 0]},
        "rm_accuracy": {"vs_label": 0.6, "vs_oracle": 0.6},
        "rm_report": {
            "accuracy": {"vs_oracle": 0.6, "per_pair_vs_oracle": [1.0] * 6 + [0.0] * 4},
            "answer_margin": 0.5,
            "filler": {"slope_per_unit": 0.1},
        },
    }
    up = np.linspace(0.2, 0.4, 30)
    k_rl = _fake_run({0: up, 1: up + 0.1}, proxy_steps=(0, 1))["curves"]  # K_rl: the oracle reward raises q
    g = _fake_run({0: up, 1: up + 0.2, 2: up + 0.2, 4: up})  # rises, then loses it all
    a = _fake_run({0: up, 1: up + 0.1, 2: up + 0.1, 4: up + 0.15})  # rises and keeps rising
    runs = {
        sd: {"rules": rules, "grpo": g, "autorule": a, "k_rl": k_rl} for sd in (1, 2, 3)
    }  # three seeds: the minimum for a verdict
    cl = {c["id"]: c for c in exp.PAPER.claims(runs, cfg)}
    assert cl["PC"]["verdict"] == "reproduced" and cl["PC"]["evidence"]["diff"] == pytest.approx(0.2)
    assert cl["C3"]["verdict"] == "reproduced" and cl["C3"]["evidence"]["diff"] == pytest.approx(0.05 + 0.2)
    assert cl["C2"]["evidence"]["diff"] == pytest.approx(0.8 - 0.5)
    assert cl["C1"]["evidence"]["diff"] == pytest.approx(0.0)  # identical final evaluations
    assert cl == {c["id"]: c for c in exp.PAPER.claims(runs, cfg)}  # deterministic
    # the control fails (no early rise): every other claim becomes inconclusive
    flat = _fake_run({0: up, 1: up - 0.1, 2: up - 0.1, 4: up - 0.2})
    runs = {sd: {"rules": rules, "grpo": flat, "autorule": a, "k_rl": k_rl} for sd in (1, 2, 3)}
    cl = {c["id"]: c for c in exp.PAPER.claims(runs, cfg)}
    assert cl["PC"]["verdict"] == "not reproduced" and cl["C3"]["verdict"] == "inconclusive"
    m, spread = exp.flat_metrics(runs)
    assert m["grpo.episode2.oracle"] == pytest.approx(float(np.mean(up - 0.2))) and "rules.k" in spread
