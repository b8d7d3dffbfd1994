"""The one TRL hook: same loss as TRL's own DPOTrainer on the same batch; no reference model for
reference-free losses; sequence log-probs computed as our evaluation code computes them."""
import copy

import pytest
import torch
from datasets import Dataset
from trl import DPOConfig, DPOTrainer

from replicate.metrics.evaluation import sequence_logps
from replicate.models.lm import build_tiny_llama
from replicate.worlds.tokenizer import build_tokenizer
from replicate.training.trl_hook import PreferenceTrainer


@pytest.fixture(scope="module")
def setup():
    tok = build_tokenizer()
    model = build_tiny_llama(tok, hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64, seed=3)
    words = ("abc", "bcdefg", "cd", "defgh")  # different prompt and response lengths: padding is exercised
    rows = {"prompt": [[{"role": "user", "content": f"rev:{w}"}] for w in words],
            "chosen": [[{"role": "assistant", "content": w[::-1]}] for w in words],
            "rejected": [[{"role": "assistant", "content": w + " sure" * (i + 1)}] for i, w in enumerate(words)]}
    return tok, model, Dataset.from_dict(rows)


def _args(tmp, **kw):
    return DPOConfig(output_dir=str(tmp), per_device_train_batch_size=4, max_steps=1, report_to=[], use_cpu=True,
                     bf16=False, gradient_checkpointing=False, save_strategy="no", disable_tqdm=True, **kw)


def test_hook_dpo_equals_trl_dpo_on_the_same_batch(setup, tmp_path):
    tok, model, ds = setup
    trl = DPOTrainer(model=copy.deepcopy(model), ref_model=copy.deepcopy(model),
                     args=_args(tmp_path, beta=0.1, precompute_ref_log_probs=False), train_dataset=ds, processing_class=tok)
    ours = PreferenceTrainer(model=copy.deepcopy(model), args=_args(tmp_path, beta=0.1, precompute_ref_log_probs=False),
                             train_dataset=ds, processing_class=tok, loss="dpo", loss_kwargs={"beta": 0.1})
    batch = next(iter(trl.get_train_dataloader()))
    # perturb the policy so the margin is not zero (identical policy and reference give exactly ln 2)
    with torch.no_grad():
        for t in (trl, ours):
            torch.manual_seed(0)
            for p in t.model.parameters():
                p.add_(0.05 * torch.randn_like(p))
    a = trl.compute_loss(trl.model, batch).item()
    b = ours.compute_loss(ours.model, batch).item()
    assert a == pytest.approx(b, abs=1e-6)
    assert abs(a - 0.6931) > 1e-4


def test_reference_free_losses_build_no_reference(setup, tmp_path):
    tok, model, ds = setup
    t = PreferenceTrainer(model=copy.deepcopy(model), args=_args(tmp_path, precompute_ref_log_probs=False),
                          train_dataset=ds, processing_class=tok, loss="simpo", loss_kwargs={"beta": 2.0, "gamma": 1.0})
    assert t.ref_model is None
    t.train()
    assert t.state.global_step == 1


def test_unknown_loss_is_rejected(setup, tmp_path):
    tok, model, ds = setup
    with pytest.raises(ValueError, match="unknown loss 'simpoo'"):
        PreferenceTrainer(model=model, args=_args(tmp_path), train_dataset=ds, processing_class=tok, loss="simpoo")


def test_trainer_and_evaluation_agree_on_sequence_logps(setup, tmp_path):
    tok, model, ds = setup
    t = PreferenceTrainer(model=copy.deepcopy(model), args=_args(tmp_path), train_dataset=ds, processing_class=tok,
                          loss="simpo", loss_kwargs={"beta": 2.0, "gamma": 1.0})
    batch = next(iter(t.get_train_dataloader()))
    with torch.no_grad():
        logps, lens = t.sequence_logps(t.model.eval(), batch)
    prompts = [m[0]["content"] for m in ds["prompt"]]
    n = len(prompts)
    for half, col in ((slice(0, n), "chosen"), (slice(n, 2 * n), "rejected")):
        responses = [m[0]["content"] for m in ds[col]]
        ev_lp, ev_len = sequence_logps(t.model, tok, prompts, responses)
        # the trainer's batch order may be shuffled: compare as sorted (length, logp) pairs
        got = sorted(zip(lens[half].tolist(), logps[half].tolist()))
        want = sorted(zip(ev_len.tolist(), ev_lp.tolist()))
        for (la, a), (lb, b) in zip(got, want):
            assert la == lb and a == pytest.approx(b, abs=1e-4)
        # |y| counts the response's characters plus the end-of-turn token
        assert sorted(ev_len.tolist()) == sorted(len(r) + 1.0 for r in responses)


def test_sequence_logps_same_with_left_or_right_padding(setup):
    tok, model, _ = setup
    prompts, responses = ["rev:abc", "sort:dcbaef"], ["cba", "abcdef sure"]
    left = sequence_logps(model, tok, prompts, responses)
    tok.padding_side = "right"
    try:
        right = sequence_logps(model, tok, prompts, responses)
    finally:
        tok.padding_side = "left"
    assert (left[1] == right[1]).all() and abs(left[0] - right[0]).max() < 1e-4
