"""The LP relaxation of the batch model (GLOP), priced over every eligible arc, and its proven bound.

Model (the same as the exact one in :mod:`solver.optimal`, with 0 <= variables <= 1):

* ``x[c,u]``: child c in unit u, only for eligible arcs; ``y[c] = 1 - sum_u x[c,u]``: no place.
* ``sum_u x[c,u] + y[c] = 1`` for every child (dual ``mu[c]``).
* ``sum_c x[c,u] <= capacity[u]`` for every unit (dual ``-price[u]``, ``price >= 0``).
* fratrie that must stay together: ``sum_{u in S} x[c,u] <= w[g,S]`` for every member and
  structure, ``k[g] >= sum_S w[g,S] - 1`` structures beyond the first, each costing
  ``weights.siblings_split``; and, where structure S can hold only ``P_S`` < all of its members
  (:func:`solver.siblings.most_members_held`), the valid inequality
  ``sum_{c in g, u in S} x[c,u] <= P_S * w[g,S]`` (without it a fratrie of two can sit half in
  each of two structures with one free place each, at no split cost: the LP was 3.1% below the
  optimum on the waiting batch of generated seed 7).
* a unit that does not take siblings holds at most one member of a fratrie.
* judge's separation orders: two named children never in one structure.

The LP starts from the k cheapest arcs per child and adds arcs not yet held with a negative
reduced cost (``cost[c,u] + price[u] - mu[c]`` plus the duals of the separation, sibling-unit and
fratrie rows the arc enters; column generation) until none is left. Whatever the rounds left,
the *bound* is a Lagrangian bound valid for the whole problem: capacities are relaxed with the LP's
prices, then every child takes its cheapest priced option over **all** its eligible arcs
(vectorised), and every fratrie its cheapest way to be in one structure, or to split at the
penalty. It never exceeds the optimum (weak duality). Pricing runs until no arc is left to add
(``Relaxation.converged``), at most ``SolverSettings.pricing_rounds`` rounds and half the time
limit: with only a few rounds the prices are far from optimal and the bound can be useless
(negative at Paris scale). :func:`arcs_within` lists every arc whose Lagrangian excess is below a
threshold, which :mod:`solver.optimal` uses to make the exact model's bound a global one.
The same :class:`_Model` built with ``backend="SCIP"`` is the exact MIP.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from ortools.linear_solver import pywraplp
from scipy.optimize import linear_sum_assignment

from matcher.errors import PlacementError

from matcher.words import Said

from solver.pricing import all_arcs, price_pass
from solver.problem import Arcs, Problem, SiblingBlock
from solver.solution import SolverSettings


class SolverError(PlacementError):
    """The solver could not produce a result (and says why)."""


@dataclass(frozen=True, eq=False)
class Relaxation:
    """The LP relaxation's value, the proven bound, the prices and the fractional solution."""

    value: float
    """LP optimum over the arcs it holds (minutes-equivalent)."""
    bound: float
    """Proven lower bound on every feasible assignment (Lagrangian over all eligible arcs)."""
    prices: np.ndarray
    """Shadow price of one place in each unit (>= 0, minutes-equivalent)."""
    child_duals: np.ndarray
    arcs: Arcs
    x: np.ndarray
    """LP value of each arc."""
    w: dict[tuple[int, int], float]
    """LP value of fratrie g in structure S."""
    stats: dict = field(default_factory=dict)
    rows: "RowPrices | None" = None
    """The multipliers that gave ``bound`` (for :func:`arcs_within`)."""
    converged: bool = False
    """Pricing found no arc outside the LP with a negative reduced cost (fratrie rows' duals
    included): the LP over its arcs is the LP over every arc."""
    warnings: tuple[str, ...] = ()
    """What went wrong and could not be recovered (rounds lost). A round GLOP solved on a retry
    is listed in ``stats["lp_retries"]`` instead: the answer is as good, and the bound as valid."""


