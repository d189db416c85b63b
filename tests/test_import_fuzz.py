"""Hypothesis on imports: a dataset with a random defect (a cell, a column, a row, a truncated
or garbled file) is either refused whole with a PlacementDataError naming the problem, or read
into a valid system; loading it into a store holding a system either replaces it whole or
leaves every row as it was. Nothing else escapes and nothing is half-written."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from data import io
from data.db.backup import every_row
from data.errors import PlacementDataError
from matcher.errors import PlacementError
from tests.api_support import sample_system

TABLES = ("children", "structures", "units", "sibling_groups")
ODD_VALUES = ["", " ", "-1", "0", "1e309", "nan", "NaN", "2026-02-30", "9999-99-99", "true", "FALSE", "x" * 300,
              "C-1", "U-nev", "S-secret", "F-1", "secteur-8", "sector-8", "75118", "'; DROP TABLE units; --",
              "é\u0000", "1,2", '"', "\n", "None"]

defect = st.one_of(
    st.tuples(st.just("cell"), st.sampled_from(TABLES), st.integers(0, 6), st.integers(0, 30),
              st.one_of(st.sampled_from(ODD_VALUES), st.text(max_size=12))),
    st.tuples(st.just("drop_column"), st.sampled_from(TABLES), st.integers(0, 30)),
    st.tuples(st.just("duplicate_row"), st.sampled_from(TABLES), st.integers(0, 6)),
    st.tuples(st.just("truncate"), st.sampled_from(TABLES), st.floats(0.05, 0.95)),
    st.tuples(st.just("garble"), st.sampled_from(TABLES), st.binary(min_size=1, max_size=64)),
)


def damage(directory: Path, d: tuple) -> None:
    kind, table = d[0], d[1]
    path = directory / f"{table}.csv"
    if kind in ("truncate", "garble"):
        raw = path.read_bytes()
        path.write_bytes(raw[: int(len(raw) * d[2])] if kind == "truncate" else raw[: len(raw) // 2] + d[2])
        return
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    if kind == "cell" and len(frame):
        frame.iloc[d[2] % len(frame), d[3] % len(frame.columns)] = d[4]
    elif kind == "drop_column":
        frame = frame.drop(columns=frame.columns[d[2] % len(frame.columns)])
    elif kind == "duplicate_row" and len(frame):
        frame = pd.concat([frame, frame.iloc[[d[2] % len(frame)]]])
    frame.to_csv(path, index=False)


@settings(max_examples=30, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(d=defect)
def test_a_damaged_dataset_is_refused_whole_or_loaded_whole(db, tmp_path, d):
    db.save_system(sample_system())
    before = every_row(db)
    original = tmp_path / "original"
    if not original.exists():
        io.write_dataset(sample_system(), original)
    work = tmp_path / "work"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(original, work)
    damage(work, d)
    try:
        system = io.read_dataset(work)
    except PlacementDataError as err:
        assert err.issues and str(err.issues[0])  # refused, naming what is wrong
        assert every_row(db) == before
        return
    try:
        db.save_system(system)
    except PlacementError:
        assert every_row(db) == before  # refused by the store: nothing half-written
        return
    assert db.load_system() == system  # or taken whole
