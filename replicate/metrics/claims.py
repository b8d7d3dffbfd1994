"""Reported vs reproduced, as data.

- ``results/reported/<paper>.csv``: the papers' numbers, one row each, with a source per row
  (columns: setting, table, row, metric, value, source, reference, note). Where sources disagree
  both rows stay, and ``reference`` marks the one we compare against.
- ``results/reproduced/<paper>/<scale>/metrics.json``: what our code computed, with claims
  (verdicts computed from the metrics, never typed in) and provenance.
- ``make tables`` renders ``results/tables/<paper>.md`` from those files only (``replicate.reporting.tables``).
- ``make check`` re-runs a replication and compares it with the committed metrics file.

Claims (``docs/statistics.md``):

- A claim has a ``kind``: ``empirical`` (a measured effect, judged on an interval, or exactly in the tabular world),
  ``recomputation`` (a published number recomputed from public data: it matches or not) or ``identity`` (true by
  construction: shown as a check, never counted). ``count_verdicts`` tallies empirical claims and recomputations apart.
- A comparative claim is judged on a Student t interval over seeds (``verdicts.paired_ci``, ``paired_ci_lc``);
  fewer than 3 seeds read inconclusive.
- **Multiplicity rule** for a claim made of parts (``verdicts.all_of``): *reproduced* when every part holds (an
  intersection–union test needs no correction); *not reproduced* only when a part contradicts its claim at a
  familywise 5 % level (Holm's step-down procedure across the parts, at the 2.5 % tail a 95 % interval leaves on each
  side); otherwise *inconclusive*.
- The positive control licenses a claim when it is reproduced on every quantity the claim is judged on, with a
  resolution as fine as the smallest effect the claim needs (``verdicts.gate_on_control``).
- A capability control (``role: control``) tests whether the toy model can do what a mechanism needs; it gates the
  claims that need it and is never counted (``verdicts.gate_on_capabilities``).
"""

from __future__ import annotations

import fnmatch
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.io import atomic_write_json, read_json
from ..core.paths import ROOT
from ..core.provenance import provenance
from .verdicts import (  # noqa: F401  (INCONCLUSIVE: re-exported with the other verdicts)
    EMPIRICAL,
    IDENTITY,
    INCONCLUSIVE,
    KINDS,
    NOT_REPRODUCED,
    RECOMPUTATION,
    REPRODUCED,
    VERDICTS,
    is_control,
    part_ids,
    verdict_stable,
)

RESULTS = ROOT / "results"
REPORTED_COLUMNS = ["setting", "table", "row", "metric", "value", "source", "reference", "note"]


@dataclass
class ExperimentResult:
    """What a paper's ``run(cfg)`` returns to its notebook: flat metrics, claims, and series for plots."""

    metrics: dict
    claims: list
    series: dict = field(default_factory=dict)


def claim(cid: str, text: str, holds: bool, rule: str, evidence: dict[str, Any], *, kind: str = EMPIRICAL) -> dict:
    """A claim about an *exact* quantity: ``holds`` must be computed from measured numbers.

    For the claims that involve no sampling — closed forms and exact iterations of the tabular world,
    recomputations from public files — the quantity has no sampling error: its interval has zero width, so
    the verdict is ``reproduced`` or ``not reproduced`` and never ``inconclusive``. Claims on sampled
    quantities (the toy LM world: generations, judge labels, seeds) must use ``verdicts.interval_claim`` /
    ``verdicts.comparative_claim`` instead, so that a tie reads as inconclusive.

    ``kind``: ``empirical`` (an effect measured in a world, e.g. an exact iteration of the tabular world, which can
    fail), ``recomputation`` (a published number recomputed from public data: it matches or not), or ``identity``
    (true by construction: shown as a check and never counted as a replication, ``count_verdicts``). A claim that
    goes through an estimate fitted to the very quantity it tests must say so in its ``rule``.
    """
    if kind not in KINDS:
        raise ValueError(f"claim {cid}: kind {kind!r} is not one of {KINDS}")
    return {
        "id": cid,
        "text": text,
        "rule": rule,
        "kind": kind,
        "verdict": REPRODUCED if bool(holds) else NOT_REPRODUCED,
        "evidence": evidence,
    }


