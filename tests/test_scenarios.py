"""Scenario files: each change applied on a tiny system, and every error named by file, line and key."""

from __future__ import annotations

from datetime import date

import pytest

from matcher import CurrentPlacement, Need, Sex, SiblingGroup, StructureType, UnitSex, Weights
from matcher.model import Home
from planning.scenarios import (
    ScenarioError,
    apply_scenario,
    example_paths,
    load_scenario,
    new_structures,
    parse_scenario,
)
from tests.factories import NEVERS, PARIS_15, PARIS_18, SAINT_DENIS, child, structure, system, unit

H1, H2 = Home("H-1", PARIS_18), Home("H-2", PARIS_15)


def tiny():
    """Two MECS (Paris, Nevers), a foster carer in Nevers, a pouponnière in Paris; four children
    placed, three waiting (one with a disability), a fratrie of two placed in Nevers."""
    structures = [
        structure("S-par", StructureType.MECS, PARIS_15),
        structure("S-nev", StructureType.MECS, NEVERS, daily_price_eur=150.0),
        structure("S-af", StructureType.ASSISTANT_FAMILIAL, NEVERS, daily_price_eur=115.0),
        structure("S-pou", StructureType.POUPONNIERE, PARIS_15, daily_price_eur=330.0),
        structure("S-sd", StructureType.MECS, SAINT_DENIS, (Need.DISABILITY,)),
    ]
    units = [
        unit("U-par", "S-par", (12, 15), capacity=4, occupied=3, takes_siblings=False),
        unit("U-nev", "S-nev", (12, 15), capacity=6, occupied=4),
        unit("U-af", "S-af", (4, 15), capacity=2, occupied=1),
        unit("U-pou", "S-pou", (0, 3), capacity=3, occupied=1),
        unit("U-sd", "S-sd", (4, 15), capacity=2, occupied=0, takes_siblings=False),
    ]
    since = date(2026, 1, 1)
    children = [
        child("C-p1", 13, home=H1, current=CurrentPlacement("U-par", since)),
        child("C-n1", 14, home=H1, current=CurrentPlacement("U-nev", since), sibling_group_id="F-1"),
        child("C-n2", 12, Sex.FEMALE, home=H1, current=CurrentPlacement("U-nev", since), sibling_group_id="F-1"),
        child("C-af", 8, home=H2, current=CurrentPlacement("U-af", since)),
        child("C-w1", 13, home=H2),
        child("C-w2", 1, home=H1),
        child("C-w3", 9, home=H2, needs=(Need.DISABILITY,)),
    ]
    return system(children, structures, units, [SiblingGroup("F-1", ("C-n1", "C-n2"))])


def scenario(changes: str, extra: str = "") -> str:
    return f"name: test\ndescription: a test scenario\nseed: 3\n{extra}changes:\n{changes}"


def places(sys, structure_id=None):
    return sum(u.capacity for u in sys.units if structure_id is None or u.structure_id == structure_id)


# --- each change --------------------------------------------------------------------------------


def test_open_places_in_an_arrondissement_adds_a_structure_there():
    base = tiny()
    sc = parse_scenario(scenario("  - open: {places: 5, type: mecs, zone: {arrondissement: 19}, ages: [12, 15],"
                                 " sex: girls, fratries: false}\n"))
    out = apply_scenario(base, sc)
    [added] = new_structures(base, out)
    assert added.location.commune == "75119" and added.type is StructureType.MECS
    [u] = out.units_by_structure[added.id]
    assert (u.capacity, u.occupied, u.age_min, u.age_max, u.sex, u.takes_siblings) == (5, 0, 12, 15, UnitSex.GIRLS, False)
    assert added.daily_price_eur == 225.0
    assert places(base) + 5 == places(out)
    assert base.structure_by_id.get(added.id) is None  # the base is not changed


def test_open_places_in_a_named_structure_adds_a_unit_to_it():
    base = tiny()
    out = apply_scenario(base, parse_scenario(scenario("  - open: {places: 3, type: mecs, zone: {structure: S-par}, ages: [4, 11]}\n")))
    assert not new_structures(base, out)
    assert places(out, "S-par") == places(base, "S-par") + 3


