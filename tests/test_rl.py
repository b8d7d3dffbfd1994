"""The RL core (training/rl.py, training/toy_reward.py): a reward model learns a separable toy preference; one
GRPO step through TRL changes the policy; runs are deterministic and evaluation does not perturb them; the reward
function's shaping hook and logging; the reward model's diagnostics on scores with known answers."""

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from replicate.models.lm import build_tiny_llama
from replicate.training import rl
from replicate.training import toy_reward as TR
from replicate.worlds.tokenizer import build_tokenizer
from replicate.worlds.toy_lm import Judge

HW = OmegaConf.create({"bf16": False, "gradient_checkpointing": False})


def tiny_policy(tok, seed=0):
    return build_tiny_llama(tok, hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64, seed=seed)


def _params(model):
    return torch.cat([p.detach().flatten() for p in model.parameters()])


@pytest.mark.parametrize("head", ["last", "token_sum"])
def test_reward_model_learns_a_separable_preference(tmp_path, head):
    """Chosen responses end in " yes!", rejected in " sure": RewardTrainer must rank held-out pairs perfectly."""
    from replicate.models.reward import reward_model_from_policy
    from replicate.models.token_reward import token_reward_model_from_policy
    from replicate.training.data import preference_dataset
    from replicate.training.reward import train_reward_model
    from replicate.worlds.toy_lm import make_prompts, solve

    tok = build_tokenizer()
    torch.manual_seed(0)
    ps = make_prompts(160, seed=3)
    pairs = lambda qs: {
        "prompt": qs,
        "chosen": [solve(p) + " yes!" for p in qs],
        "rejected": [solve(p) + " sure" for p in qs],
    }
    train, held = pairs(ps[:128]), pairs(ps[128:])
    pol = tiny_policy(tok)
    rm = reward_model_from_policy(pol, tok) if head == "last" else token_reward_model_from_policy(pol, tok, 0.0)
    rm, _ = train_reward_model(
        rm, tok, preference_dataset(train), HW, seed=0, lr=3e-3, batch_size=16, epochs=3, max_steps=None, out=tmp_path
    )
    acc = TR.pair_accuracy(
        rl.rm_score(rm.eval(), tok), {**held, "p_judge": [0.9] * 32, "q_chosen": [1.0] * 32, "q_rejected": [1.0] * 32}
    )
    assert acc["vs_label"] == 1.0 and acc["vs_judge"] == 1.0
    assert acc["n_oracle"] == 0  # equal oracle qualities: no oracle pairs to score


def test_token_sum_reward_is_the_policy_log_likelihood_at_start_and_reloads(tmp_path):
    """With w = 0 and α = 1 the RM's score is Σ_t log π(y_t | x, y_<t) over the response (end-of-turn included),
    the quantity metrics.evaluation.sequence_logps computes; left or right padding does not change it."""
    from replicate.metrics.evaluation import sequence_logps
    from replicate.models.reward import reward_scores
    from replicate.models.token_reward import load_reward_model, token_reward_model_from_policy

    tok = build_tokenizer()
    pol = tiny_policy(tok, seed=1)
    rm = token_reward_model_from_policy(pol, tok, 1.0).eval()
    ps, ys = ["rev:abc", "add:12+30", "sort:cab"], ["cba", "42 sure done", ""]
    want, _ = sequence_logps(pol, tok, ps, ys)
    np.testing.assert_allclose(reward_scores(rm, tok, ps, ys), want, rtol=1e-5, atol=1e-5)
    tok.padding_side = "right"
    np.testing.assert_allclose(reward_scores(rm, tok, ps, ys), want, rtol=1e-5, atol=1e-5)
    tok.padding_side = "left"
    with torch.no_grad():
        rm.score.weight.normal_()
    rm.save_pretrained(tmp_path / "rm")
    back = load_reward_model(tmp_path / "rm")
    np.testing.assert_allclose(reward_scores(back, tok, ps, ys), reward_scores(rm, tok, ps, ys), rtol=1e-6)


def test_pair_accuracy_closed_form():
    pairs = {
        "prompt": ["a", "b", "c", "d"],
        "chosen": ["x", "yy", "zzz", "w"],
        "rejected": ["xx", "y", "z", "w"],
        "p_judge": [0.9, 0.4, 0.8, 0.6],
        "q_chosen": [1.0, 1.0, 0.5, 0.5],
        "q_rejected": [0.0, 0.0, 0.5, 0.5],
    }
    length = lambda ps, ys: np.array([len(y) for y in ys], float)
    acc = TR.pair_accuracy(length, pairs)
    # prefers chosen on pairs 2, 3; pair 1 no; pair 4 tie (½)
    assert acc["vs_label"] == pytest.approx((0 + 1 + 1 + 0.5) / 4)
    # judge prefers chosen except pair 2 (p = 0.4): agreement 0, 0, 1, 0.5
    assert acc["vs_judge"] == pytest.approx((0 + 0 + 1 + 0.5) / 4)
    # oracle differs on pairs 1, 2: oracle prefers rejected on pair 1 (score agreed: 1) and on pair 2 (score preferred chosen: 0)
    assert acc["n_oracle"] == 2 and acc["vs_oracle"] == pytest.approx((1 + 0) / 2)


def test_filler_flaw_of_a_length_score_and_the_oracle_is_unmoved():
    length = lambda ps, ys: np.array([len(y) for y in ys], float)
    f = TR.filler_flaw(length, ["rev:abc", "sort:cab"], ["cba sure", "abc"])
    assert f["slope_per_unit"] == pytest.approx(5.0)  # every filler unit is 5 characters
    assert f["oracle"] == [1.0] * len(f["units"])
    assert f["malformed_gap"] == pytest.approx(-2.0)
    assert TR.with_filler("abc okay", 2) == "abc sure done" and TR.with_filler("abc", 1, cut=2) == "abc su"
    assert TR.answer_margin(length, ["rev:abcd"]) in (-1.0, 0.0, 1.0)  # one edit: same, one shorter or one longer


