"""The stage cache (core/io.py): keys from what the code does, not its text; a damaged stage rebuilt alone."""

import json

import pytest

from replicate.core import io
from replicate.training import toy_stages

MODULE = '''"""A module docstring."""

import math


def f(x):
    """What f does."""
    # a comment
    return math.sqrt(x) + 1
'''


def _fingerprint(tmp_path, text: str, name: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return io.code_fingerprint(path)


def test_comments_docstrings_and_formatting_leave_the_code_key_unchanged(tmp_path):
    base = _fingerprint(tmp_path, MODULE, "a.py")
    edited = (
        MODULE.replace("# a comment", "# a comment, rewritten to read better")
        .replace("What f does.", "What f does, said at length.\n\n    With a second paragraph.")
        .replace('"""A module docstring."""', '"""Another module docstring."""\n\n# and a comment')
        .replace("return math.sqrt(x) + 1", "return (\n        math.sqrt(x)\n        + 1\n    )")
    )
    assert edited != MODULE and _fingerprint(tmp_path, edited, "b.py") == base


@pytest.mark.parametrize(
    "change",
    [
        ("+ 1", "+ 2"),  # a constant
        ("math.sqrt(x)", "math.log(x)"),  # a call
        ("def f(x):", "def f(x, y=0):"),  # a signature
        ('    """What f does."""\n', '    """What f does."""\n    x = abs(x)\n'),  # a statement
    ],
)
def test_a_change_to_what_the_code_does_changes_the_code_key(tmp_path, change):
    assert _fingerprint(tmp_path, MODULE.replace(*change), "b.py") != _fingerprint(tmp_path, MODULE, "a.py")


def test_stage_keys_hash_the_modules_syntax_not_their_text(tmp_path, monkeypatch):
    """toy_stages.code_hash (every toy-world stage's key) goes through code_fingerprint."""
    pkg = tmp_path / "replicate"
    (pkg / "losses").mkdir(parents=True)
    for m in toy_stages.CODE:
        (pkg / m).parent.mkdir(parents=True, exist_ok=True)
        if not m.endswith(".py"):
            continue
        (pkg / m).write_text(MODULE)
    (pkg / "losses" / "x.py").write_text(MODULE)
    monkeypatch.setattr(toy_stages, "ROOT", tmp_path)
    before = toy_stages.code_hash()
    (pkg / "losses" / "x.py").write_text(MODULE.replace("# a comment", "# another comment"))
    assert toy_stages.code_hash() == before
    (pkg / "losses" / "x.py").write_text(MODULE.replace("+ 1", "+ 3"))
    assert toy_stages.code_hash() != before


def _pipeline(calls: list):
    """Two stages: a's numbers, b's sum of them (b reads a, as a run reads its SFT model)."""

    def a(tmp):
        calls.append("a")
        (tmp / "numbers.json").write_text(json.dumps(list(range(100))))

    def b(tmp):
        calls.append("b")
        nums = io.read_json(io.cached("stage-a", {"k": 1}, a) / "numbers.json")
        io.atomic_write_json(tmp / "result.json", {"sum": sum(nums)})

    return io.read_json(io.cached("stage-b", {"k": 1}, b) / "result.json")


def test_a_truncated_stage_file_is_recomputed_alone_with_one_warning(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("REPLICATE_CACHE_DIR", str(tmp_path))
    calls = []
    assert _pipeline(calls) == {"sum": 4950} and calls == ["b", "a"]
    (result,) = (tmp_path / "stage-b").glob("*/result.json")
    result.write_text(result.read_text()[:7])  # what a full disk or a killed copy leaves
    calls.clear()
    assert _pipeline(calls) == {"sum": 4950}
    assert calls == ["b"]  # stage a was intact: read, not recomputed
    err = capsys.readouterr().err.strip().splitlines()
    assert (
        len(err) == 1 and err[0].startswith("warning: cached stage stage-b/") and "result.json has 7 bytes" in err[0]
    )
    calls.clear()
    assert _pipeline(calls) == {"sum": 4950} and calls == []  # rebuilt: cached again


def test_a_changed_or_missing_file_is_damage_a_stage_without_checksums_is_trusted(tmp_path, monkeypatch):
    monkeypatch.setenv("REPLICATE_CACHE_DIR", str(tmp_path))
    final = io.cached("s", 1, lambda tmp: (tmp / "x.txt").write_text("abcd"))
    assert io.damage(final) is None
    (final / "x.txt").write_text("abce")  # same size, other bytes
    assert "SHA-256" in io.damage(final)
    (final / "x.txt").unlink()
    assert io.damage(final) == "x.txt is missing"
    (final / "DONE").write_text("ok\n")  # a stage written before checksums were recorded
    assert io.damage(final) is None


def test_the_done_marker_lists_every_file_the_stage_wrote(tmp_path, monkeypatch):
    monkeypatch.setenv("REPLICATE_CACHE_DIR", str(tmp_path))

    def compute(tmp):
        (tmp / "model").mkdir()
        (tmp / "model" / "w.bin").write_bytes(b"\0" * 10)

    final = io.cached("s", 2, compute)
    files = json.loads((final / "DONE").read_text())["files"]
    assert sorted(files) == ["key.json", "model/w.bin"] and files["model/w.bin"][0] == 10