def test_open_places_in_a_departement_and_a_province_commune():
    base = tiny()
    out = apply_scenario(base, parse_scenario(scenario(
        "  - open: {places: 2, type: mecs, zone: {departement: 93}, ages: [4, 11]}\n"
        "  - open: {places: 2, type: mecs, zone: {commune: '58194'}, ages: [4, 11]}\n")))
    deps = sorted(s.location.departement for s in new_structures(base, out))
    assert deps == ["58", "93"]


def test_close_takes_free_places_first_then_displaces_children_of_the_dataset():
    base = tiny()
    out = apply_scenario(base, parse_scenario(scenario("  - close: {places: 2, zone: {area: province}, type: mecs}\n")))
    assert out.unit_by_id["U-nev"].capacity == 4 and out.unit_by_id["U-nev"].occupied == 4
    assert len(out.waiting_children()) == len(base.waiting_children())
    out = apply_scenario(base, parse_scenario(scenario("  - close: {places: 4, zone: {departement: '58'}, type: mecs}\n")))
    assert out.unit_by_id["U-nev"].capacity == 2
    displaced = {c.id for c in out.waiting_children()} - {c.id for c in base.waiting_children()}
    assert len(displaced) == 2 and displaced <= {"C-n1", "C-n2"}
    assert out.unit_by_id["U-nev"].occupied == 2


def test_close_more_places_than_match_is_an_error_naming_the_line():
    base = tiny()
    text = scenario("  - open: {places: 1, type: mecs, zone: {arrondissement: 75101}, ages: [4, 11]}\n"
                    "  - close: {places: 99, zone: {area: paris}}\n")
    with pytest.raises(ScenarioError) as err:
        apply_scenario(base, parse_scenario(text, "s.yaml"))
    [issue] = err.value.issues
    assert (issue.file, issue.line, issue.key) == ("s.yaml", 6, "changes[1].close")
    assert "only 8 places match, cannot close 99" in issue.message


def test_convert_places_to_fratrie_places_in_the_same_structure():
    base = tiny()
    out = apply_scenario(base, parse_scenario(scenario(
        "  - convert: {places: 2, from: {structure_type_is_not_a_key: 1}, to: {fratries: true}}\n")
        .replace("structure_type_is_not_a_key: 1", "zone: {structure: S-par}")))
    assert out.unit_by_id["U-par"].capacity == 2
    [new] = [u for u in out.units if u.structure_id == "S-par" and u.id != "U-par"]
    assert new.capacity == 2 and new.takes_siblings and (new.age_min, new.age_max) == (12, 15)
    assert places(out) == places(base)
    assert not new_structures(base, out)


def test_convert_places_to_another_type_makes_a_structure_at_the_same_address():
    base = tiny()
    out = apply_scenario(base, parse_scenario(scenario(
        "  - convert: {places: 2, from: {zone: {structure: S-nev}}, to: {type: semi_autonomie, ages: [16, 21]}}\n")))
    [added] = new_structures(base, out)
    assert added.type is StructureType.SEMI_AUTONOMIE and added.location == base.structure_by_id["S-nev"].location
    assert places(out, added.id) == 2


def test_fratries_marks_units_as_taking_siblings():
    base = tiny()
    out = apply_scenario(base, parse_scenario(scenario("  - fratries: {zone: {area: paris}}\n")))
    assert out.unit_by_id["U-par"].takes_siblings
    assert not out.unit_by_id["U-sd"].takes_siblings  # Saint-Denis is not Paris
    out = apply_scenario(base, parse_scenario(scenario("  - fratries: {units: 1}\n")))
    assert sum(u.takes_siblings for u in out.units) == sum(u.takes_siblings for u in base.units) + 1


def test_recruit_foster_carers_with_their_places_inside_the_commune():
    base = tiny()
    out = apply_scenario(base, parse_scenario(scenario(
        "  - recruit: {carers: 4, places_per_carer: 3, zone: {commune: '77243'}}\n")))
    added = new_structures(base, out)
    assert len(added) == 4 and {s.type for s in added} == {StructureType.ASSISTANT_FAMILIAL}
    assert {s.location.commune for s in added} == {"77243"}  # drawn inside Lagny-sur-Marne
    assert places(out) == places(base) + 12
    again = apply_scenario(base, parse_scenario(scenario(
        "  - recruit: {carers: 4, places_per_carer: 3, zone: {commune: '77243'}}\n")))
    assert [s.location for s in new_structures(base, again)] == [s.location for s in added]  # same seed


