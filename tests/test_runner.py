"""training/runner.py: a paper's per-seed stage graph on Workers.run_graph — every (seed, stage) once, after the
stages it needs; cached jobs counted; the jobs' output in the log, not in the notebook; a failure names the seed,
the stage and the log; a damaged stage a worker recomputed is reported where the user reads."""

import json
import time
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from replicate.core.io import cached, read_json
from replicate.training import runner

GRAPH = {"a": (), "b": ("a",), "c": ("a",), "d": ("b", "c")}


def _cfg(tmp_path, workers: int, n_seeds: int = 2):
    return OmegaConf.create(
        {
            "seed": 7,
            "paper": {"name": "toy-paper"},
            "scale": {"name": "ci", "n_seeds": n_seeds},
            "hardware": {"workers": workers, "torch_threads": 1},
            "out": str(tmp_path / "marks"),
        }
    )


def _job(cfg, stage):
    """Records when it ran, prints like a library would, and caches its result (a stage of the toy graph)."""
    marks = Path(cfg.out)
    marks.mkdir(parents=True, exist_ok=True)
    print(f"noisy library output of {stage}")

    def compute(tmp):
        with open(marks / f"{cfg.seed}-{stage}", "a") as f:  # one line per computation
            f.write(f"{time.monotonic()}\n")
        (tmp / "r.json").write_text(json.dumps({"seed": int(cfg.seed), "stage": stage}))

    return read_json(cached("toy-stage", [int(cfg.seed), stage], compute) / "r.json")


def _failing(cfg, stage):
    print("the library said something before failing")
    if stage == "b" and int(cfg.seed) == 8:
        raise ValueError("a bad batch")
    return stage


