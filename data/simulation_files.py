"""Files of the simulation: the scenario document (YAML) it reads, the results it writes.

A scenario document is a YAML mapping. The simulation reads two sections (others, such as those
of the scenario comparison, are left to their readers):

* ``capacity_changes``: dated openings and closings of places (see docs/SIMULATION.md and
  :func:`planning.simulation.capacity_changes_from_mapping`);
* ``simulation``: parameters overriding :class:`planning.simulation_parameters.SimulationParameters`.

Results are written into a directory atomically, file by file (a temporary name renamed into
place): ``simulation.json`` (every replication and the summary), ``simulation.html`` (the
report) and ``weekly.csv`` (the series over time, one row per policy and week).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from data.errors import DataIssue, MissingFileError, PlacementDataError, SchemaError

BASE_SCENARIO = "base"
"""The scenario argument meaning "the dataset as it is": no capacity change, default parameters."""


def read_scenario_document(path: Path | str) -> dict[str, Any]:
    """The scenario document at ``path`` as a mapping (``{}`` for :data:`BASE_SCENARIO`); a
    missing file, invalid YAML or a document that is not a mapping is a PlacementDataError naming
    the file."""
    import yaml

    if str(path) == BASE_SCENARIO:
        return {}
    path = Path(path)
    if not path.is_file():
        raise MissingFileError([DataIssue(str(path), None, None, "scenario file not found",
                                                 "fichier de scénario introuvable")])
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        row = mark.line + 1 if mark is not None else None
        raise SchemaError([DataIssue(str(path), row, None, f"not valid YAML: {getattr(err, 'problem', err)}",
                                     f"YAML invalide : {getattr(err, 'problem', err)}")]) from None
    if document is None:
        return {}
    if not isinstance(document, Mapping):
        raise SchemaError([DataIssue(str(path), None, None, f"expected a mapping at the top, got {type(document).__name__}",
                                     f"un ensemble de clés est attendu à la racine, reçu {type(document).__name__}")])
    section = document.get("simulation", {})
    if section is not None and not isinstance(section, Mapping):
        raise SchemaError([DataIssue(str(path), None, "simulation", "expected a mapping of parameter names to values",
                                     "un ensemble de noms de paramètres et de valeurs est attendu")])
    return dict(document)


def _write_atomic(path: Path, write) -> None:
    tmp = path.parent / f".{path.name}.tmp-{uuid.uuid4().hex[:8]}"
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def weekly_frame(result: Mapping[str, Any]) -> pd.DataFrame:
    """The weekly series averaged over replications, one row per policy and week."""
    rows = []
    for policy, series in result["summary"]["weekly"].items():
        keys = [k for k in series if k != "week"]
        for k, week in enumerate(series["week"]):
            rows.append({"policy": policy, "week": week, **{key: series[key][k] for key in keys}})
    return pd.DataFrame(rows)


def write_simulation(directory: Path | str, result: Mapping[str, Any], report_html: str) -> dict[str, str]:
    """Write ``simulation.json``, ``simulation.html`` and ``weekly.csv`` into ``directory``
    (created if needed); returns their paths."""
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise PlacementDataError([DataIssue(str(directory), None, None, f"cannot create the output directory: {err}",
                                                      f"impossible de créer le dossier de sortie : {err}")]) from None
    paths = {"json": directory / "simulation.json", "html": directory / "simulation.html", "weekly": directory / "weekly.csv"}
    _write_atomic(paths["json"], lambda p: p.write_text(json.dumps(result, indent=1, ensure_ascii=False, default=str), encoding="utf-8"))
    _write_atomic(paths["html"], lambda p: p.write_text(report_html, encoding="utf-8"))
    _write_atomic(paths["weekly"], lambda p: weekly_frame(result).to_csv(p, index=False))
    return {k: str(v) for k, v in paths.items()}
