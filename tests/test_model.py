"""The domain model refuses impossible values with a sentence that names them."""

from dataclasses import replace
from datetime import date

import pytest

from matcher import (
    AgeBand,
    CurrentPlacement,
    DomainError,
    JudgeConstraints,
    Location,
    Sex,
    SiblingGroup,
    Unit,
    UnitSex,
    Zone,
)
from tests.factories import ON, PARIS_15, born, child, structure, system, unit


@pytest.mark.parametrize(
    "age, band",
    [(0, AgeBand.INFANT), (3, AgeBand.INFANT), (4, AgeBand.CHILD), (11, AgeBand.CHILD),
     (12, AgeBand.YOUNG_TEEN), (15, AgeBand.YOUNG_TEEN), (16, AgeBand.OLDER_TEEN),
     (17, AgeBand.OLDER_TEEN), (18, AgeBand.YOUNG_ADULT), (21, AgeBand.YOUNG_ADULT)],
)
def test_age_bands_of_the_paris_plan(age, band):
    assert AgeBand.of(age) is band


@pytest.mark.parametrize("age", [-1, 22, 40])
def test_impossible_age_band(age):
    with pytest.raises(DomainError, match=f"age {age} is outside 0-21 years"):
        AgeBand.of(age)


def test_impossible_age_on_reference_date_names_the_child():
    kid = child("E-9", age=8)
    with pytest.raises(DomainError, match=r"child E-9: born 2018-11-01, after the reference date 2007-01-01"):
        kid.age_on(date(2007, 1, 1))


def test_system_refuses_child_older_than_21():
    old = child("E-1", age=25)
    with pytest.raises(DomainError, match="child E-1: age 25"):
        system([old], [structure()], [unit()])


def test_zone_of_departement():
    assert Zone.of_departement("75") is Zone.PARIS
    assert Zone.of_departement("93") is Zone.ILE_DE_FRANCE
    assert Zone.of_departement("58") is Zone.PROVINCE
    assert PARIS_15.zone is Zone.PARIS


def test_location_refuses_bad_coordinates():
    with pytest.raises(DomainError, match="is not a latitude/longitude"):
        Location(148.0, 2.3, "75101", "75")


def test_unit_refuses_more_occupied_than_capacity():
    with pytest.raises(DomainError, match="unit U-1: 5 occupied places for a capacity of 4"):
        Unit("U-1", "S-1", 4, 11, UnitSex.MIXED, capacity=4, occupied=5)


def test_unit_refuses_impossible_age_range():
    with pytest.raises(DomainError, match="age range 12-4"):
        Unit("U-1", "S-1", 12, 4, UnitSex.MIXED, capacity=4)


def test_only_a_girl_can_be_pregnant():
    with pytest.raises(DomainError, match="only a girl or young woman"):
        child(sex=Sex.MALE, pregnant=True)


def test_mother_of_infant_until_3():
    mother = child(age=19, sex=Sex.FEMALE, own_child_birth_date=date(2024, 1, 1))
    assert mother.is_mother_of_infant_on(ON)
    assert not mother.is_mother_of_infant_on(date(2027, 1, 1))


def test_judge_max_travel_must_be_positive():
    with pytest.raises(DomainError, match="max_travel_minutes must be positive"):
        JudgeConstraints(max_travel_minutes=0)


def test_sibling_group_needs_two_distinct_children():
    with pytest.raises(DomainError, match="at least two"):
        SiblingGroup("F-1", ("A",))
    with pytest.raises(DomainError, match="listed twice"):
        SiblingGroup("F-1", ("A", "A"))


def test_system_reports_every_inconsistency_at_once():
    kids = [
        child("A", sibling_group_id="F-9"),
        child("B", current=CurrentPlacement("U-404", ON)),
        child("B"),
    ]
    with pytest.raises(DomainError) as err:
        system(kids, [structure()], [unit(structure_id="S-404")])
    text = str(err.value)
    assert "child id 'B' appears twice" in text
    assert "unit U-1: unknown structure 'S-404'" in text
    assert "child A: unknown sibling group 'F-9'" in text
    assert "child B: current placement in unknown unit 'U-404'" in text


def test_system_refuses_more_children_placed_than_occupied():
    kids = [child("A", current=CurrentPlacement("U-1", ON)), child("B", current=CurrentPlacement("U-1", ON))]
    with pytest.raises(DomainError, match="unit U-1: 2 children placed there but only 1 places occupied"):
        system(kids, [structure()], [unit(capacity=3, occupied=1)])


def test_with_changes_replaces_units_and_children_in_place():
    kids = [child("A"), child("B"), child("C", current=CurrentPlacement("U-1", ON))]
    s = system(kids, [structure()], [unit("U-1", capacity=3, occupied=1), unit("U-2", capacity=2)])
    placed = replace(s.child_by_id["A"], current=CurrentPlacement("U-2", ON))
    changed = s.with_changes([replace(s.unit_by_id["U-2"], occupied=1)], [placed])
    assert [c.id for c in changed.children] == ["A", "B", "C"] and changed.children[0] == placed
    assert [u.occupied for u in changed.units] == [1, 1]
    assert [c.id for c in changed.waiting_children()] == ["B"]
    assert s.child_by_id["A"].is_waiting  # the original is untouched
    built = system([placed, kids[1], kids[2]], [structure()],
                   [unit("U-1", capacity=3, occupied=1), unit("U-2", capacity=2, occupied=1)])
    assert changed == built
    for name in ("child_by_id", "unit_by_id", "structure_by_id", "sibling_group_by_id", "placed_by_unit",
                 "units_by_structure", "homes"):
        assert getattr(changed, name) == getattr(built, name), name
    assert list(changed.child_by_id) == ["A", "B", "C"] and changed.placed_by_unit == {"U-1": 1, "U-2": 1}


def test_with_changes_refuses_unknown_ids_and_an_inconsistent_result():
    s = system([child("A")], [structure()], [unit("U-1", capacity=3)])
    with pytest.raises(DomainError, match="cannot change what the system does not have: unit 'U-9', child 'Z'"):
        s.with_changes([unit("U-9")], [child("Z")])
    placed = replace(s.child_by_id["A"], current=CurrentPlacement("U-1", ON))
    with pytest.raises(DomainError, match="unit U-1: 1 children placed there but only 0 places occupied"):
        s.with_changes(children=[placed])
    lost = replace(s.child_by_id["A"], current=CurrentPlacement("U-404", ON))
    with pytest.raises(DomainError, match="child A: current placement in unknown unit 'U-404'"):
        s.with_changes([replace(s.unit_by_id["U-1"], structure_id="S-404")], [lost])
    with pytest.raises(DomainError, match="unit U-1: unknown structure 'S-404'"):
        s.with_changes([replace(s.unit_by_id["U-1"], structure_id="S-404")], [lost])


def test_system_indexes():
    kids = [child("A", sibling_group_id="F-1"), child("B", sibling_group_id="F-1"), child("C")]
    s = system(kids, [structure()], [unit()], [SiblingGroup("F-1", ("A", "B"))])
    assert [c.id for c in s.siblings_of(s.child_by_id["A"])] == ["B"]
    assert s.units_by_structure["S-1"][0].id == "U-1"
    assert len(s.homes) == 1
    assert len(s.waiting_children()) == 3
    assert s.age_of(kids[0]) == 8
    assert born(8) < ON
