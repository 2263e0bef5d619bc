# The README's commands. Every target that needs the environment depends on it, so a fresh
# machine with only python3 and make can run `make demo` or `make test` directly.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
UV := .tools/bin/uv
STAMP := $(VENV)/.synced
# Node tools for the tests (asl-validator), pinned by package-lock.json.
NODE_STAMP := node_modules/.installed

.PHONY: setup demo test test-fast lint bench clean

setup: $(STAMP) $(NODE_STAMP)

# uv is installed into a private tool venv (not the project venv, which `uv sync` keeps exact).
$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check 'uv>=0.5,<1'

$(STAMP): pyproject.toml uv.lock | $(UV)
	UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --frozen --python $(PYTHON)
	touch $(STAMP)

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $(NODE_STAMP)

# The demo needs only the Python environment (the Node tools are for the tests).
demo: $(STAMP)
	$(VENV)/bin/safetynet demo

test: setup
	$(VENV)/bin/pytest -n 2 --dist loadfile

test-fast: setup
	$(VENV)/bin/pytest -n 2 --dist loadfile -m 'not slow'

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# Every benchmark script prints its own table (machine, baseline and numbers in one run).
bench: setup
	set -e; for script in bench/*.py; do echo "== $$script"; $(VENV)/bin/python $$script; done

clean:
	rm -rf $(VENV) .tools .pytest_cache .mypy_cache .ruff_cache
