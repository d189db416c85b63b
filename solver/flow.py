"""Min-cost flow relaxation: a proven lower bound and a starting assignment, in seconds at Paris scale.

Every eligible (child, unit) arc (``Problem.iter_blocks``: class rules and the judge's rules
applied) goes into one OR-Tools min-cost flow: each child sends one unit of flow either to a
unit (its cost) or to "no place" (its unplaced cost); units have their capacity for the scope.
Siblings-together (a soft rule at ``weights.siblings_split``), the judge's pairwise separations
and units that do not take siblings are left out, so the flow optimum is a relaxation: with
costs rounded *down* to 1/100 it is a proven lower bound on any feasible assignment.

:func:`repair` then makes the flow's assignment feasible (separations, units without siblings,
forbidden structures) and brings split fratries together where that lowers the objective.
"""

from __future__ import annotations

import numpy as np
from ortools.graph.python import min_cost_flow

from solver.lp import SolverError
from solver.problem import Problem

FRATRIE_STRUCTURES = 6
"""Nearest structures that could hold a whole fratrie tried when the flow splits it."""

PRICED_STRUCTURES = 300
"""The same, when places are priced (:func:`capacity_prices`): more are worth trying (Paris, scope
all: 50 -> 832,514, 300 -> 831,967 in +1.1 s, 1,000 -> 831,887 in +2.2 s)."""

SCALE = 100.0
"""Costs are integers in 1/SCALE minutes-equivalent (rounded down, so the bound stays valid)."""


def _eligible_arcs(problem: Problem, free: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(child, unit, cost) of every eligible arc (of the ``free`` children only, when given)."""
    kids, units, costs = [], [], []
    for block_kids, block_units, _minutes, cost, eligible in problem.iter_blocks():
        if free is not None:
            eligible = eligible & free[block_kids][:, None]
        r, c = np.nonzero(eligible)
        kids.append(block_kids[r])
        units.append(block_units[c])
        costs.append(cost[r, c])
    child = np.concatenate(kids) if kids else np.zeros(0, dtype=np.int64)
    unit = np.concatenate(units) if units else np.zeros(0, dtype=np.int64)
    cost = np.concatenate(costs) if costs else np.zeros(0)
    return child, unit, cost


def flow_relaxation(problem: Problem, fixed: np.ndarray | None = None) -> tuple[float, np.ndarray]:
    """(lower bound, unit index per child or -1) of the problem without its group rules.

    ``fixed``: unit per child already decided (-1: free); those children keep their unit and use
    its places, and the others are assigned optimally around them (the value is then no bound).
    """
    n, m = problem.n_children, problem.n_units
    capacity = problem.capacity.astype(np.int64).copy()
    free = np.ones(n, dtype=bool)
    if fixed is not None:
        free = fixed < 0
        capacity -= np.bincount(fixed[~free], minlength=m)
    child, unit, cost = _eligible_arcs(problem, free)
    sink = n + m
    f = min_cost_flow.SimpleMinCostFlow()
    tails = np.concatenate([child, np.arange(n), n + np.arange(m)]).astype(np.int64)
    heads = np.concatenate([n + unit, np.full(n, sink), np.full(m, sink)]).astype(np.int64)
    caps = np.concatenate([np.ones(len(child)), free, np.maximum(capacity, 0)]).astype(np.int64)
    unit_costs = np.floor(np.concatenate([cost, problem.unplaced_cost, np.zeros(m)]) * SCALE).astype(np.int64)
    arcs = f.add_arcs_with_capacity_and_unit_cost(tails, heads, caps, unit_costs)
    supplies = np.zeros(n + m + 1, dtype=np.int64)
    supplies[:n] = free
    supplies[sink] = -int(free.sum())
    f.set_nodes_supplies(np.arange(n + m + 1, dtype=np.int64), supplies)
    status = f.solve()
    if status != f.OPTIMAL:
        raise SolverError(f"the min-cost flow relaxation ended with status {status}")
    flows = f.flows(arcs[: len(child)])
    assigned = np.full(n, -1, dtype=np.int64) if fixed is None else fixed.astype(np.int64).copy()
    used = flows > 0
    assigned[child[used]] = unit[used]
    return f.optimal_cost() / SCALE, assigned


def capacity_prices(problem: Problem, relaxed: np.ndarray, max_rounds: int = 1000) -> np.ndarray:
    """Price of one place in each unit (>= 0) for the flow optimum ``relaxed``: its dual potentials.

    The smallest prices with which no child would rather take another unit (or its unplaced
    cost) than its place in ``relaxed``: ``price[v] >= own[c] - cost[c, v]`` for every eligible
    arc, ``own[c]`` being the child's priced cost in the flow (its unplaced cost when it has no
    place). Found by label-correcting rounds over all arcs (vectorised), with the flow's costs
    rounded down as in :func:`flow_relaxation`, so the rounds stop (no positive cycle at an
    optimum; units with a free place keep price 0). Any prices >= 0 give a valid Lagrangian
    bound (:func:`solver.lp.price_all`); these ones make it at least the flow bound up to rounding.
    """
    n, m = problem.n_children, problem.n_units
    child, unit, cost = _eligible_arcs(problem)
    cost = np.floor(cost * SCALE) / SCALE
    unplaced = np.floor(problem.unplaced_cost * SCALE) / SCALE
    placed = relaxed >= 0
    own = np.zeros(n)
    mine = relaxed[child] == unit
    own[child[mine]] = cost[mine]
    price = np.zeros(m)
    for _ in range(max_rounds):
        base = np.where(placed, own + price[np.maximum(relaxed, 0)], unplaced)
        new = np.zeros(m)
        np.maximum.at(new, unit, base[child] - cost)
        new = np.maximum(new, price)
        if np.allclose(new, price, rtol=0.0, atol=1e-9):
            break
        price = new
    return price


def place_fratries(problem: Problem, relaxed: np.ndarray, prices: np.ndarray | None = None) -> np.ndarray:
    """Unit per child (-1: left to the flow) for the fratries that must stay together.

    A fratrie that ``relaxed`` (the flow without group rules) already keeps in one structure
    stays where it is; a split one goes to the cheapest of the nearest structures that can hold
    it all with the places the others leave (or stays split when none can). With ``prices``
    (:func:`capacity_prices`) a place costs its cost plus its unit's price, which counts the
    children it would push out, and ``PRICED_STRUCTURES`` structures are tried instead of
    ``FRATRIE_STRUCTURES`` (Paris, scope all: 833,869 -> 831,967).
    """
    from solver.siblings import structures_for_group

    fixed = np.full(problem.n_children, -1, dtype=np.int64)
    split = []
    for block in problem.blocks:
        if not block.together:
            continue
        members = list(block.members)
        units = relaxed[members]
        if (units >= 0).all() and len({int(problem.unit_structure[u]) for u in units}) == 1:
            fixed[members] = units
        else:
            split.append(block)
    remaining = problem.capacity.astype(np.int64) - np.bincount(fixed[fixed >= 0], minlength=problem.n_units)
    for block in sorted(split, key=lambda b: (-len(b.members), b.group_id)):
        members = list(block.members)
        best = None
        limit = FRATRIE_STRUCTURES if prices is None else PRICED_STRUCTURES
        for _s, units, _minutes in structures_for_group(problem, block, remaining, limit=limit):
            cost = sum(problem.cost_of(x, u) + (0.0 if prices is None else prices[u]) for x, u in zip(members, units))
            if best is None or cost < best[0]:
                best = (cost, units)
        if best is not None:
            for x, u in zip(members, best[1]):
                fixed[x] = u
                remaining[u] -= 1
    return fixed


def _clashes(problem: Problem, partners: dict[int, list[int]], assigned: np.ndarray, i: int, u: int) -> bool:
    """Would child i in unit u break a group rule, given the others' places?"""
    s = int(problem.unit_structure[u])
    if s in problem.forbidden_structures.get(i, ()):
        return True
    for other in partners.get(i, ()):
        if assigned[other] >= 0 and problem.unit_structure[assigned[other]] == s:
            return True
    b = problem.block_of_child[i]
    if b >= 0 and not problem.unit_takes_siblings[u]:
        if any(assigned[x] == u for x in problem.blocks[b].members if x != i):
            return True
    return False


