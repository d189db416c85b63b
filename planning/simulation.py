"""A year of arrivals and departures: how placement policies and capacity plans play out over time.

A plain daily loop (one step per day) over a placement system, deterministic by seed. The
population process does not depend on the policy (common random numbers): the same children
arrive on the same days and leave on the same days whatever the policy does, so that the
differences between policies are not noise. What a policy changes is *where* and *when* each
child is placed.

**The population** (:func:`draw_population`). Every child of the dataset is in care on day 0
(placed, or waiting in the queue). Arrivals are drawn from the generator's own population
(:mod:`data.generator`): each arrival copies the profile of a child or a whole fratrie of the
dataset (needs, sex, family home, the judge's decisions, siblings), reweighted by age band so
that entrants have the age profile of :attr:`SimulationParameters.entrant_age_shares` (12-15:
34%, Paris plan L1563), with a new id, a birth date that keeps the donor's age on the day of
arrival, and an urgency drawn like the generator's. Arrivals per day are Poisson. Each child
(stock or arrival) gets on entry its departure date and reason, drawn from its age path: return
home (annual rate by age band, minors), majority (a share of minors leaves on their 18th
birthday), end of a young adult's contract (annual rate, 18-20), age limit (21st birthday).

**The order of each day** (fixed): 1. departures free their places (a closure waiting for a free
place takes it); 2. capacity changes dated that day open or close places; 3. placed children
older than their unit's age range ask to be moved (they keep their place until moved);
4. arrivals join the queue; 5. the policy places children from the queue (every placement of
the day passes :func:`solver.solution.require_valid`); 6. the day is recorded.

**Policies** (:data:`POLICIES`), compared on the same population:

* ``greedy``: first come, nearest available (:func:`solver.greedy.greedy_assignment`) each day;
* ``own``: each request (urgent first, then first come) takes the officer's first proposal
  (:func:`matcher.proposals.propose`, own order);
* ``system``: the same with the system-aware order, capacity prices from
  :func:`solver.duals.capacity_prices` over the day's queue;
* ``batch``: the optimiser (:func:`solver.optimal.solve_optimal`) over the whole queue every
  :attr:`SimulationParameters.batch_days` days; urgent requests are placed at once, every day,
  by the optimiser over the urgent ones;
* ``hindsight``: not a policy but a reference: :func:`hindsight_bound`, a proven lower bound on
  the objective of *any* policy on these arrivals (every arrival and departure known in
  advance; see its docstring for why it is a bound). A policy's share of the hindsight optimum
  is ``bound / objective`` (100% = as good as anything could be; it is conservative, since the
  optimum itself may lie above the bound).

**The objective** of a policy (:func:`policy_objective`), in the minutes-equivalent of
``matcher/weights.toml``: for every request (a child waiting on day 0 or arriving during the
period) the cost of its first place (transit, outside Paris / Île-de-France, price), or the
unplaced penalty if it never got one, plus ``waiting_day_cost`` per day waited. Fratries split
(``siblings_split`` per extra structure in the solver's objective, reported as
``objective_with_splits``) and moves of children ageing out of their unit are figures of their
own: the bound cannot see them.

**Capacity changes** (the interface with scenario files): :class:`CapacityChange`, a dated
opening (+N) or closing (-N) of places in a unit, a structure, or every structure of a zone
and/or type; :func:`capacity_changes_from_mapping` reads the ``capacity_changes`` section of a
scenario document (docs/SIMULATION.md).
"""

from __future__ import annotations

import math
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

import numpy as np

from matcher.errors import DomainError
from matcher.model import (
    Child,
    CurrentPlacement,
    JudgeConstraints,
    Need,
    PlacementSystem,
    SiblingGroup,
    StructureType,
    Unit,
    Urgency,
    Zone,
)
from matcher.scoring import Weights
from matcher.travel import TravelMatrix
from planning.simulation_parameters import AGE_BANDS, SimulationParameters
from solver.problem import Problem
from solver.solution import require_valid

POLICIES: tuple[str, ...] = ("greedy", "own", "system", "batch")
"""The policies :func:`simulate` runs (the hindsight reference is always computed)."""
POLICY_LABELS_FR: dict[str, str] = {
    "greedy": "Premier arrivé, place la plus proche",
    "own": "Première proposition (ordre propre)",
    "system": "Première proposition (ordre système, prix des places)",
    "batch": "Optimiseur par lots hebdomadaires, urgences immédiates",
    "hindsight": "Optimum a posteriori (borne)",
}
EXIT_REASONS = ("return_home", "majority", "end_of_contract", "age_limit")
NEVER = 10**9
"""Day index meaning "not within the period"."""


def _band(age: int) -> str:
    return "0-3" if age <= 3 else "4-11" if age <= 11 else "12-15" if age <= 15 else "16-17" if age <= 17 else "18-21"


def _age(birth: date, on: date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def _birthday(birth: date, years: int) -> date:
    try:
        return birth.replace(year=birth.year + years)
    except ValueError:  # born on 29 February
        return date(birth.year + years, 3, 1)


# --- capacity changes ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CapacityChange:
    """Places opened (``places`` > 0) or closed (< 0) on a date, in one unit, one structure, or
    every structure of a zone and/or a type (spread over their units in proportion to capacity).

    A closing never turns a child out: the places close as they become free. A new structure is
    opened by putting it in the dataset with 0 places and opening them on a date."""

    on: date
    places: int
    unit_id: str | None = None
    structure_id: str | None = None
    zone: Zone | None = None
    structure_type: StructureType | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.places, int) or self.places == 0:
            raise DomainError(f"capacity change on {self.on}: places must be a non-zero integer, got {self.places!r}",
                              fr=f"changement de capacité du {self.on} : places doit être un entier non nul, reçu "
                              f"{self.places!r}")
        targets = [self.unit_id is not None, self.structure_id is not None, self.zone is not None or self.structure_type is not None]
        if sum(targets) != 1:
            raise DomainError(f"capacity change on {self.on}: name exactly one of unit, structure, or zone/type",
                              fr=f"changement de capacité du {self.on} : nommez exactement un de unit, structure, ou "
                              "zone/type")


def capacity_changes_from_mapping(document: Mapping[str, Any]) -> list[CapacityChange]:
    """The ``capacity_changes`` section of a scenario document (a mapping read from YAML):
    a list of ``{on: DATE, places: +N/-N, unit: ID | structure: ID | zone: Z and/or type: T}``.
    Every problem is reported at once (DomainError naming the item and the field)."""
    items = document.get("capacity_changes", []) if isinstance(document, Mapping) else None
    if items is None or not isinstance(items, list):
        raise DomainError("capacity_changes must be a list of {on, places, unit|structure|zone|type}",
                          fr="capacity_changes doit être une liste de {on, places, unit|structure|zone|type}")
    known = {"on", "places", "unit", "structure", "zone", "type"}
    out: list[CapacityChange] = []
    problems: list[tuple[str, str]] = []  # (English, French)
    for k, item in enumerate(items):
        where = f"capacity_changes[{k}]"
        if not isinstance(item, Mapping):
            problems.append((f"{where}: expected a mapping, got {type(item).__name__}",
                             f"{where} : un ensemble de clés est attendu, reçu {type(item).__name__}"))
            continue
        if True in item and "on" not in item:  # YAML 1.1 (PyYAML) reads the key `on` as the boolean true
            item = {("on" if k is True else k): v for k, v in item.items()}
        unknown = sorted(str(k) for k in set(item) - known)
        if unknown:
            problems.append((f"{where}: unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}",
                             f"{where} : champ(s) inconnu(s) {', '.join(unknown)} ; connus : {', '.join(sorted(known))}"))
            continue
        on = item.get("on")
        if isinstance(on, str):
            try:
                on = date.fromisoformat(on)
            except ValueError:
                problems.append((f"{where}.on: {on!r} is not a date (YYYY-MM-DD)",
                                 f"{where}.on : {on!r} n'est pas une date (AAAA-MM-JJ)"))
                continue
        if not isinstance(on, date):
            problems.append((f"{where}.on: a date (YYYY-MM-DD) is required", f"{where}.on : une date (AAAA-MM-JJ) est exigée"))
            continue
        places = item.get("places")
        if isinstance(places, bool) or not isinstance(places, int):
            problems.append((f"{where}.places: a non-zero integer is required, got {places!r}",
                             f"{where}.places : un entier non nul est exigé, reçu {places!r}"))
            continue
        try:
            zone = Zone(item["zone"]) if "zone" in item else None
            stype = StructureType(item["type"]) if "type" in item else None
        except ValueError as err:
            allowed = f"zones: {', '.join(z.value for z in Zone)}; types: {', '.join(t.value for t in StructureType)}"
            problems.append((f"{where}: {err} ({allowed})", f"{where} : {err} ({allowed.replace(';', ' ;')})"))
            continue
        try:
            out.append(CapacityChange(on, places, item.get("unit"), item.get("structure"), zone, stype))
        except DomainError as err:
            problems.append((f"{where}: {err}", f"{where} : {err.said('fr')}"))
    if problems:
        raise DomainError("capacity changes: " + "; ".join(en for en, _ in problems),
                          fr="changements de capacité : " + " ; ".join(fr for _, fr in problems))
    return out


