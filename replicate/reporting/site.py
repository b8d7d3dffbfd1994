"""``make report``: one static HTML site from results/ and build/ (no compute).

    <out>/index.html                     every paper of conf/paper/, per scale: verdict counts and links
    <out>/tables/<paper>.html            results/tables/<paper>.md as HTML, with the paper's figures
    <out>/notebooks/<paper>-<scale>.html build/notebooks/<paper>-<scale>.ipynb converted by nbconvert, or, where this
                                         machine has not run it, the committed results/notebooks/<paper>-<scale>.ipynb
    <out>/figures/<name>                 results/figures/<paper>_*.png, copied (the site is relocatable)
    <out>/docs/…, <out>/tests/…          the repository files a notebook links to (its paper page, the design),
                                         copied to where the link points, so no link in the site is dead

Built in a temporary directory beside ``out`` and renamed into place, so a failed build leaves the
previous site (or none), never a half-written one.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import shutil
import sys
import tempfile
from collections import Counter
from pathlib import Path

from ..core.config import ConfigError
from ..core.config import papers as conf_papers
from ..core.paths import ROOT
from ..metrics.claims import count_verdicts
from ..metrics.verdicts import EMPIRICAL, INCONCLUSIVE, NOT_REPRODUCED, RECOMPUTATION, REPRODUCED

VERDICTS = (REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE)
IMAGE_SUFFIXES = {".png", ".svg", ".jpg", ".jpeg"}
STYLE = """body{font-family:system-ui,sans-serif;max-width:70em;margin:2em auto;padding:0 1em;line-height:1.4}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}
th{background:#f3f3f3}td.n{text-align:right}.missing{color:#888}img{max-width:100%;display:block;margin:1em 0}"""


def _page(title: str, body: str) -> str:
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{STYLE}</style></head>\n<body>\n{body}\n</body></html>\n"
    )


def _link(href: str, text: str) -> str:
    return f'<a href="{html.escape(href)}">{html.escape(text)}</a>'


def verdict_counts(metrics_file: Path) -> dict[str, Counter]:
    """Claims per kind and verdict in one metrics.json (``metrics.claims.count_verdicts``: identities are not
    counted); an unknown verdict or kind is a data error, not another column."""
    try:
        return count_verdicts(json.loads(metrics_file.read_text())["claims"])
    except ValueError as e:
        raise ValueError(f"{metrics_file}: {e}") from None


def _notebooks(build_dir: Path, paper: str, results_dir: Path | None = None) -> dict[str, Path]:
    """scale -> executed notebook: this machine's run (build/notebooks/) where there is one, else the published one
    (results/notebooks/, committed: ``reporting.published``). Scale names have no '-', so
    `cheating-null-models-tiny` splits unambiguously."""
    found = {}
    dirs = [build_dir / "notebooks"] + ([results_dir / "notebooks"] if results_dir is not None else [])
    for d in dirs:
        for nb in d.glob(f"{paper}-*.ipynb"):
            scale = nb.stem[len(paper) + 1 :]
            if scale and "-" not in scale and "." not in scale:  # skips papermill's partial *.tmp.ipynb
                found.setdefault(scale, nb)
    return found


def _figures(figures_dir: Path, paper: str) -> list[Path]:
    if not figures_dir.is_dir():
        return []
    return sorted(
        f
        for f in figures_dir.iterdir()
        if f.name.startswith(f"{paper}_")
        and f.is_file()
        and f.suffix.lower() in IMAGE_SUFFIXES
        and not f.name.startswith(".")
    )


def _table_page(md_file: Path, paper: str, figures: list[Path]) -> str:
    import mistune  # nbconvert's own markdown renderer, so no extra dependency

    body = [_link("../index.html", "← all papers"), mistune.create_markdown(plugins=["table"])(md_file.read_text())]
    if figures:
        body.append("<h2>Figures</h2>")
        body += [
            f'<figure><img src="../figures/{html.escape(f.name)}" alt="{html.escape(f.stem)}">'
            f"<figcaption>{html.escape(f.name)}</figcaption></figure>"
            for f in figures
        ]
    return _page(f"{paper}: reproduced vs reported", "\n".join(body))


_HREF = re.compile(r'href="([^"#:?]+)(?:#[^"]*)?"')


def _copy_linked_files(site: Path, page_dir: Path, html_text: str, repo_dir: Path) -> None:
    """Copy into the site the repository files a page links to by relative path (a notebook's
    ``../docs/papers/<paper>.md``), at the same place relative to the page, so the link works in the site as it does
    in the repository; links that would leave the site, or name no file in the repository, are left alone."""
    for href in set(_HREF.findall(html_text)):
        target = (page_dir / href).resolve()
        source = (repo_dir / href).resolve()
        if target.exists() or not source.is_file() or not target.is_relative_to(site.resolve()):
            continue
        if not source.is_relative_to(ROOT.resolve()):
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)


