"""Instruct-SkillMix in the toy world: the generator covers skill pairs as specified, shirker shares are exact,
data are deterministic, bad input fails before compute, and the claims logic on hand-made runs."""

import numpy as np
import pytest

from replicate.core.config import ConfigError, compose
from replicate.metrics.verdicts import INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED
from replicate.papers import instruct_skillmix as X
from replicate.worlds.toy_lm import SKILLS, WORD_SKILLS, oracle_quality, solve


@pytest.fixture(scope="module")
def cfg():
    return compose("instruct-skillmix", ["scale=ci"])


def test_skill_pairs_are_the_ordered_pairs_of_distinct_word_skills():
    assert len(X.SKILL_PAIRS) == 6 * 5 == len(set(X.SKILL_PAIRS))
    assert all(a != b and a in WORD_SKILLS and b in WORD_SKILLS for a, b in X.SKILL_PAIRS)
    assert X.skill_inventory(1) == X.skill_inventory(2) == X.INVENTORY == tuple(WORD_SKILLS)
    with pytest.raises(ConfigError, match="at most two"):
        X.skill_inventory(3)


def test_k2_combinations_cover_every_pair_uniformly():
    combos = X.sample_combinations(3000, 2, seed=0)
    cov = X.coverage(combos)
    off = ~np.eye(6, dtype=bool)
    assert cov.sum() == 3000 and np.trace(cov) == 0  # never a skill with itself
    assert (cov[off] > 0).all()  # all 30 pairs
    # Binomial(3000, 1/30): mean 100, sd ≈ 9.8; every count within 5 sd
    assert abs(cov[off].mean() - 100) < 1e-9 and np.abs(cov[off] - 100).max() < 50
    singles = X.sample_combinations(600, 1, seed=0)
    assert all(len(c) == 1 for c in singles) and {c[0] for c in singles} == set(X.INVENTORY)


def test_every_arm_draws_from_the_same_skill_inventory(cfg):
    """The paper draws k = 1 and k = 2 from one skill list; so does every arm here, the plain mix included. On the
    old design (k = 1 over all nine skills, the plain mix over the world's whole mix) count/add/max leak in."""
    data = X.draw_datasets(cfg, held=set())
    used = {}
    for arm in X.arms(cfg):
        ps, _, _ = X.arm_data(cfg, data, arm)
        assert len(ps) == arm["n"] and all(X.in_inventory(p) for p in ps), arm["name"]
        used[arm["name"]] = {s for p in ps for s in X.skills_of(p)}
    assert all(u == set(X.INVENTORY) for u in used.values()), used
    assert not set(SKILLS) - set(X.INVENTORY) & set().union(*used.values())  # count/add/max in no arm
    k1 = X.arm_data(cfg, data, next(a for a in X.arms(cfg) if a["name"] == "ism_k1"))[0]
    assert not any(X.is_composition(p) for p in k1) and all(X.is_composition(p) for p in data["ism_k2"]["prompts"])


def test_plain_prompts_are_the_everyday_mix_within_the_inventory():
    ps = X.plain_prompts(400, seed=3, exclude={"rev:abc"})
    assert len(ps) == 400 and all(X.in_inventory(p) for p in ps) and "rev:abc" not in ps
    comp = np.mean([X.is_composition(p) for p in ps])
    assert 0.2 < comp < 0.5  # 0.25 / (0.25 + 0.75 · 6/9) = 1/3 of the in-inventory everyday mix
    assert ps == X.plain_prompts(400, seed=3, exclude={"rev:abc"})


def test_eval_splits_partition_the_evaluation_prompts_by_inventory():
    class W:
        prompts = {"eval": ["rev:ab", "count:aab", "sort+rev:cd", "add:1+2", "max:193"]}
        reference = {"eval": ["ba", "1", "dc", "3", "9"]}

    sp = X.eval_splits(W, {"pair_eval": {"prompts": ["rot+dup:ab"], "reference": ["bc"]}})
    assert sp["general"] == (["rev:ab", "sort+rev:cd"], ["ba", "dc"])
    assert sp["uncovered"] == (["count:aab", "add:1+2", "max:193"], ["1", "3", "9"])
    assert sp["pairs"] == (["rot+dup:ab"], ["bc"])


