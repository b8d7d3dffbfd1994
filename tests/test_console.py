"""replicate run's terminal: one progress line (the notebook's cell), while the kernel's and the libraries' output
goes to build/logs/<paper>-<scale>.log."""

import os
import subprocess
import sys

import pytest


# slow: a real `replicate run` in a subprocess with its notebook kernel; `make check` runs it in CI
@pytest.mark.slow
def test_the_terminal_shows_cells_and_the_log_gets_the_kernels_output(tmp_path):
    build = tmp_path / "build"
    env = {**os.environ, "REPLICATE_BUILD_DIR": str(build), "REPLICATE_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("REPLICATE_LOG", None)
    env.pop("REPLICATE_PROGRESS", None)
    args = ["run", "cdr", "scale=ci", f"results_dir={tmp_path / 'r'}", f"figures_dir={tmp_path / 'f'}"]
    r = subprocess.run(
        [sys.executable, "-m", "replicate", *args], env=env, capture_output=True, text=True, timeout=600
    )
    assert r.returncode == 0, r.stderr[-3000:]
    log = build / "logs" / "cdr-ci.log"
    assert f"library output: {log}" in r.stderr and "cell 1/" in r.stderr
    assert "Executing" not in r.stderr  # papermill's own cell bar is off
    assert "IPKernelApp" not in r.stderr and "IPKernelApp" in log.read_text()  # the kernel's start-up warning
    assert "executed notebook:" in r.stdout and "| cdr.C2_accuracy_grows_with_gap" in r.stdout
    assert not (build / "logs" / "cdr-ci.progress.json").exists()  # removed when the run ends
