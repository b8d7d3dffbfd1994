"""SimPO Table 4 in miniature: SFT → pairs (Base: offline pool; Instruct: on-policy) → each method → judge.

The stages (this module) are cached under a content hash of what determines them
(``training.toy_stages``), so methods share the SFT model and pairs, other toy-LM papers share the SFT
model, and a killed run resumes where it stopped. ``run_all`` replicates the whole pipeline over
``scale.n_seeds`` seeds and spreads the jobs over ``hardware.workers`` processes. Metrics and claims
(judged on seed-paired differences with intervals) live in ``papers.simpo.claims``.
"""

from __future__ import annotations

import json
from pathlib import Path

from omegaconf import OmegaConf

from ...core.config import ConfigError, to_dict
from ...core.io import atomic_write_json, cached, read_json
from ...metrics.evaluation import evaluate_policy, pair_diagnostics
from ...models.sampling import generate
from ...training.data import pair_stats, pairs_from_candidates, preference_dataset
from ...training.runner import run_stages
from ...training.toy_stages import (
    World,
    seeds,
    sft_model,
    stage_key,  # noqa: F401
    with_seed,
)

# used by the notebook through this module
from ...training.toy_stages import build_world as build_world
from ...training.world_cache import world_for as _world  # one world per worker process
from ...worlds.toy_lm import persona_from_cfg, persona_responses
from .claims import METHODS_TABLE4

_CODE = ("papers/simpo/experiment.py",)  # this module's stages determine the cached outputs; simpo/claims.py does not


def validate(cfg) -> None:
    """Bad input raises ConfigError before any compute: the settings, every Table 4 method, the γ sweep, the arms
    given extra seeds."""
    p = cfg.paper
    power = p.get("power") or {}
    if bad := [m for m in power.get("arms", ()) if m not in METHODS_TABLE4]:
        raise ConfigError(f"paper.power.arms: {bad} are not Table 4 methods {list(METHODS_TABLE4)}")
    unknown = [s for s in p.settings if s not in ("base", "instruct")]
    if not p.settings or unknown:
        raise ConfigError(f"paper.settings={list(p.settings)}: choose one or both of base, instruct")
    missing = [m for m in METHODS_TABLE4 if m not in p.methods]
    if missing:
        raise ConfigError(f"paper.methods lacks {missing}: Table 4 needs {list(METHODS_TABLE4)}")
    if any(float(g) < 0 for g in p.gamma_sweep):
        raise ConfigError(f"paper.gamma_sweep={list(p.gamma_sweep)}: SimPO's margin γ must be ≥ 0")


def _key(cfg, *parts, **kw) -> dict:
    return stage_key(cfg, *parts, code=_CODE, **kw)


def preference_pairs(cfg, world: World | None = None, sft=None) -> dict:
    """{setting: {"train": pairs, "heldout": pairs}}; held-out pairs are built the same way on dev prompts.
    ``world`` (built when not given; reading cached pairs needs none) and ``sft`` (the policy that samples
    Instruct pairs; loaded from the cache when not given)."""
    key = _key(
        cfg,
        "pairs",
        to_dict(cfg.paper.pool),
        to_dict(cfg.paper.pairs),
        to_dict(cfg.judge),
        to_dict(cfg.scale.sample),
        to_dict(cfg.scale.sft),
        to_dict(cfg.toy_world.sft),
        to_dict(cfg.toy_world.demonstrator),
    )

    def compute(tmp: Path):
        nonlocal world
        world = world if world is not None else _world(cfg)
        policy = sft if sft is not None else sft_model(cfg, world)
        out = {}
        seed = int(cfg.seed)
        personas = [persona_from_cfg(n, d) for n, d in cfg.paper.pool.items()]
        for split, sk in (("train", "pref"), ("heldout", "dev")):
            ps = world.prompts[sk]
            pool = list(
                zip(
                    *[
                        persona_responses(p, ps, seed * 7 + i + (100 if split == "heldout" else 0))
                        for i, p in enumerate(personas)
                    ]
                )
            )
            out.setdefault("base", {})[split] = pairs_from_candidates(
                ps, pool, world.judge, rejected=cfg.paper.pairs.base_rejected, seed=seed
            )
            s = cfg.scale.sample
            samples = generate(
                policy,
                world.tokenizer,
                ps,
                n=int(s.n_per_prompt),
                temperature=float(s.temperature),
                top_p=float(s.top_p),
                max_new_tokens=int(s.max_new_tokens),
                seed=seed + 3,
            )
            out.setdefault("instruct", {})[split] = pairs_from_candidates(
                ps, samples, world.judge, rejected=cfg.paper.pairs.instruct_rejected, seed=seed
            )
        atomic_write_json(tmp / "pairs.json", out)

    return read_json(cached("simpo-pairs", key, compute) / "pairs.json")


