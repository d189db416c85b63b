"""Synthetic population: calibration on Paris's 2014 figures, determinism, scale, scenarios.

Each calibration figure is asserted within the tolerance written next to it. Shares of
settings are over the children placed today (waiting children have no setting).
"""

import re
from collections import Counter

import pytest

from data.geography import arrondissements
from data.generator import ARRONDISSEMENT_POVERTY_WEIGHT, ESTABLISHMENTS, SCENARIOS, Scenario, generate, generate_scenario
from matcher import DomainError, Need, Operator, StructureType, Urgency, Zone
from matcher.rules import OPTION_RULES, Option


@pytest.fixture(scope="module")
def paris():
    return generate(1.0, seed=1)


def share(part, whole):
    return part / whole


def places(system, structures):
    return sum(u.capacity for s in structures for u in system.units_by_structure[s.id])


def test_children_count_young_adults_and_unaccompanied_minors(paris):
    n = len(paris.children)
    assert n == 5106  # exact
    young_adults = sum(paris.age_of(c) >= 18 for c in paris.children)
    assert share(young_adults, n) == pytest.approx(0.27, abs=0.01)  # 27% +- 1 point
    mna = [c for c in paris.children if Need.UNACCOMPANIED_MINOR in c.needs]
    assert share(len(mna), n) == pytest.approx(0.31, abs=0.01)  # 31% +- 1 point
    boys_15_17 = sum(c.sex.value == "M" and 15 <= paris.age_of(c) <= 17 for c in mna)
    assert boys_15_17 / len(mna) > 0.5  # mostly boys aged 15-17
    assert any(paris.age_of(c) >= 18 for c in mna)  # some young adults too


def test_settings_establishments_foster_families_others(paris):
    placed = [c for c in paris.children if c.current is not None]
    kinds = Counter()
    for c in placed:
        t = paris.structure_of(paris.unit_by_id[c.current.unit_id]).type
        kinds["est" if t in ESTABLISHMENTS else "foster" if t is StructureType.ASSISTANT_FAMILIAL else "other"] += 1
    assert share(kinds["est"], len(placed)) == pytest.approx(0.49, abs=0.03)  # 49% +- 3 points
    assert share(kinds["foster"], len(placed)) == pytest.approx(0.34, abs=0.03)  # 34% +- 3 points
    assert share(kinds["other"], len(placed)) == pytest.approx(0.17, abs=0.03)  # 17% +- 3 points


def test_sibling_groups(paris):
    groups = paris.sibling_groups
    assert len(groups) == 299  # exact
    assert sum(len(g.child_ids) for g in groups) == 602  # exact
    assert Counter(len(g.child_ids) for g in groups)[2] >= 280  # mostly pairs
    assert all(2 <= len(g.child_ids) <= 4 for g in groups)
    for g in groups:
        assert len({paris.child_by_id[c].home.id for c in g.child_ids}) == 1  # siblings share a home
    separable = sum(not g.together for g in groups)
    assert share(separable, len(groups)) == pytest.approx(0.10, abs=0.04)  # 10% +- 4 points


def test_separation_orders_name_a_sibling_placed_elsewhere(paris):
    ordered = [c for c in paris.children if c.judge.separated_from]
    assert 5 <= len(ordered) <= 60
    for c in ordered:
        group = paris.sibling_group_by_id[c.sibling_group_id]
        assert not group.together
        for other_id in c.judge.separated_from:
            assert other_id in group.child_ids
            other = paris.child_by_id[other_id]
            if c.current and other.current:
                mine = paris.unit_by_id[c.current.unit_id].structure_id
                assert paris.unit_by_id[other.current.unit_id].structure_id != mine


