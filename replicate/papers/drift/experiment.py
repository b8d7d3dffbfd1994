"""DRIFT (Wang et al. 2025, arXiv 2510.02341): iterative DPO that keeps real *dissatisfied* responses as fixed negatives
and samples the positives from the current policy conditioned on the user's feedback — in the toy instruction world.

    shared SFT π_sft ──(revision dialogues: the deployed Instruct model's ability to act on feedback)──► π_0
    deployment logs: a weak deployed assistant answers the log prompts; users are dissatisfied (DSAT) unless the answer
      is exactly right, and say what was wrong in a feedback message f (known truth); explicit satisfaction is scarce
    arms, each T rounds of ``training.iterative.run_loop`` from π_0, same prompts, DPO β, lr and epochs:
      DRIFT    chosen y⁺ ~ π_{t−1}(·| x ⊕ y⁻ ⊕ f), rejected = the logged DSAT answer y⁻, trained on x alone
      IterDPO  chosen/rejected = the judge's best/worst of N samples from π_{t−1}(·|x)
      SPIN     chosen = the demonstrator's (SFT-data) answer, rejected = a sample from π_{t−1}(·|x)

Claims (card numbering) are judged by ``claims`` on seed-paired differences (``metrics.verdicts``), gated on the
positive control PC; C2 and C3 need the real models and are not judged.
"""

from __future__ import annotations

from concurrent.futures import FIRST_COMPLETED, wait
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf
from tqdm.auto import tqdm

from ...core.config import ConfigError, at_scale, to_dict
from ...core.io import atomic_write_json, cached, read_json
from ...core.parallel import Workers
from ...metrics.verdicts import (
    all_of,
    comparative_claim,
    gate_on_control,
    interval_claim,
    lc_group,
    paired_bootstrap,
    paired_bootstrap_lc,
)
from ...training import iterative as I
from ...training.pair_rules import drift_pairs  # noqa: F401  (the rule, shared with the real-model path)
from ...training.toy_stages import World, load_policy, seeds, setup_torch, sft_key, sft_model, stage_key, with_seed
from ...training.world_cache import world_for
from ...worlds.toy_lm import _valid_tail, oracle_quality, persona_from_cfg, persona_responses, solve, split_response

_CODE = ("papers/drift/experiment.py", "training/pair_rules.py")
ARMS = ("drift", "iterdpo", "spin")


def validate(cfg) -> None:
    """Bad input raises ConfigError before any compute."""
    p = cfg.paper
    if cfg.scale.name in ("small", "paper"):
        raise ConfigError(
            "drift's toy world runs at scale=ci or tiny; at scale=small the notebook runs its real-model "
            "cells (paper.real); the paper's own settings are paper.paper_scale in conf/paper/drift.yaml"
        )
    n_logs, n_pref = int(at_scale(cfg, p.logs.n_prompts)), int(cfg.scale.world.n_pref_prompts)
    if not 1 <= n_logs <= n_pref:
        raise ConfigError(f"paper.logs.n_prompts={n_logs} must be in [1, scale.world.n_pref_prompts={n_pref}]")
    if int(at_scale(cfg, p.rounds)) < 1:
        raise ConfigError("paper.rounds must be ≥ 1")
    if int(p.iterdpo.n_samples) < 2:
        raise ConfigError("paper.iterdpo.n_samples must be ≥ 2 (best vs worst of N)")
    if not 0.0 <= float(p.logs.sat_report_rate) <= 1.0:
        raise ConfigError("paper.logs.sat_report_rate must lie in [0, 1]")
    n_cap = int(at_scale(cfg, p.capability.n_dialogues))
    if n_cap > int(cfg.scale.world.n_sft):
        raise ConfigError(
            f"paper.capability.n_dialogues={n_cap} exceeds the world's {cfg.scale.world.n_sft} SFT prompts"
        )
    if int(at_scale(cfg, p.eval.n_eval)) > int(cfg.scale.world.n_eval):
        raise ConfigError(f"paper.eval.n_eval exceeds scale.world.n_eval={cfg.scale.world.n_eval}")
    for a in p.arms:
        if a not in ARMS:
            raise ConfigError(f"unknown arm {a!r}; arms: {ARMS}")


