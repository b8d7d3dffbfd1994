"""The one TRL hook: same loss as TRL's own DPOTrainer on the same batch; no reference model for
reference-free losses; sequence log-probs computed as our evaluation code computes them."""

import copy

import pytest
import torch
from datasets import Dataset
from trl import DPOConfig, DPOTrainer

from replicate.metrics.evaluation import sequence_logps
from replicate.models.lm import build_tiny_llama
from replicate.training.trl_hook import PreferenceTrainer
from replicate.training.trl_internals import without_identity_indices as _without_identity_indices
from replicate.worlds.tokenizer import build_tokenizer


@pytest.fixture(scope="module")
def setup():
    tok = build_tokenizer()
    model = build_tiny_llama(tok, hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64, seed=3)
    words = ("abc", "bcdefg", "cd", "defgh")  # different prompt and response lengths: padding is exercised
    rows = {
        "prompt": [[{"role": "user", "content": f"rev:{w}"}] for w in words],
        "chosen": [[{"role": "assistant", "content": w[::-1]}] for w in words],
        "rejected": [[{"role": "assistant", "content": w + " sure" * (i + 1)}] for i, w in enumerate(words)],
    }
    return tok, model, Dataset.from_dict(rows)


def _args(tmp, **kw):
    kw.setdefault("per_device_train_batch_size", 4)
    return DPOConfig(
        output_dir=str(tmp),
        max_steps=1,
        report_to=[],
        use_cpu=True,
        bf16=False,
        gradient_checkpointing=False,
        save_strategy="no",
        disable_tqdm=True,
        **kw,
    )


def test_hook_dpo_equals_trl_dpo_on_the_same_batch(setup, tmp_path):
    tok, model, ds = setup
    trl = DPOTrainer(
        model=copy.deepcopy(model),
        ref_model=copy.deepcopy(model),
        args=_args(tmp_path, beta=0.1, precompute_ref_log_probs=False),
        train_dataset=ds,
        processing_class=tok,
    )
    ours = PreferenceTrainer(
        model=copy.deepcopy(model),
        args=_args(tmp_path, beta=0.1, precompute_ref_log_probs=False),
        train_dataset=ds,
        processing_class=tok,
        loss="dpo",
        loss_kwargs={"beta": 0.1},
    )
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
    t = PreferenceTrainer(
        model=copy.deepcopy(model),
        args=_args(tmp_path, precompute_ref_log_probs=False),
        train_dataset=ds,
        processing_class=tok,
        loss="simpo",
        loss_kwargs={"beta": 2.0, "gamma": 1.0},
    )
    assert t.ref_model is None
    t.train()
    assert t.state.global_step == 1


def test_unknown_loss_is_rejected(setup, tmp_path):
    tok, model, ds = setup
    with pytest.raises(ValueError, match="unknown loss 'simpoo'"):
        PreferenceTrainer(model=model, args=_args(tmp_path), train_dataset=ds, processing_class=tok, loss="simpoo")


def test_trainer_and_evaluation_agree_on_sequence_logps(setup, tmp_path):
    tok, model, ds = setup
    t = PreferenceTrainer(
        model=copy.deepcopy(model),
        args=_args(tmp_path),
        train_dataset=ds,
        processing_class=tok,
        loss="simpo",
        loss_kwargs={"beta": 2.0, "gamma": 1.0},
    )
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


def test_length_groups_partition_the_rows_by_length():
    from replicate.training.trl_hook import length_groups

    lengths = torch.tensor([5, 9, 1, 7, 3, 8, 2, 6] * 8)  # 64 rows: 4 groups of 16
    groups = length_groups(lengths)
    assert [len(g) for g in groups] == [16] * 4
    assert sorted(torch.cat(groups).tolist()) == list(range(64))  # every row once
    assert all(lengths[a].max() <= lengths[b].min() for a, b in zip(groups, groups[1:]))  # sorted, contiguous
    assert len(length_groups(lengths[:20])) == 1  # too few rows to split: one group, as TRL runs it


def test_grouped_forward_gives_the_ungrouped_log_probs_and_gradients(setup, tmp_path):
    import replicate.training.trl_hook as H

    tok, model, _ = setup
    words = [("abcdefghij"[: 1 + i % 9]) for i in range(40)]  # 40 pairs: 80 rows of many lengths, 4 groups
    ds = Dataset.from_dict(
        {
            "prompt": [[{"role": "user", "content": f"rev:{w}"}] for w in words],
            "chosen": [[{"role": "assistant", "content": w[::-1]}] for w in words],
            "rejected": [[{"role": "assistant", "content": w + " ok" * (len(w) % 3)}] for w in words],
        }
    )
    t = PreferenceTrainer(
        model=copy.deepcopy(model),
        args=_args(tmp_path, per_device_train_batch_size=40),
        train_dataset=ds,
        processing_class=tok,
        loss="simpo",
        loss_kwargs={"beta": 2.0, "gamma": 1.0},
    )
    batch = next(iter(t.get_train_dataloader()))
    assert len(H.length_groups(batch["attention_mask"].sum(1))) == 4
    out = {}
    for rows in (H.ROWS_PER_GROUP, 10_000):  # grouped, then one group (TRL's own layout)
        H.ROWS_PER_GROUP = rows
        try:
            t.model.zero_grad()
            lp, n = t.sequence_logps(t.model, batch)
            (lp / n).sum().backward()
            out[rows] = (lp.detach(), n, [p.grad.clone() for p in t.model.parameters()])
        finally:
            H.ROWS_PER_GROUP = 16
    (a, na, ga), (b, nb, gb) = out.values()
    assert torch.equal(na, nb) and torch.allclose(a, b, atol=1e-5)
    assert all(torch.allclose(x, y, atol=1e-6, rtol=1e-4) for x, y in zip(ga, gb))


