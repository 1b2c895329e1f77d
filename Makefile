# gridpeer — two commands on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEVSTAMP := $(VENV)/.installed-dev
SYSSTAMP := .make/system-packages
NODESTAMP := node_modules/.package-lock.json
APT_PACKAGES := mosquitto mosquitto-clients chromium chromium-driver postgresql

.PHONY: demo test bench lint contracts venv dev system node clean slither

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip setuptools wheel

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[demo]'
	touch $@

$(DEVSTAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev,netsim]'
	touch $(STAMP) $@

venv: $(STAMP)            ## gridpeer with the demo extra (embedded broker, chain, simulator)
dev: $(DEVSTAMP)          ## everything: demo, evm, test/lint tools, ns-3

# System packages the tests use (Debian). Needs root or sudo; skipped when all present.
$(SYSSTAMP):
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi
	mkdir -p .make && touch $@
system: $(SYSSTAMP)

# `npm ci`: installs exactly the lock and never rewrites it (`npm install` did: the lock
# then held anvil's optional per-platform packages for linux-amd64 only, and npm added the
# other four platforms' entries, 72 lines, on every fresh machine). The lock now lists
# every platform's entry, which `npm ci` needs (npm/cli#4828); regenerate it with
# `npm install --package-lock-only` after changing package.json.
$(NODESTAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@
node: $(NODESTAMP)

demo: $(STAMP)
	$(BIN)/gridpeer demo

lint: $(DEVSTAMP)
	$(BIN)/ruff check gridpeer tests bench firmware
	$(BIN)/ruff format --check gridpeer tests bench
	$(BIN)/mypy gridpeer
	$(BIN)/lint-imports

contracts: $(STAMP) $(NODESTAMP)
	$(BIN)/gridpeer contracts build

slither: $(NODESTAMP)
	bash tools/slither.sh

test: $(DEVSTAMP) $(SYSSTAMP) $(NODESTAMP) lint slither
	$(BIN)/pytest -q --durations=30

bench: $(DEVSTAMP) $(SYSSTAMP) $(NODESTAMP)
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .make node_modules .pytest_cache .mypy_cache .ruff_cache
