"""EVOLVE: the refinement context, the pair rules on hand-made examples, L_pref through the TRL hook against its closed
form, config errors, the claims' wiring on synthetic results, and determinism of a round."""

import copy

import numpy as np
import pytest
import torch
from executed_notebooks import fresh_cache_with_shared_sft, shared_cache

from replicate.core.config import ConfigError, compose
from replicate.metrics.evaluation import sequence_logps
from replicate.papers.evolve import claims as EC
from replicate.papers.evolve import experiment as E
from replicate.training import iterative as I
from replicate.training.toy_stages import build_world, setup_torch, sft_model
from replicate.worlds.tokenizer import build_tokenizer
from replicate.worlds.toy_lm import oracle_quality, solve


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("REPLICATE_CACHE_DIR", str(shared_cache(tmp_path_factory)))  # the session's SFT model, trained once
    cfg = compose("evolve", ["scale=ci", "hardware.workers=1", "scale.n_seeds=1"])
    setup_torch(cfg)
    world = build_world(cfg)
    sft_model(cfg, world)
    yield cfg, world
    mp.undo()


# ---------------------------------------------------------------------------------------------
# the refinement context


def test_c_ref_renders_as_the_three_turn_conversation():
    tok = build_tokenizer()
    x, y = "sort+rev:dcab", "dcba sure"
    as_string = I.render(tok, E.c_ref(x, y))
    as_chat = I.render(tok, E.refine_conversation(x, y))
    assert as_string == as_chat == f"<s><u>{x}<a>{y}<e><u>improve<a>"
    ids = tok(as_string, add_special_tokens=False)["input_ids"]
    assert (
        ids
        == tok.apply_chat_template(E.refine_conversation(x, y), tokenize=True, add_generation_prompt=True)["input_ids"]
    )
    assert (
        ids.count(tok.convert_tokens_to_ids("<a>")) == 2 and tok.unk_token_id not in ids
    )  # special tokens, not "<", "a", ">"


# ---------------------------------------------------------------------------------------------
# pair rules (pure)


def test_sft_pairs_order_by_truth_and_drop_ties():
    ps = ["rev:abcd", "add:12+30", "sort:dcab"]
    a = ["dcba sure", "40", "abcd"]  # right, wrong, right
    b = ["dcbb", "42 done", "abcd okay"]  # wrong, right, right (tie in quality: dropped)
    ex = E.sft_pairs(ps, a, b)
    assert ex == {"prompt": ["rev:abcd", "add:12+30"], "y_w": ["dcba sure", "42 done"], "y_l": ["dcbb", "40"]}
    assert all(oracle_quality(x, w) > oracle_quality(x, l_) for x, w, l_ in zip(*ex.values()))
    rows = E.sft_rows(ex, "improve")
    assert rows["prompt"] == ["rev:abcd", E.c_ref("rev:abcd", "dcbb"), "add:12+30", E.c_ref("add:12+30", "40")]
    assert rows["completion"] == ["dcba sure", "dcba sure", "42 done", "42 done"]


@pytest.mark.parametrize(
    "x,draft,expected",
    [
        ("rev:abc", "cba sure", "cba sure"),  # right: unchanged (a refinement must not break it)
        ("rev:abc", "cbb sure", "cba sure"),  # first wrong character set right, filler kept
        ("rev:abc", "xbx", "cbx"),  # one edit only: the first wrong character
        ("rev:abc", "cb", "cba"),  # too short: the next right character appended
        ("rev:abc", "cbaa okay", "cba okay"),  # too long: the surplus character dropped
        ("rev:abc", "cbb zz", "cbb"),  # a malformed tail is dropped first
        ("add:10+20", "31", "30"),
    ],
)
def test_refine_target_is_one_edit_toward_the_truth(x, draft, expected):
    y = E.refine_target(x, draft)
    assert y == expected
    assert oracle_quality(x, y) > oracle_quality(x, draft) or oracle_quality(x, draft) == 1.0


