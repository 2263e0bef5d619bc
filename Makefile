# The README's commands. Every target that needs the environment depends on it, so a fresh
# machine with only python3 and make can run `make demo` or `make test` directly.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
UV := .tools/bin/uv
STAMP := $(VENV)/.synced
# Node tools for the tests (asl-validator), pinned by package-lock.json.
NODE_STAMP := node_modules/.installed
# The Lambda dependency layer (components/common/lambda_package.py): LAYER_PYTHON and LAYER_PLATFORM are
# its RUNTIME (python3.12, on Amazon Linux 2023: glibc 2.34) and ARCHITECTURE (x86_64). The stamp
# lives outside the layer directory: everything inside it is deployed.
LAYER_DIR := build/lambda-layer
LAYER_STAMP := build/.lambda-layer.stamp
LAYER_PYTHON := 3.12
LAYER_PLATFORM := x86_64-manylinux_2_34

.PHONY: setup layer demo test test-fast lint format pr bench clean

setup: $(STAMP) $(NODE_STAMP) $(LAYER_STAMP)

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

layer: $(LAYER_STAMP)

# uv.lock's `lambda` group, from its hashed wheels for the Lambda runtime (never this machine's
# Python), without dependencies beyond the lock's. numpy is left out: jsonconversion (amazon-ion's
# JSON-encoder helper, unused when reading Ion) imports it only if it is installed, and it is 60 MB.
# Built beside the old layer and moved in place, so a failed build never leaves half a layer.
$(LAYER_STAMP): uv.lock | $(UV)
	rm -rf $(LAYER_DIR).tmp
	mkdir -p build
	$(UV) export --quiet --frozen --only-group lambda --no-emit-project --no-emit-package numpy \
		-o build/lambda-requirements.txt
	$(UV) pip install --quiet --python $(PYTHON) --target $(LAYER_DIR).tmp/python \
		--python-version $(LAYER_PYTHON) --python-platform $(LAYER_PLATFORM) \
		--only-binary :all: --no-deps --require-hashes -r build/lambda-requirements.txt
	rm -rf $(LAYER_DIR)
	mv $(LAYER_DIR).tmp $(LAYER_DIR)
	touch $@

# The demo needs only the Python environment and the layer (its synth declares the functions), not
# the Node tools of the tests.
demo: $(STAMP) $(LAYER_STAMP)
	$(VENV)/bin/safetynet demo

test: setup
	$(VENV)/bin/pytest -n 2 --dist loadfile

test-fast: setup
	$(VENV)/bin/pytest -n 2 --dist loadfile -m 'not slow'

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# Fixes what ruff can fix and formats the tree (the pre-commit hooks do the same per commit).
format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# What a contributor runs before pushing: the pull-request workflow's offline checks (format,
# lint, types, the policy rules over every stack) with the fast tests; `make test` has the rest.
pr: setup
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/pytest -n 2 --dist loadfile -m 'not slow'
	set -e; for f in Pulumi.*.yaml; do s=$${f#Pulumi.}; $(VENV)/bin/safetynet synth "$${s%.yaml}" --check; done

# Every benchmark script prints its own table (machine, baseline and numbers in one run).
bench: setup
	set -e; for script in bench/*.py; do echo "== $$script"; $(VENV)/bin/python $$script; done

clean:
	rm -rf $(VENV) .tools .pytest_cache .mypy_cache .ruff_cache build
