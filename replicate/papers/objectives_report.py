"""Reported-vs-reproduced tables shared by the objective replications (SPPO, INPO, DNO, LCPO, TGDPO, CDR, SPIN).

Each claim of a paper is measured here in a tabular world whose numbers are *not numerically
comparable* with the paper's benchmark numbers (AlpacaEval, Arena-Hard, ...). The table puts them
side by side: the paper's rows (from ``results/reported/<paper>.csv``) that a claim rests on, our
measured evidence, and the verdict computed from it.
"""
from __future__ import annotations

import pandas as pd

from ..results import claims_markdown, load_reported


def side_by_side(paper: str, claims: list[dict], links: dict[str, list[str]]) -> pd.DataFrame:
    """One row per claim: our verdict and evidence next to the reported rows named in ``links``
    (claim id → list of CSV ``row`` values)."""
    rep = load_reported(paper)
    out = []
    for c in claims:
        rows = rep[rep["row"].isin(links.get(c["id"], []))]
        reported = "; ".join(f"{r.row} {r.metric}={r.value:g} ({r.table})" for r in rows.itertuples()) or "—"
        notes = "; ".join(sorted({str(n) for n in rows["note"].dropna()})) or ""
        ev = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in c["evidence"].items())
        out.append({"claim": c["id"], "paper reports": reported, "we measure (tabular)": ev, "verdict": c["verdict"],
                    "comparability": notes})
    return pd.DataFrame(out)


def render(doc: dict, metric_keys: list[str] | None = None) -> str:
    """Markdown for ``make tables``: selected metrics, then the claims (rendered by replicate.results)."""
    m = doc["metrics"]
    keys = metric_keys if metric_keys is not None else list(m)
    lines = ["| metric | value |", "|---|---|"]
    for k in keys:
        if k in m:
            v = m[k]
            lines.append(f"| {k} | {v:.4g} |" if isinstance(v, float) else f"| {k} | {v} |")
    return "\n".join(lines)


__all__ = ["side_by_side", "render", "claims_markdown"]
