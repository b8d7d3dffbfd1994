"""The small/paper-scale code path (load by name with from_pretrained, chat template, derived grad
accumulation, the same trainer hook), exercised offline on a locally saved tiny checkpoint."""

import pytest
from datasets import Dataset

from replicate.core.config import ConfigError, compose
from replicate.models.lm import build_tiny_llama, load_pretrained
from replicate.worlds.tokenizer import build_tokenizer


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    d = tmp_path_factory.mktemp("ckpt")
    tok = build_tokenizer()
    build_tiny_llama(tok, hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64).save_pretrained(d)
    tok.save_pretrained(d)
    data = tmp_path_factory.mktemp("data")
    rows = {
        "prompt": [[{"role": "user", "content": f"rev:ab{c}"}] for c in "abcdefgh"],
        "chosen": [[{"role": "assistant", "content": f"{c}ba"}] for c in "abcdefgh"],
        "rejected": [[{"role": "assistant", "content": f"{c}ba sure sure"}] for c in "abcdefgh"],
    }
    Dataset.from_dict(rows).save_to_disk(str(data))
    return d, data


def test_from_pretrained_roundtrip_keeps_chat_template(checkpoint):
    model, tok = load_pretrained(checkpoint[0])
    ids = tok.apply_chat_template([{"role": "user", "content": "rev:ab"}], add_generation_prompt=True)["input_ids"]
    assert ids.count(tok.bos_token_id) == 1
    assert model.config.model_type == "llama"


def test_hub_id_offline_gives_clear_error(monkeypatch):
    import huggingface_hub.constants as hc

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hc, "HF_HUB_OFFLINE", True)  # the env var is read at import time
    with pytest.raises(OSError, match="Hugging Face Hub is unreachable"):
        load_pretrained("princeton-nlp/Llama-3-Base-8B-SFT")


def test_paper_setup_trains_through_the_same_hook(checkpoint, tmp_path):
    from replicate.real.launch import build_trainer

    ckpt, data = checkpoint
    cfg = compose(
        "simpo",
        [
            "scale=paper",
            "setup=simpo_llama3_base",
            "hardware=cpu",
            f"setup.model={ckpt}",
            f"setup.dataset={data}",
            "setup.global_batch_size=4",
            "setup.per_device_batch_size=2",
        ],
        check_hardware=False,
    )
    assert cfg.setup.beta == 2.0 and cfg.setup.gamma == 1.0 and cfg.setup.lr == 6e-7  # SimPO README, Llama3-Base
    trainer, accum = build_trainer(cfg, output_dir=str(tmp_path), max_steps=1)
    assert accum == 2 and trainer.args.gradient_accumulation_steps == 2
    assert trainer.ref_model is None  # reference-free: no reference model is built
    trainer.train()
    assert trainer.state.global_step == 1


def test_paper_global_batch_must_divide():
    with pytest.raises(ConfigError, match="not divisible"):
        compose(
            "simpo",
            ["scale=paper", "setup=simpo_gemma2_9b_it", "hardware=multi_gpu_zero3", "setup.per_device_batch_size=3"],
            check_hardware=False,
        )


def test_setup_only_at_paper_scale():
    with pytest.raises(ConfigError, match="only applies at scale=paper"):
        compose("simpo", ["setup=simpo_gemma2_9b_it"])


def test_six_paper_setups_with_global_batch_128():
    for s in (
        "mistral_base",
        "mistral_instruct",
        "llama3_base",
        "llama3_instruct",
        "llama3_instruct_v02",
        "gemma2_9b_it",
    ):
        cfg = compose("simpo", ["scale=paper", f"setup=simpo_{s}", "hardware=multi_gpu_zero3"], check_hardware=False)
        assert cfg.setup.global_batch_size == 128
        assert cfg.setup.gamma == pytest.approx(cfg.setup.beta * cfg.setup.gamma_beta_ratio)


def test_paper_loader_converts_ultrafeedback_rows_through_trls_preparation(checkpoint, tmp_path):
    """Rows in UltraFeedback-binarized's published schema (prompt a string; chosen and rejected whole conversations
    repeating the user turn): TRL's own preparation tokenizes the prompt once and the answers alone."""
    from replicate.real.launch import build_trainer

    conv = lambda c, y: [{"role": "user", "content": f"rev:ab{c}"}, {"role": "assistant", "content": y}]
    rows = [
        {"prompt": f"rev:ab{c}", "prompt_id": f"{i:064x}", "chosen": conv(c, f"{c}ba"), "rejected": conv(c, "xx")}
        | {"messages": conv(c, f"{c}ba"), "score_chosen": 8.0, "score_rejected": 3.0}
        for i, c in enumerate("abcd")
    ]
    Dataset.from_list(rows).save_to_disk(str(tmp_path / "uf"))
    ov = ["scale=paper", "setup=simpo_llama3_base", "hardware=cpu", f"setup.model={checkpoint[0]}"]
    ov += [f"setup.dataset={tmp_path / 'uf'}", "setup.global_batch_size=2", "setup.per_device_batch_size=2"]
    trainer, _ = build_trainer(compose("simpo", ov, check_hardware=False), output_dir=str(tmp_path / "o"), max_steps=1)
    tok = trainer.processing_class
    row = trainer.train_dataset[0]
    prompt, chosen = tok.decode(row["prompt_ids"]), tok.decode(row["chosen_ids"])
    assert (
        prompt.count("rev:ab") == 1
        and "rev:ab" not in chosen
        and chosen.startswith(rows[0]["chosen"][1]["content"][:1])
    )