# ---------------------------------------------------------------------------------------------
# The world's deployment logs: dissatisfaction with a feedback message naming what was wrong (known truth)


def feedback(prompt: str, response: str) -> str | None:
    """The user's follow-up after an answer (WildFeedback's ``user_preference``): None when satisfied (the answer is
    exactly right), else a message naming the first thing that is wrong, in the world's characters:
    ``"no, <i> is <c>"`` (1-based position of the first wrong character and the right one), ``"no, too long"``,
    ``"no, too short"``, or ``"no, junk at end"`` (a malformed tail)."""
    ans, tail = split_response(response)
    truth = solve(prompt)
    if tail and not _valid_tail(tail):
        return "no, junk at end"
    if ans == truth:
        return None
    for i, (a, b) in enumerate(zip(ans, truth)):
        if a != b:
            return f"no, {i + 1} is {b}"
    return "no, too long" if len(ans) > len(truth) else "no, too short"


def revise(answer: str, fb: str) -> str:
    """A reviser who acts on the feedback: the hint ``"no, i is c"`` sets character i of the answer part to c (other
    messages leave it unchanged). Builds π_0's revision-dialogue targets; never used on the policy's own samples."""
    ans, tail = split_response(answer)
    parts = fb.split()
    if len(parts) == 4 and parts[0] == "no," and parts[2] == "is" and parts[1].isdigit():
        i = int(parts[1]) - 1
        if 0 <= i < len(ans):
            ans = ans[:i] + parts[3] + ans[i + 1 :]
    return ans + tail


def hindsight_conversation(prompt: str, dsat: str, fb: str) -> list[dict]:
    """x ⊕ y⁻ ⊕ f (card, Algorithm step 3a): the policy sees its bad answer and the complaint, then answers again.
    DEVIATION: no separate "System: give an improved response" line (the toy chat template has no system role)."""
    return [
        {"role": "user", "content": prompt},
        {"role": "assistant", "content": dsat},
        {"role": "user", "content": fb},
    ]


def deployment_logs(cfg, world: World) -> dict:
    """The toy WildFeedback (cached): the deployed assistant's answers to the log prompts; ``dsat`` items (prompt,
    rejected answer, feedback) and the scarce explicit ``sat`` reports (correct answers a user bothered to approve)."""
    lg = cfg.paper.logs
    key = stage_key(cfg, "drift-logs", to_dict(lg), at_scale(cfg, lg.n_prompts), code=_CODE)

    def compute(tmp: Path):
        ps = world.prompts["pref"][: int(at_scale(cfg, lg.n_prompts))]
        deployed = persona_from_cfg("deployed", lg.deployed)
        ys = persona_responses(deployed, ps, int(cfg.seed) * 1000 + 601)
        rng = np.random.default_rng(int(cfg.seed) * 1000 + 602)
        out = {
            "dsat": {"prompt": [], "rejected": [], "feedback": []},
            "sat": {"prompt": [], "response": []},
            "n_logged": len(ps),
        }
        for p, y in zip(ps, ys):
            f = feedback(p, y)
            if f is not None:
                out["dsat"]["prompt"].append(p), out["dsat"]["rejected"].append(y), out["dsat"]["feedback"].append(f)
            elif rng.random() < float(lg.sat_report_rate):
                out["sat"]["prompt"].append(p), out["sat"]["response"].append(y)
        demo = persona_from_cfg("demonstrator", cfg.toy_world.demonstrator)
        # SPIN's "real" responses: the SFT data distribution (the demonstrator) on the same DSAT prompts
        out["dsat"]["demonstration"] = persona_responses(demo, out["dsat"]["prompt"], int(cfg.seed) * 1000 + 603)
        atomic_write_json(tmp / "logs.json", out)

    return read_json(cached("drift-logs", key, compute) / "logs.json")


