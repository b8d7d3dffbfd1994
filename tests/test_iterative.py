"""The shared iterative loop (training/iterative.py): pair rules on hand-made examples, the round-to-round hand-off
(reference = previous policy), resume after a simulated kill, determinism, and the DPO gradient probe's closed forms."""

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from executed_notebooks import fresh_cache_with_shared_sft, shared_cache

from replicate.core.config import ConfigError, compose
from replicate.core.io import content_hash
from replicate.metrics.evaluation import sequence_logps
from replicate.models.sampling import generate
from replicate.training import iterative as I
from replicate.training.toy_stages import build_world, setup_torch, sft_key, sft_model
from replicate.worlds.toy_lm import solve

TRAIN = I.TrainSpec(lr=1e-3, batch_size=16)
EVALS = I.EvalSpec(n_eval=24, diverse_prompts=8, n_diverse=3, pair_probe=16)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("REPLICATE_CACHE_DIR", str(shared_cache(tmp_path_factory)))  # the session's SFT model, trained once
    cfg = compose("simpo", ["scale=ci", "hardware.workers=1"])
    setup_torch(cfg)
    world = build_world(cfg)
    sft_model(cfg, world)  # cache π_0 once for the module
    yield cfg, world
    mp.undo()


def _start(cfg, world):
    return I.Start(sft_key(cfg), lambda: sft_model(cfg, world))


def _iterdpo(ctx):
    ps = ctx.world.prompts["pref"][:32]
    c = ctx.sample(ps, n=4, temperature=1.0)
    return I.best_vs_worst(ps, c, I.judge_scores(ctx.world.judge, ps, c))


# ---------------------------------------------------------------------------------------------
# pair rules (pure)


def test_best_vs_worst_picks_extremes_and_drops_ties():
    ps = ["a", "b", "c"]
    cands = [["x", "y", "z"], ["u", "v", "w"], ["s", "s", "s"]]
    scores = [[0.2, 0.9, 0.1], [0.5, 0.5, 0.5], [0.1, 0.9, 0.5]]
    out = I.best_vs_worst(ps, cands, scores)
    # prompt b: all scores tie -> dropped; prompt c: best and worst are the same text -> dropped
    assert out == {"prompt": ["a"], "chosen": ["y"], "rejected": ["z"]}
    # ties among the best resolve to the first (stable), among the worst to the last
    assert I.best_vs_worst(["a"], [["p", "q", "r"]], [[1.0, 1.0, 0.0]])["chosen"] == ["p"]


def test_spin_pairs_real_over_self_and_drops_identical():
    out = I.spin_pairs(["x1", "x2", "x3"], ["good", "same", "fine"], ["bad", "same", "meh"])
    assert out == {"prompt": ["x1", "x3"], "chosen": ["good", "fine"], "rejected": ["bad", "meh"]}


def test_validate_pairs_rejects_bad_pairs():
    assert I.validate_pairs({"prompt": ["a"], "chosen": ["b"], "rejected": ["c"], "q": [1.0]}) == 1
    for bad in (
        {"prompt": ["a"], "chosen": ["b"]},
        {"prompt": [], "chosen": [], "rejected": []},
        {"prompt": ["a"], "chosen": ["b"], "rejected": ["c", "d"]},
        {"prompt": ["a"], "chosen": [1], "rejected": ["c"]},
    ):
        with pytest.raises(ValueError):
            I.validate_pairs(bad)


def test_distinct_high_quality_counts_distinct_correct_answers():
    p = "sort:dcab"
    t = solve(p)
    assert I.distinct_high_quality([p], [[t, t, t + " sure", "zzzz"]], 0.9).tolist() == [2.0]


def test_labellers_oracle_ranks_truth_first(env):
    cfg, world = env
    p = "rev:abcd"
    cands = [["dcba", "dcbb", "aaaa"]]
    assert np.argmax(I.oracle_scores([p], cands)[0]) == 0
    assert np.argmax(I.judge_scores(world.judge, [p], cands)[0]) == 0


