"""Soft rules: the score of one option, component by component, in minutes-equivalent.

All weights live in :class:`Weights` (defaults in ``matcher/weights.toml``). Lower is better.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields, replace
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

from matcher.errors import DomainError
from matcher.model import AgeBand, AnchorKind, Child, Need, StructureType, Urgency, Zone
from matcher.rules import Option, Rule, RuleKind


SPECIAL_NEEDS = frozenset({Need.DISABILITY, Need.PSYCHIC_CARE})
"""Needs that few structures serve: a child with one of them is hard to place again later."""


@dataclass(frozen=True, slots=True)
class Weights:
    """Weights of the objective; see ``matcher/weights.toml`` for the meaning of each."""

    transit_minute: float
    outside_paris: float
    outside_ile_de_france: float
    daily_price_eur: float
    move: float
    unplaced: float
    unplaced_urgent: float
    unplaced_infant: float
    siblings_split: float
    unreachable_minutes: float
    school_minute: float
    hotel: float
    unplaced_special_needs: float = 0.0
    unplaced_sibling: float = 0.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise DomainError(f"weight {f.name} must be a non-negative number, got {value!r}",
                                  fr=f"le poids {f.name} doit être un nombre positif ou nul, reçu {value!r}")

    @classmethod
    def default(cls) -> Weights:
        text = resources.files("matcher").joinpath("weights.toml").read_text(encoding="utf-8")
        return cls.from_mapping(tomllib.loads(text)["objective"])

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], base: Weights | None = None) -> Weights:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise DomainError(f"unknown weight(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}",
                              fr=f"poids inconnu(s) {', '.join(unknown)} ; connus : {', '.join(sorted(known))}")
        if base is None:
            missing = sorted(known - set(values))
            if missing:
                raise DomainError(f"missing weight(s) {', '.join(missing)}", fr=f"poids manquant(s) {', '.join(missing)}")
            return cls(**{k: float(v) if isinstance(v, int) and not isinstance(v, bool) else v for k, v in values.items()})
        return replace(base, **{k: float(v) if isinstance(v, int) and not isinstance(v, bool) else v for k, v in values.items()})

    @classmethod
    def load(cls, path: Path | str) -> Weights:
        """Defaults overridden by the keys of a TOML file (top level or under [objective])."""
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise DomainError(f"{path}: weights file not found", fr=f"{path} : fichier de poids introuvable") from None
        except tomllib.TOMLDecodeError as err:
            raise DomainError(f"{path}: not valid TOML: {err}", fr=f"{path} : TOML invalide : {err}") from None
        values = data.get("objective", data)
        try:
            return cls.from_mapping(values, base=cls.default())
        except DomainError as err:
            raise DomainError(f"{path}: {err}", fr=f"{path} : {err.said('fr')}") from None

    def unplaced_cost(self, child: Child, on: date) -> float:
        """Penalty for leaving this child without a place: higher when urgent, for the youngest,
        for a child with a disability or needing psychological care, and for a child of a fratrie."""
        cost = self.unplaced
        if child.urgency is Urgency.URGENT:
            cost += self.unplaced_urgent
        if child.age_band_on(on) is AgeBand.INFANT:
            cost += self.unplaced_infant
        if child.needs & SPECIAL_NEEDS:
            cost += self.unplaced_special_needs
        if child.sibling_group_id is not None:
            cost += self.unplaced_sibling
        return cost


@dataclass(frozen=True, slots=True)
class ScoreComponent:
    """One named soft quantity of an option, its measure and its cost."""

    name: str
    quantity: float
    unit: str
    cost: float


@dataclass(frozen=True, slots=True)
class OptionScore:
    components: tuple[ScoreComponent, ...]

    @property
    def total(self) -> float:
        return sum(c.cost for c in self.components)

    def component(self, name: str) -> ScoreComponent:
        for c in self.components:
            if c.name == name:
                return c
        raise KeyError(name)


def transit_time(option: Option, weights: Weights) -> ScoreComponent:
    """Soft. Public-transport minutes from the child's anchor: the supervised-visit site when
    the judge ordered it, else the family home, else the school or training place, else the
    service that follows the child (unreachable counts as a long trip, never as zero)."""
    minutes = option.travel_minutes if option.travel_minutes is not None else weights.unreachable_minutes
    return ScoreComponent("transit_time", minutes, "minutes", minutes * weights.transit_minute)


SCHOOL_AGE = (3, 17)
"""Ages (years) of school continuity: instruction is compulsory from 3 (and training to 18)."""
SUMMER_HOLIDAYS = ((7, 5), (8, 31))
"""(month, day) of the first and last days outside the school year (assumed: the summer
holidays of the French calendar, about 5 July to 31 August)."""
SCHOOL_CHANGE_MINUTES = 45.0
"""Beyond this many minutes of public transport from the place to the current school, a
school-age child is counted as changing school (assumed; for the summaries, not the score)."""


def in_school_year(on: date) -> bool:
    """True outside the summer holidays (:data:`SUMMER_HOLIDAYS`)."""
    return not (SUMMER_HOLIDAYS[0] <= (on.month, on.day) <= SUMMER_HOLIDAYS[1])


def school_continuity_applies(child: Child, on: date) -> bool:
    """Whether :func:`school_continuity` counts for this child on this date: a child with a
    current school, of school age, during the school year, whose anchor is not that school
    already (the transit term then measures the same trip, not counted twice)."""
    if child.school is None or not in_school_year(on):
        return False
    if not SCHOOL_AGE[0] <= child.age_on(on) <= SCHOOL_AGE[1]:
        return False
    return child.anchor.kind is not AnchorKind.SCHOOL


def school_continuity(child: Child, option: Option, weights: Weights, on: date) -> ScoreComponent:
    """Soft. Public-transport minutes from the place to the child's current school, for a
    child of school age during the school year (see :func:`school_continuity_applies`), so
    that placements keep schooling where they can (unreachable counts as a long trip)."""
    if not school_continuity_applies(child, on):
        return ScoreComponent("school_continuity", 0.0, "minutes", 0.0)
    minutes = option.school_minutes if option.school_minutes is not None else weights.unreachable_minutes
    return ScoreComponent("school_continuity", minutes, "minutes", minutes * weights.school_minute)


def hotel_stay(option: Option, weights: Weights) -> ScoreComponent:
    """Soft. The place is a hotel room (1 child): a real but undesired option, penalised high."""
    out = 1.0 if option.structure.type is StructureType.HOTEL else 0.0
    return ScoreComponent("hotel_stay", out, "children", out * weights.hotel)


def outside_paris(option: Option, weights: Weights) -> ScoreComponent:
    """Soft. The place is outside Paris (1 child)."""
    out = 0.0 if option.structure.zone is Zone.PARIS else 1.0
    return ScoreComponent("outside_paris", out, "children", out * weights.outside_paris)


def outside_ile_de_france(option: Option, weights: Weights) -> ScoreComponent:
    """Soft. The place is outside Île-de-France, in the provinces (1 child)."""
    out = 1.0 if option.structure.zone is Zone.PROVINCE else 0.0
    return ScoreComponent("outside_ile_de_france", out, "children", out * weights.outside_ile_de_france)


def daily_price(option: Option, weights: Weights) -> ScoreComponent:
    """Soft (minor). Daily price of the place, in euros."""
    price = option.structure.daily_price_eur
    return ScoreComponent("daily_price", price, "EUR/day", price * weights.daily_price_eur)


def stability(child: Child, option: Option, weights: Weights) -> ScoreComponent:
    """Soft. An already placed child would move to another unit (1 move)."""
    moved = 1.0 if child.current is not None and child.current.unit_id != option.unit.id else 0.0
    return ScoreComponent("stability", moved, "moves", moved * weights.move)


def score_option(child: Child, option: Option, weights: Weights, on: date) -> OptionScore:
    """Score of placing a child in one option on the reference date ``on``, lower is better.
    Eligibility is not checked here."""
    return OptionScore(
        (
            transit_time(option, weights),
            outside_paris(option, weights),
            outside_ile_de_france(option, weights),
            daily_price(option, weights),
            stability(child, option, weights),
            school_continuity(child, option, weights, on),
            hotel_stay(option, weights),
        )
    )


def score_costs(child: Child, option: Option, weights: Weights, on: date,
                school_applies: bool | None = None) -> tuple[float, ...]:
    """The costs of ``score_option(child, option, weights, on)``'s components, in their order and
    to the last bit, without building the components (their ``sum`` is the score's total): the
    proposals rank every eligible unit on that sum and build the full score only for the options
    they show.
    ``school_applies``: :func:`school_continuity_applies` for this child and date when the caller
    has it already (it depends on neither the option nor the weights)."""
    structure = option.structure
    zone = structure.location.zone
    minutes = option.travel_minutes if option.travel_minutes is not None else weights.unreachable_minutes
    if school_applies is None:
        school_applies = school_continuity_applies(child, on)
    if school_applies:
        school = option.school_minutes if option.school_minutes is not None else weights.unreachable_minutes
        school_cost = school * weights.school_minute
    else:
        school_cost = 0.0
    return (
        minutes * weights.transit_minute,
        (0.0 if zone is Zone.PARIS else 1.0) * weights.outside_paris,
        (1.0 if zone is Zone.PROVINCE else 0.0) * weights.outside_ile_de_france,
        structure.daily_price_eur * weights.daily_price_eur,
        (1.0 if child.current is not None and child.current.unit_id != option.unit.id else 0.0) * weights.move,
        school_cost,
        (1.0 if structure.type is StructureType.HOTEL else 0.0) * weights.hotel,
    )


def _soft(fn: Any, label: str) -> Rule:
    return Rule(fn.__name__, label, RuleKind.SOFT, (fn.__doc__ or "").strip(), None)


SOFT_RULES: tuple[Rule, ...] = (
    _soft(transit_time, "Transit time from the child's anchor (visit site, family home, school or service)"),
    _soft(outside_paris, "Outside Paris"),
    _soft(outside_ile_de_france, "Outside Île-de-France"),
    _soft(daily_price, "Daily price"),
    _soft(stability, "Stability (no move)"),
    _soft(school_continuity, "School continuity"),
    _soft(hotel_stay, "Hotel stay"),
    Rule("unplaced", "Child without a place", RuleKind.SOFT,
         "Soft. A child left without a place (penalty higher when urgent and for the 0-3).", None),
    Rule("siblings_split", "Sibling group split", RuleKind.SOFT,
         "Soft, only for a separable fratrie or when no placement keeps a group together: "
         "per extra structure the group is spread over.", None),
)
