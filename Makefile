# Everything runs inside .venv, built from the committed lock file: a machine with only Python 3.11 suffices.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ARGS ?=
# Papers are discovered from conf/paper/*.yaml: `make check` re-computes and compares each one's committed
# tiny-scale numbers (tolerances in conf/paper/<p>.yaml). Cheapest first, SimPO (the longest) last.
PAPERS := $(sort $(basename $(notdir $(wildcard conf/paper/*.yaml))))
CHECK_PAPERS ?= $(filter-out simpo,$(PAPERS)) $(filter simpo,$(PAPERS))
export REPLICATE_DATA_DIR ?= $(abspath ../shared/data)
export PYTHONHASHSEED := 0
export TOKENIZERS_PARALLELISM := false
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export TRANSFORMERS_NO_ADVISORY_WARNINGS := 1
# The same floating-point kernels on every x86 host: torch's and MKL's AVX2 paths (a host with AVX-512 would otherwise
# train slightly different models, which CI on another host would see; docs/statistics.md, "Across machines").
export ATEN_CPU_CAPABILITY ?= avx2
export MKL_CBWR ?= AVX2
export ONEDNN_MAX_CPU_ISA ?= AVX2
# Figures are drawn headless, except in a notebook kernel: replicate run clears this for the kernel so that it
# draws inline (ipykernel picks its inline backend only where MPLBACKEND is unset).
export MPLBACKEND := Agg

.PHONY: setup lint test check check-full tables report bench bench-profile bench-budget bench-rl bench-groups bench-intervals tune-simpo gpu-check strip lock clean help
.DEFAULT_GOAL := help

help:
	@echo "make replicate-<paper> [ARGS='scale=ci ...']  run a paper's notebook (build/notebooks/<paper>-<scale>.{ipynb,html})"
	@echo "make test        unit, parity and notebook (scale=ci) tests, in $(PYTEST_WORKERS) processes"
	@echo "make lint        ruff check and ruff format --check (pyproject.toml [tool.ruff])"
	@echo "make check       CI's check: the slow tests, then each paper's stated subset (LM-world papers: their first seed); fail on numbers or claim effects outside tolerance"
	@echo "make check-full  every seed of every paper: $(CHECK_PAPERS); numbers, claim effects and verdicts"
	@echo "make tables      render results/tables/*.md from results/ files"
	@echo "make report      one static HTML site (build/site/index.html): verdict counts, tables, figures, executed notebooks"
	@echo "make tune-simpo  hyperparameter search on the dev split; writes conf/tuned/simpo_*.yaml"
	@echo "make bench       speed/memory ratios (bench/)"
	@echo "make bench-profile  where a tiny SimPO run's time goes; batched vs plain generation tokens/s"
	@echo "make bench-budget [ARGS='par drift']  each paper's tiny run cold (only the SFT models cached): wall, CPU, stages vs the 10-min budget"
	@echo "make bench-rl    GRPO steps/s: our RL path (training/rl.py) vs TRL's GRPOTrainer run bare"
	@echo "make bench-groups  preference step: one padded forward vs rows in length groups (same update)"
	@echo "make bench-intervals  coverage and width of the verdicts' interval by simulation (docs/statistics.md)"
	@echo "make gpu-check   every real-model stage on a random Qwen2.5-0.5B-shaped model: step time, tokens/s, memory, MFU (docs/gpu.md)"
	@echo "papers: $(PAPERS)"

setup: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip "setuptools>=77,<81"   # <81: alpaca_eval 0.6.6 (lock) imports pkg_resources, removed in setuptools 81
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $@

replicate-%: $(STAMP)
	$(BIN)/replicate run $* $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Two pytest processes (pytest-xdist; notebooks then run their jobs inline, hardware.workers=1, so the two cores are
# not oversubscribed), taking tests longest first in the order tests/conftest.py sorts them; tests marked
# xdist_group stay on one worker (they share a costly module fixture). Tests marked slow run in `make check`.
# --durations: where the time goes, in every run.
PYTEST_WORKERS ?= 2
PYTEST_XDIST := -n $(PYTEST_WORKERS) --dist loadgroup --no-loadscope-reorder
test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_XDIST) -m "not slow" --durations=25 tests

check: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_XDIST) -m slow tests
	@set -e; for p in $(CHECK_PAPERS); do $(BIN)/replicate check $$p $(ARGS); done

check-full: $(STAMP)
	@set -e; for p in $(CHECK_PAPERS); do $(BIN)/replicate check $$p --full $(ARGS); done

tables: $(STAMP)
	$(BIN)/replicate tables

tune-simpo: $(STAMP)
	$(BIN)/python -m replicate.papers.simpo.tune $(ARGS)

report: $(STAMP)
	$(BIN)/python -m replicate.reporting.site $(ARGS)

bench: $(STAMP)
	$(BIN)/python bench/simpo_vs_dpo.py $(ARGS)

bench-profile: $(STAMP)
	$(BIN)/python bench/tiny_profile.py $(ARGS)

bench-budget: $(STAMP)
	$(BIN)/python bench/budget.py $(ARGS)

bench-rl: $(STAMP)
	$(BIN)/python bench/rl_steps.py $(ARGS)

bench-groups: $(STAMP)
	$(BIN)/python bench/length_groups.py $(ARGS)

bench-intervals: $(STAMP)
	$(BIN)/python bench/intervals.py $(ARGS)

# One GPU, no network, < 8 min; exits 2 without CUDA. CPU form (in make test): ARGS="device=cpu size=tiny".
gpu-check: $(STAMP)
	$(BIN)/python -m replicate.real.gpu_check $(ARGS)

# Notebooks are stored without outputs.
strip: $(STAMP)
	$(BIN)/python -m replicate.cli.nbstrip notebooks/*.ipynb

# Re-freeze the lock from the current venv (after changing pyproject.toml pins).
lock: $(STAMP)
	$(BIN)/python -m pip freeze --exclude-editable | sed 's/+cpu$$//' > requirements.lock

clean:
	rm -rf build .cache
