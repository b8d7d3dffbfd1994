"""SimPO's numbers and claims from the runs of ``papers.simpo.run_all`` (no compute beyond intervals).

Every comparative claim is judged on paired differences per seed, with a t interval over the seeds' means
(``metrics.verdicts``): LC win rates through a GLM fit per seed, raw win rates,
oracle quality and lengths per evaluation prompt, agreement and reward accuracy per held-out pair.
The positive control ``PC`` gates the rest: without it, no claim can be "not reproduced".
"""

from __future__ import annotations

import numpy as np

from ...metrics.verdicts import all_of, gate_on_control, interval_claim, lc_group, paired_ci, paired_ci_lc

METHODS_TABLE4 = ("sft", "rrhf", "slic_hf", "dpo", "ipo", "cpo", "kto", "orpo", "rdpo", "simpo")
METRICS = ("win_rate", "lc_win_rate", "avg_length", "oracle_quality")
HELDOUT = ("agreement", "simpo_reward_accuracy", "dpo_reward_accuracy")


def _seeds(runs: dict, *variants) -> list[int]:
    """The seeds of the runs; with ``variants`` ((setting, method, tag) each), those on which all of them ran (the
    arms of ``paper.power`` run on more seeds than the others, so a comparison pairs the seeds both arms have)."""
    return sorted({k[0] for k in runs if not variants or all((k[0], *v) in runs for v in variants)})


def _name(s: str, m: str, tag: str = "") -> str:
    return f"{s}.{m}" + (f"[{tag}]" if tag else "")


def _variants(runs: dict) -> list[tuple[str, str, str]]:
    return list(dict.fromkeys(k[1:] for k in runs))


def summary(runs: dict):
    """One row per (setting, method, variant): seed means, and the seed standard deviation of LC and raw win rate."""
    import pandas as pd

    rows = []
    for s, m, tag in _variants(runs):
        rs = [runs[(sd, s, m, tag)] for sd in _seeds(runs, (s, m, tag))]
        row = {"setting": s, "method": m, "variant": tag or "-", "seeds": len(rs)}
        row.update({k: float(np.mean([r["eval"][k] for r in rs])) for k in METRICS})
        row.update(
            {
                f"{k} sd": float(np.std([r["eval"][k] for r in rs], ddof=1)) if len(rs) > 1 else 0.0
                for k in ("lc_win_rate", "win_rate")
            }
        )
        for k in ("agreement", "simpo_reward_accuracy"):
            row[k] = float(np.mean([r["heldout"][k] for r in rs]))
        rows.append(row)
    return pd.DataFrame(rows)


def flat_metrics(runs: dict, pair_stats: dict) -> tuple[dict, dict]:
    """(metrics, seed_spread): seed means of every number, and each one's per-seed values (``make check``
    derives its tolerance from them). ``pair_stats``: {seed: {setting: stats}}."""
    per_seed: dict[str, list] = {}
    for (_sd, s, m, tag), r in runs.items():
        name = _name(s, m, tag)
        for k in METRICS:
            per_seed.setdefault(f"{name}.{k}", []).append(r["eval"][k])
        for k in HELDOUT:
            if k in r["heldout"]:
                per_seed.setdefault(f"{name}.{k}", []).append(r["heldout"][k])
    for _sd, st in sorted(pair_stats.items()):
        for s, d in st.items():
            for k, v in d.items():
                per_seed.setdefault(f"{s}.pairs.{k}", []).append(v)
    metrics = {k: float(np.mean(v)) for k, v in per_seed.items()}
    return metrics, {k: [float(x) for x in v] for k, v in per_seed.items() if len(v) > 1}


# ---------------------------------------------------------------------------------------------
# Per-prompt values of one run, and the comparisons built from them


def _ev(runs, sd, v):
    return runs[(sd, *v)]["eval"]


_PER_PROMPT = {
    "wr": lambda ev: 100.0 * np.asarray(ev["preferences"], dtype=float),
    "q": lambda ev: np.asarray(ev["oracle_qualities"], dtype=float),
    "len": lambda ev: np.array([len(y) for y in ev["responses"]], dtype=float),
}


def _per_prompt(runs, v, what: str, sds: list[int]) -> list[np.ndarray]:
    return [_PER_PROMPT[what](_ev(runs, sd, v)) for sd in sds]


def _per_pair(runs, v, what: str, sds: list[int]) -> list[np.ndarray]:
    # agreement: the average log-likelihood ranks chosen above rejected; SimPO's reward β·that has the same sign
    return [(np.asarray(runs[(sd, *v)]["heldout"]["reward_margins"]) > 0).astype(float) for sd in sds]


