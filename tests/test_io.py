"""CSV/Parquet import and export: round trips, and one test per kind of validation error.

Rows in CSV issues are 1-based with the header as row 1 (first record = row 2); in Parquet
they are the 1-based position of the record.
"""

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from api.cli import app
from data import io
from data.errors import MissingFileError, PlacementDataError, SchemaError, UnknownReferenceError
from data.generator import generate_scenario


@pytest.fixture(scope="module")
def small():
    return generate_scenario("small", seed=1)


@pytest.fixture(scope="module")
def written(small, tmp_path_factory) -> Path:
    return io.write_dataset(small, tmp_path_factory.mktemp("ds") / "small", "csv")


@pytest.fixture
def dataset(written, tmp_path) -> Path:
    copy = tmp_path / "copy"
    shutil.copytree(written, copy)
    return copy


def edit(directory: Path, table: str, fn) -> None:
    path = directory / f"{table}.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame = fn(frame)
    frame.to_csv(path, index=False)


def set_cell(directory: Path, table: str, index: int, column: str, value: str) -> None:
    def fn(f):
        f.loc[index, column] = value
        return f
    edit(directory, table, fn)


def issues_of(directory: Path, kind=PlacementDataError) -> list[str]:
    with pytest.raises(kind) as err:
        io.read_dataset(directory)
    return [str(i) for i in err.value.issues]


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_round_trip_gives_back_the_same_system(small, tmp_path, fmt):
    path = io.write_dataset(small, tmp_path / "out", fmt, generator={"seed": 1})
    assert sorted(p.name for p in path.iterdir()) == sorted(
        [f"{t}.{fmt}" for t in io.TABLES] + ["dataset.json"])
    manifest = json.loads((path / "dataset.json").read_text())
    assert manifest["format"] == fmt and manifest["reference_date"] == "2026-11-23"
    assert manifest["generator"] == {"seed": 1}
    assert io.read_dataset(path) == small


def test_rewriting_replaces_the_dataset_as_a_whole(small, tmp_path):
    path = io.write_dataset(small, tmp_path / "out", "parquet")
    io.write_dataset(small, path, "csv")
    assert not list(path.glob("*.parquet")) and (path / "children.csv").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no temporary left behind


def test_a_failed_write_leaves_the_previous_dataset_intact(small, tmp_path, monkeypatch):
    path = io.write_dataset(small, tmp_path / "out", "csv")
    before = (path / "children.csv").read_bytes()

    def broken(frame, p, table):
        if table == "units":
            raise OSError("disk full")
        p.write_text("partial")
    monkeypatch.setattr(io, "write_table", broken)
    with pytest.raises(OSError, match="disk full"):
        io.write_dataset(small, path, "csv")
    assert (path / "children.csv").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_missing_file(dataset):
    (dataset / "units.csv").unlink()
    assert issues_of(dataset, MissingFileError) == [f"units.csv: file not found in {dataset}"]


def test_missing_and_unknown_columns(dataset):
    edit(dataset, "structures", lambda f: f.drop(columns=["daily_price_eur"]).assign(colour="red"))
    found = issues_of(dataset, SchemaError)
    assert "structures.csv, row 1, column 'daily_price_eur': missing column" in found
    assert any(i.startswith("structures.csv, row 1, column 'colour': unknown column") for i in found)


def test_bad_types_are_all_reported_at_once(dataset):
    set_cell(dataset, "units", 0, "capacity", "ten")
    set_cell(dataset, "children", 4, "birth_date", "2015-13-01")
    set_cell(dataset, "structures", 2, "secret", "maybe")
    found = issues_of(dataset, SchemaError)
    assert "units.csv, row 2, column 'capacity': 'ten' is not a whole number" in found
    assert "children.csv, row 6, column 'birth_date': '2015-13-01' is not a date (YYYY-MM-DD)" in found
    assert "structures.csv, row 4, column 'secret': 'maybe' is not true or false" in found


def test_unknown_enum_values_list_the_allowed_ones(dataset):
    set_cell(dataset, "structures", 0, "type", "castle")
    set_cell(dataset, "children", 1, "needs", "disability|flying")
    found = issues_of(dataset, SchemaError)
    assert any(i.startswith("structures.csv, row 2, column 'type': unknown value 'castle'; allowed: foyer_enfance, mecs,")
               for i in found)
    assert any(i.startswith("children.csv, row 3, column 'needs': unknown value 'flying'; allowed: disability,")
               for i in found)


def test_impossible_ages(dataset):
    set_cell(dataset, "children", 0, "birth_date", "2001-01-01")
    set_cell(dataset, "children", 1, "birth_date", "2027-01-01")
    found = issues_of(dataset, SchemaError)
    assert "children.csv, row 2, column 'birth_date': age 25 on 2026-11-23 is outside 0-21 years" in found
    assert "children.csv, row 3, column 'birth_date': age -1 on 2026-11-23 is outside 0-21 years" in found


def test_latitude_and_longitude_out_of_range(dataset):
    set_cell(dataset, "structures", 0, "lat", "148.9")
    set_cell(dataset, "children", 0, "home_lon", "-200")
    found = issues_of(dataset, SchemaError)
    assert "structures.csv, row 2, column 'lat': 148.9 is above the maximum 90" in found
    assert "children.csv, row 2, column 'home_lon': -200.0 is below the minimum -180" in found


