"""The travel-time matrix: agreement with journey(), sanity of the geography, snapping, the
Parquet cache (hit and miss), isochrones, and imported matrices refused when malformed."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from data.errors import PlacementDataError, SchemaError, UnknownReferenceError
from data.transit import TransitNetwork, load_external_matrix, travel_matrix
from matcher import Home, Location
from tests.factories import NEVERS, PARIS_15, PARIS_18, SAINT_DENIS, structure

NATION = (48.848122, 2.395556)
NOISY_LE_GRAND_MONT_D_EST = (48.8400, 2.5500)
"""On RER A, about 11 km east of Nation."""


@pytest.fixture(scope="module")
def network() -> TransitNetwork:
    return TransitNetwork.load()


def _homes(n: int, seed: int = 7, box: tuple[float, float, float, float] = (48.82, 48.90, 2.26, 2.41)) -> list[Home]:
    rng = np.random.default_rng(seed)
    lat = rng.uniform(box[0], box[1], n)
    lon = rng.uniform(box[2], box[3], n)
    return [Home(f"H-{i}", Location(float(a), float(b), "75101", "75")) for i, (a, b) in enumerate(zip(lat, lon))]


STRUCTURES = [
    structure("S-P18", location=PARIS_18),
    structure("S-P15", location=PARIS_15),
    structure("S-93", location=SAINT_DENIS),
    structure("S-77", location=Location(48.5400, 2.6600, "77288", "77")),  # Melun
    structure("S-58", location=NEVERS),
]


def test_minutes_matrix_agrees_with_journey(network):
    rng = np.random.default_rng(3)
    o = np.c_[rng.uniform(48.6, 49.0, 6), rng.uniform(2.0, 2.7, 6)]
    d = np.c_[rng.uniform(48.6, 49.0, 5), rng.uniform(2.0, 2.7, 5)]
    m = network.minutes_matrix(o, d)
    assert m.dtype == np.float32 and m.shape == (6, 5)
    for i in range(6):
        for j in range(5):
            assert network.journey(tuple(o[i]), tuple(d[j])).minutes == pytest.approx(float(m[i, j]), abs=0.01)


def test_minutes_matrix_refuses_malformed_points(network):
    with pytest.raises(PlacementDataError, match="origins: point 1"):
        network.minutes_matrix(np.array([[48.85, 2.35], [95.0, 2.3]]), np.array([[48.85, 2.35]]))
    with pytest.raises(PlacementDataError, match="shape"):
        network.minutes_matrix(np.array([48.85, 2.35]), np.array([[48.85, 2.35]]))


def test_monotonic_a_place_on_the_line_is_nearer_than_places_across_the_region(network):
    """From next to Nation (RER A), a place on RER A 11 km away beats places at the same distance elsewhere."""
    on_line = network.journey(NATION, NOISY_LE_GRAND_MONT_D_EST).minutes
    lat0, lon0 = NATION
    dlat = NOISY_LE_GRAND_MONT_D_EST[0] - lat0
    dlon = (NOISY_LE_GRAND_MONT_D_EST[1] - lon0) * math.cos(math.radians(lat0))
    radius = math.hypot(dlat, dlon)
    around = np.array(
        [
            (lat0 + radius * math.sin(a), lon0 + radius * math.cos(a) / math.cos(math.radians(lat0)))
            for a in np.radians(np.arange(30, 360, 30))
        ]
    )
    others = network.minutes_matrix(np.array([NATION]), around)[0]
    assert on_line < np.median(others), (on_line, others)
    assert on_line < 35


def test_time_grows_with_distance_from_paris(network):
    paris = np.array([[48.8566, 2.3522]])
    places = np.array([[48.8566, 2.40], SAINT_DENIS and (48.9362, 2.3574), (48.5400, 2.6600), (47.9029, 1.9093), (46.9908, 3.1590)])
    minutes = network.minutes_matrix(paris, places)[0]
    assert np.all(np.diff(minutes) > 0), minutes
    assert minutes[-1] > 120  # Nevers: hours away


def test_isochrone_is_sorted_and_within_the_limit(network):
    hits = network.isochrone(PARIS_18.lat and (PARIS_18.lat, PARIS_18.lon), 60, STRUCTURES)
    ids = [h[0] for h in hits]
    assert "S-P18" in ids and "S-58" not in ids
    assert [m for _, m in hits] == sorted(m for _, m in hits)
    assert all(m <= 60 for _, m in hits)
    with pytest.raises(PlacementDataError, match="positive"):
        network.isochrone((48.85, 2.35), 0, STRUCTURES)


def test_travel_matrix_rows_are_snapped_origins_with_small_error(network, tmp_path):
    homes = _homes(1500, box=(48.84, 48.87, 2.30, 2.36))  # dense: several homes per 150 m cell
    homes.append(Home("H-sibling-share", homes[0].location))
    m = travel_matrix(homes, STRUCTURES, cache_dir=tmp_path, network=network)
    assert m.minutes.dtype == np.float32
    assert m.minutes.shape[0] < len(homes) and m.minutes.shape[1] == len(STRUCTURES)
    assert m.row_of_home["H-sibling-share"] == m.row_of_home["H-0"]
    exact = network.minutes_matrix(np.array([(h.location.lat, h.location.lon) for h in homes]), np.array(
        [(s.location.lat, s.location.lon) for s in STRUCTURES]))
    snapped = np.array([m.minutes[m.row_of_home[h.id]] for h in homes])
    err = np.abs(snapped - exact)
    # documented in data/transit/matrix.py: mean under half a minute, 95% under about 1 minute
    assert err.mean() < 0.75 and np.percentile(err, 95) < 2.0 and err.max() < 8.0, (err.mean(), err.max())


def test_travel_matrix_cache_hit_and_miss(network, tmp_path, monkeypatch):
    homes = _homes(30)
    first = travel_matrix(homes, STRUCTURES, cache_dir=tmp_path, network=network)
    files = list(tmp_path.glob("travel-matrix-*.parquet"))
    assert len(files) == 1

    calls = []
    real = network.minutes_matrix
    monkeypatch.setattr(network, "minutes_matrix", lambda *a, **k: calls.append(1) or real(*a, **k))
    again = travel_matrix(homes, STRUCTURES, cache_dir=tmp_path, network=network)
    assert calls == []  # hit: read back, not recomputed
    assert np.array_equal(first.minutes, again.minutes, equal_nan=True)
    assert dict(first.row_of_home) == dict(again.row_of_home) and first.structure_ids == again.structure_ids

    moved = [*STRUCTURES[:-1], structure("S-58", location=Location(47.0, 3.2, "58194", "58"))]
    travel_matrix(homes, moved, cache_dir=tmp_path, network=network)
    assert calls == [1]  # miss: a structure moved
    moved_home = [Home(homes[0].id, Location(48.87, 2.30, "75108", "75")), *homes[1:]]
    travel_matrix(moved_home, STRUCTURES, cache_dir=tmp_path, network=network)
    assert calls == [1, 1]  # miss: a home moved
    assert len(list(tmp_path.glob("travel-matrix-*.parquet"))) == 3


def test_travel_matrix_corrupt_cache_is_recomputed(network, tmp_path):
    homes = _homes(10)
    first = travel_matrix(homes, STRUCTURES, cache_dir=tmp_path, network=network)
    (path,) = tmp_path.glob("travel-matrix-*.parquet")
    path.write_bytes(b"not parquet")
    again = travel_matrix(homes, STRUCTURES, cache_dir=tmp_path, network=network)
    assert np.array_equal(first.minutes, again.minutes, equal_nan=True)


def test_travel_matrix_default_cache_dir_from_environment(network, tmp_path, monkeypatch):
    monkeypatch.setenv("PLACEMENT_CACHE_DIR", str(tmp_path / "cache"))
    travel_matrix(_homes(5), STRUCTURES, network=network)
    assert len(list((tmp_path / "cache").glob("travel-matrix-*.parquet"))) == 1


# --- imported matrices -------------------------------------------------------------------------

HOMES = [Home("H-1", PARIS_18), Home("H-2", PARIS_15)]


def test_load_external_matrix_csv_and_parquet(tmp_path):
    df = pd.DataFrame({"origin": ["H-1", "H-2", "H-1"], "destination": ["S-P18", "S-58", "S-93"], "minutes": [5.5, 190, 20]})
    csv = tmp_path / "m.csv"
    df.to_csv(csv, index=False)
    m = load_external_matrix(csv, HOMES, STRUCTURES)
    assert m.between("H-1", "S-P18") == pytest.approx(5.5)
    assert m.between("H-2", "S-58") == pytest.approx(190)
    assert m.between("H-2", "S-P18") is None  # left out: unreachable
    pq = tmp_path / "m.parquet"
    df.to_parquet(pq)
    m2 = load_external_matrix(pq, HOMES, STRUCTURES)
    assert np.array_equal(m.minutes, m2.minutes, equal_nan=True)


@pytest.mark.parametrize(
    "text,error,expected",
    [
        ("origin,dest,minutes\nH-1,S-P18,5\n", SchemaError, "row 1, column 'destination': missing column"),
        ("origin,destination,minutes\nH-1,S-P18,abc\n", SchemaError, "row 2, column 'minutes': 'abc' is not a number"),
        ("origin,destination,minutes\nH-1,S-P18,-3\n", SchemaError, "row 2, column 'minutes': -3 is not a non-negative"),
        ("origin,destination,minutes\nH-1,S-P18,\n", SchemaError, "row 2, column 'minutes': empty"),
        ("origin,destination,minutes\nH-9,S-P18,4\n", UnknownReferenceError, "row 2, column 'origin': unknown origin id 'H-9'"),
        ("origin,destination,minutes\nH-1,S-X,4\n", UnknownReferenceError, "row 2, column 'destination': unknown structure id 'S-X'"),
        ("origin,destination,minutes\nH-1,S-P18,4\nH-1,S-P18,5\n", SchemaError, "row 3, column 'origin,destination': pair (H-1, S-P18) appears twice"),
    ],
)
def test_load_external_matrix_refuses_malformed_files(tmp_path, text, error, expected):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(error) as info:
        load_external_matrix(path, HOMES, STRUCTURES)
    assert expected in str(info.value)
    assert str(path) in str(info.value)


def test_load_external_matrix_reports_every_problem_at_once(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("origin,destination,minutes\nH-1,S-P18,x\nH-9,S-93,3\nH-2,S-93,-1\n")
    with pytest.raises(PlacementDataError) as info:
        load_external_matrix(path, HOMES, STRUCTURES)
    rows = sorted(i.row for i in info.value.issues)
    assert rows == [2, 3, 4]


def test_load_external_matrix_missing_file(tmp_path):
    with pytest.raises(PlacementDataError, match="file not found"):
        load_external_matrix(tmp_path / "nope.csv", HOMES, STRUCTURES)


def test_matrix_covers_every_anchor_and_school_and_is_cached(tmp_path, network):
    """The origins of a system are its homes, schools, visit sites and anchor services: each gets
    a row of real minutes (none is zero for want of a home), and the second call reads the cache."""
    from matcher import HomeAbsence, JudgeConstraints, Need, School, VisitSite
    from matcher.model import PlacementSystem
    from tests.factories import ON, child, unit

    school = School("SCH-1", Location(48.8890, 2.3300, "75118", "75"))
    visits = VisitSite("VS-1", Location(48.8700, 2.3700, "75110", "75"))
    kids = (
        child("C-1", school=school),
        child("C-2", age=16, home_absence=HomeAbsence.ABROAD, needs=(Need.UNACCOMPANIED_MINOR,)),
        child("C-3", home=Home("H-3", PARIS_15), visit_site=visits, judge=JudgeConstraints(supervised_visits=True)),
    )
    system = PlacementSystem(ON, kids, (), tuple(STRUCTURES), (unit(structure_id="S-P18"),))
    ids = {p.id for p in system.origins}
    assert ids == {"H-1", "SCH-1", "SVC-unaccompanied-minors", "H-3", "VS-1"}
    m = travel_matrix(system.origins, STRUCTURES, cache_dir=tmp_path, network=network)
    for c in kids:
        minutes = m.between(c.anchor.id, "S-58")
        assert minutes is not None and minutes > 60, c.anchor  # Nevers, from Paris
    assert m.between("SCH-1", "S-58") > 60
    assert len(list(tmp_path.glob("travel-matrix-*.parquet"))) == 1
    again = travel_matrix(system.origins, STRUCTURES, cache_dir=tmp_path, network=network)
    assert dict(again.row_of_home) == dict(m.row_of_home)
    assert np.array_equal(again.minutes, m.minutes, equal_nan=True)
