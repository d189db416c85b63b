"""The greedy baseline: first come, nearest available place.

Children are served in order of ``waiting_since`` (then id); a fratrie goes as one block at its
earliest member's time. Each child takes the eligible unit with a free place that is fewest
public-transport minutes from the child's anchor (ties: lower score, then unit order). A fratrie
that must stay together takes the nearest structure with enough eligible free places for all
its members (see :mod:`solver.siblings` for the precise rule); if none has, it is split over the
nearest places and the split is reported with its cause. The judge's separation orders are kept.

This is the reference every later method is compared with; its proven gap is computed against
the same bounds as the optimal method (min-cost flow, Lagrangian at the flow's prices, LP).
"""

from __future__ import annotations

import time

import numpy as np

from matcher.words import Said

from solver.explain import explain
from solver.problem import Problem
from solver.siblings import split_cause, structures_for_group
from solver.solution import Solution, SplitReport, extra_structures


def service_order(problem: Problem) -> list[tuple[int, ...]]:
    """Blocks of children (a together fratrie is one block) in first-come order."""
    blocks: list[tuple[tuple, tuple[int, ...]]] = []
    seen: set[int] = set()
    for block in problem.blocks:
        if not block.together:
            continue
        first = min((problem.children[m].waiting_since, problem.children[m].id) for m in block.members)
        blocks.append((first, block.members))
        seen.update(block.members)
    for i, child in enumerate(problem.children):
        if i not in seen:
            blocks.append(((child.waiting_since, child.id), (i,)))
    blocks.sort(key=lambda b: b[0])
    return [b[1] for b in blocks]


def _nearest_unit(problem: Problem, i: int, remaining: np.ndarray, assigned: np.ndarray, partners: dict[int, tuple[int, ...]]) -> int:
    arcs = problem.arcs_of(i)
    ok = remaining[arcs.unit] > 0
    banned = set(problem.forbidden_structures.get(i, ()))
    for other in partners.get(i, ()):
        if assigned[other] >= 0:
            banned.add(int(problem.unit_structure[assigned[other]]))
    if banned:
        ok &= ~np.isin(problem.unit_structure[arcs.unit], list(banned))
    block = problem.block_of_child[i]
    if block >= 0:
        for m in problem.blocks[block].members:
            u = assigned[m]
            if m != i and u >= 0 and not problem.unit_takes_siblings[u]:
                ok &= arcs.unit != u
    if not ok.any():
        return -1
    minutes = np.where(np.isnan(arcs.minutes), problem.weights.unreachable_minutes, arcs.minutes)
    order = np.lexsort((arcs.unit[ok], arcs.cost[ok], minutes[ok]))
    return int(arcs.unit[ok][order[0]])


def greedy_assignment(problem: Problem) -> tuple[np.ndarray, list[SplitReport]]:
    """Unit index per child (-1: no place) and the splits, by first come, nearest available."""
    remaining = problem.capacity.copy()
    assigned = np.full(problem.n_children, -1, dtype=np.int64)
    splits: list[SplitReport] = []
    partners = problem.separation_partners
    for members in service_order(problem):
        if len(members) > 1:
            block = problem.blocks[problem.block_of_child[members[0]]]
            banned = {int(problem.unit_structure[assigned[o]]) for m in members for o in partners.get(m, ()) if assigned[o] >= 0}
            fits = [f for f in structures_for_group(problem, block, remaining, limit=len(banned) + 1) if f[0] not in banned]
            if fits:
                _, units, _ = fits[0]
                for m, u in zip(members, units):
                    assigned[m] = u
                    remaining[u] -= 1
                continue
            cause = split_cause(problem, block, remaining, "greedy")
            for m in members:
                u = _nearest_unit(problem, m, remaining, assigned, partners)
                if u >= 0:
                    assigned[m] = u
                    remaining[u] -= 1
            if extra_structures(problem, assigned, problem.block_of_child[members[0]]):
                structures = sorted({problem.structure_ids[problem.unit_structure[assigned[m]]] for m in members if assigned[m] >= 0})
                splits.append(SplitReport(block.group_id, tuple(structures), cause))
            continue
        i = members[0]
        u = _nearest_unit(problem, i, remaining, assigned, partners)
        if u >= 0:
            assigned[i] = u
            remaining[u] -= 1
    return assigned, splits


def solve_greedy(problem: Problem, with_bound: bool = True, with_explanations: bool = True) -> Solution:
    """First come, nearest available: the baseline. Bound and gap from the flow, flow-price Lagrangian and LP bounds.

    Never fails for a solver's sake: a bound that cannot be computed is reported missing, with the
    reason, in ``Solution.warnings`` (the assignment does not depend on it).
    """
    start = time.perf_counter()
    assigned, splits = greedy_assignment(problem)
    solve_s = time.perf_counter() - start
    bound, source = (0.0, "exact") if with_bound and not problem.n_children else (None, None)  # nothing to place: exact
    warnings: list[str] = []
    stats: dict = {"solve_seconds": round(solve_s, 3), "children": problem.n_children, "units": problem.n_units}
    if with_bound and problem.n_children:
        # local imports: the flow and the LP are only needed for the bound
        from solver.flow import flow_relaxation
        from solver.lp import SolverError, lp_bound
        from solver.solution import SolverSettings

        t = time.perf_counter()
        # the Lagrangian at the flow's dual prices (fast at any scope), and the LP's Lagrangian
        # where the LP is solved (the optimal method's limit on children)
        try:
            bound, source = flow_relaxation(problem).bound, "flow"
        except SolverError as error:
            warnings.append(Said(f"flow bound not computed: {error}",
                                 f"borne du flot non calculée : {error.said('fr')}"))
        if problem.n_children <= SolverSettings().max_lp_children:
            try:
                relaxation = lp_bound(problem)
                warnings.extend(relaxation.warnings)
                stats["lp_retries"] = relaxation.stats["lp_retries"]
                if bound is None or relaxation.bound > bound:
                    bound, source = relaxation.bound, "lagrangian"
            except SolverError as error:
                warnings.append(Said(f"LP bound not computed: {error}",
                                     f"borne de la relaxation linéaire non calculée : {error.said('fr')}"))
        if bound is None:
            warnings.append(Said("no proven bound: the gap is unknown", "aucune borne prouvée : l'écart est inconnu"))
        stats["bound_seconds"] = round(time.perf_counter() - t, 3)
    stats["bound_source"] = source
    explanations = explain(problem, assigned) if with_explanations else {}
    return Solution.of_assignment(problem, assigned, "greedy", bound, start, stats, splits, explanations,
                                  bound_source=source, warnings=warnings)
