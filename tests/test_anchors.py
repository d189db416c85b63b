"""Children as they are: no family home, anchors, school continuity, visit sites, hotels, other
départements. For each rule a satisfied and a broken case on tiny named fixtures."""

from datetime import date

import numpy as np
import pytest

from matcher import (
    AnchorKind,
    Child,
    DomainError,
    Home,
    HomeAbsence,
    JudgeConstraints,
    Need,
    Operator,
    School,
    Service,
    Sex,
    StructureType,
    VisitSite,
    Weights,
    exclusions,
    score_option,
)
from matcher.model import SERVICE_LOCATIONS, Location, service_place
from matcher.outcome import summarize
from matcher.rules import Option, hotel_age, judge_max_travel
from matcher.scoring import in_school_year, school_continuity, school_continuity_applies
from matcher.travel import TravelMatrix
from solver.problem import Problem
from tests.factories import NEVERS, ON, PARIS_15, PARIS_18, SAINT_DENIS, child, option, structure, system, unit

W = Weights.default()
SCHOOL = School("SCH-1", Location(48.8900, 2.3500, "75118", "75"))
VISITS = VisitSite("VS-1", Location(48.8700, 2.3700, "75110", "75"))


def test_a_child_without_a_family_home_needs_a_reason():
    with pytest.raises(DomainError, match="no family home and no reason"):
        Child("C-1", date(2015, 1, 1), Sex.MALE, None, date(2026, 11, 1))
    with pytest.raises(DomainError, match="has a family home and a reason"):
        child(home=Home("H-9", PARIS_18), home_absence=HomeAbsence.UNKNOWN)
    assert child(home_absence=HomeAbsence.ABROAD).home is None


def test_anchor_is_the_family_home_when_there_is_one():
    c = child(school=SCHOOL)
    assert c.anchor.kind is AnchorKind.FAMILY_HOME and c.anchor.id == "H-1"


def test_anchor_without_home_is_the_school_then_the_service():
    schooled = child(home_absence=HomeAbsence.UNKNOWN, school=SCHOOL)
    assert schooled.anchor.kind is AnchorKind.SCHOOL and schooled.anchor.id == "SCH-1"
    mna = child(age=16, home_absence=HomeAbsence.ABROAD, needs=(Need.UNACCOMPANIED_MINOR,))
    assert mna.service is Service.UNACCOMPANIED_MINORS
    assert mna.anchor.kind is AnchorKind.SERVICE
    assert mna.anchor.place == service_place(Service.UNACCOMPANIED_MINORS)
    assert mna.anchor.location == SERVICE_LOCATIONS[Service.UNACCOMPANIED_MINORS]
    assert mna.anchor.location.departement == "75"


def test_anchor_is_the_visit_site_only_under_supervised_visits():
    ordered = child(visit_site=VISITS, judge=JudgeConstraints(supervised_visits=True))
    assert ordered.anchor.kind is AnchorKind.VISIT_SITE and ordered.anchor.id == "VS-1"
    not_ordered = child(visit_site=VISITS)
    assert not_ordered.anchor.kind is AnchorKind.FAMILY_HOME


def _matrix(sys, minutes: dict[tuple[str, str], float]) -> TravelMatrix:
    origins = tuple(p.id for p in sys.origins)
    sids = tuple(s.id for s in sys.structures)
    m = np.full((len(origins), len(sids)), np.nan, dtype=np.float32)
    for (o, s), v in minutes.items():
        m[origins.index(o), sids.index(s)] = v
    return TravelMatrix.from_homes(origins, sids, m)


def test_missing_home_is_never_zero_minutes():
    """A child with no home and no school is measured from the service: unreachable from there
    counts as the long trip, never as zero."""
    mna = child("C-9", age=16, home_absence=HomeAbsence.ABROAD, needs=(Need.UNACCOMPANIED_MINOR,))
    s = structure(capabilities=(Need.UNACCOMPANIED_MINOR,))
    sys = system([mna], [s], [unit(ages=(13, 17))])
    assert [p.id for p in sys.origins] == ["SVC-unaccompanied-minors"]
    travel = _matrix(sys, {})
    opt = Option.of(mna, s, sys.units[0], travel)
    assert opt.travel_minutes is None
    assert score_option(mna, opt, W, ON).component("transit_time").quantity == W.unreachable_minutes
    travel = _matrix(sys, {("SVC-unaccompanied-minors", "S-1"): 22.0})
    assert Option.of(mna, s, sys.units[0], travel).travel_minutes == 22.0


