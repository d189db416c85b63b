"""Ranked proposals for one child or a fratrie, and "why not" a named structure. Pure.

A *proposal* places every child asked about: in one unit (a single child), or in the units of
one structure (a fratrie kept together), or, when no structure takes them all, over several
structures at ``weights.siblings_split`` per extra structure. Every placement passes the hard
rules of :data:`matcher.rules.OPTION_RULES` and has a free place (``capacity - occupied -
held``); its cost is :func:`matcher.scoring.score_option` (minutes-equivalent, lower is better).

Two orderings:

* **own**: the children's own score (transit time, outside Paris / Île-de-France, daily price,
  stability, siblings split, children left without a place);
* **system**: own score + the *capacity price* of each place used (the dual price of the unit's
  capacity in the batch model, :func:`solver.duals.capacity_prices`): what that place is worth to
  the other children waiting. A proposal that moves between the two orderings says why in words.

Fratries: options that keep every sibling in one structure come first, then split ones.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from matcher.errors import DomainError, HardRuleViolation
from matcher.model import Child, PlacementSystem, Sex, Structure, Unit, UnitSex, Urgency
from matcher.rules import (
    CAPACITY_RULE,
    Exclusion,
    Option,
    Violation,
    exclusions,
    is_eligible,
    judge_separation,
    siblings_together,
    unit_takes_siblings,
)
from matcher.scoring import OptionScore, ScoreComponent, Weights, school_continuity_applies, score_costs, score_option
from matcher.travel import TravelMatrix
from matcher.words import (
    Lang,
    difference_words,
    join,
    minutes,
    of,
    plural,
    rule_reason,
    separator,
    sibling_words,
    structure_name,
    unit_words,
)

Ordering = Literal["own", "system"]
COMPETITION_MINUTES = 45.0
"""Radius (minutes from their anchor: ``Child.anchor``) within which other waiting children count as
wanting the same place, in the words that explain the system-aware ordering."""
_MAX_ASSIGNMENTS = 20_000
"""Bound on the joint assignments of a fratrie tried inside one structure."""


@dataclass(frozen=True, slots=True)
class ChildPlacement:
    """One child of a proposal: the unit, the trip from the anchor, the score, the place's price."""

    child_id: str
    structure_id: str | None
    unit_id: str | None
    """None: this child has no place in the proposal (costs ``weights.unplaced_cost``)."""
    travel_minutes: float | None
    score: OptionScore | None
    unit_price: float = 0.0
    """Capacity price of the unit, minutes-equivalent (0 without prices)."""
    moved_from: str | None = None
    """The unit an already-placed child leaves in this proposal (None: no move)."""
    anchor: str = ""
    """Where ``travel_minutes`` is measured from (:class:`matcher.model.AnchorKind` value)."""


@dataclass(frozen=True)
class Proposal:
    """A ranked option for the children asked about."""

    structure_id: str
    """The structure of the proposal: where the children are newly placed (for a split fratrie:
    the one receiving the most new placements; a sibling's current home only when everyone
    stays there or a sibling is newly placed there too)."""
    placements: tuple[ChildPlacement, ...]
    components: tuple[ScoreComponent, ...]
    """Soft components summed over the children, then ``siblings_split`` and ``unplaced``."""
    own_score: float
    capacity_price: float
    own_rank: int = 0
    system_rank: int = 0
    explanation: str | None = None
    """Why the system-aware rank differs from the own rank (None when they agree)."""
    moves: tuple[str, ...] = ()
    """Each already-placed child this proposal moves, in words ("moves the sister E-1 from ...")."""
    split_reason: str | None = None
    """For a fratrie this proposal does not keep together: why, in words."""

    @property
    def system_score(self) -> float:
        return self.own_score + self.capacity_price

    @property
    def structures_used(self) -> int:
        return len({p.structure_id for p in self.placements if p.structure_id is not None})

    @property
    def siblings_together(self) -> bool | None:
        """Every sibling placed in one structure; None for one child (there is no fratrie to keep)."""
        if len(self.placements) < 2:
            return None
        return self.structures_used <= 1 and all(p.unit_id is not None for p in self.placements)

    @property
    def key(self) -> tuple[tuple[str, str | None], ...]:
        return tuple((p.child_id, p.unit_id) for p in self.placements)


@dataclass(frozen=True, slots=True)
class UnitCheck:
    """What the hard rules (capacity included) say about one child in one unit."""

    child_id: str
    unit_id: str
    exclusions: tuple[Exclusion, ...]


@dataclass(frozen=True)
class WhyNot:
    """Why a named structure is not (or not first) among the proposals."""

    structure_id: str
    verdict: Literal["excluded", "full", "separated", "ranked_lower", "best", "already_placed"]
    sentence: str
    checks: tuple[UnitCheck, ...]
    rank: int | None = None
    ahead: tuple[Proposal, ...] = ()
    """The better options (at most five), best first."""


# --- index over the system, built once per version of the data --------------------------------


