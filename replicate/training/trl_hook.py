"""Training: SFT through TRL's SFTTrainer, and every preference loss through ONE hook into DPOTrainer.

The hook (``PreferenceTrainer``) subclasses TRL's DPOTrainer and replaces only ``compute_loss``:
TRL still does tokenization with the chat template, batching of [chosen; rejected], the
optimizer, schedule, accelerate/DeepSpeed and logging. Our part is one forward pass and a call to
a pure loss from ``replicate.losses``. Reference-free losses (SimPO, CPO, ORPO, SLiC-HF, RRHF)
never build or run a reference model — that is where SimPO's time and memory savings come from.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import torch
from datasets import Dataset
from datasets.fingerprint import Hasher
from trl import DPOConfig, DPOTrainer, SFTConfig, SFTTrainer

from ..losses import LOSSES
from .run_logs import report_args, without_printer
from .trl_internals import DPOInternals, check_trl_version, log_metric


def quiet_libraries() -> None:
    """Before a trainer is built: TRL's and datasets' per-run progress bars off, one known deprecation warning
    filtered (each run would print them; the runner's log keeps what is left). Process-wide, so called by the
    functions that train, not at import."""
    import datasets

    warnings.filterwarnings("ignore", message=".*gradient_checkpointing.*deprecated.*")
    os.environ.setdefault("TQDM_DISABLE", "1")  # TRL's per-run bars; our own bars pass disable= explicitly
    datasets.disable_progress_bars()  # one tokenization bar per run would drown the notebook
    check_trl_version()


_NON_MODEL_KEYS = {"completion_mask", "ref_chosen_logps", "ref_rejected_logps"}
ROWS_PER_GROUP = 16  # a [chosen; rejected] batch is run as groups of ≥ 16 rows of similar length, at most 4
# At or below this vocabulary size the full [rows, tokens, vocab] logits are cheap, and a plain log-softmax beats
# TRL's chunked LM-head kernel, whose CPU fallback scores every position in Python-driven tiles and recomputes them
# in backward (29 % of a tiny-world step, measured with torch.profiler; docs/power.md §4). Above it (real models,
# 32k–256k tokens) the chunked kernel is what keeps the logits out of memory, and it is used as TRL uses it.
SMALL_VOCAB = 8192


def length_groups(lengths: torch.Tensor, max_groups: int = 4, min_rows: int | None = None) -> list[torch.Tensor]:
    """Row indices of a right-padded batch in groups of similar length (sorted, contiguous, near-equal sizes).

    Each group is run trimmed to its own longest row, so the padding computed shrinks (tiny world: 63 % of a
    batch's tokens are real, 88 % with 4 groups) while the batch, and so the update, stays the same: which
    pairs make an update is unchanged, unlike length-grouped *batches*, which would tie each update to
    response length. The log-probs are equal up to float rounding (tests/test_train_hook.py).
    """
    k = max(1, min(max_groups, len(lengths) // (min_rows or ROWS_PER_GROUP)))
    return list(torch.argsort(lengths, stable=True).chunk(k))


def common_args(
    hw,
    *,
    seed: int,
    lr: float,
    batch_size: int,
    output_dir: str,
    max_steps: int | None,
    epochs: float,
    warmup: float,
    scheduler: str = "cosine",
) -> dict:
    """TrainingArguments shared by SFT and preference runs (TRL on CPU: bf16 and checkpointing off)."""
    return dict(
        output_dir=output_dir,
        learning_rate=lr,
        per_device_train_batch_size=batch_size,
        num_train_epochs=epochs,
        max_steps=max_steps if max_steps else -1,
        lr_scheduler_type=scheduler,
        warmup_steps=warmup,
        save_strategy="no",
        **report_args(output_dir),  # curves to TensorBoard under build/logs (training/run_logs.py); never the outputs
        seed=seed,
        data_seed=seed,
        bf16=bool(hw.bf16),
        gradient_checkpointing=bool(hw.gradient_checkpointing),
        use_cpu=not torch.cuda.is_available(),
        dataloader_num_workers=0,
        disable_tqdm=True,
    )


def sft(model, tokenizer, dataset: Dataset, hw, *, seed: int, lr: float, batch_size: int, steps: int, out: Path):
    """Supervised fine-tuning on completions only (TRL SFTTrainer, prompt–completion format)."""
    quiet_libraries()
    args = SFTConfig(
        **common_args(
            hw,
            seed=seed,
            lr=lr,
            batch_size=batch_size,
            output_dir=str(out / "trainer"),
            max_steps=steps,
            epochs=1,
            warmup=0.05,
        ),
        max_length=tokenizer.model_max_length,
    )
    trainer = without_printer(SFTTrainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer))
    trainer.train()
    return trainer.model, log_history(trainer)


class PreferenceTrainer(DPOInternals, DPOTrainer):
    """DPOTrainer with the loss swapped for any registered pure loss (the one hook). The two private DPOTrainer
    methods it changes are in ``trl_internals.DPOInternals``; here is what they ask of it."""

    def __init__(self, *args, loss: str, loss_kwargs: dict | None = None, **kwargs):
        quiet_libraries()
        if loss not in LOSSES:
            raise ValueError(f"unknown loss {loss!r}; registered: {sorted(LOSSES)}")
        self.loss_spec = LOSSES[loss]
        self.loss_name = loss
        self.loss_kwargs = dict(loss_kwargs or {})
        cfg = kwargs.get("args")
        model = kwargs.get("model", args[0] if args else None)
        if (
            self.loss_spec.needs_reference
            and cfg is not None
            and not cfg.precompute_ref_log_probs
            and kwargs.get("ref_model") is None
            and not isinstance(model, str)
            and not hasattr(model, "peft_config")
        ):
            # DPOTrainer would reload the reference from the model's Hub id, which a model built in
            # memory (the tiny scale) does not have: freeze a copy of the starting policy instead.
            import copy

            kwargs["ref_model"] = copy.deepcopy(model).eval()
        if cfg is not None and not self.loss_spec.needs_reference:
            # With precompute on and no ref_model, DPOTrainer builds no reference; our
            # DPOInternals._precompute_ref_logps (trl_internals) then skips the reference pass entirely.
            cfg.precompute_ref_log_probs = True
        super().__init__(*args, **kwargs)

    def needs_reference_pass(self) -> bool:
        return self.loss_spec.needs_reference

    def reference_fingerprint(self, dataset, batch_size: int, model_hash) -> str:
        """What determines the reference pass over ``dataset`` (TRL caches it under the dataset's fingerprint, which
        after its own max-length filter, a lambda closing over the whole config, differs from run to run): so runs on
        the same pairs from the same start share it."""
        a = self.args
        cols = [c for c in ("prompt_ids", "chosen_ids", "rejected_ids") if c in dataset.column_names]
        return Hasher.hash(
            (
                token_ids_hash(dataset, cols),
                model_hash,
                batch_size,
                a.max_length,
                a.truncation_mode,
                a.pad_to_multiple_of,
                getattr(a, "padding_free", None),
                small_vocab(self.ref_model or self.model),
            )
        )

    def sequence_logps(self, model, inputs):
        """Summed response-token log-probs and response lengths of the [chosen; rejected] batch, the rows run in
        :func:`length_groups` (rows are right-padded: trimming a group's trailing columns changes no row)."""
        mask = inputs["completion_mask"]
        model_kwargs = {k: v for k, v in inputs.items() if k not in _NON_MODEL_KEYS | set(self.loss_spec.inputs)}
        groups = None  # other per-row inputs, or left padding: one forward, as TRL runs it
        if set(model_kwargs) == {"input_ids", "attention_mask"} and bool((inputs["attention_mask"][:, 0] == 1).all()):
            groups = length_groups(inputs["attention_mask"].sum(1))
        if groups is None or len(groups) == 1:
            return self._logps(model, model_kwargs, mask)
        logps, lengths = zip(
            *(
                self._logps(model, {k: v[idx, :L] for k, v in model_kwargs.items()}, mask[idx, :L])
                for idx in groups
                for L in [int(inputs["attention_mask"][idx].sum(1).max())]
            )
        )
        order = torch.empty(mask.size(0), dtype=torch.long, device=mask.device)
        order[torch.cat(groups)] = torch.arange(mask.size(0), device=mask.device)
        return torch.cat(logps)[order], torch.cat(lengths)[order]

    def compute_ref_log_probs(self, model, inputs):
        """The reference's summed response log-probs through the same :meth:`sequence_logps` as the policy's (so a
        policy equal to its reference has a log-ratio of exactly 0), where that path applies; else TRL's."""
        if (
            self.ld_alpha is not None
            or not small_vocab(model)
            or (self.ref_model is None and hasattr(self.model, "peft_config"))
        ):
            return super().compute_ref_log_probs(model, inputs)
        with torch.no_grad(), self.accelerator.autocast():
            logps, _ = self.sequence_logps(model, inputs)
        return logps.chunk(2)

    @staticmethod
    def _logps(model, model_kwargs, mask):
        ids = model_kwargs["input_ids"]
        shift_mask = mask[:, 1:]
        if small_vocab(model):  # log p(y_t | y_<t) = z_{y_t} − logsumexp(z): the same value as TRL's fused head
            logits = model(**model_kwargs, use_cache=False).logits[:, -shift_mask.size(1) - 1 : -1].float()
            per_token = logits.log_softmax(-1).gather(-1, ids[:, 1:, None]).squeeze(-1)
        else:
            per_token = model(
                **model_kwargs, labels=ids.masked_fill(mask == 0, -100), fused_lm_head=True, use_cache=False
            ).log_probs[:, -shift_mask.size(1) :]
        shift_mask = shift_mask.to(per_token.dtype)
        return (per_token * shift_mask).sum(1), shift_mask.sum(1)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        mode = "train" if self.model.training else "eval"
        logps, lengths = self.sequence_logps(model, inputs)
        chosen_logps, rejected_logps = logps.chunk(2)
        chosen_len, rejected_len = lengths.chunk(2)
        batch = {
            "chosen_logps": chosen_logps,
            "rejected_logps": rejected_logps,
            "chosen_len": chosen_len,
            "rejected_len": rejected_len,
        }
        if self.loss_spec.needs_reference:
            if self.precompute_ref_logps:
                batch["ref_chosen_logps"], batch["ref_rejected_logps"] = (
                    inputs["ref_chosen_logps"],
                    inputs["ref_rejected_logps"],
                )
            else:  # vanilla DPO: a reference forward pass every step (what SimPO's C5 compares against)
                batch["ref_chosen_logps"], batch["ref_rejected_logps"] = self.compute_ref_log_probs(
                    self.ref_model, inputs
                )
        for k in self.loss_spec.inputs:  # extra per-example inputs some losses need (e.g. win-rate targets)
            if k not in batch:
                batch[k] = inputs[k]
        loss = self.loss_spec(batch, **self.loss_kwargs).mean()
        log_metric(self, mode, "logps/chosen", chosen_logps.detach().mean().item())
        log_metric(self, mode, "logps/rejected", rejected_logps.detach().mean().item())
        log_metric(
            self,
            mode,
            "avg_logps/margin",
            (chosen_logps / chosen_len - rejected_logps / rejected_len).detach().mean().item(),
        )
        return (loss, None) if return_outputs else loss


def token_ids_hash(dataset: Dataset, cols: list[str]) -> str:
    """SHA-256 of the token-id columns, row order and any indices mapping (TRL's filter) included, read from the
    Arrow buffers: hashing them as Python lists (``Hasher``) took ≈ 0.4 s per run."""
    import hashlib

    import numpy as np

    h = hashlib.sha256()
    table = dataset.with_format("arrow").select_columns(cols)[:]
    for c in cols:
        arr = table.column(c).combine_chunks()
        h.update(c.encode())
        h.update(np.diff(arr.offsets.to_numpy()).astype(np.int64).tobytes())
        h.update(arr.flatten().to_numpy().astype(np.int64).tobytes())
    return h.hexdigest()


def small_vocab(model) -> bool:
    config = getattr(model, "config", None)
    vocab = getattr(config.get_text_config(), "vocab_size", None) if config is not None else None
    return vocab is not None and vocab <= SMALL_VOCAB


def train_preference(
    model,
    tokenizer,
    dataset: Dataset,
    hw,
    *,
    loss: str,
    loss_kwargs: dict,
    seed: int,
    lr: float,
    batch_size: int,
    epochs: float,
    max_steps: int | None,
    out: Path,
    precompute_ref: bool = True,
    max_length: int | None = None,
):
    """One preference run through the hook. SimPO App. B: cosine schedule, 10% warmup, 1 epoch."""
    quiet_libraries()
    args = DPOConfig(
        **common_args(
            hw,
            seed=seed,
            lr=lr,
            batch_size=batch_size,
            output_dir=str(out / "trainer"),
            max_steps=max_steps,
            epochs=epochs,
            warmup=0.1,
        ),
        precompute_ref_log_probs=precompute_ref,
        precompute_ref_batch_size=256,
        max_length=max_length or tokenizer.model_max_length,
        beta=float(loss_kwargs.get("beta", 0.1)),
    )
    trainer = without_printer(
        PreferenceTrainer(
            model=model,
            args=args,
            train_dataset=dataset,
            processing_class=tokenizer,
            loss=loss,
            loss_kwargs=loss_kwargs,
        )
    )
    trainer.train()
    return trainer.model, log_history(trainer)


def log_history(trainer) -> list[dict]:
    """What TRL logged during training (losses, learning rate, our metrics), one dict per logging step."""
    return [h for h in trainer.state.log_history]
