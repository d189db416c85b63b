"""Batch rebalancing: bring children placed far from their family closer, reunite split fratries.

Given the placement system (each placed child's unit and start date), the travel minutes and
the places free on a date, :func:`plan_rebalancing` proposes an ordered plan of moves that
maximises the minutes of family travel saved minus the disruption of each move, plus a gain for
every split fratrie brought together, with every hard rule kept. The model is a mixed-integer
program (OR-Tools, SCIP) warm-started from a min-cost flow plan (:func:`_flow_start`, never below
greedy); the solver's proven bound on the same model (branch and bound over its LP relaxation)
is reported with the plan.
:func:`greedy_rebalancing` is the baseline: the farthest child first, to the nearest free
eligible place. Both return a :class:`Plan` whose final assignment has passed the one hard-rule
guard, :func:`solver.solution.require_valid`.

Definitions (docs/REBALANCING.md):

* *On a date*: the system as it will stand that day (:func:`system_on`): ages on that date, and
  the young adults whose care has ended by then (older than 21) gone, their places free.
* *Candidate*: a placed child far from the family home (outside Île-de-France, or beyond
  ``far_minutes``), a child of a split fratrie, or a child who asked to live closer; unless the
  judge placed them away on purpose, they have been in their place for fewer than
  ``min_settled_days``, they turn 18 or 21 within ``months_before_birthday`` months, or their
  current place already breaks a hard rule (an officer's case, not a batch move).
* *Move*: one child to another unit, only where the trip from the family home gets shorter by at
  least ``min_gain`` minutes, or where it joins a sibling of a split fratrie (then the fratrie
  must end up together). Value: minutes saved - disruption (``move_base`` + ``move_per_year`` x
  years in the place, times ``school_year_factor`` outside July and August) + the child's wish
  (``wish_closer`` bonus, ``wish_stay`` cost); ``reunite_fratrie`` per fratrie brought together.
* *Chain*: a move into a place that another move of the plan frees; chains are at most
  ``max_chain`` moves long and start with a move into a place free on the date.

All weights and settings live in ``matcher/weights.toml`` (section ``[rebalancing]``).
"""

from __future__ import annotations

import time
import tomllib
from collections import defaultdict
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from matcher.errors import DomainError
from matcher.model import (
    MAX_AGE_YEARS,
    Child,
    CurrentPlacement,
    PlacementSystem,
    SiblingGroup,
    Wish,
    Zone,
)
from matcher.outcome import Summary, summarize
from matcher.rules import Option, exclusions
from matcher.scoring import Weights
from matcher.travel import TravelMatrix
from solver.problem import Problem
from solver.solution import require_valid

SCALE = 10
"""Values of moves are kept to 1/SCALE minutes-equivalent."""

SCIP_PARAMS = "presolving/maxrounds = 2\nseparating/maxroundsroot = 3\n"
"""SCIP's presolve is cut to two rounds and its cutting planes at the root to three: at Paris
scale, on the shared 2-core machine, its full presolve alone took the whole budget (5.7 s), and
the root's cuts another 5 s for a bound 0.1% lower; without them its heuristics improve on the
greedy start within the budget."""

SUMMER_MONTHS = frozenset({7, 8})
"""July and August: the school holidays, when a move disrupts least."""


# --- settings -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RebalanceSettings:
    """Settings of the rebalancing; see the ``[rebalancing]`` section of ``matcher/weights.toml``."""

    far_outside_ile_de_france: bool
    far_minutes: float
    min_settled_days: int
    months_before_birthday: int
    move_base: float
    move_per_year: float
    school_year_factor: float
    reunite_fratrie: float
    wish_closer: float
    wish_stay: float
    max_chain: int
    arcs_per_child: int
    arcs_per_place: int
    time_limit_s: float
    seed: int

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "far_outside_ile_de_france":
                if not isinstance(value, bool):
                    raise DomainError(f"rebalancing setting {f.name} must be true or false, got {value!r}",
                                      fr=f"le réglage de rapprochement {f.name} doit être vrai ou faux, reçu {value!r}")
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise DomainError(f"rebalancing setting {f.name} must be a non-negative number, got {value!r}",
                                  fr=f"le réglage de rapprochement {f.name} doit être un nombre positif ou nul, "
                                  f"reçu {value!r}")
        for name in ("max_chain", "arcs_per_child", "arcs_per_place"):
            if int(getattr(self, name)) != getattr(self, name) or getattr(self, name) < 1:
                raise DomainError(f"rebalancing setting {name} must be a whole number >= 1, got {getattr(self, name)!r}",
                                  fr=f"le réglage de rapprochement {name} doit être un entier >= 1, reçu "
                                  f"{getattr(self, name)!r}")
        if self.school_year_factor < 1:
            raise DomainError(f"rebalancing setting school_year_factor must be >= 1, got {self.school_year_factor!r}",
                              fr=f"le réglage de rapprochement school_year_factor doit être >= 1, reçu "
                              f"{self.school_year_factor!r}")

    @classmethod
    def default(cls) -> RebalanceSettings:
        text = resources.files("matcher").joinpath("weights.toml").read_text(encoding="utf-8")
        return cls.from_mapping(tomllib.loads(text)["rebalancing"])

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], base: RebalanceSettings | None = None) -> RebalanceSettings:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise DomainError(f"unknown rebalancing setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}",
                              fr=f"réglage(s) de rapprochement inconnu(s) {', '.join(unknown)} ; connus : "
                              f"{', '.join(sorted(known))}")
        if base is None:
            missing = sorted(known - set(values))
            if missing:
                raise DomainError(f"missing rebalancing setting(s) {', '.join(missing)}",
                                  fr=f"réglage(s) de rapprochement manquant(s) {', '.join(missing)}")
            return cls(**dict(values))
        return replace(base, **dict(values))

    @classmethod
    def load(cls, path: Path | str) -> RebalanceSettings:
        """Defaults overridden by the ``[rebalancing]`` section of a TOML file."""
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise DomainError(f"{path}: settings file not found", fr=f"{path} : fichier de réglages introuvable") from None
        except tomllib.TOMLDecodeError as err:
            raise DomainError(f"{path}: not valid TOML: {err}", fr=f"{path} : TOML invalide : {err}") from None
        try:
            return cls.from_mapping(data.get("rebalancing", {}), base=cls.default())
        except DomainError as err:
            raise DomainError(f"{path}: {err}", fr=f"{path} : {err.said('fr')}") from None


