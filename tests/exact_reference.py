"""An exact reference for the batch optimiser: an independent MIP solved by HiGHS (scipy.optimize.milp).

Written apart from :mod:`solver.lp` (no shared model code) on purpose: the same eligible arcs and
costs (:meth:`solver.problem.Problem.arcs_of`, less the structures a child may not join), the
same hard rules, the same objective (:func:`solver.solution.objective_of`), so that the
optimiser's objective can be checked against a proven optimum and its bound against it.

Variables: ``x[a]`` per arc, ``y[c]`` no place, and for each fratrie that must stay together
``w[g,S]`` (some member in structure S) and ``k[g] >= 0`` (structures beyond the first, each
costing ``weights.siblings_split``). Rows: one place or none per child; capacity per unit;
``x[c in S] <= w[g,S]`` per member and structure; ``sum_S w[g,S] - k[g] <= 1``; a unit that does
not take siblings holds at most one member of a fratrie; a judge's separation order keeps two
children out of one structure. The valid inequalities ``sum over g's members in S <= P_S w[g,S]``
(``P_S``: the most members S could ever hold) are added only with ``strong=True``: they change
no integer solution, only the solve time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_matrix

from solver.problem import Problem


@dataclass(frozen=True)
class ExactResult:
    objective: float
    assigned: np.ndarray
    """Unit index per child, -1 without a place."""
    status: int
    message: str
    proven: bool
    """HiGHS proved optimality (status 0)."""


def _all_arcs(problem: Problem) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    child, unit, cost = [], [], []
    for i in range(problem.n_children):
        arcs = problem.arcs_of(i)
        banned = problem.forbidden_structures.get(i, frozenset())
        keep = ~np.isin(problem.unit_structure[arcs.unit], list(banned)) if banned else np.ones(len(arcs), bool)
        child.append(arcs.child[keep])
        unit.append(arcs.unit[keep])
        cost.append(arcs.cost[keep])
    if not child:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    return np.concatenate(child).astype(np.int64), np.concatenate(unit).astype(np.int64), np.concatenate(cost)


def _most_held(problem: Problem, units_of_member: list[np.ndarray]) -> int:
    """Most members that the given units (of one structure) can hold: a max matching with unit rooms."""
    room: dict[int, int] = {}
    for units in units_of_member:
        for u in units.tolist():
            room[u] = int(problem.capacity[u]) if problem.unit_takes_siblings[u] else min(1, int(problem.capacity[u]))
    held: dict[int, list[int]] = {u: [] for u in room}

    def augment(m: int, seen: set[int]) -> bool:
        for u in units_of_member[m].tolist():
            if u in seen or room[u] <= 0:
                continue
            seen.add(u)
            if len(held[u]) < room[u]:
                held[u].append(m)
                return True
            for other in list(held[u]):
                held[u].remove(other)
                held[u].append(m)
                if augment(other, seen):
                    return True
                held[u].remove(m)
                held[u].append(other)
        return False

    return sum(augment(m, set()) for m in range(len(units_of_member)))


def solve_exact(problem: Problem, time_limit_s: float = 120.0, strong: bool = True, mip_rel_gap: float = 1e-9) -> ExactResult:
    """The proven optimum of the problem (HiGHS branch and bound over every eligible arc)."""
    child, unit, cost = _all_arcs(problem)
    n_arcs, n = len(child), problem.n_children
    structure = problem.unit_structure[unit].astype(np.int64) if n_arcs else np.zeros(0, np.int64)
    costs = [cost, problem.unplaced_cost.astype(float)]
    n_var = n_arcs + n
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    lo: list[float] = []
    hi: list[float] = []

    def row(entries: list[tuple[int, float]], lower: float, upper: float) -> None:
        r = len(lo)
        for c, v in entries:
            rows.append(r)
            cols.append(c)
            vals.append(v)
        lo.append(lower)
        hi.append(upper)

    k_vars: list[int] = []
    arcs_of_child: dict[int, list[int]] = {}
    for a, i in enumerate(child.tolist()):
        arcs_of_child.setdefault(i, []).append(a)
    for i in range(n):
        row([(a, 1.0) for a in arcs_of_child.get(i, [])] + [(n_arcs + i, 1.0)], 1.0, 1.0)
    arcs_of_unit: dict[int, list[int]] = {}
    for a, u in enumerate(unit.tolist()):
        arcs_of_unit.setdefault(u, []).append(a)
    for u, arcs in arcs_of_unit.items():
        row([(a, 1.0) for a in arcs], -np.inf, float(problem.capacity[u]))
    for g, block in enumerate(problem.blocks):
        members = set(block.members)
        mine = [a for m in block.members for a in arcs_of_child.get(m, [])]
        by_unit: dict[int, list[int]] = {}
        for a in mine:
            by_unit.setdefault(int(unit[a]), []).append(a)
        for u, arcs in by_unit.items():
            if not problem.unit_takes_siblings[u] and len(arcs) > 1:
                row([(a, 1.0) for a in arcs], -np.inf, 1.0)
        if not block.together:
            continue
        k = n_var
        k_vars.append(k)
        costs.append(np.array([problem.weights.siblings_split]))
        n_var += 1
        by_structure: dict[int, list[int]] = {}
        for a in mine:
            by_structure.setdefault(int(structure[a]), []).append(a)
        w_of: dict[int, int] = {}
        for s, arcs in by_structure.items():
            w = n_var
            w_of[s] = w
            costs.append(np.zeros(1))
            n_var += 1
            for m in members:
                own = [a for a in arcs if child[a] == m]
                if own:
                    row([(a, 1.0) for a in own] + [(w, -1.0)], -np.inf, 0.0)
            if strong:
                units_of_member = [unit[[a for a in arcs if child[a] == m]] for m in block.members]
                most = _most_held(problem, units_of_member)
                if most < len(block.members):
                    row([(a, 1.0) for a in arcs] + [(w, -float(most))], -np.inf, 0.0)
        row([(w, 1.0) for w in w_of.values()] + [(k, -1.0)], -np.inf, 1.0)
    for a_child, b_child in problem.separations:
        for s in set(structure[arcs_of_child.get(a_child, [])].tolist()) & set(structure[arcs_of_child.get(b_child, [])].tolist()):
            entries = [(a, 1.0) for a in arcs_of_child[a_child] + arcs_of_child[b_child] if structure[a] == s]
            row(entries, -np.inf, 1.0)
    c = np.concatenate(costs)
    integrality = np.ones(n_var)
    upper = np.ones(n_var)
    upper[k_vars] = np.inf  # k[g]: a non-negative integer; every other variable is binary
    matrix = coo_matrix((vals, (rows, cols)), shape=(len(lo), n_var)).tocsr()
    result = milp(
        c,
        constraints=LinearConstraint(matrix, lo, hi),
        integrality=integrality,
        bounds=Bounds(np.zeros(n_var), upper),
        options={"time_limit": time_limit_s, "mip_rel_gap": mip_rel_gap, "disp": False},
    )
    if result.x is None:
        raise RuntimeError(f"HiGHS found no solution: {result.message}")
    on = result.x[:n_arcs] > 0.5
    assigned = np.full(n, -1, dtype=np.int64)
    assigned[child[on]] = unit[on]
    return ExactResult(float(result.fun), assigned, int(result.status), str(result.message), result.status == 0)
