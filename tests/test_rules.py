"""Each eligibility rule: a satisfied and a violated case, and the reason it gives."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from matcher import RULES, JudgeConstraints, Need, RuleKind, Sex, StructureType, UnitSex
from matcher import rules as r
from matcher.rules import exclusions, is_eligible
from tests.factories import NEVERS, ON, SAINT_DENIS, born, child, option, structure, unit


def test_age_range_satisfied():
    assert r.age_range(child(age=8), option(u=unit(ages=(4, 11))), ON) is None


def test_age_range_violated_names_age_and_range():
    reason = r.age_range(child(age=13), option(u=unit(ages=(4, 11))), ON)
    assert reason == "age 13 is outside the unit's 4-11 range"


def test_age_range_uses_birthday_not_year():
    # 11 years and 11 months old: still 11
    kid = replace(child(age=11), birth_date=born(11, months=11))
    assert r.age_range(kid, option(u=unit(ages=(4, 11))), ON) is None


def test_unit_sex_satisfied_mixed_and_matching():
    assert r.unit_sex(child(sex=Sex.FEMALE), option(u=unit(sex=UnitSex.MIXED)), ON) is None
    assert r.unit_sex(child(sex=Sex.FEMALE), option(u=unit(sex=UnitSex.GIRLS)), ON) is None


def test_unit_sex_violated():
    assert r.unit_sex(child(sex=Sex.MALE), option(u=unit(sex=UnitSex.GIRLS)), ON) == "the unit takes girls only"


def test_needs_met_satisfied():
    s = structure(capabilities=(Need.DISABILITY, Need.PSYCHIC_CARE))
    assert r.needs_met(child(needs=(Need.DISABILITY,)), option(s), ON) is None


def test_needs_met_violated_lists_missing_needs():
    s = structure(capabilities=(Need.DISABILITY,))
    kid = child(needs=(Need.DISABILITY, Need.PSYCHIC_CARE, Need.UNACCOMPANIED_MINOR))
    assert r.needs_met(kid, option(s), ON) == "the structure does not provide: psychic care, unaccompanied minor"


def test_young_adult_units_satisfied():
    assert r.young_adult_units(child(age=19), option(u=unit(ages=(16, 21))), ON) is None
    assert r.young_adult_units(child(age=16), option(u=unit(ages=(16, 21))), ON) is None


def test_young_adult_units_violated_adult_in_minor_unit():
    reason = r.young_adult_units(child(age=19), option(u=unit(ages=(12, 17))), ON)
    assert reason == "a young adult (19) needs a unit for 18-21; this unit takes 12-17"


def test_young_adult_units_violated_minor_in_adult_only_unit():
    reason = r.young_adult_units(child(age=17), option(u=unit(ages=(18, 21))), ON)
    assert reason == "a minor (17) cannot live in a unit for young adults only (18-21)"


def test_mother_child_units_satisfied_pregnant_and_young_mother():
    s = structure(type=StructureType.CENTRE_MATERNEL, capabilities=(Need.MOTHER_CHILD,))
    u = unit(ages=(16, 21), sex=UnitSex.GIRLS)
    assert r.mother_child_units(child(age=17, sex=Sex.FEMALE, pregnant=True), option(s, u), ON) is None
    mother = child(age=19, sex=Sex.FEMALE, own_child_birth_date=date(2025, 3, 1))
    assert r.mother_child_units(mother, option(s, u), ON) is None


def test_mother_child_units_violated_child_over_3():
    s = structure(type=StructureType.CENTRE_MATERNEL)
    mother = child(age=20, sex=Sex.FEMALE, own_child_birth_date=date(2022, 1, 1))
    reason = r.mother_child_units(mother, option(s, unit(ages=(16, 21))), ON)
    assert reason == "mother-child places are only for a pregnant young woman or a mother of a child under 3"


def test_mother_child_units_not_applicable_elsewhere():
    assert r.mother_child_units(child(), option(structure(type=StructureType.MECS)), ON) is None


def test_secret_places_satisfied_for_protected_child():
    s = structure(secret=True, capabilities=(Need.PROTECTION,))
    assert r.secret_places(child(needs=(Need.PROTECTION,)), option(s), ON) is None
    assert r.secret_places(child(), option(structure(secret=False)), ON) is None


def test_secret_places_violated():
    """The secret structure protects (it has the capability), so only the secret rule excludes."""
    s = structure(secret=True, capabilities=(Need.PROTECTION,))
    reason = r.secret_places(child(), option(s), ON)
    assert reason == "secret place reserved for children under protection"
    assert [e.rule for e in exclusions(child(), option(s), ON)] == ["secret_places"]


def test_judge_excluded_structure():
    judge = JudgeConstraints(excluded_structures=frozenset({"S-1"}))
    assert r.judge_excluded_structure(child(judge=judge), option(structure("S-2")), ON) is None
    assert r.judge_excluded_structure(child(judge=judge), option(structure("S-1")), ON) == (
        "the judge excluded structure S-1"
    )


def test_judge_excluded_departement():
    judge = JudgeConstraints(excluded_departements=frozenset({"93"}))
    assert r.judge_excluded_departement(child(judge=judge), option(structure()), ON) is None
    reason = r.judge_excluded_departement(child(judge=judge), option(structure(location=SAINT_DENIS)), ON)
    assert reason == "the judge excluded département 93"


def test_judge_max_travel_satisfied():
    judge = JudgeConstraints(max_travel_minutes=60)
    assert r.judge_max_travel(child(judge=judge), option(minutes=59.0), ON) is None
    assert r.judge_max_travel(child(), option(minutes=None), ON) is None  # no limit set


def test_judge_max_travel_violated_says_how_much_over():
    judge = JudgeConstraints(max_travel_minutes=60)
    reason = r.judge_max_travel(child(judge=judge), option(structure(location=NEVERS), minutes=185.0), ON)
    assert reason == "185 min from the family home, 125 min over the judge's maximum of 60 min"


def test_judge_max_travel_violated_when_unreachable():
    judge = JudgeConstraints(max_travel_minutes=60)
    reason = r.judge_max_travel(child(judge=judge), option(minutes=None), ON)
    assert reason == "travel time unknown; the judge set a maximum of 60 min"


def test_free_place():
    assert r.free_place(child(), option(u=unit(capacity=3, occupied=2)), ON) is None
    assert r.free_place(child(), option(u=unit(capacity=3, occupied=3)), ON) == "full (3/3 places occupied)"


def test_exclusions_lists_every_broken_rule_in_catalogue_order():
    s = structure(secret=True)
    found = exclusions(child(age=19, sex=Sex.MALE), option(s, unit(ages=(4, 11), sex=UnitSex.GIRLS, capacity=1, occupied=1)), ON, include_capacity=True)
    assert [e.rule for e in found] == ["age_range", "unit_sex", "young_adult_units", "secret_places", "free_place"]
    assert not is_eligible(child(age=19), option(s), ON)


def test_eligible_option_has_no_exclusion():
    assert exclusions(child(), option(), ON) == []
    assert is_eligible(child(), option(), ON)


def test_capacity_not_checked_unless_asked():
    full = option(u=unit(capacity=1, occupied=1))
    assert exclusions(child(), full, ON) == []
    assert is_eligible(child(), full, ON)


def test_catalogue_names_are_unique_and_documented():
    names = [rule.name for rule in RULES]
    assert len(names) == len(set(names))
    for rule in RULES:
        assert rule.description.startswith(("Hard", "Soft")), rule.name
    assert {rule.kind for rule in RULES} == set(RuleKind)


@pytest.mark.parametrize("rule", [rule for rule in RULES if rule.kind is RuleKind.HARD], ids=lambda x: x.name)
def test_every_option_rule_passes_a_plain_eligible_option(rule):
    assert rule.check(child(), option(), ON) is None


# --- one example per rule, satisfied and broken, each broken case breaking that rule alone -------

def test_age_range_boundaries_are_inclusive():
    u = unit(ages=(4, 11))
    assert r.age_range(child(age=4), option(u=u), ON) is None  # lower boundary
    assert r.age_range(child(age=11), option(u=u), ON) is None  # upper boundary
    assert r.age_range(child(age=3), option(u=u), ON) == "age 3 is outside the unit's 4-11 range"
    assert r.age_range(child(age=12), option(u=u), ON) == "age 12 is outside the unit's 4-11 range"
    # the day before the 4th birthday the child is 3
    assert r.age_range(replace(child(age=4), birth_date=date(ON.year - 4, ON.month, ON.day + 1)), option(u=u), ON) \
        == "age 3 is outside the unit's 4-11 range"


def test_unit_sex_boys_only():
    boys = option(u=unit(sex=UnitSex.BOYS))
    assert r.unit_sex(child(sex=Sex.MALE), boys, ON) is None
    assert r.unit_sex(child(sex=Sex.FEMALE), boys, ON) == "the unit takes boys only"


def test_judge_max_travel_boundary_is_allowed():
    judge = JudgeConstraints(max_travel_minutes=60)
    assert r.judge_max_travel(child(judge=judge), option(minutes=60.0), ON) is None
    assert r.judge_max_travel(child(judge=judge), option(minutes=60.5), ON) is not None


BROKEN_ALONE = [
    ("age_range", child(age=3), option(u=unit(ages=(4, 11)))),
    ("unit_sex", child(sex=Sex.FEMALE), option(u=unit(sex=UnitSex.BOYS))),
    ("young_adult_units", child(age=18), option(u=unit(ages=(16, 17)))),
    ("mother_child_units", child(age=17, sex=Sex.FEMALE),
     option(structure(type=StructureType.CENTRE_MATERNEL), unit(ages=(16, 21), sex=UnitSex.GIRLS))),
    ("needs_met", child(needs=(Need.PSYCHIC_CARE,)), option(structure(capabilities=(Need.DISABILITY,)))),
    ("secret_places", child(), option(structure(secret=True, capabilities=(Need.PROTECTION,)))),
    ("judge_excluded_structure", child(judge=JudgeConstraints(excluded_structures=frozenset({"S-1"}))), option()),
    ("judge_excluded_departement", child(judge=JudgeConstraints(excluded_departements=frozenset({"75"}))), option()),
    ("judge_max_travel", child(judge=JudgeConstraints(max_travel_minutes=20)), option(minutes=21.0)),
    ("hotel_age", child(age=15), option(structure(type=StructureType.HOTEL), unit(ages=(12, 21)))),
]


@pytest.mark.parametrize("name,kid,opt", BROKEN_ALONE, ids=[c[0] for c in BROKEN_ALONE])
def test_each_rule_broken_alone(name, kid, opt):
    # a young adult outside the units for 18-21 is outside the unit's age range too: never alone
    also = ["age_range"] if name == "young_adult_units" else []
    assert [e.rule for e in exclusions(kid, opt, ON)] == also + [name]
    assert not is_eligible(kid, opt, ON)


def test_every_hard_rule_has_a_case_broken_alone():
    assert {c[0] for c in BROKEN_ALONE} == {rule.name for rule in RULES if rule.kind is RuleKind.HARD}


SATISFIED = [
    ("age_range", child(age=4), option(u=unit(ages=(4, 11)))),
    ("unit_sex", child(sex=Sex.MALE), option(u=unit(sex=UnitSex.BOYS))),
    ("young_adult_units", child(age=18), option(u=unit(ages=(16, 21)))),
    ("mother_child_units", child(age=17, sex=Sex.FEMALE, pregnant=True),
     option(structure(type=StructureType.CENTRE_MATERNEL), unit(ages=(16, 21), sex=UnitSex.GIRLS))),
    ("needs_met", child(needs=(Need.PSYCHIC_CARE,)), option(structure(capabilities=(Need.PSYCHIC_CARE,)))),
    ("secret_places", child(needs=(Need.PROTECTION,)), option(structure(secret=True, capabilities=(Need.PROTECTION,)))),
    ("judge_excluded_structure", child(judge=JudgeConstraints(excluded_structures=frozenset({"S-2"}))), option()),
    ("judge_excluded_departement", child(judge=JudgeConstraints(excluded_departements=frozenset({"93"}))), option()),
    ("judge_max_travel", child(judge=JudgeConstraints(max_travel_minutes=20)), option(minutes=20.0)),
]


@pytest.mark.parametrize("name,kid,opt", SATISFIED, ids=[c[0] for c in SATISFIED])
def test_each_rule_satisfied(name, kid, opt):
    assert exclusions(kid, opt, ON) == []
    assert is_eligible(kid, opt, ON)


def test_catalogue_entries_are_made_from_the_rule_functions():
    assert r._rule(r.age_range, "Age range", RuleKind.HARD) == r.OPTION_RULES[0]
    made = r._rule(r.free_place, "Free place", RuleKind.CAPACITY)
    assert (made.name, made.label, made.kind, made.check) == ("free_place", "Free place", RuleKind.CAPACITY, r.free_place)
    assert made.description == "Hard (capacity). The unit has at least one free place right now."