# --- the system on a date ------------------------------------------------------------------------


def _age(child: Child, on: date) -> int:
    b = child.birth_date
    return on.year - b.year - ((on.month, on.day) < (b.month, b.day))


def system_on(system: PlacementSystem, on: date) -> tuple[PlacementSystem, tuple[str, ...]]:
    """The system as it stands on ``on`` (ages on that date) and the children whose care has
    ended by then (older than 21, their places freed), by id. ``on`` before the system's
    reference date is a DomainError."""
    if on < system.reference_date:
        raise DomainError(
            f"the plan date {on.isoformat()} is before the data's reference date {system.reference_date.isoformat()}",
            fr=f"la date du plan {on.isoformat()} précède la date de référence des données "
            f"{system.reference_date.isoformat()}",
        )
    leavers = {c.id for c in system.children if _age(c, on) > MAX_AGE_YEARS}
    if on == system.reference_date and not leavers:
        return system, ()
    freed: dict[str, int] = defaultdict(int)
    for cid in leavers:
        current = system.child_by_id[cid].current
        if current is not None:
            freed[current.unit_id] += 1
    units = tuple(replace(u, occupied=u.occupied - freed[u.id]) if freed.get(u.id) else u for u in system.units)
    groups: list[SiblingGroup] = []
    alone: set[str] = set()
    for g in system.sibling_groups:
        left = tuple(c for c in g.child_ids if c not in leavers)
        if len(left) >= 2:
            groups.append(g if len(left) == len(g.child_ids) else replace(g, child_ids=left))
        else:
            alone.update(left)
    children = []
    for c in system.children:
        if c.id in leavers:
            continue
        if c.id in alone:
            c = replace(c, sibling_group_id=None)
        if c.judge.separated_from & leavers:
            c = replace(c, judge=replace(c.judge, separated_from=c.judge.separated_from - leavers))
        children.append(c)
    return PlacementSystem(on, tuple(children), tuple(groups), system.structures, units), tuple(sorted(leavers))


def in_school_year(on: date) -> bool:
    return on.month not in SUMMER_MONTHS


# --- candidates ---------------------------------------------------------------------------------

EXCLUSION_TEXT = {
    "judge_placed_away": "le juge a voulu cet éloignement",
    "settled_recently": "arrivé(e) il y a moins de {days} jours",
    "turns_18_soon": "aura 18 ans dans moins de {months} mois",
    "turns_21_soon": "aura 21 ans dans moins de {months} mois",
    "current_place_breaks_rule": "la place actuelle enfreint déjà une règle ({rule}) : cas à traiter par un officier",
}


@dataclass(frozen=True, slots=True)
class Candidate:
    child_id: str
    reasons: tuple[str, ...]
    """far (outside Île-de-France or beyond far_minutes), split_fratrie, wish_closer."""
    minutes_now: float | None
    zone_now: str


@dataclass(frozen=True, slots=True)
class Excluded:
    child_id: str
    rule: str
    text: str


def _months_until_birthday(child: Child, on: date, years: int) -> float | None:
    """Months from ``on`` to the child's ``years``-th birthday (None when it has passed)."""
    b = child.birth_date
    try:
        birthday = b.replace(year=b.year + years)
    except ValueError:  # 29 February
        birthday = date(b.year + years, 2, 28)
    if birthday < on:
        return None
    return (birthday - on).days / 30.4375


def _breaches(system: PlacementSystem, travel: TravelMatrix) -> dict[str, str]:
    """Placed children whose current place already breaks a hard rule, with the rule: an
    option rule (the child grew out of the unit's ages, the judge's limit...), a judge's
    separation or a unit that does not take siblings holding two of a fratrie."""
    on = system.reference_date
    found: dict[str, str] = {}
    structure_of: dict[str, str] = {}
    for c in system.children:
        if c.current is None:
            continue
        unit = system.unit_by_id[c.current.unit_id]
        structure = system.structure_of(unit)
        structure_of[c.id] = structure.id
        broken = exclusions(c, Option.of(c, structure, unit, travel), on)
        if broken:
            found[c.id] = broken[0].rule
    for c in system.children:
        s = structure_of.get(c.id)
        if s is not None and any(structure_of.get(o) == s for o in c.judge.separated_from):
            found.setdefault(c.id, "judge_separation")
    for g in system.sibling_groups:
        by_unit: dict[str, list[str]] = defaultdict(list)
        for cid in g.child_ids:
            current = system.child_by_id[cid].current
            if current is not None:
                by_unit[current.unit_id].append(cid)
        for uid, members in by_unit.items():
            if len(members) > 1 and not system.unit_by_id[uid].takes_siblings:
                for cid in members:
                    found.setdefault(cid, "unit_takes_siblings")
    return found


def _split_groups(system: PlacementSystem) -> dict[str, int]:
    """Fratries whose placed members live in several structures, and how many; only those
    the judge did not order apart (a separation order between two members)."""
    out: dict[str, int] = {}
    for g in system.sibling_groups:
        members = set(g.child_ids)
        if any(system.child_by_id[c].judge.separated_from & members for c in g.child_ids):
            continue
        structures = {
            system.unit_by_id[system.child_by_id[c].current.unit_id].structure_id  # type: ignore[union-attr]
            for c in g.child_ids if system.child_by_id[c].current is not None
        }
        if len(structures) > 1:
            out[g.id] = len(structures)
    return out


def select_candidates(
    system: PlacementSystem, travel: TravelMatrix, settings: RebalanceSettings
) -> tuple[list[Candidate], list[Excluded], dict[str, str]]:
    """(candidates, excluded children with the reason, current places already breaking a rule)
    on the system's reference date."""
    on = system.reference_date
    breaches = _breaches(system, travel)
    split = _split_groups(system)
    candidates: list[Candidate] = []
    excluded: list[Excluded] = []
    for c in system.children:
        if c.current is None:
            continue
        structure = system.structure_of(system.unit_by_id[c.current.unit_id])
        minutes = travel.between(c.anchor.id, structure.id)  # from the family home, else the child's anchor
        reasons = []
        if (settings.far_outside_ile_de_france and structure.zone is Zone.PROVINCE) or (
            minutes is None or minutes > settings.far_minutes
        ):
            reasons.append("far")
        if c.sibling_group_id in split:
            reasons.append("split_fratrie")
        if c.wish is Wish.CLOSER:
            reasons.append("wish_closer")
        if not reasons:
            continue
        rule = None
        if c.judge.placed_away:
            rule = "judge_placed_away"
        elif (on - c.current.since).days < settings.min_settled_days:
            rule = "settled_recently"
        else:
            for years, name in ((18, "turns_18_soon"), (21, "turns_21_soon")):
                months = _months_until_birthday(c, on, years)
                if months is not None and months < settings.months_before_birthday:
                    rule = name
                    break
        if rule is None and c.id in breaches:
            rule = "current_place_breaks_rule"
        if rule is not None:
            text = EXCLUSION_TEXT[rule].format(days=settings.min_settled_days, months=settings.months_before_birthday,
                                               rule=breaches.get(c.id, ""))
            excluded.append(Excluded(c.id, rule, text))
            continue
        candidates.append(Candidate(c.id, tuple(reasons), minutes, structure.zone.value))
    return candidates, excluded, breaches


