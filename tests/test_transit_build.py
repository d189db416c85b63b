"""The committed network files are what the build step produces, and the engine's invariants."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from data.transit import TransitNetwork
from data.transit.build_reference import DEFAULT_SOURCE, REFERENCE_DIR, build
from data.transit.network import DIRECT_WALK_MAX_M, REFERENCE_FILES, to_l93


@pytest.mark.slow
@pytest.mark.skipif(not (DEFAULT_SOURCE / "transit").is_dir(), reason="raw open data (/work/shared/data) not on this machine")
def test_build_reproduces_the_committed_files(tmp_path: Path):
    counts = build(DEFAULT_SOURCE, tmp_path)
    assert counts["stops"] > 800 and counts["gateways"] >= 10
    for name in REFERENCE_FILES:
        assert (tmp_path / name).read_bytes() == (REFERENCE_DIR / name).read_bytes(), name
    total = sum((REFERENCE_DIR / n).stat().st_size for n in REFERENCE_FILES)
    assert total < 5_000_000


@pytest.fixture(scope="module")
def network() -> TransitNetwork:
    return TransitNetwork.load()


IDF_POINT = st.tuples(st.floats(48.5, 49.1), st.floats(1.9, 2.9))


@settings(max_examples=40, deadline=None)
@given(IDF_POINT, IDF_POINT)
@example((48.625, 2.0), (48.625, 1.90625))  # the test once measured this walk on a sphere, 0.27% short
def test_never_slower_than_walking_and_never_faster_than_a_train(network, a, b):
    """Walking all the way is always an option up to ``DIRECT_WALK_MAX_M``, measured as the engine
    measures it (Lambert-93 metres: a spherical 111.2 km per degree is 0.27% short east-west at
    48.6 N, so the bound was wrong, not the engine); nothing in Île-de-France averages 120 km/h
    door to door."""
    minutes = network.journey(a, b).minutes
    x, y = to_l93(np.array([a[0], b[0]]), np.array([a[1], b[1]]))
    km = float(np.hypot(x[0] - x[1], y[0] - y[1])) / 1000
    walk = km * network.params.detour_factor / network.params.walk_kmh * 60
    lat = math.radians((a[0] + b[0]) / 2)
    sphere_km = math.hypot((a[0] - b[0]) * 111.2, (a[1] - b[1]) * 111.2 * math.cos(lat))
    assert np.isfinite(minutes) and minutes >= 0
    if km * 1000 <= DIRECT_WALK_MAX_M:
        assert minutes <= walk + 1e-3
    assert minutes >= sphere_km / 120 * 60


def test_loaded_once(network):
    assert TransitNetwork.load() is network
