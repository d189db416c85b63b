"""The polish's neighbourhood step (``solver.optimal._neighbourhood_start``): a better start found
near the old one, only where the LP relaxation disagrees with it; the rest stays as it was."""

from __future__ import annotations

import time

import highspy
import numpy as np
import pytest

from solver.optimal import _neighbourhood_start, solve_optimal
from solver.solution import SolverSettings, require_valid
from tests.solver_tight import tight_problem


def _assignment_model(costs: np.ndarray):  # noqa: ANN202
    """Children x units, each child in exactly one unit, each unit holds at most one: x[c, u]
    binary, column ``c * units + u``; the matrix row-wise as :func:`solver.optimal._highs_mip`
    builds it."""
    n_c, n_u = costs.shape
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n_c * n_u, n_c + n_u
    lp.col_cost_ = costs.ravel().astype(np.float64)
    lp.col_lower_ = np.zeros(n_c * n_u)
    lp.col_upper_ = np.ones(n_c * n_u)
    lp.integrality_ = [highspy.HighsVarType.kInteger] * (n_c * n_u)
    lp.row_lower_ = np.r_[np.ones(n_c), np.zeros(n_u)]
    lp.row_upper_ = np.ones(n_c + n_u)
    rows = [[c * n_u + u for u in range(n_u)] for c in range(n_c)] + [[c * n_u + u for c in range(n_c)] for u in range(n_u)]
    matrix = lp.a_matrix_
    matrix.format_ = highspy.MatrixFormat.kRowwise
    matrix.num_row_, matrix.num_col_ = lp.num_row_, lp.num_col_
    matrix.start_ = np.r_[0, np.cumsum([len(r) for r in rows])].astype(np.int32)
    matrix.index_ = np.concatenate(rows).astype(np.int32)
    matrix.value_ = np.ones(len(matrix.index_))
    return lp, matrix


def _start(assignment: list[int], n_u: int) -> np.ndarray:
    values = np.zeros(len(assignment) * n_u)
    for c, u in enumerate(assignment):
        values[c * n_u + u] = 1.0
    return values


# two blocks that share nothing: children 0-1 with units 0-1, children 2-3 with units 2-3
COSTS = np.array([[1.0, 9.0, 99, 99],
                  [9.0, 1.0, 99, 99],
                  [99, 99, 1.0, 5.0],
                  [99, 99, 5.0, 1.0]])


def test_it_frees_only_the_rows_where_the_relaxation_disagrees_and_mends_the_start_there():
    lp, matrix = _assignment_model(COSTS)
    start = _start([1, 0, 2, 3], 4)  # block 1 swapped (cost 18 instead of 2), block 2 already best
    found, stats = _neighbourhood_start(highspy, lp, start, matrix, time.perf_counter() + 10, SolverSettings())
    assert found.tolist() == _start([0, 1, 2, 3], 4).tolist()
    assert stats["neighbourhood_objective"] == pytest.approx(4.0)
    # free: every variable of the rows of children 0-1 and units 0-1 (12 of 16); fixed: the four
    # arcs of children 2-3 into units 2-3, at the start's values
    assert stats["neighbourhood_free"] == 12
    block_2 = [2 * 4 + 2, 2 * 4 + 3, 3 * 4 + 2, 3 * 4 + 3]
    assert found[block_2].tolist() == start[block_2].tolist()


def test_where_the_relaxation_disagrees_everywhere_everything_is_free_and_mended():
    lp, matrix = _assignment_model(COSTS)
    found, stats = _neighbourhood_start(highspy, lp, _start([1, 0, 3, 2], 4), matrix, time.perf_counter() + 10,
                                        SolverSettings())
    assert stats["neighbourhood_free"] == 16
    assert found.tolist() == _start([0, 1, 2, 3], 4).tolist()


def test_a_start_the_relaxation_agrees_with_frees_nothing_and_stands():
    lp, matrix = _assignment_model(COSTS)
    best = _start([0, 1, 2, 3], 4)
    found, stats = _neighbourhood_start(highspy, lp, best, matrix, time.perf_counter() + 10, SolverSettings())
    assert stats["neighbourhood_free"] == 0
    assert found is best


def test_with_too_little_time_the_start_stands_and_the_step_says_so():
    lp, matrix = _assignment_model(COSTS)
    start = _start([1, 0, 2, 3], 4)
    found, stats = _neighbourhood_start(highspy, lp, start, matrix, time.perf_counter() + 0.2, SolverSettings())
    assert found is start
    assert "too little time" in stats["neighbourhood_skipped"]