def _z(ci: dict) -> dict:
    return {"t": ci["diff"] / ci["se"]} if ci.get("se") else {}


def diff(cid: str, runs, a, b, what: str) -> dict:
    """``what`` ∈ wr (raw win rate, points), q (oracle quality), len (characters), agree (held-out pairs): A − B."""
    get = _per_pair if what == "agree" else _per_prompt
    sds = _seeds(runs, a, b)
    d = [x - y for x, y in zip(get(runs, a, what, sds), get(runs, b, what, sds))]
    ci = paired_ci(d)
    # held-out agreement has no positive control of its own (no method is known to raise it): its parts name no
    # metric, so the control's overall verdict alone licenses them
    return interval_claim(
        cid,
        "",
        ci,
        rule=f"{what}({_name(*a)}) − {what}({_name(*b)}) > 0",
        evidence=_z(ci),
        metric=None if what == "agree" else what,
    )


def lc_diff(cid: str, runs, a, b, needs: float | None = None) -> dict:
    """LC win rate of A − B (points); ``needs``: the paper's margin for this comparison, which the positive control's
    LC resolution must reach for the claim to be licensed (``verdicts.gate_on_control``)."""
    ci = paired_ci_lc([lc_group(_ev(runs, sd, a), _ev(runs, sd, b)) for sd in _seeds(runs, a, b)])
    return interval_claim(
        cid, "", ci, rule=f"lc({_name(*a)}) − lc({_name(*b)}) > 0", evidence=_z(ci), metric="lc", needs=needs
    )


PAPER_SETTING = {"base": "Mistral-Base 7B", "instruct": "Mistral-Instruct 7B"}  # Table 4/5's Mistral rows


def paper_margins(table: str = "Table 4") -> dict:
    """{(setting, row): the paper's AE2 LC win rate} for our settings, from ``results/reported/simpo.csv`` (reference
    rows); {} when the file has none (a claim then needs no particular resolution)."""
    from ...metrics.claims import load_reported

    rep = load_reported("simpo")
    rows = rep[(rep.metric == "AE2 LC") & (rep.table == table) & (rep.reference.astype(str).str.lower() == "true")]
    inv = {v: k for k, v in PAPER_SETTING.items()}
    return {(inv[r.setting], r.row): float(r.value) for r in rows.itertuples() if r.setting in inv}


def _needs(paper: dict, s: str, a: str, b: str) -> float | None:
    """The paper's LC margin of row a over row b in setting s, or None when either is not reported."""
    if (s, a) in paper and (s, b) in paper:
        return round(paper[(s, a)] - paper[(s, b)], 3)
    return None


