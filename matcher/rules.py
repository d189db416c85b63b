"""The placement rules, one small function each, and their catalogue.

A *hard* rule on one option (a child in a unit) returns ``None`` when the option passes, or
the reason, in words, why it is excluded. Group rules (siblings together, judge-ordered
separation) look at a whole assignment. Soft rules are the score components in
:mod:`matcher.scoring`. The catalogue :data:`RULES` lists them all, hard then soft, for the
API and the docs; the solver and the tests use the same names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from matcher.model import (
    Child,
    Need,
    SiblingGroup,
    Structure,
    StructureType,
    Unit,
)


@dataclass(frozen=True, slots=True)
class Option:
    """One place a child could go: a unit of a structure, with the travel times that matter."""

    structure: Structure
    unit: Unit
    travel_minutes: float | None
    """Public-transport minutes from the child's anchor (:attr:`matcher.model.Child.anchor`:
    visit site, family home, school or service); None when unknown or unreachable."""
    school_minutes: float | None = None
    """Public-transport minutes from the place to the child's current school; None when the
    child has no school, or when unknown or unreachable."""

    @classmethod
    def of(cls, child: Child, structure: Structure, unit: Unit, travel) -> Option:
        """The option of ``child`` in ``unit`` with its minutes read from a
        :class:`matcher.travel.TravelMatrix` (from the child's anchor and to their school)."""
        school = travel.between(child.school.id, structure.id) if child.school is not None else None
        return cls(structure, unit, travel.between(child.anchor.id, structure.id), school)


@dataclass(frozen=True, slots=True)
class Exclusion:
    """Why a rule excludes an option."""

    rule: str
    reason: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.reason}"


OptionCheck = Callable[[Child, Option, date], str | None]


# --- hard rules on one option -------------------------------------------------------------


def age_range(child: Child, option: Option, on: date) -> str | None:
    """Hard. The child's age (years, at the reference date) lies in the unit's age range."""
    age = child.age_on(on)
    unit = option.unit
    if unit.age_min <= age <= unit.age_max:
        return None
    return f"age {age} is outside the unit's {unit.age_min}-{unit.age_max} range"


def unit_sex(child: Child, option: Option, on: date) -> str | None:
    """Hard. The unit takes children of the child's sex (mixed, girls only, boys only)."""
    if option.unit.sex.admits(child.sex):
        return None
    return f"the unit takes {option.unit.sex.value} only"


def needs_met(child: Child, option: Option, on: date) -> str | None:
    """Hard. Every specialised need of the child is a capability of the structure."""
    missing = child.needs - option.structure.capabilities
    if not missing:
        return None
    names = ", ".join(sorted(n.value.replace("_", " ") for n in missing))
    return f"the structure does not provide: {names}"


def young_adult_units(child: Child, option: Option, on: date) -> str | None:
    """Hard. Young adults (18-21) only in units for them; minors never in adult-only units."""
    age = child.age_on(on)
    unit = option.unit
    if age >= 18 and not unit.is_for_young_adults:
        return f"a young adult ({age}) needs a unit for 18-21; this unit takes {unit.age_min}-{unit.age_max}"
    if age < 18 and unit.is_only_for_young_adults:
        return f"a minor ({age}) cannot live in a unit for young adults only ({unit.age_min}-{unit.age_max})"
    return None


def mother_child_units(child: Child, option: Option, on: date) -> str | None:
    """Hard. Mother-child places (centre maternel) only for a pregnant woman or a mother of a child under 3."""
    if option.structure.type is not StructureType.CENTRE_MATERNEL:
        return None
    if child.is_mother_of_infant_on(on):
        return None
    return "mother-child places are only for a pregnant young woman or a mother of a child under 3"


def secret_places(child: Child, option: Option, on: date) -> str | None:
    """Hard. A secret place (protection of trafficking victims) only for a child flagged for protection."""
    if not option.structure.secret or Need.PROTECTION in child.needs:
        return None
    return "secret place reserved for children under protection"


def judge_excluded_structure(child: Child, option: Option, on: date) -> str | None:
    """Hard. The judge excluded this structure for the child."""
    if option.structure.id in child.judge.excluded_structures:
        return f"the judge excluded structure {option.structure.id}"
    return None


def judge_excluded_departement(child: Child, option: Option, on: date) -> str | None:
    """Hard. The judge excluded the département the structure is in."""
    dep = option.structure.location.departement
    if dep in child.judge.excluded_departements:
        return f"the judge excluded département {dep}"
    return None