def count_verdicts(claims: list[dict]) -> dict[str, Counter]:
    """Verdicts per kind: ``{"empirical": Counter, "recomputation": Counter}``. Identities are never counted
    (a statement true by construction is a check, not a replication), nor are capability controls (they test the
    toy model, not the paper); a claim without a kind is empirical."""
    out = {EMPIRICAL: Counter(), RECOMPUTATION: Counter()}
    for c in claims:
        if is_control(c):
            continue
        kind = c.get("kind", EMPIRICAL)
        if kind not in KINDS:
            raise ValueError(f"claim {c.get('id')}: unknown kind {kind!r}; expected one of {KINDS}")
        if c["verdict"] not in VERDICTS:
            raise ValueError(f"claim {c.get('id')}: unknown verdict {c['verdict']!r}; expected one of {VERDICTS}")
        if kind != IDENTITY:
            out[kind][c["verdict"]] += 1
    return out


def metrics_path(paper: str, scale: str, root: str | Path | None = None) -> Path:
    root = Path(root) if root is not None else RESULTS / "reproduced"
    return root / paper / scale / "metrics.json"


def write_metrics(
    paper: str,
    scale: str,
    metrics: dict[str, float],
    claims: list[dict],
    cfg: dict,
    *,
    seed: int | None = None,
    root: str | Path | None = None,
    extra: dict | None = None,
    seeds: list[int] | None = None,
    seed_spread: dict[str, list[float]] | None = None,
) -> Path:
    """Write metrics.json atomically. Float values are rounded to 6 decimals so files diff cleanly.

    For seed-averaged metrics pass ``seeds`` and ``seed_spread`` (metric → its per-seed values): ``make
    check``'s single-seed subset compares a re-run of one seed with them.
    """
    clean = {k: _round(v) for k, v in sorted(metrics.items())}
    doc = {
        "paper": paper,
        "scale": scale,
        "metrics": clean,
        "claims": claims,
        "provenance": provenance(cfg, seed=seed, scale=scale),
    }
    if seeds is not None:
        doc["seeds"] = [int(s) for s in seeds]
    if seed_spread:
        doc["seed_spread"] = {k: [_round(x) for x in v] for k, v in sorted(seed_spread.items())}
    if extra:
        doc["extra"] = extra
    return atomic_write_json(metrics_path(paper, scale, root), doc)


def _round(v):
    if isinstance(v, float):
        return None if math.isnan(v) else round(v, 6)
    if hasattr(v, "item"):
        return _round(v.item())
    return v


