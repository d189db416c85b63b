"""`placement travel-time` beyond the network (issue 13): swapped coordinates, 0,0, overseas
points, points at sea, abroad or in Corsica are unreachable with the reason said (never 97,000
minutes "by road" nor days of walking); real places of mainland France keep a journey."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from api.cli import app
from data.transit.network import DIRECT_WALK_MAX_M, outside_service_area, served, unserved_reason

runner = CliRunner()
CHATELET = "48.8617,2.3470"
LA_DEFENSE = "48.8935,2.2400"
NOTRE_DAME = "48.8566,2.3522"


def _travel(origin: str, destination: str, *extra: str):
    result = runner.invoke(app, ["travel-time", "--from", origin, "--to", destination, *extra])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize(
    "origin, destination, note",
    [
        ("2.3470,48.8617", "2.2400,48.8935", "--from 2.347,48.8617 looks swapped"),
        ("0,0", LA_DEFENSE, "--from 0.0,0.0 is more than 1,000 km from mainland France"),
        ("-21.11,55.53", LA_DEFENSE, "--from -21.11,55.53 is more than 1,000 km"),  # La Réunion
        ("16.25,-61.58", LA_DEFENSE, "--from 16.25,-61.58 is more than 1,000 km"),  # Guadeloupe
        (CHATELET, "2.2400,48.8935", "--to 2.24,48.8935 looks swapped"),
        # the audit's points within 1,000 km: at sea, in Corsica, abroad
        (NOTRE_DAME, "46.0,-4.0", "--to 46.0,-4.0 is outside mainland metropolitan France (at sea or abroad)"),
        (NOTRE_DAME, "41.9192,8.7386", "--to 41.9192,8.7386 is in Corsica: no ferry or plane link is modelled"),
        (NOTRE_DAME, "51.5074,-0.1278", "--to 51.5074,-0.1278 is outside mainland metropolitan France"),
        ("40.4168,-3.7038", NOTRE_DAME, "--from 40.4168,-3.7038 is outside mainland metropolitan France"),
    ],
)
def test_points_outside_the_network_are_unreachable_with_a_note(origin, destination, note):
    output = _travel(origin, destination, "--lang", "en")
    assert "unreachable by public transport or road" in output and "min door to door" not in output
    assert note in output and "walk" not in output
    payload = json.loads(_travel(origin, destination, "--json", "--lang", "en"))
    assert payload["minutes"] is None and payload["reachable"] is False and note in " ".join(payload["notes"])
    assert payload["legs"] == [] and 1 <= len(payload["unserved"]) == len(payload["notes"])


@pytest.mark.parametrize(
    "destination, reason, words",
    [
        ("46.0,-4.0", "outside", "est hors de France métropolitaine continentale (au large ou à l'étranger)"),
        ("41.9192,8.7386", "corsica", "est en Corse : pas de liaison modélisée"),
        ("51.5074,-0.1278", "outside", "est hors de France métropolitaine continentale"),
        ("40.4168,-3.7038", "outside", "est hors de France métropolitaine continentale"),
        ("-21.11,55.53", "overseas", "est à plus de 1\u202f000 km de la France métropolitaine"),
        ("2.3522,48.8566", "swapped", "semble inversé : la latitude d'abord"),
    ],
)
def test_the_reason_is_said_in_french_by_default(destination, reason, words):
    output = _travel(NOTRE_DAME, destination)
    assert "inaccessible en transports en commun comme par la route" in output and words in output
    payload = json.loads(_travel(NOTRE_DAME, destination, "--json"))
    assert payload["unserved"] == [{"point": "--to", "reason": reason}] and words in payload["notes"][0]


@pytest.mark.parametrize(
    "city, lo, hi",
    [("48.3904,-4.4861", 200, 420), ("43.7031,7.2661", 300, 600), ("48.5846,7.7507", 120, 300),
     ("42.6986,2.8956", 300, 600)],  # Brest, Nice, Strasbourg, Perpignan
)
def test_provincial_cities_stay_reachable(city, lo, hi):
    payload = json.loads(_travel(CHATELET, city, "--json"))
    assert payload["reachable"] and lo < payload["minutes"] < hi and "notes" not in payload
    assert any(leg["kind"] == "ride" and "TER/TGV" in leg["line"] for leg in payload["legs"])


def test_served_is_mainland_metropolitan_france():
    lat = np.array([48.8566, 48.3904, 43.7031, 42.6986, 51.0343, 46.0, 41.9192, 51.5074, 40.4168, 0.0])
    lon = np.array([2.3522, -4.4861, 7.2661, 2.8956, 2.3768, -4.0, 8.7386, -0.1278, -3.7038, 0.0])
    assert served(lat, lon).tolist() == [True] * 5 + [False] * 5
    assert outside_service_area(41.92, 8.74) and unserved_reason(41.92, 8.74) == "corsica"  # Ajaccio
    assert outside_service_area(2.35, 48.85) and outside_service_area(0.0, 0.0)
    assert unserved_reason(48.8566, 2.3522) is None


def test_the_matrix_gives_nan_for_points_outside():
    from data.transit import TransitNetwork

    net = TransitNetwork.load()
    m = net.minutes_matrix(np.array([[48.8617, 2.3470], [2.3470, 48.8617]]), np.array([[48.8935, 2.2400], [0.0, 0.0]]))
    assert np.isfinite(m[0, 0]) and np.isnan(m[0, 1]) and np.isnan(m[1]).all()
    audit = np.array([[46.0, -4.0], [41.9192, 8.7386], [51.5074, -0.1278], [40.4168, -3.7038]])
    m = net.minutes_matrix(np.array([[48.8566, 2.3522], [43.7031, 7.2661]]), audit)
    assert np.isnan(m).all()
    assert np.isnan(net.minutes_matrix(audit, np.array([[48.8566, 2.3522]]))).all()


def test_no_answer_is_a_long_walk():
    """Between two places of mainland France more than ``DIRECT_WALK_MAX_M`` (15 km) apart, walking all the way is never
    the answer: before issue 13, a province-to-province pair the network did not join came out as
    a walk of days (5,887 minutes from near Valenciennes to the Nièvre)."""
    from data.transit import TransitNetwork

    net = TransitNetwork.load()
    places = np.array([[50.489361, 3.21752], [47.235862, 2.968135], [47.686812, 3.641868], [50.75774, 2.284049],
                       [48.3904, -4.4861], [43.7031, 7.2661], [48.8617, 2.3470]])
    m = net.minutes_matrix(places, places)
    off = ~np.eye(len(places), dtype=bool)
    assert np.isfinite(m).all() and m[off].max() < 1000
    journey = net.journey(tuple(places[0]), tuple(places[1]))
    assert journey.reachable and journey.minutes < 600
    max_walk_min = float(net._walk(np.array(DIRECT_WALK_MAX_M)))
    for a in places:
        for b in places:
            assert all(leg.minutes < max_walk_min for leg in net.journey(tuple(a), tuple(b)).legs if leg.kind == "walk")
