"""DRIFT in the toy world: the feedback the world writes, the reviser, DRIFT's pair rule on hand-made examples, the logs
(deterministic, DSAT items carry feedback, SAT is scarce), bad input before compute, and the claims' gating."""

import numpy as np
import pytest

from replicate.core.config import ConfigError, compose
from replicate.metrics.verdicts import INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED
from replicate.papers import drift as X
from replicate.training.iterative import render
from replicate.worlds.tokenizer import CHARS, build_tokenizer
from replicate.worlds.toy_lm import make_prompts, oracle_quality, solve


@pytest.fixture(scope="module")
def cfg():
    return compose("drift", ["scale=ci", "hardware.workers=1"])


@pytest.mark.parametrize(
    "prompt,response,expected",
    [
        ("sort:dcab", "abcd", None),  # exactly right: satisfied
        ("sort:dcab", "abcd sure done", None),  # filler is not a complaint
        ("sort:dcab", "abdc", "no, 3 is c"),  # first wrong character, 1-based, and the right one
        ("sort:dcab", "xbcd okay", "no, 1 is a"),
        ("sort:dcab", "abcde", "no, too long"),
        ("sort:dcab", "abc", "no, too short"),
        ("sort:dcab", "abcd sureXX", "no, junk at end"),
        ("add:12+30", "41", "no, 2 is 2"),
    ],
)
def test_feedback_names_what_is_wrong(prompt, response, expected):
    assert X.feedback(prompt, response) == expected


def test_feedback_uses_only_the_tokenizers_characters():
    rng = np.random.default_rng(0)
    for p in make_prompts(300, 1):
        t = solve(p)
        y = t[::-1] + ("x" if rng.random() < 0.5 else "")
        f = X.feedback(p, y)
        assert f is None or set(f) <= set(CHARS)


def test_revise_applies_the_hint_and_fixes_that_position():
    assert X.revise("abdc sure", "no, 3 is c") == "abcc sure"
    assert X.revise("abdc", "no, too long") == "abdc"
    assert X.revise("ab", "no, 5 is c") == "ab"  # hint beyond the answer: unchanged
    p = "sort:dcab"
    y = "abdc"
    f = X.feedback(p, y)
    fixed = X.revise(y, f)
    assert oracle_quality(p, fixed) > oracle_quality(p, y)


def test_drift_pairs_hand_made():
    items = {"prompt": ["x1", "x2", "x3"], "rejected": ["bad1", "same", "bad3"], "feedback": ["f1", "f2", "f3"]}
    out = X.drift_pairs(items, ["good1", "same", "good3"])
    # the training prompt is x alone (no feedback, no bad answer); y⁻ is the logged answer; identical pairs dropped
    assert out == {"prompt": ["x1", "x3"], "chosen": ["good1", "good3"], "rejected": ["bad1", "bad3"], "item": [0, 2]}


def test_hindsight_conversation_renders_x_then_bad_answer_then_feedback():
    tok = build_tokenizer()
    text = render(tok, X.hindsight_conversation("sort:dcab", "abdc", "no, 3 is c"))
    assert text == "<s><u>sort:dcab<a>abdc<e><u>no, 3 is c<a>"


def test_logs_are_deterministic_dsat_has_feedback_sat_is_scarce(cfg, tmp_path, monkeypatch):
    monkeypatch.setenv("REPLICATE_CACHE_DIR", str(tmp_path))
    from replicate.training.toy_stages import build_world

    a = X.deployment_logs(cfg, build_world(cfg))
    monkeypatch.setenv("REPLICATE_CACHE_DIR", str(tmp_path / "other"))
    assert X.deployment_logs(cfg, build_world(cfg)) == a  # recomputed from a world built again, not read back
    d = a["dsat"]
    assert len(d["prompt"]) == len(d["rejected"]) == len(d["feedback"]) == len(d["demonstration"]) > 0
    assert all(
        X.feedback(p, y) == f and oracle_quality(p, y) < 1
        for p, y, f in zip(d["prompt"], d["rejected"], d["feedback"])
    )
    assert all(X.feedback(p, y) is None for p, y in zip(a["sat"]["prompt"], a["sat"]["response"]))
    assert len(a["sat"]["prompt"]) < 0.2 * len(d["prompt"])


