"""Three verdicts decided with uncertainty: reproduced, not reproduced, inconclusive.

**The unit of replication is the seed.** Each seed re-runs the whole pipeline: the world draws its own prompts,
the SFT model, the preference data, the training and the evaluation all follow from it. A comparative claim
("A beats B", "A raises X by at least e") is judged on the paired difference A − B *per seed* — the mean over
that seed's prompts (``paired_ci``), or the difference of two length-controlled fits on them
(``paired_ci_lc``) — and the per-seed estimates are independent draws of one distribution. Their Student t
interval with n_seeds − 1 degrees of freedom (``seed_interval``) is therefore exact when seed estimates are
normal (an average of ~1000 prompts is, to a good approximation), *whatever* the ratio of seed-to-seed to
prompt-to-prompt variance. A bootstrap that resamples 3 seeds behaves like z = 1.96 where t₂ needs 4.30 and
covers 75–93 % at a nominal 95 %; ``tests/test_verdicts.py`` measures the coverage of this interval by
simulation, and ``docs/statistics.md`` says why no interval does much better with 3 seeds.

* interval entirely above zero (and, for a claimed effect size e, not entirely below e) → reproduced;
* interval entirely below zero, or entirely below the claimed effect e → not reproduced;
* otherwise → inconclusive: at this power the data cannot tell;
* fewer than ``MIN_SEEDS`` seeds → inconclusive, with the note: a single training run carries no estimate
  of training noise.

A claim made of parts (``all_of``) is reproduced when every part is (an intersection–union test needs no
correction) and not reproduced only when a part contradicts its claim at a familywise 5 % level, Holm's
step-down procedure across the parts; else inconclusive.

A paper's positive control gates the rest (``gate_on_control``): a claim is licensed only when the control
is reproduced on every quantity the claim is judged on, and resolves an effect as small as the smallest one
the claim needs; otherwise the claim is ``inconclusive``, with the reason.

A capability control (``capability_control``) asks whether the toy model can do what a mechanism needs at all
(revise after feedback, judge its own samples, gain from RL with a perfect reward). It is read before the claims
and gates the ones that need it (``gate_on_capabilities``): where the capability is absent they read
``inconclusive``, never ``not reproduced``. Controls are reported with their intervals and never counted as claims.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats

REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE = "reproduced", "not reproduced", "inconclusive"
VERDICTS = (REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE)
# Claim kinds: a measured effect judged on an interval; a published number recomputed from public data (exact
# match or not); a statement true by construction (shown as a check, never counted as a replication).
EMPIRICAL, RECOMPUTATION, IDENTITY = "empirical", "recomputation", "identity"
KINDS = (EMPIRICAL, RECOMPUTATION, IDENTITY)
MIN_SEEDS = 3  # fewer seeds give no usable interval over training noise (t₁ needs 12.7 standard errors)
ALPHA = 0.05  # two-sided: each side of a 95 % interval, and each tail of a familywise decision, holds 2.5 %
METHOD = "Student t on per-seed estimates (n_seeds − 1 df)"


def seed_note(k: int) -> str | None:
    """Why a comparison over ``k`` seeds cannot be judged, or None when it can."""
    if k >= MIN_SEEDS:
        return None
    return (
        "one seed: no interval over training noise"
        if k == 1
        else f"{k} seeds: too few for an interval over training noise"
    )


@functools.lru_cache(maxsize=256)
def t_quantile(level: float, df: int) -> float:
    """The two-sided ``level`` quantile of Student's t with ``df`` degrees of freedom (cached: claims ask often)."""
    return float(stats.t.ppf(0.5 + level / 2, df))


def seed_interval(per_seed: Sequence[float], *, level: float = 1 - ALPHA, n_prompts: int = 0) -> dict:
    """The t interval of the mean of independent per-seed estimates: mean ± t_{k−1} · sd / √k.

    Returns the interval as a dict (``diff``, ``lo``, ``hi``, ``se``, ``df``, ``n_seeds``, ``n_prompts``, ``level``,
    ``per_seed``, ``method``) and, below ``MIN_SEEDS`` seeds, a ``note``; with one seed the bounds are None.
    """
    x = np.asarray(per_seed, dtype=float)
    if x.ndim != 1 or x.size == 0 or not np.all(np.isfinite(x)):
        raise ValueError(f"per-seed estimates must be a non-empty 1-D array of finite numbers, got {per_seed!r}")
    k = x.size
    est = float(x.mean())
    out = {"diff": est, "n_seeds": k, "n_prompts": int(n_prompts), "level": level, "method": METHOD,
           "per_seed": [float(v) for v in x]}  # fmt: skip
    if k == 1:
        return {**out, "lo": None, "hi": None, "se": None, "df": 0, "note": seed_note(1)}
    se = float(x.std(ddof=1) / math.sqrt(k))
    half = t_quantile(level, k - 1) * se
    out.update(lo=est - half, hi=est + half, se=se, df=k - 1)
    if note := seed_note(k):
        out["note"] = note
    return out


