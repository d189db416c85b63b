"""Group rules: siblings together and the judge's separation orders."""

from matcher import JudgeConstraints, SiblingGroup
from matcher.rules import judge_separation, siblings_together
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
