"""The LP after the polish (issue 10): above ``max_lp_children``, the time the polishes leave goes
to the LP relaxation with the fratrie rows, priced over every arc from the polish's model and
basis (HiGHS, :func:`solver.lp.highs_relaxation`), then to the MIP on every arc within the gap
(:func:`solver.optimal._exact_after_polish`): a bound at least the flow's, never above the
optimum, and the optimum itself when that MIP ends."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import solver.lp as lp
import solver.optimal as optimal
from solver.flow import flow_relaxation
from solver.lp import RowPrices, drop_forbidden, highs_relaxation, solve_relaxation
from solver.optimal import solve_optimal
from solver.solution import SolverSettings, objective, require_valid, violations
from tests.exact_reference import solve_exact
from tests.solver_tight import tight_problem
from tests.test_solver_methods import _problem, brute_force

AFTER = SolverSettings(time_limit_s=10.0, workers=1, seed=7, mip_gap=0.0, max_lp_children=0)
"""The flow path (every batch is "large"), with the bound step on (the default)."""


NARROW = replace(AFTER, polish_arcs_per_child=1, polish_fratrie_structures=0)
"""A polish on one arc per child (and the starts'): the optimum's arcs are left for the bound step
and the MIP after it to find."""


@pytest.mark.parametrize("base", (AFTER, NARROW), ids=("default", "narrow polish"))
@pytest.mark.parametrize("seed", range(8))
def test_the_bound_is_at_least_the_flows_never_above_the_optimum_and_the_mip_ends_at_it(seed, base):
    problem = tight_problem(seed)
    exact = solve_exact(problem).objective
    tol = 1e-6 * max(1.0, abs(exact))
    best = solve_optimal(problem, base, with_explanations=False)
    flow = solve_optimal(problem, replace(base, lp_bound_after_polish=False), with_explanations=False)
    require_valid(problem, best.unit_of_child, f"seed {seed}")
    assert flow.bound_source == "flow" and "bound_lp_backend" not in flow.stats
    assert best.stats["bound_lp_backend"] == "HIGHS" and best.warnings == ()
    assert flow.bound - tol <= best.bound <= exact + tol
    assert best.objective >= exact - tol
    if best.stats.get("stage2_mip_status") == "OPTIMAL":
        # every arc an assignment better than the incumbent could use was in that MIP
        assert best.bound_source == "mip"
        assert best.objective == pytest.approx(exact, rel=1e-7)
        assert best.bound == pytest.approx(exact, rel=1e-7)


@pytest.mark.parametrize("smoothed", (False, True), ids=("LP duals", "smoothed from the flow's"))
@pytest.mark.parametrize("seed", (0, 3, 8))
def test_pricing_by_highs_reaches_the_lp_over_every_arc(seed, smoothed):
    """From one arc per child, the rounds add what the LP lacks until the Lagrangian meets its
    value: the LP over every arc (GLOP's, priced to convergence), a bound below the optimum;
    pricing at multipliers smoothed towards the flow's ends there too."""
    problem = tight_problem(seed)
    exact = solve_exact(problem).objective
    full = solve_relaxation(problem, replace(AFTER, max_lp_children=500))
    one = drop_forbidden(problem, problem.candidate_arcs(1))
    centre = None
    if smoothed:
        flow = flow_relaxation(problem)
        centre = (RowPrices(flow.prices), flow.own, flow.bound)
    found = highs_relaxation(problem, AFTER, time.perf_counter() + 30, arcs=one, centre=centre)
    assert found is not None
    assert (found.stats["lp_smoothed_rounds"] > 0) == smoothed
    assert found.stats["lp_stopped"] in ("converged", "bound_meets_value")
    assert found.stats["pricing_rounds"] > 1 and found.stats["priced_arcs_added"] > 0
    assert found.value == pytest.approx(full.value, rel=1e-7, abs=1e-6)
    assert found.bound <= exact + 1e-6 * abs(exact)


def _spy_on_the_bound_step(monkeypatch) -> dict:
    """The keyword arguments the optimiser passes to ``highs_relaxation`` (filled when it runs)."""
    seen: dict = {}
    real = optimal.highs_relaxation

    def spy(problem, settings, deadline, **kwargs):
        seen.update(kwargs)
        return real(problem, settings, deadline, **kwargs)

    monkeypatch.setattr(optimal, "highs_relaxation", spy)
    return seen


def test_the_bound_step_extends_the_polishs_model_from_its_basis(monkeypatch):
    """No model of its own: the polish's, whose relaxation's basis it starts from."""
    seen = _spy_on_the_bound_step(monkeypatch)
    problem = tight_problem(0)
    solution = solve_optimal(problem, AFTER, with_explanations=False)
    assert seen["model"] is not None and seen["arcs"] is None and seen["basis"] is not None
    assert solution.stats["bound_lp_arcs"] >= solution.stats["polish_fratries_mip_arcs"]


def test_without_a_polish_the_step_builds_its_model_on_the_flows_cheapest_arcs(monkeypatch):
    seen = _spy_on_the_bound_step(monkeypatch)
    problem = tight_problem(5)
    exact = solve_exact(problem).objective
    best = solve_optimal(problem, replace(AFTER, polish_arcs_per_child=0), with_explanations=False)
    require_valid(problem, best.unit_of_child, "no polish")
    assert "polish_mip_status" not in best.stats
    assert seen["model"] is None and seen["basis"] is None and len(seen["arcs"]) > 0
    assert best.bound_source in ("lagrangian", "mip") and best.bound <= exact + 1e-6 * abs(exact)


def test_with_no_time_left_the_step_is_skipped_and_said_in_the_stats_not_as_a_warning():
    problem = tight_problem(0)
    best = solve_optimal(problem, replace(AFTER, finish_reserve_s=9.5), with_explanations=False)
    assert best.bound_source == "flow" and "lp_bound_skipped" in best.stats and best.warnings == ()


def test_highs_failing_on_the_first_round_leaves_the_flows_bound_and_says_so(monkeypatch):
    monkeypatch.setattr(lp, "_run_highs", lambda h: None)  # never solved: the status stays "not set"
    problem = tight_problem(0)
    exact = solve_exact(problem).objective
    best = solve_optimal(problem, AFTER, with_explanations=False)
    require_valid(problem, best.unit_of_child, "HiGHS failed")
    assert best.bound_source == "flow" and best.bound <= exact + 1e-6 * abs(exact)
    assert any("LP relaxation after the polish failed" in w and "round 1" in w for w in best.warnings), best.warnings


def test_highs_failing_after_its_first_round_keeps_the_rounds_solved(monkeypatch):
    calls = {"n": 0}

    def first_only(h):
        calls["n"] += 1
        if calls["n"] == 1:
            h.run()

    monkeypatch.setattr(lp, "_run_highs", first_only)
    problem = tight_problem(8)
    exact = solve_exact(problem).objective
    found = highs_relaxation(problem, AFTER, time.perf_counter() + 30, arcs=drop_forbidden(problem, problem.candidate_arcs(1)))
    assert found is not None and found.stats["pricing_rounds"] == 1 and found.stats["lp_stopped"] == "failed"
    assert any("round 2" in w and "1 round(s) solved before stand" in w for w in found.warnings)
    assert found.bound <= exact + 1e-6 * abs(exact)


def test_stage_two_over_its_arc_limit_is_skipped_and_the_lagrangian_stands():
    problem = tight_problem(8)
    exact = solve_exact(problem).objective
    best = solve_optimal(problem, replace(AFTER, max_stage2_arcs=0), with_explanations=False)
    assert best.warnings == () and best.bound <= exact + 1e-6 * abs(exact)
    if best.stats.get("stage2_new_arcs"):
        assert "arcs could beat the incumbent" in best.stats["stage2_skipped"]
        assert best.bound_source in ("flow", "lagrangian") and "stage2_mip_status" not in best.stats


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 100_000), scope=st.sampled_from(["waiting", "all"]), n=st.integers(3, 6))
def test_after_the_polish_the_answer_is_feasible_and_the_bound_below_the_brute_force_optimum(seed, scope, n):
    problem = _problem(seed, n, 3, scope)
    best = solve_optimal(problem, replace(NARROW, time_limit_s=5.0), with_explanations=False)
    assert violations(problem, best.unit_of_child) == []
    assert best.objective == pytest.approx(objective(problem, best.unit_of_child), abs=1e-6)
    exact = brute_force(problem)
    assert best.bound <= exact + 1e-6 <= best.objective + 2e-6
    if best.bound_source == "mip" and best.stats.get("stage2_mip_status") == "OPTIMAL":
        assert best.objective == pytest.approx(exact, abs=1e-6)


