"""A notebook's "What we found": a reader's summary of a paper's verdicts, rendered from its metrics document.

Every number in it is read from the claims that ``metrics.json`` holds (the same list ``PAPER.save`` writes), so a
notebook's reading can never drift from what it measured: a claim's verdict, its effect with the 95 % interval and
its units, and — when it is inconclusive — why (the positive control's gate, or too few seeds). How a verdict is
decided: docs/statistics.md.
"""

from __future__ import annotations

from pathlib import Path

from ..core.io import read_json
from ..core.paths import ROOT
from ..metrics.verdicts import (
    CAPABILITY,
    IDENTITY,
    INCONCLUSIVE,
    MIN_SEEDS,
    NOT_REPRODUCED,
    RECOMPUTATION,
    REPRODUCED,
    claim_parts,
    is_control,
)

# The units a reader knows, by the quantity a claim (or a part) is judged on (its ``metric``, or the last segment
# of the part's id, e.g. ``base.wr``): win rates in percentage points, the oracle's score, answer length.
UNITS = {
    "wr": "points",
    "lc": "points",
    "win_rate": "points",
    "lc_win_rate": "points",
    "win": "win rate (0–1)",  # PAR's judge win rate against the SFT start, a share
    "q": "oracle quality (0–1)",
    "len": "characters",
}
HEADINGS = {
    REPRODUCED: "Reproduced",
    NOT_REPRODUCED: "Not reproduced",
    INCONCLUSIVE: "Inconclusive",
}
RECOMPUTED = {REPRODUCED: "matches", NOT_REPRODUCED: "differs", INCONCLUSIVE: "inconclusive"}
# Third parties' re-runs of each paper, with the verdict each would give one of our claims (its sources inside).
INDEPENDENT = ROOT / "results" / "reported" / "independent.yaml"


def units(part_id: str, evidence: dict, named: dict[str, str] | None = None, claim_id: str | None = None) -> str:
    """The unit of a part's difference: the notebook's own name for it (``named``: by ``<claim>.<part>``, by part id,
    then by claim id), else the one its ``metric`` implies; '' where none is known."""
    named = named or {}
    for key in (f"{claim_id}.{part_id}", part_id, claim_id):
        if key in named:
            return named[key]
    metric = evidence.get("metric") or part_id.rsplit(".", 1)[-1]
    return UNITS.get(str(metric), "")


def effect(
    part_id: str, evidence: dict, named: dict[str, str] | None = None, claim_id: str | None = None
) -> str | None:
    """``+7.74 points [+6.58, +8.95]`` from a part's interval evidence; None when the part has no interval."""
    if "diff" not in evidence or "ci_lo" not in evidence:
        return None
    unit = units(part_id, evidence, named, claim_id)
    unit = f" {unit}" if unit else ""
    if evidence["ci_lo"] is None or evidence["ci_hi"] is None:
        return f"{evidence['diff']:+.3g}{unit} (one seed: no interval)"
    return f"{evidence['diff']:+.3g}{unit} [{evidence['ci_lo']:+.3g}, {evidence['ci_hi']:+.3g}]"


def _why_inconclusive(claim: dict) -> str:
    """Why a claim reads inconclusive: its controls' gate, a note, else what its parts' intervals say — a part
    already reproduced, a part whose own interval lies on the wrong side of 0 but which Holm's correction across the
    parts does not reject, a part read on too few seeds, a part whose interval straddles 0."""
    ev = claim.get("evidence", {})
    reasons = []
    if reason := ev.get("gate_reason"):
        was = f", ungated it read *{ev['ungated_verdict']}*" if "ungated_verdict" in ev else ""
        reasons.append(f"its controls do not license it ({reason}{was})")
    if note := ev.get("note"):
        reasons.append(str(note))
    if reasons:
        return "; ".join(reasons)
    parts = claim_parts(claim)
    if len(parts) == 1:
        n = parts[0]["evidence"].get("n_seeds")
        if n is not None and int(n) < MIN_SEEDS:
            return f"read on {n} seed(s): fewer than {MIN_SEEDS} give no interval to decide on"
        return "the interval straddles zero: at this power the data cannot tell"
    held, against, few, open_ = [], [], [], []
    for q in parts:
        e = q["evidence"]
        if q["verdict"] == REPRODUCED:
            held.append(q["id"])
        elif e.get("unadjusted_verdict") == NOT_REPRODUCED:
            p = e.get("p_contradiction")
            against.append(q["id"] + (f" (one-sided p = {p:.3g})" if isinstance(p, float) else ""))
        elif e.get("n_seeds") is not None and int(e["n_seeds"]) < MIN_SEEDS:
            few.append(q["id"])
        else:
            open_.append(q["id"])
    out = []
    if against:
        one = len(against) == 1
        out.append(
            f"{', '.join(against)} {'lies' if one else 'lie'} on the wrong side of 0 on {'its' if one else 'their'} own, "
            f"but Holm's correction across the {len(parts)} parts does not reject {'it' if one else 'them'} at the "
            "familywise level"
        )
    if open_:
        out.append(f"{', '.join(open_)}: the interval straddles zero")
    if few:
        out.append(f"{', '.join(few)}: fewer than {MIN_SEEDS} seeds")
    if held:
        out.append(f"{', '.join(held)} reproduced, but all parts must")
    return "; ".join(out) or "the interval straddles zero: at this power the data cannot tell"


