# The two entry points of the README: `make repro` runs the pipeline on full MNIST, and
# `make test` runs the test suite. Both first build .venv from the lock, exactly.
PYTHON ?= python3
VENV := .venv
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

# apt-get needs root: sudo where we are not root, and never a password prompt.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo -n)

.PHONY: install browser servers cluster repro test lint

install: $(VENV)/.installed

$(VENV)/.installed: requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --require-hashes --no-deps -r requirements.lock
	$(VENV)/bin/pip install --quiet --no-deps --no-build-isolation --editable .
	touch $@

repro: install
	dvc repro

# The MLflow UI test drives Debian's chromium. Where it cannot be installed (no apt-get,
# no root), that one test is skipped and says why.
browser:
	@command -v chromium >/dev/null || \
	  { $(SUDO) apt-get update -qq && \
	    $(SUDO) apt-get install -y -qq --no-install-recommends chromium >/dev/null; } || \
	  echo "chromium could not be installed; the MLflow UI test will be skipped"

# The team tests run a real PostgreSQL server, from Debian's package; where it cannot be
# installed, they are skipped and say why. (The S3 API, moto, comes from the lock.)
servers:
	@ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || \
	  { $(SUDO) apt-get update -qq && \
	    $(SUDO) apt-get install -y -qq --no-install-recommends postgresql >/dev/null; } || \
	  echo "postgresql could not be installed; the team tests will be skipped"

# The Slurm sweep test runs a one-node cluster of its own, from Debian's slurm-wlm and
# munge; where they cannot be installed, that test is skipped and says why.
cluster:
	@command -v slurmctld >/dev/null || [ -x /usr/sbin/slurmctld ] || \
	  { $(SUDO) apt-get update -qq && \
	    $(SUDO) apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null; } || \
	  echo "slurm-wlm could not be installed; the Slurm sweep test will be skipped"

test: install browser servers cluster
	pytest

lint: install
	ruff format --check .
	ruff check .