def scenario_from_document(document: Mapping[str, Any], months: int | None = None,
                           base: SimulationParameters | None = None) -> tuple[SimulationParameters, list[CapacityChange]]:
    """The parameters (the ``simulation`` section over the defaults, then ``months`` when
    given) and the capacity changes of a scenario document; DomainError naming what is wrong."""
    section = document.get("simulation") or {}
    if not isinstance(section, Mapping):
        raise DomainError("simulation: expected a mapping of parameter names to values",
                          fr="simulation : un ensemble de noms de paramètres et de valeurs est attendu")
    values = dict(section)
    if months is not None:
        values["months"] = months
    try:
        params = SimulationParameters.from_mapping(values, base)
    except TypeError as err:  # a value of the wrong kind (a list for a number...)
        raise DomainError(f"simulation parameters: {err}", fr=f"paramètres de simulation : {err}") from None
    return params, capacity_changes_from_mapping(document)


def resolve_capacity_changes(system: PlacementSystem, changes: Sequence[CapacityChange],
                             start: date, days: int) -> dict[int, list[tuple[int, int]]]:
    """Day index -> [(unit index, places)] for the changes within the period; an unknown unit or
    structure, or a zone/type with no unit, is a DomainError (all named at once)."""
    unit_index = {u.id: j for j, u in enumerate(system.units)}
    by_structure: dict[str, list[int]] = defaultdict(list)
    for j, u in enumerate(system.units):
        by_structure[u.structure_id].append(j)
    out: dict[int, list[tuple[int, int]]] = defaultdict(list)
    problems: list[tuple[str, str]] = []  # (English, French)
    for change in changes:
        day = (change.on - start).days
        if change.unit_id is not None:
            if change.unit_id not in unit_index:
                problems.append((f"unknown unit {change.unit_id!r} (change of {change.on})",
                                 f"unité {change.unit_id!r} inconnue (changement du {change.on})"))
                continue
            targets = [unit_index[change.unit_id]]
        elif change.structure_id is not None:
            if change.structure_id not in by_structure:
                problems.append((f"unknown structure {change.structure_id!r} (change of {change.on})",
                                 f"structure {change.structure_id!r} inconnue (changement du {change.on})"))
                continue
            targets = by_structure[change.structure_id]
        else:
            targets = [j for s in system.structures
                       if (change.zone is None or s.zone is change.zone)
                       and (change.structure_type is None or s.type is change.structure_type)
                       for j in by_structure.get(s.id, [])]
            if not targets:
                problems.append((f"no unit in zone {change.zone} / type {change.structure_type} (change of {change.on})",
                                 f"aucune unité dans la zone {change.zone} / le type {change.structure_type} "
                                 f"(changement du {change.on})"))
                continue
        if not 0 <= day < days:
            continue  # outside the period
        weights = np.array([max(system.units[j].capacity, 1) for j in targets], dtype=float)
        share = np.abs(change.places) * weights / weights.sum()
        split = np.floor(share).astype(int)
        left = abs(change.places) - int(split.sum())
        split[np.argsort(-(share - split), kind="stable")[:left]] += 1
        sign = 1 if change.places > 0 else -1
        out[day].extend((j, sign * int(n)) for j, n in zip(targets, split) if n)
    if problems:
        raise DomainError("capacity changes: " + "; ".join(en for en, _ in problems),
                          fr="changements de capacité : " + " ; ".join(fr for _, fr in problems))
    return dict(out)


# --- the population: stock, arrivals, departures -------------------------------------------------


@dataclass(frozen=True, slots=True)
class SimChild:
    """A child of the simulation: the domain value (no current placement) and its dates."""

    child: Child
    kind: str
    """"placed" (in a place on day 0), "queue" (waiting on day 0) or "arrival"."""
    arrival_day: int
    """Day it enters the queue (0 for the queue, -1 for the placed stock)."""
    exit_day: int
    """Day it leaves care (NEVER: not within the period)."""
    exit_reason: str
    unit_id: str | None = None
    """Unit of a child placed on day 0."""
    since: date | None = None


@dataclass(frozen=True)
class Population:
    """Everyone who is in care during the period, the same for every policy."""

    start: date
    days: int
    seed: int
    children: tuple[SimChild, ...]
    groups: Mapping[str, tuple[tuple[str, ...], bool]]
    """Sibling group id -> (member ids, together)."""

    @property
    def arrivals(self) -> tuple[SimChild, ...]:
        return tuple(c for c in self.children if c.kind == "arrival")

    def requests(self) -> tuple[SimChild, ...]:
        """The children a policy must place: the queue of day 0 and the arrivals."""
        return tuple(c for c in self.children if c.kind != "placed")

    def stock_on(self, day: int) -> int:
        return sum(1 for c in self.children if c.arrival_day <= day < c.exit_day)


def _draw_exit(birth: date, entry: date, start: date, params: SimulationParameters,
               e: float, u: float) -> tuple[int, str]:
    """Day index (from ``start``) and reason of leaving care, from the age path after ``entry``:
    ``e`` ~ Exp(1) is the cumulative hazard at which the child leaves, ``u`` ~ U(0, 1) decides
    the majority exit."""
    t = entry
    age = _age(birth, t)
    limit = params.age_limit_years
    while True:
        if age >= limit:
            return (t - start).days, "age_limit"
        nxt = _birthday(birth, age + 1)
        rate = (params.return_home_per_year[_band(age)] if age < 18 else params.contract_end_per_year) / 365.0
        span = (nxt - t).days
        if rate > 0 and e < rate * span:
            return (t - start).days + max(1, math.ceil(e / rate)), ("return_home" if age < 18 else "end_of_contract")
        e -= rate * span
        t, age = nxt, age + 1
        if age == 18 and u < params.majority_exit_share:
            return (t - start).days, "majority"


