"""Refusals in the reader's language: the engine's errors carry their French words, the API's
problem details and the command line's `erreur :` say them, and no refusal of the service is
left with English words only."""

from __future__ import annotations

import ast
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from data.errors import DataIssue, PlacementDataError
from data.io import read_dataset, write_dataset
from matcher.errors import DomainError, PlacementError
from tests.api_support import sample_system

ROOT = Path(__file__).resolve().parents[1]


def test_an_error_says_its_french_words_to_a_french_reader_and_its_english_ones_otherwise():
    err = DomainError("capacity must be a whole number", fr="la capacité doit être un nombre entier")
    assert err.said("fr") == "la capacité doit être un nombre entier"
    assert err.said("en") == str(err) == "capacity must be a whole number"
    assert PlacementError("only English").said("fr") == "only English"  # nothing hidden when no French exists


def test_a_data_error_lists_every_issue_in_french_with_row_and_column():
    err = PlacementDataError([DataIssue("units.csv", 3, "capacity", "'x' is not a whole number",
                                        "'x' n'est pas un nombre entier"),
                              DataIssue("children.csv", None, None, "file not found in d")])
    assert err.said("fr") == ("2 problème(s) dans les données :\n"
                              "  - units.csv, ligne 3, colonne 'capacity' : 'x' n'est pas un nombre entier\n"
                              "  - children.csv : file not found in d")
    assert str(err).startswith("2 problem(s) in the input:\n  - units.csv, row 3, column 'capacity': 'x' is not")


def _broken_dataset(tmp_path: Path) -> Path:
    """A dataset with one of most kinds of problem the loader finds: wrong types, unknown values,
    an empty value, out of range, a duplicate id, unknown references, an impossible age."""
    directory = write_dataset(sample_system(), tmp_path / "data", "csv")
    units = (directory / "units.csv").read_text().splitlines()
    header = units[0].split(",")
    row = units[1].split(",")
    row[header.index("capacity")] = "many"
    row[header.index("structure_id")] = "S-nowhere"
    units[1] = ",".join(row)
    units.append(units[2])  # a duplicate id
    (directory / "units.csv").write_text("\n".join(units) + "\n")
    children = (directory / "children.csv").read_text().splitlines()
    header = children[0].split(",")
    row = children[1].split(",")
    row[header.index("sex")] = "X"
    row[header.index("birth_date")] = "1950-01-01"
    row[header.index("sibling_group_id")] = "F-nowhere"
    children[1] = ",".join(row)
    row = children[2].split(",")
    row[header.index("id")] = ""
    children[2] = ",".join(row)
    (directory / "children.csv").write_text("\n".join(children) + "\n")
    return directory


def test_every_problem_the_loader_finds_has_its_french_words(tmp_path):
    directory = _broken_dataset(tmp_path)
    with pytest.raises(PlacementDataError) as caught:
        read_dataset(directory)
    issues = caught.value.issues
    assert len(issues) >= 3
    assert [i for i in issues if not i.reason_fr] == []
    said = caught.value.said("fr")
    assert "n'est pas un nombre entier" in said and "valeur vide" in said and "ligne" in said, said
    # the references and the age are checked once the types are right
    (directory / "units.csv").write_text((directory / "units.csv").read_text().replace("many", "3"))
    children = (directory / "children.csv").read_text().replace(",X,", ",F,")
    (directory / "children.csv").write_text(children)
    with pytest.raises(PlacementDataError) as caught:
        read_dataset(directory)
    assert [i for i in caught.value.issues if not i.reason_fr] == []
    said = caught.value.said("fr")
    assert "structure 'S-nowhere' inconnue" in said or "identifiant" in said, said