@dataclass(frozen=True, eq=False)
class SystemIndex:
    """Arrays over the units and the waiting children, for fast pre-filtering (no rule lives here:
    candidates that pass the pre-filter still go through :func:`matcher.rules.is_eligible`)."""

    system: PlacementSystem
    travel: TravelMatrix
    unit_age_min: np.ndarray
    unit_age_max: np.ndarray
    unit_sex: np.ndarray
    unit_free: np.ndarray
    unit_col: np.ndarray
    """Column of each unit's structure in the travel matrix (-1 when absent)."""
    unit_position: Mapping[str, int]
    waiting_age: np.ndarray
    waiting_female: np.ndarray
    waiting_row: np.ndarray
    waiting_ids: tuple[str, ...]
    units_of_structure: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    separation_partners: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """For each child named in a judge's separation order (on either side), the children it must
    not live with (hard rule ``judge_separation``)."""
    _near: dict[tuple[int, float], frozenset[str]] = field(default_factory=dict, repr=False)
    """Memo of :meth:`competitors`: the waiting children near each unit (this index's data never
    changes; a new version of the data gets a new index)."""

    @classmethod
    def build(cls, system: PlacementSystem, travel: TravelMatrix) -> SystemIndex:
        units = system.units
        col = travel.structure_index
        waiting = system.waiting_children()
        on = system.reference_date
        by_structure: dict[str, list[int]] = {s.id: [] for s in system.structures}
        for j, u in enumerate(units):
            by_structure[u.structure_id].append(j)
        return cls(
            system=system,
            travel=travel,
            unit_age_min=np.array([u.age_min for u in units], dtype=np.int16),
            unit_age_max=np.array([u.age_max for u in units], dtype=np.int16),
            unit_sex=np.array([_SEX_CODE[u.sex] for u in units], dtype=np.int8),
            unit_free=np.array([u.free for u in units], dtype=np.int64),
            unit_col=np.array([col.get(u.structure_id, -1) for u in units], dtype=np.int64),
            unit_position={u.id: j for j, u in enumerate(units)},
            waiting_age=np.array([c.age_on(on) for c in waiting], dtype=np.int16),
            waiting_female=np.array([c.sex is Sex.FEMALE for c in waiting], dtype=bool),
            waiting_row=np.array([travel.row_of_home.get(c.anchor.id, -1) for c in waiting], dtype=np.int64),
            waiting_ids=tuple(c.id for c in waiting),
            units_of_structure={k: tuple(v) for k, v in by_structure.items()},
            separation_partners=separation_partners(system),
        )

    def with_changes(self, system: PlacementSystem, unit_ids: Iterable[str], child_ids: Iterable[str]) -> SystemIndex:
        """The index of ``system``, which differs from this index's system only in the units and
        children named (:meth:`PlacementSystem.with_changes`): the arrays :meth:`build` would give,
        computed from the changed units and children only. Falls back to :meth:`build` when a
        unit moved to another structure or a changed child is waiting (a new waiting child would
        have to be inserted in order)."""
        units = [system.unit_by_id[u] for u in unit_ids]
        children = [system.child_by_id[c] for c in child_ids]
        if any(u.structure_id != self.system.unit_by_id[u.id].structure_id for u in units) \
                or any(c.is_waiting or c.judge.separated_from != self.system.child_by_id[c.id].judge.separated_from
                       for c in children):
            return SystemIndex.build(system, self.travel)
        age_min, age_max = self.unit_age_min.copy(), self.unit_age_max.copy()
        sex, free = self.unit_sex.copy(), self.unit_free.copy()
        for u in units:
            j = self.unit_position[u.id]
            age_min[j], age_max[j], sex[j], free[j] = u.age_min, u.age_max, _SEX_CODE[u.sex], u.free
        placed = {c.id for c in children}
        keep = np.array([i not in placed for i in self.waiting_ids], dtype=bool)
        return SystemIndex(
            system=system, travel=self.travel, unit_age_min=age_min, unit_age_max=age_max, unit_sex=sex,
            unit_free=free, unit_col=self.unit_col, unit_position=self.unit_position,
            waiting_age=self.waiting_age[keep], waiting_female=self.waiting_female[keep],
            waiting_row=self.waiting_row[keep],
            waiting_ids=tuple(i for i in self.waiting_ids if i not in placed),
            units_of_structure=self.units_of_structure, separation_partners=self.separation_partners,
        )

    def free_places(self, held: Mapping[str, int]) -> np.ndarray:
        """Free places per unit once live holds are counted as taken (never below 0)."""
        free = self.unit_free.copy()
        for unit_id, n in held.items():
            j = self.unit_position.get(unit_id)
            if j is not None:
                free[j] -= n
        return np.maximum(free, 0)

    def prefilter(self, child: Child, free: np.ndarray) -> np.ndarray:
        """Units with a free place whose age range and sex admit the child (positions)."""
        age = child.age_on(self.system.reference_date)
        sex_ok = (self.unit_sex == 0) | (self.unit_sex == (1 if child.sex is Sex.FEMALE else 2))
        mask = (self.unit_age_min <= age) & (age <= self.unit_age_max) & sex_ok & (free >= 1)
        return np.flatnonzero(mask)

    def minutes_row(self, child: Child) -> np.ndarray | None:
        return self.travel.row(child.anchor.id)

    def competitors(self, unit_position: int, exclude: frozenset[str], within: float = COMPETITION_MINUTES) -> int:
        """Other waiting children whose age and sex the unit takes and whose anchor (family home, visit site, school or service) is
        within ``within`` minutes of it (a cheap measure of demand; needs are not checked)."""
        near = self._near.get((unit_position, within))
        if near is None:
            near = self._near_children(unit_position, within)
            self._near[(unit_position, within)] = near
        return len(near) - len(near & exclude) if exclude else len(near)

    def _near_children(self, unit_position: int, within: float) -> frozenset[str]:
        col = int(self.unit_col[unit_position])
        if col < 0 or not len(self.waiting_ids):
            return frozenset()
        lo, hi = self.unit_age_min[unit_position], self.unit_age_max[unit_position]
        sex = int(self.unit_sex[unit_position])
        mask = (self.waiting_age >= lo) & (self.waiting_age <= hi) & (self.waiting_row >= 0)
        if sex == 1:
            mask &= self.waiting_female
        elif sex == 2:
            mask &= ~self.waiting_female
        rows = self.waiting_row[mask]
        near = np.asarray(self.travel.minutes[rows, col] <= within)
        ids = np.flatnonzero(mask)[near]
        return frozenset(self.waiting_ids[i] for i in ids)


_SEX_CODE = {UnitSex.MIXED: 0, UnitSex.GIRLS: 1, UnitSex.BOYS: 2}


def separation_partners(system: PlacementSystem) -> dict[str, frozenset[str]]:
    """For each child named in a judge's separation order (on either side), the others."""
    partners: dict[str, set[str]] = {}
    for c in system.children:
        for other in c.judge.separated_from:
            partners.setdefault(c.id, set()).add(other)
            partners.setdefault(other, set()).add(c.id)
    return {k: frozenset(v) for k, v in partners.items()}


def _banned_structures(index: SystemIndex, child: Child, asked: frozenset[str]) -> frozenset[str]:
    """Structures where a child the judge separated ``child`` from lives now (children asked
    about move with the proposal, so their current place does not count)."""
    system = index.system
    banned = set()
    for other in index.separation_partners.get(child.id, ()):
        placed = system.child_by_id[other].current if other not in asked and other in system.child_by_id else None
        if placed is not None:
            banned.add(system.unit_by_id[placed.unit_id].structure_id)
    return frozenset(banned)


# --- candidates -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Candidate:
    child: Child
    structure: Structure
    unit: Unit
    position: int
    minutes: float | None
    school_minutes: float | None
    costs: tuple[float, ...]
    """The costs of the option's score components in their order
    (:func:`~matcher.scoring.score_costs`): a fratrie's drafts sum them as :func:`_make` sums
    the components."""
    price: float
    stays: bool = False
    """The child's own current place (no move): it uses no free place."""
    cost: float = field(init=False)
    """The option's score total (the sum of ``costs``): what every ranking and the fratrie
    search compare. The score component by component is built by :func:`_make`, only for the
    options shown (and the reference)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "cost", sum(self.costs))


def _children(system: PlacementSystem, child_ids: Sequence[str]) -> tuple[Child, ...]:
    if not child_ids:
        raise DomainError("a proposal needs at least one child", fr="une proposition concerne au moins un enfant")
    if len(set(child_ids)) != len(child_ids):
        raise DomainError("a child is listed twice", fr="un enfant figure deux fois")
    unknown = [c for c in child_ids if c not in system.child_by_id]
    if unknown:
        raise DomainError(f"unknown child(ren): {', '.join(unknown)}", fr=f"enfant(s) inconnu(s) : {', '.join(unknown)}")
    return tuple(system.child_by_id[c] for c in child_ids)


def _candidates(
    index: SystemIndex, child: Child, free: np.ndarray, weights: Weights, prices: Mapping[str, float],
    asked: frozenset[str] = frozenset(),
) -> dict[str, list[_Candidate]]:
    """Eligible units with a free place, grouped by structure, cheapest first; never a structure
    where a child the judge separated this one from lives now."""
    system = index.system
    on = system.reference_date
    row = _as_list(index.minutes_row(child))
    school_row = _as_list(index.travel.row(child.school.id)) if child.school is not None else None
    banned = _banned_structures(index, child, asked | {child.id})
    school_applies = school_continuity_applies(child, on)
    found: dict[str, list[_Candidate]] = {}
    units, cols = system.units, index.unit_col
    for j in index.prefilter(child, free).tolist():
        unit = units[j]
        if unit.structure_id in banned:
            continue
        structure = system.structure_by_id[unit.structure_id]
        col = int(cols[j])
        minutes = _at_list(row, col)
        school_minutes = _at_list(school_row, col)
        option = Option(structure, unit, minutes, school_minutes)
        if not is_eligible(child, option, on):
            continue
        found.setdefault(structure.id, []).append(
            _Candidate(child, structure, unit, int(j), minutes, school_minutes,
                       score_costs(child, option, weights, on, school_applies),
                       float(prices.get(unit.id, 0.0)))
        )
    for cands in found.values():
        cands.sort(key=lambda c: (c.cost, c.price, c.unit.id))
    return found


def _stay(index: SystemIndex, child: Child, weights: Weights) -> dict[str, list[_Candidate]]:
    """A placed child's only candidate when moves are not allowed: the unit they live in."""
    system = index.system
    assert child.current is not None
    unit = system.unit_by_id[child.current.unit_id]
    structure = system.structure_by_id[unit.structure_id]
    j = index.unit_position[unit.id]
    option = Option.of(child, structure, unit, index.travel)
    return {structure.id: [_Candidate(child, structure, unit, j, option.travel_minutes, option.school_minutes,
                                      score_costs(child, option, weights, system.reference_date), 0.0, stays=True)]}