def disruption(child: Child, on: date, settings: RebalanceSettings) -> float:
    """Soft. The cost of moving a placed child (minutes-equivalent): ``move_base`` plus
    ``move_per_year`` per year in the current place, times ``school_year_factor`` in the
    school year (a move in July or August disrupts less)."""
    if child.current is None:
        return 0.0
    years = max(0, (on - child.current.since).days) / 365.25
    cost = settings.move_base + settings.move_per_year * years
    return cost * (settings.school_year_factor if in_school_year(on) else 1.0)


def wish_value(child: Child, settings: RebalanceSettings) -> float:
    """Soft. The child's stated wish: + ``wish_closer`` when they asked to be closer, -
    ``wish_stay`` when they asked to stay."""
    if child.wish is Wish.CLOSER:
        return settings.wish_closer
    if child.wish is Wish.STAY:
        return -settings.wish_stay
    return 0.0


# --- the plan -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Move:
    """One child's move in the plan."""

    number: int
    chain: int
    step: int
    """Position in its chain (1: into a place free on the date)."""
    child_id: str
    sibling_group_id: str | None
    from_unit: str
    from_structure: str
    to_unit: str
    to_structure: str
    minutes_before: float | None
    minutes_after: float
    minutes_saved: float
    disruption: float
    wish: str
    wish_value: float
    reunites: str | None
    """The fratrie this move helps bring together, if any."""
    after_move: int | None
    """The move that frees the place this one takes (None: a place free on the date)."""
    after_leaver: str | None
    """The young adult whose care ends by the plan's date and whose place this move takes (a
    place free on the date but not yet today); None otherwise."""
    value: float
    """minutes_saved - disruption + wish_value (the fratrie's reunion gain is counted once, in the totals)."""
    reason: str


@dataclass(frozen=True)
class Plan:
    method: str
    on: str
    moves: tuple[Move, ...]
    chains: tuple[tuple[int, ...], ...]
    totals: dict[str, Any]
    objective: float
    bound: float | None
    """Proven upper bound on the objective of any plan of the same model (the MIP's bound)."""
    status: str
    wall_seconds: float
    candidates: int
    excluded: dict[str, int]
    excluded_children: tuple[Excluded, ...]
    leavers: tuple[str, ...]
    before: Summary
    after: Summary
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def gap(self) -> float | None:
        if self.bound is None:
            return None
        if self.bound <= 0:
            return 0.0
        return max(0.0, (self.bound - self.objective) / self.bound)

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method, "on": self.on,
            "moves": [asdict(m) for m in self.moves],
            "chains": [list(c) for c in self.chains],
            "totals": self.totals, "objective": round(self.objective, 1),
            "bound": None if self.bound is None else round(self.bound, 1), "gap": self.gap,
            "status": self.status, "wall_seconds": round(self.wall_seconds, 3),
            "candidates": self.candidates, "excluded": self.excluded,
            "excluded_children": [asdict(e) for e in self.excluded_children],
            "leavers": list(self.leavers),
            "before": self.before.to_dict(), "after": self.after.to_dict(), "stats": self.stats,
        }


def _fmt(minutes: float | None) -> str:
    return "inconnu" if minutes is None else f"{round(minutes):d} min"


def reason_text(move: Move, chain_after: int | None, leaver: str | None = None) -> str:
    """The move in French words with rounded numbers."""
    parts = []
    if move.minutes_saved > 0:
        parts.append(
            f"Rapproche l'enfant du domicile familial : {_fmt(move.minutes_before)} → {_fmt(move.minutes_after)} "
            f"de trajet ({round(move.minutes_saved):d} min de moins)"
        )
    else:
        parts.append(
            f"Rejoint sa fratrie : {_fmt(move.minutes_before)} → {_fmt(move.minutes_after)} de trajet"
        )
    if move.reunites:
        parts.append(f"réunit la fratrie {move.reunites}")
    elif move.sibling_group_id:
        parts.append(f"part avec sa fratrie {move.sibling_group_id}")
    parts.append(f"coût du changement {round(move.disruption):d}")
    if move.wish == Wish.CLOSER.value:
        parts.append("l'enfant a demandé à se rapprocher")
    elif move.wish == Wish.STAY.value:
        parts.append("attention : l'enfant a demandé à rester")
    if chain_after is not None:
        parts.append(f"prend la place libérée par le mouvement {chain_after}")
    elif leaver is not None:
        parts.append(f"prend la place que {leaver} libère en fin de prise en charge d'ici la date prévue")
    else:
        parts.append("place libre à la date prévue")
    return " ; ".join(parts) + "."


def apply_plan(system: PlacementSystem, plan: Plan) -> PlacementSystem:
    """The system after the plan's moves (each moved child placed in its new unit from the
    plan's date; occupied places follow). ``system`` is the system on the plan's date."""
    on = date.fromisoformat(plan.on)
    delta: dict[str, int] = defaultdict(int)
    children = []
    for m in plan.moves:
        c = system.child_by_id[m.child_id]
        if c.current is None or c.current.unit_id != m.from_unit:
            raise DomainError(f"move {m.number}: child {m.child_id} is not in unit {m.from_unit}",
                              fr=f"déplacement {m.number} : l'enfant {m.child_id} n'est pas dans l'unité {m.from_unit}")
        children.append(replace(c, current=CurrentPlacement(m.to_unit, on)))
        delta[m.from_unit] -= 1
        delta[m.to_unit] += 1
    units = [replace(system.unit_by_id[u], occupied=system.unit_by_id[u].occupied + d) for u, d in delta.items() if d]
    return system.with_changes(units=units, children=children)