def claims(runs: dict, cfg) -> list[dict]:
    S = list(cfg.paper.settings)
    V = lambda s, m, tag="": (s, m, tag)
    t4, t5 = paper_margins("Table 4"), paper_margins("Table 5")
    out = []
    pc = []
    for s in S:
        pc += [
            diff(f"{s}.wr", runs, V(s, "dpo"), V(s, "sft"), "wr"),
            diff(f"{s}.q", runs, V(s, "dpo"), V(s, "sft"), "q"),
            lc_diff(f"{s}.lc", runs, V(s, "dpo"), V(s, "sft")),
        ]
    pc.append(diff(f"{S[-1]}.len", runs, V(S[-1], "dpo"), V(S[-1], "sft"), "len"))
    out.append(
        all_of(
            "PC",
            "Positive control: DPO beats its SFT start on the judge's raw win rate, on oracle quality and on LC win "
            "rate in each setting, and the length-biased judge makes its answers longer",
            pc,
            rule="dpo − sft > 0 on raw WR, oracle q and LC WR (each setting) and on length",
        )
    )
    out.append(
        all_of(
            "C1",
            "SimPO ≥ DPO on LC win rate in both settings",
            [lc_diff(s, runs, V(s, "simpo"), V(s, "dpo"), _needs(t4, s, "simpo", "dpo")) for s in S],
            rule="lc(simpo) − lc(dpo) > 0, each setting",
        )
    )
    others = [m for m in METHODS_TABLE4 if m != "simpo"]
    out.append(
        all_of(
            "C2",
            "SimPO has the best LC win rate of all methods in each setting",
            [lc_diff(f"{s}.{m}", runs, V(s, "simpo"), V(s, m), _needs(t4, s, "simpo", m)) for s in S for m in others],
            rule="lc(simpo) − lc(m) > 0 for every other method m, each setting",
        )
    )
    c3 = []
    for s in S:
        c3 += [
            lc_diff(
                f"{s}.ln",
                runs,
                V(s, "simpo"),
                V(s, "simpo", "no_length_norm"),
                _needs(t5, s, "simpo", "simpo[no_length_norm]"),
            ),
            lc_diff(
                f"{s}.gamma",
                runs,
                V(s, "simpo"),
                V(s, "simpo", "gamma_zero"),
                _needs(t5, s, "simpo", "simpo[gamma_zero]"),
            ),
            diff(f"{s}.len", runs, V(s, "simpo", "no_length_norm"), V(s, "simpo"), "len"),
        ]
    out.append(
        all_of(
            "C3",
            "Without length normalization or with γ = 0 SimPO does worse; without LN responses grow longer",
            c3,
            rule="lc(simpo) − lc(no_ln) > 0, lc(simpo) − lc(γ=0) > 0, len(no_ln) − len(simpo) > 0, each setting",
        )
    )
    out.append(
        all_of(
            "C6",
            "Likelihood–preference agreement on held-out pairs is higher for SimPO than DPO",
            [diff(s, runs, V(s, "simpo"), V(s, "dpo"), "agree") for s in S],
            rule="agreement(simpo) − agreement(dpo) > 0 per held-out pair, each setting",
        )
    )
    sw = next(k[1] for k in runs if k[3].startswith("gamma="))
    gs = sorted(float(g) for g in cfg.paper.gamma_sweep)
    # the dev-tuned γ of the main SimPO run (chosen on the dev split, never on the evaluation prompts)
    g_star = float(runs[(_seeds(runs)[0], sw, "simpo", "")]["config"]["hparams"]["gamma"])
    if not gs[0] < g_star < gs[-1]:
        raise ValueError(f"C7 needs the tuned γ ({g_star}) strictly inside the sweep {gs}")
    G = lambda g: V(sw, "simpo", f"gamma={g}")
    out.append(
        all_of(
            "C7",
            "Reward accuracy rises with γ while win rate peaks at an intermediate γ",
            [
                diff("acc", runs, G(gs[-1]), G(gs[0]), "agree"),
                diff("peak_vs_low", runs, G(g_star), G(gs[0]), "wr"),
                diff("peak_vs_high", runs, G(g_star), G(gs[-1]), "wr"),
            ],
            rule=f"reward accuracy(γ={gs[-1]}) − (γ={gs[0]}) > 0; raw WR at the dev-tuned γ={g_star} "
            f"above both ends of the sweep",
        )
    )
    return gate_on_control(out)


def render_table(doc: dict) -> str:
    """Table 4 side by side: our LC / WR / length / oracle quality (seed means), and the paper's AE2 LC / WR."""
    m = doc["metrics"]
    from ...metrics.claims import load_reported

    rep = load_reported("simpo")
    paper_setting = PAPER_SETTING
    n = len(doc.get("seeds", [])) or 1
    spread = doc.get("seed_spread", {})
    lines = [
        f"_Means over the seeds in the `seeds` column ({n} unless `paper.power` gives a row more); the claims below "
        "carry the intervals._\n",
        "| setting | method | seeds | LC WR (ours) | WR (ours) | avg len | oracle q | agreement | AE2 LC (paper) | "
        "AE2 WR (paper) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in ("base", "instruct"):
        for meth in METHODS_TABLE4:
            k = f"{s}.{meth}"
            if f"{k}.lc_win_rate" not in m:
                continue
            pl = pw = ""
            if rep is not None:
                row = rep[
                    (rep.setting == paper_setting[s])
                    & (rep.row == meth)
                    & (rep.reference.astype(str).str.lower() == "true")
                ]
                pl, pw = _v(row, "AE2 LC"), _v(row, "AE2 WR")
            lines.append(
                f"| {s} | {meth} | {len(spread.get(f'{k}.lc_win_rate', ())) or n} | {m[f'{k}.lc_win_rate']:.1f} | {m[f'{k}.win_rate']:.1f} | "
                f"{m[f'{k}.avg_length']:.1f} | {m[f'{k}.oracle_quality']:.3f} | "
                f"{m.get(f'{k}.agreement', float('nan')):.3f} | {pl} | {pw} |"
            )
    return "\n".join(lines)


def _v(rows, metric):
    r = rows[rows.metric == metric]
    return f"{float(r.value.iloc[0]):.1f}" if len(r) else ""