def _sibling_candidates(index: SystemIndex, child: Child, free: np.ndarray, weights: Weights,
                        prices: Mapping[str, float], asked: frozenset[str], allow_moves: bool) -> dict[str, list[_Candidate]]:
    """A sibling's candidates: a waiting child's free places; a placed child's own unit (staying
    uses no free place and carries no capacity price), and with ``allow_moves`` also every free
    place elsewhere (a move is an option, never an obligation)."""
    if child.current is None:
        return _candidates(index, child, free, weights, prices, asked)
    stay = _stay(index, child, weights)
    if not allow_moves:
        return stay
    (sid, [here]), = stay.items()
    found = _candidates(index, child, free, weights, prices, asked)
    if sid not in _banned_structures(index, child, asked | {child.id}) and \
            is_eligible(child, Option(here.structure, here.unit, here.minutes, here.school_minutes),
                        index.system.reference_date):
        mine = [c for c in found.get(sid, []) if c.unit.id != here.unit.id] + [here]
        mine.sort(key=lambda c: (c.cost, c.price, c.unit.id))
        found[sid] = mine
    return found


def _as_list(row: np.ndarray | None) -> list[float] | None:
    return None if row is None else row.tolist()


def _at_list(row: list[float] | None, col: int) -> float | None:
    """:func:`_at` on a row already turned into a list (the candidate loop reads it often)."""
    if row is None or col < 0:
        return None
    value = row[col]
    return None if value != value else value  # NaN: unreachable


def _at(row: np.ndarray | None, col: int) -> float | None:
    """Minutes at one column of a travel row; None when no row, no column or unreachable."""
    if row is None or col < 0:
        return None
    value = float(row[col])
    return None if np.isnan(value) else value


def _separated(children: Sequence[Child]) -> list[tuple[str, str]]:
    ids = {c.id for c in children}
    pairs = set()
    for c in children:
        for other in c.judge.separated_from & ids:
            pairs.add(tuple(sorted((c.id, other))))
    return sorted(pairs)


def _room(cand: _Candidate, free: np.ndarray) -> int:
    """Places a fratrie may take in the candidate's unit: its free places, or at most one when
    the unit does not take siblings (hard rule ``unit_takes_siblings``)."""
    return int(free[cand.position]) if cand.unit.takes_siblings else min(1, int(free[cand.position]))


def _joint(
    per_child: Sequence[list[_Candidate]], free: np.ndarray
) -> list[_Candidate] | None:
    """Cheapest assignment of each child (siblings) to one of its candidates within free places,
    at most one sibling in a unit that does not take siblings."""
    best: list[_Candidate] | None = None
    best_cost = float("inf")
    used: dict[int, int] = {}
    chosen: list[_Candidate] = []
    tried = 0

    def dfs(i: int, cost: float) -> None:
        nonlocal best, best_cost, tried
        if tried > _MAX_ASSIGNMENTS or cost >= best_cost:
            return
        if i == len(per_child):
            best, best_cost = list(chosen), cost
            return
        for cand in per_child[i]:
            tried += 1
            taken = 0 if cand.stays else 1
            if taken and used.get(cand.position, 0) >= _room(cand, free):
                continue
            used[cand.position] = used.get(cand.position, 0) + taken
            chosen.append(cand)
            dfs(i + 1, cost + cand.cost + 1e-9 * cand.price)
            chosen.pop()
            used[cand.position] -= taken

    dfs(0, 0.0)
    return best


def _make(
    children: Sequence[Child], chosen: Mapping[str, _Candidate | None], weights: Weights, on
) -> Proposal:
    placements = []
    totals: dict[str, list[float]] = {}
    order: list[str] = []
    units_of: dict[str, str] = {}
    unplaced_cost = 0.0
    for child in children:
        cand = chosen.get(child.id)
        if cand is None:
            placements.append(ChildPlacement(child.id, None, None, None, None, anchor=child.anchor.kind.value))
            unplaced_cost += weights.unplaced_cost(child, on)
            continue
        moved = child.current.unit_id if child.current is not None and child.current.unit_id != cand.unit.id else None
        score = score_option(child, Option(cand.structure, cand.unit, cand.minutes, cand.school_minutes), weights, on)
        placements.append(ChildPlacement(child.id, cand.structure.id, cand.unit.id, cand.minutes, score,
                                         cand.price, moved, child.anchor.kind.value))
        for comp in score.components:
            if comp.name not in totals:
                totals[comp.name] = [0.0, 0.0]
                order.append(comp.name)
                units_of[comp.name] = comp.unit
            totals[comp.name][0] += comp.quantity
            totals[comp.name][1] += comp.cost
    components = [ScoreComponent(n, totals[n][0], units_of[n], totals[n][1]) for n in order]
    structures = [p.structure_id for p in placements if p.structure_id is not None]
    extra = max(len(set(structures)) - 1, 0) if len(children) > 1 else 0
    if len(children) > 1:
        components.append(ScoreComponent("siblings_split", float(extra), "structures", extra * weights.siblings_split))
    missing = sum(1 for p in placements if p.unit_id is None)
    if missing:
        components.append(ScoreComponent("unplaced", float(missing), "children", unplaced_cost))
    ranked = _draft(children, chosen, weights, on)  # the ranking numbers: one computation for both
    return Proposal(
        structure_id=ranked.structure_id,
        placements=tuple(placements),
        components=tuple(components),
        own_score=ranked.own_score,
        capacity_price=ranked.capacity_price,
    )


@dataclass(frozen=True, slots=True)
class _Draft:
    """What ranking one of a fratrie's options needs, without building it: :func:`_make` then
    builds only the ``k`` shown (and the first on the own score), and takes these numbers from
    here, so that the proposals shown carry the scores they were ranked on."""

    chosen: Mapping[str, _Candidate | None]
    structure_id: str
    own_score: float
    capacity_price: float
    siblings_together: bool | None
    key: tuple[tuple[str, str | None], ...]

    @property
    def system_score(self) -> float:
        return self.own_score + self.capacity_price


def _draft(children: Sequence[Child], chosen: Mapping[str, _Candidate | None], weights: Weights, on) -> _Draft:
    """The ranking fields of an option (structure, own score, price, together, key). The own score
    is the sum of :func:`_make`'s components, in their order."""
    totals: dict[int, float] = {}
    unplaced_cost = 0.0
    structures: list[str] = []
    new: list[str] = []
    prices: list[float] = []
    key: list[tuple[str, str | None]] = []
    for child in children:
        cand = chosen.get(child.id)
        if cand is None:
            unplaced_cost += weights.unplaced_cost(child, on)
            prices.append(0.0)
            key.append((child.id, None))
            continue
        structures.append(cand.structure.id)
        if not cand.stays:
            new.append(cand.structure.id)
        prices.append(cand.price)
        key.append((child.id, cand.unit.id))
        for i, cost in enumerate(cand.costs):  # as _make sums the components, by name in their order
            totals[i] = totals.get(i, 0.0) + cost
    costs = list(totals.values())
    used = len(set(structures))
    if len(children) > 1:
        costs.append(max(used - 1, 0) * weights.siblings_split)
    missing = len(children) - len(structures)
    if missing:
        costs.append(unplaced_cost)
    # the headline structure: where the children are newly placed (a sibling who stays where they
    # live heads the proposal only when nobody is newly placed)
    heads = new or structures
    main = max(set(heads), key=lambda s: (heads.count(s), structures.count(s), -structures.index(s))) if heads else ""
    together = None if len(children) < 2 else used <= 1 and not missing
    return _Draft(chosen, main, sum(costs), sum(prices), together, tuple(key))


