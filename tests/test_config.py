"""Bad input fails before compute, with a clear message and a non-zero exit."""

import subprocess
import sys

import pytest

from replicate.core.config import ConfigError, compose, derive_grad_accum


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "replicate", *args], capture_output=True, text=True, timeout=120)


def test_unknown_paper():
    with pytest.raises(ConfigError, match="unknown paper 'simpoo'.*simpo"):
        compose("simpoo")


def test_invalid_override_key():
    with pytest.raises(ConfigError, match="invalid override"):
        compose("simpo", ["scale.no_such_key=3"])


def test_invalid_group_option():
    with pytest.raises(ConfigError, match="scale='huge' is not an option.*ci, paper, small, tiny"):
        compose("simpo", ["scale=huge"])


def test_malformed_override():
    with pytest.raises(ConfigError, match="key=value"):
        compose("simpo", ["scale"])


def test_paper_scale_needs_gpu(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.delenv("REPLICATE_ASSUME_GPU", raising=False)
    with pytest.raises(ConfigError, match="needs a CUDA GPU"):
        compose("simpo", ["scale=paper", "hardware=multi_gpu_zero3", "setup=simpo_llama3_instruct"])


def test_grad_accum_divides_or_fails():
    assert derive_grad_accum(128, 2, 4) == 16  # SimPO training_configs: 2 × 16 × 4 = 128
    with pytest.raises(ConfigError, match="not divisible"):
        derive_grad_accum(128, 3, 4)


def test_cli_errors_exit_nonzero_before_compute():
    """The command as a user runs it (a process): one line on stderr, exit code 2, no traceback."""
    r = run_cli("run", "nope")
    assert r.returncode == 2, r.stderr
    assert "unknown paper" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize(
    "args, msg",
    [
        (("run", "simpo", "scale=huge"), "not an option"),
        (("run", "simpo", "paper.methods.simpo.hparams.betaa=2"), "invalid override"),
        (("run", "simpo", "scale=null"), "cannot be null"),
        (("run", "simpo", "scale=paper", "hardware=multi_gpu_zero3"), "needs a CUDA GPU"),
    ],
)
def test_cli_errors_before_compute(args, msg, capsys, monkeypatch):
    """The same entry point in this process (the process boundary is tested once, above)."""
    import torch

    from replicate.cli.main import main

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.delenv("REPLICATE_ASSUME_GPU", raising=False)
    assert main(list(args)) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and msg in err and len(err.strip().splitlines()) == 1


def test_defaults_compose_with_sources():
    cfg = compose("simpo")
    assert cfg.scale.name == "tiny" and cfg.paper.name == "simpo"
    assert set(cfg.paper.methods) >= {"sft", "dpo", "ipo", "cpo", "kto", "orpo", "rdpo", "simpo", "slic_hf"}