def test_revision_data_targets_revise_the_draft(cfg):
    """The second-turn target is the draft the user complained about, with the named character set right: it depends
    on the draft, and is better than it whenever the feedback names a character."""
    from replicate.training.toy_stages import build_world

    rows = X.revision_data(cfg, build_world(cfg))
    multi = [(p, c) for p, c in zip(rows["prompt"], rows["completion"]) if len(p) == 3]
    assert len(multi) == int(X.at_scale(cfg, cfg.paper.capability.n_dialogues))
    assert len(rows["prompt"]) - len(multi) == round(float(cfg.paper.capability.single_turn_share) * len(multi))
    n_hint = 0
    for p, c in multi:
        x, y, f = (m["content"] for m in p)
        target = c[0]["content"]
        assert target == X.revise(y, f)
        if f.split()[2:3] == ["is"]:
            n_hint += 1
            assert oracle_quality(x, target) > oracle_quality(x, y)
            # one edit: the target differs from the draft in exactly the named position
            assert sum(a != b for a, b in zip(target, y)) == 1 and len(target) == len(y)
    assert n_hint > len(multi) / 2


def test_revision_data_independent_target_ignores_the_draft(cfg):
    """The earlier design (kept for the sensitivity runs): the demonstrator's own answer with the hint applied."""
    from replicate.training.toy_stages import build_world

    c = compose("drift", ["scale=ci", "hardware.workers=1", "paper.capability.target=independent"])
    rows = X.revision_data(c, build_world(c))
    same = [
        cc[0]["content"] == X.revise(p[1]["content"], p[2]["content"])
        for p, cc in zip(rows["prompt"], rows["completion"])
        if len(p) == 3
    ]
    assert sum(same) < len(same) / 2  # equal only where the demonstrator happened to answer as the deployed assistant


@pytest.mark.parametrize(
    "override",
    [
        "scale=paper",
        "paper.logs.n_prompts.ci=100000",
        "paper.arms=[drift,dpo]",
        "paper.iterdpo.n_samples=1",
        "paper.rounds.ci=0",
        "paper.pc_rounds.ci=0",
        "paper.capability.target=demonstrator",
        "paper.eval.n_eval.ci=100000",
    ],
)
def test_bad_input_fails_before_compute(override):
    cfg = compose("drift", ["scale=ci", override], check_hardware=False)  # composes: the error is drift's validate
    with pytest.raises(ConfigError):
        X.validate(cfg)


def _fake(seeds=(1, 2, 3), q=None, wr=None, margin=0.3, grad=(1.0, 0.5), q_positive=0.8):
    """Hand-made results: per arm, per-prompt qualities and preferences at rounds 0..2 (the control arm ``oracle``:
    0..1); DRIFT's round-1 extras, its hindsight answers at ``q_positive`` against DSAT answers at 0.4."""
    rng = np.random.default_rng(0)
    q, wr = q or {}, wr or {}
    runs, logs = {}, {}
    n = 60
    for sd in seeds:
        logs[sd] = {"dsat": {"prompt": [f"p{i}" for i in range(n)]}, "sat": {"prompt": []}, "n_logged": n}
        for a in ("drift", "iterdpo", "spin", "oracle"):
            recs = []
            for t in range(2 if a == "oracle" else 3):
                qq = np.clip(0.5 + q.get((a, t), 0.0) + 0.05 * rng.standard_normal(n), 0, 1)
                pr = np.clip(0.3 + wr.get((a, t), 0.0) + 0.05 * rng.standard_normal(n), 0, 1)
                ev = {
                    "oracle_qualities": qq.tolist(),
                    "preferences": pr.tolist(),
                    "distinct_high_quality": [1.0] * n,
                    "responses": ["a"] * n,
                    "reference_lengths": [5.0] * n,
                    "oracle_quality": float(qq.mean()),
                    "win_rate": float(100 * pr.mean()),
                    "lc_win_rate": 30.0,
                    "avg_length": 5.0,
                    "diversity": 1.0,
                }
                r = {"t": t, "eval": ev}
                if t:
                    m = margin if a == "drift" else 0.05
                    r.update(
                        pairs={
                            "q_margin": [m] * n,
                            "n_pairs": n,
                            "q_margin_mean": m,
                            "q_chosen_mean": 0.6,
                            "q_rejected_mean": 0.6 - m,
                            "ref_logp_margin": 0.0,
                            "reward_margin": 0.1,
                        },
                        grad_norm=grad[0] if a == "drift" else grad[1],
                        extras={
                            "item": list(range(n)),
                            "q_positive": (q_positive + 0.05 * rng.standard_normal(n)).tolist(),
                            "q_negative": [0.4] * n,
                            "q_unconditioned": [0.7] * 10,
                        },
                    )
                recs.append(r)
            runs[(sd, a)] = recs
    return {"runs": runs, "logs": logs}