# ---------------------------------------------------------------------------------------------
# π_0: the shared SFT policy taught to act on feedback (the Instruct model DRIFT starts from)


def revision_data(cfg, world: World) -> dict:
    """Revision dialogues on the world's SFT prompts (disjoint from the log and evaluation prompts): the deployed
    assistant's wrong answer, the user's feedback, and the reviser's answer (the demonstrator's answer with the hint
    applied); plus single-turn demonstrator answers (``single_turn_share`` as many) so single-turn skill is kept."""
    c, seed = cfg.paper.capability, int(cfg.seed)
    n = int(at_scale(cfg, c.n_dialogues))
    ps = world.prompts["sft"]
    deployed = persona_from_cfg("deployed", cfg.paper.logs.deployed)
    demo = persona_from_cfg("demonstrator", cfg.toy_world.demonstrator)
    bad = persona_responses(deployed, ps, seed * 1000 + 611)
    good = persona_responses(demo, ps, seed * 1000 + 612)
    rows = {"prompt": [], "completion": []}
    for p, y, d in zip(ps, bad, good):
        f = feedback(p, y)
        if f is None:
            continue
        rows["prompt"].append(hindsight_conversation(p, y, f))
        rows["completion"].append([{"role": "assistant", "content": revise(d, f)}])
        if len(rows["prompt"]) == n:
            break
    m = int(round(float(c.single_turn_share) * len(rows["prompt"])))
    rng = np.random.default_rng(seed * 1000 + 613)
    for j in rng.choice(len(ps), size=m, replace=False):
        rows["prompt"].append([{"role": "user", "content": ps[int(j)]}])
        rows["completion"].append([{"role": "assistant", "content": good[int(j)]}])
    return rows


def start_key(cfg) -> dict:
    c = cfg.paper.capability
    return stage_key(
        cfg,
        "drift-pi0",
        sft_key(cfg),
        to_dict(c),
        at_scale(cfg, c.n_dialogues),
        at_scale(cfg, c.steps),
        to_dict(cfg.paper.logs.deployed),
        code=_CODE,
    )


def start_policy(cfg, world: World):
    """π_0 (cached): TRL SFTTrainer from the shared SFT model on ``revision_data``."""
    c = cfg.paper.capability

    def compute(tmp: Path):
        from datasets import Dataset

        from ...training.trl_hook import sft

        ds = Dataset.from_dict(revision_data(cfg, world)).shuffle(seed=int(cfg.seed))
        model, hist = sft(
            sft_model(cfg, world),
            world.tokenizer,
            ds,
            cfg.hardware,
            seed=int(cfg.seed),
            lr=float(c.lr),
            batch_size=int(c.batch_size),
            steps=int(at_scale(cfg, c.steps)),
            out=tmp,
        )
        model.save_pretrained(tmp / "model")
        world.tokenizer.save_pretrained(tmp / "model")
        atomic_write_json(tmp / "history.json", hist)

    return load_policy(cached("drift-pi0", start_key(cfg), compute) / "model")


# ---------------------------------------------------------------------------------------------
# Pair rules (pure) and the arms' round builders


def _with_items(pairs: dict, prompts: list[str]) -> dict:
    """Add the log index of each pair (prompts are distinct within a split)."""
    idx = {p: i for i, p in enumerate(prompts)}
    return {**pairs, "item": [idx[p] for p in pairs["prompt"]]}


def _sample_kw(cfg) -> dict:
    s = cfg.paper.sample
    return dict(temperature=float(s.temperature), top_p=float(s.top_p), max_new_tokens=int(s.max_new_tokens))


