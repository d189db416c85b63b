# The two commands of the README. Both set up a virtual environment on first use.
#   make demo   install, then run the main job (`placement demo`) on the embedded default
#   make test   install, then run the test suite (what .ci/run calls)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install demo test bench

# The install says what it does (about a minute the first time): each step, then pip's own
# lines (one per package collected, then the install).
$(BIN)/placement: pyproject.toml
	@echo "==> [1/3] Creating the virtual environment in $(VENV)"
	$(PYTHON) -m venv $(VENV)
	@echo "==> [2/3] Upgrading pip"
	$(BIN)/python -m pip install --quiet --upgrade pip
	@echo "==> [3/3] Installing the engine and its dependencies (numpy, OR-Tools, pandas, FastAPI...): about a minute"
	$(BIN)/python -m pip install --progress-bar on -e '.[dev]'
	@echo "==> Installed: $(BIN)/placement"
	touch $@

install: $(BIN)/placement

demo: install
	@echo "==> Running placement demo (builds Paris, stores it in var/demo.sqlite3, assigns the waiting children)"
	$(BIN)/placement demo

test: install
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python -m benchmarks.run_all
