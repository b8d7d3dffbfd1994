"""Temporal Self-Rewarding: numbers, per-round curves and claims from ``papers.temporal_self_rewarding.run_all``
(no compute beyond intervals). ``runs[seed][arm]`` is the list of ``iterative.run_loop`` records, round 0 = M_0.

Compute: one DPO training = one unit. Self-Rewarding round t has used t units, Temporal SR round t 2t (each round
also trains its future model): SR's round 4 and TSR's round 2 are the paper's compute-matched endpoints.
The probe gaps of round t are measured with the model that formed round t's pairs, M_{t−1}, on fixed prompts.
"""

from __future__ import annotations

import numpy as np

from ...metrics.verdicts import (
    all_of,
    capability_control,
    gate_on_capabilities,
    gate_on_control,
    interval_claim,
    lc_group,
    paired_ci,
    paired_ci_lc,
)

ARMS = ("sr", "tsr")
LABEL = {"sr": "Self-Rewarding", "tsr": "Temporal SR"}
COST = {"sr": 1, "tsr": 2}  # DPO trainings per round
# The claims whose mechanism is a self-judge that carries signal: the gap the self-judge measures (A1, A2), the
# policy improvement its pairs are supposed to buy (A3, B1) and the judging it is supposed to sharpen (B2). With
# M_0's self-scores at chance, DPO trains on noise-ordered pairs and the gaps are gaps between noise draws.
GATED_BY_JUDGE = ("A1", "A2", "A3", "B1", "B2")


def _a(x) -> np.ndarray:
    return np.asarray(x, dtype=float)


def _finite(*arrays):
    m = np.all([np.isfinite(a) for a in arrays], axis=0)
    return [a[m] for a in arrays]


def curves(runs: dict) -> list[dict]:
    """One row per (seed, arm, round): the per-round curves (oracle quality, judge WR and LC WR vs the reference
    policy, diversity of high-quality answers, the round's pair margins and DPO gradient norm, the probe's
    self-judged gap and the self-judge's agreement)."""
    rows = []
    for sd, arms in runs.items():
        for arm, recs in arms.items():
            for r in recs:
                t, ev = int(r["t"]), r["eval"]
                row = {
                    "seed": sd,
                    "arm": arm,
                    "round": t,
                    "dpo_trainings": COST[arm] * t,
                    "oracle_quality": ev["oracle_quality"],
                    "win_rate": ev["win_rate"],
                    "lc_win_rate": ev["lc_win_rate"],
                    "avg_length": ev["avg_length"],
                    "diversity": ev["diversity"],
                }
                if t:
                    p, x = r["pairs"], r["extras"]
                    row.update(
                        {
                            "n_pairs": p["n_pairs"],
                            "q_margin": p["q_margin_mean"],
                            "reward_margin": p["reward_margin"],
                            "ref_logp_margin": p["ref_logp_margin"],
                            "grad_norm": r["grad_norm"],
                            "probe_gap": float(np.mean(x["probe_gap"])),
                            "probe_q_gap": float(np.mean(x["probe_q_gap"])),
                            "self_vs_oracle": float(np.nanmean(_a(x["agreement"]["self_vs_oracle"]))),
                            "length_vs_oracle": float(np.nanmean(_a(x["agreement"]["length_vs_oracle"]))),
                            "self_vs_grade": float(np.nanmean(_a(x["agreement"]["self_vs_grade"]))),
                            "unparsable": x["agreement"]["unparsable"],
                            "n_samples": x["n_samples"],
                        }
                    )
                    if arm == "tsr":
                        row.update(
                            {
                                "rejected_from_past": x["rejected_from_past"],
                                "chosen_from_future": x["chosen_from_future"],
                                "probe_gap_phase1": float(np.mean(x["probe_gap_phase1"])),
                            }
                        )
                rows.append(row)
    return rows


def flat_metrics(runs: dict) -> tuple[dict, dict]:
    """(metrics, seed_spread): seed means of every curve value, named ``<arm>.r<t>.<quantity>``, and per-seed values."""
    vals: dict[str, list] = {}
    for row in curves(runs):
        for k, v in row.items():
            if k not in ("seed", "arm", "round", "dpo_trainings"):
                vals.setdefault(f"{row['arm']}.r{row['round']}.{k}", []).append(float(v))
    return {k: float(np.mean(v)) for k, v in vals.items()}, {k: v for k, v in vals.items() if len(v) > 1}


# ---------------------------------------------------------------------------------------------
# Claims


