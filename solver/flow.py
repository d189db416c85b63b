"""Min-cost flow relaxation: a proven lower bound, dual prices and a starting assignment, at any scale.

Each child sends one unit of flow either to a unit (its cost) or to "no place" (its unplaced
cost); units have their capacity for the scope. Siblings-together (a soft rule at
``weights.siblings_split``), the judge's pairwise separations and units that do not take
siblings are left out, so the flow optimum is a relaxation.

The flow never holds every eligible arc (300 million at 10x Paris scale would not fit in memory):
:func:`flow_relaxation` starts from the ``FLOW_CANDIDATES`` cheapest arcs of each child (and its
current unit), solves the flow (OR-Tools), recovers the dual price of a place in each unit
(:func:`_place_prices`), then makes one pass over **all** eligible arcs (:func:`_negative_arcs`,
compiled: :func:`solver.pricing.price_pass`) that gives the Lagrangian bound at those prices
(valid whatever the arcs held: weak duality) and the arcs whose reduced cost is negative; those
are added and the flow solved again, until no arc is left or the bound reaches the flow's value
(``converged``: the flow over the arcs held is then the flow over all arcs, up to the 1/100
rounding of costs), or comes within ``FLOW_GAP`` of it. Arcs are dropped between rounds only
after large falls of the value (``DROP_WHILE_FALLING``). A last pass (:func:`solver.lp.price_all`) raises the bound with the
fratries' structure.

:func:`flow_around` re-solves the flow with some children fixed (the fratries placed by
:func:`place_fratries`) on the arcs the relaxation held, and :func:`repair` makes an assignment
feasible (separations, units without siblings, forbidden structures) and brings split fratries
together where that lowers the objective.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from ortools.graph.python import min_cost_flow

from solver.lp import RowPrices, SolverError, price_all
from solver.pricing import keep_least, label_correcting, price_pass
from solver.problem import Arcs, Problem

FRATRIE_STRUCTURES = 6
"""Nearest structures that could hold a whole fratrie tried when the flow splits it."""

PRICED_STRUCTURES = 300
"""The same, when places are priced (:attr:`FlowRelaxation.prices`): more are worth trying (Paris,
scope all: 50 -> 832,514, 300 -> 831,967 in +1.1 s, 1,000 -> 831,887 in +2.2 s)."""

SCALE = 100.0
"""Costs are integers in 1/SCALE minutes-equivalent (rounded down, so the bound stays valid)."""

FLOW_CANDIDATES = 64
"""Cheapest eligible arcs per child the first flow holds (pricing adds the others that matter)."""

PRICED_PER_CHILD = 128
"""Most arcs with a negative reduced cost added per child and pricing round."""

KEPT_PER_CHILD = 64
"""Arcs of each child kept from one round to the next while the flow value falls: those of least
reduced cost (and the one it holds); the others are dropped, so the flow stays small at 10x (a
dropped arc comes back when the pricing pass finds it worth it again)."""

FLOW_GAP = 1e-4
"""The rounds also stop once the bound is within this share of the flow's value (``converged``
stays False then): at 10x Paris scale the last round took 7 s to close the last 0.0024%, and the
optimiser's gap is measured against the bound, which loses at most that share."""

PRICING_ROUNDS = 50
"""Most flow / pricing rounds (Paris scale converges in a few)."""

DROP_WHILE_FALLING = 1e-3
"""Arcs are dropped (down to ``KEPT_PER_CHILD`` per child) only after a round whose flow value fell
by more than this share; after smaller falls they accumulate. The smallest prices of a flow over
too few arcs make many arcs left out look cheap, so the bound stays low; at 10x Paris scale,
dropping after every fall, the value was within 0.003% of its last from round 20 while the
bound swung 2-6% below it for 30 more rounds, and came within 0.01% only on the rounds after
one where the value had not moved (so nothing was dropped): 50 rounds, 276 s, unconverged.
With 1e-4: 21 rounds, 142 s; 1e-3: 15 rounds, 115 s (4.8 million arcs held at the end); 1e-2:
14 rounds, 144 s (10 million arcs, slower flows); converged every time."""