def builder(cfg, logs: dict, arm: str):
    """The round builder of one arm (``training.iterative.Builder``)."""
    items = logs["dsat"]
    kw = _sample_kw(cfg)

    def drift(ctx: I.RoundContext) -> dict:
        convs = [
            hindsight_conversation(p, y, f) for p, y, f in zip(items["prompt"], items["rejected"], items["feedback"])
        ]
        pos = [c[0] for c in ctx.sample(convs, **kw)]
        # diagnostic on the first pair_probe items: the same policy without the feedback (the value of conditioning on it)
        plain = [
            c[0]
            for c in ctx.sample(items["prompt"][: int(at_scale(cfg, cfg.paper.eval.pair_probe))], seed_offset=7, **kw)
        ]
        pairs = drift_pairs(items, pos)
        qp = [oracle_quality(x, y) for x, y in zip(items["prompt"], pos)]
        pairs["_extras"] = {
            "q_positive": qp,
            "q_negative": [oracle_quality(x, y) for x, y in zip(items["prompt"], items["rejected"])],
            "q_unconditioned": [oracle_quality(x, y) for x, y in zip(items["prompt"], plain)],
            "item": pairs["item"],
        }
        return pairs

    def iterdpo(ctx: I.RoundContext) -> dict:
        ps = items["prompt"]
        cands = ctx.sample(ps, n=int(cfg.paper.iterdpo.n_samples), **kw)
        ctx.progress("label")
        pairs = _with_items(I.best_vs_worst(ps, cands, I.judge_scores(ctx.world.judge, ps, cands)), ps)
        pairs["_extras"] = {"item": pairs["item"]}
        return pairs

    def spin(ctx: I.RoundContext) -> dict:
        ps = items["prompt"]
        own = [c[0] for c in ctx.sample(ps, **kw)]
        pairs = _with_items(I.spin_pairs(ps, items["demonstration"], own), ps)
        pairs["_extras"] = {"item": pairs["item"]}
        return pairs

    return {"drift": drift, "iterdpo": iterdpo, "spin": spin}[arm]


def specs(cfg) -> tuple[I.TrainSpec, I.EvalSpec]:
    t, e = cfg.paper.train, cfg.paper.eval
    return (
        I.TrainSpec(
            loss="dpo",
            loss_kwargs={"beta": float(t.beta)},
            lr=float(t.lr),
            batch_size=int(t.batch_size),
            epochs=float(t.epochs),
            max_steps=at_scale(cfg, t.max_steps),
            scheduler=str(t.scheduler),
        ),
        I.EvalSpec(
            n_eval=int(at_scale(cfg, e.n_eval)),
            temperature=float(e.temperature),
            max_new_tokens=int(e.max_new_tokens),
            n_diverse=int(e.n_diverse),
            diverse_prompts=int(at_scale(cfg, e.diverse_prompts)),
            diverse_temperature=float(e.diverse_temperature),
            q_high=float(e.q_high),
            pair_probe=int(at_scale(cfg, e.pair_probe)),
        ),
    )


def run_arm(cfg, world: World, arm: str, progress: bool = False) -> list[dict]:
    """T rounds of one arm from π_0 (every round cached): records of rounds 0..T (``iterative.run_loop``)."""
    logs = deployment_logs(cfg, world)
    train, evals = specs(cfg)
    start = I.Start(start_key(cfg), lambda: start_policy(cfg, world))
    return I.run_loop(
        cfg,
        world,
        name=f"drift-{arm}",
        start=start,
        build=builder(cfg, logs, arm),
        train=train,
        evals=evals,
        rounds=int(at_scale(cfg, cfg.paper.rounds)),
        key_parts=(
            arm,
            to_dict(cfg.paper.logs),
            to_dict(cfg.paper.sample),
            to_dict(cfg.paper.iterdpo),
            at_scale(cfg, cfg.paper.logs.n_prompts),
            to_dict(cfg.judge),
            to_dict(cfg.toy_world),
        ),
        code=_CODE,
        progress=progress,
    )


# ---------------------------------------------------------------------------------------------
# All arms over seeds and cores


def _job(plain: dict, seed: int, arm: str | None):
    cfg = with_seed(OmegaConf.create(plain), seed)
    setup_torch(cfg)
    world = world_for(cfg)
    if arm is None:  # a seed's first job: π_0 and the logs, so that its arms only load them
        start_policy(cfg, world)
        return deployment_logs(cfg, world)
    return run_arm(cfg, world, arm)


