"""Instruct-SkillMix (Kaur, Park, Goyal, Arora; arXiv 2408.14774) in the toy instruction world.

The paper's pipeline, stage by stage (card: ../shared/papers/instruct-skillmix.md):

1. *Skill extraction* — here one skill list, ``world.INVENTORY``: the toy world's composable (word) skills, which
   ``solve`` chains (``"sort+rev"``); k = 1 and k = 2 both draw from it, as the paper draws both from one list.
2. *Data generation* — for each example draw a random k-subset as ``1_generate_data.py`` does (shuffle the global
   list, take the first k: combinations repeat, order is random) and let the generator (the teacher persona,
   ``paper.teacher``) write the answer. Optionally replace the first share of responses with shirker answers
   (``2_generate_junk_data.py``).
3. *Vanilla SFT* of the base model (here the shared toy SFT policy) on that data, against SFT on a plain mix of
   the same size and skills written by the weaker demonstrator; the shirker ablation; a data-size curve.

Every arm trains with ``training.trl_hook.sft`` and is evaluated with ``metrics.evaluation.evaluate_policy`` on three
splits (``eval_splits``): the world's evaluation prompts within the inventory (the AlpacaEval stand-in, where the
claims are judged), the rest of them (what continued SFT forgets) and held-out skill-pair prompts (the positive
control); claims are judged on seed-paired per-prompt differences (``metrics.verdicts``), gated on ``PC``.
"""

from __future__ import annotations

from pathlib import Path

from ...core.config import ConfigError, to_dict
from ...core.io import atomic_write_json, cached, read_json
from ...metrics.evaluation import evaluate_policy
from ...training.data import sft_dataset
from ...training.runner import run_stages
from ...training.toy_stages import World, seeds, sft_model, stage_key, with_seed
from ...training.world_cache import world_for
from ...worlds.toy_lm import persona_from_cfg, persona_responses
from .world import (
    coverage,
    in_inventory,
    pair_eval_prompts,
    plain_prompts,
    skillmix_prompts,
    with_shirkers,
)

_CODE = ("papers/instruct_skillmix/experiment.py", "papers/instruct_skillmix/world.py")


def _key(cfg, *parts) -> dict:
    return stage_key(cfg, *parts, code=_CODE)


def budget(cfg):
    """This scale's data size, size curve, steps, batch and held-out pair count (``paper.budget.<scale>``)."""
    b = cfg.paper.budget.get(cfg.scale.name)
    if b is None:
        raise ConfigError(
            f"instruct-skillmix has no budget for scale={cfg.scale.name}; scales: "
            f"{', '.join(cfg.paper.budget)} (the paper's own settings are in paper.paper_scale, "
            "for the official pipeline on GPUs)"
        )
    if int(b.n_data) != max(int(n) for n in b.sizes):
        raise ConfigError(
            f"paper.budget.{cfg.scale.name}: n_data ({b.n_data}) must be the largest of sizes {list(b.sizes)}"
        )
    if int(cfg.paper.skills.k) != 2 or int(cfg.paper.skills.k_ablation) not in (1, 2):
        raise ConfigError(
            f"paper.skills: k must be 2 (the paper's main setting; the toy world composes two skills) and "
            f"k_ablation 1 or 2, got k={cfg.paper.skills.k}, k_ablation={cfg.paper.skills.k_ablation}"
        )
    if cfg.paper.shirker.kind not in ("junk", "brevity"):
        raise ConfigError(f"paper.shirker.kind must be junk or brevity, got {cfg.paper.shirker.kind!r}")
    if not all(0.0 <= float(s) < 1.0 for s in cfg.paper.shirker.shares) or 0.0 not in [
        float(s) for s in cfg.paper.shirker.shares
    ]:
        raise ConfigError(
            f"paper.shirker.shares must lie in [0, 1) and include 0.0, got {list(cfg.paper.shirker.shares)}"
        )
    return b


def validate(cfg) -> None:
    """Bad input raises ConfigError before any compute: this scale's budget, the skills and the shirkers."""
    budget(cfg)


# ---------------------------------------------------------------------------------------------
# The arms: (name, data source, size, shirker share)