@dataclass(frozen=True, eq=False)
class FlowRelaxation:
    """The flow relaxation solved by pricing: its assignment, dual prices and proven bound."""

    value: float
    """Flow optimum over the arcs held (costs rounded down to 1/100)."""
    assigned: np.ndarray
    """Unit index per child in the flow optimum (-1: no place); group rules ignored."""
    prices: np.ndarray
    """Dual price of one place in each unit (>= 0, minutes-equivalent): what the place is worth to
    the children of the flow; 0 for a unit the flow leaves with a free place."""
    bound: float
    """Lagrangian bound at ``prices`` over every eligible arc, each fratrie that must stay together
    taking its cheapest way into one structure (:func:`solver.lp.price_all`): a proven lower bound
    on every feasible assignment, converged or not."""
    arcs: Arcs
    """The arcs the last flow held."""
    rounds: int
    converged: bool
    """The last pass over every arc found none with a negative reduced cost."""
    stats: dict = field(default_factory=dict)
    own: np.ndarray | None = None
    """Priced cost of each child's place in the flow (its unplaced cost without one)."""

    def fratrie_support(self, problem: Problem, per_group: int) -> Arcs:
        """For each fratrie that must stay together and that the flow splits, every arc of its
        members into the ``per_group`` structures that could hold it whole at least priced cost
        (each member's cheapest eligible unit there at cost + the unit's price, summed; only
        structures with room for all of them). The flow ignores the group rules, so it never
        prices those arcs in: a restricted MIP without them can keep such a fratrie together
        only where its start put it (Paris, scale 0.2, seed 1: the optimum put 2 of the 3
        arcs it used outside the flow's arcs there, and the polish stopped 0.25% above it)."""
        from solver.siblings import places_for_group

        parts: list[tuple[np.ndarray, ...]] = []
        n_s = len(problem.structure_ids)
        for block in problem.blocks:
            if not block.together or per_group <= 0 or _kept_together(problem, self.assigned, block.members):
                continue
            member_arcs = [problem.arcs_of(m) for m in block.members]
            total = np.zeros(n_s)
            for arcs in member_arcs:
                cheapest = np.full(n_s, np.inf)
                np.minimum.at(cheapest, problem.unit_structure[arcs.unit], arcs.cost + self.prices[arcs.unit])
                total += cheapest
            total[places_for_group(problem, member_arcs, problem.capacity) < len(member_arcs)] = np.inf
            hopeful = np.flatnonzero(np.isfinite(total))
            best = hopeful[np.argsort(total[hopeful], kind="stable")[:per_group]]
            parts.extend(arcs.take(np.isin(problem.unit_structure[arcs.unit], best)).columns() for arcs in member_arcs)
        return Arcs.joined(parts)  # each child's arcs once: no pair twice

    def support(self, problem: Problem, per_child: int) -> Arcs:
        """The ``per_child`` arcs of least reduced cost of each child at the flow's prices (and
        the arc it holds): where a restricted MIP looks for a better assignment."""
        own = self.own if self.own is not None else _place_prices(problem, self.arcs, self.assigned)[1]
        return _keep_best(problem, self.arcs, self.assigned, self.prices, own, per_child)


def _min_cost_flow(problem: Problem, arcs: Arcs, capacity: np.ndarray, free: np.ndarray) -> tuple[float, np.ndarray]:
    """(optimum, unit per child or -1) of the flow of the ``free`` children over ``arcs``."""
    n, m = problem.n_children, problem.n_units
    sink = n + m
    child, unit = arcs.child.astype(np.int64), arcs.unit.astype(np.int64)
    f = min_cost_flow.SimpleMinCostFlow()
    tails = np.concatenate([child, np.arange(n), n + np.arange(m)])
    heads = np.concatenate([n + unit, np.full(n, sink), np.full(m, sink)])
    caps = np.concatenate([np.ones(len(child)), free, np.maximum(capacity, 0)]).astype(np.int64)
    costs = np.floor(np.concatenate([arcs.cost, problem.unplaced_cost, np.zeros(m)]) * SCALE).astype(np.int64)
    handles = f.add_arcs_with_capacity_and_unit_cost(tails, heads, caps, costs)
    supplies = np.zeros(n + m + 1, dtype=np.int64)
    supplies[:n] = free
    supplies[sink] = -int(free.sum())
    f.set_nodes_supplies(np.arange(n + m + 1, dtype=np.int64), supplies)
    status = f.solve()
    if status != f.OPTIMAL:
        raise SolverError(f"the min-cost flow relaxation ended with status {status}",
                          fr=f"la relaxation en flot de coût minimal s'est arrêtée avec le statut {status}")
    used = f.flows(handles[: len(child)]) > 0
    assigned = np.full(n, -1, dtype=np.int64)
    assigned[child[used]] = unit[used]
    return f.optimal_cost() / SCALE, assigned


