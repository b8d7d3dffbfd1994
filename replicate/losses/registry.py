"""The loss registry: how the one trainer hook finds a loss by name (``method.loss`` in conf/).

It sits below every loss family, so families import it and register themselves; nothing here imports
a family, which keeps the package free of import cycles (``replicate/losses/__init__.py`` imports them all).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from torch import Tensor


@dataclass(frozen=True)
class LossSpec:
    """How the trainer hook calls a loss: which inputs it needs and its hyperparameter names."""

    fn: Callable[..., Tensor]
    needs_reference: bool
    inputs: tuple[str, ...]
    hparams: tuple[str, ...] = field(default=())

    def __call__(self, batch: dict[str, Tensor], **hp) -> Tensor:
        unknown = set(hp) - set(self.hparams)
        if unknown:
            raise TypeError(f"{self.fn.__name__}: unknown hyperparameters {sorted(unknown)}; expected {self.hparams}")
        return self.fn(*(batch[k] for k in self.inputs), **hp)


LOSSES: dict[str, LossSpec] = {}


def register(name: str, spec: LossSpec) -> None:
    """Each loss family adds its losses here so the same trainer hook runs them."""
    if name in LOSSES and LOSSES[name] is not spec:
        raise ValueError(f"loss {name!r} already registered")
    LOSSES[name] = spec