def _values(ev: dict) -> str:
    """The numbers behind an exact claim (no interval): ``key=value`` for its scalar evidence."""
    shown = [
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
        for k, v in ev.items()
        if not isinstance(v, (list, dict))
    ]
    return ", ".join(shown)


def _line(claim: dict, named: dict[str, str] | None) -> str:
    ev = claim.get("evidence", {})
    effects = []
    for p in claim_parts(claim):
        part = p["id"]
        if (e := effect(part, p["evidence"], named, claim["id"])) is not None:
            label = "" if p["id"] == claim["id"] else f"{p['id']}: "
            effects.append(f"{label}{e}")
    text = f"**{claim['id']}** — {claim['text']}"
    if effects:
        text += f". Effect (95 % interval): {'; '.join(effects)}"
    if claim["verdict"] == INCONCLUSIVE:
        text += f". Why inconclusive: {_why_inconclusive(claim)}"
    elif claim.get("kind") == RECOMPUTATION:
        text += f" ({RECOMPUTED[claim['verdict']]}; rule `{claim['rule']}`: {_values(ev)})"
    elif not effects:
        text += f" (rule `{claim['rule']}`: {_values(ev)})"
    return f"* {text}."


def _control_line(control: dict, named: dict[str, str] | None) -> str:
    """A capability control: what it tests, whether the capability is present, its effect, and what it gates."""
    effects = [
        ("" if p["id"] == control["id"] else f"{p['id']}: ") + e
        for p in claim_parts(control)
        if (e := effect(p["id"], p["evidence"], named, control["id"])) is not None
    ]
    text = f"**{control['id']}** ({control['capability']}): *{CAPABILITY[control['verdict']]}* — {control['text']}"
    if effects:
        text += f". Effect (95 % interval): {'; '.join(effects)}"
    if note := control.get("evidence", {}).get("note"):
        text += f" ({note})"
    gates = control.get("gates") or []
    if not gates:
        text += ". Reported only: it licenses no claim"
    elif control["verdict"] == REPRODUCED:
        text += f". Licenses {', '.join(gates)}"
    else:
        text += f". So {', '.join(gates)} read inconclusive"
    return f"* {text}."


def independent_runs(paper: str, path: Path = INDEPENDENT) -> list[dict]:
    """The independent re-runs known for ``paper`` (``results/reported/independent.yaml``), each a dict with
    ``source``, ``found`` and, where it bears on one of our claims, ``claim`` and the ``points_to`` verdict."""
    import yaml

    runs = (yaml.safe_load(path.read_text()) or {}).get(paper, [])
    for r in runs:
        if not {"source", "found"} <= set(r) or ("claim" in r) != ("points_to" in r):
            raise ValueError(f"{path}: {paper}: an entry needs source and found, and claim with points_to: {r}")
        if r.get("points_to", REPRODUCED) not in (REPRODUCED, NOT_REPRODUCED):
            raise ValueError(f"{path}: {paper}: points_to must be {REPRODUCED!r} or {NOT_REPRODUCED!r}: {r}")
    return runs


def agreement(ours: str, theirs: str) -> str:
    """Whether our verdict on a claim agrees with the one an independent re-run points to."""
    if ours == INCONCLUSIVE:
        return "no comparison until ours is decided"
    return "agrees" if ours == theirs else "disagrees"