def _all_proposals(
    system: PlacementSystem,
    children: Sequence[Child],
    travel: TravelMatrix,
    weights: Weights,
    prices: Mapping[str, float],
    held: Mapping[str, int],
    index: SystemIndex | None,
    allow_moves: bool = False,
    drafts: bool = False,
) -> tuple[list[Any], SystemIndex, np.ndarray, list[dict[str, list[_Candidate]]]]:
    """Every option for the children (a fratrie: each structure that takes them together, and the
    splits anchored on each structure), as proposals, or as :class:`_Draft` with ``drafts``."""
    build = _draft if drafts else _make
    index = index if index is not None and index.system is system else SystemIndex.build(system, travel)
    free = index.free_places(held)
    on = system.reference_date
    group = len(children) > 1
    asked = frozenset(c.id for c in children)
    cands = [_sibling_candidates(index, c, free, weights, prices, asked, allow_moves) if group
             else _candidates(index, c, free, weights, prices, asked) for c in children]
    proposals: list[Proposal] = []
    if len(children) == 1:
        for by_structure in cands[0].values():
            for cand in by_structure:
                proposals.append(_make(children, {children[0].id: cand}, weights, on))
    else:
        separated = bool(_separated(children))
        seen: set = set()
        shared = set.intersection(*(set(c) for c in cands)) if not separated else set()
        for sid in sorted(shared):
            joint = _joint([c[sid] for c in cands], free)
            if joint is not None:
                p = build(children, {c.id: j for c, j in zip(children, joint)}, weights, on)
                seen.add(p.key)
                proposals.append(p)
        # split options, anchored on each structure that takes at least one sibling
        anchors = sorted(set().union(*(set(c) for c in cands)))
        by_cheapest = [sorted(c.items(), key=lambda kv: kv[1][0].cost) for c in cands]
        for anchor in anchors:
            chosen = _split_anchored(children, cands, anchor, free, by_cheapest)
            key = tuple((c.id, chosen[c.id].unit.id if chosen.get(c.id) else None) for c in children)  # Proposal.key
            if key in seen:  # the same split from another anchor: made once
                continue
            p = build(children, chosen, weights, on)
            if p.key not in seen and not p.siblings_together:
                seen.add(p.key)
                proposals.append(p)
    return proposals, index, free, cands


def _split_anchored(
    children: Sequence[Child], cands: Sequence[dict[str, list[_Candidate]]], anchor: str, free: np.ndarray,
    by_cheapest: Sequence[list[tuple[str, list[_Candidate]]]],
) -> dict[str, _Candidate | None]:
    """As many siblings as fit in ``anchor`` (judge's separations respected), the others in
    their own cheapest free place elsewhere (or none); at most one sibling in a unit that does
    not take siblings.

    ``by_cheapest``: each child's structures ordered by their cheapest candidate (computed once
    for every anchor); the search for a sibling's place elsewhere stops at the first structure
    whose cheapest candidate costs more than the best found (none after it can beat it)."""
    used: dict[int, int] = {}
    chosen: dict[str, _Candidate | None] = {}
    in_anchor: list[Child] = []
    for child, by_structure in zip(children, cands):
        if any(o.id in child.judge.separated_from or child.id in o.judge.separated_from for o in in_anchor):
            continue
        for cand in by_structure.get(anchor, []):
            if cand.stays or used.get(cand.position, 0) < _room(cand, free):
                used[cand.position] = used.get(cand.position, 0) + (0 if cand.stays else 1)
                chosen[child.id] = cand
                in_anchor.append(child)
                break
    for child, ordered in zip(children, by_cheapest):
        if child.id in chosen:
            continue
        best = None
        for sid, options in ordered:
            if best is not None and options[0].cost > best.cost:
                break
            if sid == anchor:
                continue
            for cand in options:
                if cand.stays or used.get(cand.position, 0) < _room(cand, free):
                    if best is None or (cand.cost, cand.unit.id) < (best.cost, best.unit.id):
                        best = cand
                    break
        if best is not None and not best.stays:
            used[best.position] = used.get(best.position, 0) + 1
        chosen[child.id] = best
    return chosen


def _is_stale(p: Proposal | _Draft, stale: frozenset[str]) -> int:
    return 1 if stale and any(unit in stale for _, unit in p.key) else 0


def _own_key(p: Proposal | _Draft, group: bool, stale: frozenset[str] = frozenset()):
    """Together first (a fratrie), then the score; at an equal score (to the minute-equivalent),
    fresh vacancies before stale ones."""
    return ((0 if p.siblings_together else 1) if group else 0, round(p.own_score), _is_stale(p, stale),
            round(p.own_score, 9), p.structure_id, p.key)


def _system_key(p: Proposal | _Draft, group: bool, stale: frozenset[str] = frozenset()):
    return ((0 if p.siblings_together else 1) if group else 0, round(p.system_score), _is_stale(p, stale),
            round(p.system_score, 9), p.structure_id, p.key)


def _travel(p: Proposal) -> float:
    return sum(pl.travel_minutes or 0.0 for pl in p.placements if pl.unit_id is not None)


def _who(children: Sequence[Child], lang: Lang) -> str:
    if len(children) == 1:
        return children[0].id
    return "la fratrie" if lang == "fr" else "the siblings"


def _feminine(children: Sequence[Child]) -> bool:
    """French agreement: "la fratrie" and a girl take the feminine."""
    return len(children) > 1 or children[0].sex is Sex.FEMALE


def _alone(children: Sequence[Child]) -> str:
    return "seule" if _feminine(children) else "seul"


def _pronoun(children: Sequence[Child]) -> str:
    return "elle" if _feminine(children) else "lui"


def _place_words(index: SystemIndex, unit_id: str, lang: Lang) -> str:
    unit = index.system.unit_by_id[unit_id]
    where = structure_name(index.system.structure_by_id[unit.structure_id])
    return f"{unit_words(unit, lang)} {'à' if lang == 'fr' else 'at'} {where}"


def _newly_placed(p: Proposal, system: PlacementSystem) -> list[ChildPlacement]:
    """The placements of ``p`` that take a place (a sibling who stays where they live takes none)."""
    out = []
    for pl in p.placements:
        if pl.unit_id is None:
            continue
        current = system.child_by_id[pl.child_id].current
        if current is None or current.unit_id != pl.unit_id:
            out.append(pl)
    return out


def _travel_bound(weights: Weights) -> float:
    """The most a longer trip can cost one child, minutes-equivalent: an unreachable trip, outside
    Paris and Île-de-France. A capacity price above it cannot come from travel alone: giving the
    place away most likely leaves another child without a place."""
    return weights.unreachable_minutes + weights.outside_paris + weights.outside_ile_de_france


