"""Group rules: siblings together and the judge's separation orders."""

from matcher import JudgeConstraints, SiblingGroup
from matcher.rules import judge_separation, siblings_together, unit_takes_siblings
from tests.factories import child


def test_siblings_together_satisfied_in_one_structure_or_partly_unplaced():
    group = SiblingGroup("F-1", ("A", "B", "C"))
    assert siblings_together(group, {"A": "S-1", "B": "S-1", "C": "S-1"}) is None
    assert siblings_together(group, {"A": "S-1", "B": "S-1", "C": None}) is None


def test_siblings_together_violated_counts_structures():
    group = SiblingGroup("F-1", ("A", "B", "C"))
    assert siblings_together(group, {"A": "S-1", "B": "S-2", "C": "S-3"}) == (
        "sibling group F-1 is split over 3 structures"
    )


def test_siblings_together_allowed_split_for_separable_group():
    group = SiblingGroup("F-1", ("A", "B"), together=False)
    assert siblings_together(group, {"A": "S-1", "B": "S-2"}) is None


def test_judge_separation_satisfied():
    a = child("A", judge=JudgeConstraints(separated_from=frozenset({"B"})))
    assert judge_separation(a, {"A": "S-1", "B": "S-2"}) is None
    assert judge_separation(a, {"A": None, "B": "S-2"}) is None


def test_judge_separation_violated():
    a = child("A", judge=JudgeConstraints(separated_from=frozenset({"B"})))
    assert judge_separation(a, {"A": "S-1", "B": "S-1"}) == (
        "child A placed with B against the judge's separation order"
    )


def test_unit_takes_siblings_satisfied():
    from tests.factories import unit

    units = {"U-closed": unit("U-closed", takes_siblings=False), "U-open": unit("U-open")}
    group = SiblingGroup("F-1", ("A", "B", "C"))
    assert unit_takes_siblings(group, {"A": "U-closed", "B": "U-open", "C": "U-open"}, units) is None
    assert unit_takes_siblings(group, {"A": "U-closed", "B": None, "C": None}, units) is None


def test_unit_takes_siblings_violated_even_for_a_separable_group():
    from tests.factories import unit

    units = {"U-closed": unit("U-closed", takes_siblings=False)}
    for together in (True, False):
        group = SiblingGroup("F-1", ("A", "B", "C"), together)
        assert unit_takes_siblings(group, {"A": "U-closed", "B": "U-closed", "C": "U-closed"}, units) == (
            "sibling group F-1 in a unit that does not take siblings (U-closed holds 3 of its children)"
        )


def test_judge_separation_names_every_clash():
    a = child("A", judge=JudgeConstraints(separated_from=frozenset({"B", "C"})))
    assert judge_separation(a, {"A": "S-1", "B": "S-1", "C": "S-1"}) == (
        "child A placed with B, C against the judge's separation order"
    )


def test_unit_takes_siblings_names_every_crowded_unit():
    from tests.factories import unit

    units = {"U-1": unit("U-1", takes_siblings=False), "U-2": unit("U-2", takes_siblings=False)}
    group = SiblingGroup("F-1", ("A", "B", "C", "D"))
    assert unit_takes_siblings(group, {"A": "U-1", "B": "U-1", "C": "U-2", "D": "U-2"}, units) == (
        "sibling group F-1 in a unit that does not take siblings (U-1 holds 2, U-2 holds 2 of its children)"
    )


def test_a_violation_reads_rule_children_and_reason():
    from matcher.rules import Violation

    assert str(Violation("free_place", ("C-1", "C-2"), "unit U-1 holds 2 children for 1 place(s)", "U-1")) == (
        "free_place (children C-1, C-2): unit U-1 holds 2 children for 1 place(s)"
    )
    assert str(Violation("age_range", ("C-1",), "age 3")) == "age_range (child C-1): age 3"
