"""AutoRule (Wang & Xiong 2025; arXiv 2506.15651) in the toy instruction world.

    SFT policy (shared) → judge-labelled pairs of its samples → learned reward model r_RM (``training.toy_reward``,
    shared with every paper asking for the same RM settings)
    → rules: reasons for the first ``rules.examples`` pairs (Stage 1), per-chain rules (Stage 2), merged set MR
      (Stage 3), verifier → r_RA = fraction of rules met (``papers.autorule.rules``; which parts are toy stand-ins
      for LLM calls is said there)
    → GRPO through TRL's GRPOTrainer (``training.rl``) for two episodes over the RL prompts, with r_RM alone
      ("grpo") and with r_RM + w·r_RA ("autorule"), same seed, same settings
    → held-out curves (oracle quality, RM score, judge win rate vs the SFT policy) at the end of each episode and
      early on, and the final policies' (LC) win rates against the reference policy on the eval prompts.

Every stage is cached under ``stage_key``; ``run_all`` runs ``scale.n_seeds`` seeds on ``hardware.workers``
processes. Claims (``claims``) are judged on seed-paired per-prompt differences and gated on the positive control.
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
from ...metrics.evaluation import evaluate_policy
from ...metrics.verdicts import comparative_claim, gate_on_control, interval_claim, lc_group, paired_bootstrap_lc
from ...models.sampling import generate
from ...training import rl
from ...training import toy_reward as TR
from ...training.toy_stages import World, seeds, setup_torch, sft_model, stage_key, with_seed
from ...training.world_cache import world_for
from . import rules as R

_CODE = ("papers/autorule/experiment.py", "papers/autorule/rules.py", *rl.CODE)
ARMS = ("grpo", "autorule")


def rm_cfg(cfg):
    """The reward model's settings with per-scale values resolved (``toy_reward`` reads plain values)."""
    d = OmegaConf.to_container(cfg.paper.reward_model, resolve=True)
    return OmegaConf.create({k: at_scale(cfg, v) for k, v in d.items()})