# ---------------------------------------------------------------------------------------------
# sampling


def test_sample_matches_single_turn_generate_and_takes_multi_turn(env):
    cfg, world = env
    m = sft_model(cfg, world)
    ps = world.prompts["eval"][:10]
    assert I.sample(m, world.tokenizer, ps, n=2, temperature=0.8, seed=5) == generate(
        m, world.tokenizer, ps, n=2, temperature=0.8, seed=5
    )
    conv = [
        {"role": "user", "content": ps[0]},
        {"role": "assistant", "content": "abc"},
        {"role": "user", "content": "no"},
    ]
    out = I.sample(m, world.tokenizer, [conv], n=3, temperature=0.8, seed=1)
    assert len(out) == 1 and len(out[0]) == 3 and all(isinstance(y, str) for y in out[0])
    with pytest.raises(ValueError):
        I.sample(m, world.tokenizer, [conv[:2]])  # must end with a user turn


# ---------------------------------------------------------------------------------------------
# training: reference = the policy the round starts from; the gradient probe's closed forms


def test_train_round_reference_is_the_starting_policy(env, tmp_path):
    cfg, world = env
    pol = sft_model(cfg, world)
    ps = world.prompts["pref"][:24]
    pairs = {"prompt": ps, "chosen": [solve(p) for p in ps], "rejected": [solve(p) + "x" for p in ps]}
    want, _ = sequence_logps(pol, world.tokenizer, ps, pairs["chosen"])
    model, info = I.train_round(pol, world.tokenizer, pairs, cfg.hardware, TRAIN, seed=0, out=tmp_path)
    np.testing.assert_allclose(info["ref_chosen_logps"], want, rtol=1e-4, atol=1e-4)
    after, _ = sequence_logps(model, world.tokenizer, ps, pairs["chosen"])
    assert not np.allclose(after, want, atol=1e-3)  # and training moved the policy


def test_grad_norm_vanishes_for_identical_pairs_and_is_linear_in_beta(env, tmp_path):
    cfg, world = env
    ps = world.prompts["pref"][:16]
    same = {"prompt": ps, "chosen": [solve(p) for p in ps], "rejected": [solve(p) for p in ps]}
    diff = {"prompt": ps, "chosen": [solve(p) for p in ps], "rejected": [solve(p)[::-1] + "a" for p in ps]}

    def norm(pairs, beta):
        spec = replace(TRAIN, loss_kwargs={"beta": beta})
        return I.dpo_grad_norm(
            I.round_trainer(sft_model(cfg, world), world.tokenizer, pairs, cfg.hardware, spec, 0, tmp_path), 16, 8
        )

    g1, g2 = norm(diff, 0.1), norm(diff, 0.3)
    assert g1 > 1e-3 and g2 == pytest.approx(3 * g1, rel=1e-4)  # at θ = π_ref: ∇L = −(β/2)∇[...]
    assert norm(same, 0.1) < 1e-4 * g1  # y⁺ = y⁻: ∇[log π(y⁺) − log π(y⁻)] = 0 (up to float32 rounding)


# ---------------------------------------------------------------------------------------------
# the loop: hand-off, key chain, resume, determinism


def test_round_keys_chain_on_the_previous_round(env):
    cfg, world = env
    s = _start(cfg, world)
    a = I.round_keys(cfg, name="x", start=s, train=TRAIN, evals=EVALS, rounds=3)
    b = I.round_keys(cfg, name="x", start=s, train=replace(TRAIN, lr=2e-3), evals=EVALS, rounds=3)
    assert [k["parts"][3] for k in a[1:]] == [content_hash(k) for k in a[:-1]]  # round t names round t−1
    assert a[0]["parts"][3] == content_hash(s.key)
    assert all(content_hash(x) != content_hash(y) for x, y in zip(a, b))
    with pytest.raises(ConfigError):
        I.run_loop(cfg, world, name="x", start=s, build=_iterdpo, train=TRAIN, evals=EVALS, rounds=0, progress=False)


