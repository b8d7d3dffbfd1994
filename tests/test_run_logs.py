"""Toy trainers write their curves through TRL's ``report_to`` (TensorBoard under build/logs by default), and
logging changes no weight: a run trained with and without it ends bit-identical."""

import pytest
import torch
from datasets import Dataset

from replicate.core.config import compose
from replicate.models.lm import build_tiny_llama
from replicate.training import run_logs
from replicate.training.trl_hook import sft, train_preference
from replicate.worlds.tokenizer import build_tokenizer

WORDS = ("abc", "bcdefg", "cd", "defgh", "ghij", "xyz", "pqrs", "lmno")


def _model(tok):
    return build_tiny_llama(tok, hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64, seed=3)


def _pairs():
    return Dataset.from_dict(
        {
            "prompt": [[{"role": "user", "content": f"rev:{w}"}] for w in WORDS],
            "chosen": [[{"role": "assistant", "content": w[::-1]}] for w in WORDS],
            "rejected": [[{"role": "assistant", "content": w + " sure" * (i % 3 + 1)}] for i, w in enumerate(WORDS)],
        }
    )


def _sft_rows():
    return Dataset.from_dict(
        {
            "prompt": [[{"role": "user", "content": f"rev:{w}"}] for w in WORDS],
            "completion": [[{"role": "assistant", "content": w[::-1]}] for w in WORDS],
        }
    )


def _train(kind, out, hw):
    tok = build_tokenizer()
    if kind == "sft":
        model, hist = sft(_model(tok), tok, _sft_rows(), hw, seed=0, lr=3e-3, batch_size=4, steps=24, out=out)
    else:
        model, hist = train_preference(
            _model(tok), tok, _pairs(), hw, loss="dpo", loss_kwargs={"beta": 0.1}, seed=0, lr=1e-3, batch_size=4,
            max_steps=24, epochs=1, out=out,
        )  # fmt: skip
    return {k: v.detach().clone() for k, v in model.state_dict().items()}, hist


@pytest.mark.parametrize("kind", ["sft", "preference"])
def test_curves_go_to_tensorboard_and_change_no_weight(kind, tmp_path, monkeypatch):
    hw = compose("simpo", ["scale=ci"]).hardware
    monkeypatch.setenv("REPLICATE_BUILD_DIR", str(tmp_path / "build"))
    monkeypatch.setenv("REPLICATE_REPORT_TO", "none")
    quiet, quiet_hist = _train(kind, tmp_path / "a", hw)
    monkeypatch.setenv("REPLICATE_REPORT_TO", "tensorboard")
    logged, hist = _train(kind, tmp_path / ".0123456789abcdef0123.xyz", hw)  # as core.io.cached names a stage
    assert quiet.keys() == logged.keys()
    assert all(torch.equal(quiet[k], logged[k]) for k in quiet), "logging changed the trained weights"
    events = list((tmp_path / "build" / "logs" / "tensorboard").rglob("events.out.tfevents.*"))
    assert len(events) == 1 and events[0].parent.name == "0123456789abcdef"
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(events[0].parent))
    acc.Reload()
    loss = acc.Scalars("train/loss")
    assert [e.step for e in loss] == [10, 20]  # every LOGGING_STEPS steps of the 24
    assert sum("loss" in h for h in hist) == 2 and sum("loss" in h for h in quiet_hist) == 0


def test_run_names_and_targets(monkeypatch):
    assert run_logs.run_name("/c/simpo-run/.0123456789abcdef99.tmpx/trainer") == "simpo-run/0123456789abcdef"
    assert run_logs.run_name("/somewhere/job/trainer") == "job"
    monkeypatch.setenv("REPLICATE_REPORT_TO", "none")
    assert run_logs.report_args("/x/trainer") == {"report_to": [], "logging_steps": 10_000}
    monkeypatch.setenv("REPLICATE_REPORT_TO", "tensorbored")
    with pytest.raises(ValueError, match="REPLICATE_REPORT_TO='tensorbored'"):
        run_logs.report_args("/x/trainer")