def test_judge_max_travel_says_which_anchor():
    c = child(home_absence=HomeAbsence.NONE, school=SCHOOL, judge=JudgeConstraints(max_travel_minutes=30))
    assert judge_max_travel(c, option(minutes=20.0), ON) is None
    reason = judge_max_travel(c, option(minutes=50.0), ON)
    assert reason is not None and "from the school or training place" in reason


def test_school_continuity_costs_minutes_to_the_school():
    c = child(age=10, school=SCHOOL)
    near = school_continuity(c, option(school_minutes=10.0), W, ON)
    far = school_continuity(c, option(school_minutes=70.0), W, ON)
    assert near.quantity == 10.0 and near.cost == 10.0 * W.school_minute
    assert far.cost == 70.0 * W.school_minute > near.cost
    unreachable = school_continuity(c, option(school_minutes=None), W, ON)
    assert unreachable.quantity == W.unreachable_minutes


def test_school_continuity_only_for_school_age_in_the_school_year():
    assert school_continuity_applies(child(age=10, school=SCHOOL), ON)
    assert not school_continuity_applies(child(age=10), ON)  # no school known
    assert not school_continuity_applies(child(age=19, school=SCHOOL), ON)  # a young adult
    assert not school_continuity_applies(child(age=2, school=SCHOOL), ON)  # before school age
    summer = date(2026, 8, 10)
    assert not in_school_year(summer) and in_school_year(ON)
    assert not school_continuity_applies(child(age=10, school=SCHOOL, waiting_since=date(2026, 8, 1)), summer)
    # the school is already the anchor: not counted twice
    assert not school_continuity_applies(child(age=10, school=SCHOOL, home_absence=HomeAbsence.UNKNOWN), ON)
    assert school_continuity(child(age=10), option(school_minutes=90.0), W, ON).cost == 0.0


def test_hotel_only_for_16_to_21():
    hotel = structure("HOT-1", type=StructureType.HOTEL, daily_price_eur=70.0)
    room = unit("HOT-1-U1", "HOT-1", ages=(16, 21))
    ok = Option(hotel, room, 20.0)
    assert hotel_age(child(age=17), ok, ON) is None
    assert hotel_age(child(age=20), ok, ON) is None
    young = unit("HOT-1-U2", "HOT-1", ages=(4, 21))
    reason = hotel_age(child(age=14), Option(hotel, young, 20.0), ON)
    assert reason is not None and "16-21" in reason
    assert [e.rule for e in exclusions(child(age=14), Option(hotel, young, 20.0), ON)] == ["hotel_age"]


def test_hotel_stay_is_penalised_high():
    hotel = structure("HOT-1", type=StructureType.HOTEL, daily_price_eur=70.0)
    room = unit("HOT-1-U1", "HOT-1", ages=(16, 21))
    in_hotel = score_option(child(age=17), Option(hotel, room, 20.0), W, ON)
    in_mecs = score_option(child(age=17), option(u=unit(ages=(16, 17)), minutes=20.0), W, ON)
    assert in_hotel.component("hotel_stay").cost == W.hotel
    assert in_mecs.component("hotel_stay").cost == 0.0
    assert in_hotel.total > in_mecs.total + W.hotel / 2


def test_other_departement_operator_never_in_paris():
    s = structure("78-1", operator=Operator.OTHER_DEPARTEMENT, location=SAINT_DENIS)
    assert s.operator is Operator.OTHER_DEPARTEMENT
    with pytest.raises(DomainError, match="another département cannot be in Paris"):
        structure("75-1", operator=Operator.OTHER_DEPARTEMENT, location=PARIS_15)


def test_one_id_for_two_places_is_refused():
    a = child("C-1", school=School("P-1", PARIS_15))
    b = child("C-2", home=Home("P-1", PARIS_18))
    with pytest.raises(DomainError, match="'P-1' is also"):
        system([a, b], [structure()], [unit()])


