"""Never a silent fallback: every path of the optimiser keeps every hard rule and says where its bound comes from.

A failed or imprecise LP is simulated (``solver.lp._solve_lp`` patched), as are a failed flow and
a failed exact step; the answer must still pass ``require_valid``, its bound must stay below the
exact optimum (:mod:`tests.exact_reference`), and ``Solution.warnings`` must say what happened.
"""

import json
from dataclasses import replace

import pytest
from ortools.linear_solver import pywraplp
from typer.testing import CliRunner

import solver.lp as lp
import solver.optimal as optimal
from api.cli import app
from solver.greedy import solve_greedy
from solver.lp import SolverError
from solver.optimal import solve_optimal
from solver.solution import SolverSettings, require_valid
from tests.exact_reference import solve_exact
from tests.solver_tight import tight_problem

SETTINGS = SolverSettings(time_limit_s=10.0, workers=1, seed=7, mip_gap=0.0)
SEEDS = (0, 3, 8)


def _fail_from(call: int, status=pywraplp.Solver.ABNORMAL):
    """A GLOP that returns ``status`` from its ``call``-th solve on (0: always)."""
    calls = {"n": 0}
    real = lp._solve_lp

    def solve(model):
        calls["n"] += 1
        return status if calls["n"] > call else real(model)

    return solve


def _check(problem, solution, exact):
    require_valid(problem, solution.unit_of_child, "test")
    assert solution.bound is not None and solution.bound <= exact + 1e-6 * abs(exact)
    assert solution.objective >= exact - 1e-6 * abs(exact)
    assert solution.stats["bound_source"] == solution.bound_source


@pytest.mark.parametrize("after_polish", (False, True))
@pytest.mark.parametrize("seed", SEEDS)
def test_lp_that_always_fails_falls_back_to_the_flow_bound_and_says_so(monkeypatch, seed, after_polish):
    """GLOP failing on every round: the flow path runs and says why; its bound is the flow's, or
    the LP's by HiGHS after the polish (``SolverSettings.lp_bound_after_polish``), which does
    not use GLOP."""
    problem = tight_problem(seed)
    exact = solve_exact(problem).objective
    monkeypatch.setattr(lp, "_solve_lp", _fail_from(0))
    best = solve_optimal(problem, replace(SETTINGS, lp_bound_after_polish=after_polish), with_explanations=False)
    _check(problem, best, exact)
    if after_polish:
        assert best.bound_source in ("lagrangian", "mip") and best.stats["bound_lp_backend"] == "HIGHS"
    else:
        assert best.bound_source == "flow" and "bound_lp_backend" not in best.stats
    assert any("LP relaxation failed" in w and "abnormal" in w for w in best.warnings), best.warnings
    assert "lp_error" in best.stats


@pytest.mark.parametrize("seed", SEEDS)
def test_imprecise_lp_is_solved_again_and_the_retry_is_reported(monkeypatch, seed):
    """The first solve returns ABNORMAL (GLOP's IMPRECISE); the retry without the status change succeeds."""
    problem = tight_problem(seed)
    exact = solve_exact(problem).objective
    calls = {"n": 0}
    real = lp._solve_lp

    def first_fails(model):
        calls["n"] += 1
        return pywraplp.Solver.ABNORMAL if calls["n"] == 1 else real(model)

    monkeypatch.setattr(lp, "_solve_lp", first_fails)
    best = solve_optimal(problem, SETTINGS, with_explanations=False)
    _check(problem, best, exact)
    assert best.objective == pytest.approx(exact, rel=1e-7)
    assert best.stats["lp_retries"] == ["LP round 1: GLOP returned abnormal; solved again with 'change_status_to_imprecise: false'"]
    assert best.warnings == ()  # recovered: the answer is as good and the bound as valid


def test_lp_failing_after_its_first_round_keeps_the_rounds_solved(monkeypatch):
    """One cheap arc per child to start with, so the LP needs more than one round; the second fails."""
    problem = tight_problem(0)
    exact = solve_exact(problem).objective
    one_arc = SolverSettings(time_limit_s=10.0, workers=1, seed=7, mip_gap=0.0, candidates_per_child=1)
    assert lp.solve_relaxation(problem, one_arc).stats["pricing_rounds"] >= 2
    monkeypatch.setattr(lp, "_solve_lp", _fail_from(1, pywraplp.Solver.NOT_SOLVED))
    relaxation = lp.solve_relaxation(problem, one_arc)
    assert not relaxation.converged and relaxation.stats["pricing_rounds"] == 1
    assert relaxation.bound <= exact + 1e-6 * abs(exact)
    assert any("not solved (time limit) at round 2" in w and "1 round(s) solved before stand" in w
               for w in relaxation.warnings), relaxation.warnings
    monkeypatch.setattr(lp, "_solve_lp", _fail_from(1, pywraplp.Solver.NOT_SOLVED))
    best = solve_optimal(problem, one_arc, with_explanations=False)
    _check(problem, best, exact)


