# Airlock - the two commands a newcomer needs are `make demo` and `make test`.
# Every target works from a fresh clone: no activated venv, no prior state.

SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := $(CURDIR)/.venv
# airflow standalone starts `airflow ...` subprocesses by name: the venv's bin must be on PATH.
export PATH := $(VENV)/bin:$(HOME)/.local/bin:$(PATH)
UV := $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
STAMP := $(VENV)/.airlock-synced
PY := $(VENV)/bin/python

.PHONY: help setup test lint typecheck unit integration e2e faults demo scaleout bench clean

help:
	@echo "make demo   - run the Airlock demo (kubesim + Prometheus + Airflow standalone)"
	@echo "make test   - lint, type-check and run all tests"
	@echo "make faults - the fault matrix through a real Airflow (issue 13)"
	@echo "make scaleout - CeleryExecutor on PostgreSQL + Redis: 4 deployments through crashes, then 50 at once"
	@echo "make setup | lint | typecheck | bench | clean"

$(UV):
	@echo "uv not found: installing it with pip (user site)"
	python3 -m pip install --user --quiet uv

# Where PYTHONDONTWRITEBYTECODE=1 is set (this machine's shells have it), a venv that uv installed without
# bytecode stays without it: every process - each Airflow CLI, api-server worker and task - compiles
# Airflow's sources again, about twice the CPU of an import (2.67 s against 1.37 s for airflow.sdk +
# cncf.kubernetes here), the likeliest reason the scale-out ran ~2.5x slower in CI than here. So the venv
# is compiled once at install, and make's recipes may write the bytecode of the project's own modules.
unexport PYTHONDONTWRITEBYTECODE

# The stamp makes a second `make setup` a no-op until pyproject.toml or uv.lock change.
$(STAMP): pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --compile-bytecode
	@touch $(STAMP)

setup: $(STAMP)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# all of plugins/ (adapters too); the core (plugins/airlock) is strict - see [tool.mypy] in pyproject.toml
typecheck: setup
	$(VENV)/bin/mypy plugins

# Every test, in two parts. First all but the scale-out, in $(TEST_WORKERS) pytest-xdist workers: most tests
# wait (on analysis windows, rollouts, processes), so they overlap well even on 2 cores; each file goes to one
# worker whole, and the fault matrix (tests/faults, also `make faults`: its fault scenarios and the
# people-in-the-loop scenarios at once in one airflow standalone, README "When things fail", "People in the
# loop") to one worker (tests/conftest.py). Then the scale-out run alone (tests/scaleout, also `make
# scaleout`: CeleryExecutor on PostgreSQL + Redis, README "Scaling out"): it loads both cores by itself and
# its figures (throughput, latency) must be its own. Both parts always run; either failing fails the target.
# --durations shows where CI's time goes. TEST_WORKERS=0 runs the first part in one process.
# --max-worker-restart=0: a worker ended by a test's timeout fails that test and is not replaced (xdist's
# replacement, with whole files as units, re-sent the hung test and then waited forever).
TEST_WORKERS ?= 4
test: lint typecheck
	status=0; \
	$(VENV)/bin/pytest tests -m "not scaleout" -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder --max-worker-restart=0 --durations=30 || status=$$?; \
	$(VENV)/bin/pytest tests -m scaleout --durations=5 || status=$$?; \
	exit $$status

unit: setup
	$(VENV)/bin/pytest tests/unit

integration: setup
	$(VENV)/bin/pytest tests/integration

e2e: setup
	$(VENV)/bin/pytest tests/e2e

# the fault matrix (issue 13): faults and process kills through a real Airflow; prints the table at the end.
# AIRLOCK_FAULTS=f03,f09 runs only those scenarios.
faults: setup
	$(VENV)/bin/pytest tests/faults -m faults

demo: setup
	$(PY) -m demo

# CeleryExecutor for real (issue 14): PostgreSQL and Redis from Debian (apt-installed when missing, as
# root), api-server, 2 schedulers, dag-processor, triggerer, 2 Celery workers; data under .scaleout/
scaleout: setup
	$(PY) -m demo.scaleout

bench: setup
	@set -e; for b in bench/*.py; do echo "== $$b"; $(PY) $$b; done

clean:
	rm -rf .airflow .demo .scaleout .pytest_cache .mypy_cache .ruff_cache