def test_refine_target_improves_every_wrong_draft():
    from replicate.worlds.toy_lm import Persona, make_prompts, persona_responses

    ps = make_prompts(400, 7)
    drafts = persona_responses(Persona("w", 0.2, (0.5, 0.5), 3), ps, 8)
    q0 = np.array([oracle_quality(x, y) for x, y in zip(ps, drafts)])
    q1 = np.array([oracle_quality(x, E.refine_target(x, y)) for x, y in zip(ps, drafts)])
    assert np.all(q1[q0 < 1] > q0[q0 < 1]) and np.all(q1[q0 == 1] == 1)
    ex = E.refine_examples(ps, drafts)  # y_l = the draft itself, y_w its refinement
    assert ex["y_l"] == drafts and ex["y_w"] == [E.refine_target(x, y) for x, y in zip(ps, drafts)]


def test_sft_examples_are_the_policys_own_drafts(env):
    """π_0's SFT-stage drafts are samples of the shared SFT policy (on-policy), and their targets refine them."""
    cfg, world = env
    pol = sft_model(cfg, world)
    ex = E.sft_examples(cfg, world, pol)
    ps = world.prompts["sft"][: int(E.at_scale(cfg, cfg.paper.sft_stage.prompts))]
    own = [c[0] for c in I.sample(pol, world.tokenizer, ps, seed=int(cfg.seed) * 1000 + 73, **E._gen_kwargs(cfg))]
    assert ex["prompt"] == ps and ex["y_l"] == own
    assert ex["y_w"] == [E.refine_target(x, y) for x, y in zip(ps, own)]


def test_evolve_pairs_best_and_worst_of_the_chain_as_two_dpo_rows():
    ps = ["rev:abc", "max:1234", "sort:cab"]
    chains = [["cbb", "cba", "cba sure"], ["3", "3", "3"], ["abc", "abd", "abc"]]
    scores = [[0.1, 0.9, 0.5], [0.5, 0.5, 0.5], [0.2, 0.1, 0.8]]
    out = E.evolve_pairs(ps, chains, scores, "improve")
    # prompt 2 ties everywhere: dropped. Prompt 3: best is step 2, worst step 1
    assert out["prompt"] == ["rev:abc", E.c_ref("rev:abc", "cbb"), "sort:cab", E.c_ref("sort:cab", "abd")]
    assert out["chosen"] == ["cba", "cba", "abc", "abc"] and out["rejected"] == ["cbb", "cbb", "abd", "abd"]
    assert out["term"] == ["direct", "refine"] * 2 and out["task_prompt"] == ["rev:abc"] * 2 + ["sort:cab"] * 2
    assert out["chosen_step"] == [1, 1, 0, 0] and out["rejected_step"] == [0, 0, 1, 1]  # first occurrence of the text
    assert I.validate_pairs(out) == 4


def test_rule_pairs_prefer_the_last_refinement():
    out = E.rule_pairs(["a", "b"], [["x0", "x1", "x2"], ["same", "other", "same"]])
    assert out == {"prompt": ["a"], "chosen": ["x2"], "rejected": ["x0"]}


# ---------------------------------------------------------------------------------------------
# L_pref through the TRL hook = ½ [L_DPO(x; y_w, y_l) + L_DPO(c_ref(x, y_l); y_w, y_l)]