def test_hand_off_reference_is_previous_round_policy(env):
    cfg, world = env
    recs = I.run_loop(
        cfg,
        world,
        name="handoff",
        start=_start(cfg, world),
        build=_iterdpo,
        train=TRAIN,
        evals=EVALS,
        rounds=2,
        progress=False,
    )
    assert [r["t"] for r in recs] == [0, 1, 2]
    pairs2 = json.loads((Path(recs[2]["dir"]) / "pairs.json").read_text())
    pi1, pi0 = I.round_model(recs, 1), sft_model(cfg, world)
    lp1, _ = sequence_logps(pi1, world.tokenizer, pairs2["prompt"], pairs2["chosen"])
    lp0, _ = sequence_logps(pi0, world.tokenizer, pairs2["prompt"], pairs2["chosen"])
    assert recs[2]["ref_logps_check"] == pytest.approx(float(lp1.mean()), abs=1e-3)
    assert abs(recs[2]["ref_logps_check"] - float(lp0.mean())) > 1e-2
    for r in recs[1:]:
        assert {"oracle_quality", "win_rate", "lc_win_rate", "diversity"} <= set(r["eval"])
        assert r["grad_norm"] > 0 and {"q_margin_mean", "reward_margin"} <= set(r["pairs"])


def test_resume_after_kill_equals_uninterrupted_run(env, tmp_path, tmp_path_factory, monkeypatch):
    cfg, world = env
    calls = []

    def counting(ctx):
        calls.append(ctx.t)
        return _iterdpo(ctx)

    def killed(ctx):
        if ctx.t == 2:
            raise KeyboardInterrupt  # killed in round 2
        return counting(ctx)

    # two fresh caches sharing only the session's SFT model: the rounds are computed in each
    monkeypatch.setenv("REPLICATE_CACHE_DIR", str(fresh_cache_with_shared_sft(tmp_path / "a", tmp_path_factory)))
    sft_model(cfg, world)
    kw = dict(name="resume", start=_start(cfg, world), train=TRAIN, evals=EVALS, rounds=2, progress=False)
    with pytest.raises(KeyboardInterrupt):
        I.run_loop(cfg, world, build=killed, **kw)
    assert calls == [1]
    resumed = I.run_loop(cfg, world, build=counting, **kw)
    assert calls == [1, 2]  # round 1 came from the cache

    monkeypatch.setenv("REPLICATE_CACHE_DIR", str(fresh_cache_with_shared_sft(tmp_path / "b", tmp_path_factory)))
    sft_model(cfg, world)
    fresh = I.run_loop(cfg, world, build=counting, **kw)
    strip = lambda rs: [{k: v for k, v in r.items() if k not in ("dir", "history")} for r in rs]
    assert strip(resumed) == strip(fresh)  # determinism: same config and seed → identical records


def test_builder_that_trains_a_temporary_model_leaves_the_hand_off_intact(env):
    cfg, world = env
    seen = {}

    def with_future(ctx):
        pairs = _iterdpo(ctx)
        future, _ = ctx.train_temporary(pairs, name="future")  # e.g. Temporal Self-Rewarding's future model
        before = sequence_logps(ctx.policy, world.tokenizer, pairs["prompt"], pairs["chosen"])[0]
        seen["moved"] = float(
            np.abs(sequence_logps(future, world.tokenizer, pairs["prompt"], pairs["chosen"])[0] - before).max()
        )
        seen["pi0"] = float(before.mean())
        return pairs

    recs = I.run_loop(
        cfg,
        world,
        name="future",
        start=_start(cfg, world),
        build=with_future,
        train=TRAIN,
        evals=EVALS,
        rounds=1,
        progress=False,
    )
    assert seen["moved"] > 1e-3  # the temporary model was trained ...
    assert recs[1]["ref_logps_check"] == pytest.approx(seen["pi0"], abs=1e-4)  # ... but the reference is still π_0
