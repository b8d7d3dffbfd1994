"""replicate.metrics.wildbench: WB-Reward (five outcomes, K rule, three baselines) and WB-Score."""

import numpy as np
import pytest

from replicate.metrics import wildbench as WB


def test_reward_closed_form_and_skipped_pairs_in_denominator():
    c = {"win_much": 10, "win": 20, "tie": 30, "lose": 20, "lose_much": 10}
    assert WB.reward(c) == 0.0
    c = {"win_much": 5, "win": 10, "tie": 0, "lose": 2, "lose_much": 1, "total": 20}  # 2 skipped pairs
    assert WB.reward(c) == pytest.approx(100 * (5 + 5 - 1 - 1) / 20)


@pytest.mark.parametrize(
    "winner,extent,lt,lr,K,expected",
    [
        ("test", 1, 3000, 1000, -1, "win"),  # no rule
        ("test", 1, 3000, 1000, 500, "tie"),  # slight win by the much longer output -> tie
        ("test", 1, 1400, 1000, 500, "win"),  # within the margin
        ("test", 1, 1500, 1000, 500, "win"),  # exactly K longer is not "more than K"
        ("test", 2, 9000, 10, 0, "win_much"),  # much better is never changed
        ("ref", 1, 100, 2000, 500, "tie"),  # slight loss to a much longer baseline -> tie
        ("ref", 1, 3000, 100, 500, "lose"),  # loss to a shorter baseline stays a loss
        ("ref", 2, 10, 9000, 0, "lose_much"),
        ("tie", 0, 1, 1, 500, "tie"),
    ],
)
def test_length_rule(winner, extent, lt, lr, K, expected):
    assert WB.outcome(winner, extent, lt, lr, K) == expected


def test_length_rule_invariants_random():
    rng = np.random.default_rng(0)
    v = [
        (
            rng.choice(["test", "ref", "tie"]),
            int(rng.integers(1, 3)),
            int(rng.integers(0, 4000)),
            int(rng.integers(0, 4000)),
        )
        for _ in range(500)
    ]
    base = WB.count_outcomes(WB.outcome(*x, K=-1) for x in v)
    prev = base
    for K in (3000, 1500, 1000, 500, 100, 0):  # smaller K converts more slight verdicts
        c = WB.count_outcomes(WB.outcome(*x, K=K) for x in v)
        assert c["win_much"] == base["win_much"] and c["lose_much"] == base["lose_much"]
        assert c["win"] <= prev["win"] and c["lose"] <= prev["lose"] and sum(c.values()) == 500
        prev = c


def test_rewards_from_verdicts_skips_but_keeps_total():
    v = [("test", 2, 1, 1), ("ref", 1, 1, 1), ("test", 1, 1, 1), ("tie", 0, 1, 1)]
    assert WB.rewards_from_verdicts(v, skip=[False, False, True, False]) == pytest.approx(100 * (1 - 0.5) / 4)


def test_task_macro_uses_all_weights_in_denominator():
    w = WB.TASK_WEIGHTS["HEAD"]
    vals = {g: 10.0 for g in WB.TASK_GROUPS}
    assert WB.task_macro(vals, w) == pytest.approx(10.0)
    del vals["Coding & Debugging"]
    assert WB.task_macro(vals, w) == pytest.approx(10.0 * (sum(w.values()) - 1.25) / sum(w.values()))


def test_group_rewards_use_group_counts():
    g = WB.group_rewards({"Creative Tasks": {"win_much": 1, "win": 0, "tie": 1, "lose": 0, "lose_much": 0}})
    assert g["Creative Tasks"] == 50.0


def test_score_rescaling():
    assert WB.rescale_score(5) == 0 and WB.rescale_score(10) == 10 and WB.rescale_score(1) == -8
    s = WB.wb_score([7, 8, np.nan, 5])
    assert s["n"] == 3 and s["score"] == pytest.approx(20 / 3)
    assert s["WB_score"] == pytest.approx(10 * 2 * (20 / 3 - 5))


@pytest.fixture(scope="module")
def wb(public_data):
    from replicate.papers import wildbench as exp

    exp.load_pairwise("HEAD", "gpt4t", -1)
    return exp


@pytest.mark.parametrize("snapshot", ["2024-06-18", "HEAD"])
def test_public_files_match_formulas(wb, snapshot):
    c = wb.reward_checks(snapshot)
    assert max(c["reward"], c["group_reward"], c["task_macro_reward"]) < 1e-12
    assert c["K_much_changed"] == 0 and c["K_slight_increased"] == 0
    sc = wb.scores(snapshot)
    assert (sc["WB_score"] / 10 - sc["adjusted_score_file"]).abs().max() < 1e-12
    assert (sc["task_macro_score"] - sc["task_macro_score_file"]).abs().max() < 1e-12


def test_per_example_scores_reproduce_score_json(wb):
    pe = wb.per_example_scores().dropna(subset=["score_json"])
    assert len(pe) >= 7 and pe["abs_diff"].max() < 1e-12


def test_table3_external_rows_equal_paper(wb):
    t3 = wb.table3(n_boot=0)
    paper = {
        "Arena-Hard": (0.909, 0.925, 0.965, 0.890),
        "AlpacaEval2-LC": (0.892, 0.951, 0.924, 0.818),
        "AlpacaEval2": (0.865, 0.952, 0.960, 0.868),
    }  # WildBench Table 3
    for row, vals in paper.items():
        got = [round(float(t3.loc[row, c]), 3) for c in ("pearson_top", "pearson", "spearman", "kendall")]
        assert got == list(vals), row
    assert int(t3["n"].iloc[0]) == 14
