"""Pinned examples for bugs that once passed the whole suite (issue 11), named after what broke.

Each was checked by putting the bug back by hand: the test fails with it, passes without it.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from matcher import CurrentPlacement, JudgeConstraints, SiblingGroup, Urgency, Weights
from matcher.model import Home
from matcher.travel import TravelMatrix
from solver.greedy import solve_greedy
from solver.optimal import solve_optimal
from solver.problem import Problem
from solver.solution import SolverSettings, require_valid
from tests.factories import PARIS_18, child, structure, system, unit

W = Weights.default()
QUICK = SolverSettings(time_limit_s=5.0, workers=1, seed=7)


def matrix(sys, minutes: dict[tuple[str, str], float]) -> TravelMatrix:
    """Minutes (home, structure) as given; NaN (unreachable) elsewhere."""
    homes = tuple(h.id for h in sys.homes)
    sids = tuple(s.id for s in sys.structures)
    m = np.full((len(homes), len(sids)), np.nan, dtype=np.float32)
    for (h, s), v in minutes.items():
        m[homes.index(h), sids.index(s)] = v
    return TravelMatrix.from_homes(homes, sids, m)


def both_methods(problem: Problem):
    greedy = solve_greedy(problem, with_bound=False, with_explanations=False)
    best = solve_optimal(problem, QUICK, with_explanations=False)
    for solution in (greedy, best):
        require_valid(problem, solution.unit_of_child, f"test ({solution.method})")
    return greedy, best


def structure_of(sys, unit_id):
    return sys.unit_by_id[unit_id].structure_id if unit_id else None


def test_judge_separation_order_makes_a_together_fratrie_separable_in_greedy_and_optimal():
    """Bug: solver/problem.py stopped making a fratrie separable on a judge's separation order;
    greedy and optimal then put the two children the judge separated in one structure."""
    home = Home("H-1", PARIS_18)
    kids = [child("C-a", 8, home=home, sibling_group_id="F-1", judge=JudgeConstraints(separated_from=frozenset({"C-b"}))),
            child("C-b", 9, home=home, sibling_group_id="F-1")]
    sys = system(kids, [structure("S-near"), structure("S-far")],
                 [unit("U-near", "S-near", capacity=2), unit("U-far", "S-far", capacity=2)],
                 [SiblingGroup("F-1", ("C-a", "C-b"), together=True)])
    problem = Problem.build(sys, matrix(sys, {("H-1", "S-near"): 10, ("H-1", "S-far"): 30}), W)
    assert [b.together for b in problem.blocks] == [False]
    for solution in both_methods(problem):
        places = solution.unit_of_child
        assert places["C-a"] is not None and places["C-b"] is not None, solution.method
        assert structure_of(sys, places["C-a"]) != structure_of(sys, places["C-b"]), solution.method


def test_a_unit_that_does_not_take_siblings_holds_one_member_in_greedy_and_optimal():
    """Bug: solver/siblings.py let a unit with takes_siblings = false offer all its places to a
    fratrie; greedy and optimal put both siblings there."""
    home = Home("H-1", PARIS_18)
    kids = [child("C-a", 8, home=home, sibling_group_id="F-1"), child("C-b", 9, home=home, sibling_group_id="F-1")]
    sys = system(kids, [structure("S-near"), structure("S-far")],
                 [unit("U-closed", "S-near", capacity=2, takes_siblings=False), unit("U-far", "S-far", capacity=2)],
                 [SiblingGroup("F-1", ("C-a", "C-b"))])
    problem = Problem.build(sys, matrix(sys, {("H-1", "S-near"): 10, ("H-1", "S-far"): 40}), W)
    for solution in both_methods(problem):
        assert solution.unit_of_child == {"C-a": "U-far", "C-b": "U-far"}, solution.method


def test_the_only_place_goes_to_the_urgent_child():
    """Bug: matcher/weights.toml with unplaced_urgent = 0; the optimiser gave the only place to
    the non-urgent child (nearer, so cheaper) and left the urgent one waiting."""
    near, far = Home("H-near", PARIS_18), Home("H-far", PARIS_18)
    kids = [child("C-normal", 8, home=near), child("C-urgent", 8, home=far, urgency=Urgency.URGENT)]
    sys = system(kids, [structure("S-1")], [unit("U-1", "S-1", capacity=1)])
    problem = Problem.build(sys, matrix(sys, {("H-near", "S-1"): 10, ("H-far", "S-1"): 60}), W)
    assert W.unplaced_cost(kids[1], sys.reference_date) > W.unplaced_cost(kids[0], sys.reference_date) + 50
    _, best = both_methods(problem)
    assert best.unit_of_child == {"C-normal": None, "C-urgent": "U-1"}


def test_the_optimiser_places_a_fratrie_whole_rather_than_one_sibling_and_a_nearer_child():
    """Bug (issue 13): with the same penalty for every child left waiting, the optimiser filled
    the two places with one sibling and a nearer child alone, leaving the other sibling waiting
    (to be placed later apart); in the Paris demo 13 of 26 fratries were left partly placed
    (greedy: 1). ``unplaced_sibling`` makes a sibling left waiting cost more."""
    from dataclasses import replace

    family, near = Home("H-fam", PARIS_18), Home("H-near", PARIS_18)
    kids = [child("C-a", 8, home=family, sibling_group_id="F-1"), child("C-b", 9, home=family, sibling_group_id="F-1"),
            child("C-alone", 8, home=near)]
    sys = system(kids, [structure("S-1")], [unit("U-1", "S-1", capacity=2)], [SiblingGroup("F-1", ("C-a", "C-b"))])
    minutes = {("H-fam", "S-1"): 40, ("H-near", "S-1"): 10}
    assert W.unplaced_cost(kids[0], sys.reference_date) == W.unplaced_cost(kids[2], sys.reference_date) + W.unplaced_sibling
    _, best = both_methods(Problem.build(sys, matrix(sys, minutes), W))
    assert best.unit_of_child == {"C-a": "U-1", "C-b": "U-1", "C-alone": None}
    flat = replace(W, unplaced_sibling=0.0)  # what the weight guards against
    _, before = both_methods(Problem.build(sys, matrix(sys, minutes), flat))
    assert before.unit_of_child["C-alone"] == "U-1" and None in (before.unit_of_child["C-a"], before.unit_of_child["C-b"])


def test_greedy_never_takes_a_missing_travel_time_for_zero_minutes():
    """Bug: solver/greedy.py read a missing travel time (unreachable) as 0 minutes and picked
    the unreachable unit as the nearest."""
    sys = system([child("C-1", 8)], [structure("S-unknown"), structure("S-reachable")],
                 [unit("U-unknown", "S-unknown"), unit("U-reachable", "S-reachable")])
    problem = Problem.build(sys, matrix(sys, {("H-1", "S-reachable"): 80}), W)
    greedy, best = both_methods(problem)
    assert greedy.unit_of_child == {"C-1": "U-reachable"}
    assert best.unit_of_child == {"C-1": "U-reachable"}
    assert problem.minutes_of(0, problem.unit_index["U-unknown"]) is None


@pytest.mark.parametrize("method", ["greedy", "optimal"])
def test_an_unreachable_unit_is_taken_only_when_nothing_else_fits(method):
    """The other side of the rule: unreachable costs weights.unreachable_minutes, not infinity."""
    sys = system([child("C-1", 8)], [structure("S-unknown")], [unit("U-unknown", "S-unknown")])
    problem = Problem.build(sys, matrix(sys, {}), W)
    solution = solve_greedy(problem, with_bound=False) if method == "greedy" else solve_optimal(problem, QUICK)
    assert solution.unit_of_child == {"C-1": "U-unknown"}


def test_a_fratrie_fits_in_one_structure_with_one_member_in_its_unit_without_siblings():
    """The matching inside a structure: U-closed (no siblings) is the first choice of both, so
    one sibling goes there and the other to U-open of the same structure."""
    home = Home("H-1", PARIS_18)
    kids = [child("C-a", 8, home=home, sibling_group_id="F-1"), child("C-b", 9, home=home, sibling_group_id="F-1")]
    sys = system(kids, [structure("S-1"), structure("S-far")],
                 [unit("U-closed", "S-1", capacity=2, takes_siblings=False), unit("U-open", "S-1", capacity=1),
                  unit("U-far", "S-far", capacity=2)],
                 [SiblingGroup("F-1", ("C-a", "C-b"))])
    problem = Problem.build(sys, matrix(sys, {("H-1", "S-1"): 10, ("H-1", "S-far"): 40}), W)
    for solution in both_methods(problem):
        assert sorted(solution.unit_of_child.values()) == ["U-closed", "U-open"], solution.method


# --- fratries in one structure: cases mutation testing showed untested (solver/siblings.py) ------

def fratrie_of(ages, structures, units, minutes, judges=None, together=True):
    home = Home("H-1", PARIS_18)
    judges = judges or {}
    ids = [f"C-{k}" for k in range(len(ages))]
    kids = [child(cid, age, home=home, sibling_group_id="F-1", judge=judges.get(cid)) for cid, age in zip(ids, ages)]
    others = [c for c in judges.get("others", [])]
    sys = system(kids + others, structures, units, [SiblingGroup("F-1", tuple(ids), together)])
    return sys, Problem.build(sys, matrix(sys, {("H-1", s): m for s, m in minutes.items()}), W)


def test_the_matching_moves_a_sibling_to_make_room_for_another():
    """C-0 (8) takes U-A first; C-1 (3) fits only U-A, so C-0 moves to U-B (an augmenting path)."""
    sys, problem = fratrie_of([8, 3], [structure("S-near"), structure("S-far")],
                              [unit("U-A", "S-near", (3, 11), capacity=1), unit("U-B", "S-near", (4, 11), capacity=1),
                               unit("U-far", "S-far", (0, 11), capacity=2)],
                              {"S-near": 10, "S-far": 60})
    for solution in both_methods(problem):
        assert solution.unit_of_child == {"C-0": "U-B", "C-1": "U-A"}, solution.method


def test_a_fratrie_fits_in_units_of_one_place_each():
    sys, problem = fratrie_of([5, 9], [structure("S-near"), structure("S-far")],
                              [unit("U-young", "S-near", (4, 7), capacity=1), unit("U-old", "S-near", (8, 11), capacity=1),
                               unit("U-far", "S-far", (4, 11), capacity=2)],
                              {"S-near": 10, "S-far": 60})
    for solution in both_methods(problem):
        assert solution.unit_of_child == {"C-0": "U-young", "C-1": "U-old"}, solution.method


def test_a_structure_with_enough_places_but_no_matching_is_passed_over():
    """S-near has 3 places for 3 siblings, but the two youngest fit only U-baby (1 place)."""
    sys, problem = fratrie_of([2, 3, 8], [structure("S-near"), structure("S-far")],
                              [unit("U-baby", "S-near", (0, 3), capacity=1), unit("U-b", "S-near", (4, 11), capacity=1),
                               unit("U-c", "S-near", (4, 11), capacity=1), unit("U-far", "S-far", (0, 11), capacity=3)],
                              {"S-near": 10, "S-far": 60})
    greedy = solve_greedy(problem, with_bound=False, with_explanations=False)
    assert greedy.unit_of_child == {"C-0": "U-far", "C-1": "U-far", "C-2": "U-far"}
    assert greedy.splits == ()


def test_the_nearest_structure_is_taken_whatever_its_position():
    sys, problem = fratrie_of([5, 9], [structure("S-far"), structure("S-near")],
                              [unit("U-far", "S-far", (4, 11), capacity=2), unit("U-near", "S-near", (4, 11), capacity=2)],
                              {"S-far": 60, "S-near": 10})
    greedy = solve_greedy(problem, with_bound=False, with_explanations=False)
    assert set(greedy.unit_of_child.values()) == {"U-near"}


def test_an_unreachable_structure_still_takes_a_fratrie_kept_together():
    from solver.siblings import structures_for_group

    sys, problem = fratrie_of([5, 9], [structure("S-1")], [unit("U-1", "S-1", (4, 11), capacity=2)], {})
    assert structures_for_group(problem, problem.blocks[0], problem.capacity) == [(0, [0, 0], W.unreachable_minutes)]
    for solution in both_methods(problem):
        assert solution.unit_of_child == {"C-0": "U-1", "C-1": "U-1"}, solution.method
        assert solution.splits == ()


def test_a_fratrie_avoids_the_structure_where_a_child_the_judge_separated_one_of_them_from_lives():
    """C-0's order names C-x, who is not a sibling and lives in S-near: the fratrie stays together
    (the order is not between siblings) and goes to S-far."""
    placed = child("C-x", 9, home=Home("H-x", PARIS_18), current=CurrentPlacement("U-near", date(2026, 1, 5)))
    judges = {"C-0": JudgeConstraints(separated_from=frozenset({"C-x"})), "others": [placed]}
    sys, problem = fratrie_of([5, 9], [structure("S-near"), structure("S-far")],
                              [unit("U-near", "S-near", (4, 11), capacity=3, occupied=1),
                               unit("U-far", "S-far", (4, 11), capacity=2)],
                              {"S-near": 10, "S-far": 60}, judges)
    assert [b.together for b in problem.blocks] == [True]
    for solution in both_methods(problem):
        assert solution.unit_of_child == {"C-0": "U-far", "C-1": "U-far"}, solution.method


def test_the_matching_keeps_a_sibling_it_could_not_move():
    """C-0 (3) fits only U-A and takes it; C-1 (8) tries to move C-0, cannot, and takes U-B."""
    sys, problem = fratrie_of([3, 8], [structure("S-near"), structure("S-far")],
                              [unit("U-A", "S-near", (3, 11), capacity=1), unit("U-B", "S-near", (4, 11), capacity=1),
                               unit("U-far", "S-far", (0, 11), capacity=2)],
                              {"S-near": 10, "S-far": 60})
    for solution in both_methods(problem):
        assert solution.unit_of_child == {"C-0": "U-A", "C-1": "U-B"}, solution.method


def test_structures_for_a_fratrie_stop_at_the_limit_asked_nearest_first():
    """Kills the mutant that returned one structure more than ``limit``."""
    from solver.siblings import structures_for_group

    sys, problem = fratrie_of([5, 9], [structure("S-far"), structure("S-near"), structure("S-mid")],
                              [unit("U-far", "S-far", (4, 11), capacity=2), unit("U-near", "S-near", (4, 11), capacity=2),
                               unit("U-mid", "S-mid", (4, 11), capacity=2)],
                              {"S-far": 60, "S-near": 10, "S-mid": 30})
    block = problem.blocks[0]
    every = structures_for_group(problem, block, problem.capacity)
    assert [problem.structure_ids[s] for s, _, _ in every] == ["S-near", "S-mid", "S-far"]
    for limit in (1, 2):
        found = structures_for_group(problem, block, problem.capacity, limit=limit)
        assert found == every[:limit]
