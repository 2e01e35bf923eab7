# Airflow toolkit for Milvus. The two commands a new user needs:
#   make demo   set everything up, start the local Milvus, run the ingest DAG on the sample corpus
#   make test   set everything up and run the whole test suite (it starts its own Milvus)
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON_BIN ?= python3.11
VENV       := .venv
PY         := $(VENV)/bin/python
PIP        := $(PY) -m pip
STAMP      := $(VENV)/.installed
export LOCAL_HOME := $(CURDIR)/.local
DEV_ENV    := source scripts/dev-env.sh

.PHONY: help lint venv milvus-up milvus-down milvus-status airflow-init demo test test-unit fuzz-lifecycle lock clean bench-ingest bench-reindex
.PHONY: system-deps airflow-up airflow-down airflow-status
.PHONY: milvus-lite-up milvus-lite-down milvus-lite-status

help:
	@echo "make demo        set up, start the local Milvus, ingest the sample corpus, print a summary"
	@echo "make test        set up and run the whole test suite (unit + integration, own Milvus)"
	@echo "make lint        ruff: format check and lint (make test runs it first)"
	@echo "make test-unit   only the fast unit tests"
	@echo "make fuzz-lifecycle  the model-checked lifecycle with many examples, random seed (LIFECYCLE_EXAMPLES=200)"
	@echo "make milvus-up / milvus-down / milvus-status   the local Milvus server (auth on)"
	@echo "make milvus-lite-up / milvus-lite-down / milvus-lite-status   the second server: Milvus Lite 3.2.2 (BM25, hybrid; no auth: 127.0.0.1:19540 only)"
	@echo "make airflow-init   the local Airflow metadata database (SQLite, .local/airflow)"
	@echo "make airflow-up [EXECUTOR=celery] / airflow-down / airflow-status   a local Airflow (PostgreSQL; Celery: Redis, 2 workers)"
	@echo "make bench-reindex  reindex cost per run and peak memory per task: full, unchanged, 1 % changed; local and S3"
	@echo "make bench-ingest   ingest benchmark: plain pymilvus vs the DAG vs one call per chunk (BENCH_ARGS=...)"
	@echo "make lock        re-pin requirements.lock from the current .venv"
	@echo "make clean       stop servers, remove .venv and .local"

# The venv is rebuilt when any requirement file changes. torch goes first and alone so pip
# takes the CPU wheel instead of pulling several GB of CUDA packages. Three editable packages:
# the runtime package (include/milvus_toolkit, also in the worker image), the provider
# (plugins/) and the developer tools (dev/milvus_toolkit_dev: local servers; never in an image).
# llama-index-vector-stores-milvus 1.2.0 (the benchmark's llamaindex layer) declares pymilvus<3
# but works on our pymilvus 3.0.2 (tests/integration/test_benchmark.py runs it): installed with
# --no-deps so pip cannot downgrade pymilvus; its other dependency, llama-index-core, is pinned
# in requirements.txt.
$(STAMP): requirements.txt requirements-dev.txt requirements.lock pyproject.toml plugins/pyproject.toml dev/pyproject.toml
	@test -x $(PY) || $(PYTHON_BIN) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip==26.3 setuptools==84.2.1 wheel==0.45.1
	$(PIP) install --quiet "torch==$$(sed -n 's/^torch==//p' requirements.txt)"
	$(PIP) install --quiet -r requirements.txt -r requirements-dev.txt -c requirements.lock
	$(PIP) install --quiet --no-deps "llama-index-vector-stores-milvus==1.2.0"
	$(PIP) install --quiet --no-deps --no-build-isolation -e . -e plugins -e dev
	@touch $@

venv: $(STAMP)

lock: $(STAMP)
	$(PIP) freeze --exclude-editable | grep -v '^-e ' > requirements.lock

milvus-up: venv
	$(PY) -m milvus_toolkit_dev.local_milvus up

milvus-down:
	@if [ -x $(PY) ]; then $(PY) -m milvus_toolkit_dev.local_milvus down; else echo "no venv: nothing to stop"; fi

milvus-status: venv
	$(PY) -m milvus_toolkit_dev.local_milvus status

# The second server: Milvus Lite's gRPC server (milvus-lite 3.2.2; Milvus 2.5+ features such as
# BM25 and hybrid search). No authentication, so loopback only; data in .local/milvus-lite.
milvus-lite-up: venv
	$(PY) -m milvus_toolkit_dev.local_milvus up --lite

milvus-lite-down:
	@if [ -x $(PY) ]; then $(PY) -m milvus_toolkit_dev.local_milvus down --lite; else echo "no venv: nothing to stop"; fi

