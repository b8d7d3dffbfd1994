"""Iterative rounds on a real model (``real.iterative``, kind ``iterative``): the pair rules in closed form on
chat-format prompts, and DRIFT, Temporal Self-Rewarding and EVOLVE at scale=small on CPU with a tiny local Llama, a
tiny local reward model and tiny local datasets (the fixtures of test_real_model), offline."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from test_real_model import small_overrides

from replicate.core.config import ConfigError, compose
from replicate.core.io import read_json
from replicate.training import pair_rules as R

U = lambda s: [{"role": "user", "content": s}]


# ----------------------------------------------------------------------------- pair rules, closed form
def test_drift_keeps_the_logged_negative_and_drops_unchanged_answers():
    items = {"prompt": [U("a"), U("b"), U("c")], "rejected": ["bad a", "bad b", "bad c"]}
    out = R.drift_pairs(items, ["good a", "bad b", "good c"])
    assert out == {
        "prompt": [U("a"), U("c")],
        "chosen": ["good a", "good c"],
        "rejected": ["bad a", "bad c"],
        "item": [0, 2],
    }


def test_best_vs_worst_with_unparsable_judgments_and_ties():
    xs = [U("a"), U("b"), U("c")]
    cands = [["y1", "y2", "y3"], ["z1", "z2", "z3"], ["w1", "w2", "w3"]]
    out = R.sr_pairs(xs, cands, [[0.2, np.nan, 0.9], [0.5, 0.5, 0.5], [np.nan, np.nan, 1.0]])
    assert out == {"prompt": [U("a")], "chosen": ["y3"], "rejected": ["y1"]}  # b ties, c has one scored candidate


def test_temporal_anchored_rejection_then_future_guided_chosen():
    xs = [U("p1"), U("p2"), U("p3")]
    cur, s_cur = [["c1", "c2"], ["d1", "d2"], ["e1", "e2"]], [[4, 2], [5, 3], [3, 3]]
    past, s_past = [["o1", "o2"], ["q1", "q2"], ["r1", "r2"]], [[1, 3], [4, 3.5], [2, 5]]
    p1 = R.anchored_pairs(xs, cur, s_cur, past, s_past)
    # p1: M_0's worst (1) is below M_i's worst (2) → anchored; p2: M_0's worst 3.5 is not below 3 → M_i's worst;
    # p3: chosen e1 (3) vs M_0's r1 (2)
    assert p1["prompt"] == xs and p1["chosen"] == ["c1", "d1", "e1"] and p1["rejected"] == ["o1", "d2", "r1"]
    assert p1["rejected_from"] == ["past", "current", "past"] and p1["score_rejected"] == [1.0, 3.0, 2.0]
    p2 = R.future_guided(p1, [["f1", "f2"], ["g1", "g2"], ["h1", "r1"]], [[5, 1], [5, 4], [2, 9]])
    # p1: 5 > 4 → f1; p2: 5 is not > 5 → kept; p3: the future's best is the rejected itself → kept
    assert p2["chosen"] == ["f1", "d1", "e1"] and p2["chosen_from"] == ["future", "current", "current"]
    assert p2["rejected"] == p1["rejected"] and p2["score_chosen"] == [5.0, 5.0, 3.0]


def test_evolve_pairs_a_direct_and_a_refinement_row_per_chain():
    from replicate.real.iterative import refine_context

    xs = [U("x"), U("z")]
    chains = [["y0", "y1", "y2"], ["same", "same", "same"]]
    out = R.refine_pairs(xs, chains, [[0.5, 0.9, 0.1], [0.5, 0.7, 0.2]], lambda x, y: refine_context(x, y, "improve"))
    assert out["prompt"] == [
        U("x"),
        U("x") + [{"role": "assistant", "content": "y2"}, {"role": "user", "content": "improve"}],
    ]
    assert out["chosen"] == ["y1", "y1"] and out["rejected"] == ["y2", "y2"] and out["term"] == ["direct", "refine"]
    assert out["chosen_step"] == [1, 1] and out["rejected_step"] == [2, 2] and out["task_prompt"] == [U("x"), U("x")]


def test_toy_evolve_pairs_are_the_shared_rule_with_the_toy_context():
    from replicate.papers import evolve

    out = evolve.evolve_pairs(["rev:abc"], [["cbb", "cba", "cba sure"]], [[0.1, 0.9, 0.5]], "improve")
    assert out["prompt"] == ["rev:abc", evolve.c_ref("rev:abc", "cbb", "improve")] and out["chosen"] == ["cba", "cba"]


def test_iterative_methods_are_validated_before_compute():
    from replicate.real.iterative import validate

    ok = {
        "kind": "iterative",
        "rule": "tsr",
        "k": 2,
        "rounds": 2,
        "rows_per_round": 4,
        "data": "d",
        "loss": "dpo",
        "lr": 1e-6,
    }
    validate("tsr", ok)
    for bad, match in (
        ({"rule": "nope"}, "rule must be one of"),
        ({"k": 0}, "k ≥ 1"),
        ({"rounds": 0}, "rounds must be ≥ 1"),
        ({"data": None}, "needs data"),
        ({"rule": "iterdpo"}, "n ≥ 2"),
        ({"rule": "evolve"}, "depth ≥ 1"),
    ):
        with pytest.raises(ConfigError, match=match):
            validate("m", {**ok, **bad})


# ----------------------------------------------------------------------------- the three notebooks at scale=small
PAPERS = {"drift": ("drift", "iterdpo"), "temporal-self-rewarding": ("sr", "tsr"), "evolve": ("evolve", "iterdpo")}


@pytest.fixture(scope="module")
def data(local):  # noqa: F811
    rows = [
        {"prompt": [{"role": "user", "content": f"rev:ab{c}"}], "rejected": f"{c}bb", "user_preference": "no, 2 is b"}
        for c in "abcdefgh"
    ]
    (local / "dsat.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    (local / "prompts.jsonl").write_text("\n".join(json.dumps({"prompt": f"sort:{c}ba"}) for c in "abcdefgh"))
    return local


def overrides(paper, local, tmp_path):  # noqa: F811
    common = [o for o in small_overrides(local, tmp_path) if not o.startswith("paper.")]
    out = [*common, "scale.world.n_eval=6"]
    for m in PAPERS[paper]:
        data = local / ("dsat.jsonl" if paper == "drift" else "prompts.jsonl")
        out += [
            f"paper.real.methods.{m}.data={data}",
            f"paper.real.methods.{m}.rounds=2",
            f"paper.real.methods.{m}.rows_per_round=3",
            f"++paper.real.methods.{m}.sample.max_new_tokens=6",
        ]
        if paper == "drift":  # DRIFT's own dsat_data.jsonl layout (prompt, rejected, user_preference)
            out += [f"paper.real.methods.{m}.fields.prompt=prompt", "paper.real.sample.max_new_tokens=6"]
    return (
        out
        + {
            "temporal-self-rewarding": ["paper.real.methods.tsr.k=2", "paper.real.methods.sr.n=2"],
            "evolve": [
                "paper.real.methods.iterdpo.n=2",
                "paper.real.methods.evolve.depth=1",
                "paper.real.methods.evolve.eval_refine=1",
            ],
            "drift": ["paper.real.methods.iterdpo.n=2"],
        }[paper]
    )


@pytest.mark.slow  # a notebook per paper on a local checkpoint, minutes of CPU: make check runs it (make test ≤ 10 min)
@pytest.mark.parametrize("paper", list(PAPERS))
def test_small_scale_runs_the_notebook_on_a_local_model(env, data, paper):  # noqa: F811
    import replicate.cli.run as run
    from replicate.real import iterative as RI
    from replicate.real.methods import methods

    ov = overrides(paper, data, env)
    run.run_notebook(paper, ov, html=False)
    doc = read_json(env / "results" / paper / "small" / "metrics.json")
    assert doc["extra"]["real"] and [c["id"] for c in doc["claims"]][0] == "PC"
    assert {f"{m}.lc_win_rate" for m in ("start", *PAPERS[paper])} <= set(doc["metrics"])
    if paper == "evolve":  # eval_refine: the same final model's answers after self-refinement, a row of their own
        assert "evolve_refined.win_rate" in doc["metrics"] and [c["id"] for c in doc["claims"]] == [
            "PC",
            "C1",
            "C2",
            "C2b",
        ]
    cfg = compose(paper, ov)
    for name in PAPERS[paper]:
        m = methods(cfg)[name]
        recs = RI.records(cfg, m)
        assert [r["round"] for r in recs] == [1, 2] and all(r["n_prompts"] == 3 for r in recs)
        assert all(0 <= r["n_pairs"] <= 3 * (2 if m["rule"] == "evolve" else 1) for r in recs)
        assert all(r["steps"] == min(2, -(-r["n_pairs"] // 2)) for r in recs)  # one pass at batch 2, capped at 2 steps
    _resumes_and_recomputes_identically(cfg, PAPERS[paper][-1])
    if paper == "temporal-self-rewarding":
        pairs = read_json(Path(str(RI.train(cfg, "tsr", methods(cfg)["tsr"]))).parent / "pairs.json")
        assert set(pairs["rejected_from"]) <= {"past", "current"} and set(pairs["chosen_from"]) <= {
            "future",
            "current",
        }
        m = doc["metrics"]
        run.run_notebook(
            paper, ov, html=False
        )  # a second run finds every stage cached: the same numbers (one paper: time)
        assert read_json(env / "results" / paper / "small" / "metrics.json")["metrics"] == m


def _resumes_and_recomputes_identically(cfg, name):
    from replicate.core.io import cache_dir, content_hash
    from replicate.real import iterative as RI
    from replicate.real.methods import methods

    m = methods(cfg)[name]
    dirs = [cache_dir() / "real-iterative" / content_hash(k) for k in RI.round_keys(cfg, m)]
    assert RI.train(cfg, name, m) == dirs[-1] / "model" and not (dirs[-1] / "future").exists()
    pairs, first = read_json(dirs[1] / "pairs.json"), (dirs[0] / "DONE").stat().st_mtime_ns
    shutil.rmtree(dirs[1])  # a run killed during round 2
    assert RI.train(cfg, name, m) == dirs[1] / "model"  # resumes: round 1 from the cache, round 2 recomputed ...
    assert (dirs[0] / "DONE").stat().st_mtime_ns == first
    assert read_json(dirs[1] / "pairs.json") == pairs  # ... identically


def test_judge_as_scorer_follows_the_reward_model(env, data):  # noqa: F811
    from replicate.real import iterative as RI
    from replicate.real.judges import reward_model_preferences

    cfg = compose("evolve", overrides("evolve", data, env))
    xs, cands = [U("rev:abc"), U("sort:cba")], [["cba", "abc", "x"], ["abc", "cab", "abc sure"]]
    s = RI.judge_scores(cfg, xs, cands, tag="t")
    assert np.allclose(s[:, 0], 0.5)
    # σ(r(y_k) − r(y_0)): the same order as the reward model's own preference of y_k over y_0
    direct = np.stack(
        [
            reward_model_preferences(cfg.judge, ["rev:abc", "sort:cba"], [c[k] for c in cands], [c[0] for c in cands])
            for k in range(3)
        ],
        1,
    )
    assert np.allclose(s, direct, atol=1e-6) and len({round(v, 6) for v in s.ravel()}) > 2


def test_offline_hub_ids_fail_before_compute_naming_each(env):  # noqa: F811
    from replicate.real.preflight import require

    for paper, ids in (
        ("drift", ["microsoft/WildFeedback"]),
        ("temporal-self-rewarding", ["HuggingFaceH4/ultrafeedback_binarized"]),
        ("evolve", ["HuggingFaceH4/ultrafeedback_binarized"]),
    ):
        with pytest.raises(ConfigError) as e:
            require(compose(paper, ["scale=small"]))
        for missing in ("Qwen/Qwen2.5-0.5B-Instruct", "Skywork/Skywork-Reward-V2-Qwen3-0.6B", *ids):
            assert missing in str(e.value), (paper, missing)
    assert not (env / "cache").exists()


def test_self_judge_reads_the_expected_digit_after_score(env, data):  # noqa: F811
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from replicate.real import iterative as RI
    from replicate.training.self_judge import expected_scores

    cfg = compose("temporal-self-rewarding", overrides("temporal-self-rewarding", data, env))
    xs, cands = [U("rev:abc"), U("sort:cba")], [["cba", "x"], ["abc", "abc sure"]]
    s = RI.self_scores(cfg, data / "lm", xs, cands, tag="t")
    tok, lm = AutoTokenizer.from_pretrained(data / "lm"), AutoModelForCausalLM.from_pretrained(data / "lm")
    by_hand = []
    for x, c in zip(["rev:abc", "sort:cba"], cands):  # one answer at a time, no padding, the full logits
        for y in c:
            text = (
                tok.apply_chat_template(
                    [{"role": "user", "content": RI.JUDGE.format(question=x, response=y)}],
                    tokenize=False,
                    add_generation_prompt=True,
                )
                + "Score: "
            )
            with torch.no_grad():
                logits = lm(**tok(text, return_tensors="pt", add_special_tokens=False)).logits[0, -1].numpy()
            by_hand.append(expected_scores(logits[None], [tok.convert_tokens_to_ids(d) for d in "012345"])[0])
    assert s.shape == (2, 2) and np.allclose(s.ravel(), by_hand, atol=1e-4) and ((0 <= s) & (s <= 5)).all()


def test_refinement_at_inference_chains_from_the_direct_answer(env, data):  # noqa: F811
    from replicate.real import iterative as RI
    from replicate.real.engines import generate
    from replicate.real.methods import methods

    cfg = compose("evolve", overrides("evolve", data, env))
    xs = ["rev:abc", "sort:cba"]
    y0 = [o[0] for o in generate(cfg, data / "lm", xs, tag="t")]
    y1 = RI.refine_chain(cfg, data / "lm", xs, y0, {"eval_refine": 1, "refine": "again"}, tag="t")
    assert y1 != y0 and y1 == [
        o[0]
        for o in generate(
            cfg, data / "lm", [RI.refine_context(U(x), y, "again") for x, y in zip(xs, y0)], tag="t-refine-1"
        )
    ]
    m = methods(cfg)["evolve"]
    assert RI.round_keys(cfg, m) == RI.round_keys(cfg, {**m, "eval_refine": 5})  # the inference setting never retrains
