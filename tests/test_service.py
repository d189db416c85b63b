"""Child.service: the ASE service that follows a child (officers act for their service's children)."""

from __future__ import annotations


import pandas as pd
import pytest

from data import io
from data.errors import PlacementDataError
from matcher import Need, Service, Sex
from matcher.model import Home, Location, service_of
from tests.factories import PARIS_15, SAINT_DENIS, child, system


def test_service_of_an_unaccompanied_minor_is_the_mna_service():
    assert child("C-1", 16, needs=(Need.UNACCOMPANIED_MINOR,)).service is Service.UNACCOMPANIED_MINORS


def test_service_of_a_pregnant_girl_is_the_mother_child_service():
    assert child("C-1", 17, Sex.FEMALE, pregnant=True).service is Service.MOTHER_CHILD


def test_service_of_a_young_adult_is_the_young_adults_service():
    assert child("C-1", 19).service is Service.YOUNG_ADULTS


def test_service_of_a_child_is_the_sector_of_the_home_arrondissement():
    assert child("C-1", 8, home=Home("H-15", PARIS_15)).service is Service.SECTOR_7
    assert child("C-2", 8, home=Home("H-1", Location(48.86, 2.34, "75101", "75"))).service is Service.SECTOR_1


def test_service_of_a_home_outside_paris_is_a_sector_all_the_same():
    assert child("C-1", 8, home=Home("H-sd", SAINT_DENIS)).service.is_sector


def test_a_recorded_service_wins_over_the_derived_one():
    c = child("C-1", 8, home=Home("H-15", PARIS_15), service=Service.SECTOR_3)
    assert c.service is Service.SECTOR_3
    assert service_of(c) is Service.SECTOR_7


def _one_child_dataset(tmp_path, service: Service | None = None):
    s = system([child("C-1", 8, home=Home("H-15", PARIS_15), service=service)], [], [])
    return io.write_dataset(s, tmp_path / "ds", "csv")


def test_service_travels_through_csv(tmp_path):
    path = _one_child_dataset(tmp_path, Service.YOUNG_ADULTS)
    assert io.read_dataset(path).children[0].service is Service.YOUNG_ADULTS


def test_a_file_written_before_the_service_column_still_reads(tmp_path):
    path = _one_child_dataset(tmp_path)
    frame = pd.read_csv(path / "children.csv", dtype=str, keep_default_na=False).drop(columns=["service"])
    frame.to_csv(path / "children.csv", index=False)
    assert io.read_dataset(path).children[0].service is Service.SECTOR_7


def test_an_unknown_service_is_refused_naming_file_row_and_column(tmp_path):
    path = _one_child_dataset(tmp_path)
    frame = pd.read_csv(path / "children.csv", dtype=str, keep_default_na=False)
    frame["service"] = "sector-12"
    frame.to_csv(path / "children.csv", index=False)
    with pytest.raises(PlacementDataError) as err:
        io.read_dataset(path)
    text = str(err.value)
    assert "children.csv" in text and "service" in text and "2" in text


def test_service_is_stored_and_loaded(db):
    s = system([child("C-1", 8, home=Home("H-15", PARIS_15), service=Service.SECTOR_2)], [], [])
    db.save_system(s)
    loaded = db.load_system()
    assert loaded.children[0].service is Service.SECTOR_2