def load_reported(paper: str):
    import pandas as pd

    path = RESULTS / "reported" / f"{paper}.csv"
    df = pd.read_csv(path, comment="#")
    missing = [c for c in REPORTED_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: missing columns {missing}")
    if df["source"].isna().any():
        raise ValueError(f"{path}: every reported number needs a source")
    return df


def _tolerance(name: str, tolerances: dict, default: float) -> float:
    """The most specific (longest) glob of ``tolerances`` matching ``name``, else ``default``."""
    matches = [g for g in tolerances if fnmatch.fnmatch(name, g)]
    return float(tolerances[max(matches, key=len)]) if matches else default


def effect_tolerances(expected: dict, fallback: dict | None = None) -> dict:
    """Per quantity a claim is judged on (a part's ``metric``; None for parts that name none): half of the smallest
    effect that a decided empirical part on that quantity shows in ``expected`` — a check that lets a claim's effect
    move by half of the smallest effect any claim on its quantity rests on, and no more. Quantities with no decided
    part take ``fallback[metric]`` (``check.effects`` in the paper's conf), else 0."""
    from .verdicts import claim_parts

    smallest: dict = {}
    for c in expected["claims"]:
        if c.get("kind", EMPIRICAL) != EMPIRICAL:
            continue
        for p in claim_parts(c):
            ev = p["evidence"]
            if ev.get("ci_lo") is not None and p["verdict"] in (REPRODUCED, NOT_REPRODUCED) and "diff" in ev:
                m = ev.get("metric")
                smallest[m] = min(smallest.get(m, math.inf), abs(float(ev["diff"])))
    out = {m: v / 2 for m, v in smallest.items()}
    for m, v in (fallback or {}).items():
        out.setdefault(None if m == "none" else m, float(v))
    return out


def compare(
    fresh: dict,
    expected: dict,
    tolerances: dict | None = None,
    *,
    effects: dict | None = None,
    verdict_only: list[str] | tuple[str, ...] = (),
    seed: int | None = None,
    other_cpu: bool = False,
    moved: list[str] | None = None,
) -> list[str]:
    """Problems between a fresh metrics doc and the committed one (empty list = pass).

    Checked: every raw metric (``tolerances``: {"default": atol, "<glob>": atol}, the longest matching glob wins),
    every claim's verdict (``verdicts.verdict_stable``: a bound that moved across its threshold by less than one
    standard error is a tie, not a flip), and every empirical claim part's effect, within ``effect_tolerances``.
    ``verdict_only``: globs of metric names and claim-part ids ("C2.instruct.slic_hf") known to move between hosts by
    more than their tolerance; they are checked on their verdict side only.

    ``seed``: the fresh doc is a single-seed re-run of that seed (``make check``'s subset): its metrics are compared
    with the expected doc's per-seed values of that seed, its claim effects with the expected parts' ``per_seed``
    values, and verdicts (undecidable from one seed) are not compared.

    ``other_cpu``: the fresh doc was computed on another CPU model than the expected one, for a paper whose numbers
    come out of torch training (``check.across_cpus: trained``). Training amplifies the kernels' float rounding, which
    differs between CPU models even with the AVX2 pins (docs/statistics.md, "Across machines"): a number that varies by
    seed (it has per-seed values) and every claim effect then move like another seed's, so a difference beyond its
    tolerance is appended to ``moved`` (reported), not to the problems. What does not vary by seed (data built with
    numpy, counts, settings), every metric's and claim's presence and every value's finiteness stay checked.
    """
    from .verdicts import claim_parts

    tolerances = dict(tolerances or {})
    default = float(tolerances.pop("default", 1e-6))
    host = lambda name: any(fnmatch.fnmatch(name, g) for g in verdict_only)
    problems = []
    moved = [] if moved is None else moved
    fm, em = fresh["metrics"], dict(expected["metrics"])
    trained = set(expected.get("seed_spread", {})) if other_cpu else set()
    if seed is not None:
        i = list(expected.get("seeds", [])).index(seed)
        em.update({k: v[i] for k, v in expected.get("seed_spread", {}).items()})
    for name in sorted(set(fm) | set(em)):
        if name not in fm or name not in em:
            problems.append(f"metric {name}: present in only one of fresh/expected")
            continue
        a, b = fm[name], em[name]
        if not isinstance(b, (int, float)) or isinstance(b, bool):
            if a != b:
                problems.append(f"metric {name}: {a!r} != expected {b!r}")
            continue
        atol = _tolerance(name, tolerances, default)
        if host(name):
            continue
        if a is None or b is None or not math.isfinite(a) or abs(a - b) > atol:
            msg = f"metric {name}: {a} outside expected {b} ± {atol}"
            (moved if name in trained and a is not None and math.isfinite(a) else problems).append(msg)
    tol_effect = effect_tolerances(expected, effects)
    fc = {c["id"]: c for c in fresh["claims"]}
    for c in expected["claims"]:
        f = fc.get(c["id"])
        if f is None:
            problems.append(f"claim {c['id']}: missing from the fresh run")
            continue
        if seed is None and not verdict_stable(f, c) and not host(c["id"]):
            problems.append(f"claim {c['id']}: verdict {f['verdict']!r}, expected {c['verdict']!r}")
        if c.get("kind", EMPIRICAL) != EMPIRICAL:
            continue
        fparts = {p["id"]: p for p in claim_parts(f)}
        for p in claim_parts(c):
            pid = p["id"] if p["id"] == c["id"] else f"{c['id']}.{p['id']}"
            ev, fp = p["evidence"], fparts.get(p["id"])
            if "diff" not in ev or host(pid):
                continue
            want = ev["diff"] if seed is None else (ev.get("per_seed") or [None] * (i + 1))[i]
            got = None if fp is None else fp["evidence"].get("diff")
            tol = tol_effect.get(ev.get("metric"), 0.0)
            if want is None or got is None or not math.isfinite(got) or abs(got - want) > tol + 1e-9:
                msg = f"claim {pid}: effect {got} outside expected {want} ± {tol:.3g}"
                ok = other_cpu and want is not None and got is not None and math.isfinite(got)
                (moved if ok else problems).append(msg)
    return problems


def cpu_model(doc: dict) -> str | None:
    """The CPU model a metrics document was computed on (its provenance), with torch's kernel ISA."""
    cpu = (doc.get("provenance") or {}).get("cpu") or {}
    return f"{cpu['model']} ({cpu.get('torch_isa')})" if cpu.get("model") else None


def check(
    paper: str,
    scale: str,
    fresh_root: str | Path,
    tolerances: dict | None = None,
    *,
    across_cpus: str | None = None,
    **kw,
) -> list[str]:
    """``compare`` of a fresh run with the committed metrics. ``across_cpus="trained"`` (a paper's
    ``check.across_cpus``): when the two were computed on different CPU models, the seed-dependent numbers are
    reported in ``moved`` instead of failing (``compare``'s ``other_cpu``)."""
    expected_path = metrics_path(paper, scale)
    if not expected_path.exists():
        from ..core.config import ConfigError

        raise ConfigError(
            f"no committed metrics at {expected_path.relative_to(ROOT)}: run `make replicate-{paper}` "
            "and commit the file before `make check` can compare against it"
        )
    fresh = read_json(metrics_path(paper, scale, fresh_root))
    expected = read_json(expected_path)
    other = across_cpus == "trained" and cpu_model(fresh) != cpu_model(expected)
    return compare(fresh, expected, tolerances, other_cpu=other, **kw)


_MARK = {REPRODUCED: "✅", NOT_REPRODUCED: "❌"}
_INTERVAL_KEYS = (
    *(
        "diff",
        "ci_lo",
        "ci_hi",
        "se",
        "df",
        "z",
        "t",
        "n_seeds",
        "n_prompts",
        "verdict",
        "p_contradiction",
        "per_seed",
    ),
)


def _interval(ev: dict, prefix: str = "") -> str:
    """``Δ +1.23 [+0.40, +2.05]`` from a claim's (or a part's) interval evidence (``Δ +1.23 [no interval]`` with
    one seed)."""
    g = lambda k: ev[f"{prefix}{k}"]
    if g("ci_lo") is None or g("ci_hi") is None:
        return f"Δ {g('diff'):+.3f} [no interval]"
    return f"Δ {g('diff'):+.3f} [{g('ci_lo'):+.3f}, {g('ci_hi'):+.3f}]"


def evidence_markdown(ev: dict) -> str:
    """Evidence in one cell: intervals as ``Δ [lo, hi]`` (each part of a combined claim with its verdict),
    then the other values as key=value."""
    parts = part_ids(ev)
    out = []
    if "ci_lo" in ev:
        out.append(f"{_interval(ev)} ({ev.get('n_seeds', '?')} seeds, {ev.get('n_prompts', '?')} prompts)")
    for p in parts:
        if f"{p}.ci_lo" in ev:
            out.append(f"{_MARK.get(ev[p + '.verdict'], '❔')} {p}: {_interval(ev, p + '.')}")
    hidden = {f"{p}.{k}" for p in parts for k in _INTERVAL_KEYS} | set(_INTERVAL_KEYS if "ci_lo" in ev else ())
    out += [f"{k}={format_value(v)}" for k, v in ev.items() if k not in hidden]
    return "; ".join(out)


def claims_markdown(claims: list[dict]) -> str:
    lines = ["| claim | kind | verdict | rule | evidence |", "|---|---|---|---|---|"]
    for c in claims:
        mark = _MARK.get(c["verdict"], "❔")
        # a capability control says what it tests and what it gates, and is marked apart from the paper's claims
        kind = (
            f"capability control ({c['capability']}; gates {', '.join(c['gates']) or 'nothing'})"
            if is_control(c)
            else c.get("kind", EMPIRICAL)
        )
        lines.append(
            f"| {c['id']}: {c['text']} | {kind} | {mark} {c['verdict']} | `{c['rule']}` | "
            f"{evidence_markdown(c['evidence'])} |"
        )
    return "\n".join(lines)


def format_value(v):
    return f"{v:.3f}" if isinstance(v, float) else str(v)