def draw_population(system: PlacementSystem, params: SimulationParameters, seed: int) -> Population:
    """The stock of ``system`` and the arrivals of ``params.days`` days, with every departure,
    deterministic by ``seed`` (one random stream per source: arrivals, profiles, urgency,
    departures)."""
    if not isinstance(seed, int) or seed < 0:
        raise DomainError(f"seed must be a non-negative integer, got {seed!r}",
                          fr=f"seed doit être un entier positif ou nul, reçu {seed!r}")
    days = params.days
    start = system.reference_date
    streams = np.random.SeedSequence([seed, 17]).spawn(4)
    rng_count, rng_pick, rng_urgency, rng_exit = (np.random.default_rng(s) for s in streams)

    groups: dict[str, tuple[tuple[str, ...], bool]] = {g.id: (g.child_ids, g.together) for g in system.sibling_groups}
    out: list[SimChild] = []
    # donors: blocks of the dataset (a fratrie as a whole, or one child), weighted by age band
    on = system.reference_date
    donors: list[tuple[Child, ...]] = [tuple(system.child_by_id[c] for c in g.child_ids) for g in system.sibling_groups]
    donors += [(c,) for c in system.children if c.sibling_group_id is None]
    band_count = Counter(_band(c.age_on(on)) for c in system.children)
    total = sum(band_count.values())
    band_weight = {b: params.entrant_age_shares[b] / (band_count[b] / total) if band_count[b] else 0.0 for b in AGE_BANDS}
    weight = np.array([np.mean([band_weight[_band(c.age_on(on))] for c in block]) for block in donors])
    size = np.array([len(block) for block in donors], dtype=float)
    if weight.sum() <= 0:
        raise DomainError("no child in the dataset to draw arrivals from",
                          fr="aucun enfant dans les données sur qui tirer les arrivées")
    p = weight / weight.sum()
    entries_per_year = params.entries_per_child_per_year * len(system.children)
    blocks_per_day = entries_per_year / 365.0 / float((p * size).sum())

    exits = rng_exit.random((len(system.children) + 8 * int(entries_per_year * days / 365 + 10), 2))
    exits[:, 0] = -np.log1p(-exits[:, 0])
    k = 0
    for c in system.children:
        entry = start
        day, reason = _draw_exit(c.birth_date, entry, start, params, float(exits[k, 0]), float(exits[k, 1]))
        k += 1
        day = day if day < days else NEVER
        if c.current is not None:
            out.append(SimChild(replace(c, current=None), "placed", -1, day, reason if day < NEVER else "",
                                c.current.unit_id, c.current.since))
        else:
            out.append(SimChild(c, "queue", 0, day, reason if day < NEVER else ""))

    counts = rng_count.poisson(blocks_per_day, size=days)
    counts[0] = 0  # day 0 is the dataset's own queue
    picks = rng_pick.choice(len(donors), size=int(counts.sum()), p=p)
    urgent_draw = rng_urgency.random(len(picks))
    n = 0
    width = 6
    for day in range(days):
        arrival = start + timedelta(days=day)
        for _ in range(int(counts[day])):
            block = donors[int(picks[n])]
            infant_or_protected = any(c.age_on(on) <= 3 or Need.PROTECTION in c.needs for c in block)
            p_urgent = params.urgent_share_infant_or_protection if infant_or_protected else params.urgent_share_other
            urgency = Urgency.URGENT if urgent_draw[n] < p_urgent else Urgency.NORMAL
            n += 1
            new_id = {c.id: f"A-{day:03d}-{n:0{width}d}-{j}" for j, c in enumerate(block)}
            group_id = f"FA-{n:0{width}d}" if len(block) > 1 else None
            if group_id is not None:
                donor_group = system.sibling_group_by_id[block[0].sibling_group_id]
                groups[group_id] = (tuple(new_id[c.id] for c in block), donor_group.together)
            for c in block:
                shift = arrival - on
                child = replace(
                    c, id=new_id[c.id], birth_date=c.birth_date + shift, waiting_since=arrival, current=None,
                    sibling_group_id=group_id, urgency=urgency,
                    own_child_birth_date=(c.own_child_birth_date + shift) if c.own_child_birth_date else None,
                    judge=replace(c.judge, separated_from=frozenset(new_id[o] for o in c.judge.separated_from if o in new_id)),
                )
                if k >= len(exits):
                    raise DomainError("internal: too few departure draws", fr="erreur interne : trop peu de tirages de départs")  # pragma: no cover
                exit_day, reason = _draw_exit(child.birth_date, arrival, start, params, float(exits[k, 0]), float(exits[k, 1]))
                k += 1
                exit_day = exit_day if exit_day < days else NEVER
                out.append(SimChild(child, "arrival", day, exit_day, reason if exit_day < NEVER else ""))
    return Population(start, days, seed, tuple(out), groups)


# --- the simulation state and its day problem ------------------------------------------------------


@dataclass(slots=True)
class _State:
    sim: SimChild
    status: int = 0
    """0 not arrived, 1 waiting, 2 placed, 3 moving (placed, waiting for a move), 4 left."""
    unit: int = -1
    placed_on: date | None = None
    queued_day: int = 0
    first_unit: int = -1
    first_day: int = -1


@dataclass(frozen=True)
class DayRecord:
    day: int
    queue: int
    """Children waiting at the end of the day (requests and moves)."""
    placed: int
    arrivals: int
    departures: int
    emergencies: int
    moves: int
    in_care: int


@dataclass
class PolicyRun:
    """What one policy did: the daily records and each request's first place."""

    policy: str
    days: list[DayRecord] = field(default_factory=list)
    first_unit: dict[str, str | None] = field(default_factory=dict)
    first_day: dict[str, int | None] = field(default_factory=dict)
    moves: int = 0
    wall_seconds: float = 0.0


