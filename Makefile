# crmwh: every target bootstraps its own virtualenv, so `make demo` and `make test` work first on a fresh clone.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DBT_PROFILES_DIR := $(CURDIR)
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export DO_NOT_TRACK := 1
# BLAS threads fight the optimiser for 2 cores on the small fits the tests make
test test-fast: export OPENBLAS_NUM_THREADS := 1

.DEFAULT_GOAL := help

.PHONY: help install demo nightly-demo test test-fast bench lint format clean

help: ## Show this help
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

# The tests also cover the optional extras (Spark parity, Dagster definitions): a second stamp installs them.
TEST_STAMP := $(VENV)/.installed-test
$(TEST_STAMP): $(STAMP) pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev,spark,dagster]'
	@touch $(TEST_STAMP)

install: $(STAMP) ## Create .venv and install crmwh with its development tools

demo: $(STAMP) ## Generate sample extracts and run the whole pipeline end to end
	$(BIN)/python -m warehouse.demo

NIGHTLY_DEMO_DIR := warehouse/data/nightly-demo
NIGHTLY_DEMO_ENV := CRMWH_PATHS__INBOX_DIR=$(NIGHTLY_DEMO_DIR)/inbox CRMWH_PATHS__LAKE_DIR=$(NIGHTLY_DEMO_DIR)/lake \
	CRMWH_PATHS__WAREHOUSE_PATH=$(NIGHTLY_DEMO_DIR)/crmwh.duckdb CRMWH_PATHS__RUNS_DIR=$(NIGHTLY_DEMO_DIR)/runs
nightly-demo: $(STAMP) ## Simulate a week: full extract, then 7 daily deltas with a nightly run each, then status
	rm -rf $(NIGHTLY_DEMO_DIR)
	$(NIGHTLY_DEMO_ENV) $(BIN)/crmwh generate --scale $${DEMO_SCALE:-tiny} --as-of 2026-11-15 --full
	$(NIGHTLY_DEMO_ENV) $(BIN)/crmwh nightly; rc=$$?; [ $$rc -le 1 ] || exit $$rc
	for day in 2026-11-16 2026-11-17 2026-11-18 2026-11-19 2026-11-20 2026-11-21 2026-11-22; do \
	  $(NIGHTLY_DEMO_ENV) $(BIN)/crmwh generate --scale $${DEMO_SCALE:-tiny} --as-of $$day || exit $$?; \
	  $(NIGHTLY_DEMO_ENV) $(BIN)/crmwh nightly; rc=$$?; [ $$rc -le 1 ] || exit $$rc; \
	done
	$(NIGHTLY_DEMO_ENV) $(BIN)/crmwh status

test: $(TEST_STAMP) ## Run the test suite (pytest, real DuckDB/dbt, Spark and Dagster extras)
	$(BIN)/python -m pytest -n 2 --dist loadgroup

test-fast: $(TEST_STAMP) ## Run the tests that do not build the whole warehouse
	$(BIN)/python -m pytest -n 2 -m "not slow"

bench: $(STAMP) ## Measure throughput, build times, query latency (SCALES="small medium" by default)
	$(BIN)/python -m warehouse.bench $(if $(SCALES),--scales "$(SCALES)",)

lint: $(STAMP) ## ruff on Python, sqlfluff on the dbt models
	$(BIN)/ruff check warehouse ingest cubes tests
	$(BIN)/ruff format --check warehouse ingest cubes tests
	$(BIN)/sqlfluff lint models macros --processes 2

format: $(STAMP) ## Apply ruff fixes and formatting
	$(BIN)/ruff check --fix warehouse ingest cubes tests
	$(BIN)/ruff format warehouse ingest cubes tests

clean: ## Remove generated data, dbt artefacts and caches (keeps .venv)
	rm -rf warehouse/data target logs .pytest_cache .ruff_cache