def test_prompts_need_both_skills_and_avoid_held_out_prompts():
    held = set(X.pair_eval_prompts(600, seed=3))
    ps, combos = X.skillmix_prompts(500, 2, seed=1, exclude=held)
    assert not set(ps) & held
    for p, (a, b) in zip(ps, combos):
        skill, word = p.split(":")
        assert skill == f"{a}+{b}" and solve(p) == WORD_SKILLS[b](WORD_SKILLS[a](word))
    ps1, c1 = X.skillmix_prompts(200, 1, seed=1)
    assert all(p.split(":")[0] == c[0] for p, c in zip(ps1, c1)) and all(solve(p) is not None for p in ps1)


def test_held_out_pair_prompts_are_balanced_and_distinct():
    ps = X.pair_eval_prompts(60, seed=0)
    assert len(set(ps)) == 60
    pairs = [tuple(p.split(":")[0].split("+")) for p in ps]
    assert all(pairs.count(pr) == 2 for pr in X.SKILL_PAIRS)


@pytest.mark.parametrize(
    "share,n,expected", [(0.0, 100, 0), (0.1, 100, 10), (0.2, 100, 20), (0.2, 128, 26), (0.1, 128, 13)]
)
def test_shirker_share_is_exact_and_only_the_first_examples(share, n, expected):
    ps, _ = X.skillmix_prompts(n, 2, seed=4)
    rs = [solve(p) for p in ps]
    out, flags = X.with_shirkers(ps, rs, share, "junk", seed=0)
    assert sum(flags) == expected and flags == [i < expected for i in range(n)]
    assert out[expected:] == rs[expected:]
    assert all(o != r for o, r in zip(out[:expected], rs[:expected]))


def test_shirker_answers_are_low_quality():
    ps, _ = X.skillmix_prompts(200, 2, seed=5)
    rng = np.random.default_rng(0)
    junk = [X.shirker_response(p, "junk", rng) for p in ps]
    brief = [X.shirker_response(p, "brevity", rng) for p in ps]
    assert all(len(j) > len(p.split(":")[1]) + 15 for j, p in zip(junk, ps))  # long: 4 filler units
    assert np.mean([oracle_quality(p, j) for p, j in zip(ps, junk)]) < 0.5
    assert np.mean([oracle_quality(p, b) for p, b in zip(ps, brief)]) < 0.8
    with pytest.raises(ValueError):
        X.shirker_response(ps[0], "lazy", rng)


def test_same_seed_same_data_other_seed_other_data():
    a = X.skillmix_prompts(300, 2, seed=7)
    assert a == X.skillmix_prompts(300, 2, seed=7)
    assert a[0] != X.skillmix_prompts(300, 2, seed=8)[0]
    ps = a[0]
    assert X.with_shirkers(ps, ps, 0.2, "junk", seed=1) == X.with_shirkers(ps, ps, 0.2, "junk", seed=1)


def test_arms_and_bad_input(cfg):
    names = [a["name"] for a in X.arms(cfg)]
    assert names == ["ism", "plain", "ism_k1", "shirker=0.1", "shirker=0.2", "n=64"]
    with pytest.raises(ConfigError, match="no budget"):
        X.budget(compose("instruct-skillmix", ["scale=small"], check_hardware=False))
    with pytest.raises(ConfigError, match="include 0.0"):
        X.budget(compose("instruct-skillmix", ["scale=ci", "paper.shirker.shares=[0.1,0.2]"]))
    with pytest.raises(ConfigError, match="largest"):
        X.budget(compose("instruct-skillmix", ["scale=ci", "paper.budget.ci.n_data=64"]))
    with pytest.raises(ConfigError, match="k must be 2"):
        X.budget(compose("instruct-skillmix", ["scale=ci", "paper.skills.k=3"]))


