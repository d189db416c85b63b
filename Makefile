# The two commands of the README. Both set up a virtual environment on first use.
#   make demo   install, then run the main job (`placement demo`) on the embedded default
#   make test   install, then run the test suite (what .ci/run calls)
#   make mutate mutation testing of the hard-rule code (mutmut, [tool.mutmut] in pyproject.toml;
#               not in CI: tens of minutes). MUTANTS=... picks mutants by name pattern.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install demo test bench mutate

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

# The hard-rule code: the rules, the fratrie fitting, the eligibility of the batch problem, the
# hard-rule guard and the holds. Survivors and why: tests/mutation_survivors.md.
MUTANTS ?= 'matcher.rules.*' \
	'solver.siblings.x_fit_in_structure*' 'solver.siblings.x_structures_for_group*' \
	'solver.problem.x_need_mask*' 'solver.problem.xǁProblemǁjudge_mask*' 'solver.problem.xǁProblemǁarcs_of*' \
	'solver.problem.xǁProblemǁeligible_units*' 'solver.problem.xǁProblemǁbuild*' \
	'solver.solution.x_violations*' 'solver.solution.x_pair_minutes*' 'solver.solution.x_require_valid*' \
	'data.db.repository.x_hold*' 'data.db.repository.x_expire_holds*' 'data.db.repository.x_live_holds*' \
	'data.db.repository.x_confirm*' 'data.db.repository.x_cancel*' 'data.db.repository.x_refresh_expiry*'
MUTATE_CHILDREN ?= 2

mutate: install
	$(BIN)/mutmut run --max-children $(MUTATE_CHILDREN) $(MUTANTS)
	$(BIN)/mutmut results