def _price_words(place: str, price: float, weights: Weights, taken: bool, lang: Lang) -> str:
    """What taking (``taken``) or leaving free ``place``, of capacity price ``price``, means for the
    other children waiting, as a clause: the minutes it adds to (or spares) their trips, or, above
    what travel alone can explain (:func:`_travel_bound`), a child left without a place (or given one)."""
    fr = lang == "fr"
    beyond_travel = price > _travel_bound(weights)
    if taken and beyond_travel:
        return (f"prendre la place de {place} laisserait probablement un autre enfant en attente sans place (ce "
                "qu'elle coûte aux autres enfants dépasse ce qu'un trajet plus long peut coûter)" if fr else
                f"taking the place in {place} would likely leave another child waiting without a place (what it "
                "costs the other children is more than a longer trip can cost)")
    if taken:
        return (f"prendre la place de {place} allongerait d'environ {minutes(price, lang)} au total les trajets des "
                "autres enfants en attente" if fr else
                f"taking the place in {place} would add about {minutes(price, lang)} in all to the trips of the "
                "other children waiting")
    if beyond_travel:
        return (f"elle laisse libre une place de {place}, qui permettrait probablement de placer un autre enfant en "
                "attente qui resterait sinon sans place" if fr else
                f"it leaves free a place in {place}, which would likely give a place to another child waiting who "
                "would otherwise have none")
    return (f"elle laisse libre une place de {place}, qui épargnerait environ {minutes(price, lang)} de trajet au "
            "total aux autres enfants en attente" if fr else
            f"it leaves free a place in {place}, which would spare the other children waiting about "
            f"{minutes(price, lang)} of travel in all")


def _explain(p: Proposal, reference: Proposal, index: SystemIndex, children: Sequence[Child], priced: bool,
             weights: Weights, lang: Lang = "en") -> str | None:
    """Why the system-aware rank differs from the own rank, in words: the minutes of travel it
    costs or saves these children (against ``reference``, the first on the children's own score,
    named by its headline structure) and what the place used or left free means for the other
    children waiting (:func:`_price_words`), and how many of them live nearby."""
    if not priced or p.own_rank == p.system_rank:
        return None
    fr = lang == "fr"
    system = index.system
    exclude = frozenset(c.id for c in children)
    ranks = (f"classée n° {p.system_rank} en tenant compte des autres enfants en attente, n° {p.own_rank} pour "
             f"{_who(children, lang)} {_alone(children)}" if fr else
             f"#{p.own_rank} on its own, #{p.system_rank} system-wide")

    def nearby(unit_id: str) -> str:
        n = index.competitors(index.unit_position[unit_id], exclude)
        if fr:
            return (f"{plural(n, 'autre enfant', 'autres enfants')} en attente de cet âge et de ce sexe "
                    f"{'habite' if n == 1 else 'habitent'} à moins de {COMPETITION_MINUTES:.0f} min")
        return (f"{n} {'other child' if n == 1 else 'other children'} waiting of that age and sex "
                f"{'lives' if n == 1 else 'live'} within {COMPETITION_MINUTES:.0f} min of it")

    if p.system_rank > p.own_rank:
        used = _newly_placed(p, system) or [pl for pl in p.placements if pl.unit_id is not None]
        dearest = max(used, key=lambda pl: pl.unit_price)
        assert dearest.unit_id is not None
        said = _price_words(_place_words(index, dearest.unit_id, lang), dearest.unit_price, weights, True, lang)
        if fr:
            return f"Moins bien classée ({ranks}) : {said} ; {nearby(dearest.unit_id)}."
        return f"Ranked lower system-wide ({ranks}): {said}; {nearby(dearest.unit_id)}."
    extra = _travel(p) - _travel(reference)
    ref_name = structure_name(system.structure_by_id[reference.structure_id]) if reference.structure_id else "-"
    mine = {pl.unit_id for pl in p.placements}
    freed = [pl for pl in _newly_placed(reference, system) if pl.unit_id not in mine]
    urgent = [c.id for c in children if c.urgency is Urgency.URGENT]
    if fr:
        trip = (f"pour {_who(children, lang)}, c'est {minutes(abs(extra), lang)} de trajet "
                f"{'de plus' if extra >= 0 else 'de moins'} qu'à {ref_name}, première pour {_pronoun(children)} {_alone(children)}")
        sentence = f"Mieux classée ({ranks}) : {trip}"
        if urgent:
            sentence += f" ({join(urgent, lang)} en urgence)"
    else:
        trip = (f"for {_who(children, lang)} it means {minutes(abs(extra), lang)} {'more' if extra >= 0 else 'less'} "
                f"travel than {ref_name}, first on its own")
        sentence = f"Ranked higher system-wide ({ranks}): {trip}"
        if urgent:
            sentence += f" ({join(urgent, lang)} {'is' if len(urgent) == 1 else 'are'} urgent)"
    if freed:
        dearest = max(freed, key=lambda pl: pl.unit_price)
        assert dearest.unit_id is not None
        said = _price_words(_place_words(index, dearest.unit_id, lang), dearest.unit_price, weights, False, lang)
        sentence += f"{separator(lang)}{said}{separator(lang)}{nearby(dearest.unit_id)}."
    else:
        sentence += "."
    return sentence


def _moves(p: Proposal, system: PlacementSystem, group: bool, lang: Lang) -> tuple[str, ...]:
    """Each placed child the proposal moves, in words."""
    out = []
    for pl in p.placements:
        if pl.moved_from is None or pl.unit_id is None:
            continue
        child = system.child_by_id[pl.child_id]
        old = system.structure_by_id[system.unit_by_id[pl.moved_from].structure_id]
        new = system.structure_by_id[pl.structure_id or ""]
        who = sibling_words(child, lang) if group else child.id
        if lang == "fr":
            out.append(f"Déplace {who} {of(structure_name(old))} (unité {pl.moved_from}) vers {structure_name(new)} "
                       f"(unité {pl.unit_id}).")
        else:
            out.append(f"Moves {who} from {structure_name(old)} (unit {pl.moved_from}) to {structure_name(new)} "
                       f"(unit {pl.unit_id}).")
    return tuple(out)


def _split_reason(children: Sequence[Child], cands: Sequence[Mapping[str, list[_Candidate]]],
                  proposals: Sequence[Proposal | _Draft], index: SystemIndex, free: np.ndarray, weights: Weights,
                  allow_moves: bool, lang: Lang) -> str:
    """Why a fratrie's proposal does not keep every sibling in one structure, in words: the judge's
    order; a together option ranked first; a sibling who stays where they live because moves are
    not allowed (when moving them would keep the fratrie together); or no structure that takes
    them all (with free places for each, or for all of them together)."""
    fr = lang == "fr"
    system = index.system
    pairs = _separated(children)
    if pairs:
        said = join([f"{a} {'et' if fr else 'and'} {b}" for a, b in pairs], lang)
        return (f"Le juge a ordonné que {said} soient placés séparément." if fr
                else f"The judge ordered {said} placed apart.")
    if any(p.siblings_together for p in proposals):
        return ("Une option qui garde la fratrie réunie existe et passe avant celle-ci." if fr
                else "An option that keeps the siblings together exists and ranks before this one.")
    stayers = [c for c in children if c.current is not None]
    if stayers and not allow_moves:
        asked = frozenset(c.id for c in children)
        cands = [_sibling_candidates(index, c, free, weights, {}, asked, True) for c in children]
        where = _together_somewhere(cands, free)
        if where is not None:
            return _stay_words(children, stayers, where, system, lang)
    shared = sorted(set.intersection(*(set(c) for c in cands))) if cands else []
    if not shared:
        return ("Aucune structure n'a de place libre qui convienne à chacun d'eux (âges, sexe ou besoins différents)."
                if fr else "No structure has a free place that suits each of them (different ages, sexes or needs).")
    names = join([structure_name(system.structure_by_id[s]) for s in shared[:3]], lang)
    more = len(shared) - 3
    tail = (f" et {more} autre(s)" if fr else f" and {more} more") if more > 0 else ""
    return (f"Les structures qui accueilleraient chacun d'eux ({names}{tail}) n'ont pas assez de places libres "
            f"pour les {len(children)} ensemble." if fr else
            f"The structures that would take each of them ({names}{tail}) have too few free places for all "
            f"{len(children)} together.")


