"""The optimal method: LP relaxation priced to convergence, then an exact MIP (HiGHS) in two stages.

Steps (each timed in ``Solution.stats``):

1. **Relaxation** (:mod:`solver.lp`, after step 2's flow): GLOP on the k cheapest arcs per child plus, for every
   fratrie that must stay together, the structures that could hold it whole; arcs with a negative
   reduced cost over *all* eligible arcs are added (pricing) until none is left (``lp_converged``)
   or the round / time cap is hit. Its Lagrangian bound ``L`` (over all arcs) is always valid.
2. **Warm start**: the greedy baseline (up to ``SolverSettings.max_lp_children`` children, or when
   the flow fails: above that the flow's starts are far better and greedy is slow) and two repaired min-cost flow solutions
   (:mod:`solver.flow`: the flow over every eligible arc without the group rules, solved by
   pricing from the cheapest arcs of each child, so it runs at 10x Paris scale too; its dual
   prices give a proven bound, the Lagrangian with the fratries' structure,
   :attr:`solver.flow.FlowRelaxation.bound`): split fratries placed at raw cost, and at cost +
   the flow's price of each place; and a rounding of the LP. The best is the MIP's hint. Above
   ``SolverSettings.max_lp_children`` children, or if GLOP fails after its retries, steps 1, 3
   and 4 are skipped (a warning says so when GLOP failed) and the best start is polished by HiGHS
   on the flow's cheapest priced arcs per child in the time left, each polish starting with a
   neighbourhood step (:func:`_neighbourhood_start`); the bound is the flow's (Paris scale, scope
   "all"; GLOP does not converge there). In the time the polishes leave
   (``SolverSettings.lp_bound_after_polish``), the LP of step 1 is priced by HiGHS from the
   polish's model and basis (:func:`solver.lp.highs_relaxation`), and stage 2 below runs from the
   best answer on the polish's model plus the arcs within ``I - L`` (:func:`_exact_after_polish`):
   mid-size batches (500-2,500 children) get the LP's bound and often the proven optimum; at
   Paris scale, scope all, no time is left in 14 s.
3. **Stage 1**: SCIP from the best start on the LP's arcs (the LP's own model with binary
   variables, built by :class:`solver.lp._Model`), stopped at 0.1%: a good incumbent ``I``,
   never worse than the start.
4. **Stage 2**: every eligible arc whose Lagrangian excess is at most ``T = I - L``
   (:func:`solver.lp.arcs_within`, one vectorised pass over all arcs) is added, and the MIP is
   solved again (``SolverSettings.mip_backend``, HiGHS), to ``SolverSettings.mip_gap``.
5. The best assignment found is re-scored exactly; gap = (objective - bound) / objective.

**Why the stage-2 MIP bound is a bound for the whole problem.** Relax capacities, separations and
units-without-siblings at the multipliers that gave ``L``: any feasible assignment ``x`` costs at
least ``L`` plus, for each child (each fratrie that must stay together), the excess of its choice
over its cheapest priced option, every excess >= 0 (weak duality). So an assignment that uses an
arc left out of stage 2 (excess > T) costs more than ``L + T = I``. Any assignment either uses only
kept arcs, and costs at least the MIP's best bound ``B`` on them, or costs more than ``I >= B``
(the incumbent is in the kept set). Hence ``min(B, L + T)`` bounds every feasible assignment; the
reported bound is the max of that, ``L`` and the flow bound. The excess is computed from the Lagrangian, not from
the LP's reduced costs, so it holds whether or not pricing converged and whatever GLOP's
tolerances; the bound is only as tight as ``L`` makes the filter (a weak ``L`` keeps more arcs).
When stage 1 already holds every arc within ``T``, its bound is used directly; when more than
``SolverSettings.max_stage2_arcs`` would be added, stage 2 is skipped and only ``L`` is reported.

The LP's value itself is never reported as the bound, even when its solution is integral: only
Lagrangian bounds (valid for any multipliers) and the stage-2 argument are. Only arcs that pass
every hard rule exist, so the model is always feasible (every child may stay without a place); an
infeasible status is reported as a solver failure. SCIP (now HiGHS) replaced an earlier CP-SAT exact step
because CP-SAT did not close the integrality gap (Paris, waiting children: FEASIBLE at 170,519
after 30 s, where SCIP proves 169,043 optimal in 3 s).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import scipy.sparse
from ortools.linear_solver import pywraplp

from matcher.words import Said

from solver.explain import explain
from solver.flow import flow_around, flow_relaxation, place_fratries, repair
from solver.greedy import greedy_assignment
from solver.lp import (Relaxation, RowPrices, SolverError, _Model, _quiet_highs, arcs_within, drop_forbidden,
                       highs_lp, highs_relaxation, solve_relaxation)
from solver.problem import Arcs, Problem
from solver.siblings import split_cause
from solver.solution import Solution, SolverSettings, SplitReport, extra_structures, objective_of

STAGE1_MIP_GAP = 0.001
"""Relative gap at which stage 1 (on the LP's arcs, for an incumbent) stops."""


def _arcs_of_assignment(problem: Problem, assigned: np.ndarray) -> Arcs:
    kids = np.flatnonzero(assigned >= 0)
    units = assigned[kids]
    cost, minutes = problem.pair_costs(kids, units)
    return Arcs(kids.astype(np.int32), units.astype(np.int32), cost, minutes)


def _round_relaxation(problem: Problem, relaxation: Relaxation) -> np.ndarray:
    """A feasible assignment from the LP: arcs by decreasing LP value, kept when they still fit."""
    arcs, x = relaxation.arcs, relaxation.x
    order = np.lexsort((arcs.cost, -x))
    remaining = problem.capacity.copy()
    assigned = np.full(problem.n_children, -1, dtype=np.int64)
    structure_of_block: dict[int, int] = {}
    for a in order:
        if x[a] < 1e-6:
            break
        i, u = int(arcs.child[a]), int(arcs.unit[a])
        if assigned[i] >= 0 or remaining[u] <= 0:
            continue
        s = int(problem.unit_structure[u])
        g = int(problem.block_of_child[i])
        if g >= 0:
            block = problem.blocks[g]
            if block.together and structure_of_block.get(g, s) != s:
                continue
            if not problem.unit_takes_siblings[u] and any(assigned[m] == u for m in block.members):
                continue
        if any(assigned[o] >= 0 and problem.unit_structure[assigned[o]] == s for o in problem.separation_partners.get(i, ())):
            continue
        assigned[i] = u
        remaining[u] -= 1
        if g >= 0:
            structure_of_block.setdefault(g, s)
    return assigned


def _is_integral(relaxation: Relaxation) -> bool:
    x = relaxation.x
    w = np.array(list(relaxation.w.values())) if relaxation.w else np.zeros(0)
    return bool(np.all(np.minimum(x, 1 - x) < 1e-6) and np.all(np.minimum(w, 1 - w) < 1e-6))


def _from_relaxation(problem: Problem, relaxation: Relaxation) -> np.ndarray:
    assigned = np.full(problem.n_children, -1, dtype=np.int64)
    on = relaxation.x > 0.5
    assigned[relaxation.arcs.child[on]] = relaxation.arcs.unit[on]
    return assigned


def _exact_mip(problem: Problem, arcs: Arcs, hint: np.ndarray, settings: SolverSettings, time_limit: float,
               backend: str | None = None, neighbourhood: bool = False,
               mip: bool = True, kept: dict | None = None) -> tuple[np.ndarray | None, float, dict]:
    """The MIP on the kept arcs (the LP's own model with binary variables; ``backend``, default
    ``settings.mip_backend``), started from ``hint`` (an assignment: unit per child, -1 none):
    assignment, best bound (a valid lower bound on the MIP over these arcs, -inf when none was
    proven), stats. With ``neighbourhood`` (HiGHS only), the hint is first improved by
    :func:`_neighbourhood_start`, and without ``mip`` that step's assignment is the answer (no
    bound: -inf). ``kept``: a dict that keeps the model for a later call, which then only adds
    the arcs it lacks (the MIP is over every arc the model holds: call it on supersets)."""
    backend = backend or settings.mip_backend
    began = time.perf_counter()
    model = kept.get("model") if kept is not None else None
    if model is None:
        model = _Model(problem, SolverSettings(time_limit_s=max(0.5, time_limit)), backend=backend)
        if kept is not None:
            kept["model"] = model
    model.add(arcs)
    held = model.arcs()
    hinted = hint[held.child] == held.unit
    if backend == "HIGHS":
        return _highs_mip(problem, model, held, hinted, hint, settings, time_limit, began, neighbourhood, mip, kept)
    model.lp.SetHint(model.vars, [1.0 if h else 0.0 for h in hinted.tolist()])
    params = pywraplp.MPSolverParameters()
    params.SetDoubleParam(params.RELATIVE_MIP_GAP, settings.mip_gap)
    if settings.log:
        model.lp.EnableOutput()
    t = time.perf_counter()
    # the time limit counts from the call: building the model (Python, one arc at a time) takes
    # part of it (about 1 s for 34,000 arcs; without this the polish overran its budget by that)
    limit = max(0.5, time_limit - (t - began))
    model.lp.SetTimeLimit(int(limit * 1000))
    status = model.lp.Solve(params)
    stats = {
        "mip_status": {pywraplp.Solver.OPTIMAL: "OPTIMAL", pywraplp.Solver.FEASIBLE: "FEASIBLE",
                       pywraplp.Solver.NOT_SOLVED: "NOT_SOLVED"}.get(status, f"status {status} (time limit)" if status == 99 else str(status)),
        "mip_backend": backend,
        "mip_seconds": round(time.perf_counter() - t, 3),
        "mip_time_limit": round(limit, 3),
        "mip_build_seconds": round(t - began, 3),
        "mip_nodes": model.lp.nodes(),
        "mip_arcs": len(held),
    }
    if status not in (pywraplp.Solver.OPTIMAL, pywraplp.Solver.FEASIBLE):
        if status == pywraplp.Solver.INFEASIBLE:
            raise SolverError(f"the MIP solver ({backend}) says the model is infeasible, which cannot happen "
                              "(every child may stay without a place)",
                              fr=f"le solveur ({backend}) déclare le modèle impossible, ce qui ne peut pas arriver "
                                 "(chaque enfant peut rester sans place)")
        return None, -np.inf, stats
    bound = model.objective.BestBound()
    stats["mip_bound"] = bound
    chosen = np.array([v.solution_value() > 0.5 for v in model.vars], dtype=bool)
    assigned = np.full(problem.n_children, -1, dtype=np.int64)
    assigned[held.child[chosen]] = held.unit[chosen]
    return assigned, bound, stats


def _highs_mip(problem: Problem, model: _Model, held: Arcs, hinted: np.ndarray, hint: np.ndarray,
               settings: SolverSettings, time_limit: float, began: float,
               neighbourhood: bool = False, mip: bool = True,
               kept: dict | None = None) -> tuple[np.ndarray | None, float, dict]:
    """:func:`_exact_mip` by HiGHS through its own bindings (``highspy``): the model built by
    :class:`solver.lp._Model` goes over as arrays, with the hint as a start. Through OR-Tools,
    HiGHS took no start (it then spent most of its time finding any good solution: Paris, scope
    all, seed 5, polish on 41,000 arcs, 920,398 until the sub-MIP found 850,089 at 17.6 s) and
    reported no dual bound; here it starts from the hint, so it is never worse than it, and its
    dual bound is valid whether it ends optimal or at the time limit."""
    import highspy

    lp = highs_lp(model)
    n_var, n_row = int(lp.num_col_), int(lp.num_row_)
    matrix = lp.a_matrix_
    h = _quiet_highs(highspy) if not settings.log else highspy.Highs()
    h.setOptionValue("output_flag", bool(settings.log))
    # half the gap asked, as through OR-Tools before: the waiting batch then ends at its proven
    # optimum (with the whole gap, 4 of 20 seeds stopped 0.001-0.007% above it)
    h.setOptionValue("mip_rel_gap", float(settings.mip_gap) / 2)
    start_values = _start(problem, model, hinted, hint, n_var)
    built = time.perf_counter()
    stats: dict = {}
    if neighbourhood:
        start_values, stats = _neighbourhood_start(highspy, lp, start_values, matrix, began + time_limit, settings,
                                                   kept)
        if not mip:
            stats |= {"mip_status": "NEIGHBOURHOOD ONLY", "mip_backend": "HIGHS", "mip_time_limit": round(time_limit, 3),
                      "mip_build_seconds": round(built - began, 3), "mip_arcs": len(held), "mip_bound": -np.inf}
            return _assignment_of(problem, model, held, start_values), -np.inf, stats
    h.passModel(lp)
    h.setSolution(n_var, np.arange(n_var, dtype=np.int32), start_values)
    t = time.perf_counter()
    limit = float(max(0.5, time_limit - (t - began)))
    h.setOptionValue("time_limit", limit)
    h.run()
    status, info = h.getModelStatus(), h.getInfo()
    feasible = info.primal_solution_status == 2  # kSolutionStatusFeasible
    stats |= {
        "mip_status": "OPTIMAL" if status == highspy.HighsModelStatus.kOptimal else
        ("FEASIBLE" if feasible else f"{h.modelStatusToString(status)} (no solution)"),
        "mip_backend": "HIGHS",
        "mip_seconds": round(time.perf_counter() - t, 3),
        "mip_time_limit": round(limit, 3),
        "mip_build_seconds": round(built - began, 3),
        "mip_nodes": int(info.mip_node_count),
        "mip_arcs": len(held),
    }
    if status == highspy.HighsModelStatus.kInfeasible:
        raise SolverError("the MIP solver (HiGHS) says the model is infeasible, which cannot happen "
                          "(every child may stay without a place)",
                          fr="le solveur (HiGHS) déclare le modèle impossible, ce qui ne peut pas arriver "
                             "(chaque enfant peut rester sans place)")
    bound = float(info.mip_dual_bound) if np.isfinite(info.mip_dual_bound) else -np.inf
    stats["mip_bound"] = bound
    if not feasible:
        return None, bound, stats
    return _assignment_of(problem, model, held, np.asarray(h.getSolution().col_value)), bound, stats


def _assignment_of(problem: Problem, model: _Model, held: Arcs, values: np.ndarray) -> np.ndarray:
    """Unit per child (-1: none) of the values of ``model``'s variables."""
    chosen = values[[v.index() for v in model.vars]] > 0.5
    assigned = np.full(problem.n_children, -1, dtype=np.int64)
    assigned[held.child[chosen]] = held.unit[chosen]
    return assigned


NEIGHBOURHOOD_SHARE = 0.5
"""Most share of a polish's time the neighbourhood step (:func:`_neighbourhood_start`) may use."""


def _neighbourhood_start(highspy, lp, start: np.ndarray, matrix, deadline: float,  # noqa: ANN001
                         settings: SolverSettings, kept: dict | None = None) -> tuple[np.ndarray, dict]:
    """A better start for a polish MIP, found fast: its LP relaxation is solved, then the MIP with
    every integer variable fixed at the start's value except those that share a row (a child, a
    unit's capacity, a fratrie's structure) with one where the relaxation and the start differ
    (a relaxation-induced neighbourhood, as HiGHS's own RINS, but before the root's cut rounds:
    on 2 cores those take 5 s at Paris scale, scope all, and a polish given 8-9 s then often ended
    where it started: seeds 4 and 5 at 0.75% and 0.88%). Returns the start values (the old ones
    when nothing better was found in time) and the step's stats. Only an assignment: the polish's
    own MIP still runs from it in the time left. ``kept`` (see :func:`_exact_mip`): the relaxation's
    basis is kept there, and a later step on a model that extends this one (its columns and rows
    first, in the same order) starts from it, the new columns at their lower bound and the new rows'
    slacks basic: a primal feasible basis, as the new columns are 0."""
    began = time.perf_counter()
    limit = (deadline - began) * NEIGHBOURHOOD_SHARE
    stats: dict = {"neighbourhood_free": 0, "neighbourhood_seconds": 0.0}
    if limit < 0.5:
        stats["neighbourhood_skipped"] = f"{limit:.1f} s, too little time"
        return start, stats
    n_var, n_row = int(lp.num_col_), int(lp.num_row_)
    integer = np.array([t != highspy.HighsVarType.kContinuous for t in lp.integrality_], dtype=bool)
    h = _quiet_highs(highspy)
    h.setOptionValue("output_flag", bool(settings.log))
    h.passModel(lp)
    columns = np.arange(n_var, dtype=np.int32)
    h.changeColsIntegrality(n_var, columns, np.zeros(n_var, dtype=np.uint8))  # kContinuous
    h.setOptionValue("time_limit", float(limit))
    earlier = kept.get("basis") if kept is not None else None
    if earlier is not None and len(earlier[0]) <= n_var and len(earlier[1]) <= n_row:
        basis = highspy.HighsBasis()
        basis.col_status = earlier[0] + [highspy.HighsBasisStatus.kLower] * (n_var - len(earlier[0]))
        basis.row_status = earlier[1] + [highspy.HighsBasisStatus.kBasic] * (n_row - len(earlier[1]))
        basis.valid = True
        stats["neighbourhood_warm"] = h.setBasis(basis) == highspy.HighsStatus.kOk
    h.run()
    if kept is not None and h.getBasis().valid:
        got = h.getBasis()
        kept["basis"] = (list(got.col_status), list(got.row_status))
    stats["neighbourhood_relaxation_seconds"] = round(time.perf_counter() - began, 3)
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        stats["neighbourhood_skipped"] = f"relaxation ended {h.modelStatusToString(h.getModelStatus())}"
        stats["neighbourhood_seconds"] = round(time.perf_counter() - began, 3)
        return start, stats
    relaxed = np.asarray(h.getSolution().col_value)
    stats["neighbourhood_relaxation_objective"] = round(float(h.getInfo().objective_function_value), 3)
    rows = scipy.sparse.csr_matrix((np.ones(len(matrix.index_), dtype=np.int32), np.asarray(matrix.index_),
                                    np.asarray(matrix.start_)), shape=(n_row, n_var))
    differ = (np.abs(relaxed - start) > 1e-6).astype(np.int32)
    touched = (rows @ differ > 0).astype(np.int32)
    free = (rows.T @ touched > 0) | (differ > 0)
    fixed = columns[integer & ~free]
    stats["neighbourhood_free"] = int(n_var - fixed.size)
    h.changeColsIntegrality(n_var, columns, np.where(integer, 1, 0).astype(np.uint8))  # kInteger where it was
    h.changeColsBounds(fixed.size, fixed, start[fixed], start[fixed])
    h.setOptionValue("mip_rel_gap", float(settings.mip_gap) / 2)
    h.setOptionValue("time_limit", float(max(0.5, limit - (time.perf_counter() - began))))
    h.setSolution(n_var, columns, start)
    h.run()
    info = h.getInfo()
    stats["neighbourhood_seconds"] = round(time.perf_counter() - began, 3)
    if info.primal_solution_status != 2:  # no feasible solution (not even the start): keep the start
        return start, stats
    found = np.asarray(h.getSolution().col_value)
    cost = np.asarray(lp.col_cost_)
    stats["neighbourhood_objective"] = round(float(cost @ found + lp.offset_), 3)
    if cost @ found < cost @ start - 1e-9:
        return np.round(found), stats
    return start, stats


def _start(problem: Problem, model: _Model, hinted: np.ndarray, hint: np.ndarray, n_var: int) -> np.ndarray:
    """The value of every variable of ``model`` for the assignment ``hint``: its arcs, "no place",
    each fratrie's structures (``w``) and structures beyond the first."""
    values = np.zeros(n_var)
    values[[v.index() for v in model.vars]] = hinted
    values[[y.index() for y in model.unplaced_vars]] = hint < 0
    structure = np.where(hint >= 0, problem.unit_structure[np.maximum(hint, 0)], -1)
    for (g, s), w in model.w_var.items():
        values[w.index()] = float(any(structure[m] == s for m in problem.blocks[g].members))
    for g, k in model.split_vars.items():
        used = {int(structure[m]) for m in problem.blocks[g].members if structure[m] >= 0}
        values[k.index()] = max(len(used) - 1, 0)
    return values


STAGE2_MIN_SECONDS = 1.0
"""Stage 2 runs only when this much time is left once its model is built."""


def _build_seconds(earlier: dict, n_arcs: int) -> float:
    """Seconds to build a MIP of ``n_arcs`` arcs, at the rate an earlier MIP's build ran on this
    machine (``earlier``: its stats, ``mip_arcs`` and ``mip_build_seconds``; stage 1, the first polish)."""
    arcs, seconds = earlier.get("mip_arcs") or 0, earlier.get("mip_build_seconds") or 0.0
    return n_arcs * seconds / arcs if arcs and seconds > 0 else 0.0


def _polish(problem: Problem, support: Arcs, hint: np.ndarray, settings: SolverSettings, time_limit: float,
            name: str, stats: dict, warnings: list[str], mip: bool = True,
            kept: dict | None = None) -> np.ndarray | None:
    """The MIP (``settings.polish_backend``) on ``support`` from ``hint``, after the neighbourhood
    step when ``settings.polish_neighbourhood`` (HiGHS), or that step alone without ``mip``: its
    assignment (None, with a warning, when it ended without one); its stats go in ``stats`` under
    ``name``. ``kept``: see :func:`_exact_mip`."""
    neighbourhood = settings.polish_neighbourhood and settings.polish_backend == "HIGHS"
    polished, _, polish_stats = _exact_mip(problem, drop_forbidden(problem, support), hint, settings, time_limit,
                                           backend=settings.polish_backend, neighbourhood=neighbourhood,
                                           mip=mip or not neighbourhood, kept=kept)
    stats.update({f"{name}_{k}": v for k, v in polish_stats.items()})
    if polished is None:
        warnings.append(Said(f"polish MIP ended {polish_stats['mip_status']} without a solution in {time_limit:.1f} s: "
                             "the best start stands",
                             f"l'amélioration (MIP) s'est arrêtée ({polish_stats['mip_status']}) sans solution en "
                             f"{time_limit:.0f} s : la meilleure solution de départ est gardée"))
    return polished


def _best_start(problem: Problem, candidates: list[tuple[str, np.ndarray]]) -> np.ndarray:
    """The candidate assignment of least objective (the hint of the next MIP step)."""
    values = {name: objective_of(problem, a) for name, a in candidates}
    return dict(candidates)[min(values, key=values.get)]


def _within_gap(problem: Problem, rows: RowPrices, threshold: float, held: Arcs, stats: dict) -> tuple[Arcs, np.ndarray]:
    """Stage 2's arcs: every arc whose Lagrangian excess at ``rows`` is at most ``threshold``
    (:func:`solver.lp.arcs_within`), and which of them ``held`` lacks; timed in ``stats``."""
    t = time.perf_counter()
    within = arcs_within(problem, rows, threshold)
    new = ~np.isin(_keys(problem, within), _keys(problem, held))
    stats["arcs_within_threshold"] = len(within)
    stats["arcs_within_seconds"] = round(time.perf_counter() - t, 3)
    stats["stage2_new_arcs"] = int(new.sum())
    return within, new


def _bound_after_polish(problem: Problem, settings: SolverSettings, left: float, kept: dict,
                        support: Callable[[], Arcs], bounds: dict[str, float], stats: dict,
                        warnings: list[str], centre: tuple | None = None) -> Relaxation | None:
    """In the ``left`` seconds after the polishes, the LP relaxation by pricing from the polish's
    model and its relaxation's basis (or a new model on the arcs ``support()`` gives: asked only
    then, as at 10x Paris scale choosing them takes seconds): its Lagrangian joins
    ``bounds`` as ``lagrangian`` (the highest bound is reported). A failure is a warning, the
    flow's bound stands; too little time is only said in the stats. Returns the relaxation when
    it gave a finite bound."""
    if left < settings.polish_min_seconds:
        stats["lp_bound_skipped"] = (f"{max(left, 0.0):.1f} s left before the last {settings.finish_reserve_s:g} s, "
                                     "less than SolverSettings.polish_min_seconds")
        return None
    model = kept.get("model")
    try:
        tightened = highs_relaxation(problem, settings, time.perf_counter() + left, model=model,
                                     arcs=None if model is not None else support(), basis=kept.get("basis"),
                                     centre=centre)
    except SolverError as error:
        warnings.append(Said(f"LP relaxation after the polish failed ({error}): the flow's bound stands",
                             f"la relaxation linéaire après l'amélioration a échoué ({error.said('fr')}) : la borne "
                             "du flot est gardée"))
        return None
    if tightened is None:
        stats["lp_bound_skipped"] = "no LP round ended before the time limit"
        return None
    stats.update({f"bound_{k}": v for k, v in tightened.stats.items()})
    warnings.extend(tightened.warnings)
    if not np.isfinite(tightened.bound) or tightened.rows is None:
        return None
    bounds["lagrangian"] = tightened.bound
    return tightened


def _exact_after_polish(problem: Problem, settings: SolverSettings, tightened: Relaxation, hint: np.ndarray,
                        left: float, kept: dict, bounds: dict[str, float], stats: dict) -> np.ndarray | None:
    """Stage 2 of the LP path (see the module docstring) after the bound step, in the ``left``
    seconds: the MIP from the best assignment ``hint`` (incumbent ``I``) on the polish's model
    plus every arc whose Lagrangian excess at ``tightened``'s multipliers is at most ``I - L``.
    Its bound, capped at ``I``, is a bound for the whole problem (``bounds["mip"]``); its
    assignment is returned. Skipped, and said in the stats, with too little time or too many
    arcs: routine at Paris scale, where the polishes use the budget."""
    incumbent = objective_of(problem, hint)
    threshold = incumbent - tightened.bound
    if threshold <= 0:
        return None
    if left < settings.polish_min_seconds:
        stats["stage2_skipped"] = f"{max(left, 0.0):.1f} s left, less than SolverSettings.polish_min_seconds"
        return None
    t = time.perf_counter()
    model = kept.get("model")
    within, new = _within_gap(problem, tightened.rows, threshold, model.arcs() if model is not None else Arcs.empty(),
                              stats)
    first = {k: stats.get(f"polish_{k}") for k in ("mip_arcs", "mip_build_seconds")}
    left -= time.perf_counter() - t
    if new.sum() > settings.max_stage2_arcs:
        stats["stage2_skipped"] = (f"{int(new.sum())} arcs could beat the incumbent, more than "
                                   f"SolverSettings.max_stage2_arcs ({settings.max_stage2_arcs})")
        return None
    if (build := _build_seconds(first, int(new.sum()))) > left - settings.polish_min_seconds:
        stats["stage2_skipped"] = f"its {int(new.sum())} new arcs would take about {build:.1f} s to build, {left:.1f} s left"
        return None
    exact, mip_bound, exact_stats = _exact_mip(problem, within.take(new), hint, settings, left, kept=kept)
    stats.update({f"stage2_{k}": v for k, v in exact_stats.items()})
    if exact is None:
        return None
    bounds["mip"] = min(mip_bound, incumbent)
    return exact


def _keys(problem: Problem, arcs: Arcs) -> np.ndarray:
    return arcs.child.astype(np.int64) * max(problem.n_units, 1) + arcs.unit


def solve_optimal(problem: Problem, settings: SolverSettings | None = None, with_explanations: bool = True) -> Solution:
    """Best assignment of the problem's children (see the module docstring), with bound and gap.

    Every step that fails (the flow, GLOP after its retries, the MIP) is said in
    ``Solution.warnings``, and ``Solution.bound_source`` says where the bound comes from.
    """
    settings = settings or SolverSettings()
    start = time.perf_counter()
    candidates: list[tuple[str, np.ndarray]] = []
    start_arcs = Arcs.empty()
    warnings: list[str] = []
    bounds: dict[str, float] = {}
    """Each proven bound found, by source (the reported bound is the highest)."""
    stats: dict = {"children": problem.n_children, "units": problem.n_units}

    def time_left(reserve: float = 0.0) -> float:
        """Seconds of the budget left, less ``reserve``."""
        return settings.time_limit_s - reserve - (time.perf_counter() - start)

    def add_greedy() -> None:
        # the greedy baseline as a start (one arc list per child: 46 s at 10x Paris scale, where
        # the flow's starts are far better; there it runs only when the flow fails)
        nonlocal start_arcs
        t = time.perf_counter()
        greedy, _ = greedy_assignment(problem)
        stats["greedy_seconds"] = round(time.perf_counter() - t, 3)
        stats["greedy_objective"] = objective_of(problem, greedy)
        candidates.append(("greedy", greedy))
        start_arcs = start_arcs.merged(_arcs_of_assignment(problem, greedy), problem.n_units)

    if problem.n_children <= settings.max_lp_children:
        add_greedy()
    t = time.perf_counter()
    relaxed = None
    if problem.n_children:
        # the min-cost flow over every arc without the group rules, by pricing: dual prices and a
        # proven bound (the Lagrangian at those prices, with the fratries' structure), and two
        # starts: split fratries placed at raw cost, and at cost + price (which counts the
        # children a place pushes out). The raw-cost start is never the better one (Paris
        # scale, scope all, 20 seeds), but its arcs widen the polish's support: without it the
        # polished gap's median went from 0.068% to 0.084%
        try:
            relaxed = flow_relaxation(problem)
        except SolverError as error:
            warnings.append(Said(f"flow relaxation failed ({error}): no flow bound or flow start",
                                 f"la relaxation en flot a échoué ({error.said('fr')}) : ni borne ni solution de départ "
                                 "du flot"))
        if relaxed is not None:
            bounds["flow"] = relaxed.bound
            stats.update(relaxed.stats)
            for name, prices in (("flow", None), ("flow_priced", relaxed.prices)):
                t_start = time.perf_counter()
                assigned = repair(problem, flow_around(problem, relaxed, place_fratries(problem, relaxed.assigned, prices)))
                stats[f"start_{name}_seconds"] = round(time.perf_counter() - t_start, 3)
                candidates.append((name, assigned))
                start_arcs = start_arcs.merged(_arcs_of_assignment(problem, assigned), problem.n_units)
    stats["flow_seconds"] = round(time.perf_counter() - t, 3)
    if not candidates:
        add_greedy()
    stats["flow_bound"] = bounds.get("flow")
    relaxation = None
    if not problem.n_children:
        bounds["empty"] = 0.0
    elif problem.n_children > settings.max_lp_children:
        # by design: GLOP does not converge in the budget at Paris scale, scope all
        stats["lp_skipped"] = (f"{problem.n_children} children: more than SolverSettings.max_lp_children "
                               f"({settings.max_lp_children})")
    else:
        try:
            relaxation = solve_relaxation(problem, settings, extra_arcs=start_arcs)
        except SolverError as error:
            stats["lp_error"] = str(error)
            warnings.append(Said(f"LP relaxation failed ({error}); the LP bound and the exact MIP steps are skipped",
                                 f"la relaxation linéaire a échoué ({error.said('fr')}) ; sa borne et les étapes du "
                                 "modèle exact sont sautées"))
    if relaxation is not None:
        stats.update(relaxation.stats)
        warnings.extend(relaxation.warnings)
        if np.isfinite(relaxation.bound):
            bounds["lagrangian"] = relaxation.bound
        stats["lp_integral"] = _is_integral(relaxation)
        candidates.append(("lp_rounding", _round_relaxation(problem, relaxation)))
        if stats["lp_integral"]:
            candidates.append(("lp", _from_relaxation(problem, relaxation)))
        hint = _best_start(problem, candidates)
        # stage 1: the MIP on the LP's arcs (and the hint's), for a good incumbent
        kept = relaxation.arcs.merged(_arcs_of_assignment(problem, hint), problem.n_units)
        remaining = time_left()
        # (an incumbent is all stage 1 is for: a looser gap is enough)
        stage1 = replace(settings, mip_gap=max(settings.mip_gap, STAGE1_MIP_GAP))
        # SCIP, from the best start: never worse than it, even when the time runs out (HiGHS takes
        # no start, and on a loaded machine it ended its time with no solution at all: seed 15)
        exact, kept_bound, exact_stats = _exact_mip(problem, kept, hint, stage1, remaining * 0.5, backend="SCIP")
        stats.update({f"stage1_{k}": v for k, v in exact_stats.items()})
        if exact is not None:
            candidates.append(("mip", exact))
            hint = exact
        else:
            warnings.append(Said(f"exact MIP (stage 1) ended {exact_stats['mip_status']} without a solution: the best "
                                 "start stands",
                                 f"le modèle exact (étape 1) s'est arrêté ({exact_stats['mip_status']}) sans solution : "
                                 "la meilleure solution de départ est gardée"))
        incumbent = objective_of(problem, hint)
        # stage 2: every arc whose Lagrangian excess could still beat the incumbent (see the
        # module docstring); then the MIP's bound on those arcs is a bound for the whole problem
        if relaxation.rows is not None and np.isfinite(relaxation.bound):
            threshold = incumbent - relaxation.bound
            within, new = _within_gap(problem, relaxation.rows, threshold, kept, stats)
            if not new.any():
                if exact is not None:
                    bounds["mip"] = min(kept_bound, incumbent)
            elif (build := _build_seconds(exact_stats, len(kept) + int(new.sum()))) > (
                    left := time_left()) - STAGE2_MIN_SECONDS:
                # building the model alone would use the time left (Paris, scope all at scale
                # 0.2: 172,000 arcs, 3.8 s to build with 2.2 s left; the solve overran its 14 s by 3 s)
                warnings.append(Said(f"exact MIP stage 2 skipped: {int(new.sum())} more arcs would take about "
                                     f"{build:.0f} s to build with {max(left, 0.0):.0f} s left: no MIP bound",
                                     f"étape 2 du modèle exact sautée : {int(new.sum())} arcs de plus prendraient environ "
                                     f"{build:.0f} s à construire, il reste {max(left, 0.0):.0f} s : pas de borne du "
                                     "modèle exact"))
            elif new.sum() <= settings.max_stage2_arcs:
                kept = kept.merged(within.take(new), problem.n_units)
                remaining = time_left()
                exact, kept_bound, exact_stats = _exact_mip(problem, kept, hint, settings, remaining)
                stats.update({f"stage2_{k}": v for k, v in exact_stats.items()})
                if exact is not None:
                    candidates.append(("mip2", exact))
                    bounds["mip"] = min(kept_bound, relaxation.bound + threshold)
                    if exact_stats["mip_status"] != "OPTIMAL" and kept_bound < relaxation.bound:
                        warnings.append(Said(f"exact MIP (stage 2, {int(new.sum())} more arcs) stopped at the time "
                                             "limit before its bound passed the Lagrangian's: the gap is to the "
                                             "Lagrangian bound",
                                             f"le modèle exact (étape 2, {int(new.sum())} arcs de plus) a atteint le "
                                             "temps limite avant que sa borne dépasse celle du lagrangien : l'écart "
                                             "est mesuré à la borne du lagrangien"))
                else:
                    warnings.append(Said(f"exact MIP (stage 2) ended {exact_stats['mip_status']} without a solution: "
                                         "its bound is not used",
                                         f"le modèle exact (étape 2) s'est arrêté ({exact_stats['mip_status']}) sans "
                                         "solution : sa borne n'est pas utilisée"))
            else:
                warnings.append(Said(f"exact MIP stage 2 skipped: {int(new.sum())} arcs could beat the incumbent, more "
                                     f"than SolverSettings.max_stage2_arcs ({settings.max_stage2_arcs}); the bound is "
                                     "the Lagrangian",
                                     f"étape 2 du modèle exact sautée : {int(new.sum())} arcs pourraient battre la "
                                     f"meilleure solution, plus que SolverSettings.max_stage2_arcs "
                                     f"({settings.max_stage2_arcs}) ; la borne est celle du lagrangien"))
    kept: dict = {}
    """The polishes' model (and their relaxation's basis), which the bound step extends."""
    support: Arcs | None = None
    if relaxation is None and relaxed is not None and settings.polish_arcs_per_child:
        # no LP over every arc (Paris scale, scope all, or GLOP failed): polish the best start
        # with the MIP on the flow's cheapest priced arcs of each child and the starts' arcs, in
        # the time left (a better assignment, not a bound: that MIP sees only some arcs)
        # (the polish MIP starts from the best start: never worse than it; with HiGHS through
        # OR-Tools it took none, and a polish that ran out of time had nothing)
        # (both polishes leave SolverSettings.finish_reserve_s of the budget for what follows)
        remaining = time_left(settings.finish_reserve_s)
        if remaining >= settings.polish_min_seconds:
            hint = _best_start(problem, candidates)
            support = relaxed.support(problem, settings.polish_arcs_per_child).merged(start_arcs, problem.n_units)
            # a second polish, in the time left, with the arcs that keep each fratrie the flow splits in one
            # of its best structures (the flow never prices them in): a second MIP, from the first's
            # answer. Not the first step: that MIP is harder, and at Paris scale on 2 cores it often
            # needs more than the 14 s budget (scope all, 20 seeds: BENCHMARKS.md). When it runs,
            # the first polish is its neighbourhood step alone (SolverSettings.polish_neighbourhood):
            # most of what the first MIP found in 5-9 s, in 2-3 s, and the rest of the time for the second
            wider = support.merged(relaxed.fratrie_support(problem, settings.polish_fratrie_structures), problem.n_units)
            # the second polish's model is the first's with the fratries' arcs added (its build
            # took 1.0-1.7 s on 41,000 arcs, Python, one arc at a time: the second's time)
            polished = _polish(problem, support, hint, settings, remaining, "polish", stats, warnings,
                               mip=len(wider) == len(support), kept=kept)
            if polished is not None:
                candidates.append(("polish", polished))
                hint = polished
            remaining = time_left(settings.finish_reserve_s)
            # its model takes the build of its new arcs: with less time left than that, it would
            # only overrun the budget (scale 2, scope all, when it was built anew: 1.9 s to build
            # with 1 s left, and the solve took 14.4 s of 14)
            first = {k: stats.get(f"polish_{k}") for k in ("mip_arcs", "mip_build_seconds")}
            build = _build_seconds(first, len(wider) - len(support) if kept else len(wider))
            if len(wider) > len(support) and remaining < settings.polish_min_seconds + build:
                stats["polish_fratries_skipped"] = (f"{remaining:.1f} s left, less than its model's build and "
                                                    "SolverSettings.polish_min_seconds")
            elif len(wider) > len(support):
                polished = _polish(problem, wider, hint, settings, remaining, "polish_fratries", stats, warnings,
                                   kept=kept)
                if polished is not None:
                    candidates.append(("polish_fratries", polished))
        else:
            stats["polish_skipped"] = (f"{remaining:.1f} s left before the last {settings.finish_reserve_s:g} s "
                                       "(finish_reserve_s), less than SolverSettings.polish_min_seconds")
    if relaxation is None and relaxed is not None and settings.lp_bound_after_polish and problem.n_children:
        # the flow's multipliers as the centre of the rounds' smoothing (each child's dual: its
        # priced cost in the flow)
        centre = None if relaxed.own is None else (RowPrices(relaxed.prices), relaxed.own, relaxed.bound)
        tightened = _bound_after_polish(problem, settings, time_left(settings.finish_reserve_s), kept,
                                        lambda: support if support is not None else relaxed.support(problem, 8),
                                        bounds, stats, warnings, centre)
        if tightened is not None:
            proven = _exact_after_polish(problem, settings, tightened, _best_start(problem, candidates),
                                         time_left(settings.finish_reserve_s), kept, bounds, stats)
            if proven is not None:
                candidates.append(("mip2", proven))
    values = {name: objective_of(problem, a) for name, a in candidates}
    best_name = min(values, key=lambda n: (round(values[n], 6), not n.startswith(("mip", "polish"))))
    assigned = dict(candidates)[best_name]
    finite = {k: v for k, v in bounds.items() if np.isfinite(v) and v > -1e19}  # -1e20: the MIP stopped before any bound
    if finite:
        source = max(finite, key=lambda k: (finite[k], k == "mip"))
        bound: float | None = finite[source]
        source = "flow" if source == "empty" else source
    else:
        bound, source = None, None
        warnings.append(Said("no proven bound could be computed (see the warnings above): the gap is unknown",
                             "aucune borne prouvée n'a pu être calculée (voir les avertissements ci-dessus) : "
                             "l'écart est inconnu"))
    stats["bound_source"] = source
    stats["bounds"] = {k: round(float(v), 3) for k, v in finite.items()}
    stats["chosen"] = best_name
    stats["objectives"] = {name: round(float(v), 3) for name, v in values.items()}
    splits = [
        SplitReport(
            b.group_id,
            tuple(sorted({problem.structure_ids[problem.unit_structure[assigned[m]]] for m in b.members if assigned[m] >= 0})),
            split_cause(problem, b, None, "optimal"),
        )
        for g, b in enumerate(problem.blocks)
        if extra_structures(problem, assigned, g)
    ]
    solve_s = time.perf_counter() - start
    t = time.perf_counter()
    explanations = explain(problem, assigned) if with_explanations else {}
    stats["explain_seconds"] = round(time.perf_counter() - t, 3)
    stats["solve_seconds"] = round(solve_s, 3)
    return Solution.of_assignment(problem, assigned, "optimal", bound, start, stats, splits, explanations,
                                  bound_source=source, warnings=warnings)