def test_lose_foster_carers_closes_their_places_and_their_children_wait():
    base = tiny()
    out = apply_scenario(base, parse_scenario(scenario("  - lose: {carers: 1, zone: {departement: '58'}}\n")))
    assert out.unit_by_id["U-af"].capacity == 0
    assert out.child_by_id["C-af"].current is None
    with pytest.raises(ScenarioError, match="only 1 foster carers in Nièvre, cannot lose 2"):
        apply_scenario(base, parse_scenario(scenario("  - lose: {carers: 2, zone: {departement: '58'}}\n")))


def test_demand_adds_children_modelled_on_children_of_that_kind():
    base = tiny()
    out = apply_scenario(base, parse_scenario(scenario("  - demand: {children: 3, need: disability}\n")))
    added = [c for c in out.children if c.id not in base.child_by_id]
    assert len(added) == 3 and all(Need.DISABILITY in c.needs and c.current is None for c in added)
    assert {c.home.id for c in added} <= {h.id for h in base.homes}  # their homes have travel minutes


def test_demand_removes_waiting_children_outside_fratries_deterministically():
    base = tiny()
    sc = parse_scenario(scenario("  - demand: {children: -1, age_band: '0-3'}\n"))
    out = apply_scenario(base, sc)
    assert "C-w2" not in out.child_by_id and len(out.children) == len(base.children) - 1
    with pytest.raises(ScenarioError, match="only 1 waiting children aged 0-3 outside a fratrie, cannot remove 2"):
        apply_scenario(base, parse_scenario(scenario("  - demand: {children: -2, age_band: '0-3'}\n")))


def test_weights_override_the_objective():
    sc = parse_scenario(scenario("  []\n", extra="weights: {outside_paris: 40, move: 0}\n").replace("changes:\n  []", "changes: []"))
    w = sc.weights_over(Weights.default())
    assert w.outside_paris == 40.0 and w.move == 0.0 and w.unplaced == Weights.default().unplaced


# --- errors -------------------------------------------------------------------------------------