def placements(system: PlacementSystem) -> dict[str, str | None]:
    """Current unit of every placed child (the assignment the summary reads)."""
    return {c.id: c.current.unit_id for c in system.children if c.current is not None}


def _guard(system_after: PlacementSystem, travel: TravelMatrix, weights: Weights, breaches: Mapping[str, str],
           context: str) -> None:
    """The final assignment through :func:`solver.solution.require_valid`. Children whose place
    already broke a rule before the plan (they are never moved) are left out of the assignment
    as not placed, their places still taken (their unit's occupied count keeps them)."""
    aside = [c for cid in breaches if (c := system_after.child_by_id.get(cid)) is not None and c.current is not None]
    guard_system = system_after.with_changes(children=[replace(c, current=None) for c in aside]) if aside else system_after
    problem = Problem.build(guard_system, travel, weights, scope="all")
    assignment: dict[str, str | None] = {c.id: (c.current.unit_id if c.current else None) for c in guard_system.children}
    require_valid(problem, assignment, context)


# --- the model ----------------------------------------------------------------------------------


@dataclass
class _Arc:
    child: int
    """Index in the problem (scope all)."""
    unit: int
    minutes: float
    saved: float
    value: float
    joins: bool
    """Lengthens the trip but joins a sibling of a split fratrie (allowed only if it is reunited)."""


@dataclass
class _Instance:
    """Everything both methods read: the system on the date, its problem (scope all), the
    candidates and their arcs."""

    system: PlacementSystem
    travel: TravelMatrix
    weights: Weights
    settings: RebalanceSettings
    problem: Problem
    candidates: list[Candidate]
    excluded: list[Excluded]
    breaches: dict[str, str]
    leavers: tuple[str, ...]
    free: np.ndarray
    """Places free on the date per unit (capacity - occupied)."""
    leavers_in: dict[int, list[str]]
    """Per unit, the children placed there today whose care ends by the date (their places are
    among the ``free`` ones on the date, not yet today)."""
    current: np.ndarray
    """Current unit per child of the problem (-1: waiting)."""
    minutes_now: dict[int, float | None]
    arcs: list[_Arc]
    split: dict[str, int]
    max_moves: int | None
    min_gain: float
    started: float


def _prepare(
    system: PlacementSystem, travel: TravelMatrix, weights: Weights, settings: RebalanceSettings,
    on: date | None, max_moves: int | None, min_gain: float,
) -> _Instance:
    started = time.perf_counter()
    if max_moves is not None and max_moves < 0:
        raise DomainError(f"max_moves must be >= 0, got {max_moves}", fr=f"max_moves doit être >= 0, reçu {max_moves}")
    if min_gain < 0:
        raise DomainError(f"min_gain must be >= 0 minutes, got {min_gain}",
                          fr=f"min_gain doit être >= 0 minute, reçu {min_gain}")
    at, leavers = system_on(system, on or system.reference_date)
    candidates, excluded, breaches = select_candidates(at, travel, settings)
    problem = Problem.build(at, travel, weights, scope="all")
    n_units = problem.n_units
    free = np.array([u.capacity - u.occupied for u in problem.units], dtype=np.int64)
    leavers_in: dict[int, list[str]] = defaultdict(list)
    for cid in leavers:
        placed = system.child_by_id[cid].current
        if placed is not None:
            leavers_in[problem.unit_index[placed.unit_id]].append(cid)
    current = problem.child_current_unit.copy()
    idx = np.array([problem.child_index[c.child_id] for c in candidates], dtype=np.int64)
    movable = np.zeros(problem.n_children, dtype=bool)
    movable[idx] = True
    hosts = np.zeros(n_units, dtype=bool)
    hosts[current[movable]] = True
    target = (free > 0) | hosts
    split = _split_groups(at)
    group_structures: dict[str, set[int]] = defaultdict(set)
    for gid in split:
        for cid in at.sibling_group_by_id[gid].child_ids:
            i = problem.child_index[cid]
            if current[i] >= 0:
                group_structures[gid].add(int(problem.unit_structure[current[i]]))
    minutes_now: dict[int, float | None] = {}
    arcs: list[_Arc] = []
    unreachable = weights.unreachable_minutes
    on_date = at.reference_date
    for kids, units, minutes, _cost, eligible in problem.iter_blocks(idx) if idx.size else ():
        keep_unit = target[units]
        for r, i in enumerate(kids):
            i = int(i)
            child = problem.children[i]
            cur = int(current[i])
            m0 = problem.minutes_of(i, cur)
            minutes_now[i] = m0
            base = unreachable if m0 is None else m0
            ok = eligible[r] & keep_unit & ~np.isnan(minutes[r]) & (units != cur)
            cols = np.flatnonzero(ok)
            if cols.size == 0:
                continue
            mins = minutes[r, cols].astype(np.float64)
            saved = base - mins
            shorter = saved >= max(min_gain, 0.5)
            structures = problem.unit_structure[units[cols]]
            joins = np.zeros(cols.size, dtype=bool)
            gid = child.sibling_group_id
            if gid in split:
                own = int(problem.unit_structure[cur])
                others = group_structures[gid] - {own}
                joins = np.isin(structures, list(others)) & ~shorter
            chosen = np.flatnonzero(shorter | joins)
            if chosen.size == 0:
                continue
            cost = disruption(child, on_date, settings) - wish_value(child, settings)
            value = saved[chosen] - cost
            keep = chosen
            if chosen.size > settings.arcs_per_child:
                order = np.argsort(-value, kind="stable")
                top = set(order[: settings.arcs_per_child].tolist()) | set(np.flatnonzero(joins[chosen]).tolist())
                keep = chosen[sorted(top)]
                value = saved[keep] - cost
            for k, v in zip(keep, value):
                # values kept to 1/SCALE minutes, as shown
                arcs.append(_Arc(i, int(units[cols[k]]), float(mins[k]), float(saved[k]),
                                 round(float(v) * SCALE) / SCALE, bool(joins[k])))
    return _Instance(at, travel, weights, settings, problem, candidates, excluded, breaches, leavers, free, leavers_in,
                     current, minutes_now, arcs, split, max_moves, min_gain, started)


