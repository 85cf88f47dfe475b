# The two entry points of the README: `make repro` runs the pipeline on full MNIST, and
# `make test` runs the test suite. Both first build .venv from the lock, exactly.
PYTHON ?= python3
VENV := .venv
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: install repro test lint

install: $(VENV)/.installed

$(VENV)/.installed: requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --require-hashes --no-deps -r requirements.lock
	$(VENV)/bin/pip install --quiet --no-deps --no-build-isolation --editable .
	touch $@

repro: install
	dvc repro

test: install
	pytest

lint: install
	ruff format --check .
	ruff check .
