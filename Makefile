# The README's two commands: `make repro` (set up + run the pipeline) and `make test`.
SHELL := /bin/bash
# the first of these that runs (a pyenv shim can exist and still fail); PYTHON=/path/to/python overrides
PYTHON ?= $(firstword $(foreach p,python3.13 python3.12 python3.11,$(if $(shell $(p) -c "import sys; \
	sys.exit(not (3, 11) <= sys.version_info[:2] < (3, 14))" 2>/dev/null && echo ok),$(p))))
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.stemgan-installed
REQUIREMENTS ?= requirements.txt
export PATH := $(abspath $(BIN)):$(PATH)
export DVC_NO_ANALYTICS := 1
export MLFLOW_DISABLE_TELEMETRY := true
export TF_CPP_MIN_LOG_LEVEL := 2

.PHONY: setup data repro quick lint test test-fast clean

$(STAMP): requirements.txt requirements-common.txt constraints.txt pyproject.toml
	@[ -n "$(PYTHON)" ] && command -v $(PYTHON) >/dev/null || { echo "make: no Python 3.11, 3.12 or 3.13 found \
	(python3.13, python3.12, python3.11 on PATH); install one or pass PYTHON=/path/to/python3"; exit 2; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -q -r $(REQUIREMENTS) -c constraints.txt
	$(BIN)/pip install --disable-pip-version-check -q --no-deps -e .
	touch $@

setup: $(STAMP)

# The embedded default experimental data: made by the virtual microscope when data/ is absent
# (your own data/ is never overwritten), then recorded in data.dvc.
data: $(STAMP)
	@if [ ! -d data ]; then stemgan acquire --out data; fi
	dvc add -q data

repro: data
	dvc repro
	@echo "Results: artifacts/ (dvc outputs), reports/ ; see README.md"

# A first result in a fraction of the time: profiles/quick.yaml (Table 1's rows on day A, one seed) as a DVC
# experiment; params.yaml is left as it was, so `make repro` afterwards runs the full default
quick: data
	stemgan profile-run profiles/quick.yaml
	@echo "Results (quick profile): reports/ ; see README.md"

# ruff (format + lint, 120 columns) and the house rules (no upward imports, a module per dvc.yaml stage)
lint: $(STAMP)
	$(BIN)/ruff format --check --quiet src tests benchmarks
	$(BIN)/ruff check --quiet src tests benchmarks
	$(BIN)/python -m stemgan.tools.check_layout

# one pytest-xdist worker per core (2 cores: ~18-19 min instead of 30); TEST_WORKERS=0 runs them in one process
TEST_WORKERS ?= auto
test: lint
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist worksteal

# the edit loop: everything but the slow end-to-end tests (CI runs `make test`)
test-fast: lint
	$(BIN)/python -m pytest -m "not slow"

clean:
	rm -rf artifacts .pytest_cache