def repair(problem: Problem, assigned: np.ndarray) -> np.ndarray:
    """A feasible assignment close to ``assigned``: group rules enforced, split fratries regrouped when cheaper."""
    from solver.siblings import structures_for_group

    assigned = assigned.copy()
    partners: dict[int, list[int]] = {}
    for a, b in problem.separations:
        partners.setdefault(a, []).append(b)
        partners.setdefault(b, []).append(a)
    remaining = problem.capacity.astype(np.int64) - np.bincount(assigned[assigned >= 0], minlength=problem.n_units)
    # 1. take out every child that breaks a group rule given the children before it
    evicted = []
    for i in np.flatnonzero(assigned >= 0):
        u = int(assigned[i])
        assigned[i] = -1
        if _clashes(problem, partners, assigned, int(i), u):
            remaining[u] += 1
            evicted.append(int(i))
        else:
            assigned[i] = u
    # 2. put them back in their cheapest free unit that breaks nothing (or leave them without a place)
    for i in evicted:
        arcs = problem.arcs_of(i)
        for k in np.argsort(arcs.cost, kind="stable"):
            u = int(arcs.unit[k])
            if arcs.cost[k] >= problem.unplaced_cost[i]:
                break
            if remaining[u] > 0 and not _clashes(problem, partners, assigned, i, u):
                assigned[i] = u
                remaining[u] -= 1
                break
    # 3. regroup split fratries that must stay together, when the move lowers the objective
    for block in problem.blocks:
        if not block.together:
            continue
        members = list(block.members)
        placed = [m for m in members if assigned[m] >= 0]
        structures = {int(problem.unit_structure[assigned[m]]) for m in placed}
        if len(structures) <= 1:
            continue
        old = [int(assigned[m]) for m in members]
        before = sum(problem.cost_of(m, u) if u >= 0 else float(problem.unplaced_cost[m]) for m, u in zip(members, old))
        before += problem.weights.siblings_split * (len(structures) - 1)
        for m, u in zip(members, old):
            if u >= 0:
                remaining[u] += 1
                assigned[m] = -1
        best = None
        for _s, units, _minutes in structures_for_group(problem, block, remaining, limit=3):
            cost = sum(problem.cost_of(m, u) for m, u in zip(members, units))
            if cost < before - 1e-9 and not any(_clashes(problem, partners, assigned, m, u) for m, u in zip(members, units)):
                if best is None or cost < best[0]:
                    best = (cost, units)
        chosen = best[1] if best is not None else old
        for m, u in zip(members, chosen):
            if u >= 0:
                assigned[m] = u
                remaining[u] -= 1
    return assigned
