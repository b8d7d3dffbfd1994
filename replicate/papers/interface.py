"""The one shape of a paper: what every ``conf/paper/<p>.yaml`` has in ``replicate.papers.<p_mod>`` as ``PAPER``.

A paper is a module (``papers/sppo.py``) or, when it has more than one file, a package (``papers/simpo/``: its
world simulator in ``world.py`` where it has one of its own, the cached stages in ``experiment.py``, numbers and
verdicts in ``claims.py``). Either way it declares one :class:`Paper`::

    PAPER = Paper(name="sppo", validate=validate, run=run, metrics=metrics, claims=claims, render_table=render_table)

and its notebook, ``make tables``, the tests and a new tool all go through that record:

* ``validate(cfg)`` raises ``ConfigError`` on a bad paper setting, before any compute (``replicate run`` calls it
  right after composing the config, so a bad override exits 2 before the kernel starts);
* ``run(cfg, progress=True) -> results`` does every expensive stage (cached; ``training.runner`` spreads an
  LM-world paper's per-seed stages over the workers); what ``results`` is, is the paper's own business;
* ``metrics(results, cfg) -> Metrics`` the flat numbers for ``metrics.json`` (seed means, and per seed for
  ``make check``'s tolerances);
* ``claims(results, cfg) -> list[dict]`` the verdicts (``metrics.claims.claim`` on exact quantities,
  ``metrics.verdicts`` on sampled ones);
* ``render_table(metrics_doc) -> str`` the Markdown of ``results/tables/<p>.md`` (``make tables``);
* ``real_model`` (optional): the paper's own real-model path at ``scale=small``. ``None`` means the shared one
  (``replicate.real``: ``run``, ``summary``, ``save``, ``render_table``), which applies when the config has a
  ``paper.real`` block (:func:`real_model_applies`).

:func:`reproduce` chains them without a notebook (``validate → run → metrics → claims → save``), which is how the
tests check that a paper's notebook adds displays and prose, never numbers.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path
from typing import Any

from ..core.config import ConfigError, paper_module, papers, to_dict
from ..metrics.claims import write_metrics


@dataclass
class Metrics:
    """What ``metrics.json`` holds besides the claims: ``values`` (seed means for a multi-seed paper), and for a
    multi-seed paper its ``seeds`` and ``seed_spread`` (metric → per-seed values); ``extra`` is stored as is."""

    values: dict
    seeds: list[int] | None = None
    seed_spread: dict | None = None
    extra: dict | None = None


@dataclass(frozen=True)
class Paper:
    """A paper's interface (module docstring). Built once per paper module as ``PAPER``."""

    name: str
    validate: Callable[[Any], None]
    run: Callable[..., Any]
    metrics: Callable[[Any, Any], Metrics]
    claims: Callable[[Any, Any], list]
    render_table: Callable[[dict], str]
    real_model: Any = None
    doc: str = field(default="", compare=False)

    def __post_init__(self):
        for name, arity in SIGNATURES.items():
            fn = getattr(self, name)
            if not callable(fn):
                raise TypeError(f"{self.name}: PAPER.{name} must be callable, got {type(fn).__name__}")
            required = [
                p
                for p in inspect.signature(fn).parameters.values()
                if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
            ]
            if len(required) != arity:
                raise TypeError(
                    f"{self.name}: PAPER.{name} must take {arity} positional argument(s) "
                    f"({SIGNATURE_DOC[name]}), {fn.__qualname__} takes {len(required)}"
                )

    def save(self, cfg, metrics: Metrics, claims: list[dict]) -> Path:
        """Write this paper's metrics.json (:func:`save`)."""
        return save(self, cfg, metrics, claims)


SIGNATURES = {"validate": 1, "run": 1, "metrics": 2, "claims": 2, "render_table": 1}
SIGNATURE_DOC = {
    "validate": "cfg",
    "run": "cfg, progress=True",
    "metrics": "results, cfg",
    "claims": "results, cfg",
    "render_table": "metrics_doc",
}


def load(paper: str) -> Paper:
    """The ``PAPER`` record of ``conf/paper/<paper>.yaml``'s module; ConfigError for an unknown paper."""
    if paper not in papers():
        raise ConfigError(f"unknown paper {paper!r}; known papers: {', '.join(papers())}")
    rec = getattr(import_module(paper_module(paper)), "PAPER", None)
    if not isinstance(rec, Paper):
        raise TypeError(f"{paper_module(paper)} declares no PAPER = replicate.papers.interface.Paper(...)")
    if rec.name != paper:
        raise TypeError(f"{paper_module(paper)}.PAPER.name is {rec.name!r}, its config is conf/paper/{paper}.yaml")
    return rec


def real_model_applies(cfg) -> bool:
    """True where the notebook runs a real model (``scale.real``) instead of the toy world."""
    return bool(cfg.scale.get("real", False))


def toy_world_only(validate_toy: Callable[[Any], None]) -> Callable[[Any], None]:
    """An LM-world paper's validator: its toy-world settings, except at a real-model scale, where the notebook runs
    its real-model cells and ``replicate run`` checks their settings (``paper.real``) before the kernel starts."""

    @functools.wraps(validate_toy)
    def validate(cfg) -> None:
        if not real_model_applies(cfg):
            validate_toy(cfg)

    return validate


def save(paper: Paper, cfg, metrics: Metrics, claims: list[dict]) -> Path:
    """``results/reproduced/<paper>/<scale>/metrics.json`` (``cfg.results_dir``), with provenance."""
    return write_metrics(
        paper.name,
        cfg.scale.name,
        metrics.values,
        claims,
        to_dict(cfg),
        seed=int(cfg.seed),
        root=cfg.results_dir,
        seeds=metrics.seeds,
        seed_spread=metrics.seed_spread,
        extra=metrics.extra,
    )


def reproduce(paper: str | Paper, cfg, *, progress: bool = False) -> tuple[Any, Metrics, list[dict], Path]:
    """validate → run → metrics → claims → save, with no notebook: (results, metrics, claims, metrics.json path)."""
    rec = load(paper) if isinstance(paper, str) else paper
    rec.validate(cfg)
    results = rec.run(cfg, progress=progress)
    metrics = rec.metrics(results, cfg)
    claims = rec.claims(results, cfg)
    return results, metrics, claims, save(rec, cfg, metrics, claims)
