"""PAR's claims as verdicts, from the held-out evaluations of every GRPO run (``papers.par.run_all``).

Each run was evaluated at step 0 (π_SFT itself) and every ``eval_every`` steps on the same held-out prompts, so
every quantity is a per-prompt array per seed, and every claim is a seed-paired difference on the same prompts with
a bootstrap interval over seeds, then prompts (``metrics.verdicts``).

* ``avg_win``: the judge's win rate against π_SFT's responses, averaged over the checkpoints after step 0 (the
  paper's "average win rate" over its saved checkpoints).
* ``early``: the first checkpoint at or after ``claims.early_fraction`` of training; ``end``: the last one
  (after ``rl.epochs`` = 2 epochs, the paper's robustness setting).
"""

from __future__ import annotations

import numpy as np

from ...metrics.verdicts import all_of, comparative_claim, gate_on_capabilities, gate_on_control
from ...training import rl_control, rl_control_seeds

# Every claim needs RL to move the policy (PC: it improves, H: it hacks, C1–C4: shapings differ in how far): K_rl
# gates them all. K_rm gates nothing: the claims are about a flawed proxy, and whether this one is usable enough for
# RL to gain before it hacks is exactly PC's question, measured on the policy rather than on pairs.
K_RL_GATES = ("PC", "H", "C1", "C2", "C3", "C4")


def _seeds(runs: dict) -> list[int]:
    return sorted(runs)


def _evals(runs: dict, sd: int, method: str) -> list[dict]:
    return runs[sd]["runs"][method]["eval"]


def checkpoint(evals: list[dict], which: str, early_fraction: float = 0.25) -> dict:
    """The step-0 row (``start``), the first at or after ``early_fraction`` of the last step (``early``), the last
    (``end``), or the one with the highest mean oracle quality (``peak``, descriptive only)."""
    last = evals[-1]["step"]
    if which == "start":
        return evals[0]
    if which == "end":
        return evals[-1]
    if which == "early":
        return next(e for e in evals if e["step"] > 0 and e["step"] >= early_fraction * last)
    if which == "peak":
        return max(evals[1:], key=lambda e: e["oracle"])
    raise ValueError(which)


def per_prompt(runs: dict, method: str, key: str, which: str, early_fraction: float = 0.25) -> list[np.ndarray]:
    """Per seed, the per-prompt ``key`` (oracle, proxy, win) at a checkpoint, or ``avg`` over checkpoints > 0."""
    out = []
    for sd in _seeds(runs):
        ev = _evals(runs, sd, method)
        if which == "avg":
            out.append(np.mean([e["per_prompt"][key] for e in ev[1:]], axis=0))
        else:
            out.append(np.asarray(checkpoint(ev, which, early_fraction)["per_prompt"][key], dtype=float))
    return out


def _diff(a: list[np.ndarray], b: list[np.ndarray], shift: float = 0.0) -> list[np.ndarray]:
    return [x - y + shift for x, y in zip(a, b)]


def controls(runs: dict, cfg) -> list[dict]:
    """K_rl (GRPO with the oracle as reward raises held-out q in this budget) and K_rm (the learned RM tracks q)."""
    sds = _seeds(runs)
    return [
        rl_control_seeds.k_rl(runs, cfg, gates=K_RL_GATES),
        rl_control.k_rm([runs[sd]["rm"] for sd in sds], gates=()),
    ]