def _together_somewhere(cands: Sequence[Mapping[str, list[_Candidate]]], free: np.ndarray) -> str | None:
    """The structure of the cheapest option that keeps every child in it (None: none)."""
    best: tuple[float, str] | None = None
    for sid in sorted(set.intersection(*(set(c) for c in cands))):
        joint = _joint([c[sid] for c in cands], free)
        if joint is not None:
            cost = sum(c.cost for c in joint)
            if best is None or cost < best[0]:
                best = (cost, sid)
    return None if best is None else best[1]


def _stay_words(children: Sequence[Child], stayers: Sequence[Child], together: str, system: PlacementSystem,
                lang: Lang) -> str:
    """A fratrie split because its placed siblings stay where they live (moves not allowed),
    while moving them would keep it together at ``together``."""
    fr = lang == "fr"
    homes = list(dict.fromkeys(system.unit_by_id[c.current.unit_id].structure_id  # type: ignore[union-attr]
                               for c in stayers))
    others = [c.id for c in children if c not in stayers]
    who = join([sibling_words(c, lang) for c in stayers], lang)
    who = who[:1].upper() + who[1:]
    many = len(stayers) > 1
    there = join([structure_name(system.structure_by_id[h]) for h in homes], lang)
    target = structure_name(system.structure_by_id[together])
    if fr:
        head = (f"{who} {'vivent' if many else 'vit'} à {there} et y {'restent' if many else 'reste'}, "
                "les déplacements n'étant pas autorisés")
        if len(homes) == 1 and others:
            head += f" ; cette structure ne peut pas accueillir aussi {join(others, lang)}"
        them = "les" if many else ("la" if stayers[0].sex is Sex.FEMALE else "le")
        return (f"{head}. Autoriser les déplacements (allow_moves) permettrait de {them} déplacer pour réunir la "
                f"fratrie, par exemple à {target}.")
    head = f"{who} {'live' if many else 'lives'} at {there} and {'stay' if many else 'stays'} there, as moves are not allowed"
    if len(homes) == 1 and others:
        head += f"; that structure cannot take {join(others, lang)} as well"
    them = "them" if many else ("her" if stayers[0].sex is Sex.FEMALE else "him")
    return (f"{head}. Allowing moves (allow_moves) would let {them} be moved to keep the siblings together, for "
            f"example at {target}.")


def _finish(p: Proposal, own_rank: int, system_rank: int, reference: Proposal | None, index: SystemIndex,
            children: Sequence[Child], priced: bool, weights: Weights, lang: Lang,
            split_reason: str | None = None) -> Proposal:
    ranked = Proposal(p.structure_id, p.placements, p.components, p.own_score, p.capacity_price, own_rank, system_rank)
    explanation = _explain(ranked, reference or ranked, index, children, priced, weights, lang)
    return Proposal(ranked.structure_id, ranked.placements, ranked.components, ranked.own_score,
                    ranked.capacity_price, own_rank, system_rank, explanation,
                    _moves(ranked, index.system, len(children) > 1, lang),
                    split_reason if ranked.siblings_together is False else None)


def propose(
    system: PlacementSystem,
    child_ids: Sequence[str],
    travel: TravelMatrix,
    weights: Weights,
    k: int = 10,
    unit_prices: Mapping[str, float] | None = None,
    *,
    order: Ordering = "own",
    held: Mapping[str, int] | None = None,
    index: SystemIndex | None = None,
    allow_moves: bool = False,
    lang: Lang = "en",
    stale_units: frozenset[str] = frozenset(),
) -> list[Proposal]:
    """The top ``k`` proposals for the children (one child, or the siblings of a fratrie).

    ``unit_prices``: capacity price per unit id (minutes-equivalent), for the system-aware rank;
    ``order`` picks the ordering of the list returned ("own" or "system"); every proposal
    carries both ranks. ``held``: places per unit held by live reservations (taken).
    ``index``: a :class:`SystemIndex` of this system, to reuse across calls.
    ``allow_moves``: for a fratrie, whether a sibling already placed may be moved (off: they stay
    where they live and the others join them or go elsewhere). A single placed child's own
    proposals are moves by nature (asking for them is the explicit request). Every move a
    proposal makes is named in words in :attr:`Proposal.moves`; ``lang`` is the language of the
    sentences ("fr" or "en"). ``stale_units``: units whose vacancies were declared long ago: at an
    equal score (to the minute-equivalent) a proposal using one ranks below one that does not.
    Raises DomainError for an empty list, a repeated or an unknown child id, or k < 1.
    """
    if k < 1:
        raise DomainError(f"k must be at least 1, got {k}", fr=f"k vaut au moins 1, reçu {k}")
    children = _children(system, child_ids)
    prices = unit_prices or {}
    if len(children) == 1:
        return _propose_one(system, children[0], travel, weights, k, prices, unit_prices is not None,
                            order, held or {}, index, lang, stale_units)
    held = held or {}
    options, index, free, cands = _all_proposals(system, children, travel, weights, prices, held, index,
                                                 allow_moves, drafts=True)
    reason = _split_reason(children, cands, options, index, free, weights, allow_moves, lang) \
        if any(p.siblings_together is False for p in options) else None
    group = len(children) > 1
    by_own = sorted(options, key=lambda p: _own_key(p, group, stale_units))
    by_system = sorted(options, key=lambda p: _system_key(p, group, stale_units))
    own_rank = {p.key: r for r, p in enumerate(by_own, 1)}
    system_rank = {p.key: r for r, p in enumerate(by_system, 1)}
    chosen = (by_own if order == "own" else by_system)[:k]
    on = system.reference_date
    reference = _make(children, by_own[0].chosen, weights, on) if by_own else None
    out = [_finish(_make(children, p.chosen, weights, on), own_rank[p.key], system_rank[p.key], reference, index,
                   children, unit_prices is not None, weights, lang, reason) for p in chosen]
    return require_valid_proposals(system, out, travel, held, index, f"proposals for {', '.join(child_ids)}",
                                   f"propositions pour {', '.join(child_ids)}")


def _propose_one(system: PlacementSystem, child: Child, travel: TravelMatrix, weights: Weights, k: int,
                 prices: Mapping[str, float], priced: bool, order: Ordering, held: Mapping[str, int],
                 index: SystemIndex | None, lang: Lang = "en",
                 stale: frozenset[str] = frozenset()) -> list[Proposal]:
    """:func:`propose` for one child: each candidate is one proposal whose own score is the
    option's score and whose price is the unit's, so both rankings are computed on the candidates
    and only the ``k`` proposals returned are built (same keys as :func:`_own_key`,
    :func:`_system_key`)."""
    index = index if index is not None and index.system is system else SystemIndex.build(system, travel)
    free = index.free_places(held)
    cands = [c for by_structure in _candidates(index, child, free, weights, prices, frozenset((child.id,))).values() for c in by_structure]
    own = [(0, round(c.cost), 1 if c.unit.id in stale else 0, round(c.cost, 9), c.structure.id,
            ((child.id, c.unit.id),)) for c in cands]
    sysk = [(0, round(c.cost + c.price), 1 if c.unit.id in stale else 0, round(c.cost + c.price, 9), c.structure.id,
             ((child.id, c.unit.id),)) for c in cands]
    by_own = sorted(range(len(cands)), key=own.__getitem__)
    by_system = sorted(range(len(cands)), key=sysk.__getitem__)
    own_rank = {i: r for r, i in enumerate(by_own, 1)}
    system_rank = {i: r for r, i in enumerate(by_system, 1)}
    on = system.reference_date
    reference = _make((child,), {child.id: cands[by_own[0]]}, weights, on) if cands else None
    out = []
    for i in (by_own if order == "own" else by_system)[:k]:
        p = _make((child,), {child.id: cands[i]}, weights, on)
        out.append(_finish(p, own_rank[i], system_rank[i], reference, index, (child,), priced, weights, lang))
    return require_valid_proposals(system, out, travel, held, index, f"proposals for {child.id}",
                                   f"propositions pour {child.id}")