milvus-lite-status: venv
	$(PY) -m milvus_toolkit_dev.local_milvus status --lite

airflow-init: venv
	@$(DEV_ENV) && scripts/airflow-init.sh

demo: venv milvus-up airflow-init
	@$(DEV_ENV) && scripts/demo.sh

# Several minutes: >= 200k generated chunks; result in .local/benchmarks/ingest-<timestamp>.json.
# e.g. make bench-ingest BENCH_ARGS="--batch-size 20000 --concurrency 16 --keep-corpus"
# With the real local model (the model alone, the DAG's write phase and end to end, the seeds'
# approach, on ~1,200 chunks; about 7 min on 2 cores): make bench-ingest EMBEDDING=local
bench-ingest: venv milvus-up airflow-init
	@$(DEV_ENV) && python -m milvus_toolkit_dev.bench.ingest $(if $(EMBEDDING),--embedding $(EMBEDDING)) $(BENCH_ARGS)

# What each reindex run costs (wall clock, files, chunks, rows, peak memory per task): full build,
# unchanged and 1 %-changed incremental runs of 1,000,000 local chunks, then the same on 100,000
# chunks in a local S3 server; each task in its own process. Result in .local/benchmarks/reindex-<ts>.json.
# Smaller: make bench-reindex BENCH_ARGS="--chunks 100000 --s3-chunks 100000"
bench-reindex: venv milvus-up airflow-init
	@$(DEV_ENV) && python -m milvus_toolkit_dev.bench.reindex $(BENCH_ARGS)

# docker-compose v1.29 (Debian's package) validates docker-compose.yaml offline in the tests
# (no Docker engine needed). Installed once; apt-get update only if the first try fails.
system-deps:
	@command -v docker-compose >/dev/null 2>&1 || { \
	  echo "installing docker-compose (Debian package) for the compose file test ..."; \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); export DEBIAN_FRONTEND=noninteractive; \
	  $$SUDO apt-get install -y -q docker-compose >/dev/null 2>&1 \
	    || { $$SUDO apt-get update -q >/dev/null && $$SUDO apt-get install -y -q docker-compose >/dev/null; }; \
	  command -v docker-compose >/dev/null; }
	@# Debian's Chromium for the browser tests (Playwright drives it; never `playwright install`).
	@test -x /usr/bin/chromium || { \
	  echo "installing chromium (Debian package) for the browser tests ..."; \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); export DEBIAN_FRONTEND=noninteractive; \
	  $$SUDO apt-get install -y -q chromium >/dev/null 2>&1 \
	    || { $$SUDO apt-get update -q >/dev/null && $$SUDO apt-get install -y -q chromium >/dev/null; }; \
	  test -x /usr/bin/chromium; }

# A local Airflow: api-server, scheduler, dag-processor, triggerer (+ 2 Celery workers with
# EXECUTOR=celery) on the machine's PostgreSQL and Redis, loopback only. Idempotent.
airflow-up: venv
	@$(DEV_ENV) && $(PY) -m milvus_toolkit_dev.local_airflow up --executor $(if $(EXECUTOR),$(EXECUTOR),local)

airflow-down:
	@if [ -x $(PY) ]; then $(PY) -m milvus_toolkit_dev.local_airflow down; else echo "no venv: nothing to stop"; fi

airflow-status: venv
	@$(PY) -m milvus_toolkit_dev.local_airflow status

# ruff, configured in pyproject.toml: the tree must be formatted and lint-clean.
lint: venv
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .

# Two pytest-xdist workers: most tests wait on Milvus (a Strong read waits for a ~0.2 s time
# tick), so two run side by side on 2 cores; tests/conftest.py keeps the Airflow-stack files on one.
test: venv system-deps lint
	$(PY) -m pytest -n 2 --dist loadgroup --durations=12

test-unit: venv
	$(PY) -m pytest tests/unit

# The model-checked lifecycle (tests/integration/test_lifecycle.py) with many more examples than
# `make test` runs, from a random seed; a failure prints its minimal steps and @reproduce_failure.
LIFECYCLE_EXAMPLES ?= 200
fuzz-lifecycle: venv
	LIFECYCLE_EXAMPLES=$(LIFECYCLE_EXAMPLES) LIFECYCLE_SEED=random $(PY) -m pytest tests/integration/test_lifecycle.py \
	  -p no:cacheprovider --show-capture=no -p no:logging -q

clean: milvus-down milvus-lite-down
	rm -rf $(VENV) .local
