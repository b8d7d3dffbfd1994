"""A notebook's "What we found" is rendered from the claims of its metrics document, never typed: each verdict with
its effect, 95 % interval and units, and the reason an inconclusive claim is inconclusive."""

import pytest
import yaml

from replicate.metrics.claims import claim
from replicate.metrics.verdicts import (
    all_of,
    capability_control,
    gate_on_capabilities,
    gate_on_control,
    interval_claim,
)
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


def test_capability_controls_come_first_uncounted_with_what_they_gate():
    doc = _doc()
    absent = capability_control(
        interval_claim("K1", "feedback-conditioned answers beat y⁻", _ci(-0.1, -0.2, -0.01), rule="d>0", metric="q"),
        capability="revision after feedback",
        gates=["C3"],
    )
    rm = capability_control(
        interval_claim("K2", "RM agrees with the oracle", _ci(0.1, 0.05, 0.15), rule="d>0"), capability="RM", gates=[]
    )
    doc["claims"] = gate_on_capabilities(doc["claims"] + [absent, rm])
    text = findings.render(doc)
    assert text.startswith("**toy at scale=tiny**: 4 measured claims")  # the controls are not counted
    head, claims = text.split("Reproduced:", 1)
    assert "**K1** (revision after feedback): *absent*" in head and "-0.1 oracle quality (0–1) [-0.2, -0.01]" in head
    assert "So C3 read inconclusive" in head and "**K2** (RM): *present*" in head and "licenses no claim" in head
    assert "capability control K1 (revision after feedback) is absent" in claims
    assert "**K1**" not in claims


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
    assert "Why inconclusive: its controls do not license it (PC has no reproduced part on lc" in c3
    assert "ungated it read *reproduced*" in c3


def test_an_inconclusive_claim_of_parts_names_each_part_and_why():
    # Instruct-SkillMix C2's shape: one part below 0 on its own (p ≈ 0.017), which Holm across the two parts does not
    # reject (it needs p ≤ 0.0125 for the smaller), one part straddling 0, and one already reproduced
    def claim_of(*parts):
        doc = {"paper": "toy", "scale": "tiny", "claims": [all_of("C2", "k = 2 beats k = 1", list(parts), rule="d>0")]}
        return next(line for line in findings.render(doc).splitlines() if "**C2**" in line)

    lc = interval_claim("lc", "lc", _ci(-12.3, -28.2, 3.5), rule="d>0", metric="lc")
    q = interval_claim("q", "q", _ci(-0.178, -0.311, -0.046), rule="d>0", metric="q")
    line = claim_of(lc, q)
    assert "straddles zero: at this power" not in line
    assert (
        "q (one-sided p = 0.0165) lies on the wrong side of 0 on its own, but Holm's correction across the 2" in line
    )
    assert "lc: the interval straddles zero" in line
    up = interval_claim("q", "q", _ci(0.05, 0.01, 0.09), rule="d>0", metric="q")
    assert "Why inconclusive: lc: the interval straddles zero; q reproduced, but all parts must." in claim_of(lc, up)
    one = interval_claim("C2", "k = 2 beats k = 1", _ci(0.1, -0.1, 0.3), rule="d>0")
    text = findings.render({"paper": "toy", "scale": "tiny", "claims": [one]})
    assert "Why inconclusive: the interval straddles zero: at this power the data cannot tell." in text


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


def _independent(tmp_path, text):
    path = tmp_path / "independent.yaml"
    path.write_text(text)
    return path


def test_independent_runs_say_whether_our_verdict_agrees(tmp_path):
    path = _independent(
        tmp_path,
        "toy:\n"
        "  - {source: 'a #1', found: 'X lost', claim: C1, points_to: not reproduced}\n"
        "  - {source: 'b #2', found: 'X won', claim: PC, points_to: not reproduced}\n"
        "  - {source: 'c #3', found: 'noise is 1 point'}\n",
    )
    claims = _doc()["claims"]
    text = findings.render_independent("toy", claims, path)
    lines = text.splitlines()
    assert "docs/papers/toy.md §5" in lines[0]
    assert (
        lines[2] == "* a #1: X lost. It points to *not reproduced* for our C1, which reads *not reproduced*: agrees."
    )
    assert lines[3].endswith("our PC, which reads *reproduced*: disagrees.")
    assert lines[4].endswith("bears on none of our tiny-scale claims.")
    c3 = _independent(tmp_path, "toy:\n  - {source: s, found: f, claim: C3, points_to: reproduced}\n")
    assert findings.render_independent("toy", claims, c3).endswith(
        "which reads *inconclusive*: no comparison until ours is decided."
    )


def test_independent_runs_are_checked(tmp_path):
    claims = _doc()["claims"]
    assert "none known" in findings.render_independent("other", claims, _independent(tmp_path, "toy: []\n"))
    for bad in (
        "toy:\n  - {source: s, found: f, claim: C9, points_to: reproduced}\n",  # no such claim
        "toy:\n  - {source: s, found: f, claim: C1}\n",  # a claim without the verdict it points to
        "toy:\n  - {source: s, found: f, claim: C1, points_to: maybe}\n",
    ):
        with pytest.raises(ValueError):
            findings.render_independent("toy", claims, _independent(tmp_path, bad))


@pytest.mark.parametrize("paper", sorted(yaml.safe_load(findings.INDEPENDENT.read_text())))
def test_every_declared_independent_run_names_a_committed_claim(paper):
    """Each entry of results/reported/independent.yaml bears on a claim the paper's committed metrics hold, and the
    paper's own page discusses its re-runs."""
    from replicate.core.io import read_json
    from replicate.core.paths import ROOT

    doc = read_json(ROOT / "results" / "reproduced" / paper / "tiny" / "metrics.json")
    text = findings.render_independent(paper, doc["claims"])
    assert text.count("\n* ") == len(findings.independent_runs(paper))
    assert "## 5. Independent re-runs" in (ROOT / "docs" / "papers" / f"{paper}.md").read_text()