def render_independent(paper: str, claims: list[dict], path: Path = INDEPENDENT) -> str:
    """Markdown: the independent re-runs of ``paper`` and, for each that bears on one of our claims, whether our
    verdict agrees; a line saying none is known otherwise (docs/papers/<paper>.md §5 discusses them)."""
    page = f"docs/papers/{paper}.md §5"
    runs = independent_runs(paper, path)
    if not runs:
        return (
            f"Independent re-runs: none known ({page}), so there is no outside result to set these verdicts against."
        )
    verdicts = {c["id"]: c["verdict"] for c in claims}
    out = [f"Independent re-runs ({page}), and whether our verdict agrees:", ""]
    for r in runs:
        line = f"* {r['source']}: {r['found']}."
        if "claim" in r:
            if r["claim"] not in verdicts:
                raise ValueError(f"{path}: {paper}: claim {r['claim']!r} is not one of this run's claims")
            ours = verdicts[r["claim"]]
            line += (
                f" It points to *{r['points_to']}* for our {r['claim']}, which reads *{ours}*: "
                f"{agreement(ours, r['points_to'])}."
            )
        else:
            line += " It bears on none of our tiny-scale claims."
        out.append(line)
    return "\n".join(out)


def render(doc: dict, units: dict[str, str] | None = None) -> str:
    """Markdown: the verdicts of a metrics document (``{"paper", "scale", "claims"}``), grouped reproduced → not
    reproduced → inconclusive, each claim with its effect, interval and units; recomputations of published numbers
    and identities (true by construction, never counted) listed apart. ``units``: the unit of a claim's (or a part's)
    difference where its metric does not say, e.g. ``{"C1": "LC points", "C7.acc": "reward accuracy"}``. Ends with the
    independent re-runs of ``doc["paper"]`` and whether our verdicts agree with them (:func:`render_independent`)."""
    claims = doc["claims"]
    if not claims:
        raise ValueError(f"{doc.get('paper', '?')}: no claims to summarise")
    controls = [c for c in claims if is_control(c)]
    measured = [c for c in claims if c.get("kind", "empirical") not in (RECOMPUTATION, IDENTITY) and not is_control(c)]
    recomputed = [c for c in claims if c.get("kind") == RECOMPUTATION]
    identities = [c for c in claims if c.get("kind") == IDENTITY]
    count = {v: sum(c["verdict"] == v for c in measured) for v in HEADINGS}
    out = [
        f"**{doc.get('paper', '?')} at scale={doc.get('scale', '?')}**: {len(measured)} measured claims — "
        + ", ".join(f"{count[v]} {v}" for v in HEADINGS)
        + (f"; {len(recomputed)} recomputations of published numbers" if recomputed else "")
        + "."
    ]
    if controls:
        out += [
            "",
            "Capability controls (can the toy model do what the mechanism needs? read first; never counted):",
            "",
        ]
        out += [_control_line(c, units) for c in controls]
    for v, heading in HEADINGS.items():
        group = [c for c in measured if c["verdict"] == v]
        if group:
            out += ["", f"{heading}:", "", *(_line(c, units) for c in group)]
    if recomputed:
        out += ["", "Published numbers recomputed from public data:", "", *(_line(c, units) for c in recomputed)]
    if identities:
        out += ["", "Checks true by construction (shown, never counted): " + ", ".join(c["id"] for c in identities)]
    if "paper" in doc:
        out += ["", render_independent(doc["paper"], claims)]
    return "\n".join(out)


def render_file(path: str | Path, units: dict[str, str] | None = None) -> str:
    """:func:`render` of a ``metrics.json`` on disk."""
    return render(read_json(Path(path)), units)


def summary(doc: dict):
    """The same verdicts as a tidy table: one row per claim part (claim, part, verdict, diff, ci_lo, ci_hi, units)."""
    import pandas as pd

    rows = []
    for c in doc["claims"]:
        for p in claim_parts(c):
            ev = p["evidence"]
            rows.append(
                {
                    "claim": c["id"],
                    "part": "" if p["id"] == c["id"] else p["id"],
                    "kind": c.get("kind", "empirical"),
                    "verdict": p["verdict"],
                    "diff": ev.get("diff"),
                    "ci_lo": ev.get("ci_lo"),
                    "ci_hi": ev.get("ci_hi"),
                    "units": units(p["id"], ev, claim_id=c["id"]),
                }
            )
    return pd.DataFrame(rows)
