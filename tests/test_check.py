"""``make check``'s comparison (replicate.metrics.claims.compare): raw metrics, claim effects and verdicts, the
single-seed subset, and a deliberate change of half a claim's effect failing."""

import copy

import numpy as np

from replicate.metrics.claims import compare, effect_tolerances
from replicate.metrics.verdicts import all_of, comparative_claim, gate_on_control


def _doc(shift: float = 0.0) -> dict:
    """A committed-style metrics doc: 3 seeds, a control on wr and two claims on lc."""
    rng = np.random.default_rng(0)
    per = lambda mu, sd: [rng.normal(mu, sd, 50) for _ in range(3)]
    pc = all_of("PC", "", [comparative_claim("wr", "", per(8, 1), rule="", metric="wr")], rule="")
    c1 = all_of(
        "C1",
        "",
        [
            comparative_claim("base", "", per(-4 + shift, 1), rule="", metric="lc"),
            comparative_claim("instruct", "", per(-6, 1), rule="", metric="lc"),
        ],
        rule="",
    )
    c2 = comparative_claim("C2", "", per(0.1, 3), rule="", metric="lc")
    return {
        "seeds": [42, 43, 44],
        "metrics": {"a.win_rate": 30.0, "b.q": 0.5},
        "seed_spread": {"a.win_rate": [29.0, 30.0, 31.0]},
        "claims": gate_on_control([pc, c1, c2]),
    }


def test_identical_docs_pass_and_tolerances_follow_the_smallest_decided_effect():
    d = _doc()
    assert compare(copy.deepcopy(d), d, {"default": 1e-6}) == []
    tol = effect_tolerances(d)
    c1 = {p: d["claims"][1]["evidence"][f"{p}.diff"] for p in ("base", "instruct")}
    assert tol["lc"] == abs(min(c1.values(), key=abs)) / 2  # C2 is undecided: it sets no tolerance
    assert tol["wr"] == abs(d["claims"][0]["evidence"]["wr.diff"]) / 2


def test_a_change_of_half_a_claims_effect_fails_the_check():
    d = _doc()
    moved = copy.deepcopy(d)
    base = moved["claims"][1]["evidence"]
    half = effect_tolerances(d)["lc"]
    base["base.diff"] += 1.01 * half
    problems = compare(moved, d, {"default": 1e-6})
    assert problems == [
        f"claim C1.base: effect {base['base.diff']} outside expected {d['claims'][1]['evidence']['base.diff']} ± {half:.3g}"
    ]
    # and a change of a third of it passes
    ok = copy.deepcopy(d)
    ok["claims"][1]["evidence"]["base.diff"] += half / 3
    assert compare(ok, d, {"default": 1e-6}) == []
    # the same change in a host-sensitive part is checked on its verdict side only
    assert compare(moved, d, {"default": 1e-6}, verdict_only=["C1.base"]) == []


def test_a_flipped_verdict_and_a_moved_metric_fail():
    d = _doc()
    flipped = copy.deepcopy(d)
    flipped["claims"][2]["verdict"] = "reproduced"
    assert any("claim C2: verdict" in p for p in compare(flipped, d, {"default": 1e-6}))
    moved = copy.deepcopy(d)
    moved["metrics"]["a.win_rate"] += 0.5
    assert compare(moved, d, {"default": 1e-6, "*win_rate*": 1.0}) == []
    assert compare(moved, d, {"default": 1e-6, "*win_rate*": 0.1}) != []


def test_the_single_seed_subset_compares_that_seeds_values():
    d = _doc()
    one = {
        "metrics": {"a.win_rate": 29.0, "b.q": 0.5},
        "claims": [{**c, "verdict": "inconclusive", "evidence": _first_seed(c["evidence"])} for c in d["claims"]],
    }
    assert compare(one, d, {"default": 1e-6}, seed=42) == []
    wrong = copy.deepcopy(one)
    wrong["metrics"]["a.win_rate"] = 30.0  # the seed mean, not seed 42's value
    assert compare(wrong, d, {"default": 1e-6}, seed=42) != []


def _first_seed(ev: dict) -> dict:
    """A claim's evidence as a one-seed re-run of the first seed would write it (diff = that seed's value)."""
    out = dict(ev)
    for k, v in ev.items():
        if k.endswith("per_seed"):
            out[k[: -len("per_seed")] + "diff"] = v[0]
    return out
