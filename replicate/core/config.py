"""Hydra composition with validation: every bad input fails here, before any compute."""

from __future__ import annotations

import os

from omegaconf import DictConfig, OmegaConf

from .paths import ROOT

CONF_DIR = ROOT / "conf"


class ConfigError(ValueError):
    """A user-facing configuration problem; the message says how to fix it."""


def papers() -> list[str]:
    return sorted(p.stem for p in (CONF_DIR / "paper").glob("*.yaml"))


def paper_module(paper: str) -> str:
    """The naming convention: paper ``foo-bar`` (``conf/paper/foo-bar.yaml``, ``notebooks/foo-bar.ipynb``,
    ``results/reported/foo-bar.csv``) lives in module ``replicate.papers.foo_bar``."""
    return f"replicate.papers.{paper.replace('-', '_')}"


def group_options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))


def compose(paper: str, overrides: list[str] | tuple[str, ...] = (), *, check_hardware: bool = True) -> DictConfig:
    """Compose ``conf/config.yaml`` for ``paper`` with Hydra overrides, then validate.

    Raises ConfigError (never a Hydra traceback) for an unknown paper, an unknown key or group
    option, a value of the wrong type or out of range (``core.schema``), or a scale that needs hardware this
    machine does not have.
    """
    known = papers()
    if paper not in known:
        raise ConfigError(f"unknown paper {paper!r}; known papers: {', '.join(known)}")
    overrides = list(overrides)
    for o in overrides:
        if "=" not in o and not o.startswith("~"):
            raise ConfigError(f"override {o!r} is not of the form key=value (e.g. scale=ci)")
        key = o.split("=", 1)[0].lstrip("+~")
        if key == "paper":
            raise ConfigError("choose the paper by name (make replicate-<paper>), not with a paper= override")
        if key in GROUPS and "=" in o:
            value = o.split("=", 1)[1]
            if value == "null" and key != "setup":
                raise ConfigError(f"{key} cannot be null; choose one of: {', '.join(group_options(key))}")
            opts = group_options(key)
            if value not in opts and not (key == "setup" and value == "null"):
                raise ConfigError(f"{key}={value!r} is not an option; choose one of: {', '.join(opts)}")
    cfg = _hydra_compose(paper, overrides)
    check_types(paper, cfg, overrides)
    validate(cfg, check_hardware=check_hardware)
    return _absolute_paths(cfg)


def _hydra_compose(paper: str, overrides: list[str]) -> DictConfig:
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            cfg = hydra_compose("config", overrides=[f"paper={paper}", *overrides])
    except Exception as e:  # hydra's errors are precise but wrapped in a long traceback
        msg = str(e).split("\n")[0]
        raise ConfigError(f"invalid override for {paper}: {msg}") from None
    finally:
        GlobalHydra.instance().clear()
    OmegaConf.set_struct(cfg, True)
    return cfg


def check_types(paper: str, cfg: DictConfig, overrides: list[str]) -> None:
    """Every key of the composed config has the type and range its group's schema allows (``core.schema``), and
    every ``paper.*`` override keeps the type of the paper's own value: ConfigError naming the key otherwise."""
    from . import schema

    try:
        value_overrides = [o for o in overrides if "=" in o and o.split("=", 1)[0].lstrip("+~").startswith("paper.")]
        if value_overrides:  # the paper's YAML is its schema: compare with what the groups chosen here compose to
            groups = [o for o in overrides if o.split("=", 1)[0].lstrip("+~") in GROUPS]
            default = _hydra_compose(paper, groups).paper
            for o in value_overrides:
                key = o.split("=", 1)[0].lstrip("+~")
                schema.check_paper_override(
                    default, key.removeprefix("paper."), OmegaConf.select(cfg, key), added=o.startswith("+")
                )
        schema.check(cfg)
    except schema.SchemaError as e:
        raise ConfigError(str(e)) from None


def _absolute_paths(cfg: DictConfig) -> DictConfig:
    """Relative output paths are relative to the repository, wherever the notebook runs from."""
    root = CONF_DIR.parent
    for k in ("results_dir", "figures_dir"):
        if k in cfg and not os.path.isabs(str(cfg[k])):
            cfg[k] = str(root / str(cfg[k]))
    return cfg


GROUPS = ("scale", "model", "judge", "toy_world", "hardware", "setup")


def validate(cfg: DictConfig, *, check_hardware: bool = True) -> None:
    scale = cfg.scale
    if check_hardware and scale.get("requires_gpu", False) and not os.environ.get("REPLICATE_ASSUME_GPU"):
        import torch

        if not torch.cuda.is_available():
            raise ConfigError(
                f"scale={scale.name} needs a CUDA GPU and none is visible on this machine; "
                "use scale=tiny (CPU, minutes) or scale=ci (CPU, seconds)"
            )
    setup = cfg.get("setup")
    if setup:
        if scale.name != "paper":
            raise ConfigError(f"setup={setup.get('model')} only applies at scale=paper (got scale={scale.name})")
        derive_grad_accum(setup.global_batch_size, setup.per_device_batch_size, cfg.hardware.num_devices)


def derive_grad_accum(global_batch: int, per_device: int, devices: int) -> int:
    """global = per_device × devices × accumulation; refuse a split that does not divide evenly."""
    denom = per_device * devices
    if global_batch % denom:
        raise ConfigError(
            f"global batch {global_batch} is not divisible by per-device batch {per_device} × {devices} devices; "
            "pick values whose product divides the global batch"
        )
    return global_batch // denom


def cli_entry(main) -> None:
    """Run ``main()`` as a command: a ConfigError becomes one line on stderr and exit code 2."""
    import sys

    try:
        raise SystemExit(main())
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(2) from None


def to_dict(cfg: DictConfig) -> dict:
    return OmegaConf.to_container(cfg, resolve=True)


def at_scale(cfg: DictConfig, node):
    """A per-scale setting ``{ci: .., tiny: ..}`` of a paper config at the current scale (a plain value passes through);
    ConfigError if the paper has no setting for this scale."""
    d = OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node
    if not isinstance(d, dict):
        return d
    if cfg.scale.name not in d:
        raise ConfigError(
            f"{cfg.paper.get('name', 'this paper')} has no setting for scale={cfg.scale.name} (has {sorted(d)})"
        )
    return d[cfg.scale.name]