def arms(cfg) -> list[dict]:
    """Every SFT arm of one seed: ISM k = 2 at N, the plain mix and k = 1 at N, the shirker shares, the smaller sizes."""
    b, sk = budget(cfg), cfg.paper.skills
    n = int(b.n_data)
    out = [
        {"name": "ism", "source": "ism", "k": int(sk.k), "n": n, "shirker": 0.0},
        {"name": "plain", "source": "plain", "k": 0, "n": n, "shirker": 0.0},
        {"name": f"ism_k{int(sk.k_ablation)}", "source": "ism", "k": int(sk.k_ablation), "n": n, "shirker": 0.0},
    ]
    out += [
        {"name": f"shirker={float(s):g}", "source": "ism", "k": int(sk.k), "n": n, "shirker": float(s)}
        for s in cfg.paper.shirker.shares
        if float(s) > 0
    ]
    out += [
        {"name": f"n={int(m)}", "source": "ism", "k": int(sk.k), "n": int(m), "shirker": 0.0}
        for m in sorted(b.sizes)
        if int(m) != n
    ]
    return out


def datasets(cfg, world: World) -> dict:
    """{"pair_eval": {prompts, reference}, "ism_k<k>": {prompts, combos, responses}, "plain": {...}} for this seed
    (cached). The k = 2 set is drawn once at N; smaller sizes and shirker arms are its prefixes and edits, so the
    arms differ only in what they vary."""
    b = budget(cfg)
    key = _key(
        cfg,
        "data",
        to_dict(cfg.paper.skills),
        to_dict(cfg.paper.teacher),
        to_dict(b),
        to_dict(cfg.toy_world.demonstrator),
        to_dict(cfg.toy_world.reference),
    )

    def compute(tmp: Path):
        held = set(world.prompts["eval"]) | set(world.prompts["dev"])
        atomic_write_json(tmp / "data.json", draw_datasets(cfg, held))

    return read_json(cached("skillmix-data", key, compute) / "data.json")


def draw_datasets(cfg, held: set) -> dict:
    """``datasets``' content for ``cfg.seed``, a pure function of the config: the held-out pair prompts and every
    arm's source data, none of it in ``held`` (the world's evaluation and dev prompts) or in the held-out pairs. Every
    source draws from the one skill inventory (``world.INVENTORY``)."""
    b, seed = budget(cfg), int(cfg.seed)
    pe = pair_eval_prompts(int(b.n_pair_eval), seed * 1000 + 501)
    ref = persona_from_cfg("reference", cfg.toy_world.reference)
    out = {"pair_eval": {"prompts": pe, "reference": persona_responses(ref, pe, seed * 1000 + 502)}}
    held = set(pe) | set(held)
    teacher = persona_from_cfg("teacher", cfg.paper.teacher)
    for k in sorted({int(cfg.paper.skills.k), int(cfg.paper.skills.k_ablation)}):
        ps, combos = skillmix_prompts(int(b.n_data), k, seed * 1000 + 510 + k, held)
        out[f"ism_k{k}"] = {
            "prompts": ps,
            "combos": [list(c) for c in combos],
            "responses": persona_responses(teacher, ps, seed * 1000 + 520 + k),
        }
    demo = persona_from_cfg("demonstrator", cfg.toy_world.demonstrator)
    ps = plain_prompts(int(b.n_data), seed * 1000 + 530, held)
    out["plain"] = {"prompts": ps, "responses": persona_responses(demo, ps, seed * 1000 + 531)}
    return out


def arm_data(cfg, data: dict, arm: dict) -> tuple[list[str], list[str], list[bool]]:
    """(prompts, responses, is_shirker) of one arm."""
    src = data["plain"] if arm["source"] == "plain" else data[f"ism_k{arm['k']}"]
    ps, rs = src["prompts"][: arm["n"]], src["responses"][: arm["n"]]
    sh = cfg.paper.shirker
    rs, flags = with_shirkers(
        ps, rs, arm["shirker"], str(sh.kind), int(cfg.seed) * 1000 + 540, int(sh.junk_filler_units)
    )
    return ps, rs, flags


