"""Temporal Self-Rewarding and the shared self-judge: each pair rule on hand-made examples, the judge turn's readings
(closed forms), the EFT grade, agreement measures, config errors, and determinism of a round at scale=ci."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
from executed_notebooks import fresh_cache_with_shared_sft, shared_cache

from replicate.core.config import ConfigError, compose
from replicate.papers import temporal_self_rewarding as exp
from replicate.papers.temporal_self_rewarding import claims as tc
from replicate.training import self_judge as SJ
from replicate.worlds.tokenizer import build_tokenizer
from replicate.worlds.toy_lm import Judge

pytestmark = pytest.mark.xdist_group("tsr")  # one worker computes the costly module fixture ci_runs once

NAN = float("nan")


# ---------------------------------------------------------------------------------------------
# pair rules (pure)


def test_sr_pairs_max_vs_min_ties_and_unparsable_dropped():
    ps = ["a", "b", "c", "d"]
    cands = [["w", "x", "y", "z"], ["u", "v", "s", "t"], ["k", "l", "m", "n"], ["e", "f", "g", "h"]]
    scores = [[2, 5, 1, 3], [4, 4, 4, 4], [NAN, 3, NAN, 1], [NAN, NAN, NAN, 2]]
    out = exp.sr_pairs(ps, cands, scores)
    # b: all tie → dropped; c: NaNs left out, 3 vs 1; d: one scored candidate → dropped
    assert out == {"prompt": ["a", "c"], "chosen": ["x", "l"], "rejected": ["y", "n"]}
    s = exp.with_scores(out, ps, cands, scores)
    assert s["score_chosen"] == [5.0, 3.0] and s["score_rejected"] == [1.0, 1.0]


def test_anchored_rejection_uses_past_only_when_it_scores_lower():
    ps = ["p1", "p2", "p3", "p4"]
    cur = [["c1", "c2"], ["d1", "d2"], ["e1", "e2"], ["f1", "f2"]]
    s_cur = [[4, 2], [5, 3], [3, 3], [NAN, NAN]]
    past = [["o1", "o2"], ["q1", "q2"], ["r1", "r2"], ["t1", "t2"]]
    s_past = [[1, 0], [3, 4], [3, 3], [0, 1]]
    out = exp.anchored_pairs(ps, cur, s_cur, past, s_past)
    # p1: past's worst (0) < current's worst (2) → anchored on M_0's "o2"
    # p2: past's worst (3) ties current's worst (3), not below → current's worst "d2"
    # p3: all 3s → score(chosen) = score(rejected) → dropped; p4: no scored current sample → dropped
    assert out["prompt"] == ["p1", "p2"]
    assert out["chosen"] == ["c1", "d1"] and out["rejected"] == ["o2", "d2"]
    assert out["rejected_from"] == ["past", "current"]
    assert out["score_chosen"] == [4.0, 5.0] and out["score_rejected"] == [0.0, 3.0]


def test_future_guided_replaces_chosen_only_when_strictly_better():
    p1 = {
        "prompt": ["a", "b", "c"],
        "chosen": ["x", "y", "z"],
        "rejected": ["r", "s", "t"],
        "score_chosen": [3.0, 4.0, 2.0],
        "score_rejected": [1.0, 0.0, 1.0],
        "rejected_from": ["past"] * 3,
        "best_current": [3.0, 4.0, 2.0],
    }
    fut = [["f1", "f2"], ["g1", "g2"], ["h1", "h2"]]
    s_fut = [[3.0, 5.0], [4.0, 4.0], [NAN, NAN]]
    out = exp.future_guided(p1, fut, s_fut)
    assert out["chosen"] == ["f2", "y", "z"]  # b: tie with the best current → kept; c: unparsable → kept
    assert out["chosen_from"] == ["future", "current", "current"]
    assert out["rejected"] == ["r", "s", "t"] and out["score_chosen"] == [5.0, 4.0, 2.0]
    assert p1["chosen"] == ["x", "y", "z"]  # the Phase-1 pairs are not mutated


def test_gaps_are_zero_where_no_pair_formed():
    pairs = {
        "prompt": ["rev:ab"],
        "chosen": ["ba"],
        "rejected": ["ab"],
        "score_chosen": [4.0],
        "score_rejected": [1.0],
    }
    np.testing.assert_allclose(exp.gaps(["rev:ab", "sort:ba"], pairs), [3.0, 0.0])
    np.testing.assert_allclose(exp.gaps(["rev:ab", "sort:ba"], pairs, "q"), [1.0, 0.0])


# ---------------------------------------------------------------------------------------------
# the self-judge's readings and targets


def test_eft_targets_are_rounded_round_robin_scores():
    j = Judge(sharpness=4.0, length_bias=0.0, position_bias=0.0, noise=0.0)
    p = "rev:abc"  # truth "cba"; oracle q of the three: 1, 2/3, 0
    sig = lambda z: 1 / (1 + math.exp(-z))
    q = [1.0, 2 / 3, 0.0]
    want = [int(np.floor(5 * np.mean([sig(4 * (q[i] - q[k])) for k in range(3) if k != i]) + 0.5)) for i in range(3)]
    assert SJ.eft_targets(j, p, ["cba", "cbb", "zzz"]) == want == [4, 3, 0]
    assert SJ.eft_targets(j, p, ["cba", "cba"]) == [3, 3]  # a tie: 5 · ½ rounds half up


def test_expected_and_sampled_scores_closed_forms():
    tok = build_tokenizer()
    ids = SJ.digit_ids(tok)
    logits = np.full((3, len(tok)), -50.0)
    logits[0, ids[4]] = 10.0  # all mass on "4"
    logits[1, ids[1]] = logits[1, ids[5]] = 10.0  # half "1", half "5"
    logits[2, tok.convert_tokens_to_ids("a")] = 10.0  # a letter: unparsable
    np.testing.assert_allclose(SJ.expected_scores(logits[:2], ids), [4.0, 3.0], atol=1e-9)
    np.testing.assert_allclose(SJ.digit_mass(logits, ids), [1.0, 1.0, 0.0], atol=1e-9)
    greedy = SJ.sampled_scores(logits, ids, n=3, temperature=0.0, seed=0)
    assert greedy[0] == 4.0 and greedy[1] in (1.0, 5.0) and math.isnan(greedy[2])
    many = SJ.sampled_scores(np.repeat(logits[1:2], 4000, 0), ids, n=1, temperature=1.0, seed=1)
    assert set(np.unique(many)) == {1.0, 5.0} and abs(many.mean() - 3.0) < 0.1
    a = SJ.sampled_scores(logits, ids, n=3, temperature=0.7, seed=5)
    np.testing.assert_array_equal(a, SJ.sampled_scores(logits, ids, n=3, temperature=0.7, seed=5))


def test_pair_accuracy_counts_ties_half_and_skips_equal_truth():
    q = np.array([[1.0, 0.5, 0.0], [0.3, 0.3, 0.3]])
    assert SJ.pair_accuracy(q, q) == 1.0 and SJ.pair_accuracy(-q, q) == 0.0
    assert SJ.pair_accuracy(np.zeros_like(q), q) == 0.5
    per = SJ.per_prompt_pair_accuracy([[2, 1, 1], [0, 1, 2]], q)
    assert per[0] == pytest.approx((2 + 2 + 1) / 6) and math.isnan(per[1])


def test_judge_turn_layout():
    tok = build_tokenizer()
    assert SJ.judge_text(tok, "<u>score?", "rev:ab", "ba") == "<s><u>rev:ab<a>ba<e><u>score?"
    rows = SJ.eft_rows(tok, "<u>score?", ["rev:ab"], ["ba"], [5], ["sort:ba"], ["ab"])
    assert rows["completion"] == ["5", "ab"] and rows["prompt"][1] == "<s><u>sort:ba<a>"
    # the worked judge writes its answer and "=" before the digit; the IFT rows are unchanged
    rows = SJ.eft_rows(tok, "<u>score?", ["rev:ab"], ["bx"], [2], ["sort:ba"], ["ab"], worked=["ba"])
    assert rows["completion"] == ["ba=2", "ab"] and rows["prompt"][0] == "<s><u>rev:ab<a>bx<e><u>score?"
    with pytest.raises(ValueError, match="worked answer"):
        SJ.eft_rows(tok, "<u>score?", ["rev:ab"], ["bx"], [2], [], [], worked=["b=a"])


def test_worked_judge_reads_the_digit_after_its_own_answer_and_sep():
    """A stand-in model that writes "ba" then "=" then puts its mass on "4": the reading must generate the worked
    answer greedily, stop at "=", and read the next token there (not right after the query)."""
    import torch
    from transformers.modeling_outputs import CausalLMOutput

    tok = build_tokenizer()
    script = {"": "b", "b": "a", "ba": "=", "ba=": "4"}
    q = "<u>score?"

    class Scripted(torch.nn.Module):
        def forward(self, input_ids, attention_mask=None, **kw):
            logits = torch.full((*input_ids.shape, len(tok)), -10.0)
            for i, row in enumerate(input_ids):
                text = tok.decode(row[attention_mask[i].bool()] if attention_mask is not None else row)
                after = text.split(q, 1)[1] if q in text else ""
                logits[i, -1, tok.convert_tokens_to_ids(script.get(after, "0"))] = 10.0
            return CausalLMOutput(logits=logits)

        def generate(self, input_ids, attention_mask, max_new_tokens, eos_token_id, **kw):
            ids, mask = input_ids, attention_mask
            for _ in range(max_new_tokens):
                nxt = self.forward(ids, mask).logits[:, -1].argmax(-1, keepdim=True)
                ids, mask = torch.cat([ids, nxt], 1), torch.cat([mask, torch.ones_like(nxt)], 1)
                if all(int(t) in eos_token_id for t in nxt[:, 0]):
                    break
            return ids

        def eval(self):
            return self

    logits, worked = SJ.worked_logits(Scripted(), tok, q, ["rev:ab"], ["bx"], max_tokens=5)
    assert worked == ["ba"]
    assert SJ.expected_scores(logits, SJ.digit_ids(tok))[0] == pytest.approx(4.0, abs=1e-3)
    # without the worked answer the same model's next token after the query is "b", not a digit: the reading differs
    plain = SJ.next_token_logits(Scripted(), tok, q, ["rev:ab"], ["bx"])
    assert plain[0].argmax() == tok.convert_tokens_to_ids("b")


# ---------------------------------------------------------------------------------------------
# config, claims plumbing, determinism


def test_bad_config_raises_before_compute():
    for bad in (
        ["paper.sr.n_samples=1"],
        ["paper.chunk.ci=60"],
        ["paper.self_judge.reading.ci=vote"],
        ["paper.self_judge.work=essay"],
        ["paper.self_judge.work_max_tokens=0"],
        ["paper.probe_prompts.ci=100"],
        ["paper.tsr.rounds=0"],
    ):
        cfg = compose("temporal-self-rewarding", ["scale=ci", *bad])  # composes: the error is the paper's validate
        with pytest.raises(ConfigError):
            exp.validate(cfg)
    cfg = compose("temporal-self-rewarding", ["scale=small"], check_hardware=False)
    with pytest.raises(ConfigError, match="toy world runs at scale=ci or tiny"):
        exp.validate(cfg)


@pytest.fixture(scope="module")
def ci_runs(tmp_path_factory):
    """One seed, one round of each arm at scale=ci, twice: in the session's cache and in a fresh one where everything
    after the (shared) SFT model is computed again (determinism)."""
    mp = pytest.MonkeyPatch()
    out = []
    fresh = fresh_cache_with_shared_sft(tmp_path_factory.mktemp("fresh") / "cache", tmp_path_factory)
    for cache in (shared_cache(tmp_path_factory), fresh):
        mp.setenv("REPLICATE_CACHE_DIR", str(cache))
        cfg = compose(
            "temporal-self-rewarding",
            ["scale=ci", "hardware.workers=1", "scale.n_seeds=1", "paper.sr.rounds=1", "paper.tsr.rounds=1"],
        )
        exp.setup_torch(cfg)
        world = exp.build_world(cfg)
        out.append((cfg, {int(cfg.seed): {arm: exp.run_arm(cfg, world, arm, progress=False) for arm in exp.ARMS}}))
    mp.undo()
    return out


def test_same_config_and_seed_give_identical_rounds(ci_runs):
    (cfg, a), (_, b) = ci_runs
    ma, mb = tc.flat_metrics(a)[0], tc.flat_metrics(b)[0]
    assert ma.keys() == mb.keys() and all(ma[k] == mb[k] or (math.isnan(ma[k]) and math.isnan(mb[k])) for k in ma)
    sd = int(cfg.seed)
    for arm in exp.ARMS:
        assert a[sd][arm][1]["eval"]["responses"] == b[sd][arm][1]["eval"]["responses"]
    # round 0 is the same M_0 for both arms, and every claim gets a verdict
    assert a[sd]["sr"][0]["eval"]["responses"] == a[sd]["tsr"][0]["eval"]["responses"]
    ids = [
        c["id"]
        for c in exp.PAPER.claims(
            a, compose("temporal-self-rewarding", ["scale=ci", "paper.sr.rounds=1", "paper.tsr.rounds=1"])
        )
    ]
    assert ids == ["K_judge", "PC", "A1", "A2", "A3", "B1", "B2"]


def _with_judge(runs: dict, seeds_acc: dict) -> dict:
    """``runs``' one seed copied to the seeds of ``seeds_acc``, its round-1 self-judge reading per probe prompt set
    to (self vs oracle, length vs oracle): a judge that works or one at chance, with everything else as measured."""
    import copy

    (rec,) = runs.values()
    out = {}
    for sd, (s_acc, n_acc) in seeds_acc.items():
        r = copy.deepcopy(rec)
        ag = r["sr"][1]["extras"]["agreement"]
        k = len(ag["self_vs_oracle"])
        rng = np.random.default_rng(sd)
        ag["self_vs_oracle"] = (s_acc + 0.05 * rng.standard_normal(k)).tolist()
        ag["length_vs_oracle"] = (n_acc + 0.05 * rng.standard_normal(k)).tolist()
        out[sd] = r
    return out


def test_k_judge_gates_the_claims_that_need_a_self_judge(ci_runs):
    (_, a), _ = ci_runs
    cfg = compose("temporal-self-rewarding", ["scale=ci", "paper.sr.rounds=1", "paper.tsr.rounds=1"])
    works = tc.claims(_with_judge(a, {1: (0.8, 0.5), 2: (0.75, 0.5), 3: (0.85, 0.55)}), cfg)
    chance = tc.claims(_with_judge(a, {1: (0.5, 0.5), 2: (0.49, 0.52), 3: (0.51, 0.5)}), cfg)
    k_works, k_chance = works[0], chance[0]
    assert k_works["id"] == k_chance["id"] == "K_judge" and k_works["role"] == "control"
    assert k_works["verdict"] == "reproduced" and k_chance["verdict"] != "reproduced"
    assert set(k_works["gates"]) == {"A1", "A2", "A3", "B1", "B2"}
    for c in chance[1:]:
        gated = "K_judge" in c["evidence"].get("gated_by", "")
        assert gated == (c["id"] in k_works["gates"])
        assert not gated or c["verdict"] == "inconclusive"
    assert not any("K_judge" in c["evidence"].get("gated_by", "") for c in works[1:])


def test_tsr_round_records_its_phases(ci_runs):
    (cfg, a), _ = ci_runs
    rec = a[int(cfg.seed)]["tsr"][1]
    x = rec["extras"]
    # the shares it reports are those of the pairs the round trained on, and each pair is ordered by its scores
    pairs = json.loads((Path(rec["dir"]) / "pairs.json").read_text())
    assert pairs["prompt"] and x["n_pairs_phase1"] >= len(pairs["prompt"])
    assert set(pairs["rejected_from"]) <= {"past", "current"} and set(pairs["chosen_from"]) <= {"current", "future"}
    assert x["rejected_from_past"] == pytest.approx(np.mean([r == "past" for r in pairs["rejected_from"]]))
    assert x["chosen_from_future"] == pytest.approx(np.mean([c == "future" for c in pairs["chosen_from"]]))
    assert all(c > r for c, r in zip(pairs["score_chosen"], pairs["score_rejected"]))
    assert len(x["probe_gap"]) == int(exp.at_scale(cfg, cfg.paper.probe_prompts))
    # Phase 2 only ever raises the chosen score, never the rejected: the gap cannot shrink
    assert all(g2 >= g1 - 1e-12 for g1, g2 in zip(x["probe_gap_phase1"], x["probe_gap"]))
