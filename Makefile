# Drydock developer commands. Everything installs from requirements.lock into .venv.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DRYDOCK_HOME ?= $(CURDIR)/data
export NUMBA_CACHE_DIR ?= $(CURDIR)/data/numba_cache
export DAGSTER_HOME ?= $(CURDIR)/data/dagster
export MPLBACKEND := Agg

.PHONY: demo test test-fast lint typecheck bench app dagster mlflow clean lock venv

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is required: install it and/or run 'make PYTHON=/path/to/python3.11 ...'"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip uv

$(STAMP): $(BIN)/python requirements.lock pyproject.toml
	$(BIN)/uv pip sync --python $(BIN)/python --quiet requirements.lock
	$(BIN)/uv pip install --python $(BIN)/python --quiet --no-deps --config-settings editable_mode=compat -e .
	@touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/drydock demo

# Every tier (unit, integration, e2e, slow).
test: $(STAMP) lint
	$(BIN)/python -m pytest -n 2 -q

# The unit tier only (under 30 s).
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 -m unit

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m benchmarks

app: $(STAMP)
	$(BIN)/streamlit run app/Home.py --server.address 127.0.0.1 --server.headless true

dagster: $(STAMP)
	@mkdir -p $(DAGSTER_HOME)
	$(BIN)/dagster dev -m pipelines.definitions -h 127.0.0.1 -p 3000

mlflow: $(STAMP)
	$(BIN)/mlflow ui --backend-store-uri sqlite:///$(DRYDOCK_HOME)/mlflow/mlflow.db --host 127.0.0.1 --port 5000

lock:
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 --no-header --no-annotate -o requirements.lock

clean:
	rm -rf $(VENV) data/lake data/mlflow data/live data/dagster data/warehouse.duckdb data/numba_cache