# ---------------------------------------------------------------------------------------------
# Claims on hand-made runs

N = 300


def _eval(rng, quality: float, prompts=None, comp_quality: float | None = None):
    lens = rng.poisson(8, N) + 1
    ref = rng.poisson(14, N) + 1
    pref = 1 / (1 + np.exp(-(4 * quality + 0.5 * np.tanh((lens - ref) / 10) + rng.normal(0, 0.5, N))))
    prompts = prompts or [f"sort+rev:abc{i}" if i % 4 == 0 else f"rev:abc{i}" for i in range(N)]
    comp = np.array([X.is_composition(p) for p in prompts])
    mean = np.where(comp & (comp_quality is not None), comp_quality if comp_quality is not None else 0, quality)
    q = np.clip(mean + rng.normal(0, 0.1, N), 0, 1)
    return {
        "preferences": pref.tolist(),
        "responses": ["x" * int(n) for n in lens],
        "oracle_qualities": q.tolist(),
        "reference_lengths": ref.tolist(),
        "win_rate": 100 * pref.mean(),
        "lc_win_rate": 0.0,
        "avg_length": lens.mean(),
        "oracle_quality": q.mean(),
        "prompts": prompts,
    }


UNCOVERED = [f"count:a{'b' * (i % 5)}a{i}" for i in range(N)]


def _runs(q: dict, uncovered: dict | None = None, comp: dict | None = None):
    """Hand-made runs: quality per arm on the general and pair prompts; ``uncovered``: per arm on the uncovered
    prompts (default: the same); ``comp``: per arm on the general split's compositions (default: the same)."""
    rng = np.random.default_rng(0)
    u, c = uncovered or {}, comp or {}
    return {
        (sd, a): {
            "eval": {
                "general": _eval(rng, v, comp_quality=c.get(a)),
                "pairs": _eval(rng, v),
                "uncovered": _eval(rng, u.get(a, v), prompts=UNCOVERED),
            }
        }
        for sd in (1, 2, 3)
        for a, v in q.items()
    }


QUALITIES = {
    "initial": 0.3,
    "ism": 0.7,
    "plain": 0.5,
    "ism_k1": 0.5,
    "shirker=0.1": 0.6,
    "shirker=0.2": 0.4,
    "n=64": 0.5,
}


def test_claims_reproduced_when_the_world_behaves_like_the_paper(cfg):
    cl = {c["id"]: c for c in X.PAPER.claims(_runs(QUALITIES), cfg)}
    assert [cl[k]["verdict"] for k in ("PC", "C1", "C2", "C3", "C4")] == [REPRODUCED] * 5


def test_measurably_worse_is_not_reproduced_and_ties_are_inconclusive(cfg):
    cl = {c["id"]: c for c in X.PAPER.claims(_runs({**QUALITIES, "plain": 0.9, "ism_k1": 0.7}), cfg)}
    assert cl["PC"]["verdict"] == REPRODUCED
    assert cl["C1"]["verdict"] == NOT_REPRODUCED  # the plain mix is clearly better
    assert cl["C2"]["verdict"] == INCONCLUSIVE  # k = 1 equal in quality: the interval straddles 0


def test_a_failed_positive_control_gates_everything(cfg):
    cl = {
        c["id"]: c for c in X.PAPER.claims(_runs({**QUALITIES, "initial": 0.8}), cfg)
    }  # fine-tuning loses 0.1: the control fails outright
    assert cl["PC"]["verdict"] == NOT_REPRODUCED
    assert all(cl[k]["verdict"] == INCONCLUSIVE for k in ("C1", "C2", "C3", "C4"))
    assert cl["C1"]["evidence"]["ungated_verdict"] == REPRODUCED


