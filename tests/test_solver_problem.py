"""The vectorised rules and costs of solver.problem agree exactly with matcher's rule functions."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from matcher import Option, Weights, exclusions, score_option
from matcher.errors import DomainError
from solver.problem import Problem
from tests.solver_instances import random_system, synthetic_travel


def _option(problem: Problem, i: int, j: int) -> Option:
    child = problem.children[i]
    unit = problem.units[j]
    s = problem.system.structure_by_id[unit.structure_id]
    return Option.of(child, s, unit, problem.travel)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), scope=st.sampled_from(["waiting", "all"]))
def test_vectorised_eligibility_agrees_with_exclusions(seed, scope):
    system = random_system(seed, n_children=14, n_structures=6, judge_share=0.5)
    problem = Problem.build(system, synthetic_travel(system, unreachable_every=7), Weights.default(), scope)
    for i, child in enumerate(problem.children):
        eligible = set(problem.eligible_units(i).tolist())
        for j in range(problem.n_units):
            expected = not exclusions(child, _option(problem, i, j), system.reference_date)
            assert (j in eligible) == expected, (child.id, problem.units[j].id, exclusions(child, _option(problem, i, j), system.reference_date))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), scope=st.sampled_from(["waiting", "all"]))
def test_vectorised_cost_equals_score_option(seed, scope):
    system = random_system(seed, n_children=10, n_structures=5)
    weights = Weights.default()
    problem = Problem.build(system, synthetic_travel(system, unreachable_every=5), weights, scope)
    for i, child in enumerate(problem.children):
        arcs = problem.arcs_of(i)
        for j in range(problem.n_units):
            expected = score_option(child, _option(problem, i, j), weights, problem.system.reference_date).total
            assert problem.cost_of(i, j) == pytest.approx(expected, abs=1e-9)
        for j, c in zip(arcs.unit, arcs.cost):
            assert c == pytest.approx(score_option(child, _option(problem, i, int(j)), weights, problem.system.reference_date).total, abs=1e-9)


def test_candidate_arcs_are_the_cheapest_eligible_ones():
    system = random_system(3, n_children=20, n_structures=8)
    problem = Problem.build(system, synthetic_travel(system), Weights.default(), "all")
    arcs = problem.candidate_arcs(2)
    for i in range(problem.n_children):
        full = problem.arcs_of(i)
        mine = arcs.cost[arcs.child == i]
        assert set(arcs.unit[arcs.child == i]) <= set(full.unit)
        if full.cost.size:
            assert mine.min() == pytest.approx(full.cost.min())


def test_scope_capacity_waiting_is_free_places_all_adds_back_children_in_scope():
    system = random_system(11, n_children=20, n_structures=6, placed_share=0.6)
    waiting = Problem.build(system, synthetic_travel(system), Weights.default(), "waiting")
    full = Problem.build(system, synthetic_travel(system), Weights.default(), "all")
    here = {u.id: 0 for u in system.units}
    for c in system.children:
        if c.current:
            here[c.current.unit_id] += 1
    assert waiting.capacity.tolist() == [u.free for u in system.units]
    assert full.capacity.tolist() == [u.free + here[u.id] for u in system.units]
    assert waiting.n_children == len(system.waiting_children()) and full.n_children == len(system.children)


def test_unknown_scope_is_refused():
    system = random_system(1)
    with pytest.raises(DomainError, match="unknown scope"):
        Problem.build(system, synthetic_travel(system), Weights.default(), "some")
