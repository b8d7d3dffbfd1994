"""The failures a first GPU run of the real path would have hit (issue 26), each with the CPU test that would have
caught it: a fake vLLM engine that counts constructions and teardowns, fp32 master weights, one loaded instance per
scoring model, the datasets' published schemas, the KV cache in GRPO rollouts, equal train and evaluation lengths,
reward-model truncation that keeps the answer, the paper's effective batch on every GPU count, training logs."""

import importlib.machinery
import json
import sys
import types

import pytest
import torch
from test_real_model import small_overrides

from replicate.core.config import ConfigError, compose, to_dict


# ----------------------------------------------------------------------------- one generation engine per process
class FakeLLM:
    made, torn, alive, most = [], [], 0, 0

    def __init__(self, model_dir, seed, **settings):
        FakeLLM.made.append((model_dir, settings))
        FakeLLM.alive += 1
        FakeLLM.most = max(FakeLLM.most, FakeLLM.alive)

    def generate(self, prompts, params):
        out = types.SimpleNamespace(outputs=[types.SimpleNamespace(text="cba")] * params.n)
        return [out for _ in prompts]


def _teardown(llm):
    FakeLLM.torn.append(llm)
    FakeLLM.alive -= 1


def test_one_vllm_engine_per_process_torn_down_before_training(env, local, monkeypatch):
    from datasets import Dataset

    from replicate.real import engines
    from replicate.real.fit import fit

    FakeLLM.made, FakeLLM.torn, FakeLLM.alive, FakeLLM.most = [], [], 0, 0
    monkeypatch.setitem(engines.ENGINE, "make", FakeLLM)
    monkeypatch.setitem(engines.ENGINE, "teardown", _teardown)
    monkeypatch.setattr(engines, "vllm_installed", lambda: True)
    fake = types.ModuleType("vllm")  # only SamplingParams is imported from vLLM outside the engine factory
    fake.__spec__ = importlib.machinery.ModuleSpec("vllm", None)
    fake.SamplingParams = lambda **kw: types.SimpleNamespace(**kw)
    monkeypatch.setitem(sys.modules, "vllm", fake)
    cfg = compose("simpo", [*small_overrides(local, env), "scale.generator=vllm"])
    lm = local / "lm"
    engines.generate(cfg, lm, ["rev:abc"], tag="a")
    engines.generate(cfg, lm, ["sort:cba"], n=2, tag="b")  # the same model: the live engine is reused
    assert len(FakeLLM.made) == 1 and FakeLLM.made[0][1]["gpu_memory_utilization"] == 0.5  # explicit, not vLLM's 0.9
    engines.generate(cfg, local / "rm", ["rev:abc"], tag="c")  # another model: the old engine goes first
    assert len(FakeLLM.made) == 2 and len(FakeLLM.torn) == 1 and FakeLLM.most == 1
    rows = [{"prompt": [{"role": "user", "content": "rev:ab"}], "chosen": [{"role": "assistant", "content": "ba"}]}]
    rows[0]["rejected"] = [{"role": "assistant", "content": "ab"}]
    fit(
        cfg,
        lm,
        Dataset.from_list(rows * 2),
        {"kind": "preference", "loss": "dpo", "beta": 0.1, "lr": 1e-6},
        env / "fit",
    )
    assert len(FakeLLM.torn) == 2 and FakeLLM.alive == 0  # training starts with no engine holding memory
    with pytest.raises(ConfigError, match="gpu_memory_utilization"):
        engines.vllm_settings(
            compose("simpo", [*small_overrides(local, env), "+scale.vllm.gpu_memory_utilization=1.5"])
        )


# ----------------------------------------------------------------------------- precision
def test_full_finetuning_keeps_fp32_master_weights(env, local):
    from replicate.real.policy import load_policy

    cfg = compose("simpo", [*small_overrides(local, env), "hardware=gpu"])  # bf16 on
    assert {p.dtype for p in load_policy(local / "lm", cfg, master=True)[0].parameters()} == {torch.float32}
    assert {p.dtype for p in load_policy(local / "lm", cfg)[0].parameters()} == {
        torch.bfloat16
    }  # generation, LoRA base
    w = torch.full((1000,), 0.02)  # why: an AdamW step of lr 5e-7 on a bf16 weight of typical size rounds away
    assert torch.equal(w.bfloat16() - 5e-7, w.bfloat16()) and not torch.equal(w - 5e-7, w)