class _Model:
    """The LP, built incrementally so that priced arcs can be added between solves."""

    def __init__(self, problem: Problem, settings: SolverSettings, backend: str = "GLOP") -> None:
        self.p = problem
        self.integer = backend != "GLOP"
        """Binary arcs and fratrie variables: a MIP for ``backend`` (SCIP) instead of the LP."""
        self.lp = pywraplp.Solver.CreateSolver(backend)
        if self.lp is None:  # pragma: no cover - GLOP and SCIP ship with OR-Tools
            raise SolverError(f"OR-Tools solver {backend} is not available", fr=f"le solveur {backend} d'OR-Tools n'est pas disponible")
        self.lp.SetTimeLimit(int(max(1.0, settings.time_limit_s) * 1000))
        inf = self.lp.infinity()
        self.child_row = []
        self.unplaced_vars: list[pywraplp.Variable] = []
        """Each child's "no place" variable (a MIP start sets them with the arcs')."""
        self.objective = self.lp.Objective()
        for i in range(problem.n_children):
            row = self.lp.Constraint(1.0, 1.0, f"child_{i}")
            y = self.lp.Var(0.0, 1.0, self.integer, f"unplaced_{i}")
            row.SetCoefficient(y, 1.0)
            self.objective.SetCoefficient(y, float(problem.unplaced_cost[i]))
            self.child_row.append(row)
            self.unplaced_vars.append(y)
        self.capacity_row: dict[int, pywraplp.Constraint] = {}
        self.link_row: dict[tuple[int, int], pywraplp.Constraint] = {}  # (child, structure)
        self.w_var: dict[tuple[int, int], pywraplp.Variable] = {}  # (block, structure)
        self.k_row: dict[int, pywraplp.Constraint] = {}
        self.sib_row: dict[tuple[int, int], pywraplp.Constraint] = {}  # (block, unit)
        self.fratrie_row: dict[tuple[int, int], pywraplp.Constraint] = {}  # (block, structure), P_S < members
        self._member_arcs: dict[int, list[Arcs]] = {}
        self.sep_row: dict[tuple[int, int], pywraplp.Constraint] = {}  # (pair, structure)
        self.sep_of: dict[int, list[int]] = {}
        self.split_vars: dict[int, pywraplp.Variable] = {}
        """Each fratrie's structures beyond the first (``siblings_split`` each)."""
        for k, (a, b) in enumerate(problem.separations):
            self.sep_of.setdefault(a, []).append(k)
            self.sep_of.setdefault(b, []).append(k)
        for g, block in enumerate(problem.blocks):
            if block.together:
                kvar = self.lp.Var(0.0, inf, self.integer, f"split_{g}")
                self.split_vars[g] = kvar
                self.objective.SetCoefficient(kvar, problem.weights.siblings_split)
                row = self.lp.Constraint(-inf, 1.0, f"siblings_together_{g}")
                row.SetCoefficient(kvar, -1.0)
                self.k_row[g] = row
        self.vars: list[pywraplp.Variable] = []
        self.arc_child: list[np.ndarray] = []
        self.arc_unit: list[np.ndarray] = []
        self.arc_cost: list[np.ndarray] = []
        self.arc_minutes: list[np.ndarray] = []
        self.known: set[int] = set()
        self.objective.SetMinimization()

    def add(self, arcs: Arcs) -> int:
        p, lp = self.p, self.lp
        n_units = max(p.n_units, 1)
        keys = arcs.child.astype(np.int64) * n_units + arcs.unit
        fresh = np.array([k not in self.known for k in keys.tolist()], dtype=bool)
        if not fresh.any():
            return 0
        child, unit, cost, minutes = arcs.child[fresh], arcs.unit[fresh], arcs.cost[fresh], arcs.minutes[fresh]
        self.known.update(keys[fresh].tolist())
        inf = lp.infinity()
        for i, u, c in zip(child.tolist(), unit.tolist(), cost.tolist()):
            x = lp.Var(0.0, 1.0, self.integer, "")
            self.objective.SetCoefficient(x, c)
            self.child_row[i].SetCoefficient(x, 1.0)
            cap = self.capacity_row.get(u)
            if cap is None:
                cap = self.capacity_row[u] = lp.Constraint(-inf, float(p.capacity[u]), f"capacity_{u}")
            cap.SetCoefficient(x, 1.0)
            s = int(p.unit_structure[u])
            g = int(p.block_of_child[i])
            if g >= 0:
                if p.blocks[g].together:
                    w = self.w_var.get((g, s))
                    if w is None:
                        w = self.w_var[(g, s)] = lp.Var(0.0, 1.0, self.integer, f"w_{g}_{s}")
                        self.k_row[g].SetCoefficient(w, 1.0)
                        self._add_fratrie_row(g, s, w)
                    strong = self.fratrie_row.get((g, s))
                    if strong is not None:
                        strong.SetCoefficient(x, 1.0)
                    link = self.link_row.get((i, s))
                    if link is None:
                        link = self.link_row[(i, s)] = lp.Constraint(-inf, 0.0, "")
                        link.SetCoefficient(w, -1.0)
                    link.SetCoefficient(x, 1.0)
                if not p.unit_takes_siblings[u]:
                    row = self.sib_row.get((g, u))
                    if row is None:
                        row = self.sib_row[(g, u)] = lp.Constraint(-inf, 1.0, "")
                    row.SetCoefficient(x, 1.0)
            for k in self.sep_of.get(i, ()):
                row = self.sep_row.get((k, s))
                if row is None:
                    row = self.sep_row[(k, s)] = lp.Constraint(-inf, 1.0, "")
                row.SetCoefficient(x, 1.0)
            self.vars.append(x)
        self.arc_child.append(child)
        self.arc_unit.append(unit)
        self.arc_cost.append(cost)
        self.arc_minutes.append(minutes)
        return int(child.size)

    def _add_fratrie_row(self, g: int, s: int, w: pywraplp.Variable) -> None:
        """``sum over g's members in S of x <= P_S * w[g,S]`` when S can hold fewer than all of them.

        Valid for every integer solution (S never holds more than ``P_S`` members,
        :func:`solver.siblings.most_members_held`); without it the relaxation can put a fratrie of
        two half in each of two structures with one free place each at no split cost.
        """
        from solver.siblings import most_members_held  # local: siblings imports problem only

        block = self.p.blocks[g]
        member_arcs = self._member_arcs.get(g)
        if member_arcs is None:
            member_arcs = self._member_arcs[g] = [self.p.arcs_of(m) for m in block.members]
        most = most_members_held(self.p, member_arcs, s)
        if most < len(block.members):
            row = self.fratrie_row[(g, s)] = self.lp.Constraint(-self.lp.infinity(), 0.0, f"fratrie_{g}_{s}")
            row.SetCoefficient(w, -float(most))

    def arcs(self) -> Arcs:
        if not self.arc_child:
            return Arcs.empty()
        return Arcs(
            np.concatenate(self.arc_child), np.concatenate(self.arc_unit),
            np.concatenate(self.arc_cost), np.concatenate(self.arc_minutes),
        )


def drop_forbidden(problem: Problem, arcs: Arcs) -> Arcs:
    """Remove arcs into structures a child may not join (a separated child lives there)."""
    if not problem.forbidden_structures or not len(arcs):
        return arcs
    n_s = max(len(problem.structure_ids), 1)
    banned = np.array([i * n_s + s for i, structures in problem.forbidden_structures.items() for s in structures],
                      dtype=np.int64)
    keep = ~np.isin(arcs.child.astype(np.int64) * n_s + problem.unit_structure[arcs.unit], banned)
    return arcs.take(keep)