def _per_seed_arrays(diffs) -> list[np.ndarray]:
    """Per-seed arrays of per-prompt paired differences: a (n_seeds, n_prompts) array, a sequence of 1-D arrays
    (seeds may have different prompt counts), or one 1-D array (one seed)."""
    if isinstance(diffs, np.ndarray) and diffs.ndim == 1:
        diffs = [diffs]
    groups = [np.asarray(d, dtype=float).ravel() for d in diffs]
    if not groups or any(g.size == 0 for g in groups):
        raise ValueError("paired differences need at least one seed with at least one prompt")
    return groups


def paired_ci(diffs, *, level: float = 1 - ALPHA) -> dict:
    """Mean paired difference (seeds weighted equally) and its t interval over seeds (``seed_interval``).

    ``diffs``: per seed, the per-prompt differences A − B on the same prompts (see ``_per_seed_arrays``).
    """
    groups = _per_seed_arrays(diffs)
    return seed_interval([g.mean() for g in groups], level=level, n_prompts=sum(g.size for g in groups))


def format_ci(ci: dict, fmt: str = "+.3f") -> str:
    """``+0.123 [+0.010, +0.236]`` from a ``paired_ci``/``seed_interval`` dict; with one seed (bounds None)
    ``+0.123 [one seed: no interval]``, so notebooks print the same line at ``make check``'s one-seed subset."""
    if ci.get("lo") is None or ci.get("hi") is None:
        return f"{ci['diff']:{fmt}} [one seed: no interval]"
    return f"{ci['diff']:{fmt}} [{ci['lo']:{fmt}}, {ci['hi']:{fmt}}]"


def paired_interval(d, level: float = 1 - ALPHA, seed: int = 0) -> tuple[float, float | None, float | None]:
    """``(estimate, lo, hi)`` of the mean of paired differences ``d`` (shape (n_seeds, n_prompts): method −
    baseline on the same seed and prompt), by the t interval over seeds.

    ``seed`` is accepted for the interface's sake and changes nothing: the interval involves no resampling.
    With one seed the bounds are None (no interval over training noise).
    """
    del seed
    ci = paired_ci(d, level=level)
    return ci["diff"], ci["lo"], ci["hi"]


def decide(lo: float | None, hi: float | None, *, effect: float | None = None) -> str:
    """The verdict of an interval [lo, hi] on a difference claimed to be > 0 (and ≥ ``effect`` if given)."""
    if lo is None or hi is None:
        return INCONCLUSIVE
    if lo > hi:
        raise ValueError(f"interval lower bound {lo} above upper bound {hi}")
    if hi < 0 or (effect is not None and hi < effect):
        return NOT_REPRODUCED
    if lo > 0:
        return REPRODUCED
    return INCONCLUSIVE


def interval_claim(
    cid: str,
    text: str,
    ci: dict,
    *,
    rule: str,
    effect: float | None = None,
    evidence: dict[str, Any] | None = None,
    metric: str | None = None,
    needs: float | None = None,
) -> dict:
    """An empirical claim judged on an interval ``ci`` (from ``paired_ci`` / ``paired_ci_lc``).

    ``metric``: the quantity it is judged on (e.g. ``lc``, ``wr``, ``q``), which the positive control must test;
    ``needs``: the smallest effect, in the metric's units, that the claim needs resolved (e.g. the paper's
    reported margin), which the control's resolution must reach (``gate_on_control``).
    Below ``MIN_SEEDS`` seeds the verdict is inconclusive, with the note.
    """
    k = int(ci["n_seeds"])
    verdict = decide(ci["lo"], ci["hi"], effect=effect) if k >= MIN_SEEDS else INCONCLUSIVE
    ev = {**(evidence or {}), "diff": ci["diff"], "ci_lo": ci["lo"], "ci_hi": ci["hi"], "se": ci["se"],
          "df": ci.get("df", k - 1), "n_seeds": k, "n_prompts": ci["n_prompts"], "per_seed": ci.get("per_seed")}  # fmt: skip
    if effect is not None:
        ev["claimed_effect"] = effect
    if metric is not None:
        ev["metric"] = metric
    if needs is not None:
        ev["needs"] = float(needs)
    if note := ci.get("note") or seed_note(k):
        ev["note"] = note
    return {"id": cid, "text": text, "rule": rule, "kind": EMPIRICAL, "verdict": verdict, "evidence": ev}


