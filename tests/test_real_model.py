"""The real-model path offline: a tiny Llama checkpoint and a tiny reward model saved locally drive scale=small
through the SimPO notebook on CPU, and the paper pipeline's generate → judge → metrics → table stages run with a
stub annotator that reads AlpacaEval's stored NullModel annotations."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from replicate.core.config import ConfigError, compose
from replicate.core.io import read_json
from replicate.models.lm import build_tiny_llama
from replicate.worlds.public_data import data_path
from replicate.worlds.tokenizer import build_tokenizer

NULL = "alpaca_eval/NullModel__weighted_alpaca_eval_gpt4_turbo__annotations.json"


def small_overrides(local, tmp_path):
    return [
        "scale=small",
        f"model.name_or_path={local / 'lm'}",
        "model.dtype=float32",
        f"judge.name_or_path={local / 'rm'}",
        "hardware=cpu",
        "scale.finetune.steps=2",
        "scale.finetune.batch_size=2",
        "scale.finetune.global_batch_size=2",
        "scale.finetune.max_length=64",
        "scale.world.n_eval=12",
        "scale.sample.max_new_tokens=6",
        "scale.sample.batch_size=12",
        f"paper.real.methods.dpo.data={local / 'pairs'}",
        f"paper.real.methods.simpo.data={local / 'pairs'}",
        "paper.real.methods.dpo.split=train",
        "paper.real.methods.simpo.split=train",
        f"results_dir={tmp_path / 'results'}",
        f"figures_dir={tmp_path / 'figures'}",
    ]


def test_offline_hub_ids_fail_before_compute_naming_each(env):
    from replicate.real.preflight import require

    cfg = compose("simpo", ["scale=small"])
    with pytest.raises(ConfigError) as e:
        require(cfg)
    msg = str(e.value)
    for missing in (
        "Qwen/Qwen2.5-0.5B-Instruct",
        "HuggingFaceH4/ultrafeedback_binarized",
        "Skywork/Skywork-Reward-V2-Qwen3-0.6B",
        "HF_HUB_OFFLINE=1",
    ):
        assert missing in msg
    assert not (env / "cache").exists()  # nothing was computed
    import replicate.cli.run as run

    with pytest.raises(ConfigError, match="Qwen/Qwen2.5-0.5B-Instruct"):
        run.run_notebook("simpo", ["scale=small"])  # `make replicate-simpo ARGS=scale=small`: before the kernel starts
    assert not (env / "build" / "notebooks").exists()


def test_gpu_only_options_on_cpu_fail_clearly(env, local):
    from replicate.real.preflight import require

    if torch.cuda.is_available():
        pytest.skip("a GPU is visible")
    base = small_overrides(local, env)
    with pytest.raises(ConfigError, match="hardware=gpu trains in bf16.*choose hardware=cpu"):
        require(compose("simpo", [o for o in base if o != "hardware=cpu"]))
    with pytest.raises(ConfigError, match="generator=vllm"):
        require(compose("simpo", [*base, "scale.generator=vllm"]))


def test_alpaca_eval_judge_without_key_names_the_variable(env, local, monkeypatch):
    from replicate.real.preflight import require

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ConfigError, match="set the environment variable OPENAI_API_KEY"):
        require(
            compose(
                "simpo", [o for o in small_overrides(local, env) if not o.startswith("judge.")] + ["judge=alpaca_eval"]
            )
        )
    monkeypatch.setitem(__import__("sys").modules, "alpaca_eval.annotators", None)  # as when alpaca_eval cannot import
    with pytest.raises(ConfigError, match="a working alpaca_eval package"):
        require(
            compose(
                "simpo", [o for o in small_overrides(local, env) if not o.startswith("judge.")] + ["judge=alpaca_eval"]
            )
        )


def test_ultrafeedback_rows_become_trl_conversations():
    from replicate.real.data import to_conversational

    row = {
        "prompt": "hi",
        "chosen": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "a"}],
        "rejected": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "b"}],
    }
    assert to_conversational(row) == {
        "prompt": [{"role": "user", "content": "hi"}],
        "chosen": [{"role": "assistant", "content": "a"}],
        "rejected": [{"role": "assistant", "content": "b"}],
    }


@pytest.mark.slow  # the whole SimPO notebook on a local checkpoint, a minute of CPU: make check runs it
def test_small_scale_runs_the_simpo_notebook_on_a_local_model(env, local):
    import importlib

    import replicate.cli.run as run

    importlib.reload(run)
    out = run.run_notebook("simpo", small_overrides(local, env), html=False)
    nb = json.loads(out.read_text())
    tags = [t for c in nb["cells"] for t in c["metadata"].get("tags", [])]
    assert "real-model" in tags and "toy-world" not in tags  # the toy world's cells were left out
    doc = read_json(env / "results" / "simpo" / "small" / "metrics.json")
    assert doc["extra"]["real"] and doc["extra"]["model"].endswith("lm")
    m = doc["metrics"]
    assert {"start.lc_win_rate", "dpo.win_rate", "simpo.lc_win_rate"} <= set(m)
    assert all(0 <= m[f"{k}.win_rate"] <= 100 for k in ("start", "dpo", "simpo"))
    assert [c["id"] for c in doc["claims"]] == ["PC", "C1"]
    assert doc["extra"]["provenance"]["batch"] == {
        "global_batch_size": 2,
        "per_device": 2,
        "devices": 1,
        "grad_accum": 1,
        "effective": 2,
    }
    from replicate.real.report import render_table

    assert "| simpo | Llama-3-Base 8B |" in render_table(doc) and "| 22.0 |" in render_table(
        doc
    )  # SimPO Llama-3-Base AE2 LC
    # a second run finds every stage cached: same numbers
    run.run_notebook("simpo", small_overrides(local, env), html=False)
    assert read_json(env / "results" / "simpo" / "small" / "metrics.json")["metrics"] == m


def test_paper_pipeline_generate_judge_metrics_with_stored_annotations(env, local, monkeypatch):
    from replicate.real.pipeline import pipeline, run_dir
    from replicate.real.report import render_table

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-NEVER-WRITTEN")
    ov = [
        "scale=paper",
        "setup=simpo_llama3_instruct",
        "hardware=cpu",
        f"judge.annotations={data_path(NULL)}",
        f"+pipeline_model={local / 'lm'}",
        "scale.world.n_eval=12",
        "setup.eval.max_new_tokens=6",
        f"results_dir={env / 'results'}",
    ]
    with pytest.raises(ConfigError, match="run stage=generate first"):
        pipeline("simpo", ov, ("judge",))  # each stage alone: judge needs generations
    out = pipeline("simpo", ov, ("generate",))
    assert len(read_json(out["generate"])) == 12
    out = pipeline("simpo", ov, ("judge", "metrics"))
    doc = read_json(out["metrics"])
    stored = [r["preference"] for r in read_json(data_path(NULL))[:12]]
    key = "Llama-3-Instruct 8B/simpo"
    assert doc["metrics"][f"{key}.win_rate"] == pytest.approx(
        100 * (np.mean(stored) - 1), abs=1e-5
    )  # alpaca_eval's raw WR
    assert doc["scale"] == "paper" and doc["claims"][0]["id"] == f"R:{key}"
    r = doc["claims"][0]  # stored annotations are not the paper's judge: inconclusive, whatever the numbers say
    assert r["verdict"] == "inconclusive" and "not the paper's" in r["evidence"]["note"]
    assert r["evidence"]["margin"] == 1.5 and doc["metrics"][f"{key}.lc_se_bootstrap"] > 0
    prov = doc["extra"]["provenance"]  # what a reproducer compares: evaluation stack, decoding, BOS, batch
    assert prov["alpaca_eval"] == "0.6.6" and prov["annotator"] == "weighted_alpaca_eval_gpt4_turbo"
    assert prov["generation"]["backend"] == "hf" and prov["generation"]["max_new_tokens"] == 6
    assert prov["bos"]["template_ids"] == 1 and prov["bos"]["generate_path"] == 1  # counted, not assumed
    assert prov["batch"]["effective"] == prov["batch"]["global_batch_size"] == 128
    assert "| 44.7 |" in render_table(doc)  # reported Table 4: Llama-3-Instruct SimPO AE2 LC
    written = [p.read_text() for p in Path(env).rglob("*.json")]
    assert written and not any("NEVER-WRITTEN" in t for t in written)
    cfg = compose("simpo", ov)
    assert (run_dir(cfg) / "annotations.json").exists()


def _real_papers():
    from replicate.core.config import papers

    return [p for p in papers() if compose(p, []).paper.get("real") is not None]


def test_every_real_paper_notebook_selects_its_cells(tmp_path):
    from replicate.cli.run import notebook_for, select_cells

    real = _real_papers()
    assert {
        "simpo",
        "instruct-skillmix",
        "adaptive-compute",
        "drift",
        "temporal-self-rewarding",
        "evolve",
        "par",
        "autorule",
    } <= set(real)
    for p in real:
        for is_real, kept, dropped in ((True, "real-model", "toy-world"), (False, "toy-world", "real-model")):
            nb = json.loads(select_cells(notebook_for(p), tmp_path / f"{p}.ipynb", real=is_real, paper=p).read_text())
            tags = [t for c in nb["cells"] for t in c["metadata"].get("tags", [])]
            assert kept in tags and dropped not in tags, p
    with pytest.raises(ConfigError, match="no real-model cells"):
        select_cells(notebook_for("sppo"), tmp_path / "sppo.ipynb", real=True, paper="sppo")


def test_sft_arms_and_best_of_n_on_a_local_model(env, local):
    from replicate import real
    from replicate.real.engines import generate
    from replicate.real.fit import train
    from replicate.real.judges import judge

    rows = [{"instruction": f"rev:ab{c}", "input": "", "output": f"{c}ba"} for c in "abcdefgh"]
    (local / "sft.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    common = [o for o in small_overrides(local, env) if not o.startswith("paper.")]
    cfg = compose(
        "instruct-skillmix",
        [*common, *[f"paper.real.methods.{m}.data={local / 'sft.jsonl'}" for m in ("ism", "ism_k1", "plain")]],
    )
    res = real.run(cfg, progress=False)
    assert set(res) == {"start", "ism", "ism_k1", "plain"} and len(res["ism"]["outputs"]) == 12
    assert [c["id"] for c in real.claims(res, cfg)] == ["PC", "C1", "C2"]
    cfg = compose("adaptive-compute", common)
    res = real.run(cfg, progress=False)
    xs, base = res["start"]["instructions"], res["start"]["baseline"]
    outs = generate(cfg, train(cfg, "best_of_4", {"kind": "best_of_n"}), xs, n=4, tag="best_of_4")
    each = np.array([judge(cfg, xs, [o[k] for o in outs], base, tag=f"best_of_4#{k}") for k in range(4)])
    assert np.allclose(res["best_of_4"]["preferences"], each.max(0))  # the judge's favourite of the 4 samples
    assert [res["best_of_4"]["outputs"][i] in outs[i] for i in range(len(xs))] == [True] * len(xs)


def test_paper_train_stage_launches_accelerate_with_zero3_once(env, monkeypatch):
    import subprocess

    from replicate.real import pipeline

    calls = []
    monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: calls.append(cmd))
    ov = ["scale=paper", "setup=simpo_llama3_instruct", "hardware=multi_gpu_zero3"]
    cfg = compose("simpo", ov)
    out = pipeline.train_stage(cfg, ov)
    assert calls[0][1:4] == ["launch", "--config_file", str(pipeline.ROOT / "conf/accelerate/zero3.yaml")]
    assert calls[0][-4:] == [*ov, f"+output_dir={out}"] and "replicate.real.launch" in calls[0]
    (out).mkdir(parents=True)
    (out / "config.json").write_text("{}")
    pipeline.train_stage(cfg, ov)  # trained already: resumes without launching again
    assert len(calls) == 1


def test_length_sorted_batches_return_each_answer_to_its_instruction(env, local):
    from omegaconf import OmegaConf

    from replicate.real.engines import generate_hf

    cfg = compose("simpo", small_overrides(local, env))
    s = OmegaConf.create({"temperature": 0.0, "top_p": 1.0, "max_new_tokens": 5, "batch_size": 3})
    tok = build_tokenizer()
    lm = build_tiny_llama(
        tok, hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64, max_positions=1024, seed=0
    )
    with torch.no_grad():  # special tokens never win: greedy then writes characters that depend on the prompt
        lm.get_output_embeddings().weight[[tok.convert_tokens_to_ids(t) for t in tok.all_special_tokens]] = 0
    lm.save_pretrained(env / "writer")
    tok.save_pretrained(env / "writer")
    xs = ["a much longer instruction than the others", "hi", "sort:cba", "rev:abc please", "x"]
    together = generate_hf(env / "writer", xs, s, 1, 0, cfg, False)
    alone = [generate_hf(env / "writer", [x], s, 1, 0, cfg, False)[0] for x in xs]  # greedy: batching must not matter
    assert len({a[0] for a in alone}) > 1  # the answers differ, so a mix-up would show
    assert together == alone
