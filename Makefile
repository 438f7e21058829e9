# Flux: `make run` runs the main job end to end; `make test` passes the tests. Both set up what they need.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV ?= $(shell command -v uv 2>/dev/null || echo .tools/uv/bin/uv)
WEB := flux_web
export DAGSTER_HOME ?= $(CURDIR)/.flux/dagster
export NEXT_TELEMETRY_DISABLED := 1

.PHONY: install db run test lint format typecheck unit ui api web mlflow stop bench clean \
	web-install web-build web-client web-client-check web-unit e2e chromium fuzz dbt-docs \
	checkov

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

# The dashboard's packages, exactly as package-lock.json has them, again whenever it changes.
$(WEB)/node_modules/.installed: $(WEB)/package-lock.json $(WEB)/package.json
	cd $(WEB) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

web-install: $(WEB)/node_modules/.installed

# Debian's Chromium for the browser tests and the web benchmark (Playwright's own download
# cannot work here).
chromium:
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }

WEB_SOURCES := $(shell find $(WEB)/app $(WEB)/components $(WEB)/lib -type f 2>/dev/null) \
	$(WEB)/middleware.ts $(WEB)/next.config.ts $(WEB)/tsconfig.json

$(WEB)/.next/BUILD_ID: $(WEB_SOURCES) $(WEB)/node_modules/.installed
	cd $(WEB) && npx next build

web-build: $(WEB)/.next/BUILD_ID

db: install
	$(BIN)/flux db up
	$(BIN)/flux db migrate

# The demo restaurants through the whole graph, then the dashboard served on them.
run: db web-build
	$(BIN)/flux demo

# dbt's documentation site for analysts (models, columns, tests, lineage) on http://127.0.0.1:8580.
dbt-docs: db
	$(BIN)/flux dbt-docs

# The dashboard's typed client, from the API's OpenAPI document (no server needed).
web-client: install web-install
	$(BIN)/python -m flux_api.openapi_document $(WEB)/lib/api/openapi.json
	cd $(WEB) && npx openapi-typescript lib/api/openapi.json -o lib/api/schema.d.ts >/dev/null

# Fails when the committed client no longer matches the API: run `make web-client`.
web-client-check: install web-install
	@tmp=$$(mktemp -d) && trap 'rm -rf $$tmp' EXIT && \
	$(BIN)/python -m flux_api.openapi_document $$tmp/openapi.json && \
	(cd $(WEB) && npx openapi-typescript $$tmp/openapi.json -o $$tmp/schema.d.ts >/dev/null) && \
	diff -u $(WEB)/lib/api/openapi.json $$tmp/openapi.json && \
	diff -u $(WEB)/lib/api/schema.d.ts $$tmp/schema.d.ts && \
	echo "the dashboard's API client matches the API"

lint: install web-install
	$(BIN)/ruff check flux_core flux_pipelines flux_api tests bench
	$(BIN)/ruff format --check flux_core flux_pipelines flux_api tests bench
	$(BIN)/lint-imports --no-cache
	cd $(WEB) && npx eslint . --max-warnings=0 && npx tsc --noEmit && npx prettier --check . --log-level=warn

format: install web-install
	$(BIN)/ruff check --fix flux_core flux_pipelines flux_api tests bench
	$(BIN)/ruff format flux_core flux_pipelines flux_api tests bench
	cd $(WEB) && npx prettier --write . --log-level=warn

typecheck: install
	$(BIN)/mypy flux_core flux_pipelines flux_api

unit: db web-build
	$(BIN)/pytest

web-unit: web-install
	cd $(WEB) && npx vitest run

# The browser tests: the demo data, the API, the dashboard's build and the Dagster daemon on
# ports and a FLUX_HOME of their own (.flux/e2e), Chromium driven by Playwright; all stopped after.
e2e: install web-build chromium
	$(WEB)/e2e/run-stack.sh

# checkov (PyPI) on infra/: every check passes or is skipped with its reason beside it. Its own
# virtualenv: its pinned dependencies (boto3, networkx, ...) would fight the project's lock.
CHECKOV := .tools/checkov/bin/checkov
$(CHECKOV):
	$(PYTHON) -m venv .tools/checkov
	.tools/checkov/bin/pip install --quiet 'checkov==3.3.30'

checkov: $(CHECKOV)
	$(CHECKOV) -d infra --framework terraform --compact --quiet --skip-download

test: lint typecheck checkov web-client-check unit web-unit e2e

# The parsers' fuzzer for longer than make test gives it (20,000 cases a property, new each run);
# every crash it finds becomes a file of tests/files and an entry of test_parsing_catalog.py.
fuzz: install
	FLUX_FUZZ_EXAMPLES=$${FLUX_FUZZ_EXAMPLES:-20000} FLUX_FUZZ_RANDOM=1 \
	FLUX_FUZZ_KEEP=$(CURDIR)/.flux/fuzz-crash.bin $(BIN)/pytest -q tests/test_parsing_fuzz.py

ui: db
	$(BIN)/flux ui

api: db
	$(BIN)/flux api

web: db web-build
	$(BIN)/flux web

mlflow: db
	$(BIN)/flux mlflow

stop: install
	$(BIN)/flux stop

# The API benchmark drives load with wrk (Debian's package); installed here when missing.
bench: db web-build chromium
	@command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; } || echo "wrk not installed: the API benchmark needs it"
	$(BIN)/python -m bench $(BENCH)

clean: stop
	rm -rf .flux dbt_project/target dbt_project/logs $(WEB)/.next