def comparative_claim(
    cid: str,
    text: str,
    diffs,
    *,
    rule: str,
    effect: float | None = None,
    evidence: dict[str, Any] | None = None,
    metric: str | None = None,
    needs: float | None = None,
) -> dict:
    """A claim judged on per-seed, per-prompt paired differences (``paired_ci``)."""
    return interval_claim(
        cid, text, paired_ci(diffs), rule=rule, effect=effect, evidence=evidence, metric=metric, needs=needs
    )


# ---------------------------------------------------------------------------------------------
# Length-controlled win rates: per seed, a difference of two GLM fits, not a mean of per-prompt values


def lc_glm_logit(pref, x, weights, *, iters: int = 50, tol: float = 1e-10):
    """θ of the unpenalised LC GLM  logit P(model ≻ baseline) = θ + φ·x  fitted by Newton's method.

    ``pref``, ``x`` (= tanh of the standardised length difference, ``winrate.std_delta_len``): shape (n,);
    ``weights``: (..., n) prompt multiplicities, one fit per leading index. The LC win rate is σ(θ): the length
    term set to zero, as AlpacaEval's GLM without the instruction-difficulty term. Soft labels in (0, 1) are never
    separable, so the log-likelihood is strictly concave and Newton converges in a few steps.
    """
    p, x = np.asarray(pref, dtype=float), np.asarray(x, dtype=float)
    w = np.asarray(weights, dtype=float)
    theta, phi = np.zeros(w.shape[:-1]), np.zeros(w.shape[:-1])
    ridge = 1e-9 * w.sum(-1) + 1e-12
    X = np.stack([np.ones_like(x), x, x * x], axis=-1)  # (n, 3): 1, x, x²
    wp = w @ (p[:, None] * X[:, :2])  # Σ w p, Σ w p x
    for _ in range(iters):
        s = 1.0 / (1.0 + np.exp(-(theta[..., None] + phi[..., None] * x)))
        ws = w * s
        a, b = ws @ X, (ws * s) @ X  # Σ w s·(1, x, x²) and Σ w s²·(1, x, x²)
        g0, g1 = wp[..., 0] - a[..., 0], wp[..., 1] - a[..., 1]
        h00, h01, h11 = a[..., 0] - b[..., 0] + ridge, a[..., 1] - b[..., 1], a[..., 2] - b[..., 2] + ridge
        det = h00 * h11 - h01 * h01
        d0, d1 = (h11 * g0 - h01 * g1) / det, (h00 * g1 - h01 * g0) / det
        theta, phi = theta + d0, phi + d1
        if max(np.abs(d0).max(initial=0.0), np.abs(d1).max(initial=0.0)) < tol:
            break
    return theta


def _lc_inputs(pref, len_model, len_baseline):
    d = np.asarray(len_baseline, dtype=float) - np.asarray(len_model, dtype=float)
    sd = d.std(ddof=1) if d.size > 1 else 0.0
    return np.asarray(pref, dtype=float), np.tanh(d / sd if sd > 0 else np.zeros_like(d))


def lc_win_rate_glm(pref, len_model, len_baseline) -> float:
    """The LC win rate (points) of one model on one seed's prompts: 100·σ(θ) of the unpenalised GLM."""
    p, x = _lc_inputs(pref, len_model, len_baseline)
    return float(100.0 / (1.0 + np.exp(-lc_glm_logit(p, x, np.ones(p.size)))))


def lc_group(eval_a: dict, eval_b: dict) -> dict:
    """One seed's input to ``paired_ci_lc`` from two ``metrics.evaluation.evaluate_policy`` results on the same
    prompts (their preferences, response lengths and the reference policy's lengths)."""
    return {
        "pref_a": eval_a["preferences"],
        "len_a": [len(y) for y in eval_a["responses"]],
        "pref_b": eval_b["preferences"],
        "len_b": [len(y) for y in eval_b["responses"]],
        "len_ref": eval_a["reference_lengths"],
    }