def _diff(runs, f) -> list[np.ndarray]:
    """Per seed, the paired differences ``f(arms)``; seeds left with none (no pair of a kind) are left out."""
    return [d for d in (f(arms) for arms in runs.values()) if d.size]


def _q(arms, arm, t) -> np.ndarray:
    return _a(arms[arm][t]["eval"]["oracle_qualities"])


def _x(arms, arm, t, key) -> np.ndarray:
    return _a(arms[arm][t]["extras"][key])


def _agree(arms, arm, t, key) -> np.ndarray:
    return _a(arms[arm][t]["extras"]["agreement"][key])


def _claim(cid, diffs, rule, effect=None, metric=None) -> dict:
    """An interval claim on per-seed paired differences; with no differences at all, inconclusive (NaN interval)."""
    nan = float("nan")
    ci = paired_ci(diffs) if diffs else {"diff": nan, "lo": nan, "hi": nan, "n_seeds": 0, "n_prompts": 0}
    return interval_claim(cid, "", ci, rule=rule, effect=effect, metric=metric)


def claims(runs: dict, cfg) -> list[dict]:
    c = cfg.paper.claims
    R, T = int(cfg.paper.sr.rounds), int(cfg.paper.tsr.rounds)
    out = [
        all_of(
            "PC",
            "Positive control: the pairs M_0 forms by judging its own samples carry signal (chosen better "
            "than rejected in oracle quality), and one round of DPO on them improves the policy",
            [
                _claim(
                    "signal",
                    _diff(runs, lambda a: _x(a, "sr", 1, "probe_q_gap")),
                    "q(chosen) − q(rejected) of Self-Rewarding's rule on M_0's probe samples > 0 (0 where tied)",
                ),
                _claim(
                    "dpo",
                    _diff(runs, lambda a: _q(a, "sr", 1) - _q(a, "sr", 0)),
                    "q(M_1 of Self-Rewarding) − q(M_0) > 0 per evaluation prompt",
                    metric="q",
                ),
                # A3 is judged on LC as well: the control must show the DPO round moves it
                interval_claim(
                    "dpo.lc",
                    "",
                    paired_ci_lc([lc_group(a["sr"][1]["eval"], a["sr"][0]["eval"]) for a in runs.values()]),
                    rule="LC win rate vs the reference policy, M_1 of Self-Rewarding − M_0 (points) > 0",
                    metric="lc",
                ),
            ],
            rule="every part > 0",
        )
    ]

    def m0_judge(a, key):
        s, n = _finite(_agree(a, "sr", 1, "self_vs_oracle"), _agree(a, "sr", 1, key))
        return s - n

    out.append(
        capability_control(
            all_of(
                "K_judge",
                "Capability control: M_0 can judge its own samples — its 0–5 self-scores order them like the "
                "oracle better than chance and better than response length does",
                [
                    _claim(
                        "above_chance",
                        _diff(runs, lambda a: _finite(_agree(a, "sr", 1, "self_vs_oracle"))[0] - 0.5),
                        "pair accuracy vs the oracle of M_0's self-scores − 0.5, per probe prompt > 0",
                    ),
                    _claim(
                        "beyond_length",
                        _diff(runs, lambda a: m0_judge(a, "length_vs_oracle")),
                        "pair accuracy vs the oracle of the self-scores − of length, per probe prompt > 0",
                    ),
                ],
                rule="pair accuracy (ties half) on same-prompt pairs of M_0's probe samples with different "
                "oracle quality, read as the rounds read it",
            ),
            capability="self-judging",
            gates=GATED_BY_JUDGE,
        )
    )
    out.append(
        all_of(
            "A1",
            f"Under Self-Rewarding the self-judged chosen–rejected gap shrinks across iterations "
            f"(paper Figure 1: ≈ 9× on Llama3.1-8B); here from M_0 to M_{R - 1}",
            [
                _claim(
                    "shrinks",
                    _diff(runs, lambda a: _x(a, "sr", 1, "probe_gap") - _x(a, "sr", R, "probe_gap")),
                    f"gap(round 1, by M_0) − gap(round {R}, by M_{R - 1}) on the probe prompts > 0",
                )
            ],
            rule="score(chosen) − score(rejected) of the (max, min) rule, 0 where tied; same probe prompts",
        )
    )
    out.append(
        all_of(
            "A2",
            "Anchored rejection and future-guided chosen keep the gap open: Temporal SR's last-round gap "
            "exceeds Self-Rewarding's at the same compute",
            [
                _claim(
                    "restored",
                    _diff(runs, lambda a: _x(a, "tsr", T, "probe_gap") - _x(a, "sr", R, "probe_gap")),
                    f"gap(TSR round {T}) − gap(SR round {R}) on the probe prompts > 0",
                )
            ],
            rule="the self-judged gap each arm's rule forms in its last round, same probe prompts",
        )
    )
    lc = paired_ci_lc([lc_group(a["tsr"][T]["eval"], a["sr"][R]["eval"]) for a in runs.values()])
    out.append(
        all_of(
            "A3",
            f"Temporal SR ({T} iterations) beats Self-Rewarding ({R} iterations) at the same compute "
            "(paper: AlpacaEval 2 LC 27.94 vs 19.92, WR 29.44 vs 19.69, Llama3.1-8B)",
            [
                _claim(
                    "oracle",
                    _diff(runs, lambda a: _q(a, "tsr", T) - _q(a, "sr", R)),
                    f"q(TSR M_{T}) − q(SR M_{R}) per evaluation prompt > 0",
                    metric="q",
                ),
                interval_claim(
                    "lc", "", lc, rule="LC win rate vs the reference policy, TSR − SR (points) > 0", metric="lc"
                ),
            ],
            rule="oracle quality and LC win rate, paired per prompt and seed",
        )
    )
    out.append(
        all_of(
            "B1",
            "Self-Rewarding improves instruction following over its iterations (Yuan et al.: M1 → M3 "
            "9.94 → 20.44 % AlpacaEval 2 WR)",
            [
                _claim(
                    "improves",
                    _diff(runs, lambda a: _q(a, "sr", R) - _q(a, "sr", 0)),
                    f"q(SR M_{R}) − q(M_0) > 0",
                    metric="q",
                )
            ],
            rule="oracle quality per evaluation prompt",
        )
    )

    def judging(a):
        s0, sR = _finite(_agree(a, "sr", 1, "self_vs_oracle"), _agree(a, "sr", R, "self_vs_oracle"))
        return sR - s0

    out.append(
        all_of(
            "B2",
            f"Self-Rewarding also improves the model's judging (Yuan et al. Table 4: pairwise accuracy "
            f"{float(c.b2_reported_from):g} → {float(c.b2_reported_to):g} %)",
            [
                _claim(
                    "judging",
                    _diff(runs, judging),
                    f"pair accuracy vs the oracle of M_{R - 1}'s self-scores − "
                    "of M_0's, on each one's own probe samples > 0",
                )
            ],
            rule="pair accuracy (ties half) per probe prompt",
        )
    )
    return gate_on_capabilities(gate_on_control(out))