def _flow_start(inst: _Instance, greedy: list[_Arc]) -> list[_Arc]:
    """A better start than greedy: the greedy plan's moves of fratries and of children under a
    separation order kept, every other candidate placed by a min-cost flow (OR-Tools) into the
    places free on the date that greedy's kept moves leave: the best such plan without chains.
    Never worth less than greedy (greedy's other moves are one such flow). Greedy itself when
    ``max_moves`` is set."""
    if inst.max_moves is not None:
        return greedy
    from ortools.graph.python import min_cost_flow

    p = inst.problem
    partners = p.separation_partners
    fixed = lambda i: p.block_of_child[i] >= 0 or i in partners  # noqa: E731
    kept = [a for a in greedy if fixed(a.child)]
    room = inst.free.copy()
    for a in kept:
        room[a.unit] -= 1
    arcs = [a for a in inst.arcs if not fixed(a.child) and not a.joins and a.value > 0 and room[a.unit] > 0]
    if not arcs:
        return kept
    children = sorted({a.child for a in arcs})
    units = sorted({a.unit for a in arcs})
    c_node = {c: k + 1 for k, c in enumerate(children)}
    u_node = {u: len(children) + 1 + k for k, u in enumerate(units)}
    sink = len(children) + len(units) + 1
    flow = min_cost_flow.SimpleMinCostFlow()
    for c in children:
        flow.add_arc_with_capacity_and_unit_cost(0, c_node[c], 1, 0)
        flow.add_arc_with_capacity_and_unit_cost(c_node[c], sink, 1, 0)  # stays
    handles = [flow.add_arc_with_capacity_and_unit_cost(c_node[a.child], u_node[a.unit], 1, -int(round(a.value * SCALE)))
               for a in arcs]
    for u in units:
        flow.add_arc_with_capacity_and_unit_cost(u_node[u], sink, int(room[u]), 0)
    flow.set_node_supply(0, len(children))
    flow.set_node_supply(sink, -len(children))
    if flow.solve() != flow.OPTIMAL:
        return greedy
    return kept + [a for a, h in zip(arcs, handles) if flow.flow(h) > 0]


def _model_arcs(inst: _Instance, start: list[_Arc]) -> list[_Arc]:
    """The arcs of the MIP: into each unit, the ``arcs_per_place`` best per place it can offer
    (free on the date, or freed by a candidate leaving it), every arc of a fratrie's member
    (they must be able to move together) and every arc of the greedy plan (the warm start)."""
    p = inst.problem
    factor = inst.settings.arcs_per_place
    leavers: dict[int, set[int]] = defaultdict(set)
    for a in inst.arcs:
        leavers[int(inst.current[a.child])].add(a.child)
    by_unit: dict[int, list[_Arc]] = defaultdict(list)
    for a in inst.arcs:
        by_unit[a.unit].append(a)
    keep: set[int] = {id(a) for a in start}
    for u, arcs in by_unit.items():
        places = int(inst.free[u]) + len(leavers.get(u, ()))
        arcs.sort(key=lambda a: (-a.value, p.children[a.child].id))
        keep.update(id(a) for a in arcs[: max(1, factor * places)])
    keep.update(id(a) for a in inst.arcs if a.joins or p.block_of_child[a.child] >= 0)
    return [a for a in inst.arcs if id(a) in keep]


def plan_rebalancing(
    system: PlacementSystem,
    travel: TravelMatrix,
    weights: Weights | None = None,
    settings: RebalanceSettings | None = None,
    *,
    on: date | None = None,
    max_moves: int | None = None,
    min_gain: float = 0.0,
) -> Plan:
    """The optimal plan of moves on ``on`` (default: the system's reference date): a MIP
    (OR-Tools, SCIP) warm-started from a min-cost flow plan; its proven bound is reported."""
    weights = weights or Weights.default()
    settings = settings or RebalanceSettings.default()
    inst = _prepare(system, travel, weights, settings, on, max_moves, min_gain)
    prepared = time.perf_counter()
    greedy, reunited_start = _greedy_moves(inst)
    start = _flow_start(inst, greedy)
    all_arcs = len(inst.arcs)
    inst = replace(inst, arcs=_model_arcs(inst, start))
    mip = _Model(inst)
    start_value = sum(a.value for a in start) + mip.reunite_gain * len(reunited_start)
    mip.hint(start, reunited_start)
    built = time.perf_counter()
    status, chosen, reunited, bound = mip.solve()
    stats = {"arcs": len(inst.arcs), "arcs_before_pruning": all_arcs, "rows": mip.lp.NumConstraints(), "columns": mip.lp.NumVariables(),
             "prepare_s": round(prepared - inst.started, 3), "model_s": round(built - prepared, 3),
             "mip_wall_s": round(time.perf_counter() - built, 3), "chain_limit": settings.max_chain,
             "greedy": round(sum(a.value for a in greedy) + mip.reunite_gain * len(reunited_start), 1),
             "start": round(start_value, 1)}
    return _finish(inst, "mip", chosen, reunited, bound, status, stats, mip.steps)


