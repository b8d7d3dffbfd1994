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

.PHONY: setup lint test check tables report bench bench-profile bench-rl bench-groups tune-simpo strip lock clean help
.DEFAULT_GOAL := help

help:
	@echo "make replicate-<paper> [ARGS='scale=ci ...']  run a paper's notebook (build/notebooks/<paper>-<scale>.{ipynb,html})"
	@echo "make test        unit, parity and notebook (scale=ci) tests"
	@echo "make lint        ruff check and ruff format --check (pyproject.toml [tool.ruff])"
	@echo "make check       re-run tiny replications of: $(CHECK_PAPERS); fail on numbers outside tolerance"
	@echo "make tables      render results/tables/*.md from results/ files"
	@echo "make report      one static HTML site (build/site/index.html): verdict counts, tables, figures, executed notebooks"
	@echo "make tune-simpo  hyperparameter search on the dev split; writes conf/tuned/simpo_*.yaml"
	@echo "make bench       speed/memory ratios (bench/)"
	@echo "make bench-profile  where a tiny SimPO run's time goes; batched vs plain generation tokens/s"
	@echo "make bench-rl    GRPO steps/s: our RL path (training/rl.py) vs TRL's GRPOTrainer run bare"
	@echo "make bench-groups  preference step: one padded forward vs rows in length groups (same update)"
	@echo "papers: $(PAPERS)"

setup: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip "setuptools>=68,<81"   # <81: alpaca_eval 0.6.6 (lock) imports pkg_resources, removed in setuptools 81
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $@

replicate-%: $(STAMP)
	$(BIN)/replicate run $* $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: $(STAMP)
	$(BIN)/python -m pytest tests

check: $(STAMP)
	@set -e; for p in $(CHECK_PAPERS); do $(BIN)/replicate check $$p $(ARGS); done

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

bench-rl: $(STAMP)
	$(BIN)/python bench/rl_steps.py $(ARGS)

bench-groups: $(STAMP)
	$(BIN)/python bench/length_groups.py $(ARGS)

# Notebooks are stored without outputs.
strip: $(STAMP)
	$(BIN)/python -m replicate.cli.nbstrip notebooks/*.ipynb

# Re-freeze the lock from the current venv (after changing pyproject.toml pins).
lock: $(STAMP)
	$(BIN)/python -m pip freeze --exclude-editable | sed 's/+cpu$$//' > requirements.lock

clean:
	rm -rf build .cache
