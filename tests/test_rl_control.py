"""The RL capability controls shared by PAR and AutoRule (training/rl_control.py): one cached K_rl stage for both
papers (one key), the controls' values from known curves and RM reports, which claims they gate, and that each paper
runs the RL budget its K_rl measured."""

import numpy as np
import pytest

from replicate.core.config import ConfigError, compose
from replicate.metrics.verdicts import INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED
from replicate.papers import autorule as ar
from replicate.papers import par
from replicate.training import rl_control as K


def _key(paper, overrides=()):
    cfg = compose(paper, ["scale=ci", *overrides], check_hardware=False)
    return K.key(cfg, K.node_of(cfg))


def test_one_cache_key_for_both_papers():
    """Same K_rl block → the same key, so the second paper reads the first one's runs; a paper's own settings do
    not enter it; the control's own settings, the seed and the scale do."""
    assert _key("par") == _key("autorule")
    assert _key("par", ["paper.methods.par.k=2.0"]) == _key("autorule", ["paper.rules.flip=0.2"])
    assert _key("par", ["paper.k_rl.lr=1e-3", "paper.rl.lr=1e-3"]) != _key("par")
    assert _key("par", ["seed=43"]) != _key("par")
    tiny = lambda p: (lambda c: K.key(c, K.node_of(c)))(compose(p, [], check_hardware=False))
    assert tiny("par") == tiny("autorule") != _key("par")


def test_node_resolves_per_scale_and_validates():
    ci = K.node_of(compose("par", ["scale=ci"], check_hardware=False))
    tiny = K.node_of(compose("par", [], check_hardware=False))
    assert isinstance(ci.steps, int) and ci.steps < tiny.steps and ci.eval_prompts <= 32
    for bad, msg in [
        ("paper.k_rl.split=pref", "split"),
        ("paper.k_rl.eval_every.ci=3", "eval_every"),
        ("paper.k_rl.eval_prompts.ci=100000", "eval_prompts"),
        ("paper.k_rl.num_generations=1", "num_generations"),
    ]:
        with pytest.raises(ConfigError, match=msg):
            K.validate(compose("par", ["scale=ci", bad], check_hardware=False))


@pytest.mark.parametrize(
    "paper, override",
    [("par", "paper.rl.lr=1e-3"), ("par", "paper.rl.epochs=3"), ("autorule", "paper.rl.num_generations=4")],
)
def test_papers_must_run_the_budget_their_control_measured(paper, override):
    mod = {"par": par, "autorule": ar}[paper]
    mod.validate(compose(paper, ["scale=ci"], check_hardware=False))
    with pytest.raises(ConfigError, match="K_rl"):
        mod.validate(compose(paper, ["scale=ci", override], check_hardware=False))


def curves(gain: float, n: int = 40, seed: int = 0, steps: int = 4) -> dict:
    """An oracle-reward run's curves: per-prompt q at step 0 and ``steps``, ``gain`` apart on average."""
    rng = np.random.default_rng(seed)
    q0 = rng.uniform(0.2, 0.6, n)
    q1 = np.clip(q0 + gain + 0.02 * rng.normal(size=n), 0, 1)
    row = lambda st, q: {
        "step": st,
        "oracle": float(q.mean()),
        "win_rate": 0.5,
        "kl": 0.1 * st,
        "length": 10.0,
        "per_prompt": {"oracle": q.tolist()},
    }
    return {"eval": [row(0, q0), row(steps, q1)], "train": []}


def rm_report(agree: float, margin: float, slope: float, n: int = 100) -> dict:
    k = int(round(agree * n))
    return {
        "accuracy": {"vs_label": 0.6, "vs_judge": 0.6, "vs_oracle": agree, "per_pair_vs_oracle": [1.0] * k + [0.0] * (n - k)},
        "answer_margin": margin,
        "filler": {"slope_per_unit": slope, "malformed_gap": -1.0},
    }  # fmt: skip