def paired_ci_lc(groups: Sequence[dict], *, level: float = 1 - ALPHA) -> dict:
    """LC win rate of A minus LC win rate of B (points): per seed, the difference of the two GLM fits on that seed's
    prompts; across seeds, the t interval of ``seed_interval``.

    ``groups``: one dict per seed with per-prompt arrays ``pref_a``, ``len_a``, ``pref_b``, ``len_b`` (P(model ≻
    baseline) and response lengths of A and B on the same prompts) and ``len_ref`` (the baseline's lengths). The
    fit is AlpacaEval's GLM without its L1 penalty and instruction term (``winrate.lc_win_rate`` has both; at
    ~1000 prompts they differ by little).
    """
    if not groups:
        raise ValueError("paired_ci_lc needs at least one seed")
    per_seed, n = [], 0
    for g in groups:
        sizes = {len(g[k]) for k in ("pref_a", "len_a", "pref_b", "len_b", "len_ref")}
        if len(sizes) != 1 or sizes.pop() < 2:
            raise ValueError("each seed needs ≥ 2 prompts with the same prompts for A and B")
        per_seed.append(
            lc_win_rate_glm(g["pref_a"], g["len_a"], g["len_ref"])
            - lc_win_rate_glm(g["pref_b"], g["len_b"], g["len_ref"])
        )
        n += len(g["pref_a"])
    return seed_interval(per_seed, level=level, n_prompts=n)


def equivalence(estimate: float, se: float, target: float, *, margin: float, alpha: float = ALPHA) -> tuple[str, dict]:
    """Does ``estimate`` (with standard error ``se``) agree with a published ``target`` within ``±margin``?

    Two one-sided tests at level ``alpha`` (Schuirmann 1987): *reproduced* when the (1 − 2α) interval of estimate −
    target lies inside (−margin, +margin); *not reproduced* when it lies entirely outside; else *inconclusive* (the
    interval is too wide to tell). Returns the verdict and its evidence.
    """
    d = float(estimate) - float(target)
    z = float(stats.norm.ppf(1 - alpha))
    lo, hi = d - z * se, d + z * se
    if -margin < lo and hi < margin:
        verdict = REPRODUCED
    elif lo > margin or hi < -margin:
        verdict = NOT_REPRODUCED
    else:
        verdict = INCONCLUSIVE
    return verdict, {"diff": d, "ci_lo": lo, "ci_hi": hi, "se": float(se), "margin": float(margin),
                     "level": 1 - 2 * alpha}  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Claims made of parts: an intersection–union test for "reproduced", Holm for "not reproduced"


def p_contradiction(ev: dict) -> float:
    """One-sided p-value of "the effect is at least its threshold" (0, or the claimed effect) from an interval
    claim's evidence: small when the data contradict the claim. Exact claims: 0 if not reproduced, else 1."""
    if "ci_lo" not in ev:
        return 0.0 if ev.get("verdict") == NOT_REPRODUCED else 1.0
    if ev.get("se") is None or int(ev.get("n_seeds", 0)) < MIN_SEEDS:
        return 1.0
    threshold = float(ev.get("claimed_effect", 0.0))
    if ev["se"] == 0:
        return 0.0 if ev["diff"] < threshold else 1.0
    return float(stats.t.cdf((ev["diff"] - threshold) / ev["se"], int(ev["df"])))


def holm_rejects(p: Sequence[float], alpha: float) -> list[bool]:
    """Holm's step-down procedure: which hypotheses are rejected at familywise level ``alpha``."""
    order = np.argsort(p, kind="stable")
    rejected = [False] * len(p)
    for rank, i in enumerate(order):
        if p[i] > alpha / (len(p) - rank):
            break
        rejected[i] = True
    return rejected