def test_establishment_places_departmental_and_associative(paris):
    departmental = [s for s in paris.structures if s.operator is Operator.DEPARTMENTAL and s.type in ESTABLISHMENTS]
    assert len(departmental) == 14  # exact
    assert places(paris, departmental) == 990  # exact
    associative = [s for s in paris.structures if s.operator is Operator.ASSOCIATIVE and s.type in ESTABLISHMENTS]
    assert places(paris, associative) == 2082  # exact
    foster = [s for s in paris.structures if s.type is StructureType.ASSISTANT_FAMILIAL]
    assert all(len(paris.units_by_structure[s.id]) == 1 for s in foster)
    assert all(1 <= places(paris, [s]) <= 3 for s in foster)


def test_places_by_zone(paris):
    total = places(paris, paris.structures)
    by_zone = Counter()
    for s in paris.structures:
        by_zone[s.zone] += places(paris, [s])
    assert share(by_zone[Zone.PARIS], total) == pytest.approx(0.41, abs=0.02)  # 41% +- 2 points
    assert share(by_zone[Zone.ILE_DE_FRANCE], total) == pytest.approx(0.21, abs=0.02)  # 21% +- 2 points
    assert share(by_zone[Zone.PROVINCE], total) == pytest.approx(0.38, abs=0.02)  # 38% +- 2 points
    foster = [s for s in paris.structures if s.type is StructureType.ASSISTANT_FAMILIAL]
    assert share(sum(s.zone is Zone.PROVINCE for s in foster), len(foster)) > 0.7  # mostly provinces


def test_family_homes_weighted_toward_the_18th_19th_20th(paris):
    homes = paris.homes
    in_paris = [h for h in homes if h.location.departement == "75"]
    assert share(len(in_paris), len(homes)) == pytest.approx(0.85, abs=0.03)  # 85% +- 3 points
    north_east = {"75118", "75119", "75120"}
    arr = arrondissements()
    weight = arr["population"] * arr["code"].map(ARRONDISSEMENT_POVERTY_WEIGHT)
    expected = weight[arr["code"].isin(north_east)].sum() / weight.sum()  # about 42%
    population = arr["population"][arr["code"].isin(north_east)].sum() / arr["population"].sum()  # 27%
    got = share(sum(h.location.commune in north_east for h in in_paris), len(in_paris))
    assert got == pytest.approx(expected, abs=0.03)  # the stated weights +- 3 points
    assert got > population + 0.1
    assert len({h.location.commune for h in in_paris}) == 20


def test_occupancy_waiting_and_unmet_demand(paris):
    n = len(paris.children)
    waiting = paris.waiting_children()
    assert 0.06 <= share(len(waiting), n) <= 0.08  # 6-8% waiting
    assert any(c.urgency is Urgency.URGENT for c in waiting)
    assert all((paris.reference_date - c.waiting_since).days <= 60 for c in waiting)
    capacity = sum(u.capacity for u in paris.units)
    occupied = sum(u.occupied for u in paris.units)
    assert 0.93 <= occupied / capacity <= 0.97  # occupancy 93-97%
    free = capacity - occupied
    assert 0.5 * len(waiting) < free < 1.2 * len(waiting)  # most but not all can be placed
    infant_free = sum(u.free for u in paris.units if u.age_min <= 3 and u.age_max <= 6)
    infants_waiting = sum(paris.age_of(c) <= 3 for c in waiting)
    assert infant_free < infants_waiting  # unmet demand shows for 0-3


def test_current_placements_pass_every_hard_rule_but_travel(paris):
    for c in paris.children:
        if c.current is None:
            continue
        unit = paris.unit_by_id[c.current.unit_id]
        option = Option(paris.structure_of(unit), unit, 0.0)
        broken = [r.name for r in OPTION_RULES if r.check(c, option, paris.reference_date) is not None]
        assert broken == [], (c.id, broken)
        assert c.current.since >= c.birth_date