class _Model:
    """The rebalancing MIP over the candidates' arcs, with the moves in steps (built row by row
    with coefficients: 40,000 arcs at Paris scale).

    * ``x[k][t]``: arc k is used at step t (1..max_chain); each child moves at most once. Step 1
      moves take places free on the date; a move at step t may take a place a move of an
      earlier step freed: a chain is at most max_chain long and no cycle of moves is possible.
      An arc into a unit no candidate leaves only has step 1.
    * capacity, each unit and step t: arrivals up to t <= free places + departures before t.
    * fratries: ``w[g, s]`` the fratrie has a member in structure s at the end; a fratrie that
      must stay together is never spread over more structures than now (so one that lives
      together moves together); ``r[g]`` a split fratrie ends in one structure (the gain
      ``reunite_fratrie``), required by every arc that lengthens a trip to join a sibling.
    * a unit that does not take siblings holds at most one of a fratrie; the judge's separation
      orders keep two children out of one structure (what was already so before stays allowed).
    """

    def __init__(self, inst: _Instance):
        from ortools.linear_solver import pywraplp

        self.pywraplp = pywraplp
        self.inst = inst
        p = inst.problem
        settings = inst.settings
        self.reunite_gain = round(settings.reunite_fratrie * SCALE) / SCALE
        lp = pywraplp.Solver.CreateSolver("SCIP")
        if lp is None:
            raise DomainError("the MIP solver SCIP is not available in this OR-Tools build",
                              fr="le solveur SCIP n'est pas disponible dans cette version d'OR-Tools")
        self.lp = lp
        inf = lp.infinity()
        arcs = inst.arcs
        L = settings.max_chain
        by_child: dict[int, list[int]] = defaultdict(list)
        by_unit: dict[int, list[int]] = defaultdict(list)
        for k, a in enumerate(arcs):
            by_child[a.child].append(k)
            by_unit[a.unit].append(k)
        movers_in: dict[int, list[int]] = defaultdict(list)
        for i in by_child:
            movers_in[int(inst.current[i])].append(i)
        self.x: list[list[Any]] = [
            [lp.BoolVar(f"x{k}_{t}") for t in range(1, (L if movers_in.get(a.unit) else 1) + 1)]
            for k, a in enumerate(arcs)
        ]
        x = self.x

        def used(ks, coef: float = 1.0, steps: range | None = None) -> dict[Any, float]:
            out: dict[Any, float] = {}
            for k in ks:
                for t, var in enumerate(x[k], start=1):
                    if steps is None or t in steps:
                        out[var] = out.get(var, 0.0) + coef
            return out

        structure = p.unit_structure
        for ks in by_child.values():
            self._row(-inf, 1, used(ks))
        if inst.max_moves is not None:
            self._row(-inf, inst.max_moves, used(range(len(arcs))))
        for u, ks in by_unit.items():
            leaving = [k for i in movers_in.get(u, []) for k in by_child[i]]
            free = int(inst.free[u])
            top = max(len(x[k]) for k in ks)
            for t in range(1, top + 1):
                terms = used(ks, 1.0, range(1, t + 1))
                for var, coef in used(leaving, -1.0, range(1, t)).items():
                    terms[var] = terms.get(var, 0.0) + coef
                self._row(-inf, free, terms)

        def end_in(i: int, s: int) -> tuple[float, dict[Any, float]]:
            """(constant, terms): child i ends the plan in structure s."""
            cur = int(inst.current[i])
            ks = by_child.get(i, [])
            if cur >= 0 and int(structure[cur]) == s:
                return 1.0, used([k for k in ks if int(structure[arcs[k].unit]) != s], -1.0)
            return 0.0, used([k for k in ks if int(structure[arcs[k].unit]) == s])

        def in_unit(i: int, u: int) -> tuple[float, dict[Any, float]]:
            ks = by_child.get(i, [])
            if int(inst.current[i]) == u:
                return 1.0, used([k for k in ks if arcs[k].unit != u], -1.0)
            return 0.0, used([k for k in ks if arcs[k].unit == u])

        def at_most(parts: list[tuple[float, dict[Any, float]]], limit: float, extra: dict[Any, float] | None = None) -> None:
            terms: dict[Any, float] = dict(extra or {})
            const = 0.0
            for c, t in parts:
                const += c
                for var, coef in t.items():
                    terms[var] = terms.get(var, 0.0) + coef
            self._row(-inf, limit - const, terms)

        reach_of = {i: {int(structure[arcs[k].unit]) for k in ks} for i, ks in by_child.items()}
        self.r: dict[str, Any] = {}
        self.w: dict[str, dict[int, Any]] = {}
        for block in p.blocks:
            members = [m for m in block.members if inst.current[m] >= 0]
            if not any(m in by_child for m in members):
                continue
            init = {int(structure[inst.current[m]]) for m in members}
            gid = block.group_id
            if block.together or gid in inst.split:
                reach = set(init).union(*(reach_of.get(m, set()) for m in members))
                w = {s: lp.BoolVar(f"w{gid}-{s}") for s in sorted(reach)}
                self.w[gid] = w
                for m in members:
                    for s, var in w.items():
                        at_most([end_in(m, s)], 0.0, {var: -1.0})
                if block.together:
                    self._row(-inf, len(init), {var: 1 for var in w.values()})
                if gid in inst.split:
                    r = lp.BoolVar(f"reunite{gid}")
                    self.r[gid] = r
                    self._row(-inf, len(init), {**{var: 1 for var in w.values()}, r: len(init) - 1})
                    for m in members:
                        for k in by_child.get(m, []):
                            if arcs[k].joins:
                                self._row(-inf, 0, {**used([k]), r: -1})
            for u in sorted({arcs[k].unit for m in members for k in by_child.get(m, [])}):
                if not p.unit_takes_siblings[u]:
                    already = sum(1 for m in members if inst.current[m] == u)
                    at_most([in_unit(m, u) for m in members], max(1, already))
        for a, b in p.separations:
            if a not in by_child and b not in by_child:
                continue
            for s in sorted(reach_of.get(a, set()) | reach_of.get(b, set())):
                both_now = all(inst.current[c] >= 0 and int(structure[inst.current[c]]) == s for c in (a, b))
                at_most([end_in(a, s), end_in(b, s)], 2 if both_now else 1)
        objective = lp.Objective()
        for k, a in enumerate(arcs):
            for var in x[k]:
                objective.SetCoefficient(var, a.value)
        for r in self.r.values():
            objective.SetCoefficient(r, self.reunite_gain)
        objective.SetMaximization()

    def _row(self, lb: float, ub: float, terms: Mapping[Any, float]) -> None:
        row = self.lp.Constraint(float(lb), float(ub))
        for var, coef in terms.items():
            if coef:
                row.SetCoefficient(var, float(coef))

    def hint(self, start: list[_Arc], reunited: list[str]) -> None:
        """Start from a plan of the model (the greedy one: free places only, no chain)."""
        inst, p = self.inst, self.inst.problem
        picked = {(a.child, a.unit) for a in start}
        ends = {a.child: int(p.unit_structure[a.unit]) for a in start}
        variables, values = [], []
        for k, a in enumerate(inst.arcs):
            for t, var in enumerate(self.x[k], start=1):
                variables.append(var)
                values.append(1.0 if t == 1 and (a.child, a.unit) in picked else 0.0)
        for gid, r in self.r.items():
            variables.append(r)
            values.append(1.0 if gid in reunited else 0.0)
        for gid, w in self.w.items():
            block = p.blocks[int(p.block_of_child[p.child_index[p.system.sibling_group_by_id[gid].child_ids[0]]])]
            used = {ends.get(m, int(p.unit_structure[inst.current[m]])) for m in block.members if inst.current[m] >= 0}
            for s, var in w.items():
                variables.append(var)
                values.append(1.0 if s in used else 0.0)
        self.lp.SetHint(variables, values)

    def solve(self) -> tuple[str, list[_Arc], list[str], float]:
        pywraplp = self.pywraplp
        settings = self.inst.settings
        self.lp.SetTimeLimit(int(max(0.1, settings.time_limit_s) * 1000))
        params = pywraplp.MPSolverParameters()
        params.SetDoubleParam(params.RELATIVE_MIP_GAP, 1e-4)
        self.lp.SetSolverSpecificParametersAsString(SCIP_PARAMS + f"randomization/randomseedshift = {int(settings.seed)}\n")
        status = self.lp.Solve(params)
        names = {pywraplp.Solver.OPTIMAL: "optimal", pywraplp.Solver.FEASIBLE: "feasible"}
        if status not in names:
            raise DomainError(f"the rebalancing MIP ended with status {status} (no plan found within "
                              f"{settings.time_limit_s:g} s)",
                              fr=f"l'optimisation des déplacements s'est arrêtée avec le statut {status} (aucun plan "
                                 f"trouvé en {settings.time_limit_s:g} s)")
        chosen = []
        self.steps: dict[int, int] = {}
        for k, a in enumerate(self.inst.arcs):
            for t, var in enumerate(self.x[k], start=1):
                if var.solution_value() > 0.5:
                    chosen.append(a)
                    self.steps[a.child] = t
        reunited = sorted(g for g, r in self.r.items() if r.solution_value() > 0.5)
        bound = self.lp.Objective().BestBound()
        return names[status], chosen, reunited, float(bound)