def eval_splits(world: World, data: dict) -> dict:
    """{split: (prompts, reference answers)}: ``general`` — the world's evaluation prompts (the AlpacaEval stand-in)
    whose skills are in the inventory every arm draws from, where the claims are judged; ``uncovered`` — the rest of
    them (count/add/max), which no arm trains on: what continued SFT forgets; ``pairs`` — the held-out skill pairs
    (the paper's held-out ISM set), where the positive control is judged."""
    ps, refs = world.prompts["eval"], world.reference["eval"]
    cov = [in_inventory(p) for p in ps]
    return {
        "general": ([p for p, c in zip(ps, cov) if c], [r for r, c in zip(refs, cov) if c]),
        "pairs": (data["pair_eval"]["prompts"], data["pair_eval"]["reference"]),
        "uncovered": ([p for p, c in zip(ps, cov) if not c], [r for r, c in zip(refs, cov) if not c]),
    }


def _evaluate(cfg, world: World, data: dict, model) -> dict:
    e, seed = cfg.paper.eval, int(cfg.seed)
    kw = dict(temperature=float(e.temperature), max_new_tokens=int(e.max_new_tokens))
    out = {}
    for i, (split, (ps, ref)) in enumerate(eval_splits(world, data).items()):
        out[split] = {
            **evaluate_policy(model, world.tokenizer, world.judge, ps, ref, seed=seed + 17 + i, **kw),
            "prompts": list(ps),
        }
    return out


def run_arm(cfg, world: World, arm: dict | None) -> dict:
    """SFT the shared start on one arm's data (cached) and evaluate it; ``arm=None`` evaluates the start itself."""
    b = budget(cfg)
    key = _key(
        cfg,
        "run",
        arm,
        to_dict(b),
        float(cfg.paper.lr),
        to_dict(cfg.paper.shirker),
        to_dict(cfg.paper.teacher),
        to_dict(cfg.paper.skills),
        to_dict(cfg.paper.eval),
        to_dict(cfg.scale),
        to_dict(cfg.judge),
        to_dict(cfg.toy_world),
    )

    def compute(tmp: Path):
        from ...training.trl_hook import sft

        data = datasets(cfg, world)
        model, hist, stats = sft_model(cfg, world), [], {}
        if arm is not None:
            ps, rs, flags = arm_data(cfg, data, arm)
            model, hist = sft(
                model,
                world.tokenizer,
                sft_dataset(ps, rs),
                cfg.hardware,
                seed=int(cfg.seed),
                lr=float(cfg.paper.lr),
                batch_size=int(b.batch_size),
                steps=int(b.steps),
                out=tmp,
            )
            stats = {"n": len(ps), "shirkers": int(sum(flags))}
        atomic_write_json(
            tmp / "result.json",
            {"arm": arm, "data": stats, "eval": _evaluate(cfg, world, data, model), "history": hist},
        )

    return read_json(cached("skillmix-run", key, compute) / "result.json")


# ---------------------------------------------------------------------------------------------
# All arms over seeds and cores (core.parallel.Workers), as papers.simpo.run_all


def _job(cfg, stage: str) -> dict:
    world = world_for(cfg)
    sft_model(cfg, world)
    datasets(cfg, world)
    return run_arm(cfg, world, None if stage == "initial" else next(a for a in arms(cfg) if a["name"] == stage))


def coverage_by_seed(cfg) -> dict:
    """{seed: coverage matrix of that seed's k = 2 data at N} (reads the cached data)."""
    out = {}
    for sd in seeds(cfg):
        c = with_seed(cfg, sd)
        out[sd] = coverage([tuple(x) for x in datasets(c, world_for(c))[f"ism_k{int(cfg.paper.skills.k)}"]["combos"]])
    return out


def run_all(cfg, progress: bool = True) -> dict:
    """{(seed, arm name): result} for the start ("initial") and every arm of ``arms(cfg)``, every seed.

    Each seed's first job (its untrained start) builds and caches the shared SFT model and the data, so the
    arms of that seed only load them (``training.runner``)."""
    validate(cfg)
    names = [a["name"] for a in arms(cfg)]
    res = run_stages(
        cfg,
        _job,
        {"initial": (), **{n: ("initial",) for n in names}},
        desc="Instruct-SkillMix: SFT + evaluate every arm",
        progress=progress,
    )
    sds = seeds(cfg)
    return {
        **{(sd, "initial"): res[(sd, "initial")] for sd in sds},
        **{(sd, n): res[(sd, n)] for sd in sds for n in names},
    }