def _place_prices(problem: Problem, arcs: Arcs, assigned: np.ndarray, max_rounds: int = 10_000) -> tuple[np.ndarray, np.ndarray]:
    """(price per unit, priced cost per child) of the flow optimum ``assigned`` over ``arcs``.

    The smallest prices ``>= 0`` with which no child would rather take another of its arcs (or
    its unplaced cost) than its place: ``price[v] >= own[c] - cost[c, v]``, ``own[c]`` being the
    child's cost plus its unit's price (its unplaced cost without a place). Label-correcting
    rounds over the arcs grouped by unit (compiled: :func:`solver.pricing.label_correcting`), on
    the flow's costs rounded down, so they stop: an optimum has no positive cycle, and a unit with
    a free place keeps price 0.
    """
    placed = assigned >= 0
    unplaced = np.floor(problem.unplaced_cost * SCALE) / SCALE
    price, own = label_correcting(arcs.child.astype(np.int64), arcs.unit.astype(np.int64), arcs.cost,
                                  np.asarray(assigned, dtype=np.int64), problem.unplaced_cost, problem.n_units,
                                  SCALE, max_rounds)
    return price, np.where(placed, own + price[np.maximum(assigned, 0)], unplaced)


def _keep_best(problem: Problem, arcs: Arcs, assigned: np.ndarray, prices: np.ndarray, own: np.ndarray, kept: int) -> Arcs:
    """The ``kept`` arcs of least reduced cost of each child, and the arc it holds."""
    if len(arcs) <= kept * problem.n_children:
        return arcs
    reduced = np.floor(arcs.cost * SCALE) / SCALE + prices[arcs.unit] - own[arcs.child]
    holds = assigned[arcs.child] == arcs.unit
    order = None if (np.diff(arcs.child) >= 0).all() else np.argsort(arcs.child, kind="stable")
    if order is None:
        keep = keep_least(arcs.child, reduced, holds, kept)
    else:
        keep = np.zeros(len(arcs), dtype=bool)
        keep[order] = keep_least(arcs.child[order], reduced[order], holds[order], kept)
    return arcs.take(keep)


def _negative_arcs(problem: Problem, prices: np.ndarray, own: np.ndarray, per_child: int) -> tuple[float, Arcs]:
    """One pass over every eligible arc at ``prices`` (:func:`solver.pricing.price_pass`): the
    capacity Lagrangian bound, and the (at most ``per_child``) arcs of each child whose priced
    cost is below ``own`` (negative reduced cost, on the flow's rounded costs)."""
    best, negative, _ = price_pass(problem, prices, own, -1e-7, per_child, SCALE)
    unplaced = problem.unplaced_cost
    bound = float(unplaced.sum() - (prices * problem.capacity).sum() + (np.minimum(unplaced, best) - unplaced).sum())
    return bound, negative