def test_a_failed_exact_step_is_reported_and_the_best_start_stands(monkeypatch):
    problem = tight_problem(0)
    exact = solve_exact(problem).objective

    def failing(problem, arcs, hint, settings, time_limit, backend=None):
        return None, float("-inf"), {"mip_status": "NOT_SOLVED", "mip_seconds": 0.0, "mip_nodes": 0, "mip_arcs": len(arcs)}

    monkeypatch.setattr(optimal, "_exact_mip", failing)
    best = solve_optimal(problem, SETTINGS, with_explanations=False)
    _check(problem, best, exact)
    assert best.bound_source in ("flow", "lagrangian")
    assert any("stage 1" in w and "NOT_SOLVED" in w for w in best.warnings)


def test_stage_two_too_large_is_reported(monkeypatch):
    problem = tight_problem(8)
    exact = solve_exact(problem).objective
    best = solve_optimal(problem, SolverSettings(time_limit_s=10.0, mip_gap=0.0, max_stage2_arcs=0), with_explanations=False)
    _check(problem, best, exact)
    if best.stats.get("stage2_new_arcs"):
        assert any("stage 2 skipped" in w for w in best.warnings)
        assert best.bound_source in ("flow", "lagrangian")


@pytest.mark.parametrize(("max_lp_children", "after_polish"), [(0, False), (0, True), (2_000, True)])
def test_flow_only_and_lp_paths_report_their_bound_source(max_lp_children, after_polish):
    problem = tight_problem(3)
    exact = solve_exact(problem).objective
    best = solve_optimal(problem, SolverSettings(time_limit_s=10.0, mip_gap=0.0, max_lp_children=max_lp_children,
                                                 lp_bound_after_polish=after_polish), with_explanations=False)
    _check(problem, best, exact)
    if max_lp_children == 0 and not after_polish:
        assert best.bound_source == "flow" and "lp_skipped" in best.stats
    elif max_lp_children == 0:  # the LP after the polish (HiGHS), then the MIP on the arcs within the gap
        assert "lp_skipped" in best.stats and best.stats["bound_lp_backend"] == "HIGHS"
        assert best.bound_source in ("lagrangian", "mip") and best.warnings == ()
    else:
        assert best.bound_source in ("lagrangian", "mip") and best.warnings == ()
        assert "bound_lp_backend" not in best.stats  # the LP path has its own LP: no second one


def test_greedy_never_fails_a_bound_that_cannot_be_computed_is_reported_missing(monkeypatch):
    problem = tight_problem(8)
    import solver.flow as flow

    def broken(*args, **kwargs):
        raise SolverError("the min-cost flow relaxation ended with status 3")

    monkeypatch.setattr(flow, "flow_relaxation", broken)
    monkeypatch.setattr(lp, "_solve_lp", _fail_from(0))
    solution = solve_greedy(problem, with_explanations=False)
    require_valid(problem, solution.unit_of_child, "greedy")
    assert solution.bound is None and solution.gap is None and solution.bound_source is None
    assert any("flow bound not computed" in w for w in solution.warnings)
    assert any("LP bound not computed" in w for w in solution.warnings)
    assert any("no proven bound" in w for w in solution.warnings)


def test_greedy_with_an_imprecise_lp_keeps_its_bound_and_says_so(monkeypatch):
    problem = tight_problem(8)
    exact = solve_exact(problem).objective
    calls = {"n": 0}
    real = lp._solve_lp

    def first_fails(model):
        calls["n"] += 1
        return pywraplp.Solver.ABNORMAL if calls["n"] == 1 else real(model)

    monkeypatch.setattr(lp, "_solve_lp", first_fails)
    solution = solve_greedy(problem, with_explanations=False)
    assert solution.bound is not None and solution.bound <= exact + 1e-6 * abs(exact)
    assert solution.bound_source in ("flow", "lagrangian")
    assert any("solved again" in r for r in solution.stats["lp_retries"]) and solution.warnings == ()


@pytest.fixture(scope="module")
def small_dataset(tmp_path_factory):
    from data.generator import generate_scenario
    from data.io import write_dataset

    directory = tmp_path_factory.mktemp("failures") / "small"
    write_dataset(generate_scenario("small", seed=3), directory, "csv")
    return directory