def claims(runs: dict, cfg) -> list[dict]:
    """The capability controls K_rl and K_rm first, then PC, H (hacking is visible), C1 (PAR's average win rate above
    every other shaping), C2 (robust after two epochs), C3 (one reference suffices), C4 (≥ 5 points above every
    competitor); gated on PC, then on K_rl."""
    c = cfg.paper.claims
    ef, delta = float(c.early_fraction), float(c.ref_equivalence)
    pp = lambda m, k, w: per_prompt(runs, m, k, w, ef)
    others = [m for m in runs[_seeds(runs)[0]]["runs"] if m not in ("par", c.par_one_ref)]
    out = [
        all_of(
            "PC",
            "Positive control: GRPO against the learned reward model raises the oracle's quality of the SFT "
            "policy's answers before any hacking sets in (Vanilla, early checkpoint vs the SFT start)",
            [
                comparative_claim(
                    "q",
                    "",
                    _diff(pp("vanilla", "oracle", "early"), pp("vanilla", "oracle", "start")),
                    rule="q(vanilla, early) − q(SFT) > 0",
                    metric="q",
                ),
                # C1, C3 and C4 are judged on the win rate against SFT: the control must move it too
                comparative_claim(
                    "win",
                    "",
                    _diff(pp("vanilla", "win", "early"), pp("vanilla", "win", "start")),
                    rule="win(vanilla, early) − win(SFT) > 0",
                    metric="win",
                ),
            ],
            rule=f"oracle quality and win rate vs SFT at the first checkpoint after {ef:.0%} of training minus the SFT "
            "start's, per prompt",
        ),
        all_of(
            "H",
            "Reward hacking is visible: under Vanilla the proxy's score keeps rising after the early checkpoint "
            "while the oracle's quality falls",
            [
                comparative_claim(
                    "proxy",
                    "",
                    _diff(pp("vanilla", "proxy", "end"), pp("vanilla", "proxy", "early")),
                    rule="r(vanilla, end) − r(vanilla, early) > 0",
                ),
                comparative_claim(
                    "q",
                    "",
                    _diff(pp("vanilla", "oracle", "early"), pp("vanilla", "oracle", "end")),
                    rule="q(vanilla, early) − q(vanilla, end) > 0",
                ),
            ],
            rule="proxy up and oracle quality down from the early checkpoint to the end, Vanilla",
        ),
        all_of(
            "C1",
            "PAR's average win rate against the SFT model is above every other shaping's",
            [
                comparative_claim(
                    m,
                    "",
                    _diff(pp("par", "win", "avg"), pp(m, "win", "avg")),
                    rule=f"avgwin(par) − avgwin({m}) > 0",
                    metric="win",
                )
                for m in others
            ],
            rule="win rate vs SFT averaged over checkpoints, PAR minus each other shaping, per prompt",
        ),
        all_of(
            "C2",
            "PAR stays robust after two epochs: at the end its oracle quality is not below the SFT start's and is "
            "above Vanilla's",
            [
                comparative_claim(
                    "vs_sft",
                    "",
                    _diff(pp("par", "oracle", "end"), pp("par", "oracle", "start")),
                    rule="q(par, end) − q(SFT) > 0",
                    metric="q",
                ),
                comparative_claim(
                    "vs_vanilla",
                    "",
                    _diff(pp("par", "oracle", "end"), pp("vanilla", "oracle", "end")),
                    rule="q(par, end) − q(vanilla, end) > 0",
                    metric="q",
                ),
            ],
            rule="oracle quality after 2 epochs",
        ),
        all_of(
            "C3",
            f"One reference reward suffices: PAR with M = 1 matches M = 10 (average win rate within ±{delta:g})",
            [
                comparative_claim(
                    "above",
                    "",
                    _diff(pp(c.par_one_ref, "win", "avg"), pp("par", "win", "avg"), delta),
                    rule=f"avgwin(M=1) − avgwin(M=10) + {delta:g} > 0",
                    metric="win",
                    needs=delta,
                ),
                comparative_claim(
                    "below",
                    "",
                    _diff(pp("par", "win", "avg"), pp(c.par_one_ref, "win", "avg"), delta),
                    rule=f"avgwin(M=10) − avgwin(M=1) + {delta:g} > 0",
                    metric="win",
                    needs=delta,
                ),
            ],
            rule=f"equivalence: both one-sided differences with margin {delta:g} above zero",
        ),
        all_of(
            "C4",
            f"PAR's average win rate is at least {float(c.win_margin):g} above every competitor (abstract: ≥ 5 pp)",
            [
                comparative_claim(
                    m,
                    "",
                    _diff(pp("par", "win", "avg"), pp(m, "win", "avg")),
                    effect=float(c.win_margin),
                    rule=f"avgwin(par) − avgwin({m}) ≥ {float(c.win_margin):g}",
                    metric="win",
                    needs=float(c.win_margin),
                )
                for m in others
            ],
            rule=f"as C1, with the claimed effect {float(c.win_margin):g}",
        ),
    ]
    return gate_on_capabilities(gate_on_control(controls(runs, cfg) + out))


# ---------------------------------------------------------------------------------------------
# Metrics and tables

POINTS = ("start", "early", "peak", "end")
KEYS = ("proxy", "oracle", "win_rate", "kl", "length")


def flat_metrics(runs: dict, cfg) -> tuple[dict, dict]:
    """(metrics, seed_spread): per method the seed means of each key at each checkpoint and the average win rate;
    the RM's diagnostics."""
    ef = float(cfg.paper.claims.early_fraction)
    per_seed: dict[str, list] = {}
    for sd in _seeds(runs):
        rm = runs[sd]["rm"]
        for k in ("vs_label", "vs_judge", "vs_oracle"):
            per_seed.setdefault(f"rm.accuracy.{k}", []).append(rm["accuracy"][k])
        per_seed.setdefault("rm.filler_slope", []).append(rm["filler"]["slope_per_unit"])
        per_seed.setdefault("rm.answer_margin", []).append(rm["answer_margin"])
        per_seed.setdefault("rm.malformed_gap", []).append(rm["filler"]["malformed_gap"])
        per_seed.setdefault("rm.answer_over_filler", []).append(rm["answer_margin"] - rm["filler"]["slope_per_unit"])
        ev = runs[sd]["k_rl"]["eval"]
        for w, row in (("start", ev[0]), ("end", ev[-1])):
            for k in ("oracle", "win_rate", "kl", "length"):
                per_seed.setdefault(f"k_rl.{w}.{k}", []).append(row[k])
        for m, run in runs[sd]["runs"].items():
            ev = run["eval"]
            for w in POINTS:
                row = checkpoint(ev, w, ef)
                for k in KEYS:
                    per_seed.setdefault(f"{m}.{w}.{k}", []).append(row[k])
            per_seed.setdefault(f"{m}.avg_win_rate", []).append(float(np.mean([e["win_rate"] for e in ev[1:]])))
    metrics = {k: float(np.mean(v)) for k, v in per_seed.items()}
    return metrics, {k: [float(x) for x in v] for k, v in per_seed.items() if len(v) > 1}


