# The README's two commands: `make repro` (set up + run the pipeline) and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.stemgan-installed
REQUIREMENTS ?= requirements.txt
export PATH := $(abspath $(BIN)):$(PATH)
export DVC_NO_ANALYTICS := 1
export MLFLOW_DISABLE_TELEMETRY := true
export TF_CPP_MIN_LOG_LEVEL := 2

.PHONY: setup data repro test clean

$(STAMP): requirements.txt requirements-common.txt constraints.txt pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "make: $(PYTHON) not found; install Python 3.11 or pass PYTHON=/path/to/python3.11"; exit 2; }
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

test: $(STAMP)
	$(BIN)/python -m pytest

clean:
	rm -rf artifacts .pytest_cache
