"""The batch placement problem as arrays: children, units, capacities, eligible arcs, costs.

A :class:`Problem` is built once from a :class:`~matcher.model.PlacementSystem`, a
:class:`~matcher.travel.TravelMatrix` and the :class:`~matcher.scoring.Weights`, and every
method (greedy, LP bound, dual prices, exact model) reads it.

*One source of truth.* The hard rules of :data:`matcher.rules.OPTION_RULES` and the score of
:func:`matcher.scoring.score_option` are written once in :mod:`matcher`; here they are applied
*vectorised* over all units at once (children are grouped into classes that see the same units:
same age, sex, needs and mother-of-an-infant flag; the judge's constraints and the travel limit
are then applied child by child). ``tests/test_solver_problem.py`` checks that this agrees
exactly with :func:`matcher.rules.exclusions` and :func:`matcher.scoring.score_option` on many
random pairs.

Scopes:

* ``"waiting"``: the children with no current placement; a unit offers its free places
  (``capacity - occupied``).
* ``"all"``: every child (the planners' full re-plan); a unit offers
  ``capacity - occupied + (children of the system placed there now)``, and moving a placed child
  to another unit costs ``weights.move`` (soft rule ``stability``).

Costs are in minutes-equivalent (see ``matcher/weights.toml``). The full set of eligible arcs is
never stored (51,000 children x 30,000 units at 10x would not fit): arcs are computed on demand,
by class, in chunks; :meth:`Problem.candidate_arcs` keeps the k cheapest per child.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

import numpy as np

from matcher.errors import DomainError
from matcher.model import (
    Child,
    Need,
    PlacementSystem,
    Sex,
    StructureType,
    Unit,
    UnitSex,
    Zone,
)
from matcher.rules import HOTEL_MIN_AGE
from matcher.scoring import Weights, school_continuity_applies
from matcher.travel import TravelMatrix

Scope = Literal["waiting", "all"]
SCOPES: tuple[str, ...] = ("waiting", "all")

NEED_BIT: dict[Need, int] = {need: 1 << k for k, need in enumerate(Need)}
_PROTECTION = NEED_BIT[Need.PROTECTION]
_SEX_CODE = {UnitSex.MIXED: 0, UnitSex.GIRLS: 1, UnitSex.BOYS: 2}
_CHUNK_CELLS = 4_000_000
"""Largest children x units block priced at once (float64: 32 MB)."""


def need_mask(needs: frozenset[Need]) -> int:
    mask = 0
    for need in needs:
        mask |= NEED_BIT[need]
    return mask


@dataclass(frozen=True, eq=False)
class SiblingBlock:
    """A fratrie as the solver sees it: its members in scope (child indices, at least two).

    ``together`` is True when the members must live in one structure (the hard rule
    ``siblings_together``, which the solver may break only at ``weights.siblings_split`` per
    extra structure); False for a separable group, or one with a judge's separation order
    between two of its members (which forces it apart).
    """

    group_id: str
    members: tuple[int, ...]
    together: bool


@dataclass(frozen=True, eq=False)
class Arcs:
    """Sparse (child, unit) pairs, each eligible under every hard rule, with its cost."""

    child: np.ndarray
    """int32 child index."""
    unit: np.ndarray
    """int32 unit index."""
    cost: np.ndarray
    """float64 cost in minutes-equivalent (score_option total)."""
    minutes: np.ndarray
    """float32 public-transport minutes, NaN when unreachable."""

    def __len__(self) -> int:
        return int(self.child.size)

    @classmethod
    def empty(cls) -> Arcs:
        e = np.zeros(0)
        return cls(e.astype(np.int32), e.astype(np.int32), e, e.astype(np.float32))

    @classmethod
    def joined(cls, parts: list[tuple[np.ndarray, ...]]) -> Arcs:
        """The arcs of ``(child, unit, cost, minutes)`` column parts, one after the other."""
        return cls(*(np.concatenate([p[k] for p in parts]) for k in range(4))) if parts else cls.empty()

    def merged(self, other: Arcs, n_units: int) -> Arcs:
        """These arcs and ``other``'s, each (child, unit) pair once (the first seen), ordered by pair.

        When these arcs are already ordered by pair, each once (as :meth:`deduplicated` leaves
        them), only ``other`` is sorted, and its new pairs are inserted (the flow's rounds merge
        a few hundred thousand arcs into millions: 0.45 s a round at 10x by sorting them all)."""
        n = max(n_units, 1)
        key = self.child.astype(np.int64) * n + self.unit
        if not (key[1:] > key[:-1]).all():
            return Arcs.joined([self.columns(), other.columns()]).deduplicated(n_units)
        other_key, first = np.unique(other.child.astype(np.int64) * n + other.unit, return_index=True)
        at = np.searchsorted(key, other_key)
        new = (at >= key.size) | (key[np.minimum(at, max(key.size - 1, 0))] != other_key) if key.size else np.ones(at.size, dtype=bool)
        at, first = at[new], first[new]
        return Arcs(np.insert(self.child, at, other.child[first]).astype(np.int32),
                    np.insert(self.unit, at, other.unit[first]).astype(np.int32),
                    np.insert(self.cost, at, other.cost[first]),
                    np.insert(self.minutes, at, other.minutes[first]).astype(np.float32))

    def deduplicated(self, n_units: int) -> Arcs:
        """Each (child, unit) pair once (the first seen), ordered by pair."""
        _, first = np.unique(self.child.astype(np.int64) * max(n_units, 1) + self.unit, return_index=True)
        return Arcs(self.child[first].astype(np.int32), self.unit[first].astype(np.int32), self.cost[first], self.minutes[first])

    def take(self, index: np.ndarray | slice) -> Arcs:
        """The arcs at ``index`` (a mask, positions or a slice), in that order."""
        return Arcs(self.child[index], self.unit[index], self.cost[index], self.minutes[index])

    def columns(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        return self.child, self.unit, self.cost, self.minutes


@dataclass(frozen=True, eq=False)
class Problem:
    """Children x units with capacities, eligibility and costs, for one scope. Build with :meth:`build`."""

    system: PlacementSystem
    travel: TravelMatrix
    weights: Weights
    scope: Scope
    children: tuple[Child, ...]
    units: tuple[Unit, ...]
    structure_ids: tuple[str, ...]
    capacity: np.ndarray
    """Places the scope may fill in each unit (int64)."""
    unplaced_cost: np.ndarray
    """Penalty per child left without a place (float64, Weights.unplaced_cost)."""
    blocks: tuple[SiblingBlock, ...]
    separations: tuple[tuple[int, int], ...]
    """Judge's separation orders between two children in scope (i < j): never one structure."""
    forbidden_structures: dict[int, frozenset[int]]
    """Structures a child may not join because a child it must be separated from, out of scope, lives there."""
    # vectorised columns
    unit_structure: np.ndarray
    unit_age_min: np.ndarray
    unit_age_max: np.ndarray
    unit_sex: np.ndarray
    unit_takes_siblings: np.ndarray
    structure_caps: np.ndarray
    structure_mother_child: np.ndarray
    structure_secret: np.ndarray
    structure_hotel: np.ndarray
    structure_departement: np.ndarray
    structure_travel_col: np.ndarray
    """Column of each structure in the travel matrix, -1 when absent (unreachable)."""
    structure_static_cost: np.ndarray
    """outside_paris + outside_ile_de_france + daily_price + hotel_stay costs of each structure."""
    child_age: np.ndarray
    child_sex_female: np.ndarray
    child_needs: np.ndarray
    child_mother: np.ndarray
    child_travel_row: np.ndarray
    """Row of each child's anchor (``Child.anchor``) in the travel matrix, -1 when absent (unreachable)."""
    child_school_row: np.ndarray
    """Row of each child's school where school continuity applies, -1 where it does not (-2:
    it applies but the school is not in the matrix: unreachable)."""
    child_current_unit: np.ndarray
    """Current unit index, -1 when none (or outside the system's units)."""
    child_class: np.ndarray
    class_units: tuple[np.ndarray, ...]
    """Units eligible for each class before the judge's constraints and the travel limit."""
    child_index: dict[str, int] = field(repr=False)
    unit_index: dict[str, int] = field(repr=False)
    block_of_child: np.ndarray = field(repr=False)

    # ---------------------------------------------------------------- construction

    @classmethod
    def build(
        cls,
        system: PlacementSystem,
        travel: TravelMatrix,
        weights: Weights,
        scope: Scope = "waiting",
    ) -> Problem:
        """The problem of placing the children of ``scope`` into the units of ``system``."""
        if scope not in SCOPES:
            raise DomainError(f"unknown scope {scope!r}; expected one of {', '.join(SCOPES)}",
                              fr=f"périmètre {scope!r} inconnu ; attendu : {' ou '.join(SCOPES)}")
        on = system.reference_date
        children = system.waiting_children() if scope == "waiting" else system.children
        units = system.units
        structures = system.structures
        structure_ids = tuple(s.id for s in structures)
        s_index = {s: k for k, s in enumerate(structure_ids)}
        unit_index = {u.id: k for k, u in enumerate(units)}
        child_index = {c.id: k for k, c in enumerate(children)}

        in_unit_now = np.zeros(len(units), dtype=np.int64)
        if scope == "all":
            for c in system.children:
                if c.current is not None:
                    in_unit_now[unit_index[c.current.unit_id]] += 1
        capacity = np.array([u.capacity - u.occupied for u in units], dtype=np.int64) + in_unit_now

        col = travel.structure_index
        deps = sorted({s.location.departement for s in structures})
        dep_code = {d: k for k, d in enumerate(deps)}
        static = np.array(
            [
                (0.0 if s.zone is Zone.PARIS else weights.outside_paris)
                + (weights.outside_ile_de_france if s.zone is Zone.PROVINCE else 0.0)
                + s.daily_price_eur * weights.daily_price_eur
                + (weights.hotel if s.type is StructureType.HOTEL else 0.0)
                for s in structures
            ],
            dtype=np.float64,
        )
        unit_structure = np.array([s_index[u.structure_id] for u in units], dtype=np.int32)
        unit_age_min = np.array([u.age_min for u in units], dtype=np.int16)
        unit_age_max = np.array([u.age_max for u in units], dtype=np.int16)
        unit_sex = np.array([_SEX_CODE[u.sex] for u in units], dtype=np.int8)
        structure_caps = np.array([need_mask(s.capabilities) for s in structures], dtype=np.int64)
        structure_mother_child = np.array([s.type is StructureType.CENTRE_MATERNEL for s in structures], dtype=bool)
        structure_secret = np.array([s.secret for s in structures], dtype=bool)
        structure_hotel = np.array([s.type is StructureType.HOTEL for s in structures], dtype=bool)

        child_age = np.array([c.age_on(on) for c in children], dtype=np.int16)
        child_female = np.array([c.sex is Sex.FEMALE for c in children], dtype=bool)
        child_needs = np.array([need_mask(c.needs) for c in children], dtype=np.int64)
        child_mother = np.array([c.is_mother_of_infant_on(on) for c in children], dtype=bool)
        child_row = np.array([travel.row_of_home.get(c.anchor.id, -1) for c in children], dtype=np.int64)
        school_row = np.array([travel.row_of_home.get(c.school.id, -2) if school_continuity_applies(c, on) else -1
                               for c in children], dtype=np.int64)
        missing = [c.id for c, r, sr in zip(children, child_row, school_row) if r < 0 or sr == -2]
        if missing:  # a matrix built from the family homes alone, not from system.origins
            shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
            montres = ", ".join(missing[:3]) + (f" et {len(missing) - 3} de plus" if len(missing) > 3 else "")
            raise DomainError(f"the travel matrix has no row for the anchor or the school of {len(missing)} "
                              f"child(ren) ({shown}): build it from system.origins (homes, schools, visit sites "
                              "and services), not from the family homes alone",
                              fr=f"la matrice des temps de trajet n'a pas de ligne pour le point d'ancrage ou l'école "
                                 f"de {len(missing)} enfant(s) ({montres}) : construisez-la depuis system.origins "
                                 "(domiciles, écoles, lieux de visite et services), pas depuis les seuls domiciles")
        child_current = np.array(
            [unit_index.get(c.current.unit_id, -1) if c.current is not None else -1 for c in children],
            dtype=np.int64,
        )
        unplaced = np.array([weights.unplaced_cost(c, on) for c in children], dtype=np.float64)

        # classes of children that see the same units under the unit/structure rules
        keys = np.stack([child_age.astype(np.int64), child_female, child_needs, child_mother], axis=1) if children else np.zeros((0, 4), dtype=np.int64)
        uniq, child_class = np.unique(keys, axis=0, return_inverse=True) if len(children) else (keys, np.zeros(0, dtype=np.int64))
        child_class = np.asarray(child_class, dtype=np.int32).reshape(-1)
        unit_caps = structure_caps[unit_structure]
        unit_mc = structure_mother_child[unit_structure]
        unit_secret = structure_secret[unit_structure]
        unit_hotel = structure_hotel[unit_structure]
        class_units = []
        for age, female, needs, mother in uniq:
            ok = (unit_age_min <= age) & (age <= unit_age_max)  # age_range
            ok &= (unit_sex == 0) | (unit_sex == (1 if female else 2))  # unit_sex
            ok &= (unit_age_max >= 18) if age >= 18 else (unit_age_min < 18)  # young_adult_units
            if not mother:
                ok &= ~unit_mc  # mother_child_units
            ok &= (unit_caps & needs) == needs  # needs_met
            if not (needs & _PROTECTION):
                ok &= ~unit_secret  # secret_places
            if age < HOTEL_MIN_AGE:
                ok &= ~unit_hotel  # hotel_age
            class_units.append(np.flatnonzero(ok).astype(np.int32))

        blocks: list[SiblingBlock] = []
        block_of_child = np.full(len(children), -1, dtype=np.int32)
        for group in system.sibling_groups:
            members = tuple(child_index[c] for c in group.child_ids if c in child_index)
            if len(members) < 2:
                continue
            ordered_apart = any(
                system.child_by_id[a].judge.separated_from & set(group.child_ids) for a in group.child_ids
            )
            for m in members:
                block_of_child[m] = len(blocks)
            blocks.append(SiblingBlock(group.id, members, group.together and not ordered_apart))

        separations: set[tuple[int, int]] = set()
        forbidden: dict[int, set[int]] = {}
        for c in system.children:
            for other_id in c.judge.separated_from:
                a, b = child_index.get(c.id), child_index.get(other_id)
                if a is not None and b is not None:
                    separations.add((min(a, b), max(a, b)))
                    continue
                # one of the two is out of scope: the one in scope avoids the other's structure
                inside, outside = (a, other_id) if a is not None else (b, c.id)
                if inside is None:
                    continue
                placed = system.child_by_id[outside].current
                if placed is not None:
                    forbidden.setdefault(inside, set()).add(s_index[system.unit_by_id[placed.unit_id].structure_id])

        return cls(
            system=system,
            travel=travel,
            weights=weights,
            scope=scope,
            children=tuple(children),
            units=tuple(units),
            structure_ids=structure_ids,
            capacity=capacity,
            unplaced_cost=unplaced,
            blocks=tuple(blocks),
            separations=tuple(sorted(separations)),
            forbidden_structures={k: frozenset(v) for k, v in forbidden.items()},
            unit_structure=unit_structure,
            unit_age_min=unit_age_min,
            unit_age_max=unit_age_max,
            unit_sex=unit_sex,
            unit_takes_siblings=np.array([u.takes_siblings for u in units], dtype=bool),
            structure_caps=structure_caps,
            structure_mother_child=structure_mother_child,
            structure_secret=structure_secret,
            structure_hotel=structure_hotel,
            structure_departement=np.array([dep_code[s.location.departement] for s in structures], dtype=np.int32),
            structure_travel_col=np.array([col.get(s, -1) for s in structure_ids], dtype=np.int64),
            structure_static_cost=static,
            child_age=child_age,
            child_sex_female=child_female,
            child_needs=child_needs,
            child_mother=child_mother,
            child_travel_row=child_row,
            child_school_row=school_row,
            child_current_unit=child_current,
            child_class=child_class,
            class_units=tuple(class_units),
            child_index=child_index,
            unit_index=unit_index,
            block_of_child=block_of_child,
        )

    # ---------------------------------------------------------------- sizes and lookups

    @property
    def n_children(self) -> int:
        return len(self.children)

    @property
    def n_units(self) -> int:
        return len(self.units)

    @cached_property
    def departement_code(self) -> dict[str, int]:
        deps = sorted({s.location.departement for s in self.system.structures})
        return {d: k for k, d in enumerate(deps)}

    @cached_property
    def judged_children(self) -> frozenset[int]:
        """Children with a judge's constraint on their places (excluded structures or
        départements, most minutes of travel)."""
        return frozenset(i for i, c in enumerate(self.children) if not c.judge.is_empty)

    @cached_property
    def separation_partners(self) -> dict[int, tuple[int, ...]]:
        """For each child in a judge's separation order, the children in scope it must not live with."""
        partners: dict[int, list[int]] = {}
        for a, b in self.separations:
            partners.setdefault(a, []).append(b)
            partners.setdefault(b, []).append(a)
        return {i: tuple(others) for i, others in partners.items()}

    @cached_property
    def _structure_position(self) -> dict[str, int]:
        return {s: k for k, s in enumerate(self.structure_ids)}

    @cached_property
    def units_of_structure(self) -> tuple[np.ndarray, ...]:
        order = np.argsort(self.unit_structure, kind="stable")
        bounds = np.searchsorted(self.unit_structure[order], np.arange(len(self.structure_ids) + 1))
        return tuple(order[bounds[k] : bounds[k + 1]].astype(np.int32) for k in range(len(self.structure_ids)))

    # ---------------------------------------------------------------- arcs, vectorised

    def minutes_block(self, children: np.ndarray, units: np.ndarray) -> np.ndarray:
        """Minutes from the children's anchors (float32, NaN unreachable) for children x units."""
        return self._minutes_from(self.child_travel_row[children], units)

    def school_minutes_block(self, children: np.ndarray, units: np.ndarray) -> np.ndarray:
        """Minutes from the places to the children's schools (float32, NaN unreachable or where
        school continuity does not apply) for children x units."""
        return self._minutes_from(self.child_school_row[children], units)

    def _minutes_from(self, rows: np.ndarray, units: np.ndarray) -> np.ndarray:
        cols = self.structure_travel_col[self.unit_structure[units]]
        rok = rows >= 0
        cok = cols >= 0
        if rok.all() and cok.all():
            return self.travel.minutes[np.ix_(rows, cols)]
        out = np.full((rows.size, units.size), np.nan, dtype=np.float32)
        if rok.any() and cok.any():
            sub = self.travel.minutes[np.ix_(rows[rok], cols[cok])]
            out[np.ix_(np.flatnonzero(rok), np.flatnonzero(cok))] = sub
        return out

    def cost_block(self, children: np.ndarray, units: np.ndarray, minutes: np.ndarray) -> np.ndarray:
        """Cost (score_option total) of children x units, given their minutes."""
        school = self.child_school_row[children] != -1
        school_minutes = None
        if self.weights.school_minute and school.any():  # school_continuity
            school_minutes = np.full(minutes.shape, np.nan, dtype=np.float32)
            school_minutes[school] = self.school_minutes_block(children[school], units)
        return self._cost(children[:, None], units[None, :], minutes, school_minutes)

    def pair_costs(self, children: np.ndarray, units: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(cost, minutes) of each pair ``(children[k], units[k])`` (no eligibility check)."""
        children, units = np.asarray(children, dtype=np.int64), np.asarray(units, dtype=np.int64)
        minutes = self._minutes_at(self.child_travel_row[children], units)
        school_minutes = self._minutes_at(self.child_school_row[children], units) if self.weights.school_minute else None
        return self._cost(children, units, minutes, school_minutes), minutes

    def _minutes_at(self, rows: np.ndarray, units: np.ndarray) -> np.ndarray:
        """Minutes from each travel-matrix row to each unit's structure, pair by pair (NaN unreachable)."""
        cols = self.structure_travel_col[self.unit_structure[units]]
        ok = (rows >= 0) & (cols >= 0)
        out = np.full(rows.shape, np.nan, dtype=np.float32)
        out[ok] = self.travel.minutes[rows[ok], cols[ok]]
        return out

    def _cost(self, children: np.ndarray, units: np.ndarray, minutes: np.ndarray, school_minutes: np.ndarray | None) -> np.ndarray:
        """The cost terms of :func:`matcher.scoring.score_option`, for child and unit indices that
        broadcast to ``minutes``' shape (a block or pairs); ``school_minutes`` where school
        continuity applies (ignored elsewhere)."""
        w = self.weights
        m = np.where(np.isnan(minutes), w.unreachable_minutes, minutes.astype(np.float64))
        cost = m * w.transit_minute + self.structure_static_cost[self.unit_structure[units]]
        if school_minutes is not None:  # school_continuity
            school = self.child_school_row[children] != -1
            sm = np.where(np.isnan(school_minutes), w.unreachable_minutes, school_minutes.astype(np.float64))
            cost = cost + np.where(school, sm * w.school_minute, 0.0)
        if w.move:  # stability
            current = self.child_current_unit[children]
            cost = cost + ((current >= 0) & (current != units)) * w.move
        return cost

    def judge_mask(self, i: int, units: np.ndarray, minutes: np.ndarray) -> np.ndarray | None:
        """For child i: which of ``units`` pass the judge's rules (None when the child has none)."""
        if i not in self.judged_children:
            return None
        judge = self.children[i].judge
        ok = np.ones(units.size, dtype=bool)
        structures = self.unit_structure[units]
        if judge.excluded_structures:
            banned = [self._structure_position[s] for s in judge.excluded_structures if s in self._structure_position]
            ok &= ~np.isin(structures, banned)  # judge_excluded_structure
        if judge.excluded_departements:
            banned = [self.departement_code[d] for d in judge.excluded_departements if d in self.departement_code]
            ok &= ~np.isin(self.structure_departement[structures], banned)  # judge_excluded_departement
        if judge.max_travel_minutes is not None:
            ok &= ~np.isnan(minutes) & (minutes <= judge.max_travel_minutes)  # judge_max_travel
        return ok

    def iter_blocks(self, children: np.ndarray | None = None) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
        """Yield (children, units, minutes, cost, eligible) blocks covering every usable eligible arc.

        Only units with places for this scope appear (capacity > 0).

        ``eligible`` is a boolean children x units matrix (the judge's rules applied); the class
        rules are already applied by the choice of ``units``.
        """
        pool = np.arange(self.n_children) if children is None else np.asarray(children)
        classes = self.child_class[pool]
        order = np.argsort(classes, kind="stable")
        pool, classes = pool[order], classes[order]
        starts = np.flatnonzero(np.r_[True, classes[1:] != classes[:-1]]) if pool.size else np.zeros(0, dtype=int)
        ends = np.r_[starts[1:], pool.size]
        for a, b in zip(starts, ends):
            units = self.class_open_units[classes[a]]
            if units.size == 0:
                continue
            step = max(1, _CHUNK_CELLS // max(units.size, 1))
            for lo in range(a, b, step):
                kids = pool[lo : min(b, lo + step)]
                minutes = self.minutes_block(kids, units)
                cost = self.cost_block(kids, units, minutes)
                eligible = np.ones(minutes.shape, dtype=bool)
                for r, i in enumerate(kids):
                    mask = self.judge_mask(int(i), units, minutes[r])
                    if mask is not None:
                        eligible[r] &= mask
                yield kids, units, minutes, cost, eligible

    @cached_property
    def class_open_units(self) -> tuple[np.ndarray, ...]:
        """Units of each class with at least one place for this scope (the only ones a solver can use)."""
        return tuple(u[self.capacity[u] > 0] for u in self.class_units)

    def arcs_of(self, i: int, open_only: bool = True) -> Arcs:
        """Every eligible arc of child i (all OPTION_RULES), sorted by unit index.

        ``open_only``: only units with places for this scope (capacity > 0); False gives every
        unit the rules allow, full or not.
        """
        units = (self.class_open_units if open_only else self.class_units)[self.child_class[i]]
        kids = np.array([i])
        minutes = self.minutes_block(kids, units)
        mask = self.judge_mask(i, units, minutes[0])
        cost = self.cost_block(kids, units, minutes)[0]
        m = minutes[0]
        if mask is not None:
            units, cost, m = units[mask], cost[mask], m[mask]
        return Arcs(np.full(units.size, i, dtype=np.int32), units.astype(np.int32), cost, m)

    @cached_property
    def _class_unit_keys(self) -> np.ndarray:
        """``class * n_units + unit`` of every unit each class's rules allow, sorted."""
        n = max(self.n_units, 1)
        parts = [cl * n + units.astype(np.int64) for cl, units in enumerate(self.class_units)]
        return np.sort(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.int64)

    def eligible_pairs(self, children: np.ndarray, units: np.ndarray) -> np.ndarray:
        """Whether each pair ``(children[k], units[k])`` is eligible under every hard rule (full or
        not): the same answer as membership in :meth:`eligible_units`, pair by pair, vectorised."""
        children, units = np.asarray(children, dtype=np.int64), np.asarray(units, dtype=np.int64)
        keys = self.child_class[children].astype(np.int64) * max(self.n_units, 1) + units
        allowed = self._class_unit_keys
        at = np.minimum(np.searchsorted(allowed, keys), max(allowed.size - 1, 0))
        ok = (allowed[at] == keys) if allowed.size else np.zeros(keys.size, dtype=bool)
        for k in np.flatnonzero(ok & np.isin(children, list(self.judged_children))).tolist():
            i, u = int(children[k]), units[k:k + 1]
            ok[k] = bool(self.judge_mask(i, u, self.minutes_block(np.array([i]), u)[0])[0])
        return ok

    def eligible_units(self, i: int) -> np.ndarray:
        """Unit indices eligible for child i under every hard rule of OPTION_RULES (full or not)."""
        return self.arcs_of(i, open_only=False).unit

    def candidate_arcs(self, per_child: int, children: np.ndarray | None = None) -> Arcs:
        """The ``per_child`` cheapest eligible arcs of every child, plus its current unit when
        eligible (stability: staying is often the best option): one compiled pass
        (:func:`solver.pricing.cheapest_arcs`; 1-2 s at 10x Paris scale, 10 s by NumPy blocks)."""
        from solver.pricing import cheapest_arcs

        return cheapest_arcs(self, max(per_child, 0), children)

    def cost_of(self, i: int, j: int) -> float:
        """Cost of child i in unit j (no eligibility check)."""
        return float(self.pair_costs(np.array([i]), np.array([j]))[0][0])

    def minutes_of(self, i: int, j: int) -> float | None:
        m = float(self.minutes_block(np.array([i]), np.array([j]))[0, 0])
        return None if np.isnan(m) else m

    def school_minutes_of(self, i: int, j: int) -> float | None:
        """Minutes from unit j's structure to child i's school (None: unreachable, no school)."""
        child = self.children[i]
        if child.school is None:
            return None
        return self.travel.between(child.school.id, self.structure_ids[self.unit_structure[j]])
