"""Typed configs (core/schema.py): a wrong type, a value out of range or an unknown key is one line naming the key
and what is allowed, exit 2, before any compute; every committed config passes the schema."""

import os
import subprocess
import sys
import typing

import pytest

from replicate.core import schema
from replicate.core.config import ConfigError, compose, group_options, papers


def run_cli(*args, tmp_path):
    env_build = {"REPLICATE_BUILD_DIR": str(tmp_path / "build")}
    return subprocess.run(
        [sys.executable, "-m", "replicate", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env_build},
    )


@pytest.mark.parametrize(
    "override, message",
    [
        ("scale.n_seeds=0", "scale.n_seeds=0: out of range; allowed: an integer ≥ 1"),
        ("judge.length_bias=abc", "judge.length_bias='abc': wrong type; allowed: a number"),
        ("seed=-1", "seed=-1: out of range; allowed: an integer ≥ 0"),
        ("+scale.n_seedz=3", "scale.n_seedz: no such key; allowed keys of scale: name, requires_gpu, world, n_seeds"),
        ("paper.gamma_sweep=3", "paper.gamma_sweep=3: wrong type; allowed: a list"),
    ],
)
def test_bad_values_stop_the_command_with_one_line_and_exit_2(override, message, tmp_path):
    r = run_cli("run", "simpo", override, tmp_path=tmp_path)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], r.stderr
    assert not (tmp_path / "build" / "notebooks").exists()  # the notebook never started


@pytest.mark.parametrize(
    "override, key",
    [
        ("scale.sample.top_p=1.5", "scale.sample.top_p"),
        ("scale.world.n_eval=2.5", "scale.world.n_eval"),
        ("hardware.workers=two", "hardware.workers"),
        ("hardware.torch_threads=0", "hardware.torch_threads"),
        ("model.num_heads=0", "model.num_heads"),
        ("toy_world.demonstrator.p_correct=1.5", "toy_world.demonstrator.p_correct"),
        ("judge.noise=-0.1", "judge.noise"),
        ("scale.pref.epochs=0", "scale.pref.epochs"),
        ("paper.eval.temperature=hot", "paper.eval.temperature"),
        ("paper.pairs.base_rejected=3", "paper.pairs.base_rejected"),
    ],
)
def test_each_group_checks_type_and_range(override, key):
    with pytest.raises(ConfigError, match=f"^{key.replace('.', '[.]')}"):
        compose("simpo", [override])


def test_values_of_the_right_type_pass():
    cfg = compose("simpo", ["scale.n_seeds=1", "judge.length_bias=0", "seed=0", "scale.pref.max_steps=null"])
    assert cfg.scale.n_seeds == 1 and cfg.judge.length_bias == 0 and cfg.seed == 0
    compose("simpo", ["paper.tuned.base.simpo.beta=3.0", "paper.settings=[base]"])  # README examples
    compose("drift", ["paper.rounds.ci=3"])  # a per-scale setting keeps its type
    # an optional setting a paper reads with a default is added on purpose with +
    compose("evolve", ["++paper.real.methods.evolve.sample.max_new_tokens=6"])


@pytest.mark.parametrize("paper", papers())
def test_every_committed_config_fits_the_schema(paper, monkeypatch):
    for scale in ("ci", "tiny"):
        compose(paper, [f"scale={scale}"])
    monkeypatch.setenv("REPLICATE_ASSUME_GPU", "1")
    compose(paper, ["scale=small"])


@pytest.mark.parametrize("group", ["model", "judge", "hardware"])
def test_every_group_option_fits_the_schema(group, monkeypatch):
    monkeypatch.setenv("REPLICATE_ASSUME_GPU", "1")
    for option in group_options(group):
        compose("simpo", [f"{group}={option}"])
    compose("simpo", ["scale=paper", "hardware=multi_gpu_zero3", "setup=simpo_llama3_instruct"])


def test_a_model_or_judge_is_told_apart_by_its_kind():
    model = typing.get_type_hints(schema.Root)["model"]
    with pytest.raises(schema.SchemaError, match="model: 'gpt' is not a known kind; allowed: tiny_llama, pretrained"):
        schema._check({"kind": "gpt"}, model, "model")