@dataclass(frozen=True, eq=False)
class RowPrices:
    """Multipliers (>= 0) of the relaxed coupling rows: capacities, separations, units without siblings."""

    unit: np.ndarray
    separation: dict[tuple[int, int], float] = field(default_factory=dict)
    """(separation pair index, structure) -> multiplier of ``x[a in S] + x[b in S] <= 1``."""
    sibling_unit: dict[tuple[int, int], float] = field(default_factory=dict)
    """(block, unit) -> multiplier of ``sum of the fratrie's x in the unit <= 1``."""


@dataclass(frozen=True, eq=False)
class FratrieDuals:
    """Penalties (``-dual >= 0``) of the LP's fratrie rows, which the Lagrangian does not relax but
    which enter the reduced cost of an arc: ``x[c in S] <= w[g,S]`` and ``sum x[g in S] <= P_S w``."""

    link: dict[tuple[int, int], float] = field(default_factory=dict)
    """(child, structure) -> penalty of ``x[c in S] <= w[g,S]``."""
    strong: dict[tuple[int, int], float] = field(default_factory=dict)
    """(block, structure) -> penalty of ``sum over g's members in S <= P_S w[g,S]``."""


def _special_children(problem: Problem) -> np.ndarray:
    """Children whose options the coupling rows other than capacity touch: priced one by one."""
    special = np.zeros(problem.n_children, dtype=bool)
    for a, b in problem.separations:
        special[[a, b]] = True
    special[list(problem.forbidden_structures)] = True
    special[problem.block_of_child >= 0] = True
    return special


def _priced_arcs(problem: Problem, children: list[int], rows: RowPrices) -> dict[int, tuple[Arcs, np.ndarray]]:
    """``{child: (its eligible arcs, their priced costs)}`` for ``children`` (the special ones):
    the arcs of :meth:`~solver.problem.Problem.arcs_of` less forbidden structures, from one
    compiled pass (:func:`solver.pricing.all_arcs`; 6,000 fratrie members at 10x Paris scale:
    6 s child by child with NumPy)."""
    sep_of = _separations_of(problem)
    every, start = all_arcs(problem, np.asarray(children, dtype=np.int64))
    out: dict[int, tuple[Arcs, np.ndarray]] = {}
    for k, i in enumerate(children):
        a, b = start[k], start[k + 1]
        arcs = drop_forbidden(problem, every.take(slice(a, b)))
        out[i] = (arcs, _priced(problem, i, arcs, rows, sep_of))
    return out


def _priced(problem: Problem, i: int, arcs: Arcs, rows: RowPrices, sep_of: dict[int, list[int]]) -> np.ndarray:
    """Priced costs of child i's ``arcs``: cost, unit price, and the multipliers of its separation
    and unit-without-siblings rows."""
    priced = arcs.cost + rows.unit[arcs.unit]
    structures = problem.unit_structure[arcs.unit]
    for k in sep_of.get(i, ()):
        for (kk, s), nu in rows.separation.items():
            if kk == k and nu:
                priced = priced + nu * (structures == s)
    g = int(problem.block_of_child[i])
    if g >= 0 and rows.sibling_unit:
        for (gg, u), nu in rows.sibling_unit.items():
            if gg == g and nu:
                priced = priced + nu * (arcs.unit == u)
    return priced


def _separations_of(problem: Problem) -> dict[int, list[int]]:
    sep_of: dict[int, list[int]] = {}
    for k, (a, b) in enumerate(problem.separations):
        sep_of.setdefault(a, []).append(k)
        sep_of.setdefault(b, []).append(k)
    return sep_of


_NO_WAY = 1e15
"""Cost of an impossible cell in the assignment of a fratrie's members to one structure's places."""


def _fratrie_in_structure(problem: Problem, block: SiblingBlock, priced_of: dict[int, tuple[Arcs, np.ndarray]], s: int) -> float:
    """Cheapest way for the fratrie's members to live in structure ``s`` or have no place, at the
    priced costs, with at most ``capacity[u]`` members in a unit (one in a unit that does not
    take siblings): an assignment problem (members x places), solved exactly."""
    members = list(block.members)
    size = len(members)
    slots: list[int] = []
    for m in members:
        arcs, _ = priced_of[m]
        for u in np.unique(arcs.unit[problem.unit_structure[arcs.unit] == s]).tolist():
            if u not in slots:
                slots.append(u)
    columns = [u for u in slots for _ in range(min(size, int(problem.capacity[u]) if problem.unit_takes_siblings[u] else 1))]
    cost = np.full((size, len(columns) + size), _NO_WAY)
    position = {u: [k for k, v in enumerate(columns) if v == u] for u in slots}
    for r, m in enumerate(members):
        arcs, priced = priced_of[m]
        inside = problem.unit_structure[arcs.unit] == s
        for u, p in zip(arcs.unit[inside].tolist(), priced[inside].tolist()):
            cost[r, position[u]] = p
        cost[r, len(columns) + r] = problem.unplaced_cost[m]
    rows, cols = linear_sum_assignment(cost)
    return float(cost[rows, cols].sum())


