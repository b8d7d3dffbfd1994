"""Fixtures shared by the real-model tests (test_real_model, test_real_iterative, test_real_rl)."""

import pytest
import torch
from datasets import Dataset

from replicate.models.lm import build_tiny_llama
from replicate.worlds.tokenizer import build_tokenizer


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    """A tiny causal LM, a tiny reward model (random, seeded head) and UltraFeedback-format pairs, all on disk."""
    root = tmp_path_factory.mktemp("real")
    tok = build_tokenizer()
    tok.model_max_length = 1024
    lm = build_tiny_llama(
        tok, hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64, max_positions=1024, seed=0
    )
    lm.save_pretrained(root / "lm")
    tok.save_pretrained(root / "lm")
    from transformers import LlamaForSequenceClassification

    rcfg = lm.config.__class__.from_dict(
        {**lm.config.to_dict(), "num_labels": 1, "id2label": {0: "LABEL_0"}, "label2id": {"LABEL_0": 0}}
    )
    torch.manual_seed(1)
    LlamaForSequenceClassification(rcfg).save_pretrained(root / "rm")
    tok.save_pretrained(root / "rm")
    rows = {
        "prompt": [f"rev:ab{c}" for c in "abcdefgh"],
        "chosen": [
            [{"role": "user", "content": f"rev:ab{c}"}, {"role": "assistant", "content": f"{c}ba"}] for c in "abcdefgh"
        ],
        "rejected": [
            [{"role": "user", "content": f"rev:ab{c}"}, {"role": "assistant", "content": f"{c}ba sure"}]
            for c in "abcdefgh"
        ],
    }
    Dataset.from_dict(rows).save_to_disk(str(root / "pairs"))
    return root


@pytest.fixture
def env(monkeypatch, tmp_path):
    import huggingface_hub.constants as hc

    monkeypatch.setenv("REPLICATE_ASSUME_GPU", "1")  # scale=small/paper require a GPU; these tests run their CPU path
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hc, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("REPLICATE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("REPLICATE_BUILD_DIR", str(tmp_path / "build"))
    return tmp_path


# =============================================================================================================
# The suite's own machinery (issue 22), apart from the real-model fixtures above.

import os  # noqa: E402

# Figures are drawn headless in the test processes; a notebook kernel gets its inline backend (cli/run.py).
os.environ["MPLBACKEND"] = "Agg"
# Training curves off in the test processes (and the notebook kernels they start): thousands of tiny runs would each
# write TensorBoard events. tests/test_run_logs.py turns them on and checks they change no weight.
os.environ.setdefault("REPLICATE_REPORT_TO", "none")


@pytest.fixture(scope="session")
def public_data():
    """The public data directory, for tests on real data: they skip only where the directory itself is absent;
    once it is there, a missing file or a loader error is a failure like any other."""
    from replicate.worlds.public_data import ENV_DIR, data_dir

    d = data_dir()
    if d is None or not d.is_dir():
        pytest.skip(f"no public data directory ({ENV_DIR}={d}; make sets it to ../shared/data)")
    return d


# Skips CI accepts (`.ci/run` sets REPLICATE_STRICT_SKIPS=1): test id prefix -> the reason a skip is expected there.
# Any other skip fails the run, so a test that silently stops running is seen.
ALLOWED_SKIPS = {
    "tests/test_real_model.py::test_gpu_only_options_on_cpu_fail_clearly": (
        "checks the CPU-only error messages; on a machine with a GPU there is nothing to check"
    ),
}
_skipped: list[tuple[str, str]] = []


def _skip_reason(report) -> str:
    return report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)


def pytest_runtest_logreport(report):
    """Collect every skip (under xdist the controller receives the workers' reports here too)."""
    if report.skipped and not hasattr(report, "wasxfail"):
        _skipped.append((report.nodeid, _skip_reason(report)))


def pytest_collectreport(report):
    if report.skipped:  # a whole module skipped at import (pytest.importorskip, a module-level skip)
        _skipped.append((report.nodeid, _skip_reason(report)))


def unexpected_skips(skipped: list[tuple[str, str]]) -> list[str]:
    return [f"{node}: {why}" for node, why in skipped if not any(node.startswith(a) for a in ALLOWED_SKIPS)]


def pytest_sessionfinish(session, exitstatus):
    if os.environ.get("REPLICATE_STRICT_SKIPS") != "1" or hasattr(session.config, "workerinput"):
        return  # only where CI asks for it, and once (in the xdist controller, which sees every report)
    bad = unexpected_skips(_skipped)
    if bad:
        msg = "\n".join([f"{len(bad)} skip(s) not on the allow-list (tests/conftest.py ALLOWED_SKIPS):", *bad])
        tr = session.config.pluginmanager.get_plugin("terminalreporter")
        if tr is not None:
            tr.ensure_newline()
            tr.write_line(msg, red=True)
        else:
            print(msg)
        if session.exitstatus == 0:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


# Modules with a long test or fixture, started right after the notebooks (in this order); the rest keep theirs.
EARLY_MODULES = ("test_temporal_self_rewarding.py", "test_real_iterative.py", "test_parallel.py")


def pytest_collection_modifyitems(config, items):
    """Longest first (the notebooks' executions, the toy-LM ones ahead; then EARLY_MODULES), so that the two xdist
    workers, which take tests in this order (make test: --no-loadscope-reorder), finish together. The order is the
    same in every worker, as xdist requires."""
    from executed_notebooks import longest_first

    def paper(item):
        if getattr(item, "originalname", "") == "test_notebook_runs_at_ci_scale_and_shows_what_it_computed":
            return item.callspec.params["paper"]
        return None

    runs = longest_first([p for it in items if (p := paper(it))])

    def rank(item):
        if paper(item):
            return (0, runs.index(paper(item)))
        name = item.path.name
        return (1, EARLY_MODULES.index(name)) if name in EARLY_MODULES else (2, 0)

    items.sort(key=rank)  # stable: within a rank, tests keep their order
