"""Reported vs reproduced, as data.

- ``results/reported/<paper>.csv``: the papers' numbers, one row each, with a source per row
  (columns: setting, table, row, metric, value, source, reference, note). Where sources disagree
  both rows stay, and ``reference`` marks the one we compare against.
- ``results/reproduced/<paper>/<scale>/metrics.json``: what our code computed, with claims
  (verdicts computed from the metrics, never typed in) and provenance.
- ``make tables`` renders ``results/tables/<paper>.md`` from those files only (``replicate.reporting.tables``).
- ``make check`` re-runs a replication and compares it with the committed metrics file.
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
    part_ids,
    seed_tolerance,
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
    (a statement true by construction is a check, not a replication); a claim without a kind is empirical."""
    out = {EMPIRICAL: Counter(), RECOMPUTATION: Counter()}
    for c in claims:
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
    check`` then allows each metric the movement its seed spread implies (``verdicts.seed_tolerance``).
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


def compare(fresh: dict, expected: dict, tolerances: dict | None = None) -> list[str]:
    """Problems between a fresh metrics doc and the committed one (empty list = pass).

    ``tolerances``: {"default": atol, "<glob>": atol, ...}; the most specific (longest) matching
    glob wins. A metric missing on either side and any flipped claim verdict is a problem.
    """
    tolerances = dict(tolerances or {})
    default = float(tolerances.pop("default", 1e-6))
    spread = expected.get("seed_spread", {})  # metric -> its per-seed values, for seed-averaged metrics
    problems = []
    fm, em = fresh["metrics"], expected["metrics"]
    for name in sorted(set(fm) | set(em)):
        if name not in fm or name not in em:
            problems.append(f"metric {name}: present in only one of fresh/expected")
            continue
        a, b = fm[name], em[name]
        if not isinstance(b, (int, float)) or isinstance(b, bool):
            if a != b:
                problems.append(f"metric {name}: {a!r} != expected {b!r}")
            continue
        matches = [g for g in tolerances if fnmatch.fnmatch(name, g)]
        atol = float(tolerances[max(matches, key=len)]) if matches else default
        if name in spread:  # a seed-averaged metric may move by what its seed spread allows, not less
            atol = max(atol, seed_tolerance(spread[name]))
        if a is None or b is None or abs(a - b) > atol:
            problems.append(f"metric {name}: {a} outside expected {b} ± {atol}")
    fc = {c["id"]: c for c in fresh["claims"]}
    for c in expected["claims"]:
        f = fc.get(c["id"])
        if f is None:
            problems.append(f"claim {c['id']}: missing from the fresh run")
        elif not verdict_stable(f, c):
            # a verdict decided on an interval may change only if a bound sits within one standard error
            # of its threshold on both runs (a tie); any other change of verdict is a real change
            problems.append(f"claim {c['id']}: verdict {f['verdict']!r}, expected {c['verdict']!r}")
    return problems


def check(paper: str, scale: str, fresh_root: str | Path, tolerances: dict | None = None) -> list[str]:
    expected_path = metrics_path(paper, scale)
    if not expected_path.exists():
        from ..core.config import ConfigError

        raise ConfigError(
            f"no committed metrics at {expected_path.relative_to(ROOT)}: run `make replicate-{paper}` "
            "and commit the file before `make check` can compare against it"
        )
    fresh = read_json(metrics_path(paper, scale, fresh_root))
    expected = read_json(expected_path)
    return compare(fresh, expected, tolerances)


_MARK = {REPRODUCED: "✅", NOT_REPRODUCED: "❌"}
_INTERVAL_KEYS = ("diff", "ci_lo", "ci_hi", "se", "df", "z", "n_seeds", "n_prompts", "verdict", "p_contradiction")


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
        lines.append(
            f"| {c['id']}: {c['text']} | {c.get('kind', EMPIRICAL)} | {mark} {c['verdict']} | `{c['rule']}` | "
            f"{evidence_markdown(c['evidence'])} |"
        )
    return "\n".join(lines)


def format_value(v):
    return f"{v:.3f}" if isinstance(v, float) else str(v)