def _fratrie_best(problem: Problem, block: SiblingBlock, priced_of: dict[int, tuple[Arcs, np.ndarray]], best_of: dict[int, float]) -> float:
    """The Lagrangian subproblem of a fratrie that must stay together: its cheapest option.

    All members without a place; together in one structure (exactly, with the structure's unit
    capacities: two members never share a one-place unit, the same care as the LP's rows
    ``sum x[g in S] <= P_S w[g,S]``); or split, at least each member's own best plus the split
    penalty. Structures are tried in order of the sum of their members' cheapest arcs there (a
    lower bound of the exact value), until that sum cannot beat the best found.
    """
    n_s = len(problem.structure_ids)
    per_structure = np.zeros(n_s)
    for m in block.members:
        arcs, priced = priced_of[m]
        best_in = np.full(n_s, np.inf)
        np.minimum.at(best_in, problem.unit_structure[arcs.unit], priced)
        per_structure += np.minimum(best_in, problem.unplaced_cost[m])
    free_choice = sum(best_of[m] for m in block.members)
    best = min(float(problem.unplaced_cost[list(block.members)].sum()), free_choice + problem.weights.siblings_split)
    # the 32 most hopeful structures first, sorted; all of them only when those did not settle it
    # (sorting the 9,000 structures of 10x Paris scale for each of its 2,700 fratries took 2 s)
    hopeful = np.flatnonzero(per_structure < best - 1e-9)
    tried: set[int] = set()
    first = hopeful[np.argpartition(per_structure[hopeful], 31)[:32]] if hopeful.size > 32 else hopeful
    for candidates in (first, hopeful):
        for s in candidates[np.argsort(per_structure[candidates], kind="stable")].tolist():
            if per_structure[s] >= best - 1e-9:
                return best
            if s not in tried:
                tried.add(s)
                best = min(best, _fratrie_in_structure(problem, block, priced_of, s))
    return best


def _per_child_top(r: np.ndarray, c: np.ndarray, rc: np.ndarray, per_child: int) -> np.ndarray:
    """Positions of the (at most ``per_child``) most negative ``rc`` of each row ``r``."""
    order = np.lexsort((rc, r))
    ordered = r[order]
    first = np.r_[0, np.flatnonzero(ordered[1:] != ordered[:-1]) + 1] if ordered.size else np.zeros(0, dtype=np.int64)
    rank = np.arange(ordered.size) - np.repeat(first, np.diff(np.r_[first, ordered.size]))
    return order[rank < per_child]


def price_all(
    problem: Problem,
    rows: RowPrices,
    mu: np.ndarray | None,
    add_per_child: int,
    held: set[int] | frozenset[int] = frozenset(),
    fratrie_duals: FratrieDuals | None = None,
) -> tuple[float, Arcs]:
    """Lagrangian bound for the row multipliers over every eligible arc, and the arcs worth adding.

    The capacity, separation and units-without-siblings rows are relaxed with their multipliers
    (weak duality: any multipliers >= 0 give a valid bound); each child then takes its cheapest
    priced option, each fratrie that must stay together its cheapest way into one structure
    (with that structure's places, :func:`_fratrie_best`) or a split at the penalty.

    With ``mu`` (the LP's child duals) it also returns the arcs not in ``held`` (the keys
    ``child * n_units + unit`` of the arcs the LP holds) whose LP reduced cost
    ``cost + price[u] + separation and sibling-unit multipliers + fratrie row penalties - mu[c]``
    is negative, at most ``add_per_child`` per child, most negative first. Held arcs are left
    out before the choice, so an empty answer means that no arc outside the LP has a negative
    reduced cost: the LP optimum over its arcs is the LP optimum over every arc.
    """
    bound = -float((rows.unit * problem.capacity).sum()) - sum(rows.separation.values()) - sum(rows.sibling_unit.values())
    special = _special_children(problem)
    parts: list[tuple[np.ndarray, ...]] = []
    n_units = max(problem.n_units, 1)

    def collect(kids, units, minutes, cost, rc):
        r, c = np.nonzero(rc < -1e-7)
        if not r.size:
            return
        u = units[c] if units.ndim == 1 else units[r, c]
        if held:
            keys = (kids[r].astype(np.int64) * n_units + u).tolist()
            fresh = np.fromiter((k not in held for k in keys), dtype=bool, count=len(keys))
            r, c, u = r[fresh], c[fresh], u[fresh]
        top = _per_child_top(r, c, rc[r, c], add_per_child)
        r, c, u = r[top], c[top], u[top]
        parts.append((kids[r], u, cost[r, c], minutes[r, c]))

    ordinary = np.flatnonzero(~special)
    # a child with no eligible unit at all appears in no block: it stays without a place
    bound += float(problem.unplaced_cost[ordinary].sum())
    if mu is None or not add_per_child:
        # the bound alone: the compiled pass (the same costs and rules, arc by arc)
        best, _, _ = price_pass(problem, rows.unit, children=ordinary)
        unplaced = problem.unplaced_cost[ordinary]
        bound += float((np.minimum(unplaced, best) - unplaced).sum())
    else:
        for kids, units, minutes, cost, eligible in problem.iter_blocks(ordinary):
            priced = np.where(eligible, cost + rows.unit[units][None, :], np.inf)
            best = priced.min(axis=1)
            bound += float((np.minimum(problem.unplaced_cost[kids], best) - problem.unplaced_cost[kids]).sum())
            collect(kids, units, minutes, cost, priced - mu[kids][:, None])
    priced_of = _priced_arcs(problem, np.flatnonzero(special).tolist(), rows)
    duals = fratrie_duals or FratrieDuals()
    for i, (arcs, priced) in priced_of.items():
        if mu is not None and add_per_child and arcs.unit.size:
            rc = priced - mu[i]
            g = int(problem.block_of_child[i])
            if g >= 0 and (duals.link or duals.strong):
                structures = problem.unit_structure[arcs.unit]
                extra = np.zeros(len(problem.structure_ids))
                for s in np.unique(structures).tolist():
                    extra[s] = duals.link.get((i, s), 0.0) + duals.strong.get((g, s), 0.0)
                rc = rc + extra[structures]
            collect(np.array([i]), arcs.unit[None, :], arcs.minutes[None, :], arcs.cost[None, :], rc[None, :])
    best_of = {
        i: min(float(problem.unplaced_cost[i]), float(priced.min()) if priced.size else np.inf)
        for i, (_, priced) in priced_of.items()
    }
    in_together = set()
    for block in problem.blocks:
        if not block.together:
            continue
        in_together.update(block.members)
        bound += _fratrie_best(problem, block, priced_of, best_of)
    for i in priced_of:
        if i not in in_together:
            bound += best_of[i]
    return bound, Arcs.joined(parts)


