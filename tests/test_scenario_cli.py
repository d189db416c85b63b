"""`placement scenario`: run, sweep, check and examples on the command line."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from api.cli import app
from data.io import write_dataset
from planning.scenarios import example_paths
from tests.test_scenarios import tiny

runner = CliRunner()


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return write_dataset(tiny(), tmp_path_factory.mktemp("data") / "tiny")


def test_check_accepts_the_examples_and_names_every_error(tmp_path):
    ok = runner.invoke(app, ["scenario", "check", *map(str, example_paths())])
    assert ok.exit_code == 0, ok.output
    assert "00-base.yaml : valide (0 changement(s))" in " ".join(ok.output.split())
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ndescription: y\nchanges:\n  - open: {places: -2, type: mecs, zone: {commune: '1'}, ages: [3, 1]}\n")
    out = runner.invoke(app, ["scenario", "check", str(bad)])
    assert out.exit_code == 2
    said = " ".join(out.output.split())
    assert said.startswith("erreur : le scénario n'est pas valide"), said
    assert f"{bad}:4 : changes[0].open.places : doit être supérieur à 0 (reçu -2)" in said, said
    assert "tranche d'âge 3-1 impossible" in said and "commune '1' inconnu(e)" in said, said


def test_examples_lists_the_shipped_scenarios_and_templates():
    out = runner.invoke(app, ["scenario", "examples"])
    assert out.exit_code == 0
    assert "Lagny-sur-Marne" in out.output and "petite-couronne.yaml" in out.output


def test_run_writes_the_comparison_and_the_report(dataset, tmp_path):
    ref, paris = tmp_path / "ref.yaml", tmp_path / "paris.yaml"
    ref.write_text("name: Référence\ndescription: rien\nchanges: []\n", encoding="utf-8")
    paris.write_text("name: Paris\ndescription: plus de places\nchanges:\n"
                     "  - open: {places: 6, type: mecs, zone: {arrondissement: 18}, ages: [12, 15]}\n", encoding="utf-8")
    out = runner.invoke(app, ["scenario", "run", str(ref), str(paris), "--out", str(tmp_path / "out"), "--data", str(dataset),
                              "--workers", "1", "--time-limit", "3", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["base"] == "Référence" and [s["error"] for s in data["scenarios"]] == [None, None]
    assert data["scenarios"][1]["difference"]["places"] == 6
    assert (tmp_path / "out" / "rapport.html").is_file() and (tmp_path / "out" / "comparison.json").is_file()
    # the text the command prints without --json: French words, no field name
    from rich.console import Console

    from api.commands.scenario import render

    console = Console(record=True, width=200)
    render({**data, "ranking": [{"rank": 1, "name": "Paris", "value": 0.5, "figure": "share_paris"}]}, console)
    text = console.export_text()
    assert "Paris : " in text and "Classement selon « " in text and "d'abord" in text, text
    assert "Rapport : " in text and "rapport.html" in text, text
    assert "Ranked by" not in text and "Report:" not in text and "share_paris" not in text, text


def test_sweep_refuses_an_unknown_figure_before_solving(tmp_path):
    template = tmp_path / "t.yaml"
    template.write_text("name: g\ndescription: d\nvary:\n  n: [1, 2]\nchanges:\n"
                        "  - open: {places: '${n}', type: mecs, zone: {arrondissement: 18}, ages: [12, 15]}\n")
    out = runner.invoke(app, ["scenario", "sweep", str(template), "--rank-by", "speed", "--out", str(tmp_path / "o")])
    assert out.exit_code == 2 and "indicateur de classement 'speed' inconnu" in out.output
    out = runner.invoke(app, ["scenario", "sweep", str(template), "--out", str(tmp_path / "o")])
    assert out.exit_code == 2 and "dites selon quel indicateur classer" in out.output
    assert not (tmp_path / "o").exists()
