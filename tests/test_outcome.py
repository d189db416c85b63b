"""The summary of an assignment: zones, minutes, fratries, unmet demand, cost."""

import numpy as np

from matcher import Need, SiblingGroup
from matcher.outcome import summarize
from matcher.travel import TravelMatrix
from tests.factories import NEVERS, SAINT_DENIS, child, structure, system, unit


def _fixture():
    kids = [
        child("A", age=6, sibling_group_id="F-1"),
        child("B", age=9, sibling_group_id="F-1"),
        child("C", age=2),
        child("D", age=14, needs=(Need.DISABILITY,)),
        child("E", age=5, sibling_group_id="F-2"),
        child("F", age=7, sibling_group_id="F-2"),
    ]
    structures = [structure("S-P", daily_price_eur=200), structure("S-I", location=SAINT_DENIS, daily_price_eur=150),
                  structure("S-X", location=NEVERS, daily_price_eur=100)]
    units = [unit("U-P", "S-P"), unit("U-I", "S-I"), unit("U-X", "S-X")]
    groups = [SiblingGroup("F-1", ("A", "B")), SiblingGroup("F-2", ("E", "F"))]
    s = system(kids, structures, units, groups)
    travel = TravelMatrix.from_homes(("H-1",), ("S-P", "S-I", "S-X"), np.array([[20, 40, np.nan]], dtype=np.float32))
    return s, travel


def test_summary_counts_zones_minutes_siblings_and_unmet_demand():
    s, travel = _fixture()
    out = summarize(s, {"A": "U-P", "B": "U-P", "C": None, "D": None, "E": "U-I", "F": "U-X"}, travel)
    assert (out.children, out.placed, out.unplaced) == (6, 4, 2)
    assert out.placed_by_zone == {"paris": 2, "ile_de_france": 1, "province": 1}
    assert out.share_by_zone["paris"] == 0.5
    assert out.travel.median_minutes == 20.0 and out.travel.unreachable == 1
    assert (out.siblings.groups, out.siblings.kept_together, out.siblings.split) == (2, 1, 1)
    assert out.unplaced_by_age_band["0-3"] == 1 and out.unplaced_by_age_band["12-15"] == 1
    assert out.unplaced_by_need == {"disability": 1, "none": 1}
    assert out.daily_cost_eur == 650.0
    assert out.to_dict()["siblings"]["split"] == 1


def test_summary_of_nobody():
    s, travel = _fixture()
    out = summarize(s, {}, travel)
    assert out.placed == 0 and out.travel.median_minutes is None and out.share_by_zone["paris"] == 0.0


def test_a_fratrie_with_no_child_placed_is_counted_apart_from_one_partly_placed():
    from matcher import SiblingGroup
    from matcher.outcome import summarize
    from tests.factories import child, structure, system, unit

    kids = [child("A", 8, sibling_group_id="F-1"), child("B", 9, sibling_group_id="F-1"),
            child("C", 8, sibling_group_id="F-2"), child("D", 9, sibling_group_id="F-2")]
    s = system(kids, [structure("S-1")], [unit("U-1", "S-1", capacity=3)],
               [SiblingGroup("F-1", ("A", "B")), SiblingGroup("F-2", ("C", "D"))])
    sib = summarize(s, {"A": "U-1", "B": None, "C": None, "D": None}).siblings
    assert (sib.groups, sib.not_all_placed, sib.none_placed, sib.kept_together) == (2, 1, 1, 0)