def all_of(cid: str, text: str, parts: Sequence[dict], *, rule: str) -> dict:
    """A claim made of parts (e.g. "in both settings", "best of all nine"):

    * reproduced when every part is reproduced — an intersection–union test, which needs no correction;
    * not reproduced when some part contradicts its claim at a familywise 5 % level: Holm's procedure on the
      parts' one-sided p-values at α = 2.5 % (the tail a single 95 % interval leaves below its lower bound);
    * else inconclusive.

    Each part's evidence is kept, prefixed by its id; ``<part>.verdict`` is the part's verdict within the family (a
    part whose own interval lies below zero but which Holm does not reject reads inconclusive, and keeps its own
    verdict as ``<part>.unadjusted_verdict``).
    """
    if not parts:
        raise ValueError(f"claim {cid} has no parts")
    p = [p_contradiction({**q["evidence"], "verdict": q["verdict"]}) for q in parts]
    rejects = holm_rejects(p, ALPHA / 2)
    if all(q["verdict"] == REPRODUCED for q in parts):
        verdict = REPRODUCED
    elif any(rejects):
        verdict = NOT_REPRODUCED
    else:
        verdict = INCONCLUSIVE
    ev: dict[str, Any] = {}
    for q, pq, rej in zip(parts, p, rejects):
        ev.update({f"{q['id']}.{k}": v for k, v in q["evidence"].items()})
        v = q["verdict"]
        if v == NOT_REPRODUCED and not rej:
            ev[f"{q['id']}.unadjusted_verdict"] = v
            v = INCONCLUSIVE
        ev[f"{q['id']}.p_contradiction"] = pq
        ev[f"{q['id']}.verdict"] = v
    kinds = {q.get("kind", EMPIRICAL) for q in parts}
    kind = EMPIRICAL if EMPIRICAL in kinds else RECOMPUTATION if RECOMPUTATION in kinds else IDENTITY
    return {"id": cid, "text": text, "rule": rule + " (all parts; Holm across parts for a contradiction)",
            "kind": kind, "verdict": verdict, "evidence": ev}  # fmt: skip


def part_ids(evidence: dict) -> list[str]:
    """The ids of the parts whose evidence an ``all_of`` claim holds (keys ``<part>.<key>``), in order."""
    return list(dict.fromkeys(k[: -len(".verdict")] for k in evidence if k.endswith(".verdict")))


def claim_parts(claim: dict) -> list[dict]:
    """A claim's parts as {id, verdict, evidence} (a claim without parts is its own only part)."""
    ev = claim.get("evidence", {})
    ids = part_ids(ev)
    if not ids:
        return [{"id": claim["id"], "verdict": claim["verdict"], "evidence": ev}]
    return [
        {
            "id": p,
            "verdict": ev[f"{p}.verdict"],
            "evidence": {k[len(p) + 1 :]: v for k, v in ev.items() if k.startswith(p + ".")},
        }
        for p in ids
    ]


def _halfwidth(ev: dict) -> float | None:
    lo, hi = ev.get("ci_lo"), ev.get("ci_hi")
    return None if lo is None or hi is None else (hi - lo) / 2


def _gated(c: dict, control_id: str, reasons: list[str]) -> dict:
    """``c`` with ``control_id``'s reasons added to its gate (a claim may be gated by several controls: the
    reasons accumulate, and the first verdict the gate replaced is kept as ``ungated_verdict``)."""
    if not reasons:
        return c
    ev = dict(c["evidence"])
    ev["gated_by"] = ", ".join(filter(None, [ev.get("gated_by"), control_id]))
    ev["gate_reason"] = "; ".join(filter(None, [ev.get("gate_reason"), *reasons]))
    if c["verdict"] != INCONCLUSIVE:
        ev["ungated_verdict"] = c["verdict"]
    return {**c, "verdict": INCONCLUSIVE, "evidence": ev}


def gate_on_control(claims: list[dict], control_id: str = "PC") -> list[dict]:
    """License each claim by the positive control; an unlicensed claim becomes inconclusive, with the reason.

    A claim is licensed when the control is reproduced and, for every quantity (``metric``) the claim's parts are
    judged on, the control has a reproduced part on that quantity whose interval half-width — the smallest effect
    this replication resolves — is no larger than the smallest effect (``needs``) a part on that quantity needs.
    Parts that name no metric are licensed by the control's verdict alone. The original verdict is kept.
    Capability controls (``role: control``) are not gated by it: they are read before it.
    """
    ctrl = next((c for c in claims if c["id"] == control_id), None)
    if ctrl is None:
        raise ValueError(f"no positive control {control_id!r} among claims {[c['id'] for c in claims]}")
    by_metric: dict[str, list[dict]] = {}
    for p in claim_parts(ctrl):
        if m := p["evidence"].get("metric"):
            by_metric.setdefault(m, []).append(p)
    out = []
    for c in claims:
        if c["id"] == control_id or c.get("kind", EMPIRICAL) != EMPIRICAL or c.get("role") == CONTROL:
            out.append(c)
            continue
        reasons = [] if ctrl["verdict"] == REPRODUCED else [f"{control_id} is {ctrl['verdict']}"]
        needs: dict[str, float] = {}
        for p in claim_parts(c):
            if m := p["evidence"].get("metric"):
                need = p["evidence"].get("needs")
                needs[m] = min(needs.get(m, math.inf), math.inf if need is None else float(need))
        for m, need in needs.items():
            ok = [p for p in by_metric.get(m, []) if p["verdict"] == REPRODUCED]
            if not ok:
                reasons.append(f"{control_id} has no reproduced part on {m}")
                continue
            resolves = min(_halfwidth(p["evidence"]) for p in ok)
            if resolves > need:
                reasons.append(f"{control_id} resolves ±{resolves:.3g} on {m}; the claim needs {need:.3g}")
        out.append(_gated(c, control_id, reasons))
    return out