def run_all(cfg, progress: bool = True) -> dict:
    """{"logs": {seed: logs}, "runs": {(seed, arm): records of rounds 0..T}} for every seed and arm."""
    validate(cfg)
    plain = OmegaConf.to_container(cfg, resolve=True)
    hw = cfg.hardware
    out: dict = {"logs": {}, "runs": {}}
    arms = list(cfg.paper.arms)
    with Workers(int(hw.get("workers", 1) or 1), int(hw.get("torch_threads") or 1)) as pool:
        futs = {pool.submit(_job, plain, sd, None): (sd, None) for sd in seeds(cfg)}
        bar = tqdm(
            total=len(seeds(cfg)) * (1 + len(arms)), desc="DRIFT: π_0 + logs, then arms × rounds", disable=not progress
        )
        while futs:
            done, _ = wait(list(futs), return_when=FIRST_COMPLETED)
            for f in done:
                sd, arm = futs.pop(f)
                bar.update(1)
                if arm is None:
                    out["logs"][sd] = f.result()
                    for a in arms:
                        futs[pool.submit(_job, plain, sd, a)] = (sd, a)
                else:
                    out["runs"][(sd, arm)] = f.result()
        bar.close()
    return out


# ---------------------------------------------------------------------------------------------
# Metrics, curves, claims

CURVE = ("oracle_quality", "win_rate", "lc_win_rate", "avg_length", "diversity")


def _seeds(res: dict) -> list[int]:
    return sorted({k[0] for k in res["runs"]})


def arm_list(res: dict) -> list[str]:
    return list(dict.fromkeys(k[1] for k in res["runs"]))


def curves(res: dict):
    """One row per (arm, round, seed): the per-round curves (evaluation vs the reference policy, pair margins, grad norm)."""
    import pandas as pd

    rows = []
    for (sd, a), recs in sorted(res["runs"].items()):
        for r in recs:
            row = {"arm": a, "round": r["t"], "seed": sd, **{k: r["eval"][k] for k in CURVE}}
            if r["t"] > 0:
                p = r["pairs"]
                row.update(
                    n_pairs=p["n_pairs"],
                    q_margin=p["q_margin_mean"],
                    q_chosen=p["q_chosen_mean"],
                    q_rejected=p["q_rejected_mean"],
                    ref_logp_margin=p["ref_logp_margin"],
                    reward_margin=p["reward_margin"],
                    grad_norm=r["grad_norm"],
                )
            rows.append(row)
    return pd.DataFrame(rows)


def flat_metrics(res: dict) -> tuple[dict, dict]:
    """(metrics, seed_spread): seed means of every curve value as ``<arm>.r<t>.<metric>``, and the logs' sizes."""
    df = curves(res)
    per_seed: dict[str, list] = {}
    for _, row in df.iterrows():
        for k, v in row.items():
            if k in ("arm", "round", "seed") or v != v:  # NaN: round 0 has no pairs
                continue
            per_seed.setdefault(f"{row['arm']}.r{int(row['round'])}.{k}", []).append(float(v))
    for _sd, lg in sorted(res["logs"].items()):
        per_seed.setdefault("logs.n_dsat", []).append(len(lg["dsat"]["prompt"]))
        per_seed.setdefault("logs.n_sat_reported", []).append(len(lg["sat"]["prompt"]))
        per_seed.setdefault("logs.dsat_share", []).append(len(lg["dsat"]["prompt"]) / lg["n_logged"])
    metrics = {k: float(np.mean(v)) for k, v in per_seed.items()}
    return metrics, {k: [float(x) for x in v] for k, v in per_seed.items() if len(v) > 1}


def _last(res: dict) -> int:
    return max(r["t"] for recs in res["runs"].values() for r in recs)


def _eval(res, sd, arm, t) -> dict:
    return res["runs"][(sd, arm)][t]["eval"]


