"""TRL's private internals, all in this one module: every name here that starts with ``_`` belongs to TRL (or to
``datasets``, whose Arrow datasets TRL builds), not to us, and may change in any TRL release.

Written for and checked against **trl 1.16.0** (``TRL_VERSION``): ``check_trl_version()`` runs before a trainer
is built, and another TRL stops there with a message naming this module, so that a TRL upgrade means re-reading
the hooks below against the new ``DPOTrainer`` instead of training on silently changed behaviour:

* ``DPOTrainer._prepare_dataset`` — its max-length filter leaves an i → i indices mapping even when it drops no row
  (``datasets``' ``Dataset._indices``); :class:`DPOInternals` drops it, so adding the reference log-probs does not
  rewrite the dataset through ``flatten_indices`` (same rows either way).
* ``DPOTrainer._precompute_ref_logps`` — TRL caches the reference pass under the dataset's fingerprint
  (``Dataset._fingerprint``), which its filter makes differ from run to run; :class:`DPOInternals` keys it on what
  determines it (``reference_fingerprint`` of the trainer) and skips the pass for reference-free losses.
* ``DPOTrainer._precompute_model_hash`` — the hash TRL itself uses for the model in that fingerprint.
* ``GRPOTrainer``'s KL reference, which TRL builds by reloading ``model.config._name_or_path`` (a ``transformers``
  internal): :func:`with_reference_path` gives a model built in memory a saved copy to reload.
* ``DPOTrainer._metrics`` — the per-mode lists TRL logs; :func:`log_metric` appends to them, :func:`clear_metrics`
  empties one mode (a gradient probe's forward passes are not training metrics).
"""

from __future__ import annotations

TRL_VERSION = "1.16.0"


def check_trl_version() -> None:
    import trl

    if trl.__version__ != TRL_VERSION:
        raise RuntimeError(
            f"replicate/training/trl_internals.py was written for trl {TRL_VERSION} and found trl {trl.__version__}: "
            "re-check the private DPOTrainer hooks it lists against this TRL (or install the locked version: "
            "requirements.lock)"
        )


class DPOInternals:
    """Mixin for a ``DPOTrainer`` subclass (listed before ``DPOTrainer``) with the two private overrides above. The
    subclass supplies the public half: ``needs_reference_pass()`` and ``reference_fingerprint(dataset, batch_size,
    model_hash)``."""

    def _prepare_dataset(self, dataset, *args, **kwargs):
        return without_identity_indices(super()._prepare_dataset(dataset, *args, **kwargs))

    def _precompute_ref_logps(self, dataset, name, batch_size):
        if not self.needs_reference_pass():
            zeros = [0.0] * len(dataset)
            return dataset.add_column("ref_chosen_logps", zeros).add_column("ref_rejected_logps", zeros)
        dataset._fingerprint = self.reference_fingerprint(dataset, batch_size, self._precompute_model_hash)
        return super()._precompute_ref_logps(dataset, name, batch_size)


def log_metric(trainer, mode: str, name: str, value: float) -> None:
    """Append to the metrics TRL averages and logs per step (``mode``: "train" or "eval")."""
    trainer._metrics[mode][name].append(value)


def clear_metrics(trainer, mode: str) -> None:
    trainer._metrics[mode].clear()


def without_identity_indices(dataset):
    """``dataset`` without its indices mapping when that mapping is row i → i (a filter that kept every row)."""
    import copy

    import numpy as np

    idx = getattr(dataset, "_indices", None)
    if idx is None or idx.num_rows != dataset.data.num_rows:
        return dataset
    if not np.array_equal(idx.column(0).to_numpy(), np.arange(idx.num_rows)):
        return dataset
    out = copy.deepcopy(dataset)  # as Dataset.filter builds its result: the Arrow table is shared, not copied
    out._indices = None
    return out


def with_reference_path(model, out):
    """TRL builds the KL reference by reloading ``model.config._name_or_path``; a policy built in memory (tests)
    has none, so save the starting weights once and point the config at them."""
    from pathlib import Path

    src = getattr(model.config, "_name_or_path", "") or ""
    if not (Path(src).is_dir() and (Path(src) / "config.json").exists()):
        ref = out / "reference"
        model.save_pretrained(ref)
        model.config._name_or_path = str(ref)
    return model