@pytest.mark.parametrize("seed", (0, 5, 7))
def test_the_mip_after_the_bound_holds_every_arc_of_the_optimum_and_ends_at_it(seed):
    """The argument of stage 2: an assignment at most the incumbent ``I`` uses only arcs whose
    Lagrangian excess is at most ``I - L``; so from the greedy answer, with no polish model to
    extend, the MIP on those arcs alone holds the optimum's arcs and ends at the optimum."""
    from solver.greedy import greedy_assignment

    problem = tight_problem(seed)
    exact = solve_exact(problem)
    tightened = highs_relaxation(problem, AFTER, time.perf_counter() + 30,
                                 arcs=drop_forbidden(problem, problem.candidate_arcs(1)))
    hint, _ = greedy_assignment(problem)
    kept: dict = {}
    bounds: dict = {}
    stats: dict = {}
    found = optimal._exact_after_polish(problem, AFTER, tightened, hint, 10.0, kept, bounds, stats)
    assert found is not None and stats["stage2_mip_status"] == "OPTIMAL"
    held = set(zip(kept["model"].arcs().child.tolist(), kept["model"].arcs().unit.tolist()))
    placed = exact.assigned >= 0
    assert set(zip(placed.nonzero()[0].tolist(), exact.assigned[placed].tolist())) <= held
    assert optimal.objective_of(problem, found) == pytest.approx(exact.objective, rel=1e-7)
    assert bounds["mip"] == pytest.approx(exact.objective, rel=1e-7)
