"""A notebook's "What we found" is rendered from the claims of its metrics document, never typed: each verdict with
its effect, 95 % interval and units, and the reason an inconclusive claim is inconclusive."""

import pytest

from replicate.metrics.claims import claim
from replicate.metrics.verdicts import all_of, gate_on_control, interval_claim
from replicate.reporting import findings


def _ci(diff, lo, hi, k=3):
    return {"diff": diff, "lo": lo, "hi": hi, "se": (hi - lo) / 8, "n_seeds": k, "n_prompts": 100}


def _doc():
    pc = all_of(
        "PC",
        "DPO beats SFT",
        [
            interval_claim("base.wr", "wr", _ci(7.74, 6.58, 8.95), rule="d>0", metric="wr"),
            interval_claim("base.len", "len", _ci(8.85, 8.01, 9.73), rule="d>0", metric="len"),
        ],
        rule="dpo − sft > 0",
    )
    c1 = interval_claim("C1", "SimPO ≥ DPO on LC", _ci(-3.97, -5.73, -2.42), rule="lc(simpo) − lc(dpo) > 0")
    c3 = interval_claim("C3", "γ matters", _ci(4.0, 1.0, 7.0), rule="d > 0", metric="lc", needs=1.0)
    exact = claim("E1", "gap below the bound", True, "gap <= bound", {"gap": 0.1888, "bound": 0.3918})
    ident = claim("I1", "LC(b,b) = 50", True, "LC(b,b) = 50", {"self": 50.0}, kind="identity")
    return {"paper": "toy", "scale": "tiny", "claims": gate_on_control([pc, c1, c3, exact, ident])}


def test_groups_verdicts_with_effects_intervals_and_units():
    text = findings.render(_doc(), units={"C1": "LC points"})
    assert text.startswith("**toy at scale=tiny**: 4 measured claims — 2 reproduced, 1 not reproduced, 1 inconclusive")
    reproduced, rest = text.split("Not reproduced:")
    assert "base.wr: +7.74 points [+6.58, +8.95]" in reproduced and "base.len: +8.85 characters" in reproduced
    assert "E1" in reproduced and "gap=0.1888" in reproduced and "bound=0.3918" in reproduced
    assert "**C1**" in rest.split("Inconclusive:")[0] and "-3.97 LC points [-5.73, -2.42]" in text
    assert "never counted): I1" in text


def test_units_named_by_claim_apply_to_its_parts():
    doc = _doc()
    text = findings.render(doc, units={"PC": "pts", "PC.base.len": "chars"})
    assert "base.wr: +7.74 pts" in text and "base.len: +8.85 chars" in text


def test_an_inconclusive_claim_says_why():
    text = findings.render(_doc())
    c3 = next(line for line in text.splitlines() if "**C3**" in line)
    assert "Why inconclusive: the positive control does not license it (PC has no reproduced part on lc" in c3
    assert "ungated it read *reproduced*" in c3


def test_numbers_come_from_the_document():
    doc = _doc()
    doc["claims"][1]["evidence"]["diff"] = -1.25
    assert "-1.25 [-5.73, -2.42]" in findings.render(doc)


def test_a_document_without_claims_is_refused():
    with pytest.raises(ValueError, match="toy: no claims"):
        findings.render({"paper": "toy", "scale": "tiny", "claims": []})


def test_summary_is_tidy():
    df = findings.summary(_doc())
    assert list(df.columns) == ["claim", "part", "kind", "verdict", "diff", "ci_lo", "ci_hi", "units"]
    assert df.set_index(["claim", "part"]).loc[("PC", "base.len"), "units"] == "characters"
