"""`placement solve`: report consistency, the written assignment, and clear errors for bad input."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest
from typer.testing import CliRunner

from api.cli import app
from data.generator import generate_scenario
from data.io import read_dataset, write_dataset

runner = CliRunner()


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    directory = tmp_path_factory.mktemp("solve") / "small"
    write_dataset(generate_scenario("small", seed=3), directory, "csv")
    return directory


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("PLACEMENT_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "travel-cache"))


def _solve(*args: str):
    return runner.invoke(app, ["solve", *args])


@pytest.mark.parametrize("method", ["greedy", "optimal"])
def test_json_report_is_consistent_with_the_written_csv(dataset, tmp_path, method):
    out = tmp_path / "assignment.csv"
    result = _solve("--data", str(dataset), "--method", method, "--json", "--out", str(out), "--time-limit", "20")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    system = read_dataset(dataset)
    waiting = [c.id for c in system.children if c.is_waiting]
    assert report["method"] == method and report["scope"] == "waiting"
    assert report["children"] == len(waiting)
    assert report["placed"] + report["unplaced"] == report["children"]
    assert sum(report["placed_by_zone"].values()) == report["placed"]
    assert report["bound"] is not None and report["bound"] <= report["objective"] + 1e-6
    assert report["gap"] == pytest.approx((report["objective"] - report["bound"]) / report["objective"], abs=1e-3)
    assert report["siblings"]["split"] == len(report["splits"])
    assert report["out"] == str(out)

    frame = pd.read_csv(out, dtype={"child_id": str, "structure_id": str, "unit_id": str})  # ids are text, even all digits
    assert sorted(frame.child_id) == sorted(waiting)
    placed = frame[frame.unit_id.notna()]
    assert len(placed) == report["placed"]
    # every placed child is in a unit of the structure named, and its score is the sum of its components
    for row in placed.itertuples():
        assert system.unit_by_id[row.unit_id].structure_id == row.structure_id
    components = placed.filter(like="cost_").sum(axis=1)
    assert (components - placed.score).abs().max() < 0.01
    assert placed.explanation.str.startswith("L'unité ").all()  # French by default
    assert frame[frame.unit_id.isna()].explanation.str.startswith("Sans place").all()
    # no place is given to more children than it has free places (scope waiting)
    load = placed.unit_id.value_counts()
    assert all(load[u] <= system.unit_by_id[u].free for u in load.index)


def test_optimal_is_never_worse_than_greedy_and_scope_all_writes_parquet(dataset, tmp_path):
    reports = {}
    for method in ("greedy", "optimal"):
        result = _solve("--data", str(dataset), "--method", method, "--scope", "all", "--json", "--time-limit", "20")
        assert result.exit_code == 0, result.output
        reports[method] = json.loads(result.stdout)
    assert reports["optimal"]["objective"] <= reports["greedy"]["objective"] + 1e-6
    assert reports["optimal"]["children"] == len(read_dataset(dataset).children)

    out = tmp_path / "all.parquet"
    result = _solve("--data", str(dataset), "--method", "greedy", "--scope", "all", "--out", str(out), "--lang", "en")
    assert result.exit_code == 0, result.output
    assert "objective" in result.output and "proven lower bound" in result.output
    frame = pd.read_parquet(out)
    assert len(frame) == reports["greedy"]["children"]
    assert frame.unit_id.notna().sum() == reports["greedy"]["placed"]


def test_weights_file_changes_the_objective(dataset, tmp_path):
    heavy = tmp_path / "weights.toml"
    heavy.write_text("[objective]\ntransit_minute = 5.0\n")
    base = json.loads(_solve("--data", str(dataset), "--method", "greedy", "--json").stdout)
    result = _solve("--data", str(dataset), "--method", "greedy", "--json", "--weights", str(heavy))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["objective"] > base["objective"]


@pytest.mark.parametrize(
    "args,message",
    [
        (["--data", "{missing}", "--lang", "en"], "error: --data"),
        (["--data", "{missing}"], "ce dossier de données n'existe pas"),
        (["--method", "simplex", "--lang", "en"], "unknown method 'simplex'"),
        (["--method", "simplex"], "erreur : méthode 'simplex' inconnue"),
        (["--scope", "some", "--lang", "en"], "unknown scope 'some'"),
        (["--scope", "some"], "périmètre 'some' inconnu"),
        (["--weights", "{bad_toml}", "--lang", "en"], "not valid TOML"),
        (["--weights", "{bad_toml}"], "TOML invalide"),
        (["--weights", "{unknown_weight}", "--lang", "en"], "unknown weight(s) speed"),
        (["--weights", "{unknown_weight}"], "poids inconnu(s) speed"),
        (["--weights", "{nowhere}", "--lang", "en"], "weights file not found"),
        (["--weights", "{nowhere}"], "fichier de poids introuvable"),
        (["--out", "{txt}", "--lang", "en"], "use .csv or .parquet"),
        (["--out", "{txt}"], "utilisez .csv ou .parquet"),
    ],
)
def test_bad_input_is_a_clear_error_and_nothing_is_written(dataset, tmp_path, args, message):
    (tmp_path / "bad.toml").write_text("transit_minute = = 1\n")
    (tmp_path / "unknown.toml").write_text("speed = 1.0\n")
    paths = {
        "missing": tmp_path / "no-such-dir", "bad_toml": tmp_path / "bad.toml",
        "unknown_weight": tmp_path / "unknown.toml", "nowhere": tmp_path / "nowhere.toml",
        "txt": tmp_path / "assignment.txt",
    }
    args = [a.format(**{k: str(v) for k, v in paths.items()}) for a in args]
    if "--data" not in args:
        args = ["--data", str(dataset), *args]
    if "--out" not in args:
        args = [*args, "--out", str(tmp_path / "assignment.csv")]
    before = set(tmp_path.iterdir())
    result = _solve(*args)
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
    assert set(tmp_path.iterdir()) == before


def test_invalid_dataset_reports_the_problem_and_writes_nothing(dataset, tmp_path):
    broken = tmp_path / "broken"
    write_dataset(read_dataset(dataset), broken, "csv")
    (broken / "children.csv").unlink()
    out = tmp_path / "assignment.csv"
    result = _solve("--data", str(broken), "--out", str(out))
    assert result.exit_code == 2
    assert "children" in result.output
    assert not out.exists()


def _crowded(solve):
    """A solver that puts every child in the first unit it used: over capacity (a bug, put in)."""
    from dataclasses import replace

    def broken(problem, *args, **kwargs):
        solution = solve(problem, *args, **kwargs)
        first = next(u for u in solution.unit_of_child.values() if u is not None)
        return replace(solution, unit_of_child={c: first for c in solution.unit_of_child})

    return broken


def test_an_assignment_that_breaks_a_hard_rule_is_an_error_and_writes_nothing(dataset, tmp_path, monkeypatch):
    import solver.greedy

    monkeypatch.setattr(solver.greedy, "solve_greedy", _crowded(solver.greedy.solve_greedy))
    out = tmp_path / "assignment.csv"
    result = _solve("--data", str(dataset), "--method", "greedy", "--out", str(out))
    assert result.exit_code == 2
    flat = " ".join(result.output.split())
    assert ("placement solve (greedy) : la réponse enfreint une règle stricte, elle n'est donc pas rendue : "
            "besoins couverts (enfant ") in flat
    assert "de plus). L'erreur a été consignée." in flat
    assert not out.exists()
    result = _solve("--data", str(dataset), "--method", "greedy", "--out", str(out), "--lang", "en")
    flat = " ".join(result.output.split())
    assert result.exit_code == 2
    assert "placement solve (greedy): the answer breaks a hard rule, so it is not returned: " in flat
    assert "(child " in flat and "more)" in flat
    assert not out.exists()


def _one_split(solve):
    """The solver's answer with one fratrie reported split (its cause's machine fields)."""
    from dataclasses import replace

    from solver.siblings import SplitCause
    from solver.solution import SplitReport

    def with_split(problem, *args, **kwargs):
        solution = solve(problem, *args, **kwargs)
        structures = tuple(s.id for s in problem.system.structures[:2])
        cause = SplitCause(kind="needed_by_others", members=2, age_min=5, age_max=9, needs=(),
                           eligible_structures=4, able_structures=3, nearest_structure=structures[0],
                           nearest_minutes=41.6)
        return replace(solution, splits=(SplitReport("F-9999", structures, cause),))

    return with_split


def test_the_report_speaks_french_by_default_and_english_on_request(dataset, monkeypatch):
    import solver.greedy

    monkeypatch.setattr(solver.greedy, "solve_greedy", _one_split(solver.greedy.solve_greedy))
    system = read_dataset(dataset)
    first = system.structures[0]
    french = " ".join(_solve("--data", str(dataset), "--method", "greedy").output.split())
    for words in ("Référence gloutonne sur", "enfants placés sur", "trajet depuis l'ancrage : médiane",
                  "borne inférieure prouvée", "écart à la borne", "coût journalier des nouvelles places",
                  "La fratrie F-9999 est répartie entre", f"{first.name} ({first.id})", "42 min"):
        assert words in french, words
    for internal in ("outside_ile_de_france", "ile_de_france ", "proven bound", "lagrangian", "Sibling group"):
        assert internal not in french, internal
    assert re.search(r"écart à la borne \d+,\d\d %", french)  # a French decimal comma (no-break space: split above)
    english = " ".join(_solve("--data", str(dataset), "--method", "greedy", "--lang", "en").output.split())
    assert "Greedy baseline on" in english and "Fratrie F-9999 is split over" in english
    assert "borne" not in english
    bad = _solve("--data", str(dataset), "--lang", "de")
    assert bad.exit_code == 2 and "--lang must be fr or en" in bad.output


def test_json_splits_keep_their_machine_fields_beside_the_sentence(dataset, monkeypatch):
    import solver.greedy

    monkeypatch.setattr(solver.greedy, "solve_greedy", _one_split(solver.greedy.solve_greedy))
    report = json.loads(_solve("--data", str(dataset), "--method", "greedy", "--json").stdout)
    (split,) = report["splits"]
    assert split["group_id"] == "F-9999" and split["kind"] == "needed_by_others" and split["members"] == 2
    assert split["sentence"].startswith("La fratrie F-9999 est répartie entre")
    english = json.loads(_solve("--data", str(dataset), "--method", "greedy", "--json", "--lang", "en").stdout)
    assert english["splits"][0]["sentence"].startswith("Fratrie F-9999 is split over")


@pytest.mark.parametrize("method", ["greedy", "optimal"])
def test_every_written_explanation_reads_without_internal_terms(dataset, tmp_path, method):
    """Every child's explanation in the file, in both languages: sentences, no snake_case term,
    no decimal score (a full re-plan, so every kind of reason has a chance to appear)."""
    for lang, placed_head, unplaced_head in (("fr", "L'unité ", "Sans place : "), ("en", "The ", "No place: ")):
        out = tmp_path / f"assignment-{lang}.csv"
        result = _solve("--data", str(dataset), "--method", method, "--scope", "all", "--out", str(out),
                        "--lang", lang, "--time-limit", "20")
        assert result.exit_code == 0, result.output
        frame = pd.read_csv(out, dtype={"unit_id": str})
        texts = frame.explanation.fillna("")
        assert (texts.str.len() > 20).all()
        assert texts[frame.unit_id.notna()].str.startswith(placed_head).all()
        assert texts[frame.unit_id.isna()].str.startswith(unplaced_head).all()
        assert not texts.str.contains(r"\b[a-z]+_[a-z_]+\b").any(), texts[texts.str.contains(r"\b[a-z]+_[a-z_]+\b")].iloc[0]
        assert not texts.str.contains(r"(?:coût|cost) \d+\.\d").any()
        if lang == "fr":
            assert texts.str.contains("Places au coût plus bas non retenues").any()