def rl_settings(cfg) -> rl.GRPOSettings:
    """Two episodes over ``rl.prompts`` prompts: steps = episodes · prompts / prompts_per_step."""
    r = cfg.paper.rl
    n, per = int(at_scale(cfg, r.prompts)), int(r.prompts_per_step)
    return rl.settings_from(r, steps=int(r.episodes) * n // per)


def validate(cfg) -> None:
    """Bad input raises ConfigError before any compute."""
    p = cfg.paper
    if cfg.scale.name in ("small", "paper"):
        raise ConfigError(
            f"autorule runs at scale=ci or tiny; scale={cfg.scale.name} needs the paper's 8B policy, "
            "a reasoning LLM and an LLM verifier on GPUs (paper.paper_scale in conf/paper/autorule.yaml)"
        )
    r, w = p.rl, cfg.scale.world
    n_rl, per = int(at_scale(cfg, r.prompts)), int(r.prompts_per_step)
    if n_rl % per or int(r.episodes) < 2:
        raise ConfigError(
            f"paper.rl.prompts ({n_rl}) must be a multiple of prompts_per_step ({per}), and "
            f"episodes ≥ 2 (the claim is about the second episode), got {r.episodes}"
        )
    if int(at_scale(cfg, p.reward_model.n_prompts)) + n_rl > int(w.n_pref_prompts):
        raise ConfigError(
            "paper.reward_model.n_prompts + paper.rl.prompts exceed the world's pref split "
            f"({w.n_pref_prompts}); RL prompts are taken after the RM's"
        )
    if int(at_scale(cfg, p.reward_model.heldout_prompts)) > int(w.n_dev) or int(at_scale(cfg, p.eval.dev)) > int(
        w.n_dev
    ):
        raise ConfigError(f"held-out prompts exceed the world's dev split ({w.n_dev})")
    if int(at_scale(cfg, p.eval.prompts)) > int(w.n_eval):
        raise ConfigError(f"paper.eval.prompts exceeds the world's eval split ({w.n_eval})")
    if not 0.0 <= float(p.rules.flip) < 0.5 or not 0.0 < float(p.rules.threshold) <= 1.0:
        raise ConfigError("paper.rules.flip must be in [0, 0.5) and threshold in (0, 1]")
    if float(p.rules.weight) < 0:
        raise ConfigError("paper.rules.weight must be ≥ 0")
    per_episode = rl_settings(cfg).steps // int(r.episodes)
    early = int(at_scale(cfg, r.early_step))
    if early < 1 or per_episode % early:
        raise ConfigError(
            f"paper.rl.early_step ({early}) must divide an episode ({per_episode} steps): the held-out "
            "evaluation runs every early_step steps"
        )
    rl_settings(cfg)  # GRPOSettings validates its own values


def _key(cfg, *parts) -> dict:
    return stage_key(cfg, *parts, to_dict(cfg.judge), to_dict(cfg.scale.sft), to_dict(cfg.toy_world), code=_CODE)


# ---------------------------------------------------------------------------------------------
# Stages


def rule_set(cfg, world: World) -> dict:
    """Stages 1–3 on the first ``rules.examples`` RM training pairs, and the merged rules' agreement with the
    labels of the RM's held-out pairs (card, Algorithm step 3). Cached (cheap, but the notebook prints it)."""
    ru, rmc = cfg.paper.rules, rm_cfg(cfg)
    key = _key(cfg, "autorule-rules", to_dict(ru), to_dict(rmc))

    def compute(tmp: Path):
        data = TR.rm_data(cfg, world, rmc)
        n = int(at_scale(cfg, ru.examples))
        src = {k: v[:n] for k, v in data["train"].items()}
        out = R.extract_rule_set(
            world.judge,
            src,
            seed=int(cfg.seed) + 31,
            min_term=float(ru.min_term),
            threshold=float(ru.threshold),
            min_support=float(ru.min_support),
            max_rules=ru.get("max_rules"),
        )
        if not out["rules"]:
            raise RuntimeError("rule extraction kept no verifiable rule; lower paper.rules.min_support")
        rules = R.rules_from_dict(out["rules"])
        out["agreement"] = R.rule_agreement(rules, data["heldout"], flip=float(ru.flip), seed=int(cfg.seed))
        out["rm_accuracy"] = TR.pair_accuracy(
            rl.rm_score(TR.toy_reward_model(cfg, world, rmc), world.tokenizer), data["heldout"]
        )
        atomic_write_json(tmp / "rules.json", out)

    return read_json(cached("autorule-rules", key, compute) / "rules.json")


def rule_score(rules: list, flip: float, seed: int) -> rl.Score:
    def score(prompts, responses):
        return R.rule_reward(rules, prompts, responses, flip=flip, seed=seed)

    return score


def rl_prompts(cfg, world: World) -> list[str]:
    n0 = int(at_scale(cfg, cfg.paper.reward_model.n_prompts))
    return world.prompts["pref"][n0 : n0 + int(at_scale(cfg, cfg.paper.rl.prompts))]


def rule_weight(cfg, world: World, rm_score, r_score) -> float:
    """w in r = r_RM + w·r_RA. ``rules.weight_mode``: ``fixed`` (w = ``rules.weight``) or ``match_std``
    (w = ``rules.weight`` · std(r_RM)/std(r_RA) over the SFT policy's samples on the RL prompts, so both rewards
    move the group-normalised advantage comparably; card, Pitfalls: "r_RM's scale can swamp r_RA")."""
    ru = cfg.paper.rules
    if ru.weight_mode == "fixed":
        return float(ru.weight)
    ps = rl_prompts(cfg, world)
    ys = generate(
        sft_model(cfg, world),
        world.tokenizer,
        ps,
        n=4,
        temperature=float(cfg.paper.rl.temperature),
        max_new_tokens=int(cfg.paper.rl.max_new_tokens),
        seed=int(cfg.seed) + 53,
    )
    fp = [p for p, y in zip(ps, ys) for _ in y]
    fy = [x for y in ys for x in y]
    a, b = np.std(rm_score(fp, fy)), np.std(r_score(fp, fy))
    return float(ru.weight) * float(a / b) if b > 0 else float(ru.weight)


def run_arm(cfg, world: World, arm: str) -> dict:
    """GRPO with r_RM ("grpo") or r_RM + w·r_RA ("autorule"): the held-out curves and the final policy's
    evaluation against the reference policy. Cached per arm and seed."""
    if arm not in ARMS:
        raise ConfigError(f"unknown arm {arm!r}; arms: {ARMS}")
    p, rmc = cfg.paper, rm_cfg(cfg)
    key = _key(
        cfg,
        "autorule-rl",
        arm,
        to_dict(p.rl),
        to_dict(p.rules),
        to_dict(rmc),
        to_dict(p.eval),
        to_dict(cfg.scale.world),
    )

    def compute(tmp: Path):
        tok, judge = world.tokenizer, world.judge
        policy = sft_model(cfg, world)
        rm = TR.toy_reward_model(cfg, world, rmc)
        rm_s = rl.rm_score(rm, tok)
        funcs, weights, w = [rl.reward_function(rm_s, name="rm")], [1.0], 0.0
        if arm == "autorule":
            rules = R.rules_from_dict(rule_set(cfg, world)["rules"])
            r_s = rule_score(rules, float(p.rules.flip), int(cfg.seed))
            w = rule_weight(cfg, world, rm_s, r_s)
            funcs.append(rl.reward_function(r_s, name="rules"))
            weights.append(w)
        s = rl_settings(cfg)
        dev = world.prompts["dev"][: int(at_scale(cfg, p.eval.dev))]
        base = [
            y[0]
            for y in generate(
                policy, tok, dev, temperature=s.temperature, max_new_tokens=s.max_new_tokens, seed=int(cfg.seed) + 61
            )
        ]
        ev = rl.HeldOutEval(
            tok, dev, rm_s, judge, base, policy, s.temperature, s.max_new_tokens, seed=int(cfg.seed) + 67
        )
        per_episode = s.steps // int(p.rl.episodes)
        model, curves = rl.train_grpo(
            policy,
            tok,
            rl.rl_dataset(rl_prompts(cfg, world)),
            funcs,
            cfg.hardware,
            s,
            seed=int(cfg.seed),
            out=tmp,
            weights=weights,
            evaluator=ev,
            eval_every=int(at_scale(cfg, p.rl.early_step)),
        )
        ne = int(at_scale(cfg, p.eval.prompts))
        final = evaluate_policy(
            model,
            tok,
            judge,
            world.prompts["eval"][:ne],
            world.reference["eval"][:ne],
            temperature=s.temperature,
            max_new_tokens=s.max_new_tokens,
            seed=int(cfg.seed) + 71,
        )
        rules_final = None
        if arm == "autorule":
            rules_final = R.rule_reward(
                R.rules_from_dict(rule_set(cfg, world)["rules"]), world.prompts["eval"][:ne], final["responses"]
            ).tolist()
        atomic_write_json(
            tmp / "run.json",
            {
                "curves": curves.as_dict(),
                "final": final,
                "rule_weight": w,
                "steps": s.steps,
                "per_episode": per_episode,
                "final_rule_reward": rules_final,
            },
        )

    return read_json(cached("autorule-rl", key, compute) / "run.json")


# ---------------------------------------------------------------------------------------------
# All seeds over the cores: rules (and with them the RM) first, then both arms


def _job(plain: dict, seed: int, stage: str):
    cfg = with_seed(OmegaConf.create(plain), seed)
    setup_torch(cfg)
    world = world_for(cfg)
    if stage == "rules":
        return rule_set(cfg, world)
    return run_arm(cfg, world, stage)


def run_all(cfg, progress: bool = True) -> dict:
    """{seed: {"rules": rule_set, "grpo": run, "autorule": run}}. A seed's arms start once its RM and rules are
    cached, so both cores stay busy across seeds."""
    validate(cfg)
    plain = OmegaConf.to_container(cfg, resolve=True)
    out: dict = {sd: {} for sd in seeds(cfg)}
    hw = cfg.hardware
    with Workers(int(hw.get("workers", 1) or 1), int(hw.get("torch_threads") or 1)) as pool:
        futs = {pool.submit(_job, plain, sd, "rules"): (sd, "rules") for sd in seeds(cfg)}
        bar = tqdm(total=(1 + len(ARMS)) * len(out), desc="RM + rules, GRPO arms (all seeds)", disable=not progress)
        while futs:
            done, _ = wait(set(futs), return_when=FIRST_COMPLETED)
            for f in done:
                sd, stage = futs.pop(f)
                out[sd][stage] = f.result()  # re-raises a worker's error here
                bar.update(1)
                if stage == "rules":
                    for arm in ARMS:
                        futs[pool.submit(_job, plain, sd, arm)] = (sd, arm)
        bar.close()
    return out


# ---------------------------------------------------------------------------------------------
# Metrics and claims


def _eval_at(run: dict, step: int) -> dict:
    row = next((r for r in run["curves"]["eval"] if r["step"] == step), None)
    if row is None:
        raise KeyError(f"no held-out evaluation at step {step}")
    return row


def marks(run: dict) -> dict:
    """The held-out checkpoints the claims read: start, early (first evaluation), end of episode 1 and 2."""
    early = min(r["step"] for r in run["curves"]["eval"] if r["step"] > 0)
    return {"start": 0, "early": early, "episode1": run["per_episode"], "episode2": run["steps"]}


def per_prompt(run: dict, key: str, mark: str) -> np.ndarray:
    return np.asarray(_eval_at(run, marks(run)[mark])["per_prompt"][key], dtype=float)


def flat_metrics(runs: dict) -> tuple[dict, dict]:
    """(metrics, seed_spread): seed means and per-seed values."""
    per_seed: dict[str, list] = {}
    add = lambda k, v: per_seed.setdefault(k, []).append(float(v))
    for sd in sorted(runs):
        r = runs[sd]
        rs = r["rules"]
        add("rules.k", len(rs["rules"]))
        add("rules.agreement", rs["agreement"]["agreement"])
        add("rules.ties", rs["agreement"]["ties"])
        add("rm.accuracy_vs_label", rs["rm_accuracy"]["vs_label"])
        add("rm.accuracy_vs_oracle", rs["rm_accuracy"]["vs_oracle"])
        for arm in ARMS:
            run = r[arm]
            for mark, step in marks(run).items():
                row = _eval_at(run, step)
                for k in ("oracle", "proxy", "win_rate", "kl", "length"):
                    add(f"{arm}.{mark}.{k}", row[k])
            fin = run["final"]
            for k in ("lc_win_rate", "win_rate", "avg_length", "oracle_quality"):
                add(f"{arm}.final.{k}", fin[k])
            add(f"{arm}.rule_weight", run["rule_weight"])
    metrics = {k: float(np.mean(v)) for k, v in per_seed.items()}
    return metrics, {k: v for k, v in per_seed.items() if len(v) > 1}


def claims(runs: dict, cfg) -> list[dict]:
    """PC (GRPO on the RM raises held-out oracle quality in episode 1), C1 (LC win rate: AutoRule over GRPO), C2 (rule
    agreement with the preference labels above chance), C3 (less hacking in the second episode); gated on PC."""
    sds = sorted(runs)
    g = lambda arm: [runs[sd][arm] for sd in sds]
    pc = comparative_claim(
        "PC",
        "Positive control: GRPO against the learned RM raises held-out oracle quality over the SFT policy by "
        "the end of the first episode, before the second episode in which hacking is claimed",
        [per_prompt(r, "oracle", "episode1") - per_prompt(r, "oracle", "start") for r in g("grpo")],
        rule="q(grpo, end of episode 1) − q(SFT) > 0 on held-out dev prompts (paired per prompt)",
    )
    lc = interval_claim(
        "C1",
        "AutoRule (RM + rule reward) gets a higher length-controlled win rate than GRPO with the same RM alone "
        "(paper: +28.6 % relative on AlpacaEval 2.0)",
        paired_bootstrap_lc([lc_group(runs[sd]["autorule"]["final"], runs[sd]["grpo"]["final"]) for sd in sds]),
        rule="LC(autorule) − LC(grpo) > 0 (points, vs the reference policy on the eval prompts, end of training)",
    )
    chance = float(cfg.paper.claims.agreement_chance)
    agree = comparative_claim(
        "C2",
        "The extracted rules agree with the preference labels: r_RA(chosen) > r_RA(rejected) on held-out pairs "
        "more often than chance (among pairs where r_RA differs)",
        [np.asarray(runs[sd]["rules"]["agreement"]["per_pair"]) - chance for sd in sds],
        rule=f"agreement − {chance} > 0 on the RM's held-out judge-labelled pairs",
    )
    hack = comparative_claim(
        "C3",
        "Less reward hacking over two episodes: from the end of episode 1 to the end of episode 2, AutoRule's "
        "held-out oracle quality changes for the better relative to GRPO's",
        [
            (per_prompt(a, "oracle", "episode2") - per_prompt(a, "oracle", "episode1"))
            - (per_prompt(b, "oracle", "episode2") - per_prompt(b, "oracle", "episode1"))
            for a, b in zip(g("autorule"), g("grpo"))
        ],
        rule="Δq_episode2(autorule) − Δq_episode2(grpo) > 0 (paired per held-out prompt)",
        evidence={
            "grpo_dq_episode2": float(
                np.mean(
                    [
                        np.mean(per_prompt(b, "oracle", "episode2") - per_prompt(b, "oracle", "episode1"))
                        for b in g("grpo")
                    ]
                )
            ),
            "autorule_dq_episode2": float(
                np.mean(
                    [
                        np.mean(per_prompt(a, "oracle", "episode2") - per_prompt(a, "oracle", "episode1"))
                        for a in g("autorule")
                    ]
                )
            ),
        },
    )
    return gate_on_control([pc, lc, agree, hack])


def curves_frame(runs: dict):
    """Held-out curves per arm and step, seed means (the figure's data)."""
    import pandas as pd

    rows = [
        {"seed": sd, "arm": arm, **{k: v for k, v in row.items() if k not in ("per_prompt", "responses")}}
        for sd, r in runs.items()
        for arm in ARMS
        for row in r[arm]["curves"]["eval"]
    ]
    return pd.DataFrame(rows).groupby(["arm", "step"]).mean(numeric_only=True).drop(columns="seed").reset_index()


def render_table(doc: dict) -> str:
    """Per arm: held-out oracle quality / RM score at each checkpoint, final LC and raw win rate, length."""
    m = doc["metrics"]
    n = len(doc.get("seeds", [])) or 1
    lines = [
        f"_Means over {n} seed(s); the claims carry the intervals. Paper (Llama-3-8B): AutoRule +28.6 % relative "
        "AlpacaEval 2.0 LC win rate over GRPO with the same RM (abstract); no absolute numbers were found (card)._\n",
        f"Rules kept: {m.get('rules.k', float('nan')):.1f}; agreement with held-out labels "
        f"{m.get('rules.agreement', float('nan')):.3f}; RM accuracy vs labels {m.get('rm.accuracy_vs_label', float('nan')):.3f}.\n",
        "| arm | q start | q early | q ep. 1 | q ep. 2 | RM ep. 1 | RM ep. 2 | LC WR | WR | avg len |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for a in ARMS:
        g = lambda k, a=a: m.get(f"{a}.{k}", float("nan"))
        lines.append(
            f"| {a} | {g('start.oracle'):.3f} | {g('early.oracle'):.3f} | {g('episode1.oracle'):.3f} | "
            f"{g('episode2.oracle'):.3f} | {g('episode1.proxy'):.2f} | {g('episode2.proxy'):.2f} | "
            f"{g('final.lc_win_rate'):.1f} | {g('final.win_rate'):.1f} | {g('final.avg_length'):.1f} |"
        )
    return "\n".join(lines)
