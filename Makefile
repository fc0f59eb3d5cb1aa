# courierwatch: the commands the README and .ci/run use. `make help` lists them.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: help install demo test test-unit fuzz-nightly test-integration lint bench rules clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,bench]'
	touch $(STAMP)

# The KafkaJS producer of tests/integration/test_real_producers.py: node packages pinned by
# the folder's package-lock.json, pure JavaScript/WebAssembly, so no install scripts run.
KAFKAJS       := tests/clients/kafkajs
KAFKAJS_STAMP := $(KAFKAJS)/node_modules/.installed

$(KAFKAJS_STAMP): $(KAFKAJS)/package.json $(KAFKAJS)/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	  cd $(KAFKAJS) && npm ci --ignore-scripts --no-audit --no-fund && touch node_modules/.installed; \
	else echo "npm not found: $(KAFKAJS) not installed (its test is skipped without node)"; fi

install: $(STAMP) $(KAFKAJS_STAMP)  ## create .venv, install courierwatch with its test and bench tools (Quix Streams peer, py-spy) and the KafkaJS test producer

demo: $(STAMP)  ## install, then run the live demo on the embedded defaults (Ctrl-C stops; DURATION=60 to stop by itself)
	$(BIN)/courierwatch demo $(if $(DURATION),--duration $(DURATION))

test: $(STAMP) $(KAFKAJS_STAMP)  ## install, then run every test (unit, then integration on the real broker and chDB; the 25 slowest listed)
	$(BIN)/python -m pytest -q -p no:cacheprovider --durations=25

test-unit: $(STAMP)  ## unit tests only (pure, no I/O)
	$(BIN)/python -m pytest -q -m "not integration"

fuzz-nightly: $(STAMP)  ## the fuzz harness at CI's nightly size (1,000,000 messages; counts per attack printed)
	COURIERWATCH_FUZZ_MESSAGES=1000000 $(BIN)/python -m pytest -q -s tests/unit/test_fuzz_hostile.py -k 100k

test-integration: $(STAMP) $(KAFKAJS_STAMP)  ## integration tests only
	$(BIN)/python -m pytest -q -m integration

lint: $(STAMP)  ## ruff, mypy --strict on every package, the import layering (lint-imports)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(STAMP)  ## the benchmark (DURATION seconds, default 60)
	$(BIN)/courierwatch bench --duration $(or $(DURATION),60) --format json

rules: $(STAMP)  ## regenerate deploy/prometheus/rules/courierwatch.rules.yml from the policy catalog
	$(BIN)/python -m dashboards.prometheus_rules > deploy/prometheus/rules/courierwatch.rules.yml

clean:  ## remove the virtual environment and local state
	rm -rf $(VENV) .courierwatch $(KAFKAJS)/node_modules
