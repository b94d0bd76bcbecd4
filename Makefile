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

.PHONY: all setup npm runtime chromium lint test fuzz upgrade bench gpu-check gpu-kit serve build clean

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

# Pinned front-end assets (PyScript, Pyodide, KaTeX, Chart.js, mermaid, axe-core), from which
# `make runtime` assembles what the site serves; and Debian's chromium, for the browser tests
# and for drawing the site's diagrams at build time (docs/hooks/diagrams.py).
NPM_STAMP := node_modules/.package-lock.json
CHROMIUM := /usr/bin/chromium
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

npm: $(NPM_STAMP)

chromium:
	@test -x $(CHROMIUM) || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium; }

# The site's self-hosted Python runtime (PyScript, Pyodide, numpy, the rlhf_mini and
# rlhf_widgets wheels compiled to bytecode, KaTeX's stylesheet, Chart.js) in build/runtime/,
# with manifest.json (versions, sha256 and sizes of every file); see tools/runtime/. It runs
# every time: the tool compares content hashes of what the runtime is built from (library,
# widgets, pins) and returns at once when nothing changed, which timestamps cannot tell.
runtime: setup npm
	$(PY) -m tools.runtime

# The course site, with its self-hosted Python runtime, in site/.
build: setup npm runtime chromium
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

serve: build
	@echo "Serving site/ on http://127.0.0.1:8000 (Ctrl-C to stop)"
	$(PY) -m http.server 8000 --bind 127.0.0.1 --directory site

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: setup lint npm runtime chromium
	$(PY) -m pytest -q

# The property-based tests with fresh randomness and FUZZ_SCALE (default 20) times as many
# examples each (tests/hypothesis_profiles.py); failures are saved in .hypothesis/ and
# replayed first next time. `make test` runs the same tests derandomized.
fuzz: setup
	HYPOTHESIS_PROFILE=fuzz $(PY) -m pytest -q -m hypothesis tests

# Benchmarks (not tests): each prints ratios against a peer measured in the same run.
# bt_fit's 10,000-item rows run choix for ~30 minutes; browser.py builds the site itself.
bench: setup npm runtime chromium
	$(PY) bench/training.py
	$(PY) bench/torch_vs_numpy.py
	$(PY) bench/browser.py
	$(PY) bench/bt_fit.py

# On a machine with a CUDA device (< 5 min): pytest -m gpu, then numpy-CPU vs torch-CPU vs
# torch-CUDA throughput at n = 1e4 .. 1e7. Runs without CUDA too (skips, CUDA column omitted).
# A CUDA machine without network access: see gpu-kit below and bench/gpu_device.sh.
gpu-check: setup
	$(PY) bench/gpu_check.py

# For a CUDA machine without network access whose python3 has torch, numpy, pytest and
# hypothesis: the two pure wheels it lacks, at the versions constraints.txt pins, into
# build/gpukit/. Copy the checkout with build/gpukit/ there and run `bash bench/gpu_device.sh`.
GPU_KIT_WHEELS := array-api-compat sybil
gpu-kit: setup
	$(PY) -m pip download -q --no-deps --only-binary=:all: -c $(CONSTRAINTS) -d build/gpukit $(GPU_KIT_WHEELS)

clean:
	rm -rf site build dist .pytest_cache .hypothesis
