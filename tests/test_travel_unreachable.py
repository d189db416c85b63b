"""`placement travel-time` beyond the network: swapped coordinates, 0,0 and overseas points are
unreachable (never 97,000 minutes "by road"), and swapped coordinates are pointed out."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from api.cli import app
from data.transit.network import outside_service_area

runner = CliRunner()
CHATELET = "48.8617,2.3470"
LA_DEFENSE = "48.8935,2.2400"


@pytest.mark.parametrize(
    "origin, destination, note",
    [
        ("2.3470,48.8617", "2.2400,48.8935", "--from 2.347,48.8617 looks swapped"),
        ("0,0", LA_DEFENSE, "--from 0.0,0.0 is more than 1,000 km from mainland France"),
        ("-21.11,55.53", LA_DEFENSE, "--from -21.11,55.53 is more than 1,000 km"),  # La Réunion
        (CHATELET, "2.2400,48.8935", "--to 2.24,48.8935 looks swapped"),
    ],
)
def test_points_outside_the_network_are_unreachable_with_a_note(origin, destination, note):
    result = runner.invoke(app, ["travel-time", "--from", origin, "--to", destination])
    assert result.exit_code == 0, result.output
    assert "unreachable by public transport or road" in result.output and "min door to door" not in result.output
    assert note in result.output
    payload = json.loads(runner.invoke(app, ["travel-time", "--from", origin, "--to", destination, "--json"]).output)
    assert payload["minutes"] is None and payload["reachable"] is False and note in " ".join(payload["notes"])


def test_far_but_inside_france_is_still_a_journey():
    result = runner.invoke(app, ["travel-time", "--from", CHATELET, "--to", "43.70,7.26", "--json"])  # Nice
    payload = json.loads(result.output)
    assert payload["reachable"] and 200 < payload["minutes"] < 900 and "notes" not in payload
    assert not outside_service_area(41.92, 8.74)  # Ajaccio is inside
    assert outside_service_area(2.35, 48.85) and outside_service_area(0.0, 0.0)


def test_the_matrix_gives_nan_for_points_outside():
    from data.transit import TransitNetwork

    net = TransitNetwork.load()
    m = net.minutes_matrix(np.array([[48.8617, 2.3470], [2.3470, 48.8617]]), np.array([[48.8935, 2.2400], [0.0, 0.0]]))
    assert np.isfinite(m[0, 0]) and np.isnan(m[0, 1]) and np.isnan(m[1]).all()