def test_needs_judges_prices_and_ids(paris):
    n = len(paris.children)
    count = Counter(need for c in paris.children for need in c.needs)
    assert 0.05 <= count[Need.DISABILITY] / n <= 0.08
    assert 0.08 <= count[Need.PSYCHIC_CARE] / n <= 0.10
    assert 0.005 <= count[Need.PROTECTION] / n <= 0.015
    assert 20 <= count[Need.MOTHER_CHILD] <= 80
    assert 0.02 <= sum(not c.judge.is_empty for c in paris.children) / n <= 0.06
    assert any(c.judge.max_travel_minutes in (60.0, 90.0, 120.0) for c in paris.children)
    assert all(s.secret == (Need.PROTECTION in s.capabilities) for s in paris.structures)
    assert 1 <= sum(s.secret for s in paris.structures) <= 6
    price = {t: [s.daily_price_eur for s in paris.structures if s.type is t] for t in StructureType}
    mean = {t: sum(v) / len(v) for t, v in price.items()}
    assert 200 <= mean[StructureType.MECS] <= 250
    assert mean[StructureType.POUPONNIERE] >= 300
    assert 100 <= mean[StructureType.ASSISTANT_FAMILIAL] <= 130
    assert all(re.fullmatch(r"E-\d{6}", c.id) for c in paris.children)
    for s in paris.structures:
        if s.type is not StructureType.ASSISTANT_FAMILIAL:
            assert re.fullmatch(r"\d[0-9AB]\d{7}", s.id) and s.id[:2] == s.location.departement


def test_same_seed_same_system_and_another_seed_another():
    assert generate_scenario("small", seed=5) == generate_scenario("small", seed=5)
    assert generate_scenario("small", seed=5) != generate_scenario("small", seed=6)


def test_twice_the_scale_gives_about_twice_the_counts():
    small = generate(0.1, seed=2)
    double = generate(0.2, seed=2)
    assert abs(len(double.children) - 2 * len(small.children)) <= 1  # 511 -> 1021 (rounding of 5106 x scale)
    assert len(double.sibling_groups) == 2 * len(small.sibling_groups)
    ratio = sum(u.capacity for u in double.units) / sum(u.capacity for u in small.units)
    assert 1.7 <= ratio <= 2.3


def test_ids_stay_unique_at_larger_scale():
    big = generate(3.0, seed=1)  # 15,318 children
    assert len({c.id for c in big.children}) == len(big.children) == 15318


def test_progress_is_reported_up_to_done():
    seen = []
    generate(0.05, seed=1, progress=lambda stage, fraction: seen.append((stage, fraction)))
    fractions = [f for _, f in seen]
    assert fractions == sorted(fractions) and seen[-1] == ("done", 1.0)


def test_scenarios_are_checked_on_construction():
    assert set(SCENARIOS) == {"small", "paris", "paris-10x"}
    assert SCENARIOS["paris-10x"].scale == 10.0
    with pytest.raises(DomainError, match="scale 0"):
        Scenario("bad", 0.0, "")
    with pytest.raises(DomainError, match="unknown scenario 'nope'"):
        generate_scenario("nope")
    with pytest.raises(DomainError, match="seed"):
        generate(1.0, seed=-1)


def test_age_bands_of_minors_not_unaccompanied(paris):
    """Band shares of the minors who are not unaccompanied: 0-3 11%, 4-11 33%, 12-15 31%,
    16-17 25% (each +- 3 points). Regression (issue 11): with the infants' and older teens'
    shares swapped no generator test failed."""
    from matcher import AgeBand

    minors = [c for c in paris.children if Need.UNACCOMPANIED_MINOR not in c.needs and paris.age_of(c) < 18]
    bands = Counter(c.age_band_on(paris.reference_date) for c in minors)
    assert share(bands[AgeBand.INFANT], len(minors)) == pytest.approx(0.11, abs=0.03)
    assert share(bands[AgeBand.CHILD], len(minors)) == pytest.approx(0.33, abs=0.03)
    assert share(bands[AgeBand.YOUNG_TEEN], len(minors)) == pytest.approx(0.31, abs=0.03)
    assert share(bands[AgeBand.OLDER_TEEN], len(minors)) == pytest.approx(0.25, abs=0.03)
