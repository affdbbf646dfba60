# revops: `make help` lists the targets. Every target uses the project's .venv,
# created from the committed uv.lock (uv is installed first if the machine lacks it).

SHELL := /bin/bash
.DEFAULT_GOAL := help

# Never let uv download an interpreter: the machine's Python 3.11 is the one.
export UV_PYTHON_DOWNLOADS := never
# Install packages with their bytecode compiled, and let Python cache the project's own: a
# machine with PYTHONDONTWRITEBYTECODE set otherwise compiles dagster, dbt and every module
# from source in each process (5 s of every `revops run` and of every dbt call).
export UV_COMPILE_BYTECODE := 1
unexport PYTHONDONTWRITEBYTECODE

VENV         := .venv
PYTHON3      ?= python3
REVOPS_HOME  ?= $(CURDIR)/data
DAGSTER_HOME ?= $(REVOPS_HOME)/dagster
# Where uv is pip-installed when neither `uv` nor `python3 -m uv` works (outside the repo;
# `--target` also works where the system Python is "externally managed").
UV_BOOTSTRAP ?= $(HOME)/.cache/revops/uv-bootstrap
# Every Python file of the repository: ruff leaves out .venv, what .gitignore ignores and
# [tool.ruff] extend-exclude (the dbt project, data/).
LINT_PATHS   := .
BENCH_SIZES  ?= 10000 50000
BENCH_MONTHS ?= 36
BENCH_DIR    ?= $(REVOPS_HOME)/bench
UI_HOST      := 127.0.0.1
UI_PORT      := 3000

.PHONY: help setup browser postgres dbt-prepare demo test test-bench test-crash lint dev bench

help: ## List the targets
	@echo "revops - make targets (REVOPS_HOME=$(REVOPS_HOME))"
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) \
		| awk 'BEGIN {FS = ":.*## "}; {printf "  %-12s %s\n", $$1, $$2}'

$(VENV)/.synced: pyproject.toml uv.lock
	@set -e; \
	if command -v uv >/dev/null 2>&1; then \
		uv="uv"; \
	elif $(PYTHON3) -m uv --version >/dev/null 2>&1; then \
		uv="$(PYTHON3) -m uv"; \
	else \
		if ! PYTHONPATH="$(UV_BOOTSTRAP)" $(PYTHON3) -m uv --version >/dev/null 2>&1; then \
			echo "uv not found: pip-installing it into $(UV_BOOTSTRAP)"; \
			$(PYTHON3) -m pip install --quiet --disable-pip-version-check \
				--target "$(UV_BOOTSTRAP)" uv; \
		fi; \
		uv="env PYTHONPATH=$(UV_BOOTSTRAP) $(PYTHON3) -m uv"; \
	fi; \
	echo "$$uv sync --frozen"; \
	$$uv sync --frozen
	@touch $@

setup: $(VENV)/.synced ## Create or update .venv from uv.lock (installs uv if missing)

# The manifest the Dagster definitions load (dbt/target/manifest.json), parsed once and again
# only when a file of the dbt project changes (dbt parse reads no warehouse).
DBT_FILES := dbt/dbt_project.yml dbt/profiles.yml $(shell find dbt/models dbt/macros dbt/tests -type f 2>/dev/null)

# The raw sources yml are written from the object declarations (connectors/schemas) first.
dbt/target/manifest.json: $(VENV)/.synced $(DBT_FILES) $(wildcard connectors/schemas/*.py)
	$(VENV)/bin/python -m connectors.schemas.derived
	$(VENV)/bin/dbt parse --quiet --project-dir dbt --profiles-dir dbt
	@touch $@

dbt-prepare: setup dbt/target/manifest.json ## Parse the dbt project into dbt/target/manifest.json (when it changed)

demo: setup dbt-prepare ## Generate the sandbox company and run the pipeline on it (a Dagster run)
	REVOPS_HOME="$(REVOPS_HOME)" DAGSTER_HOME="$(DAGSTER_HOME)" $(VENV)/bin/revops demo

lint: setup ## ruff check, ruff format --check, mypy (every Python file: the files of [tool.mypy])
	$(VENV)/bin/ruff check $(LINT_PATHS)
	$(VENV)/bin/ruff format --check $(LINT_PATHS)
	$(VENV)/bin/mypy

# Debian's Chromium renders the finance report in the tests (headless, no browser download).
browser: ## Install Debian's chromium for the report test when it is missing
	@command -v chromium >/dev/null 2>&1 || { \
		echo "installing Debian's chromium for the headless report test"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

# Debian's PostgreSQL serves the workflow store's PostgreSQL tests (tests/postgres.py starts a
# server of its own on a free loopback port; it installs the package itself when run alone).
postgres: ## Install Debian's postgresql for the workflow store's tests when it is missing
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
		echo "installing Debian's postgresql for the workflow store's tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; }

# pytest's exit code is make's: 5 (no tests collected) fails the target like any failure.
test: setup lint browser postgres dbt-prepare ## Lint, then the whole test suite
	$(VENV)/bin/pytest

# `dg dev` serves the project's code location, `revops` ([tool.dg.project] in pyproject.toml),
# on the instance in DAGSTER_HOME: the run history of `revops run`, the demo and the schedule.
# A run launched from the UI reads REVOPS_SOURCE_DIR, here the demo's drop unless set.
# VIRTUAL_ENV names .venv as the active environment (dg warns when it is not the project's).
dev: setup dbt-prepare ## Dagster UI at http://127.0.0.1:3000 on the demo's instance (run history)
	@mkdir -p "$(DAGSTER_HOME)"
	@$(VENV)/bin/python -c "import pathlib, sys; from dagster_project.launch import write_instance_config; write_instance_config(pathlib.Path(sys.argv[1]))" "$(DAGSTER_HOME)"
	REVOPS_HOME="$(REVOPS_HOME)" DAGSTER_HOME="$(DAGSTER_HOME)" VIRTUAL_ENV="$(CURDIR)/$(VENV)" \
		REVOPS_SOURCE_DIR="$${REVOPS_SOURCE_DIR:-$(REVOPS_HOME)/sandbox}" \
		$(VENV)/bin/dg dev -h $(UI_HOST) -p $(UI_PORT)


# The benchmark harness end to end on a tiny company (tests/test_bench_smoke.py), outside
# `make test` for its time; .ci/run runs it after `make test`.
test-bench: setup dbt-prepare ## The benchmark harness smoke test (about 3 minutes)
	$(VENV)/bin/pytest -m bench

# The full kill -9 campaign (tests/test_crash.py: a fresh home per kill point), about 15 minutes
# on this machine, so outside `make test`, which runs the crash chains (tests/test_crash_chain.py).
test-crash: setup dbt-prepare ## Kill revops run at 11 points, a fresh home each, and check recovery
	$(VENV)/bin/pytest -m crash tests/test_crash.py

bench: setup dbt-prepare ## Benchmark BENCH_SIZES customers x BENCH_MONTHS: stages, floor, peers, re-runs
	$(VENV)/bin/python -m bench.run --sizes $(BENCH_SIZES) --months $(BENCH_MONTHS) \
		--work "$(BENCH_DIR)"