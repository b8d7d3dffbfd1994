"""`make report`: the static site from a small fixture (verdict counts, atomic builds), and the site built from every
paper's really executed notebook (scale=ci, shared with tests/test_notebooks.py), walked by a real headless browser.

The browser is Chromium driven over the DevTools protocol on a pipe (--remote-debugging-pipe: NUL-terminated
JSON on fds 3/4), so no Python dependency is needed; .ci/run installs Debian's `chromium`.
"""

import base64
import html.parser
import io
import json
import os
import select
import shutil
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import urldefrag, urlparse
from urllib.request import url2pathname

import pytest
from executed_notebooks import executed_all, shared_root

from replicate.core.config import ConfigError, papers
from replicate.reporting import site

pytestmark = pytest.mark.xdist_group("report")  # one worker builds the sites and starts Chromium once

BROWSER = os.environ.get("CHROME") or next(
    (p for b in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable") if (p := shutil.which(b))),
    None,
)
# alpha: a tiny-scale run with a notebook, a ci-scale run without one; beta: a paper with no results yet
COUNTS = {
    ("alpha", "tiny"): ["reproduced", "reproduced", "not reproduced", "inconclusive"],
    ("alpha", "ci"): ["not reproduced", "not reproduced"],
}


def _png() -> bytes:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2, 1.5))
    ax.plot([0, 1, 2], [0, 1, 4])
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    import nbformat

    root = tmp_path_factory.mktemp("report")
    results, build = root / "results", root / "build"
    for (paper, scale), verdicts in COUNTS.items():
        claims = [
            {"id": f"C{i}", "text": "t", "rule": "r", "verdict": v, "evidence": {}} for i, v in enumerate(verdicts)
        ]
        path = results / "reproduced" / paper / scale / "metrics.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps({"paper": paper, "scale": scale, "metrics": {}, "claims": claims}))
    (results / "tables").mkdir()
    (results / "tables" / "alpha.md").write_text("# alpha\n\n| metric | value |\n|---|---|\n| lc | 21.9 |\n")
    (results / "figures").mkdir()
    png = _png()
    (results / "figures" / "alpha_curve_tiny.png").write_bytes(png)
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("# alpha\n\nThe toy world: [docs/design.md](../docs/design.md)"),
            nbformat.v4.new_code_cell(
                "plot()",
                execution_count=1,
                outputs=[
                    nbformat.v4.new_output("stream", name="stdout", text="lc = 21.9\n"),
                    nbformat.v4.new_output("display_data", data={"image/png": base64.b64encode(png).decode()}),
                ],
            ),
        ]
    )
    (build / "notebooks").mkdir(parents=True)
    nbformat.write(nb, build / "notebooks" / "alpha-tiny.ipynb")
    index = site.build_site(root / "site", results, build, papers=["alpha", "beta"])
    return root, index


@pytest.fixture(scope="module")
def real(tmp_path_factory, monkeypatch_module):
    """The report of this session's executed notebooks: every paper's notebook, metrics and figures at scale=ci,
    and its table rendered by `make tables`' code from those metrics."""
    from replicate.reporting import tables

    root = shared_root(tmp_path_factory)
    notebooks = executed_all(papers(), root)
    results = tmp_path_factory.mktemp("real-results")
    shutil.copytree(root / "results", results, dirs_exist_ok=True)
    monkeypatch_module.setattr(tables, "RESULTS", results)
    tables.render_tables()
    index = site.build_site(tmp_path_factory.mktemp("real-site") / "site", results, root / "build")
    return notebooks, results, index


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


class _Rows(html.parser.HTMLParser):
    """The index's table as lists of cell texts."""

    def __init__(self):
        super().__init__()
        self.rows, self._cell = [], None

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = ""

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self.rows[-1].append(self._cell.strip())
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data