# --- the hard-rule check of every proposal ----------------------------------------------------


def proposal_violations(
    system: PlacementSystem,
    proposal: Proposal,
    travel: TravelMatrix,
    held: Mapping[str, int] | None = None,
    index: SystemIndex | None = None,
) -> list[Violation]:
    """Every hard rule the proposal breaks, each naming its rule (a name of ``matcher.RULES``)
    and its children; empty when it keeps them all. The rules on one option
    (:data:`~matcher.rules.OPTION_RULES`, travel read from ``travel``), ``free_place`` (free
    places once ``held`` ones are taken), ``judge_separation`` (with each other and with the
    children living in a structure now), ``unit_takes_siblings``, and ``siblings_together``: a
    split fratrie must carry its ``siblings_split`` component (one per extra structure)."""
    on = system.reference_date
    held = held or {}
    found: list[Violation] = []
    unit_of_child = {p.child_id: p.unit_id for p in proposal.placements}
    structure_of_child: dict[str, str | None] = {}
    load: dict[str, list[str]] = {}
    for p in proposal.placements:
        child = system.child_by_id[p.child_id]
        if p.unit_id is None:
            structure_of_child[child.id] = None
            continue
        unit = system.unit_by_id[p.unit_id]
        structure = system.structure_by_id[unit.structure_id]
        structure_of_child[child.id] = structure.id
        if child.current is None or child.current.unit_id != unit.id:  # a sibling who stays takes no new place
            load.setdefault(unit.id, []).append(child.id)
        option = Option.of(child, structure, unit, travel)
        for e in exclusions(child, option, on):
            found.append(Violation(e.rule, (child.id,), f"in unit {unit.id}: {e.reason}", unit.id))
    for unit_id, who in load.items():
        free = max(0, system.unit_by_id[unit_id].free - held.get(unit_id, 0))
        if len(who) > free:
            found.append(Violation(CAPACITY_RULE.name, tuple(who),
                                   f"unit {unit_id} has {free} free place(s) for {len(who)} child(ren)", unit_id))
    partners = index.separation_partners if index is not None and index.system is system else separation_partners(system)
    for cid in list(unit_of_child):
        for other in partners.get(cid, ()):
            if other not in structure_of_child and other in system.child_by_id:
                placed = system.child_by_id[other].current
                structure_of_child[other] = None if placed is None else system.unit_by_id[placed.unit_id].structure_id
    seen: set[tuple[str, ...]] = set()
    for cid in unit_of_child:
        mine = structure_of_child[cid]
        for other in sorted(partners.get(cid, ())):
            pair = tuple(sorted((cid, other)))
            if mine is not None and structure_of_child.get(other) == mine and pair not in seen:
                seen.add(pair)
                found.append(Violation(judge_separation.__name__, pair,
                                       f"both in structure {mine} against the judge's separation order"))
    groups = sorted({c.sibling_group_id for c in (system.child_by_id[i] for i in unit_of_child)} - {None})
    split = {c.name: c.quantity for c in proposal.components}.get("siblings_split", 0.0)
    for group in (system.sibling_group_by_id[g] for g in groups):
        reason = unit_takes_siblings(group, unit_of_child, system.unit_by_id)
        if reason is not None:
            found.append(Violation(unit_takes_siblings.__name__, tuple(c for c in group.child_ids if c in unit_of_child), reason))
        reason = siblings_together(group, structure_of_child)
        extra = len({structure_of_child.get(c) for c in group.child_ids} - {None}) - 1
        if reason is not None and split != extra:
            found.append(Violation(siblings_together.__name__, tuple(c for c in group.child_ids if c in unit_of_child),
                                   f"{reason}, but the proposal counts {split:.0f} extra structure(s)"))
    return found


def require_valid_proposals(
    system: PlacementSystem,
    proposals: Sequence[Proposal],
    travel: TravelMatrix,
    held: Mapping[str, int] | None,
    index: SystemIndex | None,
    context: str,
    context_fr: str | None = None,
) -> list[Proposal]:
    """The proposals when none breaks a hard rule; else :class:`~matcher.errors.HardRuleViolation`
    naming each rule and child (logged first): a broken proposal is never returned."""
    found = [v for p in proposals for v in proposal_violations(system, p, travel, held, index)]
    if found:
        error = HardRuleViolation(context, found, context_fr)
        logging.getLogger("placement.guard").error("%s", error)
        raise error
    return list(proposals)


