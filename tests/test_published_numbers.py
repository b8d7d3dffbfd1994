"""The numbers a reader sees outside the notebooks come from the committed metrics: `results/tables/*.md` is what
`make tables` renders from `results/reproduced/`, and every number of the README that restates a metric or a claim's
interval equals that metric rounded as shown. Nothing here freezes today's values: after a re-run, `make tables`
and an edit of the README bring them back in line, and these tests say which cell disagrees with which metric."""

import re

from replicate.core.io import read_json
from replicate.core.paths import ROOT

README = ROOT / "README.md"
# where the README's numbers went when it became the suite's entry point (issue 25): the SimPO results page
RESULTS_PAGE = ROOT / "docs" / "results.md"


def published_text() -> str:
    """The README and the results page: every number they restate is checked."""
    return README.read_text() + "\n" + RESULTS_PAGE.read_text()


REPRODUCED = ROOT / "results" / "reproduced"
MINUS = str.maketrans({"−": "-", "–": "-"})


def test_tables_are_rendered_from_the_committed_metrics(tmp_path, monkeypatch):
    from replicate.reporting import tables

    (tmp_path / "reproduced").symlink_to(REPRODUCED)
    monkeypatch.setattr(tables, "RESULTS", tmp_path)
    rendered = {p.name: p.read_text() for p in tables.render_tables()}
    committed = {p.name: p.read_text() for p in (ROOT / "results" / "tables").glob("*.md")}
    assert sorted(rendered) == sorted(committed)
    stale = [name for name in rendered if rendered[name] != committed[name]]
    assert stale == [], f"results/tables/ differs from what `make tables` renders from results/reproduced/: {stale}"


def shown_as(value: float, shown: str) -> bool:
    """``value`` printed with as many decimals as ``shown`` has (Python's rounding, as every table here uses)."""
    shown = shown.translate(MINUS)
    decimals = len(shown.split(".")[1]) if "." in shown else 0
    return float(f"{value:.{decimals}f}") == float(shown)  # as numbers: "+0.044" is "0.044", "-0.0" is "0.0"


def test_shown_as_rounds_like_the_tables():
    assert shown_as(27.526238, "27.5") and not shown_as(27.526238, "27.6")
    assert shown_as(-3.975, "−4.0") and shown_as(0.0444, "+0.044") and not shown_as(0.0444, "+0.045")


# --- README tables of per-method metrics ---------------------------------------------------------------------
# A README table whose header starts with "setting" and lists methods, under a paragraph naming
# `results/tables/<paper>.md`, restates `<setting>.<method>.<metric>` of that paper's tiny metrics.json.
METRIC_OF_ROW = {"LC win rate": "lc_win_rate", "win rate": "win_rate", "oracle quality": "oracle_quality"}


def _method_key(header: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", header.strip("* ").lower()).strip("_").replace("r_dpo", "rdpo")


def readme_metric_cells(text: str) -> list[tuple[str, str, str]]:
    """(paper, metric key, cell as shown) for every cell of the README's per-method tables."""
    cells, paper, lines = [], None, text.splitlines()
    for i, line in enumerate(lines):
        if m := re.search(r"results/tables/([a-z0-9-]+)\.md", line):
            paper = m.group(1)
        head = [c.strip() for c in line.strip().strip("|").split("|")]
        if not (line.startswith("|") and head[0] == "setting" and paper):
            continue
        for row in lines[i + 2 :]:
            if not row.startswith("|"):
                break
            label, *values = [c.strip() for c in row.strip().strip("|").split("|")]
            setting, _, what = label.partition(", ")
            metric = METRIC_OF_ROW[what]
            for method, shown in zip(head[1:], values):
                cells.append((paper, f"{setting.lower()}.{_method_key(method)}.{metric}", shown.strip("* ")))
    return cells


def test_readme_tables_restate_the_committed_metrics():
    cells = readme_metric_cells(published_text())
    assert cells, "the README's per-method table was not found (its format changed: update this test)"
    wrong = []
    for paper, key, shown in cells:
        metrics = read_json(REPRODUCED / paper / "tiny" / "metrics.json")["metrics"]
        assert key in metrics, f"README cell {shown!r}: no metric {key} in {paper}'s tiny metrics.json"
        if not shown_as(metrics[key], shown):
            wrong.append(f"{key} = {metrics[key]} shown as {shown}")
    assert wrong == [], f"README disagrees with results/reproduced/*/tiny/metrics.json: {wrong}"


def test_readme_table_parser_reads_cells():
    text = "See `results/tables/simpo.md`:\n\n| setting | SFT | R-DPO | **SimPO** |\n|---|---|---|---|\n"
    text += "| Base, LC win rate | 25.2 | 25.8 | **23.7** |\n\nprose"
    assert readme_metric_cells(text) == [
        ("simpo", "base.sft.lc_win_rate", "25.2"),
        ("simpo", "base.rdpo.lc_win_rate", "25.8"),
        ("simpo", "base.simpo.lc_win_rate", "23.7"),
    ]


# --- README intervals: "Δ [lo, hi]" restates a claim's (or a claim part's) paired difference and its interval ----
NUM = r"[+−-]?\d+(?:\.\d+)?"
INTERVAL = re.compile(rf"({NUM}) \[({NUM}), ({NUM})\]")


def committed_intervals() -> list[tuple[float, float, float]]:
    out = []
    for f in REPRODUCED.glob("*/tiny/metrics.json"):
        for c in read_json(f)["claims"]:
            ev = c.get("evidence") or {}
            for prefix in {k[: -len("ci_lo")] for k in ev if k.endswith("ci_lo")}:
                if all(f"{prefix}{k}" in ev for k in ("diff", "ci_lo", "ci_hi")):
                    out.append(tuple(float(ev[f"{prefix}{k}"]) for k in ("diff", "ci_lo", "ci_hi")))
    return out


def matches(shown: tuple[str, str, str], known: list[tuple[float, float, float]]) -> bool:
    return any(all(shown_as(v, x) for v, x in zip(k, shown)) for k in known)


def test_readme_intervals_are_committed_claim_intervals():
    shown = INTERVAL.findall(published_text())
    assert shown, "no interval found in the README (its format changed: update this test)"
    known = committed_intervals()
    unmatched = [" ".join(s) for s in shown if not matches(s, known)]
    assert unmatched == [], (
        f"README intervals that match no claim in results/reproduced/*/tiny/metrics.json: {unmatched}"
    )


def test_interval_matching_can_fail():
    known = [(0.0443, 0.0214, 0.0638), (-3.975, -5.734, -2.422)]
    assert matches(("+0.044", "+0.021", "+0.064"), known) and matches(("−4.0", "−5.7", "−2.4"), known)
    assert not matches(("+0.044", "+0.021", "+0.065"), known) and not matches(("4.0", "5.7", "2.4"), known)