# --- the greedy baseline -----------------------------------------------------------------------


def greedy_rebalancing(
    system: PlacementSystem,
    travel: TravelMatrix,
    weights: Weights | None = None,
    settings: RebalanceSettings | None = None,
    *,
    on: date | None = None,
    max_moves: int | None = None,
    min_gain: float = 0.0,
) -> Plan:
    """The baseline: the farthest candidate first (a fratrie as one, at its farthest member),
    each to the nearest eligible place free on the date where the move is worth it (positive
    value), a fratrie into one structure; no chains."""
    weights = weights or Weights.default()
    settings = settings or RebalanceSettings.default()
    inst = _prepare(system, travel, weights, settings, on, max_moves, min_gain)
    chosen, reunited = _greedy_moves(inst)
    stats = {"arcs": len(inst.arcs), "chain_limit": 1}
    return _finish(inst, "greedy", chosen, sorted(reunited), None, "heuristic", stats)


def _greedy_moves(inst: _Instance) -> tuple[list[_Arc], list[str]]:
    """The greedy baseline's moves and the fratries it brings together."""
    p = inst.problem
    settings = inst.settings
    free = inst.free.copy()
    where = {i: (int(p.unit_structure[u]) if u >= 0 else -1) for i, u in enumerate(inst.current)}
    arcs_of: dict[int, list[_Arc]] = defaultdict(list)
    for a in inst.arcs:
        arcs_of[a.child].append(a)
    blocks: dict[str, list[int]] = {}
    for b in p.blocks:
        members = [m for m in b.members if inst.current[m] >= 0]
        if len(members) >= 2 and (b.together or b.group_id in inst.split):
            blocks[b.group_id] = members
    seen: set[str] = set()
    order: list[tuple[float, list[int], str | None]] = []
    for c in inst.candidates:
        i = p.child_index[c.child_id]
        gid = p.children[i].sibling_group_id
        far = inst.weights.unreachable_minutes if inst.minutes_now.get(i) is None else inst.minutes_now[i]
        if gid in blocks:
            if gid in seen:
                continue
            seen.add(gid)
            members = blocks[gid]
            far = max((inst.weights.unreachable_minutes if inst.minutes_now.get(m) is None else inst.minutes_now[m])
                      for m in members if m in inst.minutes_now) if any(m in inst.minutes_now for m in members) else far
            order.append((far, members, gid))
        else:
            order.append((far, [i], None))
    order.sort(key=lambda t: (-t[0], p.children[t[1][0]].id))
    partners = p.separation_partners
    chosen: list[_Arc] = []
    reunited: list[str] = []

    def separated_ok(i: int, s: int, moving: set[int]) -> bool:
        return all(where[o] != s or o in moving for o in partners.get(i, ()))

    moved_to: dict[int, int] = {}

    def unit_now(o: int) -> int:
        return moved_to.get(o, int(inst.current[o]))

    def sibling_room(u: int, members: list[int], plan: list[_Arc]) -> bool:
        """A unit that does not take siblings holds at most one member of the fratrie."""
        if p.unit_takes_siblings[u]:
            return True
        planned = {a.child for a in plan}
        return not any(a.unit == u for a in plan) and not any(
            unit_now(o) == u for o in members if o not in planned)

    for _, members, gid in order:
        if inst.max_moves is not None and len(chosen) + len(members) > inst.max_moves:
            continue
        if gid is None:
            i = members[0]
            for a in sorted(arcs_of.get(i, []), key=lambda a: (a.minutes, a.unit)):
                s = int(p.unit_structure[a.unit])
                block = p.block_of_child[i]
                siblings = [m for m in p.blocks[block].members if m != i] if block >= 0 else []
                if a.joins or a.value <= 0 or free[a.unit] < 1 or not separated_ok(i, s, {i}) \
                        or not sibling_room(a.unit, siblings, []):
                    continue
                chosen.append(a)
                free[a.unit] -= 1
                where[i] = s
                moved_to[i] = a.unit
                break
            continue
        # a fratrie: every placed member ends in one structure (those already there stay)
        movable = [m for m in members if m in inst.minutes_now]
        fixed = [m for m in members if m not in inst.minutes_now]
        fixed_structures = {where[m] for m in fixed}
        if len(fixed_structures) > 1:
            continue
        options: dict[int, list[_Arc]] = defaultdict(list)
        for m in movable:
            for a in arcs_of.get(m, []):
                options[int(p.unit_structure[a.unit])].append(a)
        targets = sorted(options, key=lambda s: (min(a.minutes for a in options[s]), s))
        for s in targets:
            if fixed_structures and fixed_structures != {s}:
                continue
            plan: list[_Arc] = []
            room: dict[int, int] = defaultdict(int)
            ok = True
            for m in movable:
                if where[m] == s:
                    continue
                fits = sorted((a for a in options[s] if a.child == m), key=lambda a: (a.minutes, a.unit))
                pick = next((a for a in fits if free[a.unit] - room[a.unit] >= 1
                             and sibling_room(a.unit, members, plan)), None)
                if pick is None or not separated_ok(m, s, set(movable)):
                    ok = False
                    break
                plan.append(pick)
                room[pick.unit] += 1
            if not ok or not plan:
                continue
            was_split = gid in inst.split
            gain = sum(a.value for a in plan) + (settings.reunite_fratrie if was_split else 0.0)
            if any(a.joins for a in plan) and not was_split:
                continue
            if gain <= 0 or (inst.max_moves is not None and len(chosen) + len(plan) > inst.max_moves):
                continue
            for a in plan:
                chosen.append(a)
                free[a.unit] -= 1
                where[a.child] = s
                moved_to[a.child] = a.unit
            if was_split:
                reunited.append(gid)
            break
    return chosen, reunited