def test_lpref_through_the_hook_matches_the_closed_form(env, tmp_path):
    cfg, world = env
    tok, beta = world.tokenizer, 0.5
    ps = world.prompts["pref"][:6]
    chains = [[solve(x), solve(x)[::-1] + "a", solve(x) + " sure"] for x in ps]
    scores = [[oracle_quality(x, y) for y in c] for x, c in zip(ps, chains)]
    pairs = E.evolve_pairs(ps, chains, scores, "improve")
    n = len(pairs["prompt"])
    assert n >= 8 and pairs["term"].count("refine") == n // 2
    ref = sft_model(cfg, world)
    pol = copy.deepcopy(ref)
    spec = I.TrainSpec(loss="dpo", loss_kwargs={"beta": beta}, lr=1e-3, batch_size=n)
    trainer = I.round_trainer(pol, tok, {k: pairs[k] for k in I.REQUIRED}, cfg.hardware, spec, 0, tmp_path)
    # the reference log-probs TRL precomputed on c_ref prompts are ours (the special tokens inside are read as such)
    rw, _ = sequence_logps(ref, tok, pairs["prompt"], pairs["chosen"])
    rl, _ = sequence_logps(ref, tok, pairs["prompt"], pairs["rejected"])
    np.testing.assert_allclose(trainer.train_dataset["ref_chosen_logps"], rw, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(trainer.train_dataset["ref_rejected_logps"], rl, rtol=1e-4, atol=1e-4)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():  # move the policy away from the reference so the loss is not log 2 everywhere
        for p in trainer.model.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=g))
    trainer.model.eval()
    batch = next(
        iter(torch.utils.data.DataLoader(trainer.train_dataset, batch_size=n, collate_fn=trainer.data_collator))
    )
    with torch.no_grad():
        hook = float(trainer.compute_loss(trainer.model, batch))
    lw, _ = sequence_logps(trainer.model, tok, pairs["prompt"], pairs["chosen"])
    ll, _ = sequence_logps(trainer.model, tok, pairs["prompt"], pairs["rejected"])
    per_row = -np.log(1 / (1 + np.exp(-beta * ((lw - rw) - (ll - rl)))))
    terms = np.asarray(pairs["term"])
    l_pref = per_row[terms == "direct"] + per_row[terms == "refine"]  # rows alternate direct, refine per pair
    assert abs(per_row - np.log(2)).max() > 1e-3
    assert hook == pytest.approx(0.5 * l_pref.mean(), rel=1e-4)


# ---------------------------------------------------------------------------------------------
# config errors before compute


@pytest.mark.parametrize(
    "override",
    [
        "paper.refine.depth=0",
        "paper.chat.prompts.ci=100000",
        "paper.sft_stage.prompts.ci=100000",
        "paper.rounds.ci=5",
        "paper.prompts_per_round.ci=1000",
        "paper.eval.n_eval.ci=999",
        "paper.train.loss=simpo",
        "paper.refine.instruction='<u>x'",  # quoted: unquoted, Hydra's parser rejects it before validate
    ],
)
def test_bad_config_raises(override):
    cfg = compose("evolve", ["scale=ci", override])  # composes: the error below is the paper's validate
    with pytest.raises(ConfigError):
        E.validate(cfg)


def test_paper_scale_is_not_runnable_here():
    cfg = compose("evolve", ["scale=paper"], check_hardware=False)  # past compose's GPU check, to the paper's
    with pytest.raises(ConfigError, match="toy world runs at scale=ci or tiny"):
        E.validate(cfg)


# ---------------------------------------------------------------------------------------------
# claims on synthetic results: the verdicts follow the numbers


def _block(q, pref):
    return {
        "oracle_qualities": list(q),
        "preferences": list(pref),
        "responses": ["ab" * (1 + i % 3) for i in range(len(q))],
        "reference_lengths": [6.0] * len(q),
    }


def _fake_runs(evolve_gain_t: float, n=200, seeds=(1, 2, 3), pi0_gain=0.05):
    rng = np.random.default_rng(0)
    runs = {}
    for sd in seeds:
        noise = 0.05 * rng.standard_normal(n)  # the same prompts' difficulty for every model of the seed

        def ev(d, g, p=0.4, noise=noise):
            d0 = np.clip(d + noise, 0, 1)
            return {
                "direct": _block(d0, np.full(n, p)),
                "refined": _block(np.clip(d0 + g, 0, 1), np.full(n, p + max(g, 0))),
            }

        start = ev(0.5, pi0_gain)
        runs[sd] = {
            "sft": ev(0.5, -0.3),
            "chat": ev(0.5, -0.1),
            "pi0": start,
            "pi0_dev": ev(0.5, pi0_gain),
            "iterdpo": {"refine": [start, ev(0.55, pi0_gain, 0.45), ev(0.6, pi0_gain, 0.5)]},
            "evolve": {"refine": [start, ev(0.55, evolve_gain_t / 2, 0.45), ev(0.6, evolve_gain_t, 0.5)]},
        }
    return runs


