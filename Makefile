# bocb_mm: `make demo` runs the main job, `make test` the test suite; both set up first.
# PYTHON=/path/to/python installs into (and runs with) your own environment instead of the
# default one in ~/.cache/bocb_mm/venv (see tools/setup/setup_env.sh).
BOCB_VENV ?= $(HOME)/.cache/bocb_mm/venv
PY := $(if $(PYTHON),$(PYTHON),$(BOCB_VENV)/bin/python)
PYTEST_ARGS ?=
DEMO_ARGS ?=
export PYTHON BOCB_VENV

.PHONY: setup lint test test-all demo

setup:
	bash tools/setup/setup_env.sh

lint: setup
	$(PY) -m ruff check bocb_mm tools tests

test: lint
	$(PY) -m pytest $(PYTEST_ARGS)

test-all: lint
	$(PY) -m pytest --runslow $(PYTEST_ARGS)

demo: setup
	$(PY) tools/bocb_demo.py $(DEMO_ARGS)