def arcs_within(problem: Problem, rows: RowPrices, threshold: float) -> Arcs:
    """Every eligible arc whose Lagrangian excess for ``rows`` is at most ``threshold``.

    With the capacity, separation and units-without-siblings rows relaxed at ``rows``, any
    feasible assignment costs at least ``L = price_all(rows)`` plus, for each child (each
    fratrie that must stay together), how much its choice costs above its cheapest priced
    option. An ordinary child in arc a pays at least ``priced[a] - best[child]``; a member of a
    fratrie at least ``priced[a] - best[member] + (sum of the members' best - the fratrie's
    best)`` (every configuration of the fratrie costs at least the sum of its members' priced
    choices, and at least ``priced[a]`` plus the others' best when a member takes arc a). Every
    arc left out therefore forces a cost above ``L + threshold``.
    """
    parts: list[tuple[np.ndarray, ...]] = []
    special = _special_children(problem)
    for kids, units, minutes, cost, eligible in problem.iter_blocks(np.flatnonzero(~special)):
        priced = np.where(eligible, cost + rows.unit[units][None, :], np.inf)
        best = np.minimum(problem.unplaced_cost[kids], priced.min(axis=1))
        r, c = np.nonzero(eligible & (priced - best[:, None] <= threshold))
        parts.append((kids[r], units[c], cost[r, c], minutes[r, c]))
    priced_of = _priced_arcs(problem, np.flatnonzero(special).tolist(), rows)
    best_of = {
        i: min(float(problem.unplaced_cost[i]), float(priced.min()) if priced.size else np.inf)
        for i, (_, priced) in priced_of.items()
    }
    offset = dict.fromkeys(priced_of, 0.0)
    for block in problem.blocks:
        if not block.together:
            continue
        free_choice = sum(best_of[m] for m in block.members)
        block_best = _fratrie_best(problem, block, priced_of, best_of)
        for m in block.members:
            offset[m] = free_choice - block_best
    for i, (arcs, priced) in priced_of.items():
        keep = priced - best_of[i] + offset[i] <= threshold
        parts.append((arcs.child[keep], arcs.unit[keep], arcs.cost[keep], arcs.minutes[keep]))
    return Arcs.joined(parts)


LP_PRICED_PER_CHILD = 8
"""Most arcs with a negative reduced cost added per child and pricing round."""

LP_BOUND_TOLERANCE = 1e-7
"""Pricing stops when the Lagrangian bound is within this share of the LP's value."""

_RETRIES = (
    ("change_status_to_imprecise: false", False),
    ("change_status_to_imprecise: false, use_dual_simplex: true, perturb_costs_in_dual_simplex: false", True),
)
"""What is tried, in order, when GLOP does not return OPTIMAL: (GLOP parameters, on a model
rebuilt from scratch). GLOP ends ABNORMAL when it solved the LP but the cost perturbation it
needed was too large ("IMPRECISE", seen on the waiting batch of generated seeds 4 and 11); the
answer is then accepted, which is safe: the bound is a Lagrangian bound, valid for any
multipliers >= 0, and every assignment is re-scored and checked."""

_STATUS = {
    pywraplp.Solver.OPTIMAL: "optimal", pywraplp.Solver.FEASIBLE: "feasible", pywraplp.Solver.INFEASIBLE: "infeasible",
    pywraplp.Solver.UNBOUNDED: "unbounded", pywraplp.Solver.ABNORMAL: "abnormal",
    pywraplp.Solver.NOT_SOLVED: "not solved (time limit)",
}
_STATUS_FR = {
    pywraplp.Solver.OPTIMAL: "optimale", pywraplp.Solver.FEASIBLE: "réalisable", pywraplp.Solver.INFEASIBLE: "impossible",
    pywraplp.Solver.UNBOUNDED: "non bornée", pywraplp.Solver.ABNORMAL: "anormale",
    pywraplp.Solver.NOT_SOLVED: "non résolue (temps limite)",
}
""":data:`_STATUS` in French, for the sentences a French reader gets."""


_HIGHS_BANNER_SHOWN = False
"""HiGHS prints its banner when the first ``Highs`` of a process is made, and only then."""


def _quiet_highs(highspy):  # noqa: ANN001, ANN202 (the module, imported lazily)
    """A new ``highspy.Highs``; the first of the process without the banner HiGHS prints on
    standard output then (before any option can turn it off: it would land in the middle of
    ``placement demo``'s table)."""
    global _HIGHS_BANNER_SHOWN
    if _HIGHS_BANNER_SHOWN:
        return highspy.Highs()
    import os
    import sys

    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            made = highspy.Highs()
            _HIGHS_BANNER_SHOWN = True
            return made
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def highs_lp(model: _Model, integer: bool = True):  # noqa: ANN201 (highspy.HighsLp, imported lazily)
    """``model`` as a ``highspy.HighsLp`` (row-wise matrix; its variables and rows in the order
    they were made, so that a model extended later keeps their positions), integer where the
    model's variables are unless ``integer`` is false (the LP relaxation)."""
    import highspy
    from ortools.linear_solver import linear_solver_pb2

    proto = linear_solver_pb2.MPModelProto()
    model.lp.ExportModelToProto(proto)
    n_var, n_row = len(proto.variable), len(proto.constraint)
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n_var, n_row
    lp.col_cost_ = np.array([v.objective_coefficient for v in proto.variable], dtype=np.float64)
    lp.col_lower_ = np.array([v.lower_bound for v in proto.variable], dtype=np.float64)
    lp.col_upper_ = np.array([v.upper_bound for v in proto.variable], dtype=np.float64)
    if integer:
        lp.integrality_ = [highspy.HighsVarType.kInteger if v.is_integer else highspy.HighsVarType.kContinuous
                           for v in proto.variable]
    lp.offset_ = proto.objective_offset
    lp.row_lower_ = np.array([c.lower_bound for c in proto.constraint], dtype=np.float64)
    lp.row_upper_ = np.array([c.upper_bound for c in proto.constraint], dtype=np.float64)
    index = [np.asarray(c.var_index, dtype=np.int32) for c in proto.constraint]
    value = [np.asarray(c.coefficient, dtype=np.float64) for c in proto.constraint]
    lengths = np.array([len(x) for x in index], dtype=np.int64)
    matrix = lp.a_matrix_
    matrix.format_ = highspy.MatrixFormat.kRowwise
    matrix.num_row_, matrix.num_col_ = n_row, n_var
    matrix.start_ = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    matrix.index_ = np.concatenate(index) if index else np.zeros(0, np.int32)
    matrix.value_ = np.concatenate(value) if value else np.zeros(0)
    return lp