def test_solver_costs_hotel_and_school_like_score_option():
    """The vectorised costs of the solver equal score_option with the hotel and school terms,
    and a 14-year-old never gets a hotel arc."""
    kid = child("C-1", age=14, school=SCHOOL)
    young = child("C-2", age=17, home_absence=HomeAbsence.ABROAD, needs=(Need.UNACCOMPANIED_MINOR,))
    hotel = structure("HOT-1", type=StructureType.HOTEL, location=PARIS_15, capabilities=(Need.UNACCOMPANIED_MINOR,))
    far = structure("S-2", location=NEVERS, capabilities=(Need.UNACCOMPANIED_MINOR,))
    units = [unit("HOT-1-U1", "HOT-1", ages=(13, 21)), unit("S-2-U1", "S-2", ages=(13, 17))]
    sys = system([kid, young], [hotel, far], units)
    travel = _matrix(sys, {("H-1", "HOT-1"): 15.0, ("H-1", "S-2"): 150.0, ("SCH-1", "HOT-1"): 12.0,
                           ("SCH-1", "S-2"): 160.0, ("SVC-unaccompanied-minors", "HOT-1"): 25.0})
    problem = Problem.build(sys, travel, W, "waiting")
    for i, c in enumerate(problem.children):
        arcs = problem.arcs_of(i)
        for j, cost in zip(arcs.unit, arcs.cost):
            u = problem.units[j]
            expected = score_option(c, Option.of(c, sys.structure_by_id[u.structure_id], u, travel), W, ON).total
            assert cost == pytest.approx(expected)
    kid_units = {problem.units[j].id for j in problem.arcs_of(0).unit}
    assert kid_units == {"S-2-U1"}  # hotel_age
    assert problem.cost_of(0, 1) >= 150.0 + 160.0 * W.school_minute


def test_summary_counts_hotels_school_changes_and_anchors():
    kid = child("C-1", age=10, school=SCHOOL)
    young = child("C-2", age=17, home_absence=HomeAbsence.ABROAD, needs=(Need.UNACCOMPANIED_MINOR,))
    hotel = structure("HOT-1", type=StructureType.HOTEL, capabilities=(Need.UNACCOMPANIED_MINOR,))
    far = structure("S-2", location=NEVERS)
    sys = system([kid, young], [hotel, far], [unit("HOT-1-U1", "HOT-1", ages=(16, 21)), unit("S-2-U1", "S-2")])
    travel = _matrix(sys, {("H-1", "S-2"): 150.0, ("SCH-1", "S-2"): 160.0, ("SVC-unaccompanied-minors", "HOT-1"): 25.0})
    summary = summarize(sys, {"C-1": "S-2-U1", "C-2": "HOT-1-U1"}, travel)
    assert summary.in_hotel == 1
    assert summary.school_changes == 1
    assert summary.anchor_used == {"family_home": 1, "service": 1}
    kept = summarize(sys, {"C-1": None, "C-2": "HOT-1-U1"}, travel)
    assert kept.school_changes == 0 and kept.in_hotel == 1


def test_proposals_rank_by_the_anchor_and_say_which():
    """A child with no home is proposed the place nearest their school, and the proposal says
    the minutes are from the school; one with a home, from the home."""
    from matcher.proposals import propose

    schooled = child("C-1", age=10, home_absence=HomeAbsence.UNKNOWN, school=SCHOOL)
    near_school = structure("S-A", location=PARIS_18)
    far_school = structure("S-B", location=SAINT_DENIS)
    sys = system([schooled], [near_school, far_school], [unit("U-A", "S-A"), unit("U-B", "S-B")])
    travel = _matrix(sys, {("SCH-1", "S-A"): 12.0, ("SCH-1", "S-B"): 55.0})
    props = propose(sys, ["C-1"], travel, W)
    assert [p.structure_id for p in props] == ["S-A", "S-B"]
    assert props[0].placements[0].anchor == "school" and props[0].placements[0].travel_minutes == 12.0
    home = child("C-2", age=10, school=SCHOOL)
    sys2 = system([home], [near_school, far_school], [unit("U-A", "S-A"), unit("U-B", "S-B")])
    travel2 = _matrix(sys2, {("H-1", "S-A"): 50.0, ("H-1", "S-B"): 10.0, ("SCH-1", "S-A"): 12.0, ("SCH-1", "S-B"): 55.0})
    best = propose(sys2, ["C-2"], travel2, W)[0]
    assert best.placements[0].anchor == "family_home"
    school = next(c for c in best.components if c.name == "school_continuity")
    assert school.quantity in (12.0, 55.0)  # the school term is there, beside the home's minutes