class Simulation:
    """One policy over one population (:func:`simulate` runs several on the same one)."""

    def __init__(self, system: PlacementSystem, travel: TravelMatrix, weights: Weights, population: Population,
                 params: SimulationParameters, changes: Mapping[int, list[tuple[int, int]]] | None = None):
        self.base = system
        self.travel = travel
        self.weights = weights
        self.population = population
        self.params = params
        self.changes = changes or {}
        self.units = system.units
        self.unit_index = {u.id: j for j, u in enumerate(system.units)}
        self.capacity = np.array([u.capacity for u in system.units], dtype=np.int64)
        self.occupied = np.array([u.occupied for u in system.units], dtype=np.int64)
        self.pending_close = np.zeros(len(system.units), dtype=np.int64)
        self.state: dict[str, _State] = {c.child.id: _State(c) for c in population.children}
        self.group_of: dict[str, str] = {}
        for gid, (members, _) in population.groups.items():
            for m in members:
                self.group_of[m] = gid
        self.ageing: dict[int, list[tuple[str, int]]] = defaultdict(list)
        self.day = 0
        self.emergencies_today = 0
        self.moves_today = 0
        for st in self.state.values():
            if st.sim.kind == "placed":
                st.status, st.unit, st.placed_on = 2, self.unit_index[st.sim.unit_id], st.sim.since
                self._schedule_ageing(st)

    # -- calendar ------------------------------------------------------------------------------

    def date_of(self, day: int) -> date:
        return self.population.start + timedelta(days=day)

    def _schedule_ageing(self, st: _State) -> None:
        if not self.params.move_when_ageing_out:
            return
        unit = self.units[st.unit]
        out = (_birthday(st.sim.child.birth_date, unit.age_max + 1) - self.population.start).days
        if self.day < out < min(st.sim.exit_day, self.population.days) :
            self.ageing[out].append((st.sim.child.id, st.unit))

    def _free(self, u: int) -> None:
        self.occupied[u] -= 1
        if self.pending_close[u] > 0:
            self.pending_close[u] -= 1
            self.capacity[u] -= 1

    # -- the queue and the day's problem -------------------------------------------------------------

    def queue(self) -> list[str]:
        """Children waiting for a place (requests and moves), urgent first, then first come, then id."""
        waiting = [st for st in self.state.values() if st.status in (1, 3)]
        waiting.sort(key=lambda st: (st.sim.child.urgency is not Urgency.URGENT, st.queued_day, st.sim.child.id))
        return [st.sim.child.id for st in waiting]

    def day_system(self, child_ids: Iterable[str]) -> PlacementSystem:
        """The system of today for these waiting children: every unit with today's capacity and
        occupancy, the children asked about (no current placement) and their siblings in care
        (placed ones with their place), so that the rules on fratries and the judge's separation
        orders see them."""
        on = self.date_of(self.day)
        wanted = list(child_ids)
        include: dict[str, _State] = {}
        for cid in wanted:
            include[cid] = self.state[cid]
            gid = self.group_of.get(cid)
            if gid is not None:
                for m in self.population.groups[gid][0]:
                    st = self.state[m]
                    if st.status in (1, 2, 3):
                        include.setdefault(m, st)
        present_groups: dict[str, list[str]] = defaultdict(list)
        for cid in include:
            gid = self.group_of.get(cid)
            if gid is not None:
                present_groups[gid].append(cid)
        children = []
        asked = set(wanted)
        for cid, st in include.items():
            c = st.sim.child
            gid = self.group_of.get(cid)
            group = gid if gid is not None and len(present_groups[gid]) >= 2 else None
            separated = frozenset(o for o in c.judge.separated_from if o in include)
            current = None
            if cid not in asked and st.status in (2, 3):
                current = CurrentPlacement(self.units[st.unit].id, st.placed_on or on)
            waiting_since = self.date_of(st.queued_day) if st.queued_day >= 0 else c.waiting_since
            children.append(replace(c, sibling_group_id=group, current=current, waiting_since=min(waiting_since, on),
                                    judge=c.judge if separated == c.judge.separated_from else replace(c.judge, separated_from=separated)))
        groups = tuple(SiblingGroup(gid, tuple(members), self.population.groups[gid][1])
                       for gid, members in present_groups.items() if len(members) >= 2)
        units = tuple(
            u if (u.capacity == self.capacity[j] and u.occupied == self.occupied[j])
            else Unit(u.id, u.structure_id, u.age_min, u.age_max, u.sex, int(self.capacity[j]), int(self.occupied[j]), u.takes_siblings)
            for j, u in enumerate(self.units))
        return PlacementSystem(on, tuple(children), groups, self.base.structures, units)

    def day_problem(self, child_ids: Iterable[str]) -> tuple[PlacementSystem, Problem]:
        system = self.day_system(child_ids)
        return system, Problem.build(system, self.travel, self.weights, "waiting")

    def apply(self, problem: Problem, decisions: Mapping[str, str | None], policy: str) -> int:
        """Check every placement of the step against the hard rules (the one guard), then apply
        it. Returns the number of children placed."""
        chosen = {cid: uid for cid, uid in decisions.items() if uid is not None}
        if not chosen:
            return 0
        require_valid(problem, chosen, f"simulation, policy {policy}, day {self.date_of(self.day).isoformat()}",
                      context_fr=f"simulation, politique {policy}, jour {self.date_of(self.day).isoformat()}")
        on = self.date_of(self.day)
        for cid, uid in chosen.items():
            st = self.state[cid]
            u = self.unit_index[uid]
            if st.status == 3:
                self._free(st.unit)
                self.moves_today += 1
            elif st.first_unit < 0:
                st.first_unit, st.first_day = u, self.day
            self.occupied[u] += 1
            st.status, st.unit, st.placed_on = 2, u, on
            self._schedule_ageing(st)
        return len(chosen)

    # -- the loop ----------------------------------------------------------------------------------------

    def step(self, policy: Policy) -> DayRecord:
        d = self.day
        departures = 0
        self.moves_today = 0
        # 1. departures
        for st in self._leaving.get(d, ()):
            if st.status in (2, 3):
                self._free(st.unit)
            st.status = 4
            departures += 1
        # 2. capacity changes
        for u, places in self.changes.get(d, ()):
            if places > 0:
                cancel = min(places, int(self.pending_close[u]))
                self.pending_close[u] -= cancel
                self.capacity[u] += places - cancel
            else:
                now = min(-places, int(self.capacity[u] - self.occupied[u]))
                self.capacity[u] -= now
                self.pending_close[u] += -places - now
        # 3. ageing out of a unit: a move request
        for cid, u in self.ageing.pop(d, ()):
            st = self.state[cid]
            if st.status == 2 and st.unit == u:
                st.status, st.queued_day = 3, d
        # 4. arrivals
        arrivals = self._arriving.get(d, ())
        for st in arrivals:
            st.status, st.queued_day = 1, d
        # 5. the policy
        placed = policy.apply(self) if any(st.status in (1, 3) for st in self._waiting_candidates()) else 0
        # emergencies: urgent requests that arrived today and are still waiting
        emergencies = sum(1 for st in arrivals if st.status == 1 and st.sim.child.urgency is Urgency.URGENT)
        if d == 0:
            emergencies += sum(1 for st in self.state.values()
                               if st.sim.kind == "queue" and st.status == 1 and st.sim.child.urgency is Urgency.URGENT)
        record = DayRecord(d, sum(1 for st in self._waiting_candidates() if st.status in (1, 3)), placed,
                           len(arrivals), departures, emergencies, self.moves_today,
                           sum(1 for st in self.state.values() if st.status in (1, 2, 3)))
        self.day += 1
        return record

    def _waiting_candidates(self) -> Iterable[_State]:
        return (st for st in self.state.values() if st.status in (1, 3))

    def run(self, policy: Policy, progress: Callable[[float], None] | None = None) -> PolicyRun:
        started = time.perf_counter()
        self._leaving: dict[int, list[_State]] = defaultdict(list)
        self._arriving: dict[int, list[_State]] = defaultdict(list)
        for st in self.state.values():
            if st.sim.exit_day < NEVER:
                self._leaving[st.sim.exit_day].append(st)
            if st.sim.kind == "queue":
                st.status, st.queued_day = 1, 0
            elif st.sim.kind == "arrival":
                self._arriving[st.sim.arrival_day].append(st)
        policy.initialize(self)
        run = PolicyRun(policy.name)
        for d in range(self.population.days):
            run.days.append(self.step(policy))
            if progress is not None and d % 30 == 0:
                progress(d / self.population.days)
        policy.finalize(self)
        for st in self.state.values():
            if st.sim.kind != "placed":
                cid = st.sim.child.id
                run.first_unit[cid] = self.units[st.first_unit].id if st.first_unit >= 0 else None
                run.first_day[cid] = st.first_day if st.first_unit >= 0 else None
        run.moves = sum(r.moves for r in run.days)
        run.wall_seconds = time.perf_counter() - started
        return run


# --- policies --------------------------------------------------------------------------------------


class Policy:
    """A way of placing the queue each day: ``initialize``, ``apply`` (returns children placed), ``finalize``."""

    name = "policy"

    def initialize(self, sim: Simulation) -> None:
        """Called once before the first day."""

    def apply(self, sim: Simulation) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def finalize(self, sim: Simulation) -> None:
        """Called once after the last day."""


class GreedyPolicy(Policy):
    """First come, nearest available: the baseline of :mod:`solver.greedy`, each day over the queue."""

    name = "greedy"

    def apply(self, sim: Simulation) -> int:
        from solver.greedy import greedy_assignment
        from solver.solution import unit_of_child

        _, problem = sim.day_problem(sim.queue())
        assigned, _ = greedy_assignment(problem)
        return sim.apply(problem, unit_of_child(problem, assigned), self.name)


class ProposalPolicy(Policy):
    """Each request in turn (urgent first, then first come) takes its first proposal: the
    officer's own order, or the system-aware order with capacity prices."""

    def __init__(self, order: str = "own"):
        self.order = order
        self.name = "own" if order == "own" else "system"
        self.prices: dict[str, float] | None = None
        self.priced_on = -10**6

    def apply(self, sim: Simulation) -> int:
        from matcher.proposals import SystemIndex, propose

        queue = sim.queue()
        system, problem = sim.day_problem(queue)
        prices = None
        if self.order == "system":
            if sim.day - self.priced_on >= sim.params.price_refresh_days or self.prices is None:
                from solver.duals import capacity_prices

                self.prices = capacity_prices(problem) if problem.n_children else {}
                self.priced_on = sim.day
            prices = self.prices
        index = SystemIndex.build(system, sim.travel)
        held: Counter[str] = Counter()
        decisions: dict[str, str] = {}
        done: set[str] = set()
        for cid in queue:
            if cid in done:
                continue
            gid = sim.group_of.get(cid)
            ids = [cid]
            if gid is not None and sim.population.groups[gid][1]:
                ids = [m for m in sim.population.groups[gid][0] if m in problem.child_index and m not in done]
            done.update(ids)
            proposals = propose(system, ids, sim.travel, sim.weights, k=5, unit_prices=prices,
                                order=self.order, held=held, index=index)
            for proposal in proposals:
                picked = {p.child_id: p.unit_id for p in proposal.placements if p.unit_id is not None}
                if picked and self._allowed(problem, picked, decisions):
                    for child_id, unit_id in picked.items():
                        decisions[child_id] = unit_id
                        held[unit_id] += 1
                    break
        return sim.apply(problem, decisions, self.name)

    @staticmethod
    def _allowed(problem: Problem, picked: Mapping[str, str], decided: Mapping[str, str]) -> bool:
        """The hard rules a proposal does not see: the judge's separation orders against children
        placed today or before (the proposal looks at the children asked about only), and units
        that do not take siblings (a proposal may put two siblings in one such unit; the solver's
        guard refuses it)."""
        per_unit: Counter[tuple[int, str]] = Counter()
        for cid, uid in [*decided.items(), *picked.items()]:
            i = problem.child_index[cid]
            block = int(problem.block_of_child[i])
            if block >= 0:
                per_unit[(block, uid)] += 1
        for (block, uid), count in per_unit.items():
            if count > 1 and not problem.unit_takes_siblings[problem.unit_index[uid]]:
                return False
        for cid, uid in picked.items():
            i = problem.child_index[cid]
            s = int(problem.unit_structure[problem.unit_index[uid]])
            if s in problem.forbidden_structures.get(i, ()):
                return False
            for a, b in problem.separations:
                other = b if a == i else a if b == i else None
                if other is not None:
                    oid = problem.children[other].id
                    ou = decided.get(oid) or picked.get(oid)
                    if ou is not None and int(problem.unit_structure[problem.unit_index[ou]]) == s:
                        return False
        return True