# ----------------------------------------------------------------------------- one instance per scoring model
def test_each_scoring_model_is_loaded_once_per_process(env, local, monkeypatch):
    import transformers

    from replicate.real import scorers
    from replicate.real.judges import judge_preferences

    scorers.forget()
    loads = []
    orig = transformers.AutoModelForSequenceClassification.from_pretrained
    monkeypatch.setattr(
        transformers.AutoModelForSequenceClassification,
        "from_pretrained",
        lambda *a, **k: loads.append(a) or orig(*a, **k),
    )
    cfg = compose("simpo", small_overrides(local, env))
    for _ in range(3):
        judge_preferences(cfg.judge, ["rev:abc"], ["cba"], ["abc"])
    assert len(loads) == 1
    v = scorers.rule_verifier(cfg, local / "lm", ["r"])
    assert scorers.rule_verifier(cfg, local / "lm", ["r"]) is v
    scorers.forget()


# ----------------------------------------------------------------------------- the datasets' published schemas
def test_skillmix_files_and_wildfeedback_rows_in_their_published_schemas(env, local, monkeypatch):
    import datasets

    from replicate.real import data, iterative

    calls = []
    with monkeypatch.context() as mp:
        mp.setattr(datasets, "load_dataset", lambda *a, **k: calls.append((a, k)) or datasets.Dataset.from_list([{}]))
        data.open_dataset("PrincetonPLI/Instruct-SkillMix-SDA", "train", data_files="data/ism_sda_k2_1K.json")
        assert calls[-1] == (
            ("PrincetonPLI/Instruct-SkillMix-SDA",),
            {"data_files": "data/ism_sda_k2_1K.json", "split": "train"},
        )
    skillmix = {"orig_instruction": "Sort", "instruction": "Sort", "input": "cba", "output": "abc"}
    skillmix |= {"skills_joined_str": "sorting, lists", "query_type": "Task Execution", "generator": "gpt-4-turbo"}
    (local / "ism.json").write_text(json.dumps([skillmix] * 3))
    rows = data.load_rows(str(local / "ism.json"), "train", 2, 0, "sft")
    assert rows[0] == {
        "prompt": [{"role": "user", "content": "Sort\n\ncba"}],
        "completion": [{"role": "assistant", "content": "abc"}],
    }
    wf = {  # WildFeedback's wildfeedback config: ShareGPT turns; DRIFT's feedback column beside them
        "conversations": [
            {"from": "human", "value": "hi"},
            {"from": "gpt", "value": "yo"},
            {"from": "human", "value": "rev:ab"},
        ],
        "chosen": {"from": "gpt", "value": "ba"},
        "rejected": {"from": "gpt", "value": "ab"},
        "user_preference": "reverse it",
    }
    (local / "wf.jsonl").write_text("\n".join(json.dumps(wf) for _ in range(4)))
    cfg = compose("drift", [o for o in small_overrides(local, env) if not o.startswith("paper.")])
    m = to_dict(compose("drift", []).paper.real.methods.drift) | {"data": str(local / "wf.jsonl"), "rows_per_round": 2}
    items = iterative.load_items(cfg, {k: v for k, v in m.items() if k != "subset"})
    assert items[0] == {
        "prompt": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "yo"},
            {"role": "user", "content": "rev:ab"},
        ],
        "rejected": "ab",
        "feedback": "reverse it",
    }


# ----------------------------------------------------------------------------- lengths, truncation
def test_train_and_evaluation_lengths_must_match(env, local):
    from replicate.real.methods import eval_sample, methods

    for paper in ("par", "autorule", "drift"):
        cfg = compose(paper, ["scale=small"])
        methods(cfg)  # the committed settings agree
        assert int(eval_sample(cfg).max_new_tokens) < int(cfg.scale.sample.max_new_tokens)
    with pytest.raises(
        ConfigError, match="trains on answers of at most 256 new tokens but would be evaluated at 1024"
    ):
        methods(compose("par", ["scale=small", "paper.real.sample.max_new_tokens=1024"]))


