"""The optimal method's proven bound: never above the true optimum, and tight once the LP converged."""

import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

from matcher import Weights
from solver.lp import arcs_within, solve_relaxation
from solver.optimal import solve_optimal
from solver.problem import Problem
from solver.solution import SolverSettings
from tests.test_solver_methods import _problem, brute_force

TEST_SETTINGS = SolverSettings(time_limit_s=5.0, workers=1, seed=7)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 100_000), scope=st.sampled_from(["waiting", "all"]))
def test_reported_bound_never_exceeds_the_brute_force_optimum(seed, scope):
    problem = _problem(seed, 5, 3, scope)
    exact = brute_force(problem)
    best = solve_optimal(problem, TEST_SETTINGS)
    assert best.bound <= exact + 1e-6
    assert best.objective == pytest.approx(exact, abs=1e-6)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 100_000), scope=st.sampled_from(["waiting", "all"]), n=st.integers(3, 6))
def test_large_batch_path_flow_only_is_feasible_bounded_and_never_worse_than_greedy(seed, scope, n):
    """Above max_lp_children (here 0: every batch) the LP and MIP are skipped, as at Paris scale."""
    from solver.greedy import solve_greedy
    from solver.solution import objective, violations

    problem = _problem(seed, n, 3, scope)
    flow_only = SolverSettings(time_limit_s=5.0, workers=1, seed=7, max_lp_children=0, lp_bound_after_polish=False)
    best = solve_optimal(problem, flow_only, with_explanations=False)
    if problem.n_children:
        assert "lp_skipped" in best.stats and best.bound_source == "flow"
    assert violations(problem, best.unit_of_child) == []
    assert best.objective == pytest.approx(objective(problem, best.unit_of_child), abs=1e-6)
    exact = brute_force(problem)
    assert best.bound <= exact + 1e-6 <= best.objective + 2e-6
    assert best.objective <= solve_greedy(problem, with_bound=False, with_explanations=False).objective + 1e-6


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 100_000), scope=st.sampled_from(["waiting", "all"]))
def test_arcs_left_out_by_the_threshold_cost_more_than_the_bound_allows(seed, scope):
    """An infinite threshold keeps every open eligible arc, a zero one a subset; and every arc a
    feasible assignment uses lies within (its cost - the bound): arcs left out cost more than that."""
    problem = _problem(seed, 8, 4, scope)
    relaxation = solve_relaxation(problem, TEST_SETTINGS)

    def pairs(arcs):
        return set(zip(arcs.child.tolist(), arcs.unit.tolist()))

    every = set().union(*(pairs(problem.arcs_of(i)) for i in range(problem.n_children)))
    assume(every)  # some instances have no child waiting: nothing to say there
    assert pairs(arcs_within(problem, relaxation.rows, float("inf"))) == every
    assert pairs(arcs_within(problem, relaxation.rows, 0.0)) <= every
    best = solve_optimal(problem, TEST_SETTINGS, with_explanations=False)
    used = {(problem.child_index[c], problem.unit_index[u]) for c, u in best.unit_of_child.items() if u is not None}
    assert used, "the optimal assignment places someone"
    within = pairs(arcs_within(problem, relaxation.rows, best.objective - relaxation.bound + 1e-6))
    assert used <= within


def test_moderate_instance_bound_positive_and_gap_small():
    """Generated Paris at 0.2x, waiting children: the LP is fractional, so the bound comes from the MIP."""
    from data.generator import generate
    from data.transit import travel_matrix

    system = generate(scale=0.2, seed=1)
    problem = Problem.build(system, travel_matrix(system.origins, system.structures), Weights.default(), "waiting")
    best = solve_optimal(problem, SolverSettings(time_limit_s=20.0, workers=1, seed=7))
    assert best.stats["lp_converged"] or best.stats["lp_bound_meets_value"]
    assert best.bound_source in ("mip", "lagrangian") and best.stats["bound_source"] == best.bound_source
    assert best.bound >= best.stats["lagrangian_bound"] > 0
    assert best.warnings == ()
    assert best.gap <= 0.005


def _full_optimum(problem: Problem) -> float:
    """SCIP on every eligible arc, solved to a zero gap (small instances only)."""
    from ortools.linear_solver import pywraplp

    from solver.lp import _Model

    relaxation = solve_relaxation(problem, TEST_SETTINGS)
    model = _Model(problem, SolverSettings(time_limit_s=60.0), backend="SCIP")
    model.add(arcs_within(problem, relaxation.rows, float("inf")))
    params = pywraplp.MPSolverParameters()
    params.SetDoubleParam(params.RELATIVE_MIP_GAP, 0.0)
    assert model.lp.Solve(params) == pywraplp.Solver.OPTIMAL
    return model.objective.Value()


@pytest.mark.parametrize("scale,seed,scope", [(0.1, 1, "waiting"), (0.1, 2, "all"), (0.15, 3, "waiting"), (0.2, 1, "waiting")])
def test_bound_never_exceeds_the_optimum_over_every_arc(scale, seed, scope):
    """Generated instances whose LP is fractional, so reduced-cost filtering leaves arcs out of the exact step."""
    from data.generator import generate
    from data.transit import travel_matrix

    system = generate(scale=scale, seed=seed)
    problem = Problem.build(system, travel_matrix(system.origins, system.structures), Weights.default(), scope)
    full = _full_optimum(problem)
    best = solve_optimal(problem, TEST_SETTINGS)
    assert best.bound <= full + 1e-6 * max(1.0, abs(full))
    assert best.objective >= full - 1e-6 * max(1.0, abs(full))