def test_labelled_pairs_follow_the_judge():
    j = Judge(sharpness=50.0, length_bias=0.0, position_bias=0.0, noise=0.0)
    out = TR.labelled_pairs(j, ["rev:abc"], [["cba", "zzz", "cba", "cbz"]], seed=0, per_prompt=10)
    assert len(out["prompt"]) == 3  # 3 distinct samples → 3 pairs
    assert all(qc > qr for qc, qr in zip(out["q_chosen"], out["q_rejected"]))


def _fake_call(fn, task, responses, **columns):
    logged = {}
    out = fn(
        prompts=[None] * len(task),
        completions=[[{"role": "assistant", "content": r}] for r in responses],
        completion_ids=[[0] * (len(r) + 1) for r in responses],
        task=task,
        trainer_state=None,
        log_metric=lambda k, v: logged.__setitem__(k, v),
        **columns,
    )
    return out, logged


def test_reward_function_applies_the_shaping_and_logs_raw_oracle_length():
    seen = {}

    def shaping(r, batch):
        seen["batch"] = batch
        return r - np.asarray([np.mean(x) for x in batch.columns["ref_rewards"]])

    fn = rl.reward_function(rl.oracle_score, shaping=shaping, name="px")
    out, logged = _fake_call(fn, ["rev:abc", "rev:abc"], ["cba", "zzz"], ref_rewards=[[0.5, 0.7], [0.0, 0.2]])
    assert out == pytest.approx([1.0 - 0.6, 0.0 - 0.1])
    assert seen["batch"].lengths.tolist() == [4.0, 4.0] and seen["batch"].prompts == ["rev:abc"] * 2
    assert logged["px/raw"] == pytest.approx(0.5) and logged["px/shaped"] == pytest.approx(0.15)
    assert logged["oracle/quality"] == pytest.approx(0.5) and logged["length/chars"] == 3.0
    assert fn.__name__ == "px"
    bad = rl.reward_function(rl.oracle_score, shaping=lambda r, b: r[:1])
    with pytest.raises(ValueError, match="shape"):
        _fake_call(bad, ["rev:abc", "rev:abc"], ["cba", "zzz"])


def test_settings_validation():
    with pytest.raises(ValueError, match="num_generations"):
        rl.GRPOSettings(lr=1e-3, beta=0.0, num_generations=1, prompts_per_step=2, steps=1)
    s = rl.settings_from(
        OmegaConf.create(
            {"lr": "1e-3", "beta": 0, "num_generations": 4, "prompts_per_step": 2, "steps": 3, "other": 1}
        ),
        steps=5,
    )
    assert s.steps == 5 and isinstance(s.lr, float) and isinstance(s.beta, float)


def _run(tmp_path, name, steps=1, evaluator=None, eval_every=0, seed=0):
    tok = build_tokenizer()
    pol = tiny_policy(tok)
    before = _params(pol).clone()
    s = rl.GRPOSettings(
        lr=5e-3, beta=0.05, num_generations=4, prompts_per_step=2, steps=steps, temperature=1.0, max_new_tokens=8
    )
    ds = rl.rl_dataset(["rev:abc", "sort:cab", "dup:abc", "max:1234"])
    model, curves = rl.train_grpo(
        pol,
        tok,
        ds,
        [rl.reward_function(lambda ps, ys: -np.array([len(y) for y in ys], float), name="short")],
        HW,
        s,
        seed=seed,
        out=tmp_path / name,
        evaluator=evaluator,
        eval_every=eval_every,
    )
    assert torch.equal(_params(pol), before)  # the caller's policy is left as it was
    return tok, pol, model, curves


def test_one_grpo_step_changes_the_policy_and_logs_curves(tmp_path):
    _, pol, model, curves = _run(tmp_path, "a")
    assert not torch.equal(_params(model), _params(pol))
    assert len(curves.train) == 1
    row = curves.train[0]
    assert row["step"] == 1 and {
        "kl",
        "length",
        "length_tokens",
        "oracle",
        "reward",
        "short/raw",
        "short/shaped",
    } <= set(row)
    assert row["short/raw"] == pytest.approx(-row["length"])  # the score is minus the length in characters


def test_grpo_is_deterministic_and_evaluation_does_not_perturb_it(tmp_path):
    tok, pol, m1, c1 = _run(tmp_path, "a", steps=2)
    _, _, m2, c2 = _run(tmp_path, "b", steps=2)
    assert torch.equal(_params(m1), _params(m2)) and c1.train == c2.train
    ev = rl.HeldOutEval(
        tok,
        ["rev:abc", "add:12+30"],
        rl.oracle_score,
        Judge(),
        ["cba", "42"],
        pol,
        temperature=1.0,
        max_new_tokens=8,
        seed=1,
    )
    _, _, m3, c3 = _run(tmp_path, "c", steps=2, evaluator=ev, eval_every=1)
    assert torch.equal(_params(m1), _params(m3)) and c1.train == c3.train
    assert [r["step"] for r in c3.eval] == [0, 1, 2]
    assert c3.eval[0]["kl"] == pytest.approx(0.0, abs=1e-6)  # at step 0 the policy is the reference
    assert set(c3.eval[0]["per_prompt"]) == {"proxy", "oracle", "win"}