def preference_dataset_on_disk(cfg, pairs: dict, setting: str):
    """The training pairs as an Arrow dataset on disk: ``datasets`` then caches TRL's tokenization by
    fingerprint, so the runs of a replication share it."""
    from datasets import load_from_disk

    key = _key(cfg, "prefds", setting, pairs[setting]["train"])
    path = cached(
        "simpo-prefds", key, lambda tmp: preference_dataset(pairs[setting]["train"]).save_to_disk(str(tmp / "ds"))
    )
    return load_from_disk(str(path / "ds"))


def method_config(cfg, setting: str, method: str, *, use_tuned: bool = True, **override) -> dict:
    """Defaults from conf/method, then the tuned values for this setting, then explicit overrides."""
    m = OmegaConf.to_container(cfg.paper.methods[method], resolve=True)
    hp, lr = dict(m["hparams"]), m["lr"]
    t = cfg.paper.get("tuned")
    tuned = (OmegaConf.to_container(t, resolve=True) if t is not None else {}).get(setting, {}).get(method, {})
    if not use_tuned:
        tuned = {}
    for k, v in {**tuned, **override}.items():
        if k.startswith("dev_"):  # informational fields of the tuning record
            continue
        if k == "lr":
            lr = v
        else:
            hp[k] = v
    if "gamma_beta_ratio" in hp:  # SimPO's official parametrisation (γ/β) in a search grid: γ = ratio · β
        hp["gamma"] = float(hp.pop("gamma_beta_ratio")) * float(hp["beta"])
    return {"loss": m["loss"], "hparams": hp, "lr": lr}


def run_method(
    cfg,
    world: World,
    pairs: dict,
    setting: str,
    method: str,
    *,
    split: str = "eval",
    tag: str = "",
    use_tuned: bool = True,
    **override,
) -> dict:
    """Train one method in one setting (cached) and evaluate it on ``split`` prompts."""
    mc = method_config(cfg, setting, method, use_tuned=use_tuned, **override)
    key = _key(
        cfg,
        "run",
        setting,
        method,
        mc,
        split,
        to_dict(cfg.scale),
        to_dict(cfg.judge),
        to_dict(cfg.paper.eval),
        to_dict(cfg.toy_world),
        to_dict(cfg.paper.pairs),
        to_dict(cfg.paper.pool),
    )

    def compute(tmp: Path):
        from ...training.trl_hook import train_preference

        start = sft_model(cfg, world)
        if mc["loss"] is None:
            model, hist = start, []
        else:
            ds = preference_dataset_on_disk(cfg, pairs, setting)
            p = cfg.scale.pref
            model, hist = train_preference(
                start,
                world.tokenizer,
                ds,
                cfg.hardware,
                loss=mc["loss"],
                loss_kwargs=mc["hparams"],
                seed=int(cfg.seed),
                lr=float(mc["lr"]),
                batch_size=int(p.batch_size),
                epochs=float(p.epochs),
                max_steps=p.max_steps,
                out=tmp,
            )
        ev = evaluate_policy(
            model,
            world.tokenizer,
            world.judge,
            world.prompts[split],
            world.reference[split],
            temperature=float(cfg.paper.eval.temperature),
            max_new_tokens=int(cfg.paper.eval.max_new_tokens),
            seed=int(cfg.seed) + 17,
        )
        hp = mc["hparams"]
        diag = (
            {}
            if split == "dev"
            else pair_diagnostics(  # tuning needs only the dev win rates
                model,
                world.tokenizer,
                pairs[setting]["heldout"],
                ref_model=sft_model(cfg, world) if mc["loss"] else None,
                beta=float(hp.get("beta", 1.0)),
                gamma=float(hp.get("gamma", 0.0)),
            )
        )
        atomic_write_json(
            tmp / "result.json",
            {"setting": setting, "method": method, "config": mc, "eval": ev, "heldout": diag, "history": hist},
        )

    return read_json(cached("simpo-run", key, compute) / "result.json")


# ---------------------------------------------------------------------------------------------
# All of Table 4, Table 5 and Fig. 3, over seeds and cores


def table_jobs(cfg) -> list[tuple[str, str, str, dict]]:
    """(setting, method, tag, override): Table 4 (both settings, all methods), Table 5 ablations (C3), Fig. 3 γ sweep (C7)."""
    jobs = [(s, m, "", {}) for s in cfg.paper.settings for m in METHODS_TABLE4]
    for s in cfg.paper.settings:
        for name, ov in cfg.paper.ablations.items():
            jobs.append((s, "simpo", name, dict(ov)))
    for g in cfg.paper.gamma_sweep:
        jobs.append((sweep_setting(cfg), "simpo", f"gamma={g}", {"gamma": float(g)}))
    return jobs


def sweep_setting(cfg) -> str:
    return "instruct" if "instruct" in cfg.paper.settings else cfg.paper.settings[0]