def test_runs_on_the_same_pairs_share_one_reference_pass(setup, tmp_path, monkeypatch):
    """TRL's cache key changes with every config (its max-length filter closes over it); ours follows the data and the
    reference model only, so DPO and IPO with other learning rates reuse the first run's reference log-probs."""
    tok, model, ds = setup
    ds.save_to_disk(str(tmp_path / "ds"))
    from datasets import load_from_disk

    calls = []
    orig = PreferenceTrainer.compute_ref_log_probs
    monkeypatch.setattr(
        PreferenceTrainer, "compute_ref_log_probs", lambda self, m, b: calls.append(1) or orig(self, m, b)
    )

    def ref(loss, lr, out, start=model):
        t = PreferenceTrainer(
            model=copy.deepcopy(start),
            args=_args(tmp_path / out, learning_rate=lr, precompute_ref_log_probs=True),
            train_dataset=load_from_disk(str(tmp_path / "ds")),
            processing_class=tok,
            loss=loss,
            loss_kwargs={"beta": 0.1},
        )
        return list(t.train_dataset["ref_chosen_logps"])

    first = ref("dpo", 1e-4, "a")
    assert len(calls) == 1
    assert ref("ipo", 3e-4, "b") == first and len(calls) == 1  # same pairs, same reference: read back
    other = copy.deepcopy(model)
    with torch.no_grad():
        next(other.parameters()).add_(0.1)
    assert ref("dpo", 1e-4, "c", start=other) != first and len(calls) == 2  # another reference: computed anew


def test_small_vocab_log_softmax_gives_trls_fused_head_log_probs_and_gradients(setup, tmp_path):
    """Below SMALL_VOCAB the hook scores tokens with a plain log-softmax instead of TRL's chunked LM head: same
    log-probs and gradients (to float rounding), for the policy and for the reference pass."""
    import replicate.training.trl_hook as H

    tok, model, ds = setup
    t = PreferenceTrainer(
        model=copy.deepcopy(model),
        args=_args(tmp_path, precompute_ref_log_probs=False),
        train_dataset=ds,
        processing_class=tok,
        loss="dpo",
        loss_kwargs={"beta": 0.1},
    )
    batch = next(iter(t.get_train_dataloader()))
    with torch.no_grad():
        torch.manual_seed(1)
        for p in t.model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    assert H.small_vocab(t.model)
    out = {}
    for limit in (H.SMALL_VOCAB, 0):  # plain log-softmax, then TRL's fused head
        H.SMALL_VOCAB = limit
        try:
            t.model.zero_grad()
            lp, n = t.sequence_logps(t.model, batch)
            (lp / n).sum().backward()
            ref = torch.cat(t.compute_ref_log_probs(t.ref_model, batch))
            out[limit] = (lp.detach(), n, [p.grad.clone() for p in t.model.parameters()], ref)
        finally:
            H.SMALL_VOCAB = 8192
    (a, na, ga, ra), (b, nb, gb, rb) = out.values()
    assert torch.equal(na, nb) and torch.allclose(a, b, atol=1e-5) and torch.allclose(ra, rb, atol=1e-5)
    assert not torch.allclose(a, ra, atol=1e-3)  # the perturbed policy is not its reference
    assert all(torch.allclose(x, y, atol=1e-6, rtol=1e-4) for x, y in zip(ga, gb))


def test_a_filter_that_keeps_every_row_leaves_no_indices_mapping(setup, tmp_path):
    """TRL's max-length filter keeps all rows of short data; the no-op mapping it leaves is dropped (so adding the
    reference log-probs does not rewrite the dataset), and a filter that drops rows keeps its mapping."""
    tok, model, ds = setup
    t = PreferenceTrainer(
        model=copy.deepcopy(model),
        args=_args(tmp_path, precompute_ref_log_probs=True),
        train_dataset=ds,
        processing_class=tok,
        loss="dpo",
        loss_kwargs={"beta": 0.1},
    )
    assert t.train_dataset._indices is None
    trl = DPOTrainer(
        model=copy.deepcopy(model),
        ref_model=copy.deepcopy(model),
        args=_args(tmp_path, precompute_ref_log_probs=False),
        train_dataset=ds,
        processing_class=tok,
    )
    assert trl.train_dataset._indices is not None  # what TRL leaves: the filter's mapping
    assert t.train_dataset["chosen_ids"] == trl.train_dataset["chosen_ids"]
    assert t.train_dataset["prompt_ids"] == trl.train_dataset["prompt_ids"]
    kept_all, dropped = ds.filter(lambda r: True), ds.filter(lambda r, i: i != 1, with_indices=True)
    assert kept_all._indices is not None and _without_identity_indices(kept_all)._indices is None
    assert _without_identity_indices(kept_all)[:] == ds[:]
    assert _without_identity_indices(dropped) is dropped and dropped[:] == ds.select([0, 2, 3])[:]