# ---------------------------------------------------------------------------------------------
# Capability controls: can the toy world's model do what a mechanism needs at all?

CONTROL = "control"  # a claim's role: a capability control (read before the claims, gates them, never counted)
CAPABILITY = {REPRODUCED: "present", NOT_REPRODUCED: "absent", INCONCLUSIVE: "not shown"}


def capability_control(claim: dict, *, capability: str, gates: Sequence[str]) -> dict:
    """Mark an empirical claim as the capability control of a mechanism (``capability``, e.g. "revision after
    feedback"): reproduced means the toy model has the capability, so the claims in ``gates`` can be judged;
    absent or not shown, they read inconclusive (:func:`gate_on_capabilities`). ``gates`` may be empty: a control
    reported for what it says about the run (a reward model's agreement with the oracle) that licenses nothing."""
    if claim.get("kind", EMPIRICAL) != EMPIRICAL:
        raise ValueError(f"capability control {claim['id']}: must be empirical, not {claim.get('kind')!r}")
    return {**claim, "role": CONTROL, "capability": capability, "gates": list(gates)}


def is_control(claim: dict) -> bool:
    return claim.get("role") == CONTROL


def gate_on_capabilities(claims: list[dict]) -> list[dict]:
    """Each claim named in a capability control's ``gates`` is licensed only when that control is reproduced;
    otherwise it reads inconclusive with the reason (a missing capability is never a *not reproduced*). Returns
    the controls first, in their order, then the other claims in theirs: a reader meets the controls first."""
    controls = [c for c in claims if is_control(c)]
    ids = {c["id"] for c in claims}
    for k in controls:
        if unknown := [g for g in k["gates"] if g not in ids or g == k["id"]]:
            raise ValueError(f"capability control {k['id']} gates unknown claims {unknown}")
        if gated_controls := [g for g in k["gates"] if is_control(next(c for c in claims if c["id"] == g))]:
            raise ValueError(f"capability control {k['id']} gates other controls {gated_controls}")
    out = []
    for c in claims:
        if is_control(c):
            continue
        for k in controls:
            if c["id"] in k["gates"] and k["verdict"] != REPRODUCED:
                why = f"capability control {k['id']} ({k['capability']}) is {CAPABILITY[k['verdict']]}"
                c = _gated(c, k["id"], [why])
        out.append(c)
    return controls + out


# ---------------------------------------------------------------------------------------------
# make check


def verdict_stable(fresh: dict, expected: dict, *, tol: float | None = None) -> bool:
    """Whether a changed verdict is a real change: False only if an interval bound crossed a decision
    threshold (0 or the claimed effect) by more than ``tol`` (default: the claim's own standard error).
    A claim made by ``all_of`` is stable when each of its changed parts is. Claims without intervals
    must match exactly."""
    if fresh["verdict"] == expected["verdict"]:
        return True
    fe, ee = fresh.get("evidence", {}), expected.get("evidence", {})
    parts = part_ids(ee)
    if parts and "ci_lo" not in ee:
        sub = lambda ev, p: {
            "verdict": ev.get(f"{p}.verdict"),
            "evidence": {k[len(p) + 1 :]: v for k, v in ev.items() if k.startswith(p + ".")},
        }
        return all(verdict_stable(sub(fe, p), sub(ee, p), tol=tol) for p in parts)
    if not all(fe.get(k) is not None and ee.get(k) is not None for k in ("ci_lo", "ci_hi")):
        return False
    if tol is None:
        tol = float(ee.get("se") or 0.0)
    thresholds = [0.0] + ([float(ee["claimed_effect"])] if "claimed_effect" in ee else [])
    near = lambda v: any(abs(v - t) <= tol for t in thresholds)
    return all(near(e["ci_lo"]) or near(e["ci_hi"]) for e in (fe, ee))
