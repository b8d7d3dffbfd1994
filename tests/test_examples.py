"""The notebooks' data examples and tidy per-seed tables (public helpers that replaced tuple-keyed dict access in
the DRIFT and Instruct-SkillMix notebooks): right columns, right values, the same numbers the summaries give."""

import numpy as np

from replicate.metrics.examples import examples_frame
from replicate.papers import instruct_skillmix as ism
from replicate.worlds.toy_lm import solve


def test_examples_frame_shows_the_truth_and_each_arms_answer_with_its_quality():
    prompts = ["rev:abc", "sort:cab", "max:3,9,4"]
    evals = {
        "dpo": {"responses": ["cba", "abc x", "9"], "oracle_qualities": [1.0, 0.75, 1.0]},
        "sft": {"responses": ["abc", "abc", "4"], "oracle_qualities": [0.2, 1.0, 0.0]},
    }
    df = examples_frame(prompts, evals, n=2)
    assert list(df.columns) == ["prompt", "truth", "dpo", "sft"] and len(df) == 2
    assert list(df.truth) == [solve(p) for p in prompts[:2]]
    assert df.loc[1, "dpo"] == "'abc x' q=0.75" and df.loc[0, "sft"] == "'abc' q=0.20"


def _runs():
    rng = np.random.default_rng(0)
    runs = {}
    for sd in (42, 43, 44):
        for a in ("initial", "ism"):
            runs[(sd, a)] = {
                "eval": {
                    s: {k: float(rng.uniform()) for k in ism.claims.METRICS} | {"prompts": ["rev:ab"]}
                    for s in ism.claims.SPLITS
                }
            }
    return runs


def test_skillmix_per_seed_is_tidy_and_agrees_with_the_summary():
    runs = _runs()
    ps = ism.per_seed(runs)
    assert len(ps) == 3 * 2 * len(ism.claims.SPLITS) and set(ps.columns) >= {"seed", "arm", "split", "oracle_quality"}
    assert (
        ps.loc[(ps.seed == 43) & (ps.arm == "ism") & (ps.split == "pairs"), "win_rate"].item()
        == (runs[(43, "ism")]["eval"]["pairs"]["win_rate"])
    )
    means = ps.groupby(["arm", "split"])[list(ism.claims.METRICS)].mean().reset_index()
    summary = ism.summary(runs)
    merged = summary.merge(means, on=["arm", "split"], suffixes=("", "_tidy"))
    for k in ism.claims.METRICS:
        assert np.allclose(merged[k], merged[f"{k}_tidy"])