def _unique_jobs(cfg) -> tuple[dict, dict]:
    """Distinct runs of ``table_jobs`` ({key: (setting, method, override)}) and the tags each one stands for."""
    unique: dict[str, tuple] = {}
    tags: dict[str, list] = {}
    for s, m, tag, ov in table_jobs(cfg):
        k = json.dumps([s, m, method_config(cfg, s, m, **ov)], sort_keys=True)
        unique.setdefault(k, (s, m, ov))
        tags.setdefault(k, []).append(tag)
    return unique, tags


def _stage(setting: str, method: str, override: dict) -> tuple:
    """A run as a stage of the graph: everything its job needs, so that a worker does not recompute the table."""
    return ("run", setting, method, json.dumps(override, sort_keys=True))


def stages(cfg) -> dict:
    """A seed's stage graph (``training.runner``): its SFT model and pairs ("prep"), then every distinct run of
    ``table_jobs`` on them, those that only evaluate (SFT: no loss, ≈ 2 s) last, so that the last seed's tail leaves
    less of a core idle."""
    unique, _ = _unique_jobs(cfg)
    runs = sorted(unique.values(), key=lambda j: method_config(cfg, j[0], j[1], **j[2])["loss"] is None)
    return {"prep": (), **{_stage(*j): ("prep",) for j in runs}}


def _job(cfg, stage):
    """One seed's SFT model and pairs (stage "prep"), or one run on them (a stage of :func:`_stage`)."""
    world = _world(cfg)
    if stage == "prep":
        return preference_pairs(cfg, world, sft_model(cfg, world))
    _, setting, method, override = stage
    return run_method(cfg, world, preference_pairs(cfg, world), setting, method, **json.loads(override))


def extra_seeds_cfg(cfg):
    """The config of the extra seeds ``paper.power`` gives the arms that PC and C1 compare (the seeds right after
    the evaluation seeds), or None when this scale has none."""
    power = cfg.paper.get("power") or {}
    n = int((power.get("extra_seeds") or {}).get(str(cfg.scale.name), 0))
    if n <= 0 or not power.get("arms"):
        return None
    out = with_seed(cfg, int(cfg.seed) + int(cfg.scale.n_seeds))
    out.scale.n_seeds = n
    return out


def extra_stages(cfg) -> dict:
    """The stage graph of an extra seed: its SFT model and pairs, then the Table 4 runs of ``paper.power.arms``."""
    arms = set(cfg.paper.power.arms)
    runs = [(s, m, {}) for s in cfg.paper.settings for m in METHODS_TABLE4 if m in arms]
    return {"prep": (), **{_stage(*j): ("prep",) for j in runs}}


def prepare(cfg, progress: bool = True) -> None:
    """SFT model and preference pairs of every seed (cached), seeds in parallel. A core left idle while the last
    seed's SFT trains starts the finished seeds' runs; those finish into the cache, where ``run_all`` finds them."""
    run_stages(cfg, _job, stages(cfg), desc="SimPO: SFT + pairs per seed", progress=progress, until=("prep",))


def pair_stats_by_seed(cfg) -> dict:
    """{seed: {setting: pair statistics}} of the training pairs (what a method can learn from the labels)."""
    out = {}
    for sd in seeds(cfg):
        c = with_seed(cfg, sd)
        pairs = preference_pairs(c)  # cached by prepare(): no world to build
        out[sd] = {s: pair_stats(pairs[s]["train"]) for s in cfg.paper.settings}
    return out


def run_all(cfg, progress: bool = True) -> dict:
    """Every job of ``table_jobs`` for every seed: {(seed, setting, method, tag): result}; the Table 4 runs of
    ``paper.power.arms`` also for the extra seeds (``extra_seeds_cfg``).

    A seed's runs start as soon as its SFT model and pairs exist, so both cores stay busy (``training.runner``).
    Jobs that resolve to the same configuration (the γ sweep's γ = tuned value is the main SimPO run) run once."""
    validate(cfg)
    unique, tags = _unique_jobs(cfg)
    res = run_stages(cfg, _job, stages(cfg), desc="SimPO: SFT + pairs, then train + evaluate", progress=progress)
    out: dict = {}
    for k, job in unique.items():
        for sd in seeds(cfg):
            for tag in tags[k]:
                out[(sd, job[0], job[1], tag)] = res[(sd, _stage(*job))]
    if (extra := extra_seeds_cfg(cfg)) is not None:  # the arms PC and C1 compare, on more seeds (paper.power)
        more = run_stages(
            extra, _job, extra_stages(cfg), desc="SimPO: SFT, DPO, SimPO on the extra seeds", progress=progress
        )
        for (sd, stage), r in more.items():
            if stage != "prep":
                out[(sd, stage[1], stage[2], "")] = r
    return {k: out[k] for k in sorted(out, key=lambda k: (k[0], k[1], METHODS_TABLE4.index(k[2]), k[3]))}