def eval_diff(cid: str, res: dict, a: tuple, b: tuple, key: str, effect: float | None = None) -> dict:
    """Per-prompt ``key`` (oracle_qualities, preferences or distinct_high_quality) of (arm, round) a minus b, per seed."""
    d = [np.asarray(_eval(res, sd, *a)[key], float) - np.asarray(_eval(res, sd, *b)[key], float) for sd in _seeds(res)]
    if key == "preferences":
        d = [100 * x for x in d]
    return comparative_claim(cid, "", d, rule=f"{key}({a[0]} r{a[1]}) − {key}({b[0]} r{b[1]}) > 0", effect=effect)


def lc_diff(cid: str, res: dict, a: tuple, b: tuple) -> dict:
    groups = [lc_group(_eval(res, sd, *a), _eval(res, sd, *b)) for sd in _seeds(res)]
    return interval_claim(cid, "", paired_bootstrap_lc(groups), rule=f"lc({a[0]} r{a[1]}) − lc({b[0]} r{b[1]}) > 0")


def item_margins(recs: list[dict], t: int, n_items: int) -> np.ndarray:
    """Round t's oracle-quality margin q(y⁺) − q(y⁻) per log item, 0 where the arm formed no pair (no signal)."""
    r = recs[t]
    m = np.zeros(n_items)
    m[np.asarray(r["extras"]["item"], int)] = r["pairs"]["q_margin"]
    return m


def hindsight_gain(res: dict, t: int = 1) -> dict:
    """q(y⁺ ~ π(·|x ⊕ y⁻ ⊕ f)) − q(y⁻) per DSAT item in DRIFT's round t, per seed (bootstrap interval)."""
    d = [
        np.asarray(res["runs"][(sd, "drift")][t]["extras"]["q_positive"])
        - np.asarray(res["runs"][(sd, "drift")][t]["extras"]["q_negative"])
        for sd in _seeds(res)
    ]
    return paired_bootstrap(d)


def conditioning_gain(res: dict, t: int = 1) -> dict:
    """q(y⁺ | x ⊕ y⁻ ⊕ f) − q(y | x) on the first ``pair_probe`` DSAT items: what the feedback adds over a fresh sample
    of the same policy."""
    d = []
    for sd in _seeds(res):
        ex = res["runs"][(sd, "drift")][t]["extras"]
        d.append(np.asarray(ex["q_positive"][: len(ex["q_unconditioned"])]) - np.asarray(ex["q_unconditioned"]))
    return paired_bootstrap(d)