def _multipliers(model: _Model, dual_of) -> tuple[RowPrices, FratrieDuals, np.ndarray]:  # noqa: ANN001
    """The LP's multipliers from its rows' duals (``dual_of(row)``; a ``<=`` row's dual is <= 0
    when minimising, in GLOP's and HiGHS's convention): the relaxed rows' prices, the fratrie
    rows' penalties and each child's dual ``mu``."""
    prices = np.zeros(model.p.n_units)
    for u, row in model.capacity_row.items():
        prices[u] = max(0.0, -dual_of(row))
    rows = RowPrices(
        prices,
        {key: max(0.0, -dual_of(row)) for key, row in model.sep_row.items()},
        {key: max(0.0, -dual_of(row)) for key, row in model.sib_row.items()},
    )
    duals = FratrieDuals(
        {key: max(0.0, -dual_of(row)) for key, row in model.link_row.items()},
        {key: max(0.0, -dual_of(row)) for key, row in model.fratrie_row.items()},
    )
    return rows, duals, np.array([dual_of(row) for row in model.child_row])


def _solve_lp(model: _Model) -> int:
    """One GLOP solve of the model (a seam for the tests, which simulate a failing solver)."""
    return model.lp.Solve()


@dataclass
class _Round:
    """What the last round that GLOP solved left: enough to go on if a later round fails."""

    value: float
    arcs: Arcs
    x: np.ndarray
    w: dict[tuple[int, int], float]
    prices: np.ndarray
    mu: np.ndarray


def solve_relaxation(problem: Problem, settings: SolverSettings | None = None, extra_arcs: Arcs | None = None) -> Relaxation:
    """Solve the LP relaxation with pricing over all arcs; see the module docstring.

    A round GLOP does not solve is retried (:data:`_RETRIES`); if every retry fails, the rounds
    solved so far stand (the last valid prices, their bound and fractional solution, not
    converged) and ``Relaxation.warnings`` says so; if none was solved, :class:`SolverError`.
    """
    settings = settings or SolverSettings()
    start = time.perf_counter()
    model = _Model(problem, settings)
    model.add(drop_forbidden(problem, problem.candidate_arcs(settings.candidates_per_child)))
    # fratries: every structure that could hold the whole group, so the LP can keep it together
    from solver.siblings import structures_for_group  # local: siblings imports problem only

    for block in problem.blocks:
        if not block.together:
            continue
        member_arcs = [problem.arcs_of(m) for m in block.members]
        fits = structures_for_group(problem, block, problem.capacity, member_arcs, limit=4)
        for s, _, _ in fits:
            for arcs in member_arcs:
                keep = problem.unit_structure[arcs.unit] == s
                model.add(drop_forbidden(problem, arcs.take(keep)))
    if extra_arcs is not None:
        model.add(drop_forbidden(problem, extra_arcs))
    build_s = time.perf_counter() - start
    rounds, added_total = 0, 0
    bound = -np.inf
    best_rows = None
    converged = False
    lp_s = 0.0
    warnings: list[str] = []
    retries: list[str] = []
    last: _Round | None = None
    bound_meets_value = False
    while True:
        t = time.perf_counter()
        status = _solve_lp(model)
        for params, rebuild in _RETRIES:
            if status == pywraplp.Solver.OPTIMAL or status == pywraplp.Solver.INFEASIBLE:
                break
            failed = _STATUS.get(status, str(status))
            if rebuild:
                fresh = _Model(problem, settings)
                fresh.add(model.arcs())
                model = fresh
            model.lp.SetSolverSpecificParametersAsString(params)
            status = _solve_lp(model)
            if status == pywraplp.Solver.OPTIMAL:
                retries.append(
                    f"LP round {rounds + 1}: GLOP returned {failed}; solved again with {params!r}"
                    + (" on a rebuilt model" if rebuild else "")
                )
        lp_s += time.perf_counter() - t
        if status != pywraplp.Solver.OPTIMAL:
            reason = (f"the LP relaxation is {_STATUS.get(status, status)} at round {rounds + 1} after "
                      f"{len(_RETRIES)} retries: every child may go without a place, so this is a solver failure "
                      "or the time limit")
            if last is None:
                raise SolverError(reason, fr=f"la relaxation linéaire est {_STATUS_FR.get(status, status)} au tour "
                                             f"{rounds + 1} après {len(_RETRIES)} nouveaux essais : chaque enfant peut "
                                             "rester sans place, c'est donc une défaillance du solveur ou le temps limite")
            warnings.append(Said(reason + f"; the {rounds} round(s) solved before stand (bound from their prices, "
                                 "pricing not converged)",
                                 f"la relaxation linéaire est {_STATUS_FR.get(status, status)} au tour {rounds + 1} ; les "
                                 f"{rounds} tour(s) résolus avant sont gardés (borne de leurs prix, génération de "
                                 "colonnes non convergée)"))
            converged = False
            break
        rows, duals, mu = _multipliers(model, lambda row: row.dual_value())
        last = _Round(
            model.objective.Value(), model.arcs(), np.array([v.solution_value() for v in model.vars]),
            {key: var.solution_value() for key, var in model.w_var.items()}, rows.unit, mu,
        )
        rounds += 1
        more = rounds < settings.pricing_rounds and time.perf_counter() - start < settings.time_limit_s * 0.5
        round_bound, priced = price_all(problem, rows, mu, LP_PRICED_PER_CHILD if more else 0, model.known, duals)
        if round_bound > bound:
            bound, best_rows = round_bound, rows
        # the Lagrangian bound (over every arc) meets the LP's value: more columns cannot lower
        # the gap to the bound any further (later rounds only pivot on degenerate duals)
        meets = round_bound >= last.value - LP_BOUND_TOLERANCE * max(1.0, abs(last.value))
        added = model.add(priced) if more and not meets else 0
        converged = more and not meets and not added
        bound_meets_value = meets
        added_total += added
        if settings.log:
            print(f"LP round {rounds}: value {last.value:.1f}, bound {round_bound:.1f}, "
                  f"{added} arcs added, {time.perf_counter() - start:.2f} s")
        if not added:
            break
    return Relaxation(
        value=last.value,
        bound=bound,
        prices=last.prices,
        child_duals=last.mu,
        arcs=last.arcs,
        x=last.x,
        w=last.w,
        rows=best_rows,
        converged=converged,
        warnings=tuple(warnings),
        stats={
            "lp_arcs": len(last.arcs),
            "lp_rows": model.lp.NumConstraints(),
            "lp_fratrie_rows": len(model.fratrie_row),
            "pricing_rounds": rounds,
            "priced_arcs_added": added_total,
            "lp_build_seconds": round(build_s, 3),
            "lp_solve_seconds": round(lp_s, 3),
            "lp_value": last.value,
            "lagrangian_bound": bound,
            "lp_converged": converged,
            "lp_bound_meets_value": bound_meets_value,
            "lp_retries": retries,
        },
    )