class BatchPolicy(Policy):
    """The optimiser over the whole queue every ``batch_days`` days; urgent requests at once."""

    name = "batch"

    def apply(self, sim: Simulation) -> int:
        from solver.optimal import solve_optimal
        from solver.solution import SolverSettings

        queue = sim.queue()
        if sim.day % sim.params.batch_days != 0:
            queue = [c for c in queue if sim.state[c].sim.child.urgency is Urgency.URGENT]
            if not queue:
                return 0
        _, problem = sim.day_problem(queue)
        settings = SolverSettings(time_limit_s=sim.params.batch_time_limit_s, seed=1)
        solution = solve_optimal(problem, settings, with_explanations=False)
        return sim.apply(problem, solution.unit_of_child, self.name)


def make_policy(name: str) -> Policy:
    if name == "greedy":
        return GreedyPolicy()
    if name in ("own", "system"):
        return ProposalPolicy(name)
    if name == "batch":
        return BatchPolicy()
    raise DomainError(f"unknown policy {name!r}; known: {', '.join(POLICIES)}",
                      fr=f"politique {name!r} inconnue ; connues : {', '.join(POLICIES)}")


# --- the hindsight bound and the objective ------------------------------------------------------------


@dataclass(frozen=True)
class Hindsight:
    """The hindsight reference: a proven lower bound on every policy's objective."""

    bound: float
    bound_without_prices: float
    problem: Problem
    request_ids: tuple[str, ...]
    wall_seconds: float
    pricing_rounds: int = 0


def _arc_costs(problem: Problem, kid: np.ndarray, unit: np.ndarray) -> np.ndarray:
    """Cost of each (child, unit) pair, computed by blocks of one child."""
    out = np.empty(kid.size)
    order = np.argsort(kid, kind="stable")
    k_sorted = kid[order]
    starts = np.flatnonzero(np.r_[True, k_sorted[1:] != k_sorted[:-1]])
    ends = np.r_[starts[1:], k_sorted.size]
    for a, b in zip(starts, ends):
        i = int(k_sorted[a])
        units = unit[order[a:b]]
        kids = np.array([i])
        out[order[a:b]] = problem.cost_block(kids, units, problem.minutes_block(kids, units))[0]
    return out


def _hindsight_system(system: PlacementSystem, population: Population, max_capacity: np.ndarray) -> PlacementSystem:
    """Every request as a waiting child on day 0 with its age on its own day of arrival, every
    unit open (so that every eligible arc exists)."""
    start = population.start
    requests = population.requests()
    ids = {c.child.id for c in requests}
    members: dict[str, list[str]] = defaultdict(list)
    for gid, (m, _) in population.groups.items():
        for cid in m:
            if cid in ids:
                members[gid].append(cid)
    children = []
    for c in requests:
        shift = timedelta(days=max(c.arrival_day, 0))
        child = c.child
        gid = child.sibling_group_id
        group = gid if gid is not None and len(members.get(gid, ())) >= 2 else None
        children.append(replace(
            child, birth_date=child.birth_date - shift, waiting_since=start, current=None, sibling_group_id=group,
            own_child_birth_date=(child.own_child_birth_date - shift) if child.own_child_birth_date else None,
            judge=replace(child.judge, separated_from=frozenset(o for o in child.judge.separated_from if o in ids)),
        ))
    groups = tuple(SiblingGroup(gid, tuple(m), population.groups[gid][1]) for gid, m in members.items() if len(m) >= 2)
    units = tuple(Unit(u.id, u.structure_id, u.age_min, u.age_max, u.sex, max(1, int(max_capacity[j])), 0, u.takes_siblings)
                  for j, u in enumerate(system.units))
    return PlacementSystem(start, tuple(children), groups, system.structures, units)


def request_problem(system: PlacementSystem, travel: TravelMatrix, weights: Weights, population: Population) -> Problem:
    """The requests of the period (the queue of day 0 and every arrival) as one problem, each
    child with its age on its day of arrival and every unit open: the costs and eligible arcs
    the objective and the hindsight bound read."""
    return Problem.build(_hindsight_system(system, population, np.array([u.capacity for u in system.units])),
                         travel, weights, "waiting")