# --- from chosen arcs to a checked plan ----------------------------------------------------------


def _finish(inst: _Instance, method: str, chosen: list[_Arc], reunited: list[str], bound: float | None,
            status: str, stats: dict[str, Any], steps: Mapping[int, int] | None = None) -> Plan:
    """The plan of the chosen arcs, ordered in chains, through the hard-rule guard. ``steps``:
    the model's step of each move (none: every move at step 1, into a free place)."""
    p = inst.problem
    system = inst.system
    on = system.reference_date
    settings = inst.settings
    reunited_set = set(reunited)
    # who takes which place: in each unit, the arrivals of the earliest steps take the free places,
    # the others the places the children leaving it free, in the order of the steps (the
    # model's capacity rows say that the k-th such arrival comes after the k-th departure)
    step = {a.child: (steps or {}).get(a.child, 1) for a in chosen}
    arrivals: dict[int, list[_Arc]] = defaultdict(list)
    for a in chosen:
        arrivals[a.unit].append(a)
    leaving: dict[int, list[_Arc]] = defaultdict(list)
    for a in chosen:
        leaving[int(inst.current[a.child])].append(a)
    pred: dict[int, int | None] = {}
    leaver_of: dict[int, str] = {}
    for u, arr in arrivals.items():
        arr.sort(key=lambda a: (step[a.child], -a.value, p.children[a.child].id))
        out = sorted(leaving.get(u, []), key=lambda a: (step[a.child], p.children[a.child].id))
        n_free = int(inst.free[u])
        going = sorted(inst.leavers_in.get(u, []))
        n_today = n_free - len(going)  # free today; the others free up as young adults leave care
        for k, a in enumerate(arr):
            if k < n_free:
                pred[a.child] = None
                if k >= n_today:
                    leaver_of[a.child] = going[k - n_today]
            else:
                pred[a.child] = out[k - n_free].child
    succ = {v: k for k, v in pred.items() if v is not None}
    arc_of = {a.child: a for a in chosen}
    heads = [a for a in chosen if pred[a.child] is None]
    chains: list[list[_Arc]] = []
    for h in heads:
        chain = [h]
        while chain[-1].child in succ:
            chain.append(arc_of[succ[chain[-1].child]])
        chains.append(chain)
    if sum(len(c) for c in chains) != len(chosen):
        raise DomainError("the plan's moves do not form chains from free places (a cycle of moves)",
                          fr="les déplacements du plan ne forment pas des chaînes partant de places libres (un cycle de déplacements)")
    longest = max((len(c) for c in chains), default=0)
    if method != "greedy" and longest > settings.max_chain:
        raise DomainError(f"a chain of {longest} moves is longer than max_chain {settings.max_chain}",
                          fr=f"une chaîne de {longest} déplacements dépasse max_chain ({settings.max_chain})")

    def group_of(a: _Arc) -> str | None:
        return p.children[a.child].sibling_group_id

    def chain_value(chain: list[_Arc]) -> float:
        return sum(a.value for a in chain)

    chains.sort(key=lambda c: (-chain_value(c), p.children[c[0].child].id))
    moves: list[Move] = []
    number_of: dict[int, int] = {}
    chain_numbers: list[tuple[int, ...]] = []
    for n_chain, chain in enumerate(chains, start=1):
        numbers = []
        for step, a in enumerate(chain, start=1):
            child = p.children[a.child]
            number = len(moves) + 1
            number_of[a.child] = number
            numbers.append(number)
            before = inst.minutes_now.get(a.child)
            from_unit = p.units[int(inst.current[a.child])]
            to_unit = p.units[a.unit]
            gid = group_of(a)
            m = Move(
                number=number, chain=n_chain, step=step, child_id=child.id, sibling_group_id=gid,
                from_unit=from_unit.id, from_structure=from_unit.structure_id,
                to_unit=to_unit.id, to_structure=to_unit.structure_id,
                minutes_before=None if before is None else round(before, 1), minutes_after=round(a.minutes, 1),
                minutes_saved=round(a.saved, 1), disruption=round(disruption(child, on, settings), 1),
                wish=child.wish.value, wish_value=wish_value(child, settings),
                reunites=gid if gid in reunited_set else None,
                after_move=None if pred[a.child] is None else number_of[pred[a.child]],
                after_leaver=leaver_of.get(a.child),
                value=round(a.value, 1), reason="",
            )
            moves.append(replace(m, reason=reason_text(m, m.after_move, m.after_leaver)))
        chain_numbers.append(tuple(numbers))
    objective = sum(a.value for a in chosen) + round(settings.reunite_fratrie * SCALE) / SCALE * len(reunited)
    totals = {
        "moves": len(moves),
        "chains": len(chains),
        "longest_chain": longest,
        "minutes_saved": round(sum(a.saved for a in chosen), 1),
        "minutes_saved_per_move": round(sum(a.saved for a in chosen) / len(chosen), 1) if chosen else 0.0,
        "disruption": round(sum(m.disruption for m in moves), 1),
        "fratries_reunited": len(reunited),
        "fratries_reunited_ids": list(reunited),
        "objective": round(objective, 1),
    }
    provisional = Plan(method, on.isoformat(), tuple(moves), tuple(chain_numbers), totals, objective, bound, status,
                       0.0, len(inst.candidates), {}, tuple(inst.excluded), inst.leavers,
                       summarize(system, placements(system), inst.travel), summarize(system, placements(system), inst.travel))
    after_system = apply_plan(system, provisional)
    _guard(after_system, inst.travel, inst.weights, inst.breaches, f"rebalancing plan ({method})")
    excluded: dict[str, int] = defaultdict(int)
    for e in inst.excluded:
        excluded[e.rule] += 1
    stats = {**stats, "pre_existing_breaches": len(inst.breaches)}
    return replace(
        provisional,
        excluded=dict(sorted(excluded.items())),
        after=summarize(after_system, placements(after_system), inst.travel),
        wall_seconds=time.perf_counter() - inst.started,
        stats=stats,
    )