def test_every_error_is_named_by_file_line_and_key_all_at_once(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(
        "name: bad\n"                                                        # 1
        "description: many mistakes\n"                                      # 2
        "colour: blue\n"                                                     # 3
        "changes:\n"                                                         # 4
        "  - open:\n"                                                        # 5
        "      places: many\n"                                               # 6
        "      type: castle\n"                                               # 7
        "      zone: {commune: '99999'}\n"                                   # 8
        "      ages: [15, 12]\n"                                             # 9
        "  - close: {places: 3, zone: {arrondissement: 75121}}\n"            # 10
        "  - demolish: {places: 3}\n"                                        # 11
        "  - recruit: {carers: 2, zone: {departement: '93'}, ages: [0, 25]}\n"  # 12
        "weights: {outside_paris: -1, speed: 3}\n",                          # 13
        encoding="utf-8",
    )
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    found = {(i.line, i.key): i.message for i in err.value.issues}
    assert all(i.file == str(path) for i in err.value.issues)
    assert found[(3, "colour")] == "unknown key"
    assert "integer" in found[(6, "changes[0].open.places")] and "'many'" in found[(6, "changes[0].open.places")]
    assert "castle" in found[(7, "changes[0].open.type")]
    assert "unknown commune" in found[(8, "changes[0].open.zone.commune")]
    assert "impossible age range 15-12" in found[(9, "changes[0].open.ages")]
    assert "unknown arrondissement 75121" in found[(10, "changes[1].close.zone.arrondissement")]
    assert "unknown change 'demolish'" in found[(11, "changes[2].demolish")]
    assert "impossible age range 0-25" in found[(12, "changes[3].recruit.ages")]
    assert "non-negative" in found[(13, "weights.outside_paris")]
    assert "unknown weight" in found[(13, "weights.speed")]
    text = str(err.value)
    assert f"{path}:6: changes[0].open.places" in text


def test_impossible_age_and_unknown_commune_when_the_rest_is_right():
    with pytest.raises(ScenarioError) as err:
        parse_scenario(scenario("  - open: {places: 2, type: mecs, zone: {commune: '99999'}, ages: [15, 12]}\n"), "x.yaml")
    keys = {(i.line, i.key) for i in err.value.issues}
    assert keys == {(5, "changes[0].open.zone.commune"), (5, "changes[0].open.ages")}
    assert "impossible age range 15-12" in str(err.value)


def test_wrong_type_missing_key_duplicate_key_and_a_zone_of_two_kinds():
    text = ("name: x\n"
            "name: y\n"
            "changes:\n"
            "  - close: {places: '3', zone: {arrondissement: 75101, departement: '75'}}\n"
            "  - open: {places: 3, zone: {area: paris}, ages: [0, 3], type: mecs}\n")
    with pytest.raises(ScenarioError) as err:
        parse_scenario(text, "d.yaml")
    found = {(i.line, i.key): i.message for i in err.value.issues}
    assert found[(2, "name")] == "key given twice"
    assert found[(1, "description")] == "required key is missing"
    assert "integer" in found[(4, "changes[0].close.places")]
    assert "exactly one of" in found[(4, "changes[0].close.zone")]
    assert "not in a whole area" in found[(5, "changes[1].open.zone.area")]


def test_unknown_structure_is_an_error_when_applied():
    sc = parse_scenario(scenario("  - open: {places: 2, type: mecs, zone: {structure: S-nowhere}, ages: [4, 11]}\n"), "u.yaml")
    with pytest.raises(ScenarioError, match=r"u.yaml:5: changes\[0\].open: unknown structure 'S-nowhere'"):
        apply_scenario(tiny(), sc)


def test_not_yaml_and_not_a_mapping():
    with pytest.raises(ScenarioError, match=r"y.yaml:2: \(top level\): not valid YAML"):
        parse_scenario("name: x\n  bad: [\n", "y.yaml")
    with pytest.raises(ScenarioError, match="a scenario is a mapping"):
        parse_scenario("- a\n- b\n", "l.yaml")
    with pytest.raises(ScenarioError, match="no such scenario file"):
        load_scenario("/nonexistent/scenario.yaml")


def test_the_shipped_examples_are_valid_and_say_their_sizes_are_illustrative():
    paths = example_paths()
    assert len(paths) >= 7
    base = tiny()
    for p in paths:
        sc = load_scenario(p)
        if sc.changes:
            assert "illustrative" in sc.description or "illustratives" in sc.description, p.name
            assert "schéma" in sc.description  # which action of the plan
        if "lose" not in p.read_text() and "close" not in p.read_text() and "convert" not in p.read_text():
            apply_scenario(base, sc)  # applies to any dataset


# --- properties ---------------------------------------------------------------------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_OPEN = st.builds(lambda n, a: f"  - open: {{places: {n}, type: mecs, zone: {{arrondissement: {a}}}, ages: [4, 15]}}\n",
                  st.integers(1, 5), st.integers(1, 20))
_CLOSE = st.builds(lambda n, area: f"  - close: {{places: {n}, zone: {{area: {area}}}}}\n",
                   st.integers(1, 4), st.sampled_from(["paris", "province"]))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(_OPEN, _CLOSE), min_size=1, max_size=4), st.integers(0, 5))
def test_capacity_changes_add_up_and_leave_the_base_alone(changes, seed):
    base = tiny()
    before = (base.units, base.children)
    sc = parse_scenario(f"name: p\ndescription: d\nseed: {seed}\nchanges:\n{''.join(changes)}")
    opened = sum(c.places for c in sc.changes if type(c).__name__ == "OpenPlaces")
    closed = sum(c.places for c in sc.changes if type(c).__name__ == "ClosePlaces")
    try:
        out = apply_scenario(base, sc)
    except ScenarioError as err:
        assert all("cannot close" in i.message for i in err.issues)
        return
    assert places(out) == places(base) + opened - closed
    assert all(0 <= u.occupied <= u.capacity for u in out.units)
    placed_in = {}
    for c in out.children:
        if c.current is not None:
            placed_in[c.current.unit_id] = placed_in.get(c.current.unit_id, 0) + 1
    assert all(n <= out.unit_by_id[u].occupied for u, n in placed_in.items())
    assert (base.units, base.children) == before
    assert apply_scenario(base, sc).units == out.units  # deterministic for the seed