def _write_site(site: Path, results_dir: Path, build_dir: Path, papers: list[str]) -> None:
    from nbconvert import HTMLExporter

    for sub in ("tables", "notebooks", "figures"):
        (site / sub).mkdir()
    exporter = HTMLExporter()
    rows = []
    for paper in papers:
        metrics = {p.parent.name: p for p in sorted((results_dir / "reproduced" / paper).glob("*/metrics.json"))}
        notebooks = _notebooks(build_dir, paper, results_dir)
        figures = _figures(results_dir / "figures", paper)
        for f in figures:
            shutil.copy2(f, site / "figures" / f.name)
        md = results_dir / "tables" / f"{paper}.md"
        if md.exists():
            (site / "tables" / f"{paper}.html").write_text(_table_page(md, paper, figures))
            table = _link(f"tables/{paper}.html", "table")
        else:
            table = '<span class="missing">no table (make tables)</span>'
        scales = sorted(set(metrics) | set(notebooks))
        if not scales:
            rows.append(
                f'<tr><td>{html.escape(paper)}</td><td colspan="9" class="missing">no results yet '
                f"(make replicate-{html.escape(paper)})</td></tr>"
            )
        for scale in scales:
            if scale in metrics:
                counts = verdict_counts(metrics[scale])
                cells = "".join(f'<td class="n">{counts[EMPIRICAL][v]}</td>' for v in VERDICTS)
                cells += "".join(f'<td class="n">{counts[RECOMPUTATION][v]}</td>' for v in VERDICTS[:2])
            else:
                cells = '<td colspan="5" class="missing">no metrics.json</td>'
            if scale in notebooks:
                name = f"{paper}-{scale}.html"
                body, _ = exporter.from_filename(str(notebooks[scale]))
                (site / "notebooks" / name).write_text(body)
                _copy_linked_files(site, site / "notebooks", body, ROOT / "notebooks")
                notebook = _link(f"notebooks/{name}", "notebook")
            else:  # say so rather than link a page that does not exist
                notebook = f'<span class="missing">not executed (make replicate-{html.escape(paper)})</span>'
            figs = ", ".join(_link(f"figures/{f.name}", f.stem) for f in figures if f.stem.endswith(f"_{scale}"))
            rows.append(
                f"<tr><td>{html.escape(paper)}</td><td>{html.escape(scale)}</td>{cells}"
                f"<td>{table}</td><td>{notebook}</td><td>{figs or '—'}</td></tr>"
            )
    head = "".join(
        f"<th>{h}</th>"
        for h in (
            "paper",
            "scale",
            "measured: reproduced",
            "measured: not reproduced",
            "measured: inconclusive",
            "recomputed: matches",
            "recomputed: differs",
            "table",
            "notebook",
            "figures",
        )
    )
    index = (
        "<h1>Replications: verdicts per paper and scale</h1>\n<p>Claims per kind and verdict, from "
        "<code>results/reproduced/&lt;paper&gt;/&lt;scale&gt;/metrics.json</code>; built by <code>make report"
        "</code>. <em>Measured</em> claims are effects judged on intervals; <em>recomputed</em> ones are published "
        "numbers recomputed from public data; identities (true by construction) are shown in each table, never "
        f"counted.</p>\n<table><thead><tr>{head}</tr></thead><tbody>\n" + "\n".join(rows) + "\n</tbody></table>"
    )
    (site / "index.html").write_text(_page("replicate: report", index))


def build_site(
    out_dir: str | Path, results_dir: str | Path, build_dir: str | Path, papers: list[str] | None = None
) -> Path:
    """Write the site to ``out_dir`` atomically and return its index.html. ``papers`` defaults to conf/paper/*.yaml."""
    out_dir, results_dir, build_dir = Path(out_dir).resolve(), Path(results_dir), Path(build_dir)
    if not results_dir.is_dir():
        raise ConfigError(
            f"results directory {results_dir} does not exist: run `make replicate-<paper>` "
            "(and `make tables`) first, or pass --results"
        )
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        _write_site(tmp, results_dir, build_dir, conf_papers() if papers is None else list(papers))
        tmp.chmod(0o755)  # mkdtemp makes it private; a served site must be readable
        old = out_dir.with_name(f".{out_dir.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        if out_dir.exists():  # rename cannot replace a non-empty directory: swap, then delete the old one
            out_dir.rename(old)
        tmp.rename(out_dir)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir / "index.html"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m replicate.reporting.site", description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=str(ROOT / "build" / "site"), help="site directory (default: build/site)")
    ap.add_argument("--results", default=str(ROOT / "results"), help="results directory (default: results)")
    ap.add_argument("--build", default=str(ROOT / "build"), help="where executed notebooks are (default: build)")
    args = ap.parse_args(argv)
    try:
        index = build_site(args.out, args.results, args.build)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {index}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