def summary(runs: dict, cfg):
    """One row per method: seed means of the average win rate and of the end-of-training evaluation."""
    import pandas as pd

    m, _ = flat_metrics(runs, cfg)
    names = list(runs[_seeds(runs)[0]]["runs"])
    rows = [
        {
            "method": n,
            "avg win vs SFT": m[f"{n}.avg_win_rate"],
            "early q": m[f"{n}.early.oracle"],
            "peak q": m[f"{n}.peak.oracle"],
            "end q": m[f"{n}.end.oracle"],
            "end win": m[f"{n}.end.win_rate"],
            "end proxy": m[f"{n}.end.proxy"],
            "end KL": m[f"{n}.end.kl"],
            "end length": m[f"{n}.end.length"],
        }
        for n in names
    ]
    return pd.DataFrame(rows)


def curves(runs: dict, method: str, key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(steps, seed mean, seed sd) of a held-out evaluation key over the checkpoints."""
    vals = np.array([[e[key] for e in _evals(runs, sd, method)] for sd in _seeds(runs)])
    st = np.array([e["step"] for e in _evals(runs, _seeds(runs)[0], method)])
    return st, vals.mean(0), vals.std(0, ddof=1) if len(vals) > 1 else np.zeros(vals.shape[1])


def render_table(doc: dict) -> str:
    m = doc["metrics"]
    names = [k[: -len(".avg_win_rate")] for k in m if k.endswith(".avg_win_rate")]
    n = len(doc.get("seeds", [])) or 1
    lines = [
        f"_Means over {n} seed(s); claims carry the intervals. The paper's numbers are DeepSeek-V3 win rates of "
        "Gemma2-2B PPO checkpoints against the SFT model (results/reported/par.csv); ours are the toy judge's, "
        "GRPO on a 0.34M-parameter policy: compare directions, not values._\n",
        f"Reward model (held-out pairs): agreement with the label {m.get('rm.accuracy.vs_label', float('nan')):.3f}, "
        f"with the judge {m.get('rm.accuracy.vs_judge', float('nan')):.3f}, with the oracle "
        f"{m.get('rm.accuracy.vs_oracle', float('nan')):.3f}; pay per filler unit {m.get('rm.filler_slope', float('nan')):.3f} "
        f"vs a correct answer over a one-edit wrong one {m.get('rm.answer_margin', float('nan')):.3f}.\n",
        f"K_rl (GRPO with the oracle as reward, same budget): held-out oracle q {m.get('k_rl.start.oracle', float('nan')):.3f} "
        f"→ {m.get('k_rl.end.oracle', float('nan')):.3f}, length {m.get('k_rl.start.length', float('nan')):.1f} → "
        f"{m.get('k_rl.end.length', float('nan')):.1f} characters.\n",
        "| shaping | avg win vs SFT | oracle q: early | peak | end | end win | end proxy | end KL | end length |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for a in names:
        g = lambda k, a=a: m.get(f"{a}.{k}", float("nan"))
        lines.append(
            f"| {a} | {g('avg_win_rate'):.3f} | {g('early.oracle'):.3f} | {g('peak.oracle'):.3f} | {g('end.oracle'):.3f} | "
            f"{g('end.win_rate'):.3f} | {g('end.proxy'):.2f} | {g('end.kl'):.2f} | {g('end.length'):.1f} |"
        )
    if names:
        lines.append(
            f"\nSFT start: oracle q {m.get(f'{names[0]}.start.oracle', float('nan')):.3f}, length "
            f"{m.get(f'{names[0]}.start.length', float('nan')):.1f} characters."
        )
    return "\n".join(lines)


def repeated_filler_flaw(score, prompts, responses, units=(0, 1, 2, 3, 4)) -> dict:
    """The proxy's pay for filler as the policy writes it: k copies of *one* unit (" yes! yes! yes!"), averaged over
    the four units, appended to the same answers; least-squares slope per unit. ``training.toy_reward.filler_flaw``
    cycles through different units, a sequence the SFT backbone finds unlikely, so with a likelihood term in the RM
    it can read negative while repeated filler is paid (seen after the tiny run: the RL policies write repeats)."""
    from ...worlds.toy_lm import FILLERS, split_response

    ps = list(prompts)
    means = []
    for k in units:
        per_unit = [np.mean(score(ps, [split_response(y)[0] + u * k for y in responses])) for u in FILLERS]
        means.append(float(np.mean(per_unit)))
    slope = float(np.polyfit(np.asarray(units, float), np.asarray(means), 1)[0])
    return {"units": list(units), "score": means, "slope_per_unit": slope}
