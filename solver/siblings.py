"""Sibling groups (fratries) in the solver: placing a group in one structure, and why it split.

The precise rule the solver applies (``siblings_together``), decided here and documented in
docs/SOLVER.md:

* every placed member of a fratrie that must stay together lives in **one structure**; a split
  costs ``weights.siblings_split`` per extra structure and is reported with its cause;
* inside that structure members may live in different units (age-banded units of a MECS are the
  norm), but a unit that does not take siblings (``takes_siblings=False``) holds **at most one**
  member of a fratrie (this part is hard, for every fratrie);
* a judge's separation order between two members makes the fratrie separable (the order wins).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from solver.problem import Arcs, Problem, SiblingBlock


def fit_in_structure(
    problem: Problem, member_arcs: list[Arcs], structure: int, remaining: np.ndarray
) -> list[int] | None:
    """Units (one per member) of ``structure`` that hold every member, or None if they do not fit.

    A bipartite matching of members to places (Kuhn's augmenting paths): a unit that takes
    siblings offers ``remaining[u]`` places, one that does not offers at most one. Each member
    tries its cheapest units first.
    """
    options: list[list[int]] = []
    for arcs in member_arcs:
        in_s = problem.unit_structure[arcs.unit] == structure
        units, cost = arcs.unit[in_s], arcs.cost[in_s]
        units = [int(u) for u in units[np.argsort(cost, kind="stable")] if remaining[u] > 0]
        if not units:
            return None
        options.append(units)
    slots: dict[int, list[int]] = {}

    def room(u: int) -> int:
        return int(remaining[u]) if problem.unit_takes_siblings[u] else min(1, int(remaining[u]))

    def augment(m: int, seen: set[int]) -> bool:
        for u in options[m]:
            if u in seen:
                continue
            seen.add(u)
            holders = slots.setdefault(u, [])
            if len(holders) < room(u):
                holders.append(m)
                return True
            for other in list(holders):
                holders.remove(other)
                holders.append(m)
                if augment(other, seen):
                    return True
                holders.remove(m)
                holders.append(other)
        return False

    for m in range(len(options)):
        if not augment(m, set()):
            return None
    unit_of = [-1] * len(options)
    for u, holders in slots.items():
        for m in holders:
            unit_of[m] = u
    return unit_of


def places_for_group(problem: Problem, member_arcs: list[Arcs], remaining: np.ndarray) -> np.ndarray:
    """Per structure, the places a fratrie could take there: the ``remaining`` places of the units
    some member may join, one at most in a unit that does not take siblings."""
    n_s = len(problem.structure_ids)
    units = np.unique(np.concatenate([arcs.unit for arcs in member_arcs])) if member_arcs else np.zeros(0, dtype=np.int64)
    room = np.maximum(remaining[units], 0)
    room = np.where(problem.unit_takes_siblings[units], room, np.minimum(room, 1))
    return np.bincount(problem.unit_structure[units], weights=room, minlength=n_s)


def structures_for_group(
    problem: Problem,
    block: SiblingBlock,
    remaining: np.ndarray,
    member_arcs: list[Arcs] | None = None,
    limit: int | None = None,
) -> list[tuple[int, list[int], float]]:
    """Structures that can hold the whole group now: (structure, units per member, minutes), nearest first.

    Minutes are the longest trip of a member from their anchor (unreachable counts as
    ``weights.unreachable_minutes``). Stops after ``limit`` structures when given.
    """
    member_arcs = member_arcs or [problem.arcs_of(m) for m in block.members]
    banned: set[int] = set()
    for m in block.members:
        banned |= problem.forbidden_structures.get(m, frozenset())
    n_s = len(problem.structure_ids)
    reach = np.zeros(n_s, dtype=np.int64)
    longest = np.zeros(n_s)
    for arcs in member_arcs:
        s = problem.unit_structure[arcs.unit]
        minutes = np.where(np.isnan(arcs.minutes), problem.weights.unreachable_minutes, arcs.minutes)
        near = np.full(n_s, np.inf)
        np.minimum.at(near, s, minutes)
        seen = np.isfinite(near)
        reach += seen
        longest = np.maximum(longest, np.where(seen, near, 0.0))
    # necessary conditions, checked for every structure at once before the matching: each member
    # has an eligible unit with a free place there, and there are enough places for all of them
    with_room = np.zeros(n_s, dtype=np.int64)
    for arcs in member_arcs:
        has = np.zeros(n_s, dtype=bool)
        has[problem.unit_structure[arcs.unit[remaining[arcs.unit] > 0]]] = True
        with_room += has
    places = places_for_group(problem, member_arcs, remaining)
    size = len(member_arcs)
    common = np.flatnonzero((reach == size) & (with_room == size) & (places >= size))
    common = common[np.lexsort((common, longest[common]))]
    # each member's arcs grouped by structure once (stable), so that a structure tried scans its
    # own arcs, not all of them (300 structures tried per fratrie when places are priced)
    grouped = []
    for arcs in member_arcs:
        of = problem.unit_structure[arcs.unit]
        order = np.argsort(of, kind="stable")
        grouped.append((of[order], arcs.take(order)))

    def arcs_in(s: int) -> list[Arcs]:
        out = []
        for of, arcs in grouped:
            lo, hi = np.searchsorted(of, s), np.searchsorted(of, s, side="right")
            out.append(arcs.take(slice(lo, hi)))
        return out

    found = []
    for s in common.tolist():
        if s in banned:
            continue
        units = fit_in_structure(problem, arcs_in(s), s, remaining)
        if units is None:
            continue
        found.append((s, units, float(longest[s])))
        if limit is not None and len(found) >= limit:
            break
    return found


SPLIT_KINDS = ("separable", "no_common_structure", "too_few_places", "full_at_its_turn", "needed_by_others")
"""Why a fratrie was split (:attr:`SplitCause.kind`): separable by the judge; no structure has
eligible units for all its children; the structures eligible for all have too few places; they
were full when its turn came (greedy); keeping it whole would leave others without a place."""


@dataclass(frozen=True, slots=True)
class SplitCause:
    """Why a fratrie was split, as machine fields (:data:`SPLIT_KINDS`); ``str()`` gives the
    English sentence, :func:`matcher.words.split_words` the sentence in French or English."""

    kind: str
    members: int = 0
    age_min: int = 0
    age_max: int = 0
    needs: tuple[str, ...] = ()
    """The needs of its children (``Need`` values)."""
    eligible_structures: int = 0
    """Structures with eligible units for every child of the fratrie."""
    able_structures: int = 0
    """Structures with enough eligible places for all of them at once (before the run)."""
    nearest_structure: str | None = None
    nearest_minutes: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "members": self.members, "age_min": self.age_min, "age_max": self.age_max,
                "needs": list(self.needs), "eligible_structures": self.eligible_structures,
                "able_structures": self.able_structures, "nearest_structure": self.nearest_structure,
                "nearest_minutes": None if self.nearest_minutes is None else round(self.nearest_minutes, 1)}

    def __str__(self) -> str:
        if self.kind == "separable":
            return "separable fratrie (judge's decision or a separation order between its members)"
        needs = sorted(n.replace("_", " ") for n in self.needs)
        who = f"{self.members} children aged {self.age_min} to {self.age_max}" + (
            f" (needs: {', '.join(needs)})" if needs else "")
        if self.kind == "no_common_structure":
            return f"no structure has eligible units for all {who}"
        if self.kind == "too_few_places":
            return (f"no structure has {self.members} eligible places for {who} ({self.eligible_structures} structures "
                    "are eligible for all of them but have too few places, or too few in units that take siblings)")
        where = f"nearest that could: {self.nearest_structure}, {self.nearest_minutes:.0f} min"
        if self.kind == "full_at_its_turn":
            return (f"the {self.able_structures} structure(s) with {self.members} eligible places for {who} were full "
                    f"when the group's turn came (first come, first served; {where})")
        return (f"keeping the {who} together would leave other children waiting without a place or much farther "
                f"from home: the {self.able_structures} structure(s) that could take them all are needed by other "
                f"children ({where})")


def split_cause(problem: Problem, block: SiblingBlock, remaining: np.ndarray | None, method: str) -> SplitCause:
    """Why a fratrie that should stay together was split."""
    if not block.together:
        return SplitCause("separable", len(block.members))
    ages = [int(problem.child_age[m]) for m in block.members]
    needs = tuple(sorted({n.value for m in block.members for n in problem.children[m].needs}))
    facts = {"members": len(block.members), "age_min": min(ages), "age_max": max(ages), "needs": needs}
    member_arcs = [problem.arcs_of(m) for m in block.members]
    common: set[int] | None = None
    for arcs in member_arcs:
        mine = set(problem.unit_structure[arcs.unit].tolist())
        common = mine if common is None else common & mine
    if not common:
        return SplitCause("no_common_structure", **facts)
    at_full = structures_for_group(problem, block, problem.capacity, member_arcs)
    if not at_full:
        return SplitCause("too_few_places", eligible_structures=len(common), **facts)
    nearest = at_full[0]
    kind = "needed_by_others"
    if method == "greedy" and remaining is not None and not structures_for_group(problem, block, remaining, member_arcs, limit=1):
        kind = "full_at_its_turn"
    return SplitCause(kind, eligible_structures=len(common), able_structures=len(at_full),
                      nearest_structure=str(problem.structure_ids[nearest[0]]), nearest_minutes=float(nearest[2]), **facts)


def most_members_held(problem: Problem, member_arcs: list[Arcs], structure: int) -> int:
    """The most members of a fratrie that ``structure`` can hold at once, over its scope's places.

    A maximum bipartite matching of members to places (Kuhn's augmenting paths) in the units of
    ``structure`` eligible for them: a unit that takes siblings offers ``capacity[u]`` places, one
    that does not at most one. The coefficient ``P_S`` of the valid inequality
    ``sum of the members' x in S <= P_S * w[g,S]`` (:mod:`solver.lp`), which keeps the LP from
    putting a fratrie of two half in each of two structures with one free place each.
    """
    options = []
    for arcs in member_arcs:
        units = arcs.unit[problem.unit_structure[arcs.unit] == structure]
        options.append([int(u) for u in units if problem.capacity[u] > 0])
    room = {u: (int(problem.capacity[u]) if problem.unit_takes_siblings[u] else 1) for opts in options for u in opts}
    holders: dict[int, list[int]] = {u: [] for u in room}

    def augment(m: int, seen: set[int]) -> bool:
        for u in options[m]:
            if u in seen:
                continue
            seen.add(u)
            if len(holders[u]) < room[u]:
                holders[u].append(m)
                return True
            for other in list(holders[u]):
                holders[u].remove(other)
                holders[u].append(m)
                if augment(other, seen):
                    return True
                holders[u].remove(m)
                holders[u].append(other)
        return False

    return sum(augment(m, set()) for m in range(len(options)))