def test_reward_model_truncation_keeps_the_answer(env, local):
    from replicate.real.scorers import RewardModel

    rm = RewardModel(local / "rm", max_length=40)
    long_x, y = "rev:" + "abcdefgh" * 10, "zyxw"
    t = rm.text(long_x, y)
    ids = rm.tok(t, add_special_tokens=False)["input_ids"]
    assert len(ids) <= 40 and t.rstrip().endswith(f"{y}{rm.tok.eos_token}")  # the whole answer, its end included
    a, b = rm([long_x, long_x], ["zyxw", "zyxa"])  # answers differing in their last character: still told apart
    assert a != b


# ----------------------------------------------------------------------------- effective batch, logs
def test_effective_batch_is_the_papers_on_every_gpu_count():
    from replicate.real.pipeline import paper_geometry

    for s in (
        "mistral_base",
        "mistral_instruct",
        "llama3_base",
        "llama3_instruct",
        "llama3_instruct_v02",
        "gemma2_9b_it",
    ):
        for hw in ("cpu", "gpu", "multi_gpu_zero3"):
            cfg = compose("simpo", ["scale=paper", f"setup=simpo_{s}", f"hardware={hw}"], check_hardware=False)
            for n in (1, 2, 4, 8):
                g = paper_geometry(cfg, n)
                assert g["effective"] == cfg.setup.global_batch_size == 128 and g["grad_accum"] == 128 // (
                    g["per_device"] * n
                )


def test_launch_derives_accumulation_from_the_processes_launched(monkeypatch):
    from replicate.real.launch import world_size

    cfg = compose(
        "simpo", ["scale=paper", "setup=simpo_llama3_base", "hardware=multi_gpu_zero3"], check_hardware=False
    )
    assert world_size(cfg) == 8
    monkeypatch.setenv("WORLD_SIZE", "4")
    assert world_size(cfg) == 4


def test_tensorboard_falls_back_clearly_when_absent(env, local, monkeypatch, capsys):
    import importlib.util

    from replicate.real import logs

    cfg = compose("simpo", small_overrides(local, env))
    real_find = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda n, *a: None if n.startswith("tensorboard") else real_find(n, *a)
    )
    monkeypatch.setattr(logs, "_warned", set())
    assert logs.trainer_logs(cfg, env / "x" / "tmp")["report_to"] == []
    assert f"pip install {logs.TENSORBOARD_PIN}" in capsys.readouterr().err
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda n, *a: object() if n == "tensorboard" else real_find(n, *a)
    )
    out = logs.trainer_logs(cfg, env / "x" / "tmp", run="dpo")
    assert (
        out["report_to"] == ["tensorboard"]
        and "build/logs/simpo/small/dpo-" in __import__("os").environ["TENSORBOARD_LOGGING_DIR"]
    )
    with pytest.raises(
        ConfigError, match="scale.logging.report_to='mlflow'.*one of tensorboard, wandb, trackio, none"
    ):
        compose("simpo", [*small_overrides(local, env), "scale.logging.report_to=mlflow"])  # the schema, at compose


def test_grpo_rollouts_keep_the_kv_cache_under_gradient_checkpointing(env, local, monkeypatch):
    """TRL 1.16 turns gradient checkpointing off around ``generate`` and transformers 5 keeps the cache under
    ``no_grad``; the rollout's generation config must still ask for the cache, whatever the model's config says."""
    import trl
    from test_real_rl import rl_overrides

    from replicate.real import rl

    seen = {}

    def train(self, *a, **k):  # the trainer as GRPO would start it, not run
        seen.update(use_cache=self.generation_config.use_cache, checkpointing=self.args.gradient_checkpointing)

    monkeypatch.setattr(trl.GRPOTrainer, "train", train)
    cfg = compose("par", [*rl_overrides(local, env, "par"), "hardware.gradient_checkpointing=true"])
    rl.train(cfg, "vanilla", {"kind": "grpo", "shaping": "vanilla"})
    assert seen == {"use_cache": True, "checkpointing": True}