def test_k_rl_reads_the_paired_gain_and_is_a_control():
    node = K.node_of(compose("par", ["scale=ci"], check_hardware=False))
    up = K.k_rl([curves(0.1, seed=s) for s in range(3)], node, gates=["PC"])
    assert up["verdict"] == REPRODUCED and up["role"] == "control" and up["gates"] == ["PC"]
    assert up["evidence"]["diff"] == pytest.approx(0.1, abs=0.01) and up["evidence"]["metric"] == "q"
    assert K.k_rl([curves(-0.1, seed=s) for s in range(3)], node, gates=[])["verdict"] == NOT_REPRODUCED
    with pytest.raises(ValueError, match="step-0"):
        K.gain({"eval": curves(0.1)["eval"][1:]})


def test_k_rm_parts():
    good = K.k_rm([rm_report(0.8, 1.0, 0.1), rm_report(0.75, 0.9, 0.2), rm_report(0.78, 1.1, 0.0)])
    assert good["verdict"] == REPRODUCED and good["gates"] == [] and good["role"] == "control"
    assert good["evidence"]["agree.diff"] == pytest.approx(np.mean([0.3, 0.25, 0.28]), abs=1e-9)
    # pays for filler more than for a correct answer: the third part fails, the claim is not reproduced
    bad = K.k_rm([rm_report(0.8, 0.2, 0.9), rm_report(0.75, 0.1, 1.0), rm_report(0.78, 0.15, 0.8)])
    assert bad["verdict"] == NOT_REPRODUCED and bad["evidence"]["answer_over_filler.verdict"] == NOT_REPRODUCED
    assert bad["evidence"]["answer_over_filler.diff"] == pytest.approx(np.mean([-0.7, -0.9, -0.65]))


# ---------------------------------------------------------------------------------------------
# Gating in each paper


def _par_runs(k_gain: float) -> dict:
    from tests.test_par import _runs

    runs = _runs()
    for i, sd in enumerate(runs):
        runs[sd]["k_rl"] = curves(k_gain, seed=i)
        runs[sd]["rm"] = rm_report(0.6, 0.5, 0.1)
    return runs


def test_par_controls_come_first_and_k_rl_gates_every_claim():
    cfg = compose("par", ["scale=ci"], check_hardware=False)
    cl = par.claims.claims(_par_runs(0.1), cfg)
    assert [c["id"] for c in cl[:2]] == ["K_rl", "K_rm"] and cl[0]["verdict"] == REPRODUCED
    assert cl[0]["gates"] == ["PC", "H", "C1", "C2", "C3", "C4"] and cl[1]["gates"] == []
    assert {c["id"]: c["verdict"] for c in cl[2:]}["PC"] == REPRODUCED  # licensed: the fixture's curves hold
    flat = {c["id"]: c for c in par.claims.claims(_par_runs(0.0), cfg)}
    assert flat["K_rl"]["verdict"] != REPRODUCED
    for cid in ("PC", "H", "C1", "C2", "C3", "C4"):
        assert flat[cid]["verdict"] == INCONCLUSIVE and "K_rl" in str(flat[cid]["evidence"]), cid


