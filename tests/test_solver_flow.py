"""The min-cost flow relaxation solved by pricing: a proven bound, the flow over every arc, and a
repaired assignment that keeps every hard rule."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st

from solver.flow import _min_cost_flow, flow_around, flow_relaxation, place_fratries, repair
from solver.greedy import greedy_assignment
from solver.problem import Arcs
from solver.solution import objective_of, unit_of_child, violations
from tests.test_solver_methods import _problem, brute_force


def _unit_of_child(problem, assigned):
    return unit_of_child(problem, assigned)


def _every_arc(problem) -> Arcs:
    parts = []
    for kids, units, minutes, cost, eligible in problem.iter_blocks():
        r, c = np.nonzero(eligible)
        parts.append((kids[r], units[c], cost[r, c], minutes[r, c]))
    return Arcs.joined(parts)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 100_000), scope=st.sampled_from(["waiting", "all"]), n=st.integers(4, 24))
def test_repaired_flow_keeps_every_hard_rule_and_the_bound_is_below_it(seed, scope, n):
    problem = _problem(seed, n, 6, scope)
    relaxed = flow_relaxation(problem)
    for prices in (None, relaxed.prices):
        assigned = repair(problem, flow_around(problem, relaxed, place_fratries(problem, relaxed.assigned, prices)))
        assert violations(problem, _unit_of_child(problem, assigned)) == []
        assert relaxed.bound <= objective_of(problem, assigned) + 1e-6
    assert relaxed.bound <= objective_of(problem, greedy_assignment(problem)[0]) + 1e-6
    # the relaxation itself respects capacity and eligibility
    load = np.bincount(relaxed.assigned[relaxed.assigned >= 0], minlength=problem.n_units)
    assert (load <= problem.capacity).all()
    for i in np.flatnonzero(relaxed.assigned >= 0):
        assert relaxed.assigned[i] in set(problem.eligible_units(int(i)).tolist())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 100_000), scope=st.sampled_from(["waiting", "all"]), n=st.integers(4, 30),
       per_child=st.integers(1, 3), kept=st.integers(1, 3))
def test_pricing_reaches_the_flow_over_every_arc(seed, scope, n, per_child, kept):
    # one to three arcs per child to start with, and as many kept between rounds: pricing must
    # add the ones that matter (and bring back the dropped ones that matter again)
    problem = _problem(seed, n, 6, scope)
    relaxed = flow_relaxation(problem, per_child=per_child, kept_per_child=kept, gap=0.0)
    everything = _every_arc(problem)
    full, _ = _min_cost_flow(problem, everything, problem.capacity, np.ones(problem.n_children, dtype=bool))
    assert relaxed.converged
    assert relaxed.value == pytest.approx(full, abs=1e-6)
    assert len(relaxed.arcs) <= len(everything)
    # the prices: >= 0, none on a unit the flow leaves with a free place (complementary
    # slackness), and the Lagrangian at them reaches the flow optimum up to the 1/100 rounding
    assert (relaxed.prices >= 0).all()
    load = np.bincount(relaxed.assigned[relaxed.assigned >= 0], minlength=problem.n_units)
    assert (relaxed.prices[load < problem.capacity] == 0).all()
    assert relaxed.bound >= full - 0.01 * problem.n_children - 1e-6


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 100_000), scope=st.sampled_from(["waiting", "all"]), n=st.integers(4, 30),
       gap=st.sampled_from([1e-4, 1e-2, 0.1]))
def test_pricing_stops_once_the_bound_is_within_the_gap(seed, scope, n, gap):
    # the rounds may stop before convergence once the bound is within ``gap`` of the flow's value:
    # then the bound is still below the flow over every arc, and within the gap of the value held
    problem = _problem(seed, n, 6, scope)
    relaxed = flow_relaxation(problem, per_child=1, kept_per_child=1, gap=gap)
    full, _ = _min_cost_flow(problem, _every_arc(problem), problem.capacity, np.ones(problem.n_children, dtype=bool))
    capacity_bound = relaxed.stats["flow_capacity_bound"]
    # (the flow's costs are rounded down to 1/100, the bound's are not: 0.01 a child apart at most)
    assert capacity_bound <= full + 0.01 * problem.n_children + 1e-6
    assert full <= relaxed.value + 1e-6
    assert relaxed.converged or capacity_bound >= relaxed.value - gap * abs(relaxed.value) - 1e-9


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 100_000), scope=st.sampled_from(["waiting", "all"]), per_child=st.integers(1, 16))
def test_flow_bound_is_a_bound_on_tiny_instances(seed, scope, per_child):
    problem = _problem(seed, 5, 3, scope)
    exact = brute_force(problem)
    relaxed = flow_relaxation(problem, per_child=per_child)
    assert relaxed.bound <= exact + 1e-6
    # without group rules the flow is exact (to the 1/100 rounding of costs)
    if not problem.blocks and not problem.separations and not problem.forbidden_structures:
        assert relaxed.bound == pytest.approx(exact, abs=0.01 * (problem.n_children + 1))
    priced = repair(problem, flow_around(problem, relaxed, place_fratries(problem, relaxed.assigned, relaxed.prices)))
    assert violations(problem, _unit_of_child(problem, priced)) == []
    assert objective_of(problem, priced) >= exact - 1e-6


@pytest.mark.parametrize("seed", [7, 11, 23])
def test_a_bound_is_valid_after_one_round_even_without_convergence(seed):
    problem = _problem(seed, 30, 6, "all")
    once = flow_relaxation(problem, per_child=1, max_rounds=1)
    assert once.rounds == 1 and not once.converged
    full = flow_relaxation(problem)
    feasible = repair(problem, flow_around(problem, full, place_fratries(problem, full.assigned, full.prices)))
    assert once.bound <= objective_of(problem, feasible) + 1e-6
    assert once.bound <= objective_of(problem, greedy_assignment(problem)[0]) + 1e-6
    # one arc per child is not enough here: the first flow is above the full one
    assert once.value >= full.value - 1e-6


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 100_000), scope=st.sampled_from(["waiting", "all"]), n=st.integers(6, 30),
       per_group=st.integers(1, 4))
@example(seed=0, scope="all", n=30, per_group=2)  # a fratrie the flow keeps together (rare among random ones)
@example(seed=17, scope="all", n=30, per_group=3)
def test_fratrie_support_holds_each_split_fratrie_s_best_structures_whole(seed, scope, n, per_group):
    """The polish's arcs for a fratrie that must stay together and that the flow splits: every
    arc of its members into the ``per_group`` structures of least priced cost that have room for
    all of them (computed here structure by structure), and nothing for a fratrie the flow keeps
    together (its structure is already in the flow's arcs)."""
    problem = _problem(seed, n, 6, scope)
    relaxed = flow_relaxation(problem, per_child=1, kept_per_child=1)
    found = relaxed.fratrie_support(problem, per_group)
    held = set(zip(found.child.tolist(), found.unit.tolist()))
    expected: set[tuple[int, int]] = set()
    for block in problem.blocks:
        members = list(block.members)
        structures = {int(problem.unit_structure[u]) for u in relaxed.assigned[members] if u >= 0}
        if not block.together or ((relaxed.assigned[members] >= 0).all() and len(structures) == 1):
            continue
        scored = []
        for s in range(len(problem.structure_ids)):
            arcs = [problem.arcs_of(m) for m in members]
            there = [a.take(problem.unit_structure[a.unit] == s) for a in arcs]
            if any(len(t) == 0 for t in there):
                continue
            units = sorted(set().union(*(t.unit.tolist() for t in there)))
            room = sum(int(problem.capacity[u]) if problem.unit_takes_siblings[u] else min(int(problem.capacity[u]), 1)
                       for u in units)
            if room < len(members):
                continue
            scored.append((sum(float((t.cost + relaxed.prices[t.unit]).min()) for t in there), s))
        scored.sort()
        best = {s for _, s in scored[:per_group]}
        for m in members:
            a = problem.arcs_of(m)
            expected |= {(m, u) for u in a.unit.tolist() if int(problem.unit_structure[u]) in best}
    assert held == expected
    # every arc is a real eligible arc with its cost
    for c, u, cost in zip(found.child.tolist(), found.unit.tolist(), found.cost.tolist()):
        assert cost == pytest.approx(problem.cost_of(c, u))
