"""Fine-tuning a real model through TRL — SFT, or any registered preference loss through the one
``PreferenceTrainer`` hook — LoRA (PEFT) or full per ``scale.finetune``, and the cached ``train`` stage of a
``paper.real.methods`` entry (kinds ``iterative`` and ``grpo`` train in their own modules).

Precision: LoRA trains fp32 adapters on a bf16 base (PEFT keeps adapter weights in fp32). Full fine-tuning loads the
weights in fp32 and runs the forward in bf16 autocast (``hardware.bf16``): mixed precision with fp32 master
weights. Loading them in bf16 instead would make AdamW's updates at the papers' learning rates (3e-7 to 1e-6) smaller
than bf16's resolution (2⁻⁸ relative) for most weights, so they would round away and training would do nothing.

Batch geometry: ``scale.finetune.global_batch_size`` is the configured one; gradient accumulation is derived from it,
the per-device batch and the number of devices (:func:`geometry`), and must divide evenly.
"""

from __future__ import annotations

from pathlib import Path

import torch

from ..core.config import derive_grad_accum, to_dict
from ..core.io import atomic_write_json, cached
from . import engines, scorers
from .data import load_rows
from .keys import id_key, stage_key
from .logs import trainer_logs
from .methods import PLUGINS, plugin
from .policy import load_policy, lora


def geometry(cfg) -> dict:
    """Global batch = per-device batch × devices × accumulation, the accumulation derived (``ConfigError`` if the
    global batch does not divide)."""
    ft, devices = cfg.scale.finetune, int(cfg.hardware.get("num_devices", 1) or 1)
    accum = derive_grad_accum(int(ft.global_batch_size), int(ft.batch_size), devices)
    out = {"global_batch_size": int(ft.global_batch_size), "per_device": int(ft.batch_size), "devices": devices}
    return out | {"grad_accum": accum, "effective": int(ft.batch_size) * devices * accum}


def train(cfg, name: str, method: dict, progress: bool = False) -> Path:
    """The model directory of one ``paper.real.methods`` entry (the start model itself for ``start``/``best_of_n``)."""
    if method["kind"] in ("start", "best_of_n"):
        return Path(cfg.model.name_or_path)
    if method["kind"] in PLUGINS:
        return plugin(method["kind"]).train(cfg, name, method, progress=progress)
    ft = cfg.scale.finetune
    key = stage_key(
        cfg, "train", {k: v for k, v in method.items() if k != "label"}, to_dict(ft), id_key(method["data"])
    )

    def compute(tmp: Path):
        n = int(method.get("max_rows") or int(ft.steps) * geometry(cfg)["effective"])  # max_rows: equal-size arms
        data = load_rows(
            method["data"],
            method.get("split", "train"),
            n,
            int(cfg.seed),
            method["kind"],
            method.get("subset"),
            method.get("data_files"),
        )
        fit(cfg, cfg.model.name_or_path, data, method, tmp)

    return cached("real-train", key, compute) / "model"


def fit(cfg, start, data, method: dict, tmp: Path) -> Path:
    """Fine-tune ``start`` (Hub id or dir) on TRL-format ``data`` — SFT for kind ``sft``, else ``method["loss"]``
    through the one preference hook with ``start`` as the reference — LoRA or full per ``scale.finetune``; saves a
    plain (merged) checkpoint to ``tmp/model`` and the trainer's log to ``tmp/history.json``."""
    from trl import DPOConfig, SFTConfig, SFTTrainer

    from ..training.trl_hook import PreferenceTrainer, common_args, log_history

    ft = cfg.scale.finetune
    engines.release()  # one GPU: no generation engine or policy-as-judge may hold memory while a policy trains
    scorers.forget("policy")
    g = geometry(cfg)
    model, tok = load_policy(start, cfg, master=ft.mode == "full")
    if ft.mode == "lora":
        model = lora(cfg, model)
        if cfg.hardware.get("gradient_checkpointing"):
            model.enable_input_require_grads()  # checkpointed blocks need a grad-requiring input when the base is frozen
    lr = float(method["lr"]) * (float(ft.lr_scale) if ft.mode == "lora" else 1.0)
    common = common_args(
        cfg.hardware,
        seed=int(cfg.seed),
        lr=lr,
        batch_size=int(ft.batch_size),
        output_dir=str(tmp / "trainer"),
        max_steps=int(ft.steps),
        epochs=1,
        warmup=0.1,
    )
    common["gradient_accumulation_steps"] = g["grad_accum"]
    common |= trainer_logs(cfg, tmp)
    if method["kind"] == "sft":
        trainer = SFTTrainer(
            model=model,
            args=SFTConfig(**common, max_length=int(ft.max_length)),
            train_dataset=data,
            processing_class=tok,
        )
    else:
        kw = {k: float(method[k]) for k in ("beta", "gamma") if k in method}
        trainer = PreferenceTrainer(
            model=model,
            args=DPOConfig(
                **common, max_length=int(ft.max_length), beta=kw.get("beta", 0.1), precompute_ref_log_probs=True
            ),
            train_dataset=data,
            processing_class=tok,
            loss=method["loss"],
            loss_kwargs=kw,
        )
    trainer.train()
    out = trainer.model
    if ft.mode == "lora":
        out = out.merge_and_unload()  # a plain checkpoint: vLLM and from_pretrained load it as they load the start
    out.save_pretrained(tmp / "model")  # full: the fp32 master weights, so no update is rounded away on saving
    tok.save_pretrained(tmp / "model")
    atomic_write_json(tmp / "history.json", log_history(trainer))
    atomic_write_json(tmp / "geometry.json", g)
    del trainer, model, out
    free()
    return tmp / "model"


def free() -> None:
    """Return the CUDA memory of a finished trainer (its references dropped) before the next stage starts."""
    import gc

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