def judge_max_travel(child: Child, option: Option, on: date) -> str | None:
    """Hard. Travel time from the child's anchor (the visit site under supervised visits, else
    the family home, school or service) within the judge's maximum (minutes)."""
    limit = child.judge.max_travel_minutes
    if limit is None:
        return None
    if option.travel_minutes is None:
        return f"travel time unknown; the judge set a maximum of {limit:.0f} min"
    if option.travel_minutes > limit:
        over = option.travel_minutes - limit
        return (
            f"{option.travel_minutes:.0f} min from {child.anchor.describe()}, "
            f"{over:.0f} min over the judge's maximum of {limit:.0f} min"
        )
    return None


HOTEL_MIN_AGE = 16
"""Youngest age a hotel room may be used for (16-21 year olds only)."""


def hotel_age(child: Child, option: Option, on: date) -> str | None:
    """Hard. A hotel room only for a young person aged 16 to 21 (years, at the reference date)."""
    if option.structure.type is not StructureType.HOTEL:
        return None
    age = child.age_on(on)
    if age >= HOTEL_MIN_AGE:
        return None
    return f"a hotel is only for young people aged {HOTEL_MIN_AGE}-21; this child is {age}"


def free_place(child: Child, option: Option, on: date) -> str | None:
    """Hard (capacity). The unit has at least one free place right now."""
    if option.unit.free >= 1:
        return None
    return f"full ({option.unit.occupied}/{option.unit.capacity} places occupied)"


# --- group rules on an assignment ------------------------------------------------------------


def siblings_together(
    group: SiblingGroup, structure_of_child: Mapping[str, str | None]
) -> str | None:
    """Hard unless the group is separable. All placed siblings of a fratrie live in one structure.

    Measured in structures: a group spread over k structures breaks the rule k-1 times.
    """
    placed = {structure_of_child.get(c) for c in group.child_ids} - {None}
    if len(placed) <= 1 or not group.together:
        return None
    return f"sibling group {group.id} is split over {len(placed)} structures"


def judge_separation(
    child: Child, structure_of_child: Mapping[str, str | None]
) -> str | None:
    """Hard. A child the judge ordered separated from a sibling does not live in the same structure."""
    mine = structure_of_child.get(child.id)
    if mine is None:
        return None
    clashes = sorted(o for o in child.judge.separated_from if structure_of_child.get(o) == mine)
    if not clashes:
        return None
    return f"child {child.id} placed with {', '.join(clashes)} against the judge's separation order"


# --- the catalogue -------------------------------------------------------------------------


class RuleKind(StrEnum):
    HARD = "hard"
    GROUP = "group"
    CAPACITY = "capacity"
    SOFT = "soft"


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    label: str
    kind: RuleKind
    description: str
    check: Callable[..., str | None] | None = None


def _rule(fn: Callable[..., str | None], label: str, kind: RuleKind) -> Rule:
    return Rule(fn.__name__, label, kind, (fn.__doc__ or "").strip(), fn)


OPTION_RULES: tuple[Rule, ...] = (
    _rule(age_range, "Age range", RuleKind.HARD),
    _rule(unit_sex, "Unit sex", RuleKind.HARD),
    _rule(young_adult_units, "Young adults in units for them", RuleKind.HARD),
    _rule(mother_child_units, "Mother-child places", RuleKind.HARD),
    _rule(needs_met, "Needs met", RuleKind.HARD),
    _rule(secret_places, "Secret places", RuleKind.HARD),
    _rule(hotel_age, "Hotels only for 16-21", RuleKind.HARD),
    _rule(judge_excluded_structure, "Judge: excluded structure", RuleKind.HARD),
    _rule(judge_excluded_departement, "Judge: excluded département", RuleKind.HARD),
    _rule(judge_max_travel, "Judge: maximum travel time", RuleKind.HARD),
)
"""Hard rules on one (child, unit) pair. Capacity is separate: see :func:`free_place`."""

CAPACITY_RULE = _rule(free_place, "Free place", RuleKind.CAPACITY)

GROUP_RULES: tuple[Rule, ...] = (
    _rule(siblings_together, "Siblings together", RuleKind.GROUP),
    _rule(judge_separation, "Judge: separation order", RuleKind.GROUP),
)


def exclusions(
    child: Child, option: Option, on: date, *, include_capacity: bool = False
) -> list[Exclusion]:
    """Every hard rule the option breaks, in catalogue order (empty when eligible)."""
    rules: Iterable[Rule] = OPTION_RULES + ((CAPACITY_RULE,) if include_capacity else ())
    found: list[Exclusion] = []
    for rule in rules:
        assert rule.check is not None
        reason = rule.check(child, option, on)
        if reason is not None:
            found.append(Exclusion(rule.name, reason))
    return found


def is_eligible(child: Child, option: Option, on: date) -> bool:
    """True when no hard rule on the pair excludes it (capacity not considered)."""
    for rule in OPTION_RULES:
        assert rule.check is not None
        if rule.check(child, option, on) is not None:
            return False
    return True
