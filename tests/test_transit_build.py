"""The committed network files are what the build step produces, and the engine's invariants."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from data.transit import TransitNetwork
from data.transit.build_reference import DEFAULT_SOURCE, REFERENCE_DIR, build
from data.transit.network import REFERENCE_FILES


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
def test_never_slower_than_walking_and_never_faster_than_a_train(network, a, b):
    minutes = network.journey(a, b).minutes
    lat = math.radians((a[0] + b[0]) / 2)
    km = math.hypot((a[0] - b[0]) * 111.2, (a[1] - b[1]) * 111.2 * math.cos(lat))
    walk = km * network.params.detour_factor / network.params.walk_kmh * 60
    assert np.isfinite(minutes) and minutes >= 0
    assert minutes <= walk + 1e-3  # walking all the way is always an option
    assert minutes >= km / 120 * 60  # nothing in Île-de-France averages 120 km/h door to door


def test_loaded_once(network):
    assert TransitNetwork.load() is network
