"""`placement travel-time` and `placement isochrone`: output, JSON, and errors for bad coordinates."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from api.cli import app

runner = CliRunner()
CHATELET = "48.8617,2.3470"
LA_DEFENSE = "48.8935,2.2400"


def test_travel_time_prints_minutes_and_legs():
    result = runner.invoke(app, ["travel-time", "--from", CHATELET, "--to", LA_DEFENSE, "--lang", "en"])
    assert result.exit_code == 0, result.output
    assert "min door to door" in result.output
    assert "ride RER A" in result.output and "wait for RER A" in result.output and "walk origin" in result.output


def test_travel_time_speaks_french_by_default():
    result = runner.invoke(app, ["travel-time", "--from", CHATELET, "--to", LA_DEFENSE])
    assert result.exit_code == 0, result.output
    assert "min porte à porte" in result.output
    assert "RER A Châtelet" in result.output and "attente de RER A" in result.output and "à pied départ" in result.output
    refused = runner.invoke(app, ["travel-time", "--from", CHATELET, "--to", LA_DEFENSE, "--lang", "de"])
    assert refused.exit_code == 2 and "--lang must be fr or en" in refused.output


def test_travel_time_json():
    result = runner.invoke(app, ["travel-time", "--from", CHATELET, "--to", LA_DEFENSE, "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert 8 < payload["minutes"] < 25
    assert {leg["kind"] for leg in payload["legs"]} >= {"walk", "wait", "ride"}
    assert payload["minutes"] == pytest.approx(sum(leg["minutes"] for leg in payload["legs"]), abs=0.3)


@pytest.mark.parametrize(
    "value,message,french",
    [
        ("48.86", "is not LAT,LON", "'48.86' n'est pas LAT,LON (deux nombres séparés par une virgule)"),
        ("48.86,abc", "longitude 'abc' is not a number", "la longitude 'abc' n'est pas un nombre"),
        ("north,2.3", "latitude 'north' is not a number", "la latitude 'north' n'est pas un nombre"),
        ("148.8,2.3", "latitude must be within -90..90", "la latitude doit être entre -90 et 90"),
    ],
)
@pytest.mark.parametrize("command", ["travel-time", "isochrone"])
def test_travel_commands_refuse_malformed_coordinates_in_each_language(value, message, french, command):
    other = ["--to", LA_DEFENSE] if command == "travel-time" else ["--minutes", "10"]
    result = runner.invoke(app, [command, "--from", value, *other, "--lang", "en"])
    assert result.exit_code == 2
    flat = " ".join(result.output.replace("│", " ").split())  # rich wraps the message in a box
    assert message in flat
    result = runner.invoke(app, [command, "--from", value, *other])
    assert result.exit_code == 2
    assert result.output.startswith("erreur : --from ") and french in result.output


def test_isochrone_lists_structures_within_the_limit_json(tmp_path):
    result = runner.invoke(app, ["isochrone", "--from", CHATELET, "--minutes", "20", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    minutes = [s["minutes"] for s in payload["structures"]]
    assert minutes and minutes == sorted(minutes) and max(minutes) <= 20


def test_isochrone_text_in_each_language_and_unknown_dataset(tmp_path):
    result = runner.invoke(app, ["isochrone", "--from", CHATELET, "--minutes", "10", "--lang", "en"])
    assert result.exit_code == 0, result.output
    assert "structure(s) within 10 min" in result.output
    french = runner.invoke(app, ["isochrone", "--from", CHATELET, "--minutes", "7.5"])
    assert french.exit_code == 0, french.output
    lines = french.output.splitlines()
    assert lines[0].startswith(f"{len(lines) - 1} structure(s) à 7,5 min ou moins de 48,8")
    assert all(re.match(r"^ +\d+ min  \S+  .+ \(.+, \d[\dAB]\d{3}\)$", line) for line in lines[1:]), lines[:3]
    assert "_" not in " ".join(line.rsplit("(", 1)[1] for line in lines[1:])  # types in words: "assistant familial"
    missing = runner.invoke(app, ["isochrone", "--from", CHATELET, "--minutes", "10", "--data", str(tmp_path / "none")])
    assert missing.exit_code == 1
    assert "erreur :" in missing.output
    missing = runner.invoke(app, ["isochrone", "--from", CHATELET, "--minutes", "10", "--data", str(tmp_path / "none"),
                                  "--lang", "en"])
    assert "error:" in missing.output
    refused = runner.invoke(app, ["isochrone", "--from", CHATELET, "--minutes", "10", "--lang", "de"])
    assert refused.exit_code == 2 and "--lang must be fr or en" in refused.output


def test_isochrone_never_lists_a_secret_structure():
    """Regression (issue 11): with the secret filter gone, `placement isochrone` listed every
    secret structure (protection of trafficking victims) near the point."""
    from data.generator import generate

    paris = generate(scale=1.0, seed=1)
    secret = {s.id for s in paris.structures if s.secret}
    assert secret, "the Paris scenario has secret structures"
    near = next(s for s in paris.structures if s.secret).location
    result = runner.invoke(app, ["isochrone", "--from", f"{near.lat},{near.lon}", "--minutes", "240", "--json"])
    assert result.exit_code == 0, result.output
    listed = {s["structure_id"] for s in json.loads(result.output)["structures"]}
    assert len(listed) > 10
    assert not listed & secret
