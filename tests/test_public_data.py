"""replicate.worlds.public_data: resolution order, checksums, and the errors a user without the data sees."""

import hashlib
from pathlib import Path

import pytest

from replicate.worlds import public_data as pdata


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv(pdata.ENV_CACHE, str(tmp_path / "cache"))
    monkeypatch.delenv(pdata.ENV_DIR, raising=False)
    monkeypatch.delenv(pdata.ENV_OFFLINE, raising=False)
    return tmp_path


def _register(monkeypatch, rel, payload: bytes, url_file: Path | None):
    entry = pdata._F(hashlib.sha256(payload).hexdigest(), len(payload), *(("o/r", "c" * 40, "p") if url_file else ()))
    monkeypatch.setitem(pdata.FILES, rel, entry)
    if url_file is not None:
        monkeypatch.setattr(pdata._F, "url", property(lambda self: url_file.as_uri() if self.repo else None))
    return entry


def test_data_dir_wins(env, monkeypatch):
    d = env / "bundle"
    (d / "x").mkdir(parents=True)
    (d / "x" / "f.csv").write_text("a\n")
    monkeypatch.setenv(pdata.ENV_DIR, str(d))
    assert pdata.data_path("x/f.csv") == d / "x" / "f.csv"


def test_download_checks_sha_and_caches(env, monkeypatch):
    src = env / "upstream.csv"
    src.write_bytes(b"col\n1\n")
    _register(monkeypatch, "x/up.csv", src.read_bytes(), src)
    p = pdata.data_path("x/up.csv")
    assert p == env / "cache" / "x" / "up.csv" and p.read_bytes() == b"col\n1\n"
    src.unlink()  # second call is served from the cache, no download
    assert pdata.data_path("x/up.csv") == p


def test_checksum_mismatch_is_refused(env, monkeypatch):
    src = env / "upstream.csv"
    src.write_bytes(b"tampered\n")
    entry = _register(monkeypatch, "x/up.csv", b"original\n", src)
    with pytest.raises(pdata.DataChecksumError, match="expected"):
        pdata.data_path("x/up.csv")
    assert not (env / "cache" / "x" / "up.csv").exists()
    assert not list((env / "cache" / "x").glob("*.part"))
    assert entry.size == len(b"original\n")


def test_offline_message_names_file_dir_and_url(env, monkeypatch):
    monkeypatch.setenv(pdata.ENV_OFFLINE, "1")
    rel = "wildbench/leaderboard_data_dir__HEAD_2024-08-01/score.json"
    with pytest.raises(FileNotFoundError) as e:
        pdata.data_path(rel)
    msg = str(e.value)
    assert rel in msg and "REPLICATE_DATA_DIR" in msg
    assert "raw.githubusercontent.com/allenai/WildBench/d6b8dcaf377d173d031980f97c16e1a82618c03d" in msg


def test_unreachable_download_is_a_clear_error(env, monkeypatch):
    _register(monkeypatch, "x/gone.csv", b"z", env / "does-not-exist.csv")
    with pytest.raises(pdata.DataFileNotFound, match="download failed"):
        pdata.data_path("x/gone.csv")


def test_derived_file_says_how_it_is_made_without_a_url(env):
    rel = "alpaca_eval/annotations_weighted_alpaca_eval_gpt4_turbo__slim__48models.csv.gz"
    with pytest.raises(pdata.DataFileNotFound) as e:
        pdata.data_path(rel)
    msg = str(e.value)
    assert "derived" in msg and "shared data bundle" in msg and "http" not in msg


def test_every_derived_note_is_registered():
    assert set(pdata.DERIVED) <= set(pdata.FILES)
    for rel, f in pdata.FILES.items():
        if f.repo is None and not rel.endswith((".md", "inventory.json")):
            assert rel in pdata.DERIVED, rel
        if f.repo is not None:
            assert len(f.commit) == 40 and f.url.startswith("https://raw.githubusercontent.com/")


def test_registry_matches_shared_bundle(public_data):
    assert pdata.verify_all() == {}
