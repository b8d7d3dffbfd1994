"""The cached stages every toy-LM-world paper shares, and the fan-out of jobs over seeds and cores.

    world (prompts, judge, reference policy) → SFT policy → [a paper's own stages] → jobs per seed

Each stage is cached under a content hash of everything that determines it (``core.io.cached``): the
config slices it reads, the seed, the package versions, the code of the modules involved, and the thread
count. Papers that start from the same ``toy_world`` config and seed therefore share one SFT model, as
the real papers share an SFT checkpoint, and a killed run resumes from its last finished stage.

Seeds: ``scale.n_seeds`` replications of the whole pipeline (world, SFT, data, training, evaluation),
seeds ``cfg.seed, cfg.seed + 1, ...``; claims are judged on paired differences across them
(``metrics.verdicts``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

from ..core.config import to_dict
from ..core.io import atomic_write_json, cached, code_fingerprint, content_hash
from ..core.paths import ROOT
from ..core.provenance import numerics, package_versions
from ..models.lm import build_model
from ..worlds.tokenizer import build_tokenizer
from ..worlds.toy_lm import Judge, judge_from_cfg, make_prompts, persona_from_cfg, persona_responses
from .data import sft_dataset


@dataclass
class World:
    tokenizer: object
    judge: Judge
    prompts: dict  # split -> list[str]: sft, pref, dev, eval (disjoint)
    reference: dict  # split -> the reference policy's responses (dev, eval): the win-rate baseline


def seeds(cfg) -> list[int]:
    """The seeds a replication runs: ``cfg.seed`` and the next ``scale.n_seeds − 1``."""
    return [int(cfg.seed) + k for k in range(int(cfg.scale.get("n_seeds", 1)))]


def with_seed(cfg, seed: int) -> DictConfig:
    out = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))
    out.seed = int(seed)
    return out


def setup_torch(cfg) -> None:
    """Threads per process (``hardware.torch_threads``; with ``hardware.workers`` > 1, per worker)."""
    threads = cfg.hardware.get("torch_threads")
    if threads:
        torch.set_num_threads(int(threads))
    # Not torch.use_deterministic_algorithms: CPU kernels are already run-to-run deterministic for a fixed
    # thread count (tests/test_cache_and_determinism.py checks), and the flag slows TRL's fused LM head ~1.5x.


def build_world(cfg) -> World:
    w, seed = cfg.scale.world, int(cfg.seed)
    sizes = {"sft": w.n_sft, "pref": w.n_pref_prompts, "dev": w.n_dev, "eval": w.n_eval}
    prompts, seen = {}, set()
    for i, (split, n) in enumerate(sizes.items()):  # disjoint splits: no eval prompt is ever trained on
        cand = [p for p in make_prompts(3 * n + 50, seed * 1000 + i) if p not in seen]
        cand = list(dict.fromkeys(cand))[:n]
        seen.update(cand)
        prompts[split] = cand
    ref = persona_from_cfg("reference", cfg.toy_world.reference)
    reference = {s: persona_responses(ref, prompts[s], seed * 1000 + 10 + k) for k, s in enumerate(("dev", "eval"))}
    return World(build_tokenizer(), judge_from_cfg(cfg.judge, seed), prompts, reference)


# The code that determines a stage's output: changing what any of it does invalidates the cache (its syntax tree
# is hashed, ``core.io.code_fingerprint``: comments, docstrings and formatting are not). Paths under replicate/;
# a folder means every .py file below it.
CODE = (
    "worlds/toy_lm.py",
    "worlds/tokenizer.py",
    "models/lm.py",
    "models/sampling.py",
    "losses",
    "training/data.py",
    "training/trl_hook.py",
    "training/trl_internals.py",
    "training/toy_stages.py",
    "metrics/evaluation.py",
    "metrics/winrate.py",
)


def code_hash(extra: tuple[str, ...] = ()) -> str:
    pkg = ROOT / "replicate"
    files = []
    for m in CODE + tuple(extra):
        path = pkg / m
        files += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    return content_hash([(str(f.relative_to(pkg)), code_fingerprint(f)) for f in files])


def stage_key(cfg, *parts, world: dict | None = None, code: tuple[str, ...] = ()) -> dict:
    return {
        "versions": package_versions(("torch", "transformers", "trl", "numpy", "datasets", "tokenizers")),
        "code": code_hash(code),
        "threads": torch.get_num_threads(),
        "numerics": numerics(),  # kernel ISA and pins: another path trains other weights (core.provenance.numerics)
        "cuda": torch.cuda.is_available(),
        "hardware": {k: v for k, v in to_dict(cfg.hardware).items() if k != "workers"},
        "seed": int(cfg.seed),
        "model": to_dict(cfg.model),
        "world": to_dict(cfg.scale.world) if world is None else world,
        "parts": parts,
    }


def sft_key(cfg) -> dict:
    # SFT prompts are drawn first (build_world), so they depend on n_sft alone: resizing the preference,
    # dev or eval splits (or another paper's) reuses the cached SFT model.
    return stage_key(
        cfg,
        "sft",
        to_dict(cfg.scale.sft),
        to_dict(cfg.toy_world.sft),
        to_dict(cfg.toy_world.demonstrator),
        world={"n_sft": int(cfg.scale.world.n_sft)},
    )


def sft_model(cfg, world: World):
    """The SFT policy every toy-LM paper starts from (TRL ``SFTTrainer`` on the demonstrator's answers)."""
    demo = persona_from_cfg("demonstrator", cfg.toy_world.demonstrator)

    def compute(tmp: Path):
        from .trl_hook import sft

        responses = persona_responses(demo, world.prompts["sft"], int(cfg.seed) + 1)
        model = build_model(cfg.model, world.tokenizer, int(cfg.seed))
        model, hist = sft(
            model,
            world.tokenizer,
            sft_dataset(world.prompts["sft"], responses),
            cfg.hardware,
            seed=int(cfg.seed),
            lr=float(cfg.toy_world.sft.lr),
            batch_size=int(cfg.scale.sft.batch_size),
            steps=int(cfg.scale.sft.steps),
            out=tmp,
        )
        model.save_pretrained(tmp / "model")
        world.tokenizer.save_pretrained(tmp / "model")
        atomic_write_json(tmp / "history.json", hist)

    return load_policy(cached("toy-sft", sft_key(cfg), compute) / "model")


def load_policy(path):
    from transformers import AutoModelForCausalLM

    m = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    m.eval()
    return m
