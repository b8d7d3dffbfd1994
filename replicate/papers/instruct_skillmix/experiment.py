"""Instruct-SkillMix (Kaur, Park, Goyal, Arora; arXiv 2408.14774) in the toy instruction world.

The paper's pipeline, stage by stage (card: ../shared/papers/instruct-skillmix.md):

1. *Skill extraction* — here the toy world's skill inventory (``worlds.toy_lm.SKILLS``); its k = 2 combinations
   are the ordered pairs of distinct composable (word) skills, which ``solve`` chains (``"sort+rev"``).
2. *Data generation* — for each example draw a random k-subset as ``1_generate_data.py`` does (shuffle the global
   list, take the first k: combinations repeat, order is random) and let the generator (the teacher persona,
   strong and concise) write the answer. Optionally replace the first share of responses with shirker answers
   (``2_generate_junk_data.py``).
3. *Vanilla SFT* of the base model (here the shared toy SFT policy) on that data, against SFT on a plain mix of
   the same size written by the weaker demonstrator; the shirker ablation; a data-size curve.

Every arm trains with ``training.trl_hook.sft`` and is evaluated with ``metrics.evaluation.evaluate_policy`` on the
world's evaluation prompts (the AlpacaEval stand-in) and on held-out skill-pair prompts; claims are judged on
seed-paired per-prompt differences (``metrics.verdicts``), gated on the positive control ``PC``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf
from tqdm.auto import tqdm

from ...core.config import ConfigError, to_dict
from ...core.io import atomic_write_json, cached, content_hash, read_json
from ...core.parallel import Workers
from ...metrics.evaluation import evaluate_policy
from ...metrics.verdicts import (
    all_of,
    comparative_claim,
    gate_on_control,
    interval_claim,
    lc_group,
    paired_bootstrap_lc,
)
from ...training import data as D
from ...training.toy_stages import World, build_world, seeds, setup_torch, sft_model, stage_key, with_seed
from ...worlds.toy_lm import (
    FILLERS,
    OTHER_SKILLS,
    SKILLS,
    WORD_SKILLS,
    _word,
    make_prompts,
    persona_from_cfg,
    persona_responses,
    solve,
)

# ``_word`` is the world's word distribution (3–5 letters), imported rather than copied so that skill-pair prompts
# look like the world's own. Nothing here is added to worlds/toy_lm.py: every cached LM-world stage hashes that file.

_CODE = ("papers/instruct_skillmix/experiment.py",)
PAIR_SKILLS = tuple(WORD_SKILLS)  # the composable skills
SKILL_PAIRS = tuple((a, b) for a in PAIR_SKILLS for b in PAIR_SKILLS if a != b)  # 30 ordered pairs


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


# ---------------------------------------------------------------------------------------------
# Stages 1–2: skills, combinations, prompts, responses


def skill_inventory(k: int) -> tuple[str, ...]:
    """Stage 1: the skill list a k-combination is drawn from (k = 1: every skill; k = 2: the composable ones)."""
    if k == 1:
        return SKILLS
    if k == 2:
        return PAIR_SKILLS
    raise ConfigError(f"the toy world composes at most two skills per prompt (k ∈ {{1, 2}}), got k={k}")


def sample_combinations(n: int, k: int, seed: int) -> list[tuple[str, ...]]:
    """``get_combinations`` of 1_generate_data.py: shuffle the global skill list in place and take the first k, n
    times. Combinations can repeat and come in random order (card Pitfalls)."""
    skills = list(skill_inventory(k))
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        rng.shuffle(skills)
        out.append(tuple(skills[:k]))
    return out


def combination_prompt(combo: tuple[str, ...], rng: np.random.Generator) -> str:
    """A prompt that needs every skill of ``combo`` (applied left to right, as ``solve`` does)."""
    if len(combo) == 1 and combo[0] in OTHER_SKILLS:
        return f"{combo[0]}:{OTHER_SKILLS[combo[0]][0](rng)}"
    if not all(s in WORD_SKILLS for s in combo):
        raise ValueError(f"only word skills compose, got {combo}")
    return f"{'+'.join(combo)}:{_word(rng)}"


def skillmix_prompts(n: int, k: int, seed: int, exclude: set = frozenset()) -> tuple[list[str], list[tuple]]:
    """n prompts of random k-combinations, none in ``exclude`` (held-out prompts are never trained on)."""
    rng = np.random.default_rng(seed + 1)
    prompts, combos = [], sample_combinations(n, k, seed)
    for c in combos:
        p = combination_prompt(c, rng)
        while p in exclude:
            p = combination_prompt(c, rng)
        prompts.append(p)
    return prompts, combos


def pair_eval_prompts(n: int, seed: int) -> list[str]:
    """Held-out skill-pair prompts, balanced over the 30 pairs (n // 30 each, the rest to the first pairs), distinct."""
    rng = np.random.default_rng(seed)
    out, seen = [], set()
    for i in range(n):
        combo = SKILL_PAIRS[i % len(SKILL_PAIRS)]
        p = combination_prompt(combo, rng)
        while p in seen:
            p = combination_prompt(combo, rng)
        seen.add(p)
        out.append(p)
    return out


def shirker_response(prompt: str, kind: str, rng: np.random.Generator, filler_units: int = 4) -> str:
    """A low-quality answer (2_generate_junk_data.py). ``junk``: lazy and long — the input echoed back unprocessed
    followed by filler; ``brevity``: cut short — the first half of the correct answer."""
    if kind == "junk":
        return prompt.split(":", 1)[1].replace(" ", "") + "".join(rng.choice(FILLERS) for _ in range(filler_units))
    if kind == "brevity":
        truth = solve(prompt)
        return truth[: max(1, len(truth) // 2)]
    raise ValueError(f"shirker kind must be junk or brevity, got {kind!r}")


def with_shirkers(
    prompts, responses, share: float, kind: str, seed: int, filler_units: int = 4
) -> tuple[list, list[bool]]:
    """Replace the responses of the first round(share·n) examples (the paper regenerates the first 200 of 1000)."""
    m = int(round(share * len(prompts)))
    rng = np.random.default_rng(seed)
    out = [
        shirker_response(p, kind, rng, filler_units) if i < m else r
        for i, (p, r) in enumerate(zip(prompts, responses))
    ]
    return out, [i < m for i in range(len(prompts))]


def coverage(combos) -> np.ndarray:
    """Counts of (first skill, second skill) over k = 2 combinations: rows and columns in ``PAIR_SKILLS`` order."""
    idx = {s: i for i, s in enumerate(PAIR_SKILLS)}
    c = np.zeros((len(PAIR_SKILLS), len(PAIR_SKILLS)), dtype=int)
    for a, b in combos:
        c[idx[a], idx[b]] += 1
    return c


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
        seed = int(cfg.seed)
        pe = pair_eval_prompts(int(b.n_pair_eval), seed * 1000 + 501)
        ref = persona_from_cfg("reference", cfg.toy_world.reference)
        out = {"pair_eval": {"prompts": pe, "reference": persona_responses(ref, pe, seed * 1000 + 502)}}
        held = set(pe) | set(world.prompts["eval"]) | set(world.prompts["dev"])
        teacher = persona_from_cfg("teacher", cfg.paper.teacher)
        for k in sorted({int(cfg.paper.skills.k), int(cfg.paper.skills.k_ablation)}):
            ps, combos = skillmix_prompts(int(b.n_data), k, seed * 1000 + 510 + k, held)
            out[f"ism_k{k}"] = {
                "prompts": ps,
                "combos": [list(c) for c in combos],
                "responses": persona_responses(teacher, ps, seed * 1000 + 520 + k),
            }
        demo = persona_from_cfg("demonstrator", cfg.toy_world.demonstrator)
        ps = [p for p in make_prompts(3 * int(b.n_data), seed * 1000 + 530) if p not in held][: int(b.n_data)]
        out["plain"] = {"prompts": ps, "responses": persona_responses(demo, ps, seed * 1000 + 531)}
        atomic_write_json(tmp / "data.json", out)

    return read_json(cached("skillmix-data", key, compute) / "data.json")


def arm_data(cfg, data: dict, arm: dict) -> tuple[list[str], list[str], list[bool]]:
    """(prompts, responses, is_shirker) of one arm."""
    src = data["plain"] if arm["source"] == "plain" else data[f"ism_k{arm['k']}"]
    ps, rs = src["prompts"][: arm["n"]], src["responses"][: arm["n"]]
    sh = cfg.paper.shirker
    rs, flags = with_shirkers(
        ps, rs, arm["shirker"], str(sh.kind), int(cfg.seed) * 1000 + 540, int(sh.junk_filler_units)
    )
    return ps, rs, flags


def _evaluate(cfg, world: World, data: dict, model) -> dict:
    e, seed = cfg.paper.eval, int(cfg.seed)
    kw = dict(temperature=float(e.temperature), max_new_tokens=int(e.max_new_tokens))
    pe = data["pair_eval"]
    out = {}
    for i, (split, ps, ref) in enumerate(
        (("general", world.prompts["eval"], world.reference["eval"]), ("pairs", pe["prompts"], pe["reference"]))
    ):
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
                D.sft_dataset(ps, rs),
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


@lru_cache(maxsize=1)
def _world_for(plain_key: str, plain_json: str) -> World:
    import json

    return build_world(OmegaConf.create(json.loads(plain_json)))


def _world(cfg) -> World:
    """Building a world costs ~0.6 s; a worker process keeps the last one."""
    import json

    plain = {
        "scale": to_dict(cfg.scale),
        "toy_world": to_dict(cfg.toy_world),
        "judge": to_dict(cfg.judge),
        "seed": int(cfg.seed),
    }
    return _world_for(content_hash(plain), json.dumps(plain))


def _job(plain: dict, seed: int, arm: dict | None) -> dict:
    cfg = with_seed(OmegaConf.create(plain), seed)
    setup_torch(cfg)
    world = _world(cfg)
    sft_model(cfg, world)
    datasets(cfg, world)
    return run_arm(cfg, world, arm)


def coverage_by_seed(cfg) -> dict:
    """{seed: coverage matrix of that seed's k = 2 data at N} (reads the cached data)."""
    out = {}
    for sd in seeds(cfg):
        c = with_seed(cfg, sd)
        out[sd] = coverage([tuple(x) for x in datasets(c, _world(c))[f"ism_k{int(cfg.paper.skills.k)}"]["combos"]])
    return out


def run_all(cfg, progress: bool = True) -> dict:
    """{(seed, arm name): result} for the start ("initial") and every arm of ``arms(cfg)``, every seed.

    Each seed's first job (its untrained start) builds and caches the shared SFT model and the data, so the
    arms of that seed only load them."""
    plain = OmegaConf.to_container(cfg, resolve=True)
    hw = cfg.hardware
    out: dict = {}
    with Workers(int(hw.get("workers", 1) or 1), int(hw.get("torch_threads") or 1)) as pool:
        firsts = {sd: pool.submit(_job, plain, sd, None) for sd in seeds(cfg)}
        for sd, f in firsts.items():
            out[(sd, "initial")] = f.result()
        futs = {(sd, a["name"]): pool.submit(_job, plain, sd, a) for sd in seeds(cfg) for a in arms(cfg)}
        for k, f in tqdm(futs.items(), desc="SFT + evaluate (all arms, seeds)", disable=not progress):
            out[k] = f.result()
    return out


# ---------------------------------------------------------------------------------------------
# Metrics and claims

SPLITS = ("general", "pairs")
METRICS = ("win_rate", "lc_win_rate", "avg_length", "oracle_quality")


def arm_names(runs: dict) -> list[str]:
    return list(dict.fromkeys(k[1] for k in runs))


def _seeds(runs: dict) -> list[int]:
    return sorted({k[0] for k in runs})


def is_composition(prompt: str) -> bool:
    return "+" in prompt.split(":", 1)[0]


def flat_metrics(runs: dict, coverage_by_seed: dict) -> tuple[dict, dict]:
    """(metrics, seed_spread): seed means, and per-seed values for ``make check``. Adds the general split's oracle
    quality on composition and single-skill prompts, and the pair coverage of each seed's k = 2 data at N
    (``coverage_by_seed``: {seed: matrix from ``coverage``})."""
    per_seed: dict[str, list] = {}
    for (_sd, a), r in sorted(runs.items()):
        for s in SPLITS:
            ev = r["eval"][s]
            for k in METRICS:
                per_seed.setdefault(f"{a}.{s}.{k}", []).append(ev[k])
        ev = r["eval"]["general"]
        comp, q = np.array([is_composition(p) for p in ev["prompts"]]), np.asarray(ev["oracle_qualities"])
        per_seed.setdefault(f"{a}.general.oracle_quality_composition", []).append(
            float(q[comp].mean()) if comp.any() else float("nan")
        )
        per_seed.setdefault(f"{a}.general.oracle_quality_single", []).append(
            float(q[~comp].mean()) if (~comp).any() else float("nan")
        )
    off = ~np.eye(len(PAIR_SKILLS), dtype=bool)
    for _sd, cov in sorted(coverage_by_seed.items()):
        per_seed.setdefault("coverage.pairs_covered", []).append(int((cov[off] > 0).sum()))
        per_seed.setdefault("coverage.min_count", []).append(int(cov[off].min()))
        per_seed.setdefault("coverage.max_count", []).append(int(cov[off].max()))
    metrics = {k: float(np.mean(v)) for k, v in per_seed.items()}
    return metrics, {k: [float(x) for x in v] for k, v in per_seed.items() if len(v) > 1}


def summary(runs: dict):
    """One row per arm and split: seed means of the evaluation metrics."""
    import pandas as pd

    rows = []
    for a in arm_names(runs):
        for s in SPLITS:
            evs = [runs[(sd, a)]["eval"][s] for sd in _seeds(runs)]
            rows.append({"arm": a, "split": s, **{k: float(np.mean([e[k] for e in evs])) for k in METRICS}})
    return pd.DataFrame(rows)


def q_diff(cid: str, runs: dict, a: str, b: str, split: str, effect: float | None = None) -> dict:
    """Oracle quality of arm a minus arm b on the same prompts, per seed (``split``: general or pairs)."""
    d = [
        np.asarray(runs[(sd, a)]["eval"][split]["oracle_qualities"])
        - np.asarray(runs[(sd, b)]["eval"][split]["oracle_qualities"])
        for sd in _seeds(runs)
    ]
    return comparative_claim(cid, "", d, rule=f"q({a}) − q({b}) > 0 on {split} prompts", effect=effect)


def lc_diff(cid: str, runs: dict, a: str, b: str, split: str = "general") -> dict:
    """LC win rate (vs the reference policy) of arm a minus arm b, the GLM refit on each bootstrap resample."""
    groups = [lc_group(runs[(sd, a)]["eval"][split], runs[(sd, b)]["eval"][split]) for sd in _seeds(runs)]
    return interval_claim(cid, "", paired_bootstrap_lc(groups), rule=f"lc({a}) − lc({b}) > 0 on {split} prompts")


def claims(runs: dict, cfg) -> list[dict]:
    """PC, C1 (ISM vs plain mix), C2 (k = 2 vs k = 1), C3 (shirkers), C4 (data size); gated on PC."""
    k1 = f"ism_k{int(cfg.paper.skills.k_ablation)}"
    top = max(float(s) for s in cfg.paper.shirker.shares)
    sizes = sorted(int(n) for n in budget(cfg).sizes)
    small = f"n={sizes[0]}" if sizes[0] != sizes[-1] else "ism"
    out = [
        all_of(
            "PC",
            "Positive control: SFT on the teacher's skill-pair data beats its start (the shared SFT policy) on "
            "held-out skill-pair prompts by a wide margin (≥ 0.05 oracle quality)",
            [q_diff("pairs.q", runs, "ism", "initial", "pairs", effect=0.05)],
            rule="q(ism) − q(initial) > 0 on held-out pair prompts, interval not below 0.05",
        ),
        all_of(
            "C1",
            "SFT on ISM data beats SFT on a plain mix of the same size (LC win rate and oracle quality on the "
            "general evaluation prompts)",
            [lc_diff("lc", runs, "ism", "plain"), q_diff("q", runs, "ism", "plain", "general")],
            rule="lc(ism) − lc(plain) > 0 and q(ism) − q(plain) > 0, general prompts",
        ),
        all_of(
            "C2",
            "Skill mixing (k = 2) beats single-skill data (k = 1) at the same size",
            [lc_diff("lc", runs, "ism", k1), q_diff("q", runs, "ism", k1, "general")],
            rule=f"lc(ism) − lc({k1}) > 0 and q(ism) − q({k1}) > 0, general prompts",
        ),
        all_of(
            "C3",
            f"Shirkers degrade the model: {top:.0%} low-quality ({cfg.paper.shirker.kind}) answers do worse "
            "than clean data",
            [lc_diff("lc", runs, "ism", f"shirker={top:g}"), q_diff("q", runs, "ism", f"shirker={top:g}", "general")],
            rule=f"lc(ism) − lc(shirker={top:g}) > 0 and q(ism) − q(shirker={top:g}) > 0, general prompts",
        ),
        all_of(
            "C4",
            f"More ISM data helps: N = {sizes[-1]} beats N = {sizes[0]} (the paper's 4K vs 1K)",
            [lc_diff("lc", runs, "ism", small), q_diff("q", runs, "ism", small, "general")],
            rule=f"lc(ism) − lc({small}) > 0 and q(ism) − q({small}) > 0, general prompts",
        ),
    ]
    return gate_on_control(out)


def render_table(doc: dict) -> str:
    """Per arm: LC / raw win rate, length and oracle quality on the general prompts; oracle quality on held-out pairs."""
    m = doc["metrics"]
    arms_ = list(dict.fromkeys(k.split(".general.")[0] for k in m if ".general.lc_win_rate" in k))
    n = len(doc.get("seeds", [])) or 1
    lines = [
        f"_Means over {n} seed(s); the claims below carry the intervals. Paper: LLaMA-3-8B-Base + SFT on 4K ISM "
        "examples, AlpacaEval 2.0 LC 42.76 % (abstract); no per-arm tables were released (card)._\n",
        "| arm | LC WR | WR | avg len | oracle q (general) | q compositions | q single skills | q held-out pairs |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for a in arms_:
        g = lambda k, a=a: m.get(f"{a}.general.{k}", float("nan"))
        lines.append(
            f"| {a} | {g('lc_win_rate'):.1f} | {g('win_rate'):.1f} | {g('avg_length'):.1f} | {g('oracle_quality'):.3f} | "
            f"{g('oracle_quality_composition'):.3f} | {g('oracle_quality_single'):.3f} | "
            f"{m.get(f'{a}.pairs.oracle_quality', float('nan')):.3f} |"
        )
    return "\n".join(lines)