def test_index_has_each_papers_verdict_counts(built):
    root, index = built
    p = _Rows()
    p.feed(index.read_text())
    header, *rows = p.rows
    assert header[:7] == [
        "paper",
        "scale",
        "measured: reproduced",
        "measured: not reproduced",
        "measured: inconclusive",
        "recomputed: matches",
        "recomputed: differs",
    ]
    by_key = {(r[0], r[1]): r for r in rows}
    assert by_key[("alpha", "tiny")][2:7] == ["2", "1", "1", "0", "0"]
    assert by_key[("alpha", "ci")][2:7] == ["0", "2", "0", "0", "0"]
    assert "not executed" in by_key[("alpha", "ci")][8]  # said, not linked to a missing page
    assert by_key[("alpha", "tiny")][8] == "notebook" and by_key[("alpha", "tiny")][9] == "alpha_curve_tiny"
    assert rows[-1][0] == "beta" and "no results yet" in rows[-1][1]
    assert sorted(str(f.relative_to(index.parent)) for f in index.parent.rglob("*") if f.is_file()) == [
        "docs/design.md",  # the notebook links to it: copied where the link points
        "figures/alpha_curve_tiny.png",
        "index.html",
        "notebooks/alpha-tiny.html",
        "tables/alpha.html",
    ]
    assert not [d for d in root.iterdir() if d.name.startswith(".")]  # no temp dir left beside the site


def test_failed_build_keeps_the_previous_site(built, monkeypatch):
    root, index = built
    before = index.read_text()

    def half_written(tmp, *args):
        (tmp / "index.html").write_text("partial")
        raise RuntimeError("boom")

    monkeypatch.setattr(site, "_write_site", half_written)
    with pytest.raises(RuntimeError, match="boom"):
        site.build_site(index.parent, root / "results", root / "build", papers=["alpha"])
    assert index.read_text() == before
    assert not [d for d in root.iterdir() if d.name.startswith(".")]


def test_missing_results_dir_is_a_clear_error(tmp_path, capsys):
    with pytest.raises(ConfigError, match="does not exist"):
        site.build_site(tmp_path / "site", tmp_path / "nope", tmp_path)
    assert site.main(["--out", str(tmp_path / "site"), "--results", str(tmp_path / "nope")]) == 2
    assert "error: results directory" in capsys.readouterr().err
    assert not (tmp_path / "site").exists()


