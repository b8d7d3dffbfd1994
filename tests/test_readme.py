"""The README is the suite's door (issue 25): short, and every command and example in it stays true — the toy-world
example prints what the README says it prints, every `make` target it names exists, every local link resolves."""

import re
import subprocess
import sys
from pathlib import Path

from replicate.core.config import papers

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
MAX_LINES = 120


def test_short_enough_to_be_a_door():
    assert len(README.splitlines()) <= MAX_LINES, "README over 120 lines: move detail to docs/"


def test_the_toy_world_example_prints_what_the_readme_shows():
    section = README.split("## A toy world in a few lines", 1)[1].split("\n## ", 1)[0]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    shown = re.search(r"```text\n(.*?)```", section, re.S).group(1)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out == shown


def test_every_make_target_it_names_exists():
    targets = set(re.findall(r"^([a-z][a-z-]*):", (ROOT / "Makefile").read_text(), re.M))
    named = set(re.findall(r"\bmake ([a-z][a-z<>-]*)", README))
    unknown = [
        t
        for t in named
        if t not in targets and not (t.startswith("replicate-") and (t[10:] in papers() or t[10:] == "<paper>"))
    ]
    assert named and unknown == [], f"README names make targets that do not exist: {unknown}"


def test_every_local_link_resolves():
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", README)
    broken = [h for h in links if not h.startswith(("http://", "https://")) and not (ROOT / h).exists()]
    assert links and broken == [], f"README links to missing files: {broken}"