def render_table(doc: dict) -> str:
    m = doc["metrics"]
    n = len(doc.get("seeds", [])) or 1
    rounds = {arm: sorted({int(k.split(".")[1][1:]) for k in m if k.startswith(f"{arm}.r")}) for arm in ARMS}
    lines = [
        f"_Means over {n} seed(s), evaluation prompts of the toy world; round 0 is M_0 (SFT + EFT); one DPO training "
        "= one unit of compute (a Temporal SR round trains two). Gaps are the self-judge's 0–5 chosen–rejected "
        "score difference on fixed probe prompts, measured with the model that formed the round's pairs._\n",
        "| arm | round | DPO trainings | oracle q | WR | LC WR | diversity | pairs | q margin | grad norm | self-judged gap | self-judge pair acc. |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for arm in ARMS:
        for t in rounds[arm]:
            g = lambda k, arm=arm, t=t: m.get(f"{arm}.r{t}.{k}", float("nan"))
            lines.append(
                f"| {LABEL[arm]} | {t} | {COST[arm] * t} | {g('oracle_quality'):.3f} | {g('win_rate'):.1f} | "
                f"{g('lc_win_rate'):.1f} | {g('diversity'):.2f} | {g('n_pairs'):.0f} | {g('q_margin'):.3f} | "
                f"{g('grad_norm'):.3f} | {g('probe_gap'):.2f} | {g('self_vs_oracle'):.3f} |"
            )
    lines += [
        "",
        "Paper (Llama3.1-8B, AlpacaEval 2 LC / WR): SFT 8.73 / 5.96; Self-Rewarding iter 3 19.92 / 19.69; "
        "Temporal SR iter 1 27.94 / 29.44 (Table 1).",
    ]
    return "\n".join(lines)
