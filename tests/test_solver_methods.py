"""Greedy and optimal: hard constraints, objective, bound, brute force, splits and explanations."""

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from matcher import JudgeConstraints, SiblingGroup, Weights
from matcher.travel import TravelMatrix
from solver.explain import explanation_text
from solver.greedy import solve_greedy
from solver.optimal import solve_optimal
from solver.problem import Problem
from solver.solution import SolverSettings, extra_structures, objective, violations
from tests.factories import NEVERS, PARIS_15, SAINT_DENIS, child, structure, system, unit
from tests.solver_instances import random_system, synthetic_travel

TEST_SETTINGS = SolverSettings(time_limit_s=5.0, workers=1, seed=7)


def _problem(seed, n_children, n_structures, scope):
    s = random_system(seed, n_children=n_children, n_structures=n_structures)
    return Problem.build(s, synthetic_travel(s, unreachable_every=11), Weights.default(), scope)


def brute_force(problem: Problem) -> float:
    """Least objective over every assignment that keeps the hard rules (tiny problems only)."""
    options = []
    costs = []
    for i in range(problem.n_children):
        arcs = problem.arcs_of(i)
        options.append([-1] + arcs.unit.tolist())
        costs.append(dict(zip(arcs.unit.tolist(), arcs.cost.tolist())))
    best = np.inf
    for combo in itertools.product(*options):
        assigned = np.array(combo, dtype=np.int64)  # no children: an empty int array
        load = np.bincount(assigned[assigned >= 0], minlength=problem.n_units)
        if (load > problem.capacity).any():
            continue
        structure = np.where(assigned >= 0, problem.unit_structure[np.maximum(assigned, 0)], -1)
        if any(structure[a] >= 0 and structure[a] == structure[b] for a, b in problem.separations):
            continue
        if any(structure[i] in problem.forbidden_structures.get(i, ()) for i in range(problem.n_children) if assigned[i] >= 0):
            continue
        bad = False
        for block in problem.blocks:
            units = [assigned[m] for m in block.members if assigned[m] >= 0]
            if any(units.count(u) > 1 and not problem.unit_takes_siblings[u] for u in units):
                bad = True
        if bad:
            continue
        value = sum(costs[i][u] if u >= 0 else problem.unplaced_cost[i] for i, u in enumerate(combo))
        value += problem.weights.siblings_split * sum(extra_structures(problem, assigned, g) for g in range(len(problem.blocks)))
        best = min(best, value)
    return float(best)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 100_000), scope=st.sampled_from(["waiting", "all"]), n=st.integers(4, 24))
def test_every_solution_keeps_every_hard_rule_and_optimal_is_never_worse(seed, scope, n):
    problem = _problem(seed, n, 6, scope)
    greedy = solve_greedy(problem)
    best = solve_optimal(problem, TEST_SETTINGS)
    for solution in (greedy, best):
        assert violations(problem, solution.unit_of_child) == []
        assert set(solution.unit_of_child) == {c.id for c in problem.children}
        assert objective(problem, solution.unit_of_child) == pytest.approx(solution.objective, abs=1e-6)
        assert solution.bound <= solution.objective + 1e-6
        assert 0.0 <= solution.gap <= 1.0
    assert best.objective <= greedy.objective + 1e-6
    assert best.bound >= greedy.bound - 1e-6 * max(1.0, abs(greedy.bound))  # the exact step may prove more


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 100_000), scope=st.sampled_from(["waiting", "all"]))
def test_optimal_equals_brute_force_on_tiny_instances(seed, scope):
    problem = _problem(seed, 5, 3, scope)
    exact = brute_force(problem)
    best = solve_optimal(problem, TEST_SETTINGS)
    assert best.objective == pytest.approx(exact, abs=0.05)  # CP-SAT works in hundredths
    assert best.bound <= exact + 1e-6


def test_same_seed_same_answer():
    problem = _problem(42, 40, 10, "all")
    a = solve_optimal(problem, TEST_SETTINGS)
    b = solve_optimal(problem, TEST_SETTINGS)
    assert a.unit_of_child == b.unit_of_child and a.objective == b.objective


def _minutes(s, rows: dict[str, list[float]]):
    homes = tuple(rows)
    return TravelMatrix.from_homes(homes, tuple(x.id for x in s.structures), np.array([rows[h] for h in homes], dtype=np.float32))