def test_negative_or_inconsistent_capacity(dataset, small):
    set_cell(dataset, "units", 0, "capacity", "-1")
    set_cell(dataset, "units", 1, "occupied", "999")
    placed_unit = next(c.current.unit_id for c in small.children if c.current)
    row = [u.id for u in small.units].index(placed_unit)
    set_cell(dataset, "units", row, "occupied", "0")
    found = issues_of(dataset, SchemaError)
    assert "units.csv, row 2, column 'capacity': -1 is below the minimum 0" in found
    assert any(i.startswith("units.csv, row 3, column 'occupied': 999 occupied places for a capacity of") for i in found)
    assert any(i.startswith(f"units.csv, row {row + 2}, column 'occupied':") and "children are placed here" in i
               for i in found)


def test_duplicate_ids(dataset, small):
    set_cell(dataset, "structures", 1, "id", small.structures[0].id)
    found = issues_of(dataset, SchemaError)
    assert f"structures.csv, row 3, column 'id': duplicate id {small.structures[0].id!r} (first at row 2)" in found


def test_unknown_references(dataset, small):
    set_cell(dataset, "units", 0, "structure_id", "750000000")
    placed = next(i for i, c in enumerate(small.children) if c.current)
    set_cell(dataset, "children", placed, "current_unit_id", "NOPE-U1")
    set_cell(dataset, "children", 0, "judge_excluded_structures", "XX")
    set_cell(dataset, "children", 1, "judge_separated_from", "E-999999")
    in_group = next(i for i, c in enumerate(small.children) if c.sibling_group_id)
    set_cell(dataset, "children", in_group, "sibling_group_id", "F-9999")
    found = issues_of(dataset, UnknownReferenceError)
    assert "units.csv, row 2, column 'structure_id': unknown structure '750000000'" in found
    assert f"children.csv, row {placed + 2}, column 'current_unit_id': unknown unit 'NOPE-U1'" in found
    assert "children.csv, row 2, column 'judge_excluded_structures': unknown structure 'XX'" in found
    assert "children.csv, row 3, column 'judge_separated_from': unknown child 'E-999999'" in found
    assert f"children.csv, row {in_group + 2}, column 'sibling_group_id': unknown sibling group 'F-9999'" in found


def test_domain_errors_become_data_errors(dataset, small):
    boy = next(i for i, c in enumerate(small.children) if c.sex.value == "M")
    set_cell(dataset, "children", boy, "pregnant", "true")
    found = issues_of(dataset, SchemaError)
    assert found == [f"children.csv, row {boy + 2}: child {small.children[boy].id}: only a girl or young woman "
                     "can be pregnant or a mother"]


def test_parquet_rows_are_record_positions(small, tmp_path):
    path = io.write_dataset(small, tmp_path / "pq", "parquet")
    frame = pd.read_parquet(path / "units.parquet")
    frame.loc[0, "age_max"] = 30
    frame.to_parquet(path / "units.parquet", index=False)
    assert issues_of(path, SchemaError) == ["units.parquet, row 1, column 'age_max': 30 is above the maximum 21"]


def test_read_table_alone_raises_with_the_file_name(written):
    rows = io.read_table(written / "units.csv", "units")
    assert rows[0]["_row"] == 2 and isinstance(rows[0]["capacity"], int)
    with pytest.raises(MissingFileError, match="nope.csv"):
        io.read_table(written / "nope.csv", "units")


# --- CLI ------------------------------------------------------------------------------------

runner = CliRunner()


def test_cli_generate_then_validate(tmp_path):
    out = tmp_path / "gen"
    result = runner.invoke(app, ["generate", "--scenario", "small", "--seed", "2", "--out", str(out),
                                 "--format", "parquet"])
    assert result.exit_code == 0, result.output
    assert "255 enfants" in result.stdout
    assert json.loads((out / "dataset.json").read_text())["generator"]["name"] == "small"
    result = runner.invoke(app, ["validate", str(out)])
    assert result.exit_code == 0 and result.stdout.strip().endswith("OK")
    assert " à Paris, " in result.stdout and "ile_de_france" not in result.stdout  # words, not enum values


def test_cli_validate_prints_every_issue_and_exits_1(dataset):
    set_cell(dataset, "children", 0, "sex", "X")
    set_cell(dataset, "units", 0, "age_min", "-2")
    result = runner.invoke(app, ["validate", str(dataset)])
    assert result.exit_code == 1
    assert "INVALIDE : 2 problème(s)" in result.output
    assert "children.csv, ligne 2, colonne 'sex' : valeur 'X' inconnue ; permises : F, M" in result.output
    assert "units.csv, ligne 2, colonne 'age_min' : -2 est sous le minimum 0" in result.output
    assert "Traceback" not in result.output


def test_cli_generate_refuses_a_bad_scale_cleanly(tmp_path):
    result = runner.invoke(app, ["generate", "--scale", "0", "--out", str(tmp_path / "x")])
    assert result.exit_code == 2
    assert result.output == "erreur : l'échelle 0 est hors de 0,01-1000\n"
    assert not (tmp_path / "x").exists()