@pytest.mark.parametrize("method", ["greedy", "optimal"])
def test_placement_solve_shows_the_failure_in_text_and_json(monkeypatch, tmp_path_factory, small_dataset, method):
    monkeypatch.setenv("PLACEMENT_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "travel-cache"))
    monkeypatch.setattr(lp, "_solve_lp", _fail_from(0))
    # the optimiser's HiGHS LP after the polish would give the bound back: off, to see the flow's
    monkeypatch.setattr(optimal, "_bound_after_polish", lambda *args: None)
    runner = CliRunner()
    result = runner.invoke(app, ["solve", "--data", str(small_dataset), "--method", method, "--json", "--time-limit", "10"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["bound_source"] == "flow" and report["bound"] is not None
    assert any("LP" in w and "abnormal" in w for w in report["warnings"])
    text = runner.invoke(app, ["solve", "--data", str(small_dataset), "--method", method, "--time-limit", "10",
                               "--lang", "en"])
    assert text.exit_code == 0, text.output
    flat = " ".join(text.output.split())
    assert "warning:" in flat and "abnormal" in flat and "(from the min-cost flow)" in flat
    french = runner.invoke(app, ["solve", "--data", str(small_dataset), "--method", method, "--time-limit", "10"])
    flat = " ".join(french.output.split())
    assert "avertissement :" in flat and "(par le flot à coût minimum)" in flat
    assert "la relaxation linéaire est anormale au tour 1" in flat and "abnormal" not in flat


@pytest.mark.parametrize("backend", ("HIGHS", "SCIP"))
@pytest.mark.parametrize("seed", (0, 8))
def test_flow_only_path_polish_keeps_every_hard_rule_and_never_worsens_the_starts(seed, backend):
    """Above max_lp_children the best start is polished by the MIP on the flow's support (HiGHS,
    which takes no start, by default; SCIP from the best start)."""
    problem = tight_problem(seed)
    exact = solve_exact(problem).objective
    no_lp = SolverSettings(time_limit_s=10.0, mip_gap=0.0, max_lp_children=0, polish_backend=backend,
                           lp_bound_after_polish=False)
    best = solve_optimal(problem, no_lp, with_explanations=False)
    _check(problem, best, exact)
    assert best.bound_source == "flow" and best.stats["polish_mip_status"] in ("OPTIMAL", "FEASIBLE", "NEIGHBOURHOOD ONLY")
    if best.stats["polish_mip_status"] == "NEIGHBOURHOOD ONLY":  # then the second polish runs its MIP
        assert backend == "HIGHS" and best.stats["polish_fratries_mip_status"] in ("OPTIMAL", "FEASIBLE")
    assert best.stats["polish_mip_backend"] == backend
    unpolished = solve_optimal(problem, SolverSettings(time_limit_s=10.0, max_lp_children=0, polish_arcs_per_child=0,
                                                       lp_bound_after_polish=False), with_explanations=False)
    require_valid(problem, unpolished.unit_of_child, "no polish")
    assert "polish_mip_status" not in unpolished.stats
    assert best.objective <= unpolished.objective + 1e-6


def test_polish_without_a_solution_keeps_the_best_start_and_says_so(monkeypatch):
    """A polish MIP that ends without a solution (HiGHS takes no start: its time can run out with
    nothing) leaves the best start, valid, with the flow bound, and a warning."""
    problem = tight_problem(0)
    exact = solve_exact(problem).objective
    real = optimal._exact_mip

    def no_solution(problem_, arcs, hint, settings, time_limit, backend=None, **more):
        if backend == settings.polish_backend and settings.max_lp_children == 0:
            return None, float("-inf"), {"mip_status": "NOT_SOLVED", "mip_backend": backend}
        return real(problem_, arcs, hint, settings, time_limit, backend, **more)

    monkeypatch.setattr(optimal, "_exact_mip", no_solution)
    best = solve_optimal(problem, SolverSettings(time_limit_s=10.0, max_lp_children=0, lp_bound_after_polish=False),
                         with_explanations=False)
    _check(problem, best, exact)
    assert best.bound_source == "flow" and best.stats["chosen"] != "polish"
    assert any("polish MIP ended NOT_SOLVED without a solution" in w for w in best.warnings), best.warnings


@pytest.mark.parametrize("backend", ("HIGHS", "SCIP"))
def test_the_polishes_leave_the_finish_reserve_of_the_budget(monkeypatch, backend):
    """Every polish MIP is given the budget less what is spent and less
    ``SolverSettings.finish_reserve_s`` (kept for the explanations and for a MIP that passes its
    own limit); with the reserve taking the whole budget the polishes are skipped, and say so."""
    problem = tight_problem(0)
    given: list[float] = []
    real = optimal._exact_mip

    def spy(problem_, arcs, hint, settings, time_limit, backend=None, **more):
        if backend == settings.polish_backend and settings.max_lp_children == 0:
            given.append(time_limit)
        return real(problem_, arcs, hint, settings, time_limit, backend, **more)

    monkeypatch.setattr(optimal, "_exact_mip", spy)
    base = dict(time_limit_s=10.0, max_lp_children=0, polish_backend=backend)
    best = solve_optimal(problem, SolverSettings(**base, finish_reserve_s=4.0), with_explanations=False)
    assert given and max(given) <= 6.0, given
    assert best.stats["polish_mip_time_limit"] <= 6.0
    given.clear()
    solve_optimal(problem, SolverSettings(**base, finish_reserve_s=0.0), with_explanations=False)
    assert given and max(given) > 6.0, given  # the spy sees the reserve when there is one
    given.clear()
    skipped = solve_optimal(problem, SolverSettings(**base, finish_reserve_s=9.5), with_explanations=False)
    assert not given and "polish_skipped" in skipped.stats
    require_valid(problem, skipped.unit_of_child, "no polish")