@pytest.mark.parametrize("seed", [0, 3])
def test_the_polish_runs_it_first_and_keeps_every_hard_rule(seed):
    problem = tight_problem(seed, n_children=40, n_structures=22)
    base = dict(time_limit_s=10.0, max_lp_children=0)
    on = solve_optimal(problem, SolverSettings(**base), with_explanations=False)
    off = solve_optimal(problem, SolverSettings(**base, polish_neighbourhood=False), with_explanations=False)
    assert "polish_neighbourhood_seconds" in on.stats
    assert not any(k.startswith("polish_neighbourhood") for k in off.stats)
    require_valid(problem, on.unit_of_child, "polish with its neighbourhood step")
    found = on.stats.get("polish_neighbourhood_objective")
    if found is not None:  # the step found an assignment: the polish started from it, never above it
        assert on.stats["objectives"]["polish"] <= found + 1e-6
    # both end at the polish's optimum on its support (small instance: the MIP proves it)
    assert on.objective == pytest.approx(off.objective, rel=1e-9)


def test_the_second_polish_is_skipped_when_less_time_is_left_than_its_arcs_take_to_build(monkeypatch):
    """A second polish started with less time left than its model takes to build would only
    overrun the budget (scale 2, scope all: 1.9 s to build with 1 s left); its new arcs are
    estimated at the rate the first polish's build ran."""
    import solver.optimal as optimal

    problem = tight_problem(0)
    settings = SolverSettings(time_limit_s=10.0, max_lp_children=0)
    control = solve_optimal(problem, settings, with_explanations=False)
    assert "polish_fratries_mip_status" in control.stats and "polish_fratries_skipped" not in control.stats
    real = optimal._exact_mip

    def slow_build(problem_, arcs, hint, settings_, time_limit, backend=None, **more):
        assigned, bound, stats = real(problem_, arcs, hint, settings_, time_limit, backend, **more)
        if not more.get("mip", True):  # the first polish: say its model took far longer than the budget
            stats["mip_build_seconds"] = 1e9
        return assigned, bound, stats

    monkeypatch.setattr(optimal, "_exact_mip", slow_build)
    skipped = solve_optimal(problem, settings, with_explanations=False)
    assert "polish_fratries_mip_status" not in skipped.stats
    assert "less than its model's build" in skipped.stats["polish_fratries_skipped"]
    require_valid(problem, skipped.unit_of_child, "second polish skipped")


def test_the_second_polish_adds_the_fratries_arcs_to_the_first_polishs_model(monkeypatch):
    """The second polish's arcs are a superset of the first's: its model is the first's with the
    new arcs added (building it anew took 1.0-1.7 s at Paris scale, scope all, of its time)."""
    import solver.optimal as optimal

    built = []

    class Counted(optimal._Model):
        def __init__(self, *args, **kwargs):
            built.append(1)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(optimal, "_Model", Counted)
    problem = tight_problem(0)
    solution = solve_optimal(problem, SolverSettings(time_limit_s=10.0, max_lp_children=0), with_explanations=False)
    stats = solution.stats
    assert "polish_mip_status" in stats and "polish_fratries_mip_status" in stats
    assert stats["polish_fratries_mip_arcs"] > stats["polish_mip_arcs"]
    assert len(built) == 1  # one model for both polishes
    require_valid(problem, solution.unit_of_child, "second polish on the first's model")


def test_the_second_polishs_relaxation_starts_from_the_firsts_basis(monkeypatch):
    """The second polish's model extends the first's, so its LP relaxation starts from the first's
    basis (new columns at 0, new rows' slacks basic): the same optimum, sooner (Paris, scope all:
    1.2 s instead of 2.2-2.8 s for the whole step)."""
    problem = tight_problem(0)
    settings = SolverSettings(time_limit_s=10.0, max_lp_children=0)
    warm = solve_optimal(problem, settings, with_explanations=False).stats
    assert warm.get("polish_neighbourhood_warm") is None  # the first has no basis to start from
    assert warm["polish_fratries_neighbourhood_warm"] is True
    monkeypatch.setattr(highspy.Highs, "setBasis", lambda self, basis: highspy.HighsStatus.kError)
    cold = solve_optimal(problem, settings, with_explanations=False).stats
    assert cold["polish_fratries_neighbourhood_warm"] is False
    assert warm["polish_fratries_neighbourhood_relaxation_objective"] == pytest.approx(
        cold["polish_fratries_neighbourhood_relaxation_objective"], abs=1e-6)
