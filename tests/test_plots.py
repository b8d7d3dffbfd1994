"""The claims' forest plot draws what the claims hold: one row per interval, and — with one seed, as make check's
subset runs the LM papers — no rows and a sentence saying why, rather than an error."""

import matplotlib

matplotlib.use("Agg")

from replicate.metrics.verdicts import (  # noqa: E402
    all_of,
    capability_control,
    gate_on_capabilities,
    interval_claim,
    paired_ci,
)
from replicate.reporting.plots import interval_plot  # noqa: E402


def _claim(per_seed: list[list[float]]) -> dict:
    return interval_claim("C1", "A beats B", paired_ci(per_seed), rule="A − B > 0", metric="q")


def test_one_row_per_interval_with_its_effect_in_units():
    fig = interval_plot([_claim([[0.1, 0.3], [0.2, 0.4], [0.3, 0.5]])])
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["C1"]
    assert any("oracle quality" in t.get_text() for t in ax.texts)
    assert fig.legends and [t.get_text() for t in fig.legends[0].get_texts()] == ["reproduced"]


def test_one_seed_draws_no_rows_and_says_why():
    fig = interval_plot([_claim([[0.1, 0.3]])])
    ax = fig.axes[0]
    assert ax.get_yticklabels() == [] or [t.get_text() for t in ax.get_yticklabels()] == []
    assert any("one seed" in t.get_text() for t in ax.texts)


def test_capability_controls_are_labelled_and_set_apart_above_the_claims():
    ctrl = capability_control(
        interval_claim("K_rl", "oracle GRPO raises q", paired_ci([[0.1], [0.2], [0.3]]), rule="d > 0", metric="q"),
        capability="RL",
        gates=["C1"],
    )
    fig = interval_plot(gate_on_capabilities([_claim([[0.1, 0.3], [0.2, 0.4], [0.3, 0.5]]), ctrl]))
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["C1", "K_rl (control)"]  # bottom to top: control on top
    assert [ln.get_ydata()[0] for ln in ax.lines if ln.get_linestyle() == "--"] == [0.5]


def test_a_row_read_on_more_seeds_than_the_claims_says_how_many():
    ctrl = capability_control(
        interval_claim(
            "K_rl", "oracle GRPO", paired_ci([[0.1], [0.2], [0.3], [0.2], [0.1]]), rule="d > 0", metric="q"
        ),
        capability="RL",
        gates=["C1"],
    )
    claims = [_claim([[0.1, 0.3], [0.2, 0.4], [0.3, 0.5]]), ctrl]
    ax = interval_plot(gate_on_capabilities(claims)).axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["C1", "K_rl (control, 5 seeds)"]
    same = capability_control(
        interval_claim("K_rl", "oracle GRPO", paired_ci([[0.1], [0.2], [0.3]]), rule="d > 0", metric="q"),
        capability="RL",
        gates=["C1"],
    )
    ax = interval_plot(gate_on_capabilities([claims[0], same])).axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["C1", "K_rl (control)"]  # the claims' count: no note


def test_a_part_below_zero_that_holm_does_not_reject_is_marked_not_hidden_in_grey():
    # Instruct-SkillMix C2's shape: q's own interval is below 0 (one-sided p ≈ 0.015), lc's straddles 0; Holm across
    # the two parts needs p ≤ 0.0125 for the smaller, so the claim and both parts read inconclusive
    q = interval_claim("q", "q", paired_ci([[-0.17], [-0.13], [-0.23]]), rule="d > 0", metric="q")
    lc = interval_claim("lc", "lc", paired_ci([[-11.3], [-6.5], [-19.2]]), rule="d > 0", metric="lc")
    c2 = all_of("C2", "k = 2 beats k = 1", [lc, q], rule="both > 0")
    assert c2["verdict"] == "inconclusive" and c2["evidence"]["q.unadjusted_verdict"] == "not reproduced"
    fig = interval_plot([c2])
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["C2 q (Holm: not rejected)", "C2 lc"]
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend == ["inconclusive", "below 0 alone, Holm: inconclusive"]
    edges = [ln.get_markeredgecolor() for ln in ax.lines if ln.get_marker() == "o"]
    assert edges.count("tab:red") == 1  # the q row only


def test_a_row_hundreds_of_standard_errors_out_is_drawn_at_the_edge_not_squeezing_the_rest():
    # Adaptive Compute's K_selfeval Brier part: three seeds within 1e-5 of each other put it 334 SE from 0
    far = interval_claim("K", "far", paired_ci([[0.0039], [0.00390001], [0.00389999]]), rule="d > 0", metric="q")
    near = _claim([[0.1, 0.3], [0.2, 0.4], [0.3, 0.5]])
    fig = interval_plot([near, far])
    ax = fig.axes[0]
    lo, hi = ax.get_xlim()
    assert hi <= 1.05 * 20 + 1e-9 and lo >= -1.05 * 20 - 1e-9
    markers = [ln.get_marker() for ln in ax.lines if ln.get_marker() in ("o", ">", "<")]
    assert sorted(markers) == [">", "o"]
    assert "beyond ±20" in ax.get_xlabel()
    assert any("+0.0039 [" in t.get_text() for t in ax.texts)  # the true numbers on the right
    plain = interval_plot([near]).axes[0]
    assert "beyond" not in plain.get_xlabel()
