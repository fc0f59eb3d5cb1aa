# courierwatch: the commands the README and .ci/run use. `make help` lists them.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: help install demo test test-unit test-integration lint bench rules clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)  ## create .venv and install courierwatch with its test tools

demo: $(STAMP)  ## install, then run the live demo on the embedded defaults (Ctrl-C stops; DURATION=60 to stop by itself)
	$(BIN)/courierwatch demo $(if $(DURATION),--duration $(DURATION))

test: $(STAMP)  ## install, then run every test (unit, then integration on the real broker and chDB; the 25 slowest listed)
	$(BIN)/python -m pytest -q -p no:cacheprovider --durations=25

test-unit: $(STAMP)  ## unit tests only (pure, no I/O)
	$(BIN)/python -m pytest -q -m "not integration"

test-integration: $(STAMP)  ## integration tests only
	$(BIN)/python -m pytest -q -m integration

lint: $(STAMP)  ## ruff, mypy --strict on every package, the import layering (lint-imports)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(STAMP)  ## the benchmark (DURATION seconds, default 60)
	$(BIN)/courierwatch bench --duration $(or $(DURATION),60) --format json

rules: $(STAMP)  ## regenerate deploy/prometheus/rules/courierwatch.rules.yml from the policy catalog
	$(BIN)/python -m services.prometheus_rules > deploy/prometheus/rules/courierwatch.rules.yml

clean:  ## remove the virtual environment and local state
	rm -rf $(VENV) .courierwatch
