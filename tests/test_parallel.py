"""Jobs spread over processes (replicate.core.parallel) give the numbers a serial run gives."""

import pytest

from replicate.core.parallel import Workers


def _threads_and_square(x):
    import torch

    return torch.get_num_threads(), x * x


def _boom(x):
    raise ValueError(f"bad job {x}")


def test_inline_pool_runs_in_order_and_surfaces_errors():
    with Workers(1) as pool:
        assert [pool.submit(_threads_and_square, i).result()[1] for i in range(4)] == [0, 1, 4, 9]
        with pytest.raises(ValueError, match="bad job 3"):
            pool.submit(_boom, 3).result()
    with pytest.raises(ValueError):
        Workers(0)


def test_spawned_workers_use_one_thread_each_and_return_results():
    with Workers(2, threads=1) as pool:
        out = [f.result() for f in [pool.submit(_threads_and_square, i) for i in range(4)]]
    assert out == [(1, 0), (1, 1), (1, 4), (1, 9)]


# slow: trains every SimPO arm twice, serially and on two workers; `make check` runs it in CI
@pytest.mark.slow
def test_parallel_run_all_equals_serial(tmp_path, monkeypatch):
    """The same jobs through 2 worker processes and inline (fresh caches each) give identical results: each job's
    numbers from two independent runs in two different processes (fresh spawned workers, and this test process with
    whatever it ran before), so nothing depends on a process's state (its RNGs, its history, its import order)."""
    from replicate.core.config import compose
    from replicate.papers.simpo import experiment as exp

    base = [
        "scale=ci",
        "scale.n_seeds=2",
        "scale.sft.steps=3",
        "scale.world.n_sft=64",
        "scale.world.n_pref_prompts=24",
        "scale.world.n_dev=8",
        "scale.world.n_eval=16",
        "scale.pref.max_steps=1",
    ]
    monkeypatch.setattr(
        exp,
        "table_jobs",
        lambda cfg: [
            ("instruct", "sft", "", {}),
            ("instruct", "simpo", "", {}),
            ("instruct", "dpo", "", {}),
            ("instruct", "simpo", "again", {}),
        ],
    )
    out = {}
    for workers in (1, 2):
        monkeypatch.setenv("REPLICATE_CACHE_DIR", str(tmp_path / f"w{workers}"))
        cfg = compose("simpo", base + [f"hardware.workers={workers}"])
        res = exp.run_all(cfg, progress=False)
        out[workers] = {
            k: {m: r["eval"][m] for m in ("responses", "preferences", "lc_win_rate")} for k, r in res.items()
        }
    assert sorted(out[1]) == [
        (s, "instruct", m, t)
        for s in (42, 43)
        for m, t in (("dpo", ""), ("sft", ""), ("simpo", ""), ("simpo", "again"))
    ]
    assert out[1] == out[2]
    # a job that resolves to the same configuration under another tag ran once and is shared
    assert out[1][(42, "instruct", "simpo", "")] == out[1][(42, "instruct", "simpo", "again")]


def _double(x):
    return 2 * x


def test_run_graph_queues_dependent_jobs_and_yields_every_result():
    after = lambda job, res: [(res,)] if res < 20 else []  #  each result seeds the next job until ≥ 20
    for n in (1, 2):
        with Workers(n) as pool:
            got = sorted(pool.run_graph(_double, [(1,), (3,)], after))
        assert got == [((1,), 2), ((2,), 4), ((3,), 6), ((4,), 8), ((6,), 12), ((8,), 16), ((12,), 24), ((16,), 32)]


def _mark(path, i):
    import time
    from pathlib import Path

    time.sleep(0.3)
    Path(path, f"{i}").write_text("done")  # written at the end: a started job always finishes
    return i


def test_run_graph_stopped_early_finishes_running_jobs_and_starts_no_queued_one(tmp_path):
    """Jobs go to free workers only, so a caller that stops (prepare(): once the SFT stages exist) leaves nothing
    queued inside the pool: the jobs already running finish, the others never start."""
    with Workers(2) as pool:
        for job, res in pool.run_graph(_mark, [(str(tmp_path), i) for i in range(8)], lambda job, res: []):
            assert res == job[1]
            break
        ran = sorted(int(p.name) for p in tmp_path.iterdir())
    assert 2 <= len(ran) <= 4 and ran == list(range(len(ran)))  # the first ones, in queue order; 8 were queued


def test_run_graph_left_suspended_goes_on_where_it_stopped(tmp_path):
    """SimPO's prepare() breaks out of the graph and run_all() resumes the same generator: every job is yielded
    exactly once across the two, stages queued by ``after`` included, and nothing runs twice."""
    after = lambda job, res: [(job[0], 10 + job[1])] if job[1] < 10 else []
    with Workers(2) as pool:
        graph = pool.run_graph(_mark, [(str(tmp_path), i) for i in range(4)], after)
        first = [next(graph) for _ in range(3)]
        rest = list(graph)
    got = sorted(job[1] for job, _ in first + rest)
    assert got == [0, 1, 2, 3, 10, 11, 12, 13]
    assert sorted(int(p.name) for p in tmp_path.iterdir()) == got