def flow_relaxation(
    problem: Problem,
    per_child: int = FLOW_CANDIDATES,
    max_rounds: int = PRICING_ROUNDS,
    kept_per_child: int = KEPT_PER_CHILD,
    gap: float = FLOW_GAP,
) -> FlowRelaxation:
    """The flow relaxation over every eligible arc, by pricing (see the module docstring)."""
    start = time.perf_counter()
    free = np.ones(problem.n_children, dtype=bool)
    t = time.perf_counter()
    arcs = problem.candidate_arcs(per_child)
    bound, rounds, converged = -np.inf, 0, False
    last_value = np.inf
    timings = {"candidates": time.perf_counter() - t, "flow": 0.0, "prices": 0.0, "pricing_pass": 0.0}
    history: list[tuple[float, float, int, float]] = []
    while True:
        t = time.perf_counter()
        value, assigned = _min_cost_flow(problem, arcs, problem.capacity, free)
        timings["flow"] += time.perf_counter() - t
        t = time.perf_counter()
        prices, own = _place_prices(problem, arcs, assigned)
        timings["prices"] += time.perf_counter() - t
        rounds += 1
        more = rounds < max_rounds
        t = time.perf_counter()
        round_bound, negative = _negative_arcs(problem, prices, own, PRICED_PER_CHILD if more else 0)
        timings["pricing_pass"] += time.perf_counter() - t
        bound = max(bound, round_bound)
        history.append((round(value, 2), round(round_bound, 2), len(arcs), round(time.perf_counter() - start, 2)))
        if not len(negative) or round_bound >= value:
            # no arc left, or the bound at these prices has reached the flow's value (costs
            # rounded down): no flow over every arc is cheaper, whatever the arcs left out
            converged = more
            break
        if bound >= value - gap * abs(value):
            break
        # drop arcs only while the flow value falls by more than DROP_WHILE_FALLING: it cannot
        # fall that much forever, and after smaller falls arcs only accumulate (every arc added
        # is new: those held have no negative reduced cost), so the rounds cannot cycle
        if not np.isfinite(last_value) or value < last_value - DROP_WHILE_FALLING * abs(last_value):
            arcs = _keep_best(problem, arcs, assigned, prices, own, kept_per_child)
        last_value = value
        arcs = arcs.merged(negative, problem.n_units)
    # the same prices with each fratrie that must stay together taking one structure: higher
    t = time.perf_counter()
    capacity_bound = bound
    bound = max(bound, price_all(problem, RowPrices(prices), None, 0)[0])
    timings["fratrie_bound"] = time.perf_counter() - t
    stats = {"flow_rounds": rounds, "flow_arcs": len(arcs), "flow_value": value,
             "flow_converged": converged, "flow_capacity_bound": capacity_bound,
             "flow_seconds_total": round(time.perf_counter() - start, 3)}
    stats.update({f"flow_{k}_seconds": round(v, 3) for k, v in timings.items()})
    stats["flow_history"] = history
    return FlowRelaxation(value, assigned, prices, bound, arcs, rounds, converged, stats, own)


def flow_around(problem: Problem, relaxation: FlowRelaxation, fixed: np.ndarray) -> np.ndarray:
    """Unit per child: the ``fixed`` ones (>= 0) keep their unit and its place, the others are
    assigned by the flow over the arcs the relaxation held (not a bound)."""
    free = fixed < 0
    capacity = problem.capacity.astype(np.int64) - np.bincount(fixed[~free], minlength=problem.n_units)
    if (capacity < 0).any():
        raise SolverError("flow_around: the fixed children overfill a unit",
                          fr="flow_around : les enfants fixés dépassent la capacité d'une unité")
    arcs = relaxation.arcs
    keep = free[arcs.child]
    _, assigned = _min_cost_flow(problem, arcs.take(keep), capacity, free)
    assigned[~free] = fixed[~free]
    return assigned


def _kept_together(problem: Problem, assigned: np.ndarray, members) -> bool:  # noqa: ANN001
    """Every member placed, all in one structure."""
    units = assigned[list(members)]
    return bool((units >= 0).all()) and len({int(problem.unit_structure[u]) for u in units}) == 1


def place_fratries(problem: Problem, relaxed: np.ndarray, prices: np.ndarray | None = None) -> np.ndarray:
    """Unit per child (-1: left to the flow) for the fratries that must stay together.

    A fratrie that ``relaxed`` (the flow without group rules) already keeps in one structure
    stays where it is; a split one goes to the cheapest of the nearest structures that can hold
    it all with the places the others leave (or stays split when none can). With ``prices``
    (:attr:`FlowRelaxation.prices`) a place costs its cost plus its unit's price, which counts the
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
        if _kept_together(problem, relaxed, members):
            fixed[members] = relaxed[members]
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


def _clashes(problem: Problem, partners: dict[int, tuple[int, ...]], assigned: np.ndarray, i: int, u: int) -> bool:
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
    partners = problem.separation_partners
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
