"""GRPO on a real model (``scale=small``, kind ``grpo``: PAR and AutoRule) offline: the tiny local Llama and reward
model of test_real_model drive both papers' notebooks on CPU for 2 GRPO steps; the rule verifier and the shaped reward
function against closed forms; offline Hub ids and bad settings fail before compute."""

import json

import numpy as np
import pytest
import torch
from scipy.special import expit
from test_real_model import small_overrides

from replicate.core.config import ConfigError, compose
from replicate.core.io import read_json

RULES = ["The response is short.", "The response ends with a period."]


def rl_overrides(local, tmp_path, paper):
    """scale=small at a ci size: 4 prompts, 2 per step, groups of 2, one epoch → 2 GRPO steps; 6 new tokens."""
    rows = [{"prompt": f"rev:ab{c}"} for c in "abcdefgh"] + [{"prompt": "x" * 400}]  # the last: over max_prompt_length
    (local / "prompts.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    common = [o for o in small_overrides(local, tmp_path) if not o.startswith("paper.")]
    rl = {
        "data": local / "prompts.jsonl",
        "prompts": 4,
        "prompts_per_step": 2,
        "epochs": 1,
        "num_generations": 2,
        "max_new_tokens": 6,
        "max_prompt_length": 64,
        "lr": 0.05,
    }  # lr: large enough that 2 LoRA steps move the weights
    extra = {"par": {"n_refs": 2}, "autorule": {}}[paper]
    # the evaluation decodes at the training length (methods._same_lengths)
    return [
        *common,
        "paper.real.sample.max_new_tokens=6",
        *[f"paper.real.rl.{k}={v}" for k, v in {**rl, **extra}.items()],
    ]


def test_offline_hub_ids_fail_before_compute_naming_each(env):
    from replicate.real.preflight import require

    for paper in ("par", "autorule"):
        with pytest.raises(ConfigError) as e:
            require(compose(paper, ["scale=small"]))
        msg = str(e.value)
        for missing in (
            "Qwen/Qwen2.5-0.5B-Instruct",
            "HuggingFaceH4/ultrafeedback_binarized",
            "Skywork/Skywork-Reward-V2-Qwen3-0.6B",
        ):
            assert msg.count(missing) == 1, (paper, missing)  # named once, though every method needs it
    with pytest.raises(ConfigError, match=r"reward model '/nowhere/rm' \(paper.real.rl.reward_model\)"):
        require(compose("par", ["scale=small", "paper.real.rl.reward_model=/nowhere/rm"]))
    assert not (env / "cache").exists()


def test_bad_grpo_settings_fail_before_compute(env, local):
    from replicate.real.preflight import require

    ov = rl_overrides(local, env, "par")
    for bad, match in (
        ("paper.real.methods.par.shaping=nope", "shaping must be one of"),
        ("paper.real.rl.prompts=5", "multiple of prompts_per_step"),
        ("paper.real.rl.num_generations=1", "num_generations"),
        ("paper.real.rl.n_refs=0", "needs n_refs"),
    ):
        with pytest.raises(ConfigError, match=match):
            require(compose("par", [*ov, bad]))
    with pytest.raises(ConfigError, match="rules must be a non-empty list"):
        require(compose("autorule", [*rl_overrides(local, env, "autorule"), "paper.real.methods.autorule.rules=[]"]))
    assert not (env / "cache").exists()


def test_prompt_rows_of_each_format():
    from replicate.real.rl import prompt_text

    assert prompt_text({"prompt": "hi", "chosen": []}) == "hi"  # UltraFeedback-binarized
    assert (
        prompt_text(
            {
                "prompt": [
                    {"role": "system", "content": "s"},
                    {"role": "user", "content": "a"},
                    {"role": "assistant", "content": "b"},
                    {"role": "user", "content": "c"},
                ]
            }
        )
        == "c"
    )
    assert prompt_text({"instruction": "do", "input": "this"}) == "do\n\nthis"  # Alpaca
    with pytest.raises(ConfigError, match="needs a 'prompt'"):
        prompt_text({"text": "x"})


def test_prompts_skip_those_over_max_prompt_length(env, local):
    from replicate.real import rl as real_rl
    from replicate.real.policy import load_policy

    cfg = compose("par", rl_overrides(local, env, "par"))
    _, tok = load_policy(local / "lm", cfg)
    s = {**real_rl.settings(cfg, {"kind": "grpo"}), "prompts": 8}
    xs = real_rl.prompts(cfg, s, tok)
    assert sorted(xs) == [f"rev:ab{c}" for c in "abcdefgh"]  # all 8 short ones; the 400-character one skipped
    assert real_rl.prompts(cfg, s, tok) == xs  # shuffled by the seed: the same order again
    with pytest.raises(ConfigError, match="has only 8 prompts within max_prompt_length=64; 9 are needed"):
        real_rl.prompts(cfg, {**s, "prompts": 9}, tok)


def test_references_are_the_reward_models_scores_of_start_samples(env, local):
    from replicate.real import rl as real_rl
    from replicate.real.scorers import RewardModel

    cfg = compose("par", rl_overrides(local, env, "par"))
    s = real_rl.settings(cfg, {"kind": "grpo", "shaping": "par"})
    xs = ["rev:abc", "sort:cba"]
    refs = real_rl.references(cfg, s, xs, 3)
    ys = refs["responses"]
    assert [len(y) for y in ys] == [3, 3] and np.asarray(refs["rewards"]).shape == (2, 3)
    want = RewardModel(local / "rm")(
        [x for x in xs for _ in range(3)], [y for r in ys for y in r]
    )  # below the length threshold
    assert np.asarray(refs["rewards"]).ravel() == pytest.approx(want)


def test_shaped_reward_function_is_par_of_the_length_penalised_score():
    from replicate.real.rl import reward_function
    from replicate.training.shaping import Shaping

    logged = {}
    score = lambda xs, ys: np.array([float(len(y)) for y in ys])
    fn = reward_function(score, shaping=Shaping("par", penalty=(3.0, 0.5), n_refs=2, k=2.0), name="rm")
    refs = [[1.0, 4.0, 9.0], [0.0, 2.0, 9.0]]
    out = fn(
        [[{"role": "user", "content": "p"}]] * 2,
        [[{"role": "assistant", "content": "abcd"}], [{"role": "assistant", "content": "ab"}]],
        completion_ids=[[0] * 5, [0] * 3],
        ref_rewards=refs,
        log_metric=lambda k, v: logged.__setitem__(k, v),
    )
    r = np.array([4.0 - 0.5 * (5 - 3), 2.0])  # r̃ = r − coef·max(0, |y| − threshold)
    want = [np.mean(expit(2.0 * (r[i] - np.array(refs[i][:2])))) for i in range(2)]  # (1/M) Σ σ(k(r̃ − r_m)), M = 2
    assert out == pytest.approx(want)
    assert logged == pytest.approx({"rm/raw": 3.0, "rm/shaped": float(np.mean(want))})


def test_rule_verifier_compares_yes_and_no_logits(env, local):
    from replicate.real.rl import rule_weight
    from replicate.real.scorers import RuleVerifier

    cfg = compose("autorule", small_overrides(local, env)[:6])
    v = RuleVerifier(cfg, local / "lm", RULES, batch_size=3)
    xs, ys = ["rev:abc", "sort:cba", "hi"], ["cba", "abc sure", ""]
    s = v(xs, ys)
    assert s.shape == (3, 2) and set(np.unique(s)) <= {0.0, 1.0}
    tok, model = v.tok, v.model
    for i, (x, y) in enumerate(zip(xs, ys)):  # one prompt at a time, no padding: the same answers
        for k, rule in enumerate(RULES):
            ids = tok.apply_chat_template(
                [{"role": "user", "content": v_prompt(x, y, rule)}],
                add_generation_prompt=True,
                tokenize=True,
                return_tensors="pt",
                return_dict=True,
            )
            with torch.no_grad():
                z = model(**ids).logits[0, -1]
            assert s[i, k] == float(z[v.yes].max() > z[v.no].max())
    assert "<unk>" not in tok.convert_ids_to_tokens(v.yes + v.no)  # "Yes" and "No" both start with <unk> here
    refs = {"rewards": [[1.0, 3.0], [5.0, 7.0]], "rule_rewards": [0.0, 0.5, 0.5, 1.0]}
    assert rule_weight("match_std", refs) == pytest.approx(np.std([1, 3, 5, 7]) / np.std([0, 0.5, 0.5, 1]))
    assert rule_weight(2.0, refs) == 2.0 and rule_weight("match_std", {**refs, "rule_rewards": [1.0] * 4}) == 1.0


def _weights(model_dir):
    from safetensors.torch import load_file

    return load_file(str(model_dir / "model.safetensors"))


def v_prompt(x, y, rule):
    from replicate.real.scorers import VERIFY

    return VERIFY.format(x=x, y=y, rule=rule)


@pytest.mark.slow  # two notebooks with TRL's GRPO on a local checkpoint, a minute of CPU: make check runs them
@pytest.mark.parametrize(
    "paper,claims,grpo",
    [("par", ["PC", "C1", "C2"], ["vanilla", "par", "sigmoid"]), ("autorule", ["PC", "C1"], ["grpo", "autorule"])],
)
def test_small_scale_runs_the_notebook_with_grpo_on_a_local_model(env, local, paper, claims, grpo):
    import replicate.cli.run as run
    from replicate import real
    from replicate.real import rl as real_rl
    from replicate.real.fit import train
    from replicate.real.methods import methods

    ov = rl_overrides(local, env, paper)
    if paper == "autorule":
        ov += [f"paper.real.methods.autorule.rules=[{','.join(repr(r) for r in RULES)}]"]
    out = run.run_notebook(paper, ov, html=False)
    tags = [t for c in json.loads(out.read_text())["cells"] for t in c["metadata"].get("tags", [])]
    assert "real-model" in tags and "toy-world" not in tags
    doc = read_json(env / "results" / paper / "small" / "metrics.json")
    assert doc["extra"]["real"] and [c["id"] for c in doc["claims"]] == claims
    assert {f"{m}.win_rate" for m in ["start", *grpo]} <= set(doc["metrics"])
    cfg = compose(paper, ov)
    start, trained = _weights(local / "lm"), {}
    for name in grpo:
        d = train(cfg, name, methods(cfg)[name])
        assert real_rl.info(d)["steps"] == 2 and real_rl.info(d)["prompts"] == 4
        steps = [h for h in real_rl.history(d) if "reward" in h]
        assert [h["step"] for h in steps] == [1, 2] and all("rm/raw" in h for h in steps)
        trained[name] = _weights(d)  # a plain checkpoint: the LoRA adapter merged, same tensors as the start
        assert set(trained[name]) == set(start) and any(not torch.equal(start[k], trained[name][k]) for k in start)
    a, b = trained[grpo[0]], trained[grpo[1]]  # different rewards, same seed and prompts: different updates
    assert any(not torch.equal(a[k], b[k]) for k in a)
    if paper == "autorule":
        assert any("rules/raw" in h for h in real_rl.history(train(cfg, "autorule", methods(cfg)["autorule"])))
    # a second run finds every stage cached (no new cache entry) and gives the same numbers
    before = sorted(p.name for p in (env / "cache").rglob("*") if p.is_dir() and p.parent.parent == env / "cache")
    res = real.run(cfg, progress=False)
    after = sorted(p.name for p in (env / "cache").rglob("*") if p.is_dir() and p.parent.parent == env / "cache")
    assert after == before and before
    assert real.flat_metrics(res) == pytest.approx(doc["metrics"], abs=1e-6)  # metrics.json keeps 6 decimals
