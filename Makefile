# The two commands of the README. Both set up a virtual environment on first use.
#   make demo   install, then run the main job (`placement demo`) on the embedded default
#   make test   install, then run the test suite (what .ci/run calls)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install demo test bench

$(BIN)/placement: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/placement

demo: install
	$(BIN)/placement demo

test: install
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python -m benchmarks.run_all