def test_claims_reproduce_when_drift_wins_and_gate_on_the_control(cfg):
    win = {("drift", 2): 0.2, ("iterdpo", 1): 0.1, ("oracle", 1): 0.1}
    out = {c["id"]: c["verdict"] for c in X.PAPER.claims(_fake(q=win, wr=win), cfg)}
    assert out["K_revise"] == REPRODUCED
    assert out["PC"] == REPRODUCED and out["C1"] == REPRODUCED and out["C5"] == REPRODUCED
    assert out["C4"] == INCONCLUSIVE  # equal diversity: the interval is [0, 0]
    # IterDPO round 1 no better than π_0 on the judge: PC fails, everything else is gated to inconclusive
    lose = {**win, ("iterdpo", 1): -0.1}
    out = {c["id"]: c["verdict"] for c in X.PAPER.claims(_fake(q=win, wr=lose), cfg)}
    assert out["PC"] != REPRODUCED and out["C1"] == INCONCLUSIVE and out["C5"] == INCONCLUSIVE
    # the oracle-labelled round does not raise q: PC (b) fails, and C1's oracle-quality part has no licence
    out = {c["id"]: c["verdict"] for c in X.PAPER.claims(_fake(q={**win, ("oracle", 1): -0.1}, wr=win), cfg)}
    assert out["PC"] != REPRODUCED and out["C1"] == INCONCLUSIVE


def test_k_revise_is_read_first_and_gates_c1_c4_c5(cfg):
    """π_0's hindsight answers worse than the DSAT answers: the capability is absent, so C1, C4 and C5 read
    inconclusive with the reason, PC (which needs no revision) keeps its verdict, and K_revise is a control, first."""
    win = {("drift", 2): 0.2, ("iterdpo", 1): 0.1, ("oracle", 1): 0.1}
    cl = X.PAPER.claims(_fake(q=win, wr=win, q_positive=0.3), cfg)
    by = {c["id"]: c for c in cl}
    assert cl[0]["id"] == "K_revise" and cl[0]["role"] == "control" and set(cl[0]["gates"]) == {"C1", "C4", "C5"}
    assert by["K_revise"]["verdict"] == NOT_REPRODUCED and by["K_revise"]["evidence"]["metric"] == "q"
    assert by["PC"]["verdict"] == REPRODUCED
    for cid in ("C1", "C4", "C5"):
        assert by[cid]["verdict"] == INCONCLUSIVE and "K_revise" in by[cid]["evidence"]["gated_by"]
        assert "revision after feedback" in by[cid]["evidence"]["gate_reason"]
    assert by["C1"]["evidence"]["ungated_verdict"] == REPRODUCED  # what it would have read: kept, not counted
    # the control's interval is the paired per-item gain q(y⁺) − q(y⁻)
    assert by["K_revise"]["evidence"]["diff"] == pytest.approx(-0.1, abs=0.02)


def test_flat_metrics_and_table(cfg):
    res = _fake()
    m, spread = X.flat_metrics(res)
    assert m["drift.r2.grad_norm"] == 1.0 and m["iterdpo.r1.q_margin"] == pytest.approx(0.05)
    assert "drift.r0.oracle_quality" in m and "drift.r0.grad_norm" not in m
    assert spread["logs.n_dsat"] == [60.0, 60.0, 60.0]
    table = X.render_table({"metrics": m, "seeds": [1, 2, 3]})
    assert "| drift | 2 |" in table and "| spin | 0 |" in table


