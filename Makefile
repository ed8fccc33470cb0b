# Tawasul: `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export RASA_TELEMETRY_ENABLED := false

.DEFAULT_GOAL := help

help: ## List the targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*?## ' $(MAKEFILE_LIST) | sort -u | \
	  awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) ## Create the venv and install the app with dev tools

run: $(STAMP) train ## Install, migrate, seed the demo, start Rasa, serve on SQLite + in-process bus
	bash scripts/run.sh

check: $(STAMP) ## Format check, lint and type check
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy core connectors inbox bot sentiment

format: $(STAMP) ## Format and auto-fix the code
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

services: ## Start PostgreSQL and Redis on 127.0.0.1 if they are down
	bash scripts/services.sh

system-deps: ## Install the Debian packages tests need (scripts/deps-*.sh)
	@for f in scripts/deps-*.sh; do [ -e "$$f" ] && bash "$$f"; done; true

test: $(STAMP) services system-deps check train ## Install everything and run the whole suite
	$(PY) -m pytest

test-fast: $(STAMP) ## Run the suite without the slow Rasa/browser tests
	$(PY) -m pytest -m "not rasa and not browser and not slow"

smoke: ## From a fresh clone, `make run` must serve a working service
	bash scripts/smoke-run.sh

clean: ## Remove runtime data and caches (keeps the venvs)
	rm -rf var .pytest_cache .mypy_cache .ruff_cache

-include mk/*.mk

.PHONY: help install run check format services system-deps test test-fast smoke clean