def test_siblings_together_split_reported_with_its_cause_when_no_structure_fits():
    kids = [child("A", age=5, sibling_group_id="F-0123"), child("B", age=9, sibling_group_id="F-0123"),
            child("C", age=14, sibling_group_id="F-0123")]
    structures = [structure("S-1"), structure("S-2", location=SAINT_DENIS)]
    units = [unit("U-1", "S-1", ages=(4, 11), capacity=2), unit("U-2", "S-2", ages=(12, 15), capacity=1)]
    s = system(kids, structures, units, [SiblingGroup("F-0123", ("A", "B", "C"))])
    # a split (1500 per extra structure) costs less than a child without a place (2000)
    weights = Weights.from_mapping({"siblings_split": 1500.0}, base=Weights.default())
    problem = Problem.build(s, _minutes(s, {"H-1": [20, 35]}), weights)
    for solution in (solve_greedy(problem), solve_optimal(problem, TEST_SETTINGS)):
        assert all(solution.unit_of_child.values())
        (split,) = solution.splits
        assert split.group_id == "F-0123" and split.structures == ("S-1", "S-2")
        assert str(split.cause) == "no structure has eligible units for all 3 children aged 5 to 14"
        assert split.cause.kind == "no_common_structure" and (split.cause.age_min, split.cause.age_max) == (5, 14)
        assert "Fratrie F-0123 is split over" in explanation_text(problem, solution.explanations["C"], split, "en")
        assert "La fratrie F-0123 est répartie entre" in explanation_text(problem, solution.explanations["C"], split, "fr")


def test_siblings_together_split_when_places_are_too_few_says_so():
    kids = [child("A", age=5, sibling_group_id="F-1"), child("B", age=9, sibling_group_id="F-1")]
    structures = [structure("S-1"), structure("S-2", location=SAINT_DENIS)]
    units = [unit("U-1", "S-1", capacity=1), unit("U-2", "S-2", capacity=1)]
    s = system(kids, structures, units, [SiblingGroup("F-1", ("A", "B"))])
    weights = Weights.from_mapping({"siblings_split": 1500.0}, base=Weights.default())
    problem = Problem.build(s, _minutes(s, {"H-1": [20, 35]}), weights)
    solution = solve_optimal(problem, TEST_SETTINGS)
    (split,) = solution.splits
    assert str(split.cause).startswith("no structure has 2 eligible places for 2 children aged 5 to 9")
    assert split.cause.kind == "too_few_places"


def test_siblings_together_kept_when_a_structure_can_take_them_all():
    # nearest single places are in two structures; S-3, farther, has room for both
    kids = [child("A", age=5, sibling_group_id="F-1"), child("B", age=9, sibling_group_id="F-1")]
    structures = [structure("S-1"), structure("S-2"), structure("S-3", location=SAINT_DENIS)]
    units = [unit("U-1", "S-1", capacity=1), unit("U-2", "S-2", capacity=1), unit("U-3", "S-3", capacity=2)]
    s = system(kids, structures, units, [SiblingGroup("F-1", ("A", "B"))])
    problem = Problem.build(s, _minutes(s, {"H-1": [10, 12, 50]}), Weights.default())
    for solution in (solve_greedy(problem), solve_optimal(problem, TEST_SETTINGS)):
        assert solution.unit_of_child == {"A": "U-3", "B": "U-3"} and solution.splits == ()


def test_judge_separation_keeps_two_children_apart():
    kids = [child("A", age=6, judge=JudgeConstraints(separated_from=frozenset({"B"}))), child("B", age=7)]
    structures = [structure("S-1"), structure("S-2", location=SAINT_DENIS)]
    units = [unit("U-1", "S-1", capacity=2), unit("U-2", "S-2", capacity=2)]
    s = system(kids, structures, units)
    problem = Problem.build(s, _minutes(s, {"H-1": [10, 40]}), Weights.default())
    for solution in (solve_greedy(problem), solve_optimal(problem, TEST_SETTINGS)):
        assert sorted(solution.unit_of_child.values()) == ["U-1", "U-2"]
        assert violations(problem, solution.unit_of_child) == []