def _run_highs(h) -> None:  # noqa: ANN001 (highspy.Highs)
    """One HiGHS solve of the relaxation (a seam for the tests, which simulate a failing solver)."""
    h.run()


SMOOTHING = 0.7
"""Weight of the best multipliers so far (the stability centre) in those the rounds of
:func:`highs_relaxation` price at, when a centre is given (Wentges' smoothing): the LP's duals
are degenerate, and pricing at them adds arcs that only move them to another vertex. Scale 0.5,
scope all, from the flow's prices: seed 1 passed the flow's bound at round 10 (7.2 s) instead of
about 14 (18 s), seed 2 at round 8 (8.1 s; without, not in 9 rounds); 0.5 passed it at round 12
(13.3 s) on seed 1. When no arc prices out at the smoothed multipliers the round prices at the
LP's own (so pricing still ends only when the LP is over every arc). The weight is halved after
each round whose smoothed multipliers do not beat the centre: near the LP's optimum its own duals
go faster (with 0.7 throughout, scale 0.2 needed 27-41 rounds instead of 6-20)."""


def _mixed(a: float, centre: tuple[RowPrices, FratrieDuals, np.ndarray], rows: RowPrices, duals: FratrieDuals,
           mu: np.ndarray) -> tuple[RowPrices, FratrieDuals, np.ndarray]:
    """``a`` x the centre's multipliers + (1 - a) x the LP's (a missing key is 0): still >= 0."""
    def mix(x: dict, y: dict) -> dict:
        return {k: a * x.get(k, 0.0) + (1 - a) * y.get(k, 0.0) for k in x.keys() | y.keys()}

    c_rows, c_duals, c_mu = centre
    return (RowPrices(a * c_rows.unit + (1 - a) * rows.unit, mix(c_rows.separation, rows.separation),
                      mix(c_rows.sibling_unit, rows.sibling_unit)),
            FratrieDuals(mix(c_duals.link, duals.link), mix(c_duals.strong, duals.strong)),
            a * c_mu + (1 - a) * mu)


