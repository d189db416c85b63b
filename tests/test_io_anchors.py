"""The new fields of a child (no family home and why, school, visit site, supervised visits, own
children) and hotel / other-département structures through CSV and Parquet and the store, with
the same whole-file validation; older files without the new columns still read."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from data import io
from data.db import Database
from data.errors import PlacementDataError
from matcher import HomeAbsence, JudgeConstraints, Need, Operator, School, StructureType, VisitSite
from matcher.model import Home, Location, Sex
from tests.factories import NEVERS, PARIS_18, SAINT_DENIS, child, structure, system, unit

SCHOOL = School("SCH-75118-1", Location(48.89, 2.35, "75118", "75"))
VISITS = VisitSite("VS-01", Location(48.87, 2.37, "75110", "75"))


def anchored_system():
    return system(
        [
            child("C-1", 16, home_absence=HomeAbsence.ABROAD, needs=(Need.UNACCOMPANIED_MINOR,), school=SCHOOL),
            child("C-2", 9, home=Home("H-2", PARIS_18), school=SCHOOL, visit_site=VISITS,
                  judge=JudgeConstraints(supervised_visits=True)),
            child("C-3", 19, Sex.FEMALE, home_absence=HomeAbsence.UNKNOWN, needs=(Need.MOTHER_CHILD,),
                  own_child_birth_date=date(2025, 6, 1), own_children=2),
            child("C-4", 17, home_absence=HomeAbsence.NONE),
        ],
        [structure("HOT-1", StructureType.HOTEL, daily_price_eur=65.0, capabilities=(Need.UNACCOMPANIED_MINOR,)),
         structure("78-2", operator=Operator.OTHER_DEPARTEMENT, location=SAINT_DENIS),
         structure("S-3", StructureType.CENTRE_MATERNEL, NEVERS, (Need.MOTHER_CHILD,))],
        [unit("HOT-1-U1", "HOT-1", (16, 21)), unit("78-2-U1", "78-2", (4, 11)), unit("S-3-U1", "S-3", (16, 21))],
    )


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_round_trip_of_the_new_fields(tmp_path, fmt):
    original = anchored_system()
    back = io.read_dataset(io.write_dataset(original, tmp_path / "ds", fmt))
    assert back == original
    by_id = back.child_by_id
    assert by_id["C-1"].home is None and by_id["C-1"].home_absence is HomeAbsence.ABROAD
    assert by_id["C-1"].school == SCHOOL
    assert by_id["C-2"].anchor.place == VISITS
    assert by_id["C-3"].own_children == 2
    assert back.structure_by_id["78-2"].operator is Operator.OTHER_DEPARTEMENT


def test_a_file_written_before_the_new_columns_still_reads(tmp_path):
    original = system([child("C-1", 8)], [structure()], [unit()])
    directory = io.write_dataset(original, tmp_path / "ds", "csv")
    path = directory / "children.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    new = ["home_absence", *(f"{p}_{f}" for p in ("school", "visit_site") for f in io.PLACE_FIELDS),
           "judge_supervised_visits", "own_children"]
    frame.drop(columns=new).to_csv(path, index=False)
    assert io.read_dataset(directory) == original


def _issues(directory: Path) -> list[str]:
    with pytest.raises(PlacementDataError) as err:
        io.read_dataset(directory)
    return [str(i) for i in err.value.issues]


def test_every_problem_of_the_new_fields_is_reported_at_once(tmp_path):
    directory = io.write_dataset(anchored_system(), tmp_path / "ds", "csv")
    path = directory / "children.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.loc[0, "home_absence"] = ""  # C-1: no home and no reason
    frame.loc[1, "school_lat"] = ""  # C-2: a school without its latitude
    frame.loc[1, "home_absence"] = "none"  # C-2: a home and a reason for none
    frame.loc[2, "home_absence"] = "lost"  # C-3: not a reason
    frame.loc[3, "school_id"] = "H-2"  # C-4: a school with a home's id, at another place
    for col in ("lat", "lon", "commune", "departement"):
        frame.loc[3, f"school_{col}"] = frame.loc[0, f"school_{col}"]
    frame.to_csv(path, index=False)
    found = _issues(directory)
    assert any("row 2, column 'home_absence': no family home" in i for i in found), found
    assert any("row 3, column 'school_lat': empty value: a school needs all of" in i for i in found), found
    assert any("row 3, column 'home_absence': a family home is given" in i for i in found), found
    assert any("row 4, column 'home_absence': unknown value 'lost'" in i for i in found), found
    assert any("row 5, column 'school_id': place 'H-2' is a home" in i for i in found), found


@pytest.mark.parametrize("backend", ["sqlite"])
def test_the_store_keeps_the_new_fields(tmp_path, backend):
    from tests.conftest import open_test_database

    db: Database = open_test_database(backend, tmp_path)
    try:
        original = anchored_system()
        db.save_system(original)
        assert db.load_system() == original
    finally:
        db.dispose()
