"""Three verdicts decided with uncertainty: reproduced, not reproduced, inconclusive.

A comparative claim ("A beats B", "A raises X by at least e") is judged on the *paired* difference
A − B, computed per seed and per prompt on the same prompts, with a two-level bootstrap interval
(resample seeds, then prompts within each seed) so both sources of variation are in it:

* interval entirely above zero (and, for a claimed effect size e, not entirely below e) → reproduced;
* interval entirely below zero, or entirely below the claimed effect e → not reproduced
  (the effect was measurable and absent, or measurably smaller than claimed);
* otherwise (the interval straddles zero) → inconclusive: at this power the data cannot tell.

A paper's positive control gates the rest: when the control is not reproduced, the replication could
not have seen its claims, so every other claim is ``inconclusive`` (``gate_on_control``).

``make check`` tolerances come from the same spread (``seed_tolerance``), so a tie cannot flip a
verdict between machines: a verdict that changes only because an interval bound moved by less than
its tolerance is not a failure (``verdict_stable``).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np

REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE = "reproduced", "not reproduced", "inconclusive"
VERDICTS = (REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE)


def _as_groups(diffs) -> list[np.ndarray]:
    """Per-seed arrays of per-prompt paired differences (a 1-D input is one seed)."""
    if isinstance(diffs, np.ndarray) and diffs.ndim == 1:
        return [diffs.astype(float)]
    groups = [np.asarray(d, dtype=float).ravel() for d in diffs]
    if not groups or any(g.size == 0 for g in groups):
        raise ValueError("paired differences need at least one seed with at least one prompt")
    return groups


def paired_bootstrap(diffs, *, n_boot: int = 2000, level: float = 0.95, seed: int = 0) -> dict:
    """Mean paired difference and its percentile bootstrap interval.

    ``diffs``: a sequence over seeds of per-prompt differences (A − B on the same prompts), or one
    1-D array. Each bootstrap replicate resamples seeds with replacement, then prompts within each
    drawn seed, and averages (seeds weighted equally, as the point estimate is). Deterministic for a
    fixed ``seed``.
    """
    groups = _as_groups(diffs)
    rng = np.random.default_rng(seed)
    k = len(groups)
    means = np.array([g.mean() for g in groups])
    est = float(means.mean())
    boots = np.empty(n_boot)
    for b in range(n_boot):
        pick = rng.integers(k, size=k) if k > 1 else np.zeros(1, dtype=int)
        boots[b] = np.mean([groups[i][rng.integers(groups[i].size, size=groups[i].size)].mean() for i in pick])
    a = (1.0 - level) / 2.0
    lo, hi = np.quantile(boots, [a, 1.0 - a])
    return {
        "diff": est,
        "lo": float(lo),
        "hi": float(hi),
        "se": float(boots.std(ddof=1)),
        "n_seeds": k,
        "n_prompts": int(sum(g.size for g in groups)),
        "level": level,
        "per_seed": [float(m) for m in means],
    }


def decide(lo: float, hi: float, *, effect: float | None = None) -> str:
    """The verdict of an interval [lo, hi] on a difference claimed to be > 0 (and ≥ ``effect`` if given)."""
    if lo > hi:
        raise ValueError(f"interval lower bound {lo} above upper bound {hi}")
    if hi < 0 or (effect is not None and hi < effect):
        return NOT_REPRODUCED
    if lo > 0:
        return REPRODUCED
    return INCONCLUSIVE


def interval_claim(
    cid: str, text: str, ci: dict, *, rule: str, effect: float | None = None, evidence: dict[str, Any] | None = None
) -> dict:
    """A claim judged on an interval ``ci`` (from :func:`paired_bootstrap` or :func:`paired_bootstrap_lc`):
    the evidence carries the difference, its interval and standard error."""
    return {
        "id": cid,
        "text": text,
        "rule": rule,
        "verdict": decide(ci["lo"], ci["hi"], effect=effect),
        "evidence": {
            **(evidence or {}),
            "diff": ci["diff"],
            "ci_lo": ci["lo"],
            "ci_hi": ci["hi"],
            "se": ci["se"],
            "n_seeds": ci["n_seeds"],
            "n_prompts": ci["n_prompts"],
            **({"claimed_effect": effect} if effect is not None else {}),
        },
    }


def comparative_claim(
    cid: str,
    text: str,
    diffs,
    *,
    rule: str,
    effect: float | None = None,
    evidence: dict[str, Any] | None = None,
    seed: int = 0,
) -> dict:
    """A claim judged on paired differences: the evidence carries the difference and its interval."""
    return interval_claim(cid, text, paired_bootstrap(diffs, seed=seed), rule=rule, effect=effect, evidence=evidence)


# ---------------------------------------------------------------------------------------------
# Length-controlled win rates: a difference of two GLM fits, not a mean of per-prompt values


def lc_glm_logit(pref, x, weights, *, iters: int = 50, tol: float = 1e-10):
    """θ of the unpenalised LC GLM  logit P(model ≻ baseline) = θ + φ·x  fitted by Newton's method.

    ``pref``, ``x`` (= tanh of the standardised length difference, ``winrate.std_delta_len``): shape (n,);
    ``weights``: (..., n) prompt multiplicities, one fit per leading index (a bootstrap replicate each), so
    thousands of refits cost one vectorised loop. The LC win rate is σ(θ): the length term set to zero,
    as AlpacaEval's GLM without the instruction-difficulty term. Soft labels in (0, 1) are never separable,
    so the log-likelihood is strictly concave and Newton converges in a few steps.
    """
    p, x = np.asarray(pref, dtype=float), np.asarray(x, dtype=float)
    w = np.asarray(weights, dtype=float)
    theta, phi = np.zeros(w.shape[:-1]), np.zeros(w.shape[:-1])
    ridge = 1e-9 * w.sum(-1) + 1e-12
    # every sum over prompts is a product with a per-prompt vector: the (replicates × prompts) arrays are built
    # a few times per step instead of a dozen, which makes the claims' 288 bootstrap fits ≈ 3× faster
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


def lc_group(eval_a: dict, eval_b: dict) -> dict:
    """One seed's input to :func:`paired_bootstrap_lc` from two ``metrics.evaluation.evaluate_policy`` results
    on the same prompts (their preferences, response lengths and the reference policy's lengths)."""
    return {
        "pref_a": eval_a["preferences"],
        "len_a": [len(y) for y in eval_a["responses"]],
        "pref_b": eval_b["preferences"],
        "len_b": [len(y) for y in eval_b["responses"]],
        "len_ref": eval_a["reference_lengths"],
    }


def paired_bootstrap_lc(groups: Sequence[dict], *, n_boot: int = 1000, level: float = 0.95, seed: int = 0) -> dict:
    """LC win rate of A minus LC win rate of B (points), with a two-level bootstrap interval.

    ``groups``: one dict per seed with per-prompt arrays ``pref_a``, ``len_a``, ``pref_b``, ``len_b``
    (P(model ≻ baseline) and response lengths of A and B on the same prompts) and ``len_ref`` (the
    baseline's lengths). Each replicate resamples seeds, then prompts within each drawn seed, and refits
    both GLMs on the same resampled prompts (paired), so the interval carries the fit's uncertainty.
    The point estimate is the unpenalised fit on all prompts (AlpacaEval's L1-penalised fit with
    cross-validated C, in ``winrate.lc_win_rate``, differs from it by little at ~1000 prompts).
    """
    if not groups:
        raise ValueError("paired_bootstrap_lc needs at least one seed")
    k = len(groups)
    fits = []
    for g in groups:
        pa, xa = _lc_inputs(g["pref_a"], g["len_a"], g["len_ref"])
        pb, xb = _lc_inputs(g["pref_b"], g["len_b"], g["len_ref"])
        if not (pa.size == pb.size == xa.size == xb.size) or pa.size < 2:
            raise ValueError("each seed needs ≥ 2 prompts with the same prompts for A and B")
        fits.append((pa, xa, pb, xb))
    sig = lambda t: 100.0 / (1.0 + np.exp(-t))
    per_seed = [
        float(sig(lc_glm_logit(pa, xa, np.ones(pa.size))) - sig(lc_glm_logit(pb, xb, np.ones(pb.size))))
        for pa, xa, pb, xb in fits
    ]
    draw = (seed, n_boot, tuple(f[0].size for f in fits))
    diffs = np.zeros(n_boot)
    for s, ((pa, xa, pb, xb), (slots, counts)) in enumerate(zip(fits, _lc_resamples(*draw))):
        if counts is None:
            continue
        d = sig(_lc_refits(pa, xa, counts, (draw, s))) - sig(_lc_refits(pb, xb, counts, (draw, s)))
        np.add.at(diffs, slots[:, 0], d)
    diffs /= k
    a = (1.0 - level) / 2.0
    lo, hi = np.quantile(diffs, [a, 1.0 - a])
    return {
        "diff": float(np.mean(per_seed)),
        "lo": float(lo),
        "hi": float(hi),
        "se": float(diffs.std(ddof=1)),
        "n_seeds": k,
        "n_prompts": int(sum(f[0].size for f in fits)),
        "level": level,
        "per_seed": per_seed,
    }


# A paper's LC claims compare one method against many (SimPO against nine others, in two settings) with the same
# seed, so the same resamples and the same method's refits recur: both are kept, keyed by what determines them
# (the numbers are the ones a fresh computation gives; SimPO's claims cell went 11.6 → 5.4 s).
@functools.lru_cache(maxsize=8)
def _lc_resamples(seed: int, n_boot: int, sizes: tuple[int, ...]) -> tuple:
    """Per seed of :func:`paired_bootstrap_lc`: the (replicate, slot) pairs that drew it and its prompt counts
    (None when no replicate drew it), in the order the generator draws them."""
    rng = np.random.default_rng(seed)
    k = len(sizes)
    picks = rng.integers(k, size=(n_boot, k)) if k > 1 else np.zeros((n_boot, 1), dtype=int)
    out = []
    for s, n in enumerate(sizes):
        slots = np.argwhere(picks == s)  # (replicate, slot) pairs that drew seed s: an independent resample each
        counts = rng.multinomial(n, np.full(n, 1.0 / n), size=len(slots)).astype(float) if len(slots) else None
        for a in (slots, counts):
            if a is not None:
                a.setflags(write=False)
        out.append((slots, counts))
    return tuple(out)


_REFITS: dict = {}


def _lc_refits(p: np.ndarray, x: np.ndarray, counts: np.ndarray, draw: tuple) -> np.ndarray:
    """:func:`lc_glm_logit` on every resample of ``draw`` (a key of :func:`_lc_resamples` and a seed index)."""
    import hashlib

    key = (hashlib.sha1(p.tobytes() + x.tobytes()).hexdigest(), draw)
    if key not in _REFITS:
        if len(_REFITS) >= 64:
            _REFITS.clear()
        _REFITS[key] = lc_glm_logit(p, x, counts)
        _REFITS[key].setflags(write=False)
    return _REFITS[key]


def all_of(cid: str, text: str, parts: Sequence[dict], *, rule: str) -> dict:
    """A claim made of several sub-claims (e.g. "in both settings"): reproduced only if every part is,
    not reproduced if any part is, else inconclusive. The parts' evidence is kept, prefixed by their ids."""
    vs = [p["verdict"] for p in parts]
    verdict = (
        NOT_REPRODUCED if NOT_REPRODUCED in vs else REPRODUCED if all(v == REPRODUCED for v in vs) else INCONCLUSIVE
    )
    ev = {f"{p['id']}.{k}": v for p in parts for k, v in p["evidence"].items()}
    ev.update({f"{p['id']}.verdict": p["verdict"] for p in parts})
    return {"id": cid, "text": text, "rule": rule, "verdict": verdict, "evidence": ev}


def part_ids(evidence: dict) -> list[str]:
    """The ids of the parts whose evidence an :func:`all_of` claim holds (keys ``<part>.<key>``), in order."""
    return list(dict.fromkeys(k[: -len(".verdict")] for k in evidence if k.endswith(".verdict")))


def gate_on_control(claims: list[dict], control_id: str = "PC") -> list[dict]:
    """If the positive control is not reproduced, every other claim becomes inconclusive (the replication
    had no power to see it); the original verdict is kept in the evidence."""
    ctrl = next((c for c in claims if c["id"] == control_id), None)
    if ctrl is None:
        raise ValueError(f"no positive control {control_id!r} among claims {[c['id'] for c in claims]}")
    if ctrl["verdict"] == REPRODUCED:
        return claims
    out = []
    for c in claims:
        if c["id"] != control_id and c["verdict"] != INCONCLUSIVE:
            c = {
                **c,
                "verdict": INCONCLUSIVE,
                "evidence": {**c["evidence"], "ungated_verdict": c["verdict"], "gated_by": control_id},
            }
        out.append(c)
    return out


def seed_tolerance(per_seed: Sequence[float], *, z: float = 4.0, floor: float = 1e-6) -> float:
    """A ``make check`` tolerance for a seed-averaged metric: z standard errors of its seed mean.

    On the same machine the numbers are identical; across CPUs float differences move a run by much less
    than seed-to-seed variation, so z = 4 standard errors never fails a faithful re-run and still fails a
    change that moves the metric as much as a different seed would on average.
    """
    x = np.asarray(per_seed, dtype=float)
    if x.size < 2:
        return floor
    return max(float(z * x.std(ddof=1) / np.sqrt(x.size)), floor)


def verdict_stable(fresh: dict, expected: dict, *, tol: float | None = None) -> bool:
    """Whether a changed verdict is a real change: False only if an interval bound crossed a decision
    threshold (0 or the claimed effect) by more than ``tol`` (default: the claim's own standard error).
    A claim made by :func:`all_of` is stable when each of its changed parts is. Claims without intervals
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
    if not all(k in fe and k in ee for k in ("ci_lo", "ci_hi")):
        return False
    if tol is None:
        tol = float(ee.get("se", 0.0))
    thresholds = [0.0] + ([float(ee["claimed_effect"])] if "claimed_effect" in ee else [])
    near = lambda v: any(abs(v - t) <= tol for t in thresholds)
    return all(near(e["ci_lo"]) or near(e["ci_hi"]) for e in (fe, ee))
