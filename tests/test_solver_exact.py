"""The optimiser against an independent exact model (HiGHS), on instances with fratries and one-place units.

The shape that exposed the weak fratrie rows (issue 10): fratries compete for structures whose
units have one place. `tests/exact_reference.py` builds its own MIP over the same arcs and
costs; the optimiser's objective must equal its optimum and every bound must stay below it.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from matcher import SiblingGroup, Weights
from solver.lp import RowPrices, _Model, price_all, solve_relaxation
from solver.optimal import solve_optimal
from solver.problem import Problem
from solver.siblings import most_members_held
from solver.solution import SolverSettings, objective, objective_of, require_valid
from tests.exact_reference import solve_exact
from tests.factories import PARIS_15, PARIS_18, child, structure, system, unit
from tests.solver_instances import synthetic_travel
from tests.solver_tight import tight_problem

EXACT = SolverSettings(time_limit_s=10.0, workers=1, seed=7, mip_gap=0.0)


def _weak_lp(monkeypatch, problem):
    """The LP without the rows sum x[g in S] <= P_S w[g,S] (the model before issue 10)."""
    with monkeypatch.context() as m:
        m.setattr(_Model, "_add_fratrie_row", lambda self, g, s, w: None)
        return solve_relaxation(problem, EXACT)


def _half_and_half() -> Problem:
    """A fratrie of two and two structures with one free place each: it cannot be kept together."""
    kids = [child("C-1", 8, sibling_group_id="F-1"), child("C-2", 9, sibling_group_id="F-1")]
    structures = [structure("S-1", location=PARIS_18), structure("S-2", location=PARIS_15)]
    units = [unit("U-1", "S-1", capacity=1), unit("U-2", "S-2", capacity=1)]
    s = system(kids, structures, units, [SiblingGroup("F-1", ("C-1", "C-2"), together=True)])
    return Problem.build(s, synthetic_travel(s), Weights.default(), "waiting")


def test_most_members_held_counts_the_places_a_structure_offers_the_fratrie():
    kids = [child(f"C-{k}", 8, sibling_group_id="F-1") for k in range(3)]
    structures = [structure("S-1"), structure("S-2"), structure("S-3")]
    units = [
        unit("U-1", "S-1", capacity=1),  # one place: one member
        unit("U-2", "S-2", capacity=2, takes_siblings=False),  # two places, no siblings: one member
        unit("U-3", "S-3", capacity=2), unit("U-4", "S-3", capacity=5),  # seven places: all three
    ]
    s = system(kids, structures, units, [SiblingGroup("F-1", ("C-0", "C-1", "C-2"), together=True)])
    problem = Problem.build(s, synthetic_travel(s), Weights.default(), "waiting")
    member_arcs = [problem.arcs_of(m) for m in problem.blocks[0].members]
    held = [most_members_held(problem, member_arcs, k) for k in range(3)]
    assert held == [1, 1, 3]


def test_fratrie_rows_close_the_half_and_half_relaxation(monkeypatch):
    problem = _half_and_half()
    exact = solve_exact(problem)
    strong = solve_relaxation(problem, EXACT)
    assert strong.stats["lp_fratrie_rows"] == 2
    assert strong.value == pytest.approx(exact.objective, rel=1e-9)
    assert strong.bound == pytest.approx(exact.objective, rel=1e-9)
    # without the rows the LP places each child half in each structure and pays no split
    weak = _weak_lp(monkeypatch, problem)
    assert weak.value < exact.objective - 100


@pytest.mark.parametrize("seed", range(10))
def test_optimal_equals_the_exact_model_and_its_bound_is_below(seed):
    problem = tight_problem(seed)
    exact = solve_exact(problem)
    assert exact.proven
    assert exact.objective == pytest.approx(objective(problem, dict(zip([c.id for c in problem.children], [
        problem.units[u].id if u >= 0 else None for u in exact.assigned]))), rel=1e-9)
    best = solve_optimal(problem, EXACT, with_explanations=False)
    require_valid(problem, best.unit_of_child, f"seed {seed}")
    assert best.objective == pytest.approx(exact.objective, rel=1e-7)
    assert best.bound <= exact.objective + 1e-6 * abs(exact.objective)
    assert best.bound_source in ("flow", "lagrangian", "mip") and best.warnings == ()
    # the relaxation with the fratrie rows is a bound too, and its Lagrangian meets its value
    relaxation = solve_relaxation(problem, EXACT)
    assert relaxation.value <= exact.objective + 1e-6 * abs(exact.objective)
    assert relaxation.bound <= exact.objective + 1e-6 * abs(exact.objective)


def test_the_weak_rows_were_weak_on_these_instances(monkeypatch):
    """Seeds 0, 8 and 10: the LP without the fratrie rows is far below the optimum, with them at it or close."""
    for seed in (0, 8, 10):
        problem = tight_problem(seed)
        exact = solve_exact(problem).objective
        weak = _weak_lp(monkeypatch, problem)
        strong = solve_relaxation(problem, EXACT)
        assert weak.value < 0.95 * exact
        assert strong.value > weak.value + 0.5 * (exact - weak.value) - 1e-6


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), scale=st.floats(0.0, 400.0), data=st.data())
def test_lagrangian_with_any_prices_is_below_the_exact_optimum(seed, scale, data):
    """Weak duality for the capacity-aware fratrie subproblem: any multipliers >= 0 give a bound."""
    problem = tight_problem(seed, n_children=10, n_structures=6)
    exact = solve_exact(problem).objective
    rng = np.random.default_rng(data.draw(st.integers(0, 1000)))
    prices = rng.random(problem.n_units) * scale * (rng.random(problem.n_units) < 0.7)
    sibling_unit = {(g, int(u)): float(rng.random() * scale) for g, b in enumerate(problem.blocks)
                    for u in range(problem.n_units) if not problem.unit_takes_siblings[u] and rng.random() < 0.5}
    separation = {(k, s): float(rng.random() * scale) for k in range(len(problem.separations))
                  for s in range(len(problem.structure_ids)) if rng.random() < 0.5}
    bound, _ = price_all(problem, RowPrices(prices, separation, sibling_unit), None, 0)
    assert bound <= exact + 1e-6 * abs(exact)


@pytest.mark.parametrize("seed", (0, 3, 8, 9))
def test_pricing_reaches_the_lp_over_every_arc_before_it_says_converged(monkeypatch, seed):
    """From one arc per child, with the stop on 'bound meets value' turned off: when pricing says
    converged, the LP over its arcs equals the LP over every eligible arc (fratrie rows' duals
    counted in the reduced costs, held arcs left out before the choice)."""
    import solver.lp as lp

    problem = tight_problem(seed)
    monkeypatch.setattr(lp, "LP_BOUND_TOLERANCE", -np.inf)
    one_arc = SolverSettings(time_limit_s=10.0, candidates_per_child=1)
    priced = solve_relaxation(problem, one_arc)
    assert priced.converged
    every = _Model(problem, one_arc)
    every.add(lp.drop_forbidden(problem, lp.arcs_within(problem, priced.rows, float("inf"))))
    assert every.lp.Solve() == 0
    assert priced.value == pytest.approx(every.objective.Value(), rel=1e-7, abs=1e-6)


@pytest.mark.parametrize("seed", (0, 8))
def test_highs_stage_bound_is_its_dual_bound_within_its_gap(seed):
    """The HiGHS stage (highspy) reports HiGHS's dual bound: at most the value it found and the
    optimum on its arcs, and within the gap it was given."""
    from solver.optimal import _exact_mip

    problem = tight_problem(seed)
    relaxation = solve_relaxation(problem, EXACT)
    on_arcs = _exact_mip(problem, relaxation.arcs, np.full(problem.n_children, -1), EXACT, 10.0, backend="HIGHS")
    assigned, bound, stats = _exact_mip(problem, relaxation.arcs, np.full(problem.n_children, -1),
                                        SolverSettings(mip_gap=0.02), 10.0, backend="HIGHS")
    assert stats["mip_status"] == "OPTIMAL" and assigned is not None and on_arcs[0] is not None
    value = objective_of(problem, assigned)
    optimum_on_arcs = objective_of(problem, on_arcs[0])
    assert bound <= optimum_on_arcs + 1e-6 and bound <= value
    assert bound >= value - 0.02 * value - 1e-6


@pytest.mark.parametrize("seed", (0, 8))
def test_highs_stage_starts_from_the_hint(seed, monkeypatch):
    """With no search at all (no node, no heuristic), the HiGHS stage still returns the hint it was
    given: the start reaches HiGHS (through OR-Tools it did not), so a stage stopped early is never
    worse than its start."""
    import highspy

    from solver.optimal import _exact_mip

    problem = tight_problem(seed)
    relaxation = solve_relaxation(problem, EXACT)
    hint, _, _ = _exact_mip(problem, relaxation.arcs, np.full(problem.n_children, -1), EXACT, 10.0, backend="HIGHS")
    run = highspy.Highs.run

    def no_search(h):
        for option, value in (("mip_max_nodes", 0), ("mip_heuristic_effort", 0.0), ("presolve", "off"),
                              ("mip_max_leaves", 0)):
            h.setOptionValue(option, value)
        return run(h)

    monkeypatch.setattr(highspy.Highs, "run", no_search)
    assigned, _, stats = _exact_mip(problem, relaxation.arcs, hint, EXACT, 10.0, backend="HIGHS")
    assert assigned is not None, stats
    assert objective_of(problem, assigned) <= objective_of(problem, hint) + 1e-6
    monkeypatch.setattr(highspy.Highs, "setSolution", lambda *a, **k: highspy.HighsStatus.kOk)
    unstarted, _, _ = _exact_mip(problem, relaxation.arcs, hint, EXACT, 10.0, backend="HIGHS")
    assert unstarted is None or objective_of(problem, unstarted) > objective_of(problem, hint)