def test_flat_metrics_report_singles_compositions_forgetting_and_coverage():
    # ism: 0.7 on single skills, 0.9 on compositions; on the uncovered prompts it falls from the start's 0.3 to 0.1
    runs = _runs(QUALITIES, uncovered={"ism": 0.1, "ism_k1": 0.3}, comp={"ism": 0.9})
    cov = {sd: X.coverage(X.sample_combinations(600, 2, seed=sd)) for sd in (1, 2, 3)}
    m, spread = X.flat_metrics(runs, cov)
    assert m["coverage.pairs_covered"] == 30
    assert abs(m["ism.general.oracle_quality_single"] - 0.7) < 0.02
    assert abs(m["ism.general.oracle_quality_composition"] - 0.88) < 0.03  # 0.9 clipped at 1 by the noise
    assert abs(m["plain.general.oracle_quality_composition"] - m["plain.general.oracle_quality_single"]) < 0.03
    assert abs(m["forgetting.ism.q_uncovered"] + 0.2) < 0.02 and len(spread["forgetting.ism.q_uncovered"]) == 3
    assert abs(m["forgetting.ism_k1.q_uncovered"]) < 0.02 and "forgetting.initial.q_uncovered" not in m
    assert abs(m["ism.uncovered.oracle_quality"] - 0.1) < 0.02 and len(spread["ism.general.lc_win_rate"]) == 3
    fg = X.forgetting_extra(runs)
    assert fg["ism"]["hi"] < 0 < fg["ism_k1"]["hi"] and fg["ism_k1"]["lo"] < 0  # forgets; does not
    table = X.render_table({"metrics": m, "seeds": [1, 2, 3], "extra": {"forgetting": fg}})
    row = next(r for r in table.splitlines() if r.startswith("| ism |"))
    assert (
        f"| {m['ism.general.oracle_quality_single']:.3f} | {m['ism.general.oracle_quality_composition']:.3f} |" in row
    )
    assert f"{fg['ism']['diff']:+.3f} [" in row


# ---------------------------------------------------------------------------------------------
# The positive control's extra seeds (paper.power: extra_seeds of arms; docs/power.md §13)


def test_extra_seeds_are_the_next_ones_for_pcs_arms_only():
    P = X.pc_seeds
    tiny = compose("instruct-skillmix", [], check_hardware=False)
    assert P.extra_seeds(tiny) == [45, 46] and P.pc_arms(tiny) == ["initial", "ism"]
    assert P.extra_seeds(compose("instruct-skillmix", ["scale=ci"], check_hardware=False)) == []
    assert P.extra_seeds(compose("instruct-skillmix", ["paper.power.arms=[]"], check_hardware=False)) == []
    with pytest.raises(ConfigError, match="not arms of the positive control"):
        P.pc_arms(compose("instruct-skillmix", ["paper.power.arms=[ism,plain]"], check_hardware=False))
    with pytest.raises(ConfigError, match="both or none"):
        P.pc_arms(compose("instruct-skillmix", ["paper.power.arms=[ism]"], check_hardware=False))


def _with_extra(runs: dict, q_ism: float, seeds=(4, 5)) -> dict:
    """``runs`` plus PC's arms on extra seeds, ism at quality ``q_ism`` against the start's 0.3."""
    rng = np.random.default_rng(7)
    extra = {
        (sd, a): {"eval": {"pairs": _eval(rng, v), "general": _eval(rng, v), "uncovered": _eval(rng, v)}}
        for sd in seeds
        for a, v in (("initial", 0.3), ("ism", q_ism))
    }
    return {**runs, "pc_extra": extra}


