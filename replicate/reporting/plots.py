"""Figures: saved under results/figures/ (or a given dir), atomically, as PNG.

The matplotlib backend is the caller's to choose (inline in a notebook kernel, ``MPLBACKEND=Agg`` from make and
the tests): a library that calls ``matplotlib.use`` at import switches a notebook's inline figures off.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..core.paths import ROOT
from ..metrics.verdicts import is_control, part_ids

FIGURES = ROOT / "results" / "figures"


def savefig(fig, name: str, directory: str | Path | None = None) -> Path:
    d = Path(directory) if directory is not None else FIGURES
    d.mkdir(parents=True, exist_ok=True)
    path = d / (name if name.endswith(".png") else f"{name}.png")
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=110, bbox_inches="tight", metadata={"Software": None})
    os.replace(tmp, path)
    return path


_COLORS = {"reproduced": "tab:green", "not reproduced": "tab:red", "inconclusive": "tab:gray"}
# The forest plot's axis ends here (in standard errors): a 3-seed interval spans ±4.3 of them, so a row past 20 is
# decided either way, and one at 300 (a control whose seeds agree to 1e-5) would squeeze every other row into a line.
# Rows beyond are drawn at the edge as ▸ / ◂; the numbers on the right are the true ones.
CLIP_SE = 20.0


def claim_parts(claims: list[dict]) -> list[dict]:
    """Every interval behind a list of claims: one row per comparison (a claim, or each part of an ``all_of``)."""
    rows = []
    for c in claims:
        ev = c["evidence"]
        if "ci_lo" in ev:
            rows.append(
                {
                    "claim": c["id"],
                    "part": "",
                    "control": is_control(c),
                    "verdict": c["verdict"],
                    "metric": ev.get("metric"),
                    "n_seeds": ev.get("n_seeds"),
                    **{k: ev[k] for k in ("diff", "ci_lo", "ci_hi", "se")},
                }
            )
        for p in part_ids(ev):
            if f"{p}.ci_lo" in ev:
                rows.append(
                    {
                        "claim": c["id"],
                        "part": p,
                        "control": is_control(c),
                        "verdict": ev[f"{p}.verdict"],
                        "unadjusted": ev.get(f"{p}.unadjusted_verdict"),
                        "metric": ev.get(f"{p}.metric"),
                        "n_seeds": ev.get(f"{p}.n_seeds"),
                        **{k: ev[f"{p}.{k}"] for k in ("diff", "ci_lo", "ci_hi", "se")},
                    }
                )
    return rows


def _usual_seeds(rows: list[dict]) -> int | None:
    """The seed count most rows have (the claims'); rows read on more or fewer seeds are labelled with theirs."""
    counts = [r["n_seeds"] for r in rows if r.get("n_seeds")]
    return max(set(counts), key=counts.count) if counts else None


def _note(row: dict, usual: int | None) -> str:
    """A row's label suffix: "(control)" for a capability control, its seed count where it is not the usual one
    (a control or a positive control read on extra seeds), e.g. "(control, 5 seeds)", and "Holm: not rejected" for
    a part whose own interval contradicts its claim but which Holm's correction across its claim's parts leaves
    inconclusive (drawn grey with a red edge, so the picture does not hide that its interval excludes 0)."""
    notes = ["control"] if row["control"] else []
    if row.get("n_seeds") and usual and row["n_seeds"] != usual:
        notes.append(f"{row['n_seeds']} seeds")
    if row.get("unadjusted") == "not reproduced":
        notes.append("Holm: not rejected")
    return f" ({', '.join(notes)})" if notes else ""


def interval_plot(claims: list[dict], title: str = "", units: dict[str, str] | None = None):
    """A forest plot: each comparison's difference and 95% interval in units of its standard error, so that
    win-rate points, oracle quality and characters share one axis; colour = that comparison's verdict (the key is
    drawn), and each row is labelled at the right with its effect in its own units (points, characters, …), the
    numbers a reader knows. ``units``: as :func:`replicate.reporting.findings.render`'s."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    from .findings import units as unit_of

    rows = [r for r in claim_parts(claims) if r["ci_lo"] is not None]  # one seed: no interval to draw
    fig, ax = plt.subplots(figsize=(8.5, 0.28 * len(rows) + 1.6), layout="constrained")
    clipped = False
    for i, r in enumerate(rows[::-1]):
        se = r["se"] if r["se"] else 1.0
        x, lo, hi = (float(np.clip(v / se, -CLIP_SE, CLIP_SE)) for v in (r["diff"], r["ci_lo"], r["ci_hi"]))
        beyond = abs(r["diff"] / se) > CLIP_SE
        clipped |= beyond or abs(r["ci_lo"] / se) > CLIP_SE or abs(r["ci_hi"] / se) > CLIP_SE
        ax.errorbar(
            x,
            i,
            xerr=[[x - lo], [hi - x]],
            fmt=(">" if x > 0 else "<") if beyond else "o",
            color=_COLORS.get(r["verdict"], "k"),
            mec=_COLORS["not reproduced"] if r.get("unadjusted") == "not reproduced" else None,
            ms=4,
            capsize=2,
        )
        unit = unit_of(r["part"] or r["claim"], {"metric": r["metric"]}, units, r["claim"])
        ax.text(
            1.01,
            i,
            f"{r['diff']:+.3g} [{r['ci_lo']:+.3g}, {r['ci_hi']:+.3g}] {unit}".rstrip(),
            transform=ax.get_yaxis_transform(),
            va="center",
            fontsize=7,
        )
    usual = _usual_seeds(rows)
    labels = [f"{r['claim']} {r['part']}".strip() + _note(r, usual) for r in rows[::-1]]
    ax.set_yticks(range(len(rows)), labels, fontsize=8)
    ax.axvline(0, color="k", lw=0.6)
    if 0 < (n_ctrl := sum(r["control"] for r in rows)) < len(rows):  # capability controls sit above the claims
        ax.axhline(len(rows) - n_ctrl - 0.5, color="k", lw=0.6, ls="--")
    ax.set_xlabel(
        "difference / its standard error (95% interval)"
        + (f"; ▸ ◂ beyond ±{CLIP_SE:g}" if clipped else "")
        + "; right: the difference in its own units"
    )
    if clipped:
        ax.set_xlim(-CLIP_SE * 1.05, CLIP_SE * 1.05)
    ax.set_title(title or "claims: paired differences", fontsize=9)
    if not rows:  # make check's one-seed subset: a plot that says why it is empty, not an error
        ax.text(0.5, 0.5, "one seed: no interval over training noise to draw", ha="center", transform=ax.transAxes)
        return fig
    shown = [v for v in _COLORS if any(r["verdict"] == v for r in rows)]
    handles = [Line2D([], [], color=_COLORS[v], marker="o", ls="") for v in shown]
    if any(r.get("unadjusted") == "not reproduced" for r in rows):
        handles.append(Line2D([], [], color=_COLORS["inconclusive"], mec=_COLORS["not reproduced"], marker="o", ls=""))
        shown = [*shown, "below 0 alone, Holm: inconclusive"]
    fig.legend(  # the verdict colour key, below the axis label, where it overlaps neither title nor rows
        handles,
        shown,
        fontsize=7,
        loc="outside lower center",
        ncol=len(shown),
        frameon=False,
    )
    return fig
