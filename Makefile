# Smart Xinyu one-stop cross-check. `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOUSEHOLDS ?= 3000
SEED ?= 20261130
AS_OF ?= 2026-11-30
WAREHOUSE ?= sqlite:///var/warehouse.db

.DEFAULT_GOAL := help
.PHONY: help run test lint format bench bench-city bench-match bench-leads bench-scale report-screenshot docs lock clean airflow-up airflow-down bench-airflow fault-sweep

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*## "}{printf "  make %-10s %s\n",$$1,$$2}'

$(STAMP): requirements.lock setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -c requirements.lock \
	  --config-settings editable_mode=compat -e '.[dev]'
	touch $@

run: $(STAMP) ## generate the demo city into var/landing and run the whole cross-check into var/warehouse.db
	$(BIN)/crosscheck demo --out var/landing --households $(HOUSEHOLDS) --seed $(SEED) --as-of $(AS_OF)
	$(BIN)/crosscheck run --landing var/landing --warehouse $(WAREHOUSE) --as-of $(AS_OF) --reports var/reports

# Two workers, one per core; a test file stays on one worker (its module fixtures are shared).
test: $(STAMP) ## unit, warehouse (SQLite and PostgreSQL), end-to-end CLI, Airflow and browser tests
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

lint: $(STAMP) ## ruff check and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP) ## apply ruff fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

BENCH_PG ?= postgresql+psycopg://postgres@127.0.0.1:5432/postgres
bench: $(STAMP) ## pipeline (SQLite) and load-vs-COPY (PostgreSQL at BENCH_PG) benchmarks; var/bench/
	$(BIN)/python -m benchmarks.pipeline --out var/bench
	$(BIN)/python -m benchmarks.load --out var/bench --pg-admin $(BENCH_PG)

bench-match: $(STAMP) ## linkage: demo city (HOUSEHOLDS) + FEBRL link and dedupe vs Splink, medians of 3; var/bench/match.{json,md}
	$(BIN)/python -m benchmarks.match --out var/bench --households $(HOUSEHOLDS)

bench-leads: $(STAMP) ## visit and declaration leads of the full demo city of HOUSEHOLDS (100000: ~8 min to build, kept); var/bench/match_leads.{json,md}
	$(BIN)/python -m benchmarks.match_leads --out var/bench --households $(HOUSEHOLDS)

bench-scale: $(STAMP) ## linkage at scale: 1M records vs 1.2M persons (~5 min); var/bench/match_scale.{json,md}
	$(BIN)/python -m benchmarks.match_scale --out var/bench

bench-airflow: $(STAMP) ## a 500-household city under Celery, drop to green vs the CLI; var/bench/airflow.{json,md}
	$(BIN)/python -m benchmarks.airflow --out var/bench --households $${HOUSEHOLDS_AIRFLOW:-500}

bench-city: $(STAMP) ## a city of HOUSEHOLDS_CITY (default 400000) vs its I/O floor: first run, rerun, next month (PostgreSQL; SQLite at SQLITE_HOUSEHOLDS); var/bench/city.{json,md}
	$(BIN)/python -m benchmarks.city --out var/bench --households $${HOUSEHOLDS_CITY:-400000} \
	  --sqlite-households $${SQLITE_HOUSEHOLDS:-100000} --pg-admin $(BENCH_PG)

FAULT_POINTS ?= 24
fault-sweep: $(STAMP) ## SIGKILL at FAULT_POINTS points per backend, rerun, compare; var/bench/fault_sweep_*.{json,md}
	mkdir -p var/tmp
	CROSSCHECK_TEST_FAULT_POINTS=$(FAULT_POINTS) CROSSCHECK_TEST_FAULT_REPORT=var/bench/fault_sweep \
	  $(BIN)/python -m pytest -q -p no:cacheprovider --basetemp=var/tmp/fault_sweep \
	  tests/test_crash_safety.py -k killed_anywhere

airflow-up: $(STAMP) ## local CeleryExecutor deployment (Redis, PostgreSQL, 2 workers, UI on 127.0.0.1:8080)
	ops/airflow-local.sh up

airflow-down: ## stop every component of the local Airflow deployment, by PID
	ops/airflow-local.sh down

report-screenshot: ## render a department feedback page with headless Chromium to var/reports/feedback.png
	command -v chromium >/dev/null || { apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei; }
	test -d var/reports/feedback || $(MAKE) run
	page=$$(find var/reports/feedback -name summary.html | sort | head -1); \
	chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
	  --disable-background-networking --disable-component-update --disable-sync \
	  --user-data-dir=$$(mktemp -d) --window-size=1100,900 \
	  --screenshot=var/reports/feedback.png "file://$$PWD/$$page" && \
	echo "rendered $$page -> var/reports/feedback.png"

.PHONY: serve console-screenshots
serve: $(STAMP) ## the web console on 127.0.0.1:8000 over $(WAREHOUSE) (add users: crosscheck console add-user)
	$(BIN)/crosscheck serve --warehouse $(WAREHOUSE) --landing var/landing --reports var/reports

console-screenshots: $(STAMP) ## a PNG of every console page (headless Chromium) into var/console/
	command -v chromium >/dev/null || { apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei; }
	test -f var/warehouse.db || $(MAKE) run
	$(BIN)/python -m crosscheck.console.screenshots --warehouse var/warehouse.db \
	  --landing var/landing --out var/console

docs: $(STAMP) ## regenerate docs/reasons.md and docs/warehouse.md (data dictionary)
	$(BIN)/python -m validation.reasons > docs/reasons.md
	$(BIN)/python -m warehouse.dictionary > docs/warehouse.md

lock: ## regenerate requirements.lock from a fresh venv resolved from setup.cfg
	rm -rf /tmp/crosscheck-lock && $(PYTHON) -m venv /tmp/crosscheck-lock
	/tmp/crosscheck-lock/bin/pip install -q -e '.[dev]'
	{ echo '# Pinned dependency set, generated by `make lock` (pip freeze of a venv resolved from setup.cfg).'; \
	  /tmp/crosscheck-lock/bin/pip freeze --exclude-editable; } > requirements.lock

clean: ## remove generated data (var/), keep the venv
	rm -rf var
