"""Does ``make replicate-<paper>`` fit its budget, and where does its time go?

The budget (issue 24): each paper's tiny run ≤ 10 min cold on 2 cores with the shared SFT models cached. This runs
``replicate run <paper>`` in a subprocess against a fresh cache that holds only the SFT models (symlinked from the
usual cache: content-keyed, so only the matching ones are read), with its notebook, log, results and figures in a
temporary folder (nothing committed is touched). It records the run's wall time and its CPU time (every process it
started), the load average before it started (a number above ~0.5 means the cores were shared and the wall time is
an over-estimate), and each stage's jobs, wall and CPU seconds from the run's job record
(``training.runner.time_summary``).

    make bench-budget ARGS="par adaptive-compute"          # any papers; default: every LM-world paper
    make bench-budget ARGS="drift scale=tiny --keep"       # overrides after the papers; --keep keeps the temp folder

Merges each paper's entry into bench/results/budget.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "results" / "budget.json"
LM_PAPERS = ("simpo", "par", "autorule", "drift", "evolve", "temporal-self-rewarding", "adaptive-compute",
             "instruct-skillmix")  # fmt: skip
BUDGET_S = 600.0
SHARED = ("toy-sft",)  # the stages the budget allows to be cached: the shared SFT models


def cold_cache(src: Path, dst: Path) -> int:
    """``dst`` with the ``SHARED`` stages of ``src`` symlinked in; how many entries were linked."""
    n = 0
    for stage in SHARED:
        for entry in sorted((src / stage).glob("*")) if (src / stage).is_dir() else []:
            if (entry / "DONE").exists():
                (dst / stage).mkdir(parents=True, exist_ok=True)
                (dst / stage / entry.name).symlink_to(entry.resolve())
                n += 1
    return n


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def run_paper(paper: str, overrides: list[str], tmp: Path, src_cache: Path) -> dict:
    from replicate.training.runner import time_summary, times_path

    cache, build = tmp / "cache", tmp / "build"
    cache.mkdir(parents=True)
    linked = cold_cache(src_cache, cache)
    env = dict(os.environ, REPLICATE_CACHE_DIR=str(cache), REPLICATE_BUILD_DIR=str(build))
    args = [f"results_dir={tmp / 'results' / 'reproduced'}", f"figures_dir={tmp / 'results' / 'figures'}", *overrides]
    load = os.getloadavg()[0]
    r0, t0 = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "replicate", "run", paper, *args], env=env, cwd=ROOT)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    stages = time_summary(times_path(build / "logs" / f"{paper}-{_scale(overrides)}.log"))
    return {
        "paper": paper,
        "overrides": overrides,
        "returncode": proc.returncode,
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 1),
        "within_budget": proc.returncode == 0 and wall <= BUDGET_S,
        "load_before": round(load, 2),
        "sft_models_linked": linked,
        "stages": [{k: round(v, 1) if isinstance(v, float) else v for k, v in s.items()} for s in stages],
    }


def _scale(overrides: list[str]) -> str:
    return next((o.split("=", 1)[1] for o in overrides if o.startswith("scale=")), "tiny")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("items", nargs="*", help="papers, then key=value overrides")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder (cache, notebook, log)")
    a = ap.parse_args(argv)
    papers = [x for x in a.items if "=" not in x] or list(LM_PAPERS)
    overrides = [x for x in a.items if "=" in x]
    src = Path(os.environ.get("REPLICATE_CACHE_DIR", ROOT / ".cache"))
    from replicate.core.config import papers as known

    unknown = [p for p in papers if p not in known()]
    if unknown:
        print(f"error: unknown paper(s) {unknown}; papers: {', '.join(known())}", file=sys.stderr)
        return 2
    res = json.loads(OUT.read_text()) if OUT.exists() else {}
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    host = {"cpu": cpu_model(), "cores": os.cpu_count(), "commit": commit.stdout.strip()}
    for p in papers:
        tmp = Path(tempfile.mkdtemp(prefix=f"budget-{p}-"))
        try:
            r = run_paper(p, overrides, tmp, src)
        finally:
            if not a.keep:
                shutil.rmtree(tmp, ignore_errors=True)
        r.update(host=host, date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))
        res[p] = r
        OUT.parent.mkdir(parents=True, exist_ok=True)
        tmp_out = OUT.with_suffix(".tmp")
        tmp_out.write_text(json.dumps(res, indent=1, sort_keys=True) + "\n")
        os.replace(tmp_out, OUT)
        flag = "within" if r["within_budget"] else "OVER"
        shared = (
            f" (load {r['load_before']} before: cores shared, wall over-estimated)" if r["load_before"] > 0.5 else ""
        )
        print(
            f"\n{p}: {r['wall_s'] / 60:.1f} min wall, {r['cpu_s'] / 60:.1f} min CPU, {flag} the 10-min budget{shared}"
        )
        for s in r["stages"][:8]:
            print(f"  {s['stage']:<28} {s['jobs']:>3} jobs ({s['computed']} computed) {s['wall_s']:>7.0f} s wall "
                  f"{s['cpu_s']:>7.0f} s CPU")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
