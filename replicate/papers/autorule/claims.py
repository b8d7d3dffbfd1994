"""AutoRule: numbers, curves and claims from ``run_all``'s results (no compute beyond bootstraps), judged on
seed-paired per-prompt differences and gated on the positive control."""

from __future__ import annotations

import numpy as np

from ...metrics.verdicts import (
    comparative_claim,
    gate_on_capabilities,
    gate_on_control,
    interval_claim,
    lc_group,
    paired_ci_lc,
)
from ...training import rl_control, rl_control_seeds
from .experiment import ARMS

# The claims that need RL to move the policy: PC (GRPO on the RM raises q), C1 (the arms' final policies differ), C3
# (hacking in the second episode). C2 is about the extracted rules against held-out labels and needs no RL. K_rm
# gates nothing: whether this RM is usable enough for RL to gain is PC's question, measured on the policy.
K_RL_GATES = ("PC", "C1", "C3")


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
        add("rm.answer_margin", rs["rm_report"]["answer_margin"])
        add("rm.filler_slope", rs["rm_report"]["filler"]["slope_per_unit"])
        ev = r["k_rl"]["eval"]
        for w, row in (("start", ev[0]), ("end", ev[-1])):
            for k in ("oracle", "win_rate", "kl", "length"):
                add(f"k_rl.{w}.{k}", row[k])
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
        metric="q",
    )
    lc = interval_claim(
        "C1",
        "AutoRule (RM + rule reward) gets a higher length-controlled win rate than GRPO with the same RM alone "
        "(paper: +28.6 % relative on AlpacaEval 2.0)",
        paired_ci_lc([lc_group(runs[sd]["autorule"]["final"], runs[sd]["grpo"]["final"]) for sd in sds]),
        rule="LC(autorule) − LC(grpo) > 0 (points, vs the reference policy on the eval prompts, end of training)",
        # no control measures LC (there is no SFT evaluation against the reference policy): gated inconclusive
        metric="lc",
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
        metric="q",
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
    ctrl = [
        rl_control_seeds.k_rl(runs, cfg, gates=K_RL_GATES),
        rl_control.k_rm([runs[sd]["rules"]["rm_report"] for sd in sds], gates=()),
    ]
    return gate_on_capabilities(gate_on_control([*ctrl, pc, lc, agree, hack]))


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
        f"K_rl (GRPO with the oracle as reward, same budget): held-out oracle q {m.get('k_rl.start.oracle', float('nan')):.3f} "
        f"→ {m.get('k_rl.end.oracle', float('nan')):.3f}. RM: correct over one-edit wrong "
        f"{m.get('rm.answer_margin', float('nan')):.3f}, pay per filler unit {m.get('rm.filler_slope', float('nan')):.3f}.\n",
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