def test_claims_follow_the_numbers():
    cfg = compose("evolve", ["scale=ci"])
    out = EC.claims(_fake_runs(0.1), cfg)
    good = {c["id"]: c["verdict"] for c in out}
    # C4: both arms' direct answers are identical here → a zero difference → inconclusive
    assert good == {
        "K_refine": "reproduced",
        "PC": "reproduced",
        "C1": "reproduced",
        "C2": "reproduced",
        "C3": "reproduced",
        "C4": "inconclusive",
    }
    assert out[0]["id"] == "K_refine" and out[0]["role"] == "control" and out[0]["gates"] == ["C2", "C3"]
    flat = {c["id"]: c["verdict"] for c in EC.claims(_fake_runs(-0.1), cfg)}
    assert flat["C2"] == "not reproduced" and flat["PC"] == "reproduced"


def test_k_refine_absent_gates_c2_c3_but_not_c1_c4():
    """π_0 refines for the worse on the dev split: C2 and C3 read inconclusive with the reason; C1 (about a model
    never taught to refine) and C4 (direct answers) keep their verdicts."""
    cfg = compose("evolve", ["scale=ci"])
    by = {c["id"]: c for c in EC.claims(_fake_runs(0.3, pi0_gain=-0.05), cfg)}
    assert by["K_refine"]["verdict"] == "not reproduced"
    assert by["K_refine"]["evidence"]["diff"] == pytest.approx(-0.05, abs=0.01)
    for cid in ("C2", "C3"):
        assert by[cid]["verdict"] == "inconclusive" and by[cid]["evidence"]["gated_by"] == "K_refine"
        assert "self-refinement" in by[cid]["evidence"]["gate_reason"]
    assert by["C2"]["evidence"]["ungated_verdict"] == "reproduced"
    assert by["C1"]["verdict"] == "reproduced" and "gated_by" not in by["C1"]["evidence"]
    assert "gated_by" not in by["C4"]["evidence"]


def test_c1_is_judged_on_the_chat_model_not_the_shared_sft():
    cfg = compose("evolve", ["scale=ci"])
    runs = _fake_runs(0.1)
    for r in runs.values():
        r["sft"] = copy.deepcopy(r["pi0_dev"])  # the shared SFT's gain no longer matters
        d = np.asarray(r["chat"]["direct"]["oracle_qualities"])
        r["chat"]["refined"]["oracle_qualities"] = np.clip(d + 0.2, 0, 1).tolist()  # the chat model refines well
    by = {c["id"]: c for c in EC.claims(runs, cfg)}
    assert by["C1"]["verdict"] == "not reproduced" and "chat.ci_lo" in by["C1"]["evidence"]


# ---------------------------------------------------------------------------------------------
# determinism: same config and seed → identical round records and refinement evaluations


def test_one_round_is_deterministic(env, tmp_path, tmp_path_factory, monkeypatch):
    cfg, _ = env
    cfg1 = compose("evolve", ["scale=ci", "hardware.workers=1", "scale.n_seeds=1", "paper.rounds.ci=1"])
    outs = []
    for d in ("a", "b"):  # two fresh caches: everything after the session's SFT model is computed twice
        monkeypatch.setenv("REPLICATE_CACHE_DIR", str(fresh_cache_with_shared_sft(tmp_path / d, tmp_path_factory)))
        world = build_world(cfg1)
        res = E._job(cfg1, "evolve")
        outs.append(({k: v for k, v in res["records"][1].items() if k != "dir"}, res["refine"]))
        assert world.prompts == build_world(cfg1).prompts
    assert outs[0] == outs[1]
    rec = outs[0][0]
    assert set(rec["pairs"]["q_margin_by_term"]) == {"direct", "refine"} and rec["grad_norm"] > 0
    assert len(rec["extras"]["chain_q"]) == int(cfg1.paper.refine.depth) + 1