def test_extra_control_seeds_widen_k_revise_only(cfg):
    """paper.power.k_revise_seeds: K_revise reads the claims' seeds plus the extra ones (their round-1 extras alone),
    keeps the claims' seeds' own reading in its evidence, and the claims keep their seeds; fewer control seeds than
    claim seeds is refused."""
    S = X.control_seeds
    assert S.extra_seeds(compose("drift", [], check_hardware=False)) == [45, 46]
    assert S.extra_seeds(compose("drift", ["scale=ci"], check_hardware=False)) == []
    with pytest.raises(ConfigError, match="k_revise_seeds"):
        S.extra_seeds(compose("drift", ["paper.power.k_revise_seeds.tiny=2"], check_hardware=False))
    win = {("drift", 2): 0.2, ("iterdpo", 1): 0.1, ("oracle", 1): 0.1}
    res = _fake(q=win, wr=win, q_positive=0.5)  # claims' seeds: +0.1 over q(y⁻) = 0.4
    rng = np.random.default_rng(1)
    res["k_revise_extra"] = {
        sd: {
            "item": list(range(60)),
            "q_positive": (0.7 + 0.05 * rng.standard_normal(60)).tolist(),
            "q_negative": [0.4] * 60,
        }
        for sd in (4, 5)
    }
    by = {c["id"]: c for c in X.PAPER.claims(res, cfg)}
    ev = by["K_revise"]["evidence"]
    assert ev["n_seeds"] == 5 and ev["claim_seeds"] == 3
    assert ev["diff"] == pytest.approx((3 * 0.1 + 2 * 0.3) / 5, abs=0.01)
    assert ev["claim_seeds.diff"] == pytest.approx(0.1, abs=0.01)
    assert by["C5"]["evidence"]["drift.margin.n_seeds"] == 3  # the claims keep their seeds
    assert X.hindsight_gain(res, control_seeds=False)["n_seeds"] == 3


def test_extra_seed_reads_drifts_own_round_1(cfg, monkeypatch, tmp_path):
    """An extra seed samples what DRIFT's round 1 samples: DRIFT's own builder, on π_0, with round 1's seed
    (``iterative.run_loop``: seed·1000 + 100), and keeps its extras; no round is trained."""
    S, E = X.control_seeds, X.experiment
    seen = {}
    pi0 = object()

    def builder(c, logs, arm):
        def build(ctx):
            seen.update(arm=arm, seed=ctx.seed, policy=ctx.policy, t=ctx.t, logs=logs)
            return {"prompt": [], "_extras": {"q_positive": [0.9], "q_negative": [0.2], "item": [0]}}

        return build

    monkeypatch.setattr(E, "builder", builder)
    monkeypatch.setattr(E, "start_policy", lambda c, w: pi0)
    monkeypatch.setattr(E, "deployment_logs", lambda c, w: "LOGS")
    monkeypatch.setattr(S, "cached", lambda name, key, compute: (compute(tmp_path), tmp_path)[1])
    out = S.hindsight_answers(cfg, world=None)
    assert seen == {"arm": "drift", "seed": int(cfg.seed) * 1000 + 100, "policy": pi0, "t": 1, "logs": "LOGS"}
    assert out == {"q_positive": [0.9], "q_negative": [0.2], "item": [0]}


def test_the_check_subset_runs_k_revise_on_seed_42_alone(monkeypatch):
    """``make check`` re-runs seed 42 alone: K_revise's extra seeds (``paper.power.k_revise_seeds``) must be turned
    off, or CI trains four more π_0 (seeds 43–46, from scale.n_seeds = 1 up to 5)."""
    from replicate.cli import check as cli_check

    seen = {}
    monkeypatch.setattr(cli_check, "run_notebook", lambda p, overrides, **kw: seen.setdefault("o", overrides))
    monkeypatch.setattr(cli_check, "check", lambda *a, **kw: [])
    assert cli_check.main_check(["drift"]) == 0
    assert X.control_seeds.extra_seeds(compose("drift", seen["o"])) == [] and "scale.n_seeds=1" in seen["o"]
    assert X.control_seeds.extra_seeds(compose("drift", ["scale.n_seeds=1"])) == [
        43,
        44,
        45,
        46,
    ]  # without the override