def why_not(
    system: PlacementSystem,
    child_ids: Sequence[str],
    structure_id: str,
    travel: TravelMatrix,
    weights: Weights,
    *,
    held: Mapping[str, int] | None = None,
    index: SystemIndex | None = None,
    allow_moves: bool = False,
    lang: Lang = "en",
    stale_units: frozenset[str] = frozenset(),
) -> WhyNot:
    """Why ``structure_id`` is not proposed first for the children, in a sentence in ``lang``:
    the child already lives there; or every rule that excludes each of its units; or it is full
    (naming only the units that would take the child); or the judge's separation; or the options
    ranked ahead. For a fratrie with a sibling who lives there already, the sentence names them
    first (they stay: they need no free place) and says what it means for the others. ``checks``
    keeps every rule's verdict on every unit (capacity included), each reason in ``lang``."""
    children = _children(system, child_ids)
    structure = system.structure_by_id.get(structure_id)
    if structure is None:
        raise DomainError(f"unknown structure {structure_id!r}", fr=f"structure {structure_id!r} inconnue")
    fr = lang == "fr"
    sep = separator(lang)
    held = held or {}
    on = system.reference_date
    name = structure_name(structure)
    units = system.units_by_structure.get(structure_id, ())
    lives_here = [c for c in children if c.current is not None
                  and system.unit_by_id[c.current.unit_id].structure_id == structure_id]
    group = len(children) > 1
    checks: list[UnitCheck] = []
    rule_blocked: dict[str, list[str]] = {}
    only_full: list[str] = []
    full_units: dict[str, Unit] = {}
    for child in children:
        reasons: list[str] = []
        fits_but_full = False
        fits = child in lives_here and group  # a sibling who lives here may stay: no free place needed
        age = child.age_on(on)
        minutes_ = travel.between(child.anchor.id, structure_id)
        for unit in units:
            taken = min(unit.capacity, unit.occupied + held.get(unit.id, 0))
            live = Unit(unit.id, unit.structure_id, unit.age_min, unit.age_max, unit.sex, unit.capacity,
                        taken, unit.takes_siblings)
            found = exclusions(child, Option.of(child, structure, live, travel), on,
                               include_capacity=True)
            if fr:  # the machine field ``rule`` stays; the reason is said in the answer's language
                found = [Exclusion(e.rule, rule_reason(e.rule, child, structure, live, minutes_, age, lang))
                         for e in found]
            checks.append(UnitCheck(child.id, unit.id, tuple(found)))
            rule_found = [e for e in found if e.rule != "free_place"]
            if not found:
                fits = True
            elif not rule_found:
                fits_but_full = True
                full_units[unit.id] = live
            else:
                said = sep.join(rule_reason(e.rule, child, structure, unit, minutes_, age, lang) for e in rule_found)
                reasons.append(f"unité {unit.id} : {said}" if fr else f"unit {unit.id}: {said}")
        if not fits and not fits_but_full:
            rule_blocked[child.id] = reasons or ["la structure n'a aucune unité" if fr else "the structure has no unit"]
        elif not fits:
            only_full.append(child.id)
    if lives_here and (not group or len(lives_here) == len(children)):
        where = join([f"{c.id} ({'unité' if fr else 'unit'} {c.current.unit_id})" for c in lives_here  # type: ignore[union-attr]
                      ], lang)
        sentence = (f"{where} {'vit' if len(lives_here) == 1 else 'vivent'} déjà à {name} : "
                    f"{'il n’y a rien à proposer là' if not group else 'la fratrie y est déjà'}." if fr else
                    f"{where} already {'lives' if len(lives_here) == 1 else 'live'} at {name}: "
                    f"{'there is nothing to propose there' if not group else 'the siblings are there already'}.")
        return WhyNot(structure_id, "already_placed", sentence, tuple(checks))
    # a sibling lives here (and stays): say so first, then what it means for the others
    others = join([c.id for c in children if c not in lives_here], lang)
    if lives_here:
        who = join([f"{sibling_words(c, lang)} ({'unité' if fr else 'unit'} {c.current.unit_id})"  # type: ignore[union-attr]
                    for c in lives_here], lang)
        many = len(lives_here) > 1
        head = (f"{who} {'vivent' if many else 'vit'} déjà à {name}" if fr else
                f"{who} already {'live' if many else 'lives'} at {name}")
        head = head[:1].upper() + head[1:]
        subject, but, and_ = ("la structure", ", mais ", ", et ") if fr else ("it", ", but ", ", and ")
    else:
        head, subject, but, and_ = "", name, "", ""
    if rule_blocked:
        parts = [(f"pour {cid} : " if fr else f"for {cid}: ") + " | ".join(r) for cid, r in rule_blocked.items()]
        sentence = (f"{subject} est exclue " if fr else f"{subject} is excluded ") + sep.join(parts) + "."
        return WhyNot(structure_id, "excluded", head + but + sentence, tuple(checks))
    if only_full:
        listed = ", ".join(
            (f"{u.id} {u.occupied}/{u.capacity}") for u in full_units.values()
        )
        sentence = (f"{subject} n'a pas de place libre pour {join(only_full, lang)} : toutes les unités qui "
                    f"{'l' + chr(39) if len(only_full) == 1 else 'les '}accueilleraient sont complètes "
                    f"(places prises / capacité : {listed})." if fr else
                    f"{subject} has no free place for {join(only_full, lang)}: every unit that would take "
                    f"{'them' if len(only_full) > 1 else 'the child'} is full (taken / capacity: {listed}).")
        return WhyNot(structure_id, "full", head + but + sentence, tuple(checks))
    partners = index.separation_partners if index is not None and index.system is system else separation_partners(system)
    asked = frozenset(c.id for c in children)
    living = [(c.id, o) for c in children for o in sorted(partners.get(c.id, ())) if o not in asked
              and (now := system.child_by_id[o].current) is not None
              and system.unit_by_id[now.unit_id].structure_id == structure_id]
    if living:
        said = sep.join((f"{a} de {b}" if fr else f"{a} from {b}") for a, b in living)
        return WhyNot(structure_id, "separated", head + but + (
                      f"{subject} ne peut pas les accueillir : le juge a séparé {said}, qui y vit." if fr else
                      f"{subject} cannot take them: the judge separated {said}, who lives there."), tuple(checks))
    pairs = _separated(children)
    if pairs:
        said = join([f"{a} {'et' if fr else 'and'} {b}" for a, b in pairs], lang)
        return WhyNot(structure_id, "separated", head + but + (
                      f"{subject} ne peut pas les accueillir tous : le juge a ordonné que {said} soient placés séparément."
                      if fr else f"{subject} cannot take all of them: the judge ordered {said} placed apart."),
                      tuple(checks))
    proposals, *_ = _all_proposals(system, children, travel, weights, {}, held, index, allow_moves)
    by_own = sorted(proposals, key=lambda p: _own_key(p, group, stale_units))
    rank = next((r for r, p in enumerate(by_own, 1) if p.structure_id == structure_id and
                 (not group or p.siblings_together)), None)
    if rank is None:
        if lives_here:
            sentence = (f"{head}, mais la structure n'a pas assez de places libres pour accueillir aussi {others}." if fr else
                        f"{head}, but it has too few free places to take {others} as well.")
        else:
            sentence = (f"{name} accueille chacun d'eux mais n'a pas assez de places libres pour les {len(children)} "
                        "ensemble." if fr else
                        f"{name} takes each of them but has too few free places for all {len(children)} together.")
        return WhyNot(structure_id, "full", sentence, tuple(checks))
    mine = by_own[rank - 1]
    room = ((f"la structure a de la place pour {others}" if fr else f"it has room for {others}") if lives_here else "")
    if rank == 1:
        sentence = (f"{head}{and_}{room} : c'est la meilleure option." if fr else
                    f"{head}{and_}{room}: it is the best option.") if lives_here else \
            (f"{name} est la meilleure option." if fr else f"{name} is the best option.")
        return WhyNot(structure_id, "best", sentence, tuple(checks), rank)
    ahead = tuple(by_own[: min(rank - 1, 5)])
    best = ahead[0]
    best_name = structure_name(system.structure_by_id[best.structure_id])
    why = _difference(best, mine, lang)
    if lives_here:
        sentence = (f"{head}{and_}{room}, mais arrive en position {rank} : "
                    f"{plural(rank - 1, 'meilleure option', 'meilleures options')} avant elle, la première étant "
                    f"{best_name} ({why})." if fr else
                    f"{head}{and_}{room}, but ranks #{rank}: {rank - 1} better option(s) ahead, the best {best_name} "
                    f"({why}).")
    else:
        sentence = (f"{name} convient mais arrive en position {rank} : "
                    f"{plural(rank - 1, 'meilleure option', 'meilleures options')} avant elle, la première étant "
                    f"{best_name} ({why})." if fr else
                    f"{name} fits but ranks #{rank}: {rank - 1} better option(s) ahead, the best {best_name} ({why}).")
    return WhyNot(structure_id, "ranked_lower", sentence, tuple(checks), rank, ahead)


def _difference(better: Proposal, worse: Proposal, lang: Lang = "en") -> str:
    """The component that makes most of the gap, in words."""
    mine = {c.name: c for c in worse.components}
    gaps = sorted(
        ((mine[c.name].cost - c.cost, c.name, mine[c.name].quantity - c.quantity)
         for c in better.components if c.name in mine),
        reverse=True,
    )
    if not gaps or gaps[0][0] <= 0:
        return difference_words("", 0.0, lang)
    _, comp, qty = gaps[0]
    return difference_words(comp, qty, lang)


__all__ = ["COMPETITION_MINUTES", "ChildPlacement", "Proposal", "SystemIndex", "UnitCheck", "WhyNot",
           "proposal_violations", "propose", "require_valid_proposals", "separation_partners", "why_not"]