def highs_relaxation(problem: Problem, settings: SolverSettings, deadline: float, *, model: _Model | None = None,
                     arcs: Arcs | None = None, basis: tuple[list, list] | None = None,
                     centre: tuple[RowPrices, np.ndarray, float] | None = None) -> Relaxation | None:
    """The LP relaxation by pricing, as :func:`solve_relaxation`, but solved by HiGHS from a start
    that already holds most of the LP's arcs, for a bound better than the flow's when there is time.

    ``model``: a model to extend (a polish's: its binary variables are relaxed here), with
    ``basis`` (column and row statuses) from an earlier solve of its relaxation, kept for the
    columns and rows it had, the new columns at their lower bound and the new rows' slacks basic;
    else a new model. ``arcs`` are added to it. Each round is solved from the last round's basis.
    ``centre``: multipliers known to give a good bound (the flow's prices, each child's priced
    cost in the flow as its dual, and that bound): each round prices at a mix of the best
    multipliers so far and the LP's (:data:`SMOOTHING`), and the best become the centre.

    Why not GLOP from the k cheapest arcs per child, as below 500 children: at Paris scale, scope
    all, that took 54 s for 5 rounds, far from the LP's value; from the flow's arcs the LP's value
    is there at once and the rounds only repair its duals (a restricted LP's duals are degenerate:
    a unit full in the LP gets a price near the cost of leaving a child without a place, and the
    Lagrangian over every arc at such prices is far below the LP). Scale 0.2, scope all, 10 seeds:
    the bound meets the LP in 8-21 rounds, 1.0-4.5 s; at Paris scale the rounds take about 3 s
    each and the bound passes the flow's after 10 or more (seed 1, 60 s budget: 908,377 after 19
    rounds, the flow's bound being 908,119 and the LP's value 908,550).

    Stops when pricing finds no arc to add, when the Lagrangian meets the LP's value, after
    ``settings.pricing_rounds`` rounds or at ``deadline`` (``time.perf_counter()``); whatever it
    solved gives a valid bound, the best of its rounds (weak duality). None when no round was
    solved before the deadline; :class:`SolverError` when HiGHS failed on the first round.
    """
    import highspy

    start = time.perf_counter()
    model = model if model is not None else _Model(problem, settings)
    if arcs is not None:
        model.add(drop_forbidden(problem, arcs))
    build_s = time.perf_counter() - start
    bound, best_rows = -np.inf, None
    rounds = added_total = 0
    lp_s = 0.0
    last: _Round | None = None
    warnings: list[str] = []
    converged = meets = False
    stopped = "deadline"
    smoothed = 0
    alpha = SMOOTHING if centre is not None else 0.0
    if centre is not None:
        best_centre = (centre[0], FratrieDuals(), centre[1])
        centre_bound = centre[2]
    while True:
        lp = highs_lp(model, integer=False)
        n_var, n_row = int(lp.num_col_), int(lp.num_row_)
        h = _quiet_highs(highspy)
        h.setOptionValue("output_flag", bool(settings.log))
        h.passModel(lp)
        if basis is not None and len(basis[0]) <= n_var and len(basis[1]) <= n_row:
            warm = highspy.HighsBasis()
            warm.col_status = basis[0] + [highspy.HighsBasisStatus.kLower] * (n_var - len(basis[0]))
            warm.row_status = basis[1] + [highspy.HighsBasisStatus.kBasic] * (n_row - len(basis[1]))
            warm.valid = True
            h.setBasis(warm)
        left = deadline - time.perf_counter()
        if left <= 0:
            break
        h.setOptionValue("time_limit", float(left))
        t = time.perf_counter()
        _run_highs(h)
        lp_s += time.perf_counter() - t
        status = h.getModelStatus()
        if status != highspy.HighsModelStatus.kOptimal:
            if status == highspy.HighsModelStatus.kTimeLimit:
                break
            reason = f"HiGHS ended the LP relaxation {h.modelStatusToString(status)} at round {rounds + 1}"
            if last is None:
                raise SolverError(reason, fr=f"HiGHS a terminé la relaxation linéaire ({h.modelStatusToString(status)}) "
                                             f"au tour {rounds + 1}")
            warnings.append(Said(reason + f"; the {rounds} round(s) solved before stand (bound from their prices)",
                                 f"HiGHS a terminé la relaxation linéaire ({h.modelStatusToString(status)}) au tour "
                                 f"{rounds + 1} ; les {rounds} tour(s) résolus avant sont gardés (borne de leurs prix)"))
            stopped = "failed"
            break
        got = h.getBasis()
        basis = (list(got.col_status), list(got.row_status))
        solution = h.getSolution()
        dual, column = np.asarray(solution.row_dual), np.asarray(solution.col_value)
        rows, duals, mu = _multipliers(model, lambda row: dual[row.index()])
        last = _Round(
            float(h.getInfo().objective_function_value), model.arcs(), column[[v.index() for v in model.vars]],
            {key: float(column[var.index()]) for key, var in model.w_var.items()}, rows.unit, mu,
        )
        rounds += 1
        more = rounds < settings.pricing_rounds and time.perf_counter() < deadline
        for a in ((alpha, 0.0) if alpha else (0.0,)):
            at = _mixed(a, best_centre, rows, duals, mu) if a else (rows, duals, mu)
            round_bound, priced = price_all(problem, at[0], at[2], LP_PRICED_PER_CHILD if more else 0, model.known,
                                            at[1])
            if round_bound > bound:
                bound, best_rows = round_bound, at[0]
            if centre is not None and round_bound > centre_bound:
                best_centre, centre_bound = at, round_bound
            elif a:
                alpha /= 2  # no better than the centre: the rounds near the LP, where its own duals go faster
            if len(priced) or not more:
                smoothed += bool(a)
                break
        meets = round_bound >= last.value - LP_BOUND_TOLERANCE * max(1.0, abs(last.value))
        added = model.add(priced) if more and not meets else 0
        converged = more and not meets and not added
        added_total += added
        if settings.log:
            print(f"LP round {rounds} (HiGHS): value {last.value:.1f}, bound {round_bound:.1f}, "
                  f"{added} arcs added, {time.perf_counter() - start:.2f} s")
        if not added:
            stopped = ("bound_meets_value" if meets else "converged" if converged
                       else "deadline" if time.perf_counter() >= deadline else "rounds")
            break
    if last is None:
        return None
    return Relaxation(
        value=last.value, bound=bound, prices=last.prices, child_duals=last.mu, arcs=last.arcs, x=last.x, w=last.w,
        rows=best_rows, converged=converged, warnings=tuple(warnings),
        stats={
            "lp_backend": "HIGHS",
            "lp_arcs": len(last.arcs),
            "lp_rows": model.lp.NumConstraints(),
            "pricing_rounds": rounds,
            "priced_arcs_added": added_total,
            "lp_build_seconds": round(build_s, 3),
            "lp_solve_seconds": round(lp_s, 3),
            "lp_seconds": round(time.perf_counter() - start, 3),
            "lp_value": last.value,
            "lagrangian_bound": bound,
            "lp_converged": converged,
            "lp_bound_meets_value": meets,
            "lp_stopped": stopped,
            "lp_smoothed_rounds": smoothed,
        },
    )


def lp_bound(problem: Problem, settings: SolverSettings | None = None) -> Relaxation:
    """The relaxation, for its proven bound (used for the greedy baseline's gap)."""
    return solve_relaxation(problem, settings)
