"""The min-cost flow relaxation: a proven lower bound, and a repaired assignment that keeps every hard rule."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from solver.flow import capacity_prices, flow_relaxation, place_fratries, repair
from solver.lp import RowPrices, price_all
from solver.greedy import greedy_assignment
from solver.solution import objective_of, violations
from tests.test_solver_methods import _problem, brute_force


def _unit_of_child(problem, assigned):
    return {c.id: (problem.units[assigned[i]].id if assigned[i] >= 0 else None) for i, c in enumerate(problem.children)}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 100_000), scope=st.sampled_from(["waiting", "all"]), n=st.integers(4, 24))
def test_repaired_flow_keeps_every_hard_rule_and_the_bound_is_below_it(seed, scope, n):
    problem = _problem(seed, n, 6, scope)
    bound, relaxed = flow_relaxation(problem)
    assigned = repair(problem, flow_relaxation(problem, place_fratries(problem, relaxed))[1])
    assert violations(problem, _unit_of_child(problem, assigned)) == []
    assert bound <= objective_of(problem, assigned) + 1e-6
    assert bound <= objective_of(problem, greedy_assignment(problem)[0]) + 1e-6
    # the relaxation itself respects capacity and eligibility
    load = np.bincount(relaxed[relaxed >= 0], minlength=problem.n_units)
    assert (load <= problem.capacity).all()
    for i in np.flatnonzero(relaxed >= 0):
        assert relaxed[i] in set(problem.eligible_units(int(i)).tolist())


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 100_000), scope=st.sampled_from(["waiting", "all"]))
def test_flow_bound_is_a_bound_on_tiny_instances(seed, scope):
    problem = _problem(seed, 5, 3, scope)
    exact = brute_force(problem)
    bound, _ = flow_relaxation(problem)
    assert bound <= exact + 1e-6
    # without group rules the flow is exact (to the 1/100 rounding of costs)
    if not problem.blocks and not problem.separations and not problem.forbidden_structures:
        assert bound == pytest.approx(exact, abs=0.01 * (problem.n_children + 1))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 100_000), scope=st.sampled_from(["waiting", "all"]))
def test_flow_prices_give_a_lagrangian_bound_between_the_flow_bound_and_the_optimum(seed, scope):
    problem = _problem(seed, 5, 3, scope)
    exact = brute_force(problem)
    bound, relaxed = flow_relaxation(problem)
    prices = capacity_prices(problem, relaxed)
    assert (prices >= 0).all()
    # a unit the flow leaves with a free place has no price (complementary slackness)
    load = np.bincount(relaxed[relaxed >= 0], minlength=problem.n_units)
    assert (prices[load < problem.capacity] == 0).all()
    lagrangian = price_all(problem, RowPrices(prices), None, 0)[0]
    assert lagrangian <= exact + 1e-6
    # the flow's duals: at least the flow bound, up to the flow's rounding of costs to 1/100
    assert lagrangian >= bound - 0.01 * problem.n_children - 1e-6
    priced = repair(problem, flow_relaxation(problem, place_fratries(problem, relaxed, prices))[1])
    assert violations(problem, _unit_of_child(problem, priced)) == []
    assert objective_of(problem, priced) >= exact - 1e-6