def test_autorule_k_rl_gates_pc_c1_c3_not_the_rules_claim():
    from tests.test_autorule import _fake_run

    cfg = compose("autorule", ["scale=ci"])
    rules = {
        "rules": [{"text": "r", "support": 1.0, "variants": ["r"], "check": "correct"}],
        "agreement": {"agreement": 0.8, "ties": 0.1, "n": 5, "per_pair": [1] * 40 + [0] * 10},
        "rm_accuracy": {"vs_label": 0.6, "vs_oracle": 0.6},
        "rm_report": rm_report(0.6, 0.5, 0.1),
    }
    up = np.linspace(0.2, 0.4, 30)
    g = _fake_run({0: up, 1: up + 0.2, 2: up + 0.2, 4: up})
    a = _fake_run({0: up, 1: up + 0.1, 2: up + 0.1, 4: up + 0.15})
    runs = lambda k: {
        sd: {"rules": rules, "grpo": g, "autorule": a, "k_rl": curves(k, seed=i)} for i, sd in enumerate((1, 2, 3))
    }
    cl = ar.PAPER.claims(runs(0.1), cfg)
    assert [c["id"] for c in cl[:2]] == ["K_rl", "K_rm"] and cl[0]["gates"] == ["PC", "C1", "C3"]
    ok = {c["id"]: c["verdict"] for c in cl}
    assert ok["PC"] == REPRODUCED and ok["C3"] == REPRODUCED and ok["C2"] == REPRODUCED
    gated = {c["id"]: c["verdict"] for c in ar.PAPER.claims(runs(-0.1), cfg)}
    assert gated["K_rl"] == NOT_REPRODUCED
    assert gated["PC"] == gated["C1"] == gated["C3"] == INCONCLUSIVE
    assert gated["C2"] == REPRODUCED  # about the rules, not RL
    m, _ = ar.flat_metrics(runs(0.1))
    assert m["k_rl.end.oracle"] - m["k_rl.start.oracle"] == pytest.approx(0.1, abs=0.01)


def test_extra_control_seeds_widen_k_rl_only():
    """paper.power.k_rl_seeds: K_rl reads the claims' seeds plus the extra ones, keeps the claims' seeds' own reading
    in its evidence, and the claims keep their seeds; fewer control seeds than claim seeds is refused."""
    from replicate.training import rl_control_seeds as S

    cfg = compose("par", [], check_hardware=False)
    assert S.extra_seeds(cfg) == [45, 46] and S.extra_seeds(compose("par", ["scale=ci"], check_hardware=False)) == []
    with pytest.raises(ConfigError, match="k_rl_seeds"):
        S.extra_seeds(compose("par", ["paper.power.k_rl_seeds.tiny=2"], check_hardware=False))
    runs = _par_runs(0.1)
    runs[min(runs)]["k_rl_extra"] = {45: curves(0.3, seed=7), 46: curves(0.3, seed=8)}
    k = S.k_rl(runs, cfg, gates=["PC"])
    assert k["evidence"]["n_seeds"] == 5 and k["evidence"]["claim_seeds"] == 3
    assert k["evidence"]["diff"] == pytest.approx((3 * 0.1 + 2 * 0.3) / 5, abs=0.01)
    assert k["evidence"]["claim_seeds.diff"] == pytest.approx(0.1, abs=0.01)
    cl = {c["id"]: c for c in par.claims.claims(runs, compose("par", ["scale=ci"], check_hardware=False))}
    assert cl["PC"]["evidence"]["q.n_seeds"] == 3 and cl["K_rl"]["evidence"]["n_seeds"] == 5  # claims keep their seeds


@pytest.mark.parametrize("paper", ["par", "autorule"])
def test_the_check_subset_runs_k_rl_on_seed_42_alone(monkeypatch, paper):
    """``make check`` re-runs seed 42 alone: K_rl's extra seeds (``paper.power.k_rl_seeds``) must be turned off, or CI
    trains four more SFT models and RL runs (and an override of a key PAR/AutoRule lack would stop it)."""
    from omegaconf import open_dict

    from replicate.cli import check as cli_check
    from replicate.training.rl_control_seeds import extra_seeds

    seen = {}
    monkeypatch.setattr(cli_check, "run_notebook", lambda p, overrides, **kw: seen.setdefault("o", overrides))
    monkeypatch.setattr(cli_check, "check", lambda *a, **kw: [])
    assert cli_check.main_check([paper]) == 0
    assert extra_seeds(compose(paper, seen["o"])) == [] and "scale.n_seeds=1" in seen["o"]
    assert extra_seeds(compose(paper, [])) == [45, 46]  # the full run keeps them
    cfg = compose(paper, [])
    with open_dict(cfg):
        cfg.paper.power["new_knob"] = 3  # a power key the subset cannot turn off is refused, not run
    with pytest.raises(ConfigError, match="new_knob"):
        cli_check.no_extra_seeds(cfg)
