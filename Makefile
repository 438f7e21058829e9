# Flux: `make run` runs the main job end to end; `make test` passes the tests. Both set up what they need.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV ?= $(shell command -v uv 2>/dev/null || echo .tools/uv/bin/uv)
export DAGSTER_HOME ?= $(CURDIR)/.flux/dagster

.PHONY: install db run test lint format typecheck unit ui api mlflow stop bench clean

.tools/uv/bin/uv:
	$(PYTHON) -m venv .tools/uv
	.tools/uv/bin/pip install --quiet 'uv>=0.5,<1'

# The virtualenv is built on the machine's Python 3.11 from the committed lock file, its modules
# compiled once: where PYTHONDONTWRITEBYTECODE is set (as on our CI machines) nothing caches
# them, and every process (a test's subprocess, a Dagster run, a training worker pool) would
# compile dagster, pandas and prophet again: 11 s of CPU to import the training code, 25 s for
# the Dagster definitions, against 4 s and 10 s compiled.
$(BIN)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --compile-bytecode --python $(PYTHON)
	@touch $@

install: $(BIN)/.synced

db: install
	$(BIN)/flux db up
	$(BIN)/flux db migrate

run: db
	$(BIN)/flux demo

lint: install
	$(BIN)/ruff check flux_pipelines flux_api tests bench
	$(BIN)/ruff format --check flux_pipelines flux_api tests bench

format: install
	$(BIN)/ruff check --fix flux_pipelines flux_api tests bench
	$(BIN)/ruff format flux_pipelines flux_api tests bench

typecheck: install
	$(BIN)/mypy flux_pipelines flux_api

unit: db
	$(BIN)/pytest

test: lint typecheck unit

ui: db
	$(BIN)/flux ui

api: db
	$(BIN)/flux api

mlflow: db
	$(BIN)/flux mlflow

stop: install
	$(BIN)/flux stop

# The API benchmark drives load with wrk (Debian's package); installed here when missing.
bench: db
	@command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; } || echo "wrk not installed: the API benchmark needs it"
	$(BIN)/python -m bench $(BENCH)

clean: stop
	rm -rf .flux dbt_project/target dbt_project/logs