def hindsight_bound(system: PlacementSystem, travel: TravelMatrix, weights: Weights, population: Population,
                    params: SimulationParameters, changes: Mapping[int, list[tuple[int, int]]] | None = None,
                    target: float | None = None, problem: Problem | None = None) -> Hindsight:
    """A proven lower bound on the objective of any policy on this population (every arrival
    and departure known in advance): the hindsight reference.

    **A time-expanded relaxation.** Checkpoints ``t_0 < t_1 < ... < t_{M-1} = T`` (every
    ``hindsight_checkpoint_days`` days, the last on the last day). A request first placed in
    unit u at a time within ``(t_{k-1}, t_k]`` has waited at least ``t_{k-1} + 1 - arrival``
    days, and at every checkpoint ``t_m >= t_k`` at which it is still in care and not older than
    u's age range it is still in u (only children ageing out are moved). At each checkpoint,
    those requests, the children placed in u on day 0 who are surely still there (in care, not
    aged out) and the places taken by children outside the dataset fit in u's places: at most
    ``max(max_{s <= t_m} capacity_u(s), occupied_u(0))`` (a closing never turns a child out, an
    admission needs a free place). So every policy's first placements satisfy, for each unit and
    checkpoint, ``sum of such requests <= F_um``; each request has one first place or none
    (then it costs the unplaced penalty plus its waiting days until it leaves or the period
    ends); waiting days are priced at ``waiting_day_cost``; split penalties (>= 0) are dropped.
    The policy's objective is at least the cost of its first placements in this relaxation.

    **The bound.** For any prices ``p_um >= 0`` the Lagrangian ``sum_i min(unplaced option,
    min over units u and slots k of c_iu + wait_k + sum_{m=k..last_iu} p_um) - sum p_um F_um``
    is a lower bound (weak duality). The prices are the duals of the relaxation's LP on the
    cheapest arcs of each request and its first slots; the Lagrangian is evaluated over every
    eligible arc and every slot, so the bound holds whatever arcs the LP kept. The one caveat: a
    child who waits across a birthday into another age band could take a unit not eligible on
    its arrival day (the tests check ``bound <= objective`` of every policy on every run).

    Then, while time is left, subgradient steps on the prices (Polyak steps towards ``target``,
    the best policy's objective when given): every value along the way is a Lagrangian, so the
    best one is a bound.
    """
    from scipy.optimize import linprog
    from scipy.sparse import coo_matrix

    started = time.perf_counter()
    changes = changes or {}
    days = population.days
    n_units = len(system.units)
    step = params.hindsight_checkpoint_days
    checkpoints = np.array(sorted({*range(step - 1, days - 1, step), days - 1}), dtype=np.int64)
    n_cp = checkpoints.size
    start = population.start
    # capacity bound at each checkpoint
    cap_bound = np.zeros((n_units, n_cp), dtype=np.int64)
    running = np.array([u.capacity for u in system.units], dtype=np.int64)
    occupied0 = np.array([u.occupied for u in system.units], dtype=np.int64)
    best_so_far = np.maximum(running, occupied0)
    change_days = sorted(changes)
    pos = 0
    for m, t in enumerate(checkpoints):
        while pos < len(change_days) and change_days[pos] <= t:
            for u, places in changes[change_days[pos]]:
                running[u] = max(0, running[u] + places)
            best_so_far = np.maximum(best_so_far, running)
            pos += 1
        cap_bound[:, m] = best_so_far
    unit_index = {u.id: j for j, u in enumerate(system.units)}
    unit_age_max = np.array([u.age_max for u in system.units], dtype=np.int64)
    placed0 = np.zeros(n_units, dtype=np.int64)
    surely = np.zeros((n_units, n_cp), dtype=np.int64)
    cp_dates = [start + timedelta(days=int(t)) for t in checkpoints]
    for c in population.children:
        if c.kind == "placed":
            j = unit_index[c.unit_id]
            placed0[j] += 1
            for m, t in enumerate(checkpoints):
                if c.exit_day > t and _age(c.child.birth_date, cp_dates[m]) <= unit_age_max[j]:
                    surely[j, m] += 1
    outside = occupied0 - placed0
    free = np.maximum(0, cap_bound - outside[:, None] - surely).astype(float)

    if problem is None:
        problem = request_problem(system, travel, weights, population)
    hs = problem.system
    requests = population.requests()
    n_req = problem.n_children
    arrival = np.array([c.arrival_day for c in requests], dtype=np.int64)
    leave = np.array([min(c.exit_day, days) for c in requests], dtype=np.int64)
    # the slot of arrival: first checkpoint at or after it
    first_slot = np.searchsorted(checkpoints, arrival, side="left")
    # the last checkpoint a request is in care at (-1: none)
    last_in_care = np.searchsorted(checkpoints, leave, side="left") - 1
    # ages at each checkpoint, to know until when a unit's age range holds it
    age_at = np.array([[_age(c.child.birth_date, d) for d in cp_dates] for c in requests], dtype=np.int64).reshape(n_req, n_cp)
    prev = np.r_[-1, checkpoints[:-1]]
    w = params.waiting_day_cost
    unplaced = problem.unplaced_cost + w * np.maximum(0, leave - arrival)

    def last_index(kids: np.ndarray, units: np.ndarray) -> np.ndarray:
        """Last checkpoint at which each kid is surely still in each unit (-1: none)."""
        fits = age_at[kids][:, None, :] <= unit_age_max[units][None, :, None]   # kids x units x cps
        # the age only grows: count the checkpoints it fits, in order
        last_age = fits.sum(axis=2) - 1
        return np.minimum(last_age, last_in_care[kids][:, None])

    def lagrangian(prices: np.ndarray, duals: np.ndarray | None = None) -> tuple[float, np.ndarray, np.ndarray]:
        """The bound at these prices, and the (kid, unit, slot) triples worth adding to the LP:
        with the LP's duals of the requests, every slot's best unit whose reduced cost is
        negative; without, each request's best option."""
        cum = np.zeros((n_units, n_cp + 1))
        cum[:, 1:] = np.cumsum(prices, axis=1)
        best = unplaced.copy()
        best_unit = np.full(n_req, -1, dtype=np.int64)
        best_slot = np.full(n_req, -1, dtype=np.int64)
        best_last = np.full(n_req, -1, dtype=np.int64)
        found: list[np.ndarray] = []
        for kids, units, _minutes, cost, eligible in problem.iter_blocks():
            last = last_index(kids, units)
            end_sum = cum[units[None, :], last + 1]
            base = np.where(eligible, cost, np.inf)
            for k in range(n_cp):
                ok = first_slot[kids] <= k
                if not ok.any():
                    continue
                wait = w * np.maximum(0, prev[k] + 1 - arrival[kids])
                priced = base + wait[:, None] + np.maximum(0.0, end_sum - cum[units, k][None, :])
                priced[~ok] = np.inf
                arg = priced.argmin(axis=1)
                value = priced[np.arange(kids.size), arg]
                better = value < best[kids]
                best[kids[better]] = value[better]
                best_unit[kids[better]] = units[arg[better]]
                best_slot[kids[better]] = k
                best_last[kids[better]] = last[np.flatnonzero(better), arg[better]]
                if duals is not None:
                    top = min(3, units.size)
                    cols = np.argpartition(priced, top - 1, axis=1)[:, :top] if top < units.size else \
                        np.broadcast_to(np.arange(units.size), priced.shape)
                    vals = np.take_along_axis(priced, cols, axis=1)
                    add = np.isfinite(vals) & (vals < duals[kids][:, None] - 1e-7)
                    if add.any():
                        r, q = np.nonzero(add)
                        found.append(np.c_[kids[r], units[cols[r, q]], np.full(r.size, k)])
        if duals is None:
            placed = best_unit >= 0
            found.append(np.c_[np.flatnonzero(placed), best_unit[placed], best_slot[placed]])
        new = np.concatenate(found).astype(np.int64) if found else np.zeros((0, 3), dtype=np.int64)
        # places each checkpoint would need for the best options (a subgradient: usage - free)
        usage = np.zeros((n_units, n_cp))
        chosen = np.flatnonzero((best_unit >= 0) & (best_last >= best_slot))
        span = best_last[chosen] - best_slot[chosen] + 1
        rep = np.repeat(chosen, span)
        offs = np.arange(rep.size) - np.repeat(np.cumsum(span) - span, span)
        np.add.at(usage, (best_unit[rep], best_slot[rep] + offs), 1.0)
        return float(best.sum() - (prices * free).sum()), new, usage

    def solve_lp(triples: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """Capacity prices (units x checkpoints) and the requests' duals, from the LP on these
        (kid, unit, slot) triples."""
        kid, unit, slot = triples[:, 0], triples[:, 1], triples[:, 2]
        cost = _arc_costs(problem, kid, unit)
        last = np.minimum((age_at[kid] <= unit_age_max[unit][:, None]).sum(axis=1) - 1, last_in_care[kid])
        c = np.r_[cost + w * np.maximum(0, prev[slot] + 1 - arrival[kid]), unplaced]
        kids_of = np.r_[kid, np.arange(n_req)]
        eq = coo_matrix((np.ones(kids_of.size), (kids_of, np.arange(kids_of.size))), shape=(n_req, kids_of.size)).tocsr()
        span = np.maximum(0, last - slot + 1)
        rep = np.repeat(np.arange(kid.size), span)
        offs = np.arange(rep.size) - np.repeat(np.cumsum(span) - span, span)
        if not rep.size:
            return None
        key = unit[rep] * n_cp + slot[rep] + offs
        rows, row_of = np.unique(key, return_inverse=True)
        ub = coo_matrix((np.ones(rep.size), (row_of.reshape(-1), rep)), shape=(rows.size, kids_of.size)).tocsr()
        res = linprog(c, A_ub=ub, b_ub=free.reshape(-1)[rows], A_eq=eq, b_eq=np.ones(n_req), bounds=(0, None), method="highs")
        if res.status != 0:
            return None
        flat = np.zeros(n_units * n_cp)
        flat[rows] = np.maximum(0.0, -np.asarray(res.ineqlin.marginals))
        return flat.reshape(n_units, n_cp), np.asarray(res.eqlin.marginals)

    plain, new, usage = lagrangian(np.zeros((n_units, n_cp)))
    bound, best_prices, best_usage = plain, np.zeros((n_units, n_cp)), usage
    # first columns: the cheapest units of each request among those with a free place at some checkpoint
    open_units = free.max(axis=1)
    hs_open = PlacementSystem(hs.reference_date, hs.children, hs.sibling_groups, hs.structures, tuple(
        Unit(u.id, u.structure_id, u.age_min, u.age_max, u.sex, int(open_units[j]), 0, u.takes_siblings)
        for j, u in enumerate(hs.units)))
    arcs = Problem.build(hs_open, travel, weights, "waiting").candidate_arcs(params.hindsight_candidates_per_child)
    parts = [new]
    for extra in range(params.hindsight_slots_per_arc):
        k = first_slot[arcs.child] + extra
        keep = k < n_cp
        parts.append(np.c_[arcs.child[keep], arcs.unit[keep], k[keep]].astype(np.int64))
    triples = np.zeros((0, 3), dtype=np.int64)
    rounds = 0
    for rounds in range(1, params.hindsight_pricing_rounds + 1):
        if time.perf_counter() - started > params.hindsight_time_limit_s:
            break  # the bound so far holds: it is a Lagrangian at some prices
        grown = np.unique(np.concatenate([triples, *parts]), axis=0)
        if grown.shape[0] == triples.shape[0]:
            break  # no column with a negative reduced cost: the LP is the whole relaxation's
        triples = grown
        solved = solve_lp(triples)
        if solved is None:
            break
        prices, duals = solved
        value, new, usage = lagrangian(prices, duals)
        parts = [new]
        if value > bound:
            bound, best_prices, best_usage = value, prices, usage
    # then subgradient steps from the best prices (Polyak steps towards ``target``), while time is left
    prices, usage, value, step, stall, sub = best_prices, best_usage, bound, 1.0, 0, 0
    goal = target if target is not None else None
    while goal is not None and goal > bound and time.perf_counter() - started < params.hindsight_time_limit_s \
            and sub < params.hindsight_subgradient_steps:
        sub += 1
        g = usage - free
        g[(prices <= 0) & (g < 0)] = 0.0
        norm = float((g * g).sum())
        if norm <= 0:
            break
        prices = np.maximum(0.0, prices + step * (goal - value) / norm * g)
        value, _, usage = lagrangian(prices)
        if value > bound:
            bound, stall = value, 0
        else:
            stall += 1
            if stall >= 3:
                step, stall = step / 2, 0
    return Hindsight(bound, plain, problem, tuple(c.child.id for c in requests), time.perf_counter() - started, rounds)


def policy_objective(run: PolicyRun, problem: Problem, population: Population, params: SimulationParameters,
                     weights: Weights, with_splits: bool = False) -> float:
    """The objective of a policy's run (see the module's docstring), with the costs of
    :func:`request_problem` (the same formula as the solver's). The comparison with the hindsight
    bound leaves the split penalty out (``with_splits=False``): the bound cannot see fratries, so
    splits are a figure of their own (``fratries_split``); with ``with_splits`` it is the
    solver's whole objective."""
    total = 0.0
    structure_of: dict[str, int] = {}
    for c in population.requests():
        cid = c.child.id
        i = problem.child_index[cid]
        uid = run.first_unit.get(cid)
        if uid is None:
            total += float(problem.unplaced_cost[i])
            waited = min(c.exit_day, population.days) - c.arrival_day
        else:
            j = problem.unit_index[uid]
            total += problem.cost_of(i, j)
            structure_of[cid] = int(problem.unit_structure[j])
            waited = (run.first_day[cid] or 0) - c.arrival_day
        total += params.waiting_day_cost * max(0, waited)
    if with_splits:
        for block in problem.blocks:
            if block.together:
                placed = {structure_of[problem.children[m].id] for m in block.members if problem.children[m].id in structure_of}
                total += weights.siblings_split * max(0, len(placed) - 1)
    return total


# --- figures ---------------------------------------------------------------------------------------


def _percentile(values: Sequence[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if len(values) else None


def policy_figures(run: PolicyRun, hindsight: Hindsight, population: Population, system: PlacementSystem,
                   travel: TravelMatrix, params: SimulationParameters, weights: Weights) -> dict[str, Any]:
    """Totals of a run: days waited, emergency placements, transit to the family home (median,
    p90), share outside Île-de-France, fratries split, moves, cost, objective, share of the
    hindsight optimum."""
    days = population.days
    waited, minutes = [], []
    outside_idf = placed = emergencies = 0
    cost_eur = 0.0
    structure_of: dict[str, str] = {}
    for c in population.requests():
        cid = c.child.id
        uid = run.first_unit.get(cid)
        urgent = c.child.urgency is Urgency.URGENT
        if uid is None:
            waited.append(min(c.exit_day, days) - c.arrival_day)
            emergencies += urgent
            continue
        first = run.first_day[cid] or 0
        waited.append(first - c.arrival_day)
        emergencies += urgent and first > c.arrival_day
        unit = system.unit_by_id[uid]
        structure = system.structure_by_id[unit.structure_id]
        structure_of[cid] = structure.id
        placed += 1
        outside_idf += structure.zone is Zone.PROVINCE
        m = travel.between(c.child.anchor.id, structure.id)
        if m is not None:
            minutes.append(m)
        cost_eur += structure.daily_price_eur * max(0, min(c.exit_day, days) - first)
    split = 0
    for gid, (members, together) in population.groups.items():
        if together:
            used = {structure_of[m] for m in members if m in structure_of}
            split += len(used) > 1
    objective = policy_objective(run, hindsight.problem, population, params, weights)
    return {
        "requests": len(population.requests()),
        "placed": placed,
        "mean_days_waited": float(np.mean(waited)) if waited else 0.0,
        "p90_days_waited": _percentile(waited, 90),
        "emergency_placements": int(emergencies),
        "median_transit_minutes": _percentile(minutes, 50),
        "p90_transit_minutes": _percentile(minutes, 90),
        "share_outside_ile_de_france": outside_idf / placed if placed else 0.0,
        "fratries_split": split,
        "moves": run.moves,
        "cost_eur": round(cost_eur, 2),
        "objective": objective,
        "objective_with_splits": policy_objective(run, hindsight.problem, population, params, weights, with_splits=True),
        "share_of_hindsight": hindsight.bound / objective if objective > 0 else 1.0,
        "wall_seconds": round(run.wall_seconds, 3),
    }


def weekly_series(run: PolicyRun, population: Population, system: PlacementSystem, travel: TravelMatrix) -> dict[str, list]:
    """Figures over time, week by week: queue at the week's end, placements, emergencies, median
    transit of the week's first placements, share of them outside Île-de-France."""
    weeks = (population.days + 6) // 7
    queue = [0] * weeks
    placed = [0] * weeks
    emergencies = [0] * weeks
    in_care = [0] * weeks
    for r in run.days:
        w = r.day // 7
        queue[w] = r.queue
        in_care[w] = r.in_care
        placed[w] += r.placed
        emergencies[w] += r.emergencies
    minutes: list[list[float]] = [[] for _ in range(weeks)]
    outside = [0] * weeks
    count = [0] * weeks
    for c in population.requests():
        uid = run.first_unit.get(c.child.id)
        if uid is None:
            continue
        w = (run.first_day[c.child.id] or 0) // 7
        sid = system.unit_by_id[uid].structure_id
        m = travel.between(c.child.anchor.id, sid)
        if m is not None:
            minutes[w].append(m)
        count[w] += 1
        outside[w] += system.structure_by_id[sid].zone is Zone.PROVINCE
    return {
        "week": list(range(weeks)),
        "queue": queue,
        "in_care": in_care,
        "placements": placed,
        "emergencies": emergencies,
        "median_transit_minutes": [float(np.median(m)) if m else None for m in minutes],
        "share_outside_ile_de_france": [o / n if n else None for o, n in zip(outside, count)],
    }


def population_figures(population: Population) -> dict[str, Any]:
    """The calibration figures of the population process: stock, entrants and leavers by band."""
    days = population.days
    start = population.start
    entrants = [c for c in population.children if c.kind == "arrival"]
    leavers = [c for c in population.children if c.exit_day < NEVER]
    def share(items: list[SimChild], on_day: Callable[[SimChild], int]) -> dict[str, float]:
        bands = Counter(_band(_age(c.child.birth_date, start + timedelta(days=max(on_day(c), 0)))) for c in items)
        n = max(1, len(items))
        return {b: bands[b] / n for b in AGE_BANDS}
    return {
        "stock_start": population.stock_on(0),
        "stock_end": population.stock_on(days - 1),
        "entrants": len(entrants),
        "leavers": len(leavers),
        "entrant_shares": share(entrants, lambda c: c.arrival_day),
        "leaver_shares": share(leavers, lambda c: c.exit_day - 1),
        "leavers_by_reason": dict(Counter(c.exit_reason for c in leavers)),
    }


# --- one replication ---------------------------------------------------------------------------------


def simulate(system: PlacementSystem, travel: TravelMatrix, weights: Weights, params: SimulationParameters,
             seed: int, policies: Sequence[str] = POLICIES, changes: Sequence[CapacityChange] = (),
             progress: Callable[[float, str], None] | None = None) -> dict[str, Any]:
    """One replication: the population of ``seed``, every policy on it, the hindsight bound, and
    the figures (plain values, JSON-ready)."""
    unknown = [p for p in policies if p not in POLICIES]
    if unknown or not policies:
        raise DomainError(f"unknown policy(ies) {', '.join(unknown) or '(none given)'}; known: {', '.join(POLICIES)}",
                          fr=f"politique(s) inconnue(s) {', '.join(unknown) or '(aucune donnée)'} ; connues : "
                          f"{', '.join(POLICIES)}")
    population = draw_population(system, params, seed)
    resolved = resolve_capacity_changes(system, changes, population.start, population.days)
    report = progress or (lambda fraction, message: None)
    problem = request_problem(system, travel, weights, population)
    runs: dict[str, PolicyRun] = {}
    steps = len(policies) + 1
    for k, name in enumerate(policies):
        sim = Simulation(system, travel, weights, population, params, resolved)
        runs[name] = sim.run(make_policy(name), lambda f, k=k, name=name: report((k + f) / steps, f"policy {name}"))
    objectives = {name: policy_objective(run, problem, population, params, weights) for name, run in runs.items()}
    report(len(policies) / steps, "hindsight bound")
    hindsight = hindsight_bound(system, travel, weights, population, params, resolved,
                                target=min(objectives.values()), problem=problem)
    out: dict[str, Any] = {"seed": seed, "days": population.days, "start": population.start.isoformat(),
                           "population": population_figures(population),
                           "hindsight": {"bound": hindsight.bound, "bound_without_prices": hindsight.bound_without_prices,
                                         "pricing_rounds": hindsight.pricing_rounds,
                                         "wall_seconds": round(hindsight.wall_seconds, 3)},
                           "policies": {}, "weekly": {}}
    for name, run in runs.items():
        out["policies"][name] = policy_figures(run, hindsight, population, system, travel, params, weights)
        out["weekly"][name] = weekly_series(run, population, system, travel)
    report(1.0, "done")
    return out


# --- replications on Dask ---------------------------------------------------------------------------

SUMMARY_FIGURES: tuple[str, ...] = (
    "share_of_hindsight", "objective", "mean_days_waited", "p90_days_waited", "emergency_placements",
    "median_transit_minutes", "p90_transit_minutes", "share_outside_ile_de_france", "fratries_split", "moves",
    "cost_eur", "placed",
)


def replication_seeds(root: int, n: int) -> list[int]:
    """``n`` independent seeds spawned from ``root`` (numpy SeedSequence), the same for the same root."""
    if n < 1:
        raise DomainError(f"replications must be at least 1, got {n}", fr=f"il faut au moins 1 réplication, reçu {n}")
    return [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(root).spawn(n)]


def _replication_task(payload: tuple, seed: int) -> dict[str, Any]:
    system, travel, weights, params, policies, changes = payload
    return simulate(system, travel, weights, params, seed, policies, changes)


def interval(values: Sequence[float], confidence: float = 0.95) -> dict[str, float | None]:
    """Mean and Student-t confidence interval (scipy.stats.t) of replicated values; with one
    value the interval is that value."""
    from scipy import stats

    x = np.asarray([v for v in values if v is not None], dtype=float)
    if x.size == 0:
        return {"mean": None, "low": None, "high": None, "n": 0}
    mean = float(x.mean())
    if x.size < 2 or float(x.std(ddof=1)) == 0.0:
        return {"mean": mean, "low": mean, "high": mean, "n": int(x.size)}
    low, high = stats.t.interval(confidence, x.size - 1, loc=mean, scale=stats.sem(x))
    return {"mean": mean, "low": float(low), "high": float(high), "n": int(x.size)}


def summarize_replications(results: Sequence[Mapping[str, Any]], policies: Sequence[str]) -> dict[str, Any]:
    """Each policy's figures over the replications (mean and 95% interval) and the weekly series
    averaged over them."""
    summary: dict[str, Any] = {}
    weekly: dict[str, Any] = {}
    for name in policies:
        rows = [r["policies"][name] for r in results]
        summary[name] = {f: interval([row[f] for row in rows]) for f in SUMMARY_FIGURES}
        series = [r["weekly"][name] for r in results]
        if series:
            weekly[name] = {"week": series[0]["week"]}
            for key in ("queue", "in_care", "placements", "emergencies", "median_transit_minutes", "share_outside_ile_de_france"):
                columns = list(zip(*(s[key] for s in series)))
                weekly[name][key] = [float(np.mean([v for v in col if v is not None])) if any(v is not None for v in col) else None
                                     for col in columns]
    # paired on each replication (the same arrivals): objective relative to the first policy's
    first = policies[0] if policies else None
    for name in policies:
        summary[name]["objective_relative_to_" + str(first)] = interval(
            [r["policies"][name]["objective"] / r["policies"][first]["objective"] for r in results
             if r["policies"][first]["objective"] > 0])
    summary["hindsight"] = {"bound": interval([r["hindsight"]["bound"] for r in results])}
    population = {key: interval([r["population"][key] for r in results])
                  for key in ("stock_start", "stock_end", "entrants", "leavers")}
    population["entrant_share_12_15"] = interval([r["population"]["entrant_shares"]["12-15"] for r in results])
    population["leaver_share_12_15"] = interval([r["population"]["leaver_shares"]["12-15"] for r in results])
    return {"policies": summary, "weekly": weekly, "population": population}


def replicate(system: PlacementSystem, travel: TravelMatrix, weights: Weights, params: SimulationParameters,
              replications: int, root_seed: int = 1, policies: Sequence[str] = POLICIES,
              changes: Sequence[CapacityChange] = (), workers: int = 1, scheduler: str | None = None,
              progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """``replications`` seeds (spawned from ``root_seed``) of :func:`simulate`, on Dask
    distributed: the scheduler at ``scheduler`` when given, else a LocalCluster of ``workers``
    single-threaded processes; ``workers=0`` runs them here, one after the other (the service's
    jobs, the tests). Inputs are scattered once; a failed replication is reported and the others
    go on. Returns every replication, the summary with intervals, and the failures."""
    unknown = [p for p in policies if p not in POLICIES]
    if unknown or not policies:
        raise DomainError(f"unknown policy(ies) {', '.join(unknown) or '(none given)'}; known: {', '.join(POLICIES)}",
                          fr=f"politique(s) inconnue(s) {', '.join(unknown) or '(aucune donnée)'} ; connues : "
                          f"{', '.join(POLICIES)}")
    resolve_capacity_changes(system, changes, system.reference_date, params.days)  # bad changes fail before any work
    seeds = replication_seeds(root_seed, replications)
    payload = (system, travel, weights, params, tuple(policies), tuple(changes))
    results: dict[int, dict[str, Any]] = {}
    failures: list[dict[str, Any]] = []
    started = time.perf_counter()
    if workers == 0 and scheduler is None:
        for k, seed in enumerate(seeds):
            try:
                results[seed] = _replication_task(payload, seed)
            except Exception as err:  # reported, the others go on
                failures.append({"seed": seed, "error": f"{type(err).__name__}: {err}"})
            if progress is not None:
                progress(k + 1, len(seeds))
    else:
        from contextlib import ExitStack

        from distributed import Client, LocalCluster, as_completed

        with ExitStack() as stack:
            if scheduler is not None:
                client = stack.enter_context(Client(scheduler))
                client.get_versions(check=True)
            else:
                if workers < 1:
                    raise DomainError(f"workers must be at least 1 with Dask, got {workers}",
                                      fr=f"workers doit valoir au moins 1 avec Dask, reçu {workers}")
                cluster = stack.enter_context(LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                                           dashboard_address=":0"))
                client = stack.enter_context(Client(cluster))
            [data] = client.scatter([payload])
            futures = client.map(_replication_task, [data] * len(seeds), seeds)
            seed_of = {f.key: s for f, s in zip(futures, seeds)}
            done = 0
            for future in as_completed(futures):
                seed = seed_of[future.key]
                try:
                    results[seed] = future.result()
                except Exception as err:  # reported, the others go on
                    failures.append({"seed": seed, "error": f"{type(err).__name__}: {err}"})
                done += 1
                if progress is not None:
                    progress(done, len(seeds))
    ordered = [results[s] for s in seeds if s in results]
    if not ordered:
        raise DomainError("every replication failed: " + "; ".join(f["error"] for f in failures[:3]),
                          fr="toutes les réplications ont échoué : " + " ; ".join(f["error"] for f in failures[:3]))
    return {
        "parameters": params.to_dict(),
        "start": system.reference_date.isoformat(),
        "days": params.days,
        "policies": list(policies),
        "root_seed": root_seed,
        "seeds": seeds,
        "workers": workers if scheduler is None else scheduler,
        "wall_seconds": round(time.perf_counter() - started, 3),
        "capacity_changes": [{"on": c.on.isoformat(), "places": c.places, "unit": c.unit_id, "structure": c.structure_id,
                              "zone": c.zone.value if c.zone else None,
                              "type": c.structure_type.value if c.structure_type else None} for c in changes],
        "replications": ordered,
        "failures": failures,
        "summary": summarize_replications(ordered, policies),
    }