@pytest.mark.parametrize("workers", [1, 2])
def test_every_stage_of_every_seed_runs_once_after_what_it_needs(tmp_path, monkeypatch, capfd, workers):
    monkeypatch.setenv("REPLICATE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("REPLICATE_BUILD_DIR", str(tmp_path / "build"))
    monkeypatch.delenv("REPLICATE_LOG", raising=False)
    cfg = _cfg(tmp_path, workers)
    res = runner.run_stages(cfg, _job, GRAPH, desc="toy", progress=False)
    assert res == {(sd, s): {"seed": sd, "stage": s} for sd in (7, 8) for s in GRAPH}
    t = {p.name: float(p.read_text().split()[0]) for p in Path(cfg.out).iterdir()}
    for sd in (7, 8):
        for s, needs in GRAPH.items():
            assert all(t[f"{sd}-{n}"] < t[f"{sd}-{s}"] for n in needs), (sd, s)
    log = tmp_path / "build" / "logs" / "toy-paper-ci.log"
    assert "noisy library output of d" in log.read_text()
    assert "noisy library output" not in capfd.readouterr().out  # the notebook shows none of it


def test_cached_jobs_are_counted_and_the_time_left_comes_from_computed_ones(tmp_path, monkeypatch):
    monkeypatch.setenv("REPLICATE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("REPLICATE_BUILD_DIR", str(tmp_path / "build"))
    progress = tmp_path / "progress.json"
    monkeypatch.setenv("REPLICATE_PROGRESS", str(progress))
    cfg = _cfg(tmp_path, 1)
    runner.run_stages(cfg, _job, GRAPH, desc="toy", progress=False)
    first = json.loads(progress.read_text())
    assert (first["done"], first["total"], first["cached"]) == (8, 8, 0) and first["eta_s"] == 0
    runner.run_stages(cfg, _job, GRAPH, desc="toy", progress=False)
    again = json.loads(progress.read_text())
    assert (again["done"], again["cached"], again["eta_s"]) == (8, 8, None)  # nothing computed: no estimate


def _busy(cfg, stage):
    """Spends measurable CPU in stage "b" only (a spin, not a sleep: sleeping costs wall time, not CPU)."""
    if stage == "b":
        t = time.process_time()
        while time.process_time() - t < 0.3:
            pass
    return _job(cfg, stage)


def test_every_job_time_is_recorded_and_summed_per_stage_costliest_first(tmp_path, monkeypatch):
    monkeypatch.setenv("REPLICATE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("REPLICATE_BUILD_DIR", str(tmp_path / "build"))
    monkeypatch.delenv("REPLICATE_LOG", raising=False)
    cfg = _cfg(tmp_path, 1)
    runner.run_stages(cfg, _busy, GRAPH, desc="toy", progress=False)
    runner.run_stages(cfg, _busy, GRAPH, desc="toy again", progress=False)  # cached now: recorded, not computed
    path = runner.times_path(tmp_path / "build" / "logs" / "toy-paper-ci.log")
    recs = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(recs) == 16 and {r["graph"] for r in recs} == {"toy", "toy again"}
    assert sum(r["computed"] for r in recs) == 8  # the first graph computed every job, the second none
    summary = runner.time_summary(path)
    assert [s["stage"] for s in summary][0] == "b"  # the two seeds' busy jobs, twice: ≥ 1.2 s of CPU
    b = summary[0]
    assert (b["jobs"], b["computed"]) == (4, 2) and b["cpu_s"] >= 1.1 and b["wall_s"] >= b["cpu_s"] * 0.9
    assert all(s["cpu_s"] < 0.5 for s in summary[1:])
    assert runner.time_summary(tmp_path / "nothing.jsonl") == []


def test_eta_is_jobs_left_times_mean_computed_job_over_workers():
    p = runner.Progress("x", total=10, workers=2, show=False)
    assert p.eta() is None
    for computed, s in ((True, 4.0), (False, 0.1), (True, 2.0)):
        p.update(computed, s)
    assert p.cached == 1 and p.eta() == pytest.approx(7 * 3.0 / 2)
    assert p.postfix() == "1 cached, ≈ 10 s left"


@pytest.mark.parametrize("workers", [1, 2])
def test_a_failing_job_names_its_seed_stage_and_the_log_with_its_traceback(tmp_path, monkeypatch, workers):
    monkeypatch.setenv("REPLICATE_BUILD_DIR", str(tmp_path / "build"))
    monkeypatch.delenv("REPLICATE_LOG", raising=False)
    with pytest.raises(runner.StageFailed, match=r"seed 8, stage 'b' failed: ValueError: a bad batch") as e:
        runner.run_stages(_cfg(tmp_path, workers), _failing, GRAPH, desc="toy", progress=False)
    log = tmp_path / "build" / "logs" / "toy-paper-ci.log"
    assert str(log) in str(e.value)
    text = log.read_text()
    assert "Traceback" in text and "ValueError: a bad batch" in text and "the library said something" in text


def test_a_graph_whose_stage_needs_a_later_or_unknown_stage_is_refused():
    with pytest.raises(ValueError, match="needs"):
        runner.check_graph({"b": ("a",), "a": ()})


def test_a_damaged_stage_is_recomputed_alone_and_reported_in_the_notebook(tmp_path, monkeypatch, capfd):
    monkeypatch.setenv("REPLICATE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("REPLICATE_BUILD_DIR", str(tmp_path / "build"))
    cfg = _cfg(tmp_path, 1, n_seeds=1)
    runner.run_stages(cfg, _job, GRAPH, desc="toy", progress=False)
    (damaged,) = [p for p in (tmp_path / "cache" / "toy-stage").glob("*/r.json") if '"c"' in p.read_text()]
    damaged.write_text(damaged.read_text()[:5])  # truncated on disk
    capfd.readouterr()
    res = runner.run_stages(cfg, _job, GRAPH, desc="toy", progress=False)
    assert res[(7, "c")] == {"seed": 7, "stage": "c"}
    err = capfd.readouterr().err
    assert err.count("is damaged") == 1 and "r.json has 5 bytes" in err and "recomputing it" in err
    computations = {p.name: len(p.read_text().split()) for p in Path(cfg.out).iterdir()}
    assert computations == {"7-a": 1, "7-b": 1, "7-c": 2, "7-d": 1}  # only the damaged stage ran again
    assert damaged.read_text().startswith("{")


def test_until_returns_once_the_first_stages_exist_and_later_ones_finish_into_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("REPLICATE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("REPLICATE_BUILD_DIR", str(tmp_path / "build"))
    progress = tmp_path / "progress.json"
    monkeypatch.setenv("REPLICATE_PROGRESS", str(progress))
    cfg = _cfg(tmp_path, 1)
    first = runner.run_stages(cfg, _job, GRAPH, desc="toy", progress=False, until=("a",))
    assert {(7, "a"), (8, "a")} <= first.keys() and json.loads(progress.read_text())["total"] == 2
    runner.run_stages(cfg, _job, GRAPH, desc="toy", progress=False)  # the rest; nothing computed twice
    assert all(len(p.read_text().split()) == 1 for p in Path(cfg.out).iterdir())


def test_replicate_run_names_the_costliest_stages_of_the_run(tmp_path, capsys):
    from replicate.cli.run import _print_times

    log = tmp_path / "par-tiny.log"
    with open(runner.times_path(log), "w") as f:
        for stage, cpu, computed in (
            ("rm", 30.0, True),
            ("rl", 400.0, True),
            ("rl", 380.0, True),
            ("eval", 5.0, False),
        ):
            f.write(json.dumps({"graph": "g", "seed": 42, "stage": stage, "computed": computed, "wall_s": cpu,
                                "cpu_s": cpu, "end": 0.0}) + "\n")  # fmt: skip
    _print_times(log)
    out = capsys.readouterr().out
    assert "stage jobs: 4 (3 computed), 14 min of CPU; costliest: rl 13 min, rm 30 s, eval 5 s" in out
    _print_times(tmp_path / "no-run.log")  # no record (a tabular paper): no line
    assert capsys.readouterr().out == ""