def claims(res: dict, cfg) -> list[dict]:
    """PC, C1 (DRIFT beats IterDPO and SPIN after T rounds), C4 (exploration), C5 (margin and gradient do not vanish);
    gated on PC. C2 (gains over base of +6 % / +9 points) and C3 (beats GPT-4o-mini) need the real models: not judged."""
    T = _last(res)
    n_items = {sd: len(lg["dsat"]["prompt"]) for sd, lg in res["logs"].items()}
    sds = _seeds(res)
    pc_eff = float(cfg.paper.claims.pc_min_gain)
    pc = all_of(
        "PC",
        "Positive control: (a) the policy's feedback-conditioned answers beat the logged DSAT answers they "
        f"replace (by ≥ {pc_eff} oracle quality), the signal DRIFT's pairs carry; (b) one round of on-policy "
        "iterative DPO (judge-labelled best vs worst) beats its start π_0 on the judge's win rate",
        [
            interval_claim(
                "hindsight.q", "", hindsight_gain(res), rule="q(y⁺) − q(y⁻) on round-1 DSAT items", effect=pc_eff
            ),
            eval_diff("iterdpo_r1.wr", res, ("iterdpo", 1), ("iterdpo", 0), "preferences"),
        ],
        rule="both parts reproduced",
    )
    c1 = []
    for b in ("iterdpo", "spin"):
        c1 += [
            eval_diff(f"vs_{b}.wr", res, ("drift", T), (b, T), "preferences"),
            eval_diff(f"vs_{b}.q", res, ("drift", T), (b, T), "oracle_qualities"),
        ]
    c1 = all_of(
        "C1",
        f"After {T} iterations DRIFT beats IterDPO and SPIN (judge win rate vs the reference policy — "
        "AlpacaEval2's raw win rate — and oracle quality, the WildBench task score's stand-in)",
        c1,
        rule=f"WR and q of DRIFT r{T} minus each baseline r{T} > 0 on the same prompts",
    )
    c4 = all_of(
        "C4",
        "DRIFT keeps exploring: more distinct high-quality answers per prompt "
        f"(q ≥ {cfg.paper.eval.q_high}, {cfg.paper.eval.n_diverse} samples) than IterDPO and SPIN",
        [
            eval_diff(f"vs_{b}.distinct", res, ("drift", T), (b, T), "distinct_high_quality")
            for b in ("iterdpo", "spin")
        ],
        rule=f"distinct high-quality answers of DRIFT r{T} minus each baseline r{T} > 0",
    )
    m_d = [item_margins(res["runs"][(sd, "drift")], T, n_items[sd]) for sd in sds]
    m_i = [item_margins(res["runs"][(sd, "iterdpo")], T, n_items[sd]) for sd in sds]
    g = [[res["runs"][(sd, "drift")][T]["grad_norm"] - res["runs"][(sd, "iterdpo")][T]["grad_norm"]] for sd in sds]
    c5 = all_of(
        "C5",
        "The DSAT-anchored margin stays bounded away from 0 and larger than that of pairs where chosen and "
        "rejected both come from the improving policy (IterDPO), so DRIFT's DPO gradient does not vanish",
        [
            comparative_claim("drift.margin", "", m_d, rule=f"q(y⁺) − q(y⁻) of DRIFT's round-{T} pairs > 0"),
            comparative_claim(
                "vs_iterdpo.margin",
                "",
                [a - b for a, b in zip(m_d, m_i)],
                rule=f"per-item pair margin DRIFT − IterDPO in round {T} > 0 (0 where no pair)",
            ),
            comparative_claim(
                "vs_iterdpo.grad",
                "",
                g,
                rule=f"DPO gradient norm at round {T}'s start: DRIFT − IterDPO > 0 (one value per seed)",
            ),
        ],
        rule="all three parts reproduced",
    )
    return gate_on_control([pc, c1, c4, c5])


def render_table(doc: dict) -> str:
    """Per arm and round: oracle quality, WR, LC WR, diversity, pair margin and gradient norm (seed means)."""
    m = doc["metrics"]
    keys = sorted(
        {k.rsplit(".", 1)[0] for k in m if ".r" in k and not k.startswith("logs.")},
        key=lambda s: (s.split(".")[0], int(s.split(".r")[1])),
    )
    n = len(doc.get("seeds", [])) or 1
    lines = [
        f"_Means over {n} seed(s); toy judge vs the reference policy. Paper (secondary notes, Qwen2.5-7B, WildFeedback): "
        "WildBench 48.66 base → DRIFT 51.69, SPIN 42.86, IterDPO 46.31; AlpacaEval2 WR 37.69 → 46.64 / 26.21 / 41.55._\n",
        "| arm | round | oracle q | WR | LC WR | distinct high-q | pair q margin | reward margin | grad norm |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    f = lambda k, fmt: format(m[k], fmt) if k in m else "—"
    for k in keys:
        a, r = k.split(".r")
        lines.append(
            f"| {a} | {r} | {f(k + '.oracle_quality', '.3f')} | {f(k + '.win_rate', '.1f')} | {f(k + '.lc_win_rate', '.1f')} | "
            f"{f(k + '.diversity', '.2f')} | {f(k + '.q_margin', '.3f')} | {f(k + '.reward_margin', '.3f')} | {f(k + '.grad_norm', '.3f')} |"
        )
    return "\n".join(lines)
