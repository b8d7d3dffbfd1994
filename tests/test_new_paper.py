"""CONTRIBUTING.md's walkthrough, run: its files added to a copy of the repository make a paper that the CLI runs,
`make tables` renders and the interface test accepts — and no other file of the repository changes."""

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
COPIED = ("replicate", "conf", "docs", "results", "tests", "pyproject.toml", "CONTRIBUTING.md", "README.md")
IGNORED = ("build/", "__pycache__", ".pytest_cache")


def walkthrough_files(text: str) -> dict[str, str]:
    """{path: content} of the walkthrough: each fenced block under the backticked path that introduces it."""
    section = text.split("## Walkthrough", 1)[1].split("\n## ", 1)[0]
    out = {}
    for m in re.finditer(r"^`([\w./-]+)`[^\n]*\n(?:[^`\n][^\n]*\n)*\n?```\w*\n(.*?)^```", section, re.M | re.S):
        out[m.group(1)] = m.group(2)
    return out


def notebook(code: str) -> str:
    """The notebook whose code cells are the ``# %%`` sections of ``code`` (``# %% parameters`` tags the cell)."""
    cells = []
    for part in re.split(r"^# %%", code, flags=re.M)[1:]:
        head, _, body = part.partition("\n")
        cells.append(
            {
                "cell_type": "code",
                "execution_count": None,
                "id": f"c{len(cells):02d}",
                "metadata": {"tags": head.split()} if head.strip() else {},
                "outputs": [],
                "source": body.strip("\n").splitlines(keepends=True),
            }
        )
    nb = {
        "cells": cells,
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    return json.dumps(nb, indent=1) + "\n"


def snapshot(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not any(i in str(p.relative_to(root)) for i in IGNORED)
    }


# slow: it runs the walkthrough's commands in subprocesses (≈ 100 CPU-seconds); `make check` runs it in CI
@pytest.mark.slow
def test_the_walkthrough_adds_a_paper_by_touching_only_its_own_files(tmp_path):
    files = walkthrough_files((ROOT / "CONTRIBUTING.md").read_text())
    assert set(files) == {
        "conf/paper/toy-coin.yaml",
        "replicate/papers/toy_coin.py",
        "results/reported/toy-coin.csv",
        "notebooks/toy-coin.ipynb",
        "tests/test_toy_coin.py",
    }
    repo = tmp_path / "repo"
    for name in COPIED:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, repo / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, repo / name)
    (repo / "notebooks").mkdir()
    before = snapshot(repo)
    for path, text in files.items():
        (repo / path).write_text(notebook(text) if path.endswith(".ipynb") else text)

    env = {
        **os.environ,
        "PYTHONPATH": str(repo),
        "REPLICATE_CACHE_DIR": str(tmp_path / "cache"),
        "REPLICATE_BUILD_DIR": str(repo / "build"),
    }
    env.pop("REPLICATE_LOG", None)
    env.pop("REPLICATE_PROGRESS", None)

    def cli(*args):
        r = subprocess.run([sys.executable, *args], cwd=repo, env=env, capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
        return r.stdout

    assert "toy-coin" in cli("-m", "replicate", "papers").split()
    out = cli("-m", "replicate", "run", "toy-coin")  # make replicate-toy-coin
    assert "C1: The bias is recovered within 3 standard errors | empirical | ✅ reproduced" in out
    cli("-m", "replicate", "tables", "toy-coin")  # make tables
    assert "| estimate | SE | flips |" in (repo / "results" / "tables" / "toy-coin.md").read_text()
    cli("-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_toy_coin.py")
    cli(
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "tests/test_paper_interface.py",
        "-k",
        "toy-coin or holds_papers",
    )

    after = snapshot(repo)
    changed = {p for p in before if p in after and before[p] != after[p]} | (set(before) - set(after))
    added = set(after) - set(before)
    # make tables rewrites the deviations page and the README's generated paper index, which gains the new row
    assert changed <= {"docs/deviations.md", "README.md"}, changed
    assert "toy-coin" in (repo / "README.md").read_text().split("<!-- paper index")[1]
    allowed = set(files) | {
        "results/reproduced/toy-coin/tiny/metrics.json",
        "results/tables/toy-coin.md",
        "results/notebooks/toy-coin-tiny.ipynb",  # the executed notebook a reader opens without running it
    }
    assert added == allowed, added ^ allowed
