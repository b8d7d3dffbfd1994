"""The README's per-paper index is generated from conf/paper/ and results/ (make tables), never typed."""

import json

from replicate.core.config import papers
from replicate.core.paths import ROOT
from replicate.metrics.claims import count_verdicts, metrics_path
from replicate.reporting import paper_index


def test_readme_index_is_the_generated_one():
    text = (ROOT / "README.md").read_text()
    block = text.split(paper_index.BEGIN, 1)[1].split(paper_index.END, 1)[0].strip()
    assert block == paper_index.markdown(), "README's paper index is stale: run make tables"


def test_every_paper_has_a_row_with_its_committed_counts():
    rows = paper_index.markdown().splitlines()[2:]
    assert len(rows) == len(papers())
    for p, line in zip(papers(), rows):
        assert f"`make replicate-{p}`" in line and f"docs/papers/{p}.md" in line
        doc = json.loads(metrics_path(p, "tiny").read_text())
        e = count_verdicts(doc["claims"])["empirical"]
        if sum(e.values()):
            assert f"| {e['reproduced']} / {e['not reproduced']} / {e['inconclusive']} |" in line


def test_simpo_headline_on_the_results_page_is_generated_from_its_metrics():
    text = paper_index.RESULTS_PAGE.read_text()
    begin, end = paper_index.HEADLINE
    block = text.split(begin, 1)[1].split(end, 1)[0].strip()
    assert block == paper_index.simpo_headline(), "docs/results.md's SimPO headline is stale: run make tables"
    doc = json.loads(metrics_path("simpo", "tiny").read_text())
    assert f"| {doc['metrics']['base.dpo.lc_win_rate']:.1f} |" in block  # a number the table shows is the metric's
    for c in doc["claims"]:
        assert f"* **{c['id']}** *{c['verdict']}*" in block