class Chromium:
    """Just enough of the DevTools protocol: one tab, navigate, wait for load, evaluate."""

    def __init__(self, exe: str):
        self._profile = tempfile.TemporaryDirectory()
        cmd_r, self._w = os.pipe()
        self._r, out_w = os.pipe()

        def on_fds_3_and_4():  # the pipe protocol's fixed descriptors
            os.dup2(cmd_r, 3)
            os.dup2(out_w, 4)

        # --no-sandbox: CI runs as root; the host rule fails every DNS lookup at once (no network, no waiting)
        self.proc = subprocess.Popen(
            [
                exe,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--remote-debugging-pipe",
                "--no-first-run",
                f"--user-data-dir={self._profile.name}",
                "--host-resolver-rules=MAP * ~NOTFOUND",
                "about:blank",
            ],
            preexec_fn=on_fds_3_and_4,
            pass_fds=(3, 4),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(cmd_r)
        os.close(out_w)
        self._buf, self._id, self._events = b"", 0, []
        target = self._send("Target.createTarget", url="about:blank")["targetId"]
        self._session = self._send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        self._send("Page.enable", self._session)
        self._send("Runtime.enable", self._session)

    def _read(self, timeout=30):
        while b"\0" not in self._buf:
            if not select.select([self._r], [], [], timeout)[0]:
                raise TimeoutError("Chromium did not answer within 30 s")
            chunk = os.read(self._r, 1 << 16)
            if not chunk:
                raise RuntimeError(f"Chromium exited (rc={self.proc.poll()})")
            self._buf += chunk
        msg, self._buf = self._buf.split(b"\0", 1)
        return json.loads(msg)

    def _send(self, method, session=None, **params):
        self._id += 1
        os.write(
            self._w,
            json.dumps(
                {"id": self._id, "method": method, "params": params, **({"sessionId": session} if session else {})}
            ).encode()
            + b"\0",
        )
        while (m := self._read()).get("id") != self._id:
            self._events.append(m)
        if "error" in m:
            raise RuntimeError(f"{method}: {m['error']}")
        return m["result"]

    def load(self, url: str) -> list[str]:
        """Navigate and wait for the load event; the page's problems (failed load, uncaught JS errors)."""
        self._events = []
        r = self._send("Page.navigate", self._session, url=url)
        if "errorText" in r:
            return [f"{url}: {r['errorText']}"]
        while not any(e.get("method") == "Page.loadEventFired" for e in self._events):
            self._events.append(self._read())
        return [
            f"{url}: {e['params']['exceptionDetails'].get('text')}"
            for e in self._events
            if e.get("method") == "Runtime.exceptionThrown"
        ]

    def eval(self, js: str):
        return self._send("Runtime.evaluate", self._session, expression=js, returnByValue=True)["result"]["value"]

    def close(self):
        try:
            self._send("Browser.close")
            self.proc.wait(10)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            self._profile.cleanup()


def crawl(browser: Chromium, index: Path) -> tuple[list[str], int]:
    """Visit every page reachable from ``index`` by local links; problems (dead links, unrendered images), pages seen."""
    problems, seen, todo = [], set(), [index.resolve().as_uri()]
    while todo:
        url = todo.pop()
        if url in seen:
            continue
        seen.add(url)
        if not Path(url2pathname(urlparse(url).path)).is_file():
            problems.append(f"dead link: {url}")
            continue
        problems += browser.load(url)
        for src, width in browser.eval("[...document.images].map(i => [i.src.slice(0, 80), i.naturalWidth])"):
            if not width > 0:
                problems.append(f"{url}: image {src} did not render")
        links = browser.eval("[...document.links].map(a => a.href)")
        todo += [u for u in (urldefrag(h).url for h in links) if u.startswith("file:")]  # external links: not ours
    return problems, len(seen)


@pytest.fixture(scope="module")
def browser():
    if BROWSER is None:
        pytest.skip("no Chromium/Chrome on PATH (Debian: apt-get install chromium; .ci/run installs it)")
    b = Chromium(BROWSER)
    yield b
    b.close()


def test_site_in_a_headless_browser(built, browser):
    _, index = built
    problems, pages = crawl(browser, index)
    assert problems == []
    # index, table page, notebook, figure, and the repository page the notebook links to (copied into the site)
    assert pages == 5
    browser.load(index.as_uri())
    assert browser.eval("document.querySelectorAll('tbody tr').length") == 3


def test_site_of_the_executed_notebooks(real):
    """Every paper at scale=ci: its verdict counts from its metrics.json, a link to its notebook page, and in that
    page the figures the notebook drew (as images, not as a path to a PNG on the machine that ran it)."""
    notebooks, results, index = real
    p = _Rows()
    p.feed(index.read_text())
    rows = {(r[0], r[1]): r for r in p.rows[1:]}
    for paper, nb in notebooks.items():
        row = rows[(paper, "ci")]
        counts = site.verdict_counts(results / "reproduced" / paper / "ci" / "metrics.json")
        emp, rec = counts[site.EMPIRICAL], counts[site.RECOMPUTATION]
        assert row[2:5] == [str(emp[v]) for v in site.VERDICTS], paper  # empirical: the three verdicts
        assert row[5:7] == [str(rec[v]) for v in site.VERDICTS[:2]], paper  # recomputations: match or not
        assert sum(emp.values()) + sum(rec.values()) > 0, paper
        assert row[7] == "table" and row[8] == "notebook", f"{paper}: {row}"
        page = (index.parent / "notebooks" / f"{paper}-ci.html").read_text()
        shown = json.loads(nb.read_text())
        pngs = sum("image/png" in o.get("data", {}) for c in shown["cells"] for o in c.get("outputs", []))
        assert page.count("data:image/png;base64,") >= pngs > 0, f"{paper}: {pngs} figures in the notebook"


def test_site_of_the_executed_notebooks_in_a_headless_browser(real, browser):
    notebooks, _, index = real
    problems, pages = crawl(browser, index)
    assert problems == []
    assert pages >= 1 + 2 * len(notebooks)  # the index, and each paper's notebook and table page (+ figures)
    browser.load((index.parent / "notebooks" / "simpo-ci.html").as_uri())
    assert browser.eval("[...document.images].filter(i => i.naturalWidth > 0).length") >= 1


def test_crawler_reports_dead_links_and_broken_images(tmp_path, browser):
    (tmp_path / "index.html").write_text('<a href="missing.html">x</a><img src="nope.png">')
    problems, _ = crawl(browser, tmp_path / "index.html")
    assert len(problems) == 2 and "image" in problems[0] and "dead link" in problems[1]
