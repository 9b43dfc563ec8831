# payer-model — `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help
UV ?= $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
RUN := $(UV) run --frozen
DATA ?= data/sample
PYTEST_ARGS ?=

.PHONY: help setup demo test test-fast lint format lab mlflow-ui sample clean browser postgres monitor-ui retrain bench bench-api

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*## "}{printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}'

setup: ## create the environment (installs uv with pip if missing, then uv sync --frozen)
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	$(UV) sync --frozen

demo: setup ## train on data/sample, promote the first champion, score, print a summary
	$(RUN) payer-model demo $(DATA)

test: setup browser postgres ## run the full test suite
	$(RUN) pytest -n 2 --dist loadgroup --durations=15 --nbmake tests notebooks $(PYTEST_ARGS)

test-fast: setup ## unit and data tests only
	$(RUN) pytest -n 2 -m "not slow and not integration and not notebook" $(PYTEST_ARGS)

lint: setup ## ruff lint and format check, and the architecture contracts (import-linter)
	$(RUN) ruff check src tests training serving bench
	$(RUN) ruff format --check src tests training serving bench
	$(RUN) lint-imports

format: setup ## ruff format and autofix
	$(RUN) ruff format src tests training serving bench
	$(RUN) ruff check --fix src tests training serving bench

lab: setup ## start JupyterLab with the project kernel
	$(RUN) jupyter lab --notebook-dir=notebooks

mlflow-ui: setup ## open the MLflow UI on the local store (http://127.0.0.1:5000)
	$(RUN) mlflow ui --backend-store-uri sqlite:///mlflow/mlflow.db --default-artifact-root mlflow/artifacts --host 127.0.0.1 --port 5000

sample: setup ## regenerate the committed sample (deterministic)
	$(RUN) payer-model generate --customers 1500 --months 24 --seed 42 --out data/sample

clean: ## remove reports and the local MLflow store
	rm -rf reports mlflow/mlflow.db mlflow/artifacts

browser: ## install headless Chromium for the browser tests (Debian package; needs root)
	command -v chromium || (apt-get update && apt-get install -y chromium)

postgres: ## install the PostgreSQL server for the ledger tests (Debian package; the tests start it as the postgres user)
	ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || (apt-get update && apt-get install -y postgresql)

monitor-ui: setup ## Evidently UI on the monitoring workspace (http://127.0.0.1:8000)
	$(RUN) evidently ui --workspace reports/workspace --host 127.0.0.1 --port 8000

retrain: setup ## retrain on $(DATA); promotes only through the gate; idempotent
	$(RUN) payer-model retrain $(DATA)

bench: setup ## benchmarks vs targets and references; BENCH_ARGS=--quick for sizes / 10
	$(RUN) python -m bench $(BENCH_ARGS)
	$(MAKE) bench-api

bench-api: setup ## API latency/throughput/soak vs its references (needs a champion: make demo)
	$(RUN) python bench/bench_api.py $(BENCH_API_ARGS)