def test_explanations_name_full_places_and_excluding_rules():
    from matcher import Urgency

    kids = [child("A", age=8, urgency=Urgency.URGENT), child("B", age=8, waiting_since=child().waiting_since.replace(day=2))]
    structures = [structure("S-1"), structure("S-2", location=SAINT_DENIS), structure("S-3", location=NEVERS)]
    units = [unit("U-1", "S-1", capacity=1), unit("U-0", "S-1", ages=(12, 15), capacity=3),
             unit("U-2", "S-2", capacity=1), unit("U-3", "S-3", capacity=1)]
    s = system(kids, structures, units)
    problem = Problem.build(s, _minutes(s, {"H-1": [10, 30, 240]}), Weights.default())
    solution = solve_optimal(problem, TEST_SETTINGS)
    assert solution.unit_of_child == {"A": "U-1", "B": "U-2"}
    b = solution.explanations["B"]
    english = explanation_text(problem, b, None, "en")
    assert b.structure_id == "S-2" and b.travel_minutes == 30
    assert [c.name for c in b.components] == ["transit_time", "outside_paris", "outside_ile_de_france", "daily_price", "stability", "school_continuity", "hotel_stay"]
    reasons = {o.unit_id: o for o in b.better_options}
    assert (reasons["U-1"].reason, reasons["U-1"].capacity, reasons["U-1"].taken_by) == ("full", 1, ("A",))
    assert (reasons["U-0"].reason, reasons["U-0"].rules) == ("ineligible", ("age_range",))
    assert "U-3" not in reasons  # farther and dearer: not better-looking
    # in words, both languages: the place, its travel, each reason; no internal term
    assert english.startswith("The 4-11 unit U-2 of ") and "30 min from the family home" in english
    assert "full (1 place for this run, taken by A)" in english
    assert "at 8, B is outside the unit's 12-15 age range" in english
    french = explanation_text(problem, b, None, "fr")
    assert french.startswith("L'unité 4-11 ans U-2 ") and "à 30 min du domicile familial" in french
    assert "complète (1 place pour ce calcul, prise par A)" in french
    assert "à 8 ans, B est hors de la tranche 12-15 ans de l'unité" in french
    # a unit with no free place for the run (scope waiting) is said so, not "full (0 places)"
    from dataclasses import replace

    from solver.solution import BetterOption

    none_free = replace(b, better_options=(BetterOption("U-1", 5.0, "full", capacity=0),))
    assert "U-1 of " in explanation_text(problem, none_free, None, "en") and \
        "no free place for this run" in explanation_text(problem, none_free, None, "en")
    assert "aucune place libre pour ce calcul" in explanation_text(problem, none_free, None, "fr")
    for text in (english, french):
        assert not any(word in text for word in ("outside_", "transit_time", "daily_price", "age_range", "_"))


def test_unplaced_child_explained():
    kids = [child("A", age=8), child("B", age=19)]
    s = system(kids, [structure("S-1")], [unit("U-1", "S-1", capacity=1)])
    problem = Problem.build(s, _minutes(s, {"H-1": [10]}), Weights.default())
    solution = solve_optimal(problem, TEST_SETTINGS)
    assert solution.unit_of_child == {"A": "U-1", "B": None}
    assert explanation_text(problem, solution.explanations["B"], None, "en").startswith("No place: no unit is eligible")
    assert explanation_text(problem, solution.explanations["B"], None, "fr").startswith(
        "Sans place : aucune unité ne lui convient")
    # every eligible unit full: who took them, in the method's terms
    from solver.solution import Explanation

    full = Explanation("B", None, None, None, (), (), eligible_units=3)
    assert explanation_text(problem, full, None, "fr", method="greedy") == (
        "Sans place : 3 unités lui conviennent, toutes complètes, prises par des enfants arrivés avant "
        "(premier arrivé, premier servi).")
    assert "whose placement weighs more (urgency" in explanation_text(problem, full, None, "en", method="optimal")
    assert "first come" not in explanation_text(problem, full, None, "en", method="optimal")


def test_a_problem_with_no_child_waiting_has_an_exact_bound_of_zero():
    problem = _problem(324, 4, 6, "waiting")  # the example Hypothesis found: nobody waits
    assert problem.n_children == 0
    for solution in (solve_greedy(problem), solve_optimal(problem, TEST_SETTINGS)):
        assert solution.objective == 0.0 and solution.bound == 0.0


def test_every_score_component_and_anchor_has_words_in_both_languages():
    """A component or anchor added without words would show its internal name to officers."""
    import re
    from pathlib import Path

    from matcher.model import AnchorKind
    from matcher.words import ANCHOR_WORDS, COMPONENT_WORDS

    source = (Path(__file__).parents[1] / "matcher" / "scoring.py").read_text()
    names = set(re.findall(r'ScoreComponent\("(\w+)"', source))
    assert len(names) >= 7
    for lang in ("fr", "en"):
        assert names <= set(COMPONENT_WORDS[lang]), (lang, names - set(COMPONENT_WORDS[lang]))
        assert set(AnchorKind) <= set(ANCHOR_WORDS[lang])


def test_a_better_option_with_an_unknown_reason_is_refused():
    from solver.solution import WHY_NOT_KINDS, BetterOption

    assert BetterOption("U-1", 10.0, "full").reason in WHY_NOT_KINDS
    with pytest.raises(ValueError, match="unknown reason 'cheaper'"):
        BetterOption("U-1", 10.0, "cheaper")