def test_a_domain_rule_the_loader_meets_is_said_in_french(tmp_path):
    """Rules the domain checks itself (a boy cannot be pregnant) reach the reader in French too."""
    directory = write_dataset(sample_system(), tmp_path / "data", "csv")
    lines = (directory / "children.csv").read_text().splitlines()
    header = lines[0].split(",")
    row = lines[1].split(",")
    assert row[header.index("sex")] == "M"
    row[header.index("pregnant")] = "true"
    lines[1] = ",".join(row)
    (directory / "children.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(PlacementDataError) as caught:
        read_dataset(directory)
    assert [i for i in caught.value.issues if not i.reason_fr] == []
    assert "seule une fille ou une jeune femme peut être enceinte ou mère" in caught.value.said("fr")
    assert "only a girl or young woman can be pregnant" in str(caught.value)


def test_the_command_line_says_its_errors_in_the_language_asked(tmp_path):
    runner = CliRunner()
    missing = tmp_path / "nowhere"
    fr = runner.invoke(app, ["solve", "--data", str(missing)])
    assert fr.exit_code != 0
    assert "erreur : " in fr.output and "ce dossier de données n'existe pas" in fr.output, fr.output
    en = runner.invoke(app, ["solve", "--data", str(missing), "--lang", "en"])
    assert "error: " in en.output and "no such dataset directory" in en.output, en.output
    missing.mkdir()  # a directory without the dataset's files: every file named, in French
    fr = runner.invoke(app, ["solve", "--data", str(missing)])
    assert "erreur : 5 problème(s) dans les données" in fr.output, fr.output
    assert "children.csv : fichier introuvable dans" in fr.output, fr.output


# --- no refusal of the service left in English only ----------------------------------------------

_BILINGUAL_CALLS = {"ApiProblem", "ConflictError", "NotFoundError", "EmptyStoreError", "ServiceUnavailable",
                    "JobQueueFull", "JobCancelled", "PlacementError", "DomainError", "StoreError", "SolverError",
                    "PasswordPolicyError"}
"""Errors raised with their message: each is raised with ``fr=``."""
_ISSUE_LISTS = {"PlacementDataError", "MissingFileError", "SchemaError", "UnknownReferenceError"}
"""Errors that take a list of issues (each checked below) or one English sentence, then with ``fr=``."""
_FRENCH_SECOND = {"forbidden": 2, "_unauthorized": 2}
"""Helpers that take the French sentence as a positional argument: how many arguments they need."""
_FRENCH_AT = {"DataIssue": (5, "reason_fr"), "ScenarioIssue": (5, "message_fr")}
"""Issues of a file: the French reason is their fifth argument (or named)."""


def _english_only(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
        named = {k.arg for k in node.keywords}
        starred = any(isinstance(a, ast.Starred) for a in node.args)  # f(*both_sentences)
        if name in _BILINGUAL_CALLS and "fr" not in named and not starred:
            found.append(f"{path.name}:{node.lineno} {name}")
        if (name in _ISSUE_LISTS and node.args and isinstance(node.args[0], (ast.Constant, ast.JoinedStr))
                and "fr" not in named):
            found.append(f"{path.name}:{node.lineno} {name}")
        if name in _FRENCH_SECOND and len(node.args) < _FRENCH_SECOND[name] and not starred:
            found.append(f"{path.name}:{node.lineno} {name}")
        if name in _FRENCH_AT and len(node.args) < _FRENCH_AT[name][0] and _FRENCH_AT[name][1] not in named:
            found.append(f"{path.name}:{node.lineno} {name}")
        # the loader's issues.add(kind, file, row, column, reason, fr) and a scenario's where.issue(message, fr)
        # or lines.issue(path, message, fr)
        on = getattr(node.func, "value", None)
        if name == "add" and isinstance(on, ast.Name) and on.id == "issues" and len(node.args) < 6 and "fr" not in named:
            found.append(f"{path.name}:{node.lineno} issues.add")
        if name == "issue" and isinstance(on, (ast.Name, ast.Attribute)) and not starred and "fr" not in named:
            needed = 3 if isinstance(on, ast.Name) and on.id == "lines" else 2
            if len(node.args) < needed:
                found.append(f"{path.name}:{node.lineno} issue")
    return found


def _unsaid_warnings(path: Path) -> list[str]:
    """``warnings.append(...)`` of a sentence without its French words (not a :class:`Said`)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "append"
                and isinstance(node.func.value, ast.Name) and node.func.value.id == "warnings"):
            argument = node.args[0] if node.args else None
            if not (isinstance(argument, ast.Call) and getattr(argument.func, "id", "") == "Said"):
                found.append(f"{path.name}:{node.lineno} warnings.append")
    return found


def test_every_warning_of_the_solver_has_its_french_words(tmp_path):
    assert [f for p in sorted(ROOT.glob("solver/*.py")) for f in _unsaid_warnings(p)] == []
    probe = tmp_path / "probe.py"
    probe.write_text('warnings.append(f"English {only}")\nwarnings.append(Said("both", "les deux"))\n')
    assert _unsaid_warnings(probe) == ["probe.py:1 warnings.append"]


def _sources() -> list[Path]:
    """Every module that can raise an error a user reads: the service, the command line, the
    domain, the data layer, the solver and the planners' package."""
    return sorted(p for package in ("api", "matcher", "data", "solver", "planning") for p in ROOT.glob(f"{package}/**/*.py"))


def test_every_refusal_has_its_french_words():
    assert [f for p in _sources() for f in _english_only(p)] == []


def test_the_check_finds_a_refusal_without_french(tmp_path):
    """The check above is shown to catch each kind of call it guards."""
    probe = tmp_path / "probe.py"
    probe.write_text('raise ApiProblem(409, "Conflict", "English only")\n'
                     'raise ConflictError("English only")\n'
                     'raise forbidden("English only")\n'
                     'raise ApiProblem(409, "Conflict", "both", fr="les deux")\n'
                     'raise DomainError("English only")\n'
                     'raise SolverError(f"English {only}")\n'
                     'raise PlacementDataError("English only")\n'
                     'raise SchemaError([DataIssue("f.csv", 2, "x", "English only")])\n'
                     'raise ScenarioError([ScenarioIssue("f.yaml", 2, "x", "English only")])\n'
                     'issues.add("schema", "f.csv", 2, "x", "English only")\n'
                     'raise ScenarioError([where.issue("English only")])\n'
                     'raise ScenarioError([lines.issue(path, "English only")])\n'
                     'raise DomainError("both", fr="les deux")\n'
                     'raise PlacementDataError("both", fr="les deux")\n'
                     'raise SchemaError([DataIssue("f.csv", 2, "x", "both", "les deux")])\n'
                     'raise ScenarioError([ScenarioIssue("f.yaml", 2, "x", "both", message_fr="les deux")])\n'
                     'issues.add("schema", "f.csv", 2, "x", "both", "les deux")\n'
                     'issues.unusable.add("f.csv")\n'
                     'raise ScenarioError([where.issue("both", "les deux"), lines.issue(path, "both", "les deux")])\n')
    assert sorted(f.split()[-1] for f in _english_only(probe)) == sorted([
        "ApiProblem", "ConflictError", "forbidden", "DomainError", "SolverError", "PlacementDataError", "DataIssue",
        "ScenarioIssue", "issues.add", "issue", "issue"])


def test_pydantic_reasons_are_french_for_a_french_reader():
    from api.problems import _validation_error

    strict = {"type": "int_type", "loc": ("body", "capacity"), "msg": "Input should be a valid integer", "input": "13"}
    assert _validation_error(strict, "fr")["reason"] == "doit être un nombre entier"
    assert _validation_error(strict, "en")["reason"] == "Input should be a valid integer"
    ranged = {"type": "less_than_equal", "loc": ("query", "age"), "msg": "Input should be less than or equal to 21",
              "ctx": {"le": 21}}
    assert _validation_error(ranged, "fr")["reason"] == "doit être au plus 21"
    positive = {"type": "greater_than", "loc": ("body", "hold_hours"), "msg": "Input should be greater than 0",
                "ctx": {"gt": 0.0}}
    assert _validation_error(positive, "fr")["reason"] == "doit être supérieur à 0"
    half = {"type": "less_than_equal", "loc": ("body", "x"), "msg": "...", "ctx": {"le": 2.5}}
    assert _validation_error(half, "fr")["reason"] == "doit être au plus 2,5"
    unknown = {"type": "some_new_type", "loc": ("body", "x"), "msg": "Whatever pydantic says"}
    assert _validation_error(unknown, "fr")["reason"] == "Whatever pydantic says"  # never an empty reason
    ours = {"type": "value_error", "loc": ("body",), "msg": "Value error, give both",
            "ctx": {"error": DomainError("give both", fr="donnez les deux")}}
    assert _validation_error(ours, "fr")["reason"] == "donnez les deux"
    assert _validation_error(ours, "en")["reason"] == "give both"


def test_a_dataset_json_error_is_french_too(tmp_path):
    directory = write_dataset(sample_system(), tmp_path / "data", "csv")
    manifest = directory / "dataset.json"
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "format": "xlsx"}))
    with pytest.raises(PlacementDataError) as caught:
        read_dataset(directory)
    assert "format 'xlsx' inconnu" in caught.value.said("fr")
    shutil.rmtree(directory)


