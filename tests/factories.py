"""Tiny named fixtures for tests: build a child, a structure, a unit, a system in one line."""

from __future__ import annotations

from datetime import date

from matcher import (
    Child,
    Home,
    JudgeConstraints,
    Location,
    Need,
    Operator,
    PlacementSystem,
    Sex,
    SiblingGroup,
    Structure,
    StructureType,
    Unit,
    UnitSex,
)
from matcher.rules import Option

ON = date(2026, 11, 23)
"""Reference date of every test fixture."""

PARIS_18 = Location(48.8925, 2.3444, "75118", "75")
PARIS_15 = Location(48.8412, 2.3003, "75115", "75")
SAINT_DENIS = Location(48.9362, 2.3574, "93066", "93")
NEVERS = Location(46.9908, 3.1590, "58194", "58")


def born(age_years: int, months: int = 0) -> date:
    """A birth date giving ``age_years`` (and some months) on :data:`ON`."""
    month = ON.month - months
    year = ON.year - age_years
    while month <= 0:
        month += 12
        year -= 1
    return date(year, month, 1)


def child(
    id: str = "C-1",
    age: int = 8,
    sex: Sex = Sex.MALE,
    home: Home | None = None,
    needs: tuple[Need, ...] = (),
    judge: JudgeConstraints | None = None,
    **kwargs,
) -> Child:
    return Child(
        id=id,
        birth_date=born(age),
        sex=sex,
        home=home if home is not None or kwargs.get("home_absence") else Home("H-1", PARIS_18),
        waiting_since=kwargs.pop("waiting_since", date(2026, 11, 1)),
        needs=frozenset(needs),
        judge=judge or JudgeConstraints(),
        **kwargs,
    )


def structure(
    id: str = "S-1",
    type: StructureType = StructureType.MECS,
    location: Location = PARIS_15,
    capabilities: tuple[Need, ...] = (),
    **kwargs,
) -> Structure:
    return Structure(
        id=id,
        name=kwargs.pop("name", f"{type.value} {id}"),
        type=type,
        operator=kwargs.pop("operator", Operator.ASSOCIATIVE),
        location=location,
        capabilities=frozenset(capabilities),
        daily_price_eur=kwargs.pop("daily_price_eur", 200.0),
        **kwargs,
    )


def unit(
    id: str = "U-1",
    structure_id: str = "S-1",
    ages: tuple[int, int] = (4, 11),
    sex: UnitSex = UnitSex.MIXED,
    capacity: int = 10,
    occupied: int = 0,
    takes_siblings: bool = True,
) -> Unit:
    return Unit(id, structure_id, ages[0], ages[1], sex, capacity, occupied, takes_siblings)


def option(s: Structure | None = None, u: Unit | None = None, minutes: float | None = 30.0,
           school_minutes: float | None = None) -> Option:
    s = s or structure()
    return Option(s, u or unit(structure_id=s.id), minutes, school_minutes)


def system(
    children: list[Child],
    structures: list[Structure],
    units: list[Unit],
    groups: list[SiblingGroup] = (),
) -> PlacementSystem:
    return PlacementSystem(ON, tuple(children), tuple(groups), tuple(structures), tuple(units))
