# The few commands a person types. `make test` and `make serve` work on a fresh machine:
# they create .venv, install the project with its extras (and the CPU build of torch),
# Debian's chromium for the browser tests, and the pinned npm assets.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
# CPU build of torch, taken from the local wheel cache; a bare `torch` pulls a CUDA build.
TORCH_PIN := torch==2.13.0
INSTALLED := $(VENV)/.installed
# Every package of the test environment at a known version, so that a new release of a
# dependency cannot turn the suite red overnight. `make upgrade` moves the pins on purpose;
# the package's own requirements (pyproject.toml) stay loose for users.
CONSTRAINTS := constraints.txt

.PHONY: all setup npm chromium lint test fuzz upgrade bench gpu-check gpu-kit serve build clean

all: test

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

# TORCH=0 skips torch (the site build does not need it; the Pages workflow uses it), and so
# the bridge extra too: TRL needs torch, and a plain torch install is a multi-GB CUDA build.
TORCH ?= 1

$(INSTALLED): pyproject.toml $(CONSTRAINTS) | $(PY)
ifeq ($(TORCH),1)
	$(PY) -m pip install -q -c $(CONSTRAINTS) $(TORCH_PIN)
	$(PY) -m pip install -q -c $(CONSTRAINTS) -e '.[dev,torch]'
else
	$(PY) -m pip install -q -c $(CONSTRAINTS) -e '.[test,docs,plot,progress]'
endif
	touch $@

# Re-resolve the test environment from pyproject.toml alone (newest releases the extras
# allow) in a scratch venv, and write the result to constraints.txt. Review the diff, run
# `make test`, commit.
upgrade: | $(PY)
	rm -rf build/upgrade-venv
	$(PYTHON) -m venv build/upgrade-venv
	build/upgrade-venv/bin/python -m pip install -q --upgrade pip
	build/upgrade-venv/bin/python -m pip install -q $(TORCH_PIN)
	build/upgrade-venv/bin/python -m pip install -q -e '.[dev,torch]'
	{ echo "# The test environment, pinned (make upgrade writes this file; make test installs with it)."; \
	  build/upgrade-venv/bin/python -m pip freeze --exclude-editable | grep -v '^pip=='; } > $(CONSTRAINTS)
	rm -rf build/upgrade-venv
	rm -f $(INSTALLED)

setup: $(INSTALLED)

# Pinned front-end assets (PyScript, Pyodide, KaTeX, Chart.js, axe-core), copied into the
# site by docs/hooks/runtime.py; and Debian's chromium for the browser tests.
NPM_STAMP := node_modules/.package-lock.json
CHROMIUM := /usr/bin/chromium
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

npm: $(NPM_STAMP)

chromium:
	@test -x $(CHROMIUM) || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium; }

# The course site, with its self-hosted Python runtime, in site/.
build: setup npm
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

serve: build
	@echo "Serving site/ on http://127.0.0.1:8000 (Ctrl-C to stop)"
	$(PY) -m http.server 8000 --bind 127.0.0.1 --directory site

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: setup lint npm chromium
	$(PY) -m pytest -q

# The property-based tests with fresh randomness and FUZZ_SCALE (default 20) times as many
# examples each (tests/hypothesis_profiles.py); failures are saved in .hypothesis/ and
# replayed first next time. `make test` runs the same tests derandomized.
fuzz: setup
	HYPOTHESIS_PROFILE=fuzz $(PY) -m pytest -q -m hypothesis tests

# Benchmarks (not tests): each prints ratios against a peer measured in the same run.
# bt_fit's 10,000-item rows run choix for ~30 minutes; browser.py builds the site itself.
bench: setup npm chromium
	$(PY) bench/training.py
	$(PY) bench/torch_vs_numpy.py
	$(PY) bench/browser.py
	$(PY) bench/bt_fit.py

# On a machine with a CUDA device (< 5 min): pytest -m gpu, then numpy-CPU vs torch-CPU vs
# torch-CUDA throughput at n = 1e4 .. 1e7. Runs without CUDA too (skips, CUDA column omitted).
gpu-check: setup
	$(PY) bench/gpu_check.py

# For the GPU machine a task may be lent (no network there): the pure wheels its python3
# lacks, into build/gpukit/. There: `bash bench/gpu_device.sh`, with build/gpukit carried.
GPU_KIT_WHEELS := array-api-compat==1.16.0 sybil==10.1.0
gpu-kit: setup
	$(PY) -m pip download -q --no-deps --only-binary=:all: -d build/gpukit $(GPU_KIT_WHEELS)

clean:
	rm -rf site build dist .pytest_cache .hypothesis