def test_every_problem_of_a_scenario_file_has_its_french_words():
    """A scenario file with one of most kinds of mistake (pydantic's types and bounds, an unknown
    key, change, weight and zone, an impossible age range, a missing key) and a sweep template
    with its own: every issue is said in French too."""
    from planning.scenarios import ScenarioError, parse_scenario
    from planning.sweep import parse_sweep

    text = ("name: x\ndescription: y\ncolour: red\nweights: {speed: 1, transit_minute: -1}\nchanges:\n"
            "  - open: {places: -2, type: castle, zone: {commune: '1'}, ages: [3, 1]}\n"
            "  - paint: {places: 1}\n"
            "  - close: {places: 2}\n"
            "  - demand: {children: 0}\n"
            "  - recruit: {carers: 1, places_per_carer: 2, zone: {structure: S-1}, ages: [0, 3]}\n"
            "  - open: {places: 1, type: mecs, zone: {area: paris}, ages: [0, 3]}\n")
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text)
    issues = caught.value.issues
    assert len(issues) >= 8, [str(i) for i in issues]
    assert [str(i) for i in issues if not i.message_fr] == []
    assert caught.value.said("fr").startswith("le scénario n'est pas valide :")
    sweep = "name: g\ndescription: d\nrank_by: speed\nvary:\n  'n m': []\nchanges:\n  - open: {places: '${k}'}\n"
    with pytest.raises(ScenarioError) as caught:
        parse_sweep(sweep)
    assert caught.value.issues and [str(i) for i in caught.value.issues if not i.message_fr] == []


