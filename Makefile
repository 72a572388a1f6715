# Footfall's entry points: `make run` (install + start on the embedded stores) and `make test`
# (install + every check). Each target installs what it needs, so both work on a fresh machine.
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TRACKER := src/footfall/collect/static/script.js
DASHBOARD := src/footfall/dashboard/static/dashboard.js

.PHONY: install frontend run test lint check-types check-imports pytest system-deps bench clean

install: $(STAMP) $(TRACKER) $(DASHBOARD)

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

frontend $(TRACKER) $(DASHBOARD) &: frontend/package.json frontend/package-lock.json frontend/build.mjs $(wildcard frontend/src/*)
	cd frontend && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build

run: install
	$(BIN)/footfall init
	$(BIN)/footfall serve

system-deps:
	bash scripts/install-system-deps.sh

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

check-types: install
	$(BIN)/mypy

check-imports: install
	$(BIN)/lint-imports

pytest: install system-deps
	$(BIN)/pytest -n 2 --dist loadfile $(PYTEST_ARGS)

test: lint check-types check-imports pytest

bench: install system-deps
	$(PY) bench/ingest.py

clean:
	rm -rf $(VENV) frontend/node_modules src/footfall/collect/static src/footfall/dashboard/static \
		.pytest_cache .mypy_cache
