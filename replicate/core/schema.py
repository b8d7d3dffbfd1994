"""Typed configs: the shape of every config group as dataclasses, checked when ``config.compose`` composes.

Hydra composes YAML and overrides into an untyped tree; these dataclasses say what each key of the ``scale``,
``model``, ``judge``, ``hardware`` and ``toy_world`` groups and the root must be: its type, its range, whether it
may be null. A paper's own settings (``paper.*``) are typed by the paper's YAML: an override keeps the type of
the value it replaces, and its ranges are the paper's ``validate(cfg)`` (``papers.interface``). A wrong type, a
value out of range or a key the group does not have is one ``ConfigError`` line naming the key and what is
allowed (``replicate`` exits 2), before any compute.

A field's range is ``field(metadata=RANGE(lo, hi))``; ``Literal`` lists the allowed strings; a union of dataclasses
(a model or a judge) is told apart by its ``kind`` or ``name``.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Literal, Union  # Union: what typing.get_origin reports for Optional[...]

from omegaconf import DictConfig, ListConfig, OmegaConf


class SchemaError(ValueError):
    """One problem, one line: ``<key>=<value>: <what is wrong>; allowed: <what is allowed>``."""


def RANGE(lo: float | None = None, hi: float | None = None, *, lo_open: bool = False, hi_open: bool = False):
    return {"range": (lo, hi, lo_open, hi_open)}


COUNT = RANGE(1)  # a number of things: at least one
POSITIVE = RANGE(0, lo_open=True)
NONNEG = RANGE(0)
PROB = RANGE(0, 1)


# ----------------------------------------------------------------------------------------------- scale
@dataclass
class WorldSize:
    n_sft: int | None = field(metadata=COUNT)  # null at scale=paper: the paper's own data
    n_pref_prompts: int | None = field(metadata=COUNT)
    n_dev: int | None = field(metadata=COUNT)
    n_eval: int = field(metadata=COUNT)


@dataclass
class SFTBudget:
    steps: int | None = field(metadata=COUNT)
    batch_size: int = field(metadata=COUNT)
    lr: float = field(metadata=POSITIVE)


@dataclass
class PreferenceBudget:
    epochs: float = field(metadata=POSITIVE)
    batch_size: int = field(metadata=COUNT)
    max_steps: int | None = field(metadata=COUNT)


@dataclass
class Sampling:
    n_per_prompt: int = field(metadata=COUNT)
    temperature: float = field(metadata=NONNEG)
    top_p: float = field(metadata=RANGE(0, 1, lo_open=True))
    max_new_tokens: int = field(metadata=COUNT)
    batch_size: int | None = field(default=None, metadata=COUNT)


@dataclass
class TabularBudget:
    iterations: int = field(metadata=COUNT)
    inner_steps: int = field(metadata=COUNT)


@dataclass
class LoRA:
    r: int = field(metadata=COUNT)
    alpha: float = field(metadata=POSITIVE)
    dropout: float = field(metadata=RANGE(0, 1, hi_open=True))
    target_modules: str | list


@dataclass
class Finetune:
    mode: Literal["lora", "full"]
    lora: LoRA
    steps: int = field(metadata=COUNT)
    global_batch_size: int = field(metadata=COUNT)  # per device × devices × accumulation (derived, must divide)
    batch_size: int = field(metadata=COUNT)
    max_length: int = field(metadata=COUNT)
    lr_scale: float = field(metadata=POSITIVE)


@dataclass
class VLLM:
    gpu_memory_utilization: float = field(metadata=RANGE(0, 1, lo_open=True))
    enforce_eager: bool


@dataclass
class Logging:
    report_to: Literal["tensorboard", "wandb", "trackio", "none"]
    logging_steps: int = field(metadata=COUNT)


@dataclass
class Scale:
    name: str
    requires_gpu: bool
    world: WorldSize
    n_seeds: int = field(metadata=COUNT)
    sft: SFTBudget
    pref: PreferenceBudget
    sample: Sampling
    tabular: TabularBudget
    real: bool = False
    finetune: Finetune | None = None
    generator: Literal["auto", "hf", "vllm"] | None = None
    vllm: VLLM | None = None
    logging: Logging | None = None


# ----------------------------------------------------------------------------------------------- model
@dataclass
class TinyLlama:
    kind: Literal["tiny_llama"]
    hidden_size: int = field(metadata=COUNT)
    num_layers: int = field(metadata=COUNT)
    num_heads: int = field(metadata=COUNT)
    intermediate_size: int = field(metadata=COUNT)
    max_positions: int = field(metadata=COUNT)
    attn_implementation: Literal["eager", "sdpa", "flash_attention_2"]


@dataclass
class PretrainedModel:
    kind: Literal["pretrained"]
    name_or_path: str
    dtype: Literal["bfloat16", "float16", "float32", "auto"]


# ----------------------------------------------------------------------------------------------- judge
@dataclass
class ToyJudge:
    name: Literal["toy"]
    sharpness: float
    length_bias: float
    length_scale: float = field(metadata=POSITIVE)
    position_bias: float
    noise: float = field(metadata=NONNEG)


@dataclass
class RewardModelJudge:
    name: Literal["reward_model"]
    kind: Literal["reward_model"]
    name_or_path: str
    dtype: Literal["bfloat16", "float16", "float32", "auto"]
    batch_size: int = field(metadata=COUNT)
    max_length: int = field(metadata=COUNT)


@dataclass
class AlpacaEvalJudge:
    name: Literal["alpaca_eval"]
    kind: Literal["alpaca_eval"]
    annotator: str
    api_key_env: str
    annotations: str | None = None


# ----------------------------------------------------------------------------------------------- hardware
@dataclass
class Hardware:
    name: str
    num_devices: int = field(metadata=COUNT)
    bf16: bool
    gradient_checkpointing: bool
    torch_threads: int | None = field(metadata=COUNT)
    workers: int = field(metadata=COUNT)
    accelerate_config: str | None = None


# ----------------------------------------------------------------------------------------------- toy world
@dataclass
class Persona:
    p_correct: float = field(metadata=PROB)
    filler_probs: list[float]


@dataclass
class ToySFT:
    lr: float = field(metadata=POSITIVE)


@dataclass
class ToyWorld:
    demonstrator: Persona
    reference: Persona
    sft: ToySFT


# ----------------------------------------------------------------------------------------------- root
@dataclass
class Root:
    seed: int = field(metadata=NONNEG)
    results_dir: str
    figures_dir: str
    scale: Scale
    model: TinyLlama | PretrainedModel
    judge: ToyJudge | RewardModelJudge | AlpacaEvalJudge
    hardware: Hardware
    toy_world: ToyWorld
    paper: dict  # typed by the paper's own YAML (check_paper_override)
    setup: dict | None = None  # scale=paper only (config.validate)
    pipeline_model: str | None = (
        None  # scale=paper: a trained model to evaluate instead of training (+pipeline_model=)
    )
    output_dir: str | None = None  # scale=paper: where the launched training writes (+output_dir=, training.launch)


# ----------------------------------------------------------------------------------------------- checking
def check(cfg: DictConfig) -> None:
    """Raise SchemaError for the first key of ``cfg`` whose value breaks :class:`Root` (module docstring)."""
    _check(OmegaConf.to_container(cfg, resolve=True), Root, "")


def _describe(tp) -> str:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is int:
        return "an integer"
    if tp is float:
        return "a number"
    if tp is bool:
        return "true or false"
    if tp is str:
        return "a string"
    if tp is type(None):
        return "null"
    if origin is Literal:
        return "one of " + ", ".join(map(str, args))
    if origin is list or tp is list:
        return "a list" + (f" of {_describe(args[0])}s" if args else "")
    if tp is dict or origin is dict:
        return "a mapping"
    if _is_union(tp):
        return " or ".join(_describe(a) for a in args)
    if dataclasses.is_dataclass(tp):
        return "a mapping with keys " + ", ".join(f.name for f in dataclasses.fields(tp))
    return str(tp)


def _is_union(tp) -> bool:
    return typing.get_origin(tp) in (Union, types.UnionType)


def _matches(value, tp) -> bool:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any:
        return True
    if tp is type(None):
        return value is None
    if tp is bool:
        return isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if tp is str:
        return isinstance(value, str)
    if origin is Literal:
        return value in args
    if tp is list or origin is list:
        return isinstance(value, list) and (not args or all(_matches(v, args[0]) for v in value))
    if tp is dict or origin is dict:
        return isinstance(value, dict)
    if _is_union(tp):
        return any(_matches(value, a) for a in args)
    if dataclasses.is_dataclass(tp):
        return isinstance(value, dict)
    raise TypeError(f"schema type {tp} is not supported")


def _range_problem(value, meta) -> str | None:
    if "range" not in meta or value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    lo, hi, lo_open, hi_open = meta["range"]
    if lo is not None and (value < lo or (lo_open and value == lo)):
        return f"{'>' if lo_open else '≥'} {lo:g}" + (
            f" and {'<' if hi_open else '≤'} {hi:g}" if hi is not None else ""
        )
    if hi is not None and (value > hi or (hi_open and value == hi)):
        return (
            f"{'>' if lo_open else '≥'} {lo:g} and " if lo is not None else ""
        ) + f"{'<' if hi_open else '≤'} {hi:g}"
    return None


def _check(node: Any, tp, path: str) -> None:
    if _is_union(tp) and any(dataclasses.is_dataclass(a) for a in typing.get_args(tp)):
        members = [a for a in typing.get_args(tp) if dataclasses.is_dataclass(a)]
        if node is None and type(None) in typing.get_args(tp):
            return
        tp = members[0] if len(members) == 1 else _pick(node, members, path)
    if not dataclasses.is_dataclass(tp):
        return
    if not isinstance(node, dict):
        raise SchemaError(f"{path}={node!r}: not a mapping; allowed: {_describe(tp)}")
    fields = {f.name: f for f in dataclasses.fields(tp)}
    for key in node:
        if key not in fields:
            raise SchemaError(
                f"{_join(path, key)}: no such key; allowed keys of {path or 'the config'}: {', '.join(fields)}"
            )
    for name, f in fields.items():
        key = _join(path, name)
        if name not in node:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise SchemaError(f"{key}: missing; allowed: {_describe(_resolve(tp, f))}")
            continue
        value, ftype = node[name], _resolve(tp, f)
        if not _matches(value, ftype):
            raise SchemaError(f"{key}={value!r}: wrong type; allowed: {_describe(ftype)}")
        bound = _range_problem(value, f.metadata)
        if bound is not None:
            raise SchemaError(f"{key}={value!r}: out of range; allowed: {_describe_number(ftype)} {bound}")
        _check(value, ftype, key)


def _describe_number(tp) -> str:
    args = typing.get_args(tp) if _is_union(tp) else (tp,)
    return "an integer" if int in args else "a number"


def _pick(node, members, path):
    """The member of a union of dataclasses this mapping is: by its ``kind`` (models) or ``name`` (judges)."""
    for tag in ("kind", "name"):
        if isinstance(node, dict) and tag in node:
            for m in members:
                f = next((f for f in dataclasses.fields(m) if f.name == tag), None)
                if (
                    f is not None
                    and typing.get_origin(_resolve(m, f)) is Literal
                    and node[tag] in typing.get_args(_resolve(m, f))
                ):
                    return m
    kinds = [
        str(typing.get_args(_resolve(m, f))[0])
        for m in members
        for f in dataclasses.fields(m)
        if f.name in ("kind", "name") and typing.get_origin(_resolve(m, f)) is Literal
    ]
    got = node.get("kind", node.get("name")) if isinstance(node, dict) else node
    raise SchemaError(f"{path}: {got!r} is not a known kind; allowed: {', '.join(dict.fromkeys(kinds))}")


def _resolve(cls, f):
    return typing.get_type_hints(cls)[f.name]


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


# ----------------------------------------------------------------------------------------------- paper settings
def check_paper_override(
    default: DictConfig, key: str, value: Any, *, prefix: str = "paper.", added: bool = False
) -> None:
    """An override of ``paper.<...>`` keeps the type of the paper's own value (its YAML is its schema): an integer
    stays an integer, a number a number, true/false true/false, a list a list; a key the paper does not have is
    refused with the keys it does have, unless the override adds it on purpose (``+paper.<...>=``: optional
    settings a paper reads with a default, such as a real-model method's ``sample`` block)."""
    parent_key, _, leaf = key.rpartition(".")
    parent = OmegaConf.select(default, parent_key) if parent_key else default
    if added and (not isinstance(parent, DictConfig) or leaf not in parent):
        return
    if not isinstance(parent, DictConfig) or leaf not in parent:
        siblings = ", ".join(map(str, parent)) if isinstance(parent, DictConfig) else "none"
        where = f"{prefix}{parent_key}" if parent_key else "the paper"
        raise SchemaError(f"{prefix}{key}: no such setting; allowed keys of {where}: {siblings}")
    old = OmegaConf.to_container(parent, resolve=True)[leaf]
    if isinstance(value, (DictConfig, ListConfig)):
        value = OmegaConf.to_container(value, resolve=True)
    kind = _kind(old)
    if kind is not None and not _matches(value, kind):
        raise SchemaError(
            f"{prefix}{key}={value!r}: wrong type; allowed: {_describe(kind)} (the paper's value is {old!r})"
        )


def _kind(value):
    """The type an override of ``value`` must keep; None where any goes (a null default, a mapping)."""
    if value is None or isinstance(value, dict):
        return None
    if isinstance(value, bool):
        return bool
    if isinstance(value, int):
        return int
    if isinstance(value, float):
        return float
    if isinstance(value, str):
        return str
    if isinstance(value, list):
        return list
    return None