def test_a_broken_hard_rule_is_said_in_french_by_the_rules_labels_each_once():
    from matcher.errors import HardRuleViolation
    from matcher.rules import Violation

    found = [Violation("age_range", ("C-1",), "age 13 is outside 4-11", "U-1"),
             Violation("age_range", ("C-1",), "age 13 is outside 4-11", "U-1"),
             Violation("siblings_together", ("C-2", "C-3"), "split")]
    err = HardRuleViolation("batch job (optimal)", found, "traitement par lots (optimal)")
    assert err.said("fr") == ("traitement par lots (optimal) : la réponse enfreint une règle stricte, elle n'est donc "
                              "pas rendue : tranche d'âge (enfant C-1, unité U-1) ; fratrie réunie (enfants C-2, C-3). "
                              "L'erreur a été consignée.")
    assert err.said("en").startswith("batch job (optimal): the answer breaks a hard rule")
    many = HardRuleViolation("x", [Violation("age_range", (f"C-{i}",), "r") for i in range(8)])
    assert many.said("fr").endswith("tranche d'âge (enfant C-4) (et 3 de plus). L'erreur a été consignée.")


def test_the_domain_data_and_travel_refusals_are_french_for_a_french_reader(tmp_path):
    from data.geography import locate
    from data.transit.matrix import load_external_matrix
    from matcher.model import AgeBand
    from matcher.proposals import propose
    from api.security import PasswordPolicyError, check_password_policy

    system = sample_system()
    cases = [
        (lambda: AgeBand.of(30), "l'âge 30 ans est hors de 0-21 ans"),
        (lambda: propose(system, ["C-nobody"], None, None, 5), "enfant(s) inconnu(s) : C-nobody"),
        (lambda: locate(40.0, -30.0), "le point (40.00000, -30.00000) est hors de la France métropolitaine"),
        (lambda: check_password_policy("short"), "un mot de passe a au moins 12 caractères"),
    ]
    for call, french in cases:
        with pytest.raises(PlacementError) as caught:
            call()
        assert caught.value.said("fr") == french
        assert caught.value.said("en") != french
    assert issubclass(PasswordPolicyError, ValueError)  # callers that catch ValueError still do
    bad = tmp_path / "minutes.csv"
    bad.write_text("origin,destination,minutes\nH-nowhere,S-nowhere,many\n")
    with pytest.raises(PlacementDataError) as caught:
        load_external_matrix(bad, [], system.structures)
    said = caught.value.said("fr")
    assert "ligne 2, colonne 'minutes' : 'many' n'est pas un nombre" in said
    assert "origine 'H-nowhere' inconnue" in said and "structure 'S-nowhere' inconnue" in said


def test_a_jobs_message_keeps_its_french_words_until_a_plain_one_replaces_them(tmp_path):
    from datetime import datetime

    from data.db import Database
    from data.db import repository as repo
    from matcher.words import Said, failure_words

    db = Database(f"sqlite:///{tmp_path / 'jobs.sqlite3'}")
    db.migrate()
    with db.write() as session:
        job = repo.create_job(session, "greedy", datetime(2026, 12, 3, 9, 0))
        assert job.said("fr") == ("en file d'attente", None) and job.said("en") == ("queued", None)
        repo.update_job(session, job.id, message=Said("done", "terminé"),
                        error=failure_words(DomainError("no place", fr="aucune place")))
    with db.read() as session:
        row = repo.get_job(session, job.id)
        assert row.said("fr") == ("terminé", "aucune place")
        assert row.said("en") == ("done", "DomainError: no place")
    with db.write() as session:
        repo.update_job(session, job.id, message="plain English", error=None)
    with db.read() as session:
        assert repo.get_job(session, job.id).said("fr") == ("plain English", None)  # no French left from before
    assert failure_words(KeyError("x")).said("fr") == "erreur inattendue (KeyError: 'x')"
    db.dispose()


def test_every_stage_of_the_generator_has_its_words_on_the_progress_bar():
    from api.commands.dataset import _STAGE_WORDS
    from data.generator import generate

    stages: list[str] = []
    generate(scale=0.02, seed=1, progress=lambda stage, fraction: stages.append(stage))
    assert stages and set(stages) <= set(_STAGE_WORDS)