def test_extra_seeds_widen_pc_alone_and_keep_the_claims_seeds_reading(cfg):
    """PC reads the claims' 3 seeds plus the extra ones, and keeps the 3-seed reading as claim_seeds.*; every claim,
    the metrics and the per-seed table keep the claims' seeds (an extra seed in them would change what they mean)."""
    base = _runs(QUALITIES)
    runs = _with_extra(base, q_ism=0.9)  # the extra seeds gain +0.6 on pairs, the claims' seeds +0.4
    cl = {c["id"]: c for c in X.PAPER.claims(runs, cfg)}
    ev = cl["PC"]["evidence"]
    assert ev["pairs.q.n_seeds"] == 5 and ev["pairs.lc.n_seeds"] == 5
    assert ev["pairs.q.claim_seeds"] == 3 and ev["pairs.lc.claim_seeds"] == 3
    assert ev["pairs.q.diff"] == pytest.approx((3 * 0.4 + 2 * 0.6) / 5, abs=0.02)
    assert ev["pairs.q.claim_seeds.diff"] == pytest.approx(0.4, abs=0.02)
    assert all(cl[k]["evidence"]["lc.n_seeds"] == 3 for k in ("C1", "C2", "C3", "C4"))
    assert X.flat_metrics(runs, {})[0] == X.flat_metrics(base, {})[0]
    assert set(X.per_seed(runs).seed) == {1, 2, 3} and X.arm_names(runs) == list(QUALITIES)
    # without extra seeds PC's reading is the claims' seeds' own
    own = {c["id"]: c for c in X.PAPER.claims(base, cfg)}["PC"]["evidence"]
    assert own["pairs.q.n_seeds"] == 3 and own["pairs.q.diff"] == pytest.approx(own["pairs.q.claim_seeds.diff"])


def test_extra_seeds_can_license_what_three_could_not(cfg):
    """A PC whose 3 seeds all gain but spread widely is not reproduced and gates the claims; the same seeds plus two
    extra ones resolve it, and the claims get their own verdicts, still on their 3 seeds."""
    rng = np.random.default_rng(3)

    def seed_runs(sd, q_ism, arms):
        splits = ("general", "pairs", "uncovered")
        return {
            (sd, a): {"eval": {s: _eval(rng, q_ism if a == "ism" else QUALITIES[a]) for s in splits}} for a in arms
        }

    three = {}
    for sd, g in ((1, 0.1), (2, 0.4), (3, 0.7)):  # ism gains on the start's 0.3: positive on every seed, sd 0.3
        three.update(seed_runs(sd, 0.3 + g, QUALITIES))
    cl = {c["id"]: c for c in X.PAPER.claims(three, cfg)}
    assert cl["PC"]["verdict"] == INCONCLUSIVE and cl["C1"]["verdict"] == INCONCLUSIVE
    assert "PC" in cl["C1"]["evidence"]["gated_by"]
    extra = {**seed_runs(4, 0.7, X.pc_seeds.PC_ARMS), **seed_runs(5, 0.7, X.pc_seeds.PC_ARMS)}
    cl = {c["id"]: c for c in X.PAPER.claims({**three, "pc_extra": extra}, cfg)}
    assert cl["PC"]["verdict"] == REPRODUCED and cl["PC"]["evidence"]["pairs.q.n_seeds"] == 5
    assert cl["PC"]["evidence"]["pairs.q.claim_seeds.ci_lo"] < 0.05  # the 3-seed reading, kept
    assert "gated_by" not in cl["C1"]["evidence"] and cl["C1"]["evidence"]["lc.n_seeds"] == 3


def test_the_check_subset_runs_no_extra_seed(monkeypatch):
    """``make check`` re-runs seed 42 alone: PC's extra seeds must be off (``paper.power.arms=[]``), or CI trains
    two more seeds' arms; without the override they would be seeds 43 and 44."""
    from replicate.cli import check as cli_check

    seen = {}
    monkeypatch.setattr(cli_check, "run_notebook", lambda p, overrides, **kw: seen.setdefault("o", overrides))
    monkeypatch.setattr(cli_check, "check", lambda *a, **kw: [])
    assert cli_check.main_check(["instruct-skillmix"]) == 0
    assert X.pc_seeds.extra_seeds(compose("instruct-skillmix", seen["o"])) == []
    assert "scale.n_seeds=1" in seen["o"]
    assert X.pc_seeds.extra_seeds(compose("instruct-skillmix", ["scale.n_seeds=1"])) == [43, 44]