# ---------------------------------------------------------------------------------------------
# The positive control's extra seeds (paper.power: extra_seeds of arms; docs/power.md §13)


def test_pc_extra_seeds_are_the_next_ones_for_pcs_arms_only():
    P = X.pc_seeds
    tiny = compose("drift", [], check_hardware=False)
    assert P.extra_seeds(tiny) == [45, 46] and P.pc_arms(tiny) == ["iterdpo", "oracle"]
    assert P.extra_seeds(compose("drift", ["scale=ci"], check_hardware=False)) == []
    assert P.extra_seeds(compose("drift", ["paper.power.arms=[]"], check_hardware=False)) == []
    with pytest.raises(ConfigError, match="positive control"):
        P.pc_arms(compose("drift", ["paper.power.arms=[iterdpo,drift]"], check_hardware=False))


def test_an_extra_seed_runs_one_round_of_a_pc_arm(monkeypatch):
    """An extra seed's arm stops after the round PC reads (pc_rounds), whatever paper.rounds says for the claims."""
    P, E = X.pc_seeds, X.experiment
    seen = {}
    monkeypatch.setattr(
        E, "run_arm", lambda c, w, arm: seen.update(arm=arm, rounds=X.at_scale(c, c.paper.rounds), seed=int(c.seed))
    )
    monkeypatch.setattr("replicate.training.world_cache.world_for", lambda c: None)
    c = compose("drift", ["seed=45"], check_hardware=False)
    assert X.at_scale(c, c.paper.rounds) == 2
    P._job(c, "iterdpo")
    assert seen == {"arm": "iterdpo", "rounds": 1, "seed": 45}


def test_pc_extra_seeds_widen_pc_only(cfg):
    """PC reads the claims' seeds plus PC's extra seeds (rounds 0..1 of its arms), keeps the claims' seeds' reading as
    claim_seeds.*, and every claim keeps its 3 seeds; an extra seed's arm missing from PC's arms is not read."""
    win = {("drift", 2): 0.2, ("iterdpo", 1): 0.1, ("oracle", 1): 0.1}
    res = _fake(q=win, wr=win)
    extra = _fake(seeds=(4, 5), q={("oracle", 1): 0.3}, wr={("iterdpo", 1): 0.3})
    res["pc_extra"] = {k: v[:2] for k, v in extra["runs"].items() if k[1] in ("iterdpo", "oracle")}
    by = {c["id"]: c for c in X.PAPER.claims(res, cfg)}
    ev = by["PC"]["evidence"]
    assert ev["iterdpo_r1.wr.n_seeds"] == 5 and ev["oracle_r1.q.n_seeds"] == 5
    assert ev["iterdpo_r1.wr.claim_seeds"] == 3 and ev["oracle_r1.q.claim_seeds"] == 3
    assert ev["iterdpo_r1.wr.diff"] == pytest.approx(100 * (3 * 0.1 + 2 * 0.3) / 5, abs=1.0)
    assert ev["iterdpo_r1.wr.claim_seeds.diff"] == pytest.approx(10.0, abs=1.0)
    assert ev["oracle_r1.q.diff"] == pytest.approx((3 * 0.1 + 2 * 0.3) / 5, abs=0.01)
    assert by["C1"]["evidence"]["vs_iterdpo.wr.n_seeds"] == 3 and by["C5"]["evidence"]["drift.margin.n_seeds"] == 3
    assert by["K_revise"]["evidence"]["n_seeds"] == 3  # K_revise's own extra seeds are another key


def test_the_check_subset_runs_pc_on_seed_42_alone(monkeypatch):
    """``make check``: PC's extra seeds are off too (``paper.power.arms=[]``), or CI runs two more seeds' rounds."""
    from replicate.cli import check as cli_check

    seen = {}
    monkeypatch.setattr(cli_check, "run_notebook", lambda p, overrides, **kw: seen.setdefault("o", overrides))
    monkeypatch.setattr(cli_check, "check", lambda *a, **kw: [])
    assert cli_check.main_check(["drift"]) == 0
    assert X.pc_seeds.extra_seeds(compose("drift", seen["o"])) == []
    assert X.pc_seeds.extra_seeds(compose("drift", ["scale.n_seeds=1"])) == [43, 44]  # without the override
