"""Import and export of a placement dataset as CSV or Parquet, validated as a whole.

A dataset is a directory holding ``children``, ``sibling_groups``, ``structures`` and ``units``
(one ``.csv`` or ``.parquet`` file each) and ``dataset.json`` (``reference_date``, ``format``,
and the generator's parameters when it was generated). Columns carry their unit in the name
(``daily_price_eur``, ``judge_max_travel_minutes``); lists are ``|``-separated values.

:func:`read_dataset` checks everything before building anything and reports every problem at
once in a :class:`data.errors.PlacementDataError` (MissingFileError, SchemaError or
UnknownReferenceError) whose issues name the file, the row, the column and the reason. Rows:
in a CSV file, 1-based with the header as row 1 (so the first record is row 2), as a
spreadsheet shows it; in a Parquet file, the 1-based position of the record in the table (no
header row). Nothing is half-imported: it returns a complete system or raises.

:func:`write_dataset` writes into a temporary sibling directory and moves it into place, so a
failed write leaves the previous dataset intact.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import uuid
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from data.errors import DataIssue, MissingFileError, PlacementDataError, SchemaError, UnknownReferenceError
from matcher import (
    Child,
    CurrentPlacement,
    DomainError,
    Home,
    HomeAbsence,
    JudgeConstraints,
    LegalBasis,
    Location,
    Need,
    Operator,
    Place,
    PlacementSystem,
    School,
    Service,
    Sex,
    SiblingGroup,
    Structure,
    StructureType,
    Unit,
    UnitSex,
    Urgency,
    VisitSite,
    Wish,
)
from matcher.model import MAX_AGE_YEARS

Format = Literal["csv", "parquet"]
FORMATS: tuple[str, ...] = ("csv", "parquet")
MANIFEST = "dataset.json"
LIST_SEPARATOR = "|"


@dataclass(frozen=True, slots=True)
class Column:
    """One column of a table: its kind, whether it may be empty, its allowed range."""

    name: str
    kind: Literal["str", "int", "float", "date", "bool", "enum", "enum_list", "str_list"]
    required: bool = True
    may_be_absent: bool = False
    """A column added after files were first written: a file without it reads as all empty."""
    enum: type[StrEnum] | None = None
    min: float | None = None
    max: float | None = None
    may_be_absent: bool = False
    """A column added after the first datasets were written: a file without it reads as if
    every value were empty (the default)."""


TABLES: dict[str, tuple[Column, ...]] = {
    "children": (
        Column("id", "str"),
        Column("birth_date", "date"),
        Column("sex", "enum", enum=Sex),
        Column("home_id", "str", required=False),
        Column("home_lat", "float", required=False, min=-90, max=90),
        Column("home_lon", "float", required=False, min=-180, max=180),
        Column("home_commune", "str", required=False),
        Column("home_departement", "str", required=False),
        Column("waiting_since", "date"),
        Column("sibling_group_id", "str", required=False),
        Column("needs", "enum_list", required=False, enum=Need),
        Column("legal_basis", "enum", enum=LegalBasis),
        Column("urgency", "enum", enum=Urgency),
        Column("current_unit_id", "str", required=False),
        Column("current_since", "date", required=False),
        Column("judge_excluded_structures", "str_list", required=False),
        Column("judge_excluded_departements", "str_list", required=False),
        Column("judge_max_travel_minutes", "float", required=False, min=0),
        Column("judge_separated_from", "str_list", required=False),
        Column("pregnant", "bool"),
        Column("own_child_birth_date", "date", required=False),
        Column("service", "enum", required=False, enum=Service, may_be_absent=True),
        Column("home_absence", "enum", required=False, enum=HomeAbsence, may_be_absent=True),
        *(Column(f"{prefix}_{name}", kind, required=False, may_be_absent=True, min=lo, max=hi)
          for prefix in ("school", "visit_site")
          for name, kind, lo, hi in (("id", "str", None, None), ("lat", "float", -90, 90), ("lon", "float", -180, 180),
                                     ("commune", "str", None, None), ("departement", "str", None, None))),
        Column("judge_supervised_visits", "bool", required=False, may_be_absent=True),
        Column("own_children", "int", required=False, may_be_absent=True, min=0),
        Column("judge_placed_away", "bool", required=False, may_be_absent=True),
        Column("wish", "enum", required=False, enum=Wish, may_be_absent=True),
    ),
    "sibling_groups": (
        Column("id", "str"),
        Column("child_ids", "str_list"),
        Column("together", "bool"),
    ),
    "structures": (
        Column("id", "str"),
        Column("name", "str"),
        Column("type", "enum", enum=StructureType),
        Column("operator", "enum", enum=Operator),
        Column("lat", "float", min=-90, max=90),
        Column("lon", "float", min=-180, max=180),
        Column("commune", "str"),
        Column("departement", "str"),
        Column("capabilities", "enum_list", required=False, enum=Need),
        Column("daily_price_eur", "float", min=0),
        Column("secret", "bool"),
    ),
    "units": (
        Column("id", "str"),
        Column("structure_id", "str"),
        Column("age_min", "int", min=0, max=MAX_AGE_YEARS),
        Column("age_max", "int", min=0, max=MAX_AGE_YEARS),
        Column("sex", "enum", enum=UnitSex),
        Column("capacity", "int", min=0),
        Column("occupied", "int", min=0),
        Column("takes_siblings", "bool"),
    ),
}
"""The four tables of a dataset and their columns, in file order."""

_ARROW_TYPES = {"str": pa.string(), "int": pa.int64(), "float": pa.float64(), "date": pa.date32(),
                "bool": pa.bool_(), "enum": pa.string(), "enum_list": pa.string(), "str_list": pa.string()}


# --- writing ------------------------------------------------------------------------------


def _join(values) -> str:
    return LIST_SEPARATOR.join(sorted(str(v) for v in values))


PLACE_FIELDS = ("id", "lat", "lon", "commune", "departement")
"""The columns of a place (family home, school, visit site): ``<prefix>_<field>``."""


def _place_cells(prefix: str, place: Place | None) -> dict[str, Any]:
    if place is None:
        return {f"{prefix}_{f}": None for f in PLACE_FIELDS}
    loc = place.location
    return {f"{prefix}_id": place.id, f"{prefix}_lat": loc.lat, f"{prefix}_lon": loc.lon,
            f"{prefix}_commune": loc.commune, f"{prefix}_departement": loc.departement}


def system_tables(system: PlacementSystem) -> dict[str, pd.DataFrame]:
    """The four tables of a system as DataFrames (one row per child, group, structure, unit)."""
    children = [{
        "id": c.id, "birth_date": c.birth_date, "sex": c.sex.value, **_place_cells("home", c.home),
        "waiting_since": c.waiting_since, "sibling_group_id": c.sibling_group_id,
        "needs": _join(n.value for n in c.needs), "legal_basis": c.legal_basis.value,
        "urgency": c.urgency.value,
        "current_unit_id": c.current.unit_id if c.current else None,
        "current_since": c.current.since if c.current else None,
        "judge_excluded_structures": _join(c.judge.excluded_structures),
        "judge_excluded_departements": _join(c.judge.excluded_departements),
        "judge_max_travel_minutes": c.judge.max_travel_minutes,
        "judge_separated_from": _join(c.judge.separated_from),
        "pregnant": c.pregnant, "own_child_birth_date": c.own_child_birth_date, "service": c.service.value,
        "home_absence": c.home_absence.value if c.home_absence is not None else None,
        **_place_cells("school", c.school), **_place_cells("visit_site", c.visit_site),
        "judge_supervised_visits": c.judge.supervised_visits, "own_children": c.own_children,
        "judge_placed_away": c.judge.placed_away, "wish": c.wish.value,
    } for c in system.children]
    groups = [{"id": g.id, "child_ids": LIST_SEPARATOR.join(g.child_ids), "together": g.together}
              for g in system.sibling_groups]
    structures = [{
        "id": s.id, "name": s.name, "type": s.type.value, "operator": s.operator.value,
        "lat": s.location.lat, "lon": s.location.lon, "commune": s.location.commune,
        "departement": s.location.departement, "capabilities": _join(n.value for n in s.capabilities),
        "daily_price_eur": s.daily_price_eur, "secret": s.secret,
    } for s in system.structures]
    units = [{
        "id": u.id, "structure_id": u.structure_id, "age_min": u.age_min, "age_max": u.age_max,
        "sex": u.sex.value, "capacity": u.capacity, "occupied": u.occupied,
        "takes_siblings": u.takes_siblings,
    } for u in system.units]
    rows = {"children": children, "sibling_groups": groups, "structures": structures, "units": units}
    return {name: pd.DataFrame(rows[name], columns=[c.name for c in cols])
            for name, cols in TABLES.items()}


def write_table(frame: pd.DataFrame, path: Path, table: str) -> None:
    """Write one table as CSV or Parquet (by the file's suffix), with typed Parquet columns."""
    cols = TABLES[table]
    if path.suffix == ".csv":
        out = frame.copy()
        for c in cols:
            if c.kind == "bool":
                out[c.name] = out[c.name].map({True: "true", False: "false"})
            elif c.kind == "date":
                out[c.name] = out[c.name].map(lambda d: d.isoformat() if isinstance(d, date) else "")
            elif c.kind == "float":
                out[c.name] = out[c.name].map(lambda x: "" if x is None or (isinstance(x, float) and math.isnan(x)) else repr(float(x)))
        out.to_csv(path, index=False)
    elif path.suffix == ".parquet":
        schema = pa.schema([(c.name, _ARROW_TYPES[c.kind]) for c in cols])
        arrays = []
        for c in cols:
            values = [None if (v is None or (isinstance(v, float) and math.isnan(v))) else v
                      for v in frame[c.name].tolist()]
            arrays.append(pa.array(values, type=_ARROW_TYPES[c.kind]))
        pq.write_table(pa.Table.from_arrays(arrays, schema=schema), path)
    else:
        raise PlacementDataError([DataIssue(path.name, None, None, "unknown format: use .csv or .parquet",
                                            "format inconnu : utilisez .csv ou .parquet")])


def write_dataset(
    system: PlacementSystem,
    directory: Path,
    fmt: Format = "csv",
    generator: dict[str, Any] | None = None,
) -> Path:
    """Write the system to ``directory`` (replaced as a whole, atomically). Returns the directory."""
    if fmt not in FORMATS:
        raise PlacementDataError([DataIssue(str(directory), None, None,
                                            f"unknown format {fmt!r}; allowed: {', '.join(FORMATS)}",
                                            f"format {fmt!r} inconnu ; permis : {', '.join(FORMATS)}")])
    directory = Path(directory)
    parent = directory.resolve().parent
    parent.mkdir(parents=True, exist_ok=True)
    tmp = parent / f".{directory.name}.tmp-{uuid.uuid4().hex[:8]}"
    old = parent / f".{directory.name}.old-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        for name, frame in system_tables(system).items():
            write_table(frame, tmp / f"{name}.{fmt}", name)
        manifest = {
            "reference_date": system.reference_date.isoformat(),
            "format": fmt,
            "generator": generator,
            "counts": {"children": len(system.children), "sibling_groups": len(system.sibling_groups),
                       "structures": len(system.structures), "units": len(system.units)},
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
        target = parent / directory.name
        if target.exists():
            os.replace(target, old)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old.exists() and not (parent / directory.name).exists():
            os.replace(old, parent / directory.name)
        raise
    shutil.rmtree(old, ignore_errors=True)
    return parent / directory.name


# --- reading ------------------------------------------------------------------------------


class _Issues:
    """Collects issues with their kind (missing file, schema, reference)."""

    def __init__(self) -> None:
        self.items: list[tuple[str, DataIssue]] = []
        self.unusable: set[str] = set()
        """Files that could not be read at all (missing, unreadable, missing columns)."""

    def add(self, kind: str, file: str, row: int | None, column: str | None, reason: str,
            fr: str | None = None) -> None:
        """One issue: ``reason`` in English, ``fr`` the same in French."""
        self.items.append((kind, DataIssue(file, row, column, reason, fr)))

    def raise_if_any(self) -> None:
        if not self.items:
            return
        kinds = {k for k, _ in self.items}
        issues = [i for _, i in self.items]
        if "missing" in kinds:
            raise MissingFileError(issues)
        if "schema" in kinds:
            raise SchemaError(issues)
        raise UnknownReferenceError(issues)


_PLACE_FR = {"home": "un domicile", "school": "une école", "visit_site": "un lieu de visite"}
"""The kinds of place of a child's row, in French."""


def _is_missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or (isinstance(v, str) and v.strip() == "") \
        or v is pd.NaT


def _parse(col: Column, v: Any) -> Any:
    """The value of a cell, or raise :class:`DomainError` (a ValueError) with the reason in
    English and in French."""
    if col.kind == "str":
        return str(v).strip()
    if col.kind == "int":
        if isinstance(v, bool):
            raise _not_whole(v)
        if isinstance(v, float):
            if not v.is_integer():
                raise _not_whole(v)
            x = int(v)
        else:
            try:
                x = int(str(v).strip())
            except ValueError:
                raise _not_whole(v) from None
        return _in_range(col, x)
    if col.kind == "float":
        try:
            x = float(v)
        except (TypeError, ValueError):
            raise DomainError(f"{v!r} is not a number", fr=f"{v!r} n'est pas un nombre") from None
        if not math.isfinite(x):
            raise DomainError(f"{v!r} is not a finite number", fr=f"{v!r} n'est pas un nombre fini")
        return _in_range(col, x)
    if col.kind == "date":
        if isinstance(v, pd.Timestamp):
            return v.date()
        if isinstance(v, date):
            return v
        try:
            return date.fromisoformat(str(v).strip())
        except ValueError:
            raise DomainError(f"{v!r} is not a date (YYYY-MM-DD)", fr=f"{v!r} n'est pas une date (AAAA-MM-JJ)") from None
    if col.kind == "bool":
        if isinstance(v, bool):
            return v
        s = str(v).strip().lower()
        if s in ("true", "1", "yes"):
            return True
        if s in ("false", "0", "no"):
            return False
        raise DomainError(f"{v!r} is not true or false", fr=f"{v!r} n'est ni vrai ni faux (true ou false)")
    if col.kind == "enum":
        assert col.enum is not None
        try:
            return col.enum(str(v).strip())
        except ValueError:
            allowed = ", ".join(e.value for e in col.enum)
            raise DomainError(f"unknown value {v!r}; allowed: {allowed}",
                              fr=f"valeur {v!r} inconnue ; permises : {allowed}") from None
    parts = [p.strip() for p in str(v).split(LIST_SEPARATOR) if p.strip()]
    if col.kind == "enum_list":
        assert col.enum is not None
        out = []
        allowed_values = {e.value for e in col.enum}
        for p in parts:
            if p not in allowed_values:
                allowed = ", ".join(e.value for e in col.enum)
                raise DomainError(f"unknown value {p!r}; allowed: {allowed} (separated by '{LIST_SEPARATOR}')",
                                  fr=f"valeur {p!r} inconnue ; permises : {allowed} (séparées par "
                                  f"'{LIST_SEPARATOR}')")
            out.append(col.enum(p))
        return frozenset(out)
    return tuple(parts)


def _in_range(col: Column, x: float) -> float:
    if col.min is not None and x < col.min:
        raise DomainError(f"{x} is below the minimum {col.min:g}", fr=f"{x} est sous le minimum {col.min:g}")
    if col.max is not None and x > col.max:
        raise DomainError(f"{x} is above the maximum {col.max:g}", fr=f"{x} dépasse le maximum {col.max:g}")
    return x


def _not_whole(v: Any) -> DomainError:
    return DomainError(f"{v!r} is not a whole number", fr=f"{v!r} n'est pas un nombre entier")


def _empty(col: Column) -> Any:
    return {"enum_list": frozenset(), "str_list": ()}.get(col.kind)


def read_table(path: Path, table: str, issues: _Issues | None = None) -> list[dict[str, Any]]:
    """Read and check one table file (CSV or Parquet). Returns one dict per row, each with
    ``_row`` (the row number as issues name it). Raises PlacementDataError when called alone."""
    alone = issues is None
    issues = issues or _Issues()
    path = Path(path)
    fname = path.name
    cols = TABLES[table]
    if not path.is_file():
        issues.add("missing", fname, None, None, f"file not found in {path.parent}",
                   f"fichier introuvable dans {path.parent}")
        issues.unusable.add(fname)
        if alone:
            issues.raise_if_any()
        return []
    try:
        if path.suffix == ".csv":
            frame = pd.read_csv(path, dtype=str, keep_default_na=False)
            first_row = 2
        else:
            frame = pq.read_table(path).to_pandas(types_mapper=None)
            first_row = 1
    except Exception as err:  # unreadable file: say why, with the file name
        issues.add("schema", fname, None, None, f"cannot be read: {err}", f"illisible : {err}")
        issues.unusable.add(fname)
        if alone:
            issues.raise_if_any()
        return []
    known = {c.name for c in cols}
    for c in cols:
        if c.may_be_absent and c.name not in frame.columns:
            frame[c.name] = "" if first_row == 2 else None
    missing = [c.name for c in cols if c.name not in frame.columns]
    for name in missing:
        issues.add("schema", fname, 1 if first_row == 2 else None, name, "missing column", "colonne absente")
    for name in frame.columns:
        if name not in known:
            issues.add("schema", fname, 1 if first_row == 2 else None, str(name),
                       f"unknown column; expected: {', '.join(c.name for c in cols)}",
                       f"colonne inconnue ; attendues : {', '.join(c.name for c in cols)}")
    if missing:
        issues.unusable.add(fname)
        if alone:
            issues.raise_if_any()
        return []
    rows: list[dict[str, Any]] = []
    records = frame[[c.name for c in cols]].to_dict("records")
    for i, rec in enumerate(records):
        rownum = first_row + i
        out: dict[str, Any] = {"_row": rownum}
        for c in cols:
            v = rec[c.name]
            if _is_missing(v):
                if c.required:
                    issues.add("schema", fname, rownum, c.name, "empty value", "valeur vide")
                out[c.name] = _empty(c)
                continue
            try:
                out[c.name] = _parse(c, v)
            except ValueError as err:
                issues.add("schema", fname, rownum, c.name, str(err), getattr(err, "fr", None))
                out[c.name] = _empty(c)
        rows.append(out)
    if alone:
        issues.raise_if_any()
    return rows


def _find(directory: Path, table: str, fmt: str) -> Path:
    return directory / f"{table}.{fmt}"


def read_dataset(directory: Path) -> PlacementSystem:
    """Read, check and build the placement system of a dataset directory (CSV or Parquet)."""
    directory = Path(directory)
    issues = _Issues()
    if not directory.is_dir():
        issues.add("missing", str(directory), None, None, "dataset directory not found",
                   "dossier de données introuvable")
        issues.raise_if_any()
    manifest_path = directory / MANIFEST
    reference_date: date | None = None
    fmt = None
    if not manifest_path.is_file():
        issues.add("missing", MANIFEST, None, None, f"file not found in {directory}",
                   f"fichier introuvable dans {directory}")
    else:
        try:
            manifest = json.loads(manifest_path.read_text())
            reference_date = date.fromisoformat(str(manifest.get("reference_date")))
        except (ValueError, TypeError, AttributeError) as err:
            issues.add("schema", MANIFEST, None, "reference_date", f"not a date (YYYY-MM-DD): {err}",
                       f"pas une date (AAAA-MM-JJ) : {err}")
            manifest = {}
        fmt = manifest.get("format") if isinstance(manifest, dict) else None
        if fmt not in FORMATS:
            issues.add("schema", MANIFEST, None, "format", f"unknown format {fmt!r}; allowed: {', '.join(FORMATS)}",
                       f"format {fmt!r} inconnu ; permis : {', '.join(FORMATS)}")
    if fmt not in FORMATS:
        fmt = "parquet" if (directory / "children.parquet").exists() else "csv"
    tables = {name: read_table(_find(directory, name, fmt), name, issues) for name in TABLES}
    files = {name: f"{name}.{fmt}" for name in TABLES}
    if issues.unusable or reference_date is None:
        issues.raise_if_any()  # cross-file checks would only echo the unusable file
    _check_dataset(tables, files, reference_date, issues)
    issues.raise_if_any()
    assert reference_date is not None
    return _build(tables, files, reference_date)


def _check_dataset(tables: dict[str, list[dict]], files: dict[str, str], on: date | None,
                   issues: _Issues) -> None:
    """Cross-row and cross-file checks: duplicates, references, ages, capacities."""
    ids: dict[str, set[str]] = {}
    for name, rows in tables.items():
        seen: dict[str, int] = {}
        for r in rows:
            rid = r.get("id")
            if not rid:
                continue
            if rid in seen:
                issues.add("schema", files[name], r["_row"], "id", f"duplicate id {rid!r} (first at row {seen[rid]})",
                           f"identifiant {rid!r} en double (déjà ligne {seen[rid]})")
            else:
                seen[rid] = r["_row"]
        ids[name] = set(seen)
    f = files
    placed: dict[str, int] = {}
    homes: dict[str, tuple] = {}
    for r in tables["children"]:
        row = r["_row"]
        birth = r.get("birth_date")
        if on is not None and isinstance(birth, date):
            age = on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))
            if not 0 <= age <= MAX_AGE_YEARS:
                issues.add("schema", f["children"], row, "birth_date",
                           f"age {age} on {on.isoformat()} is outside 0-{MAX_AGE_YEARS} years",
                           f"un âge de {age} ans au {on.isoformat()} est hors de 0-{MAX_AGE_YEARS} ans")
        gid = r.get("sibling_group_id")
        if gid and gid not in ids["sibling_groups"]:
            issues.add("reference", f["children"], row, "sibling_group_id", f"unknown sibling group {gid!r}",
                       f"fratrie {gid!r} inconnue")
        uid = r.get("current_unit_id")
        if uid:
            if uid not in ids["units"]:
                issues.add("reference", f["children"], row, "current_unit_id", f"unknown unit {uid!r}",
                           f"unité {uid!r} inconnue")
            placed[uid] = placed.get(uid, 0) + 1
            if r.get("current_since") is None:
                issues.add("schema", f["children"], row, "current_since", "empty value for a placed child",
                           "valeur vide pour un enfant placé")
        elif r.get("current_since") is not None:
            issues.add("schema", f["children"], row, "current_since", "a start date without a current unit",
                       "une date de début sans unité actuelle")
        for sid in r.get("judge_excluded_structures") or ():
            if sid not in ids["structures"]:
                issues.add("reference", f["children"], row, "judge_excluded_structures", f"unknown structure {sid!r}",
                           f"structure {sid!r} inconnue")
        for cid in r.get("judge_separated_from") or ():
            if cid not in ids["children"]:
                issues.add("reference", f["children"], row, "judge_separated_from", f"unknown child {cid!r}",
                           f"enfant {cid!r} inconnu")
        for prefix in ("home", "school", "visit_site"):
            given = [c for c in PLACE_FIELDS if r.get(f"{prefix}_{c}") is not None]
            if given and len(given) < len(PLACE_FIELDS):
                for c in PLACE_FIELDS:
                    if c not in given:
                        issues.add("schema", f["children"], row, f"{prefix}_{c}",
                                   f"empty value: a {prefix.replace('_', ' ')} needs all of "
                                   + ", ".join(f"{prefix}_{x}" for x in PLACE_FIELDS),
                                   f"valeur vide : {_PLACE_FR[prefix]} demande toutes les colonnes "
                                   + ", ".join(f"{prefix}_{x}" for x in PLACE_FIELDS))
                continue
            pid = r.get(f"{prefix}_id")
            if pid:
                loc = (prefix, *(r.get(f"{prefix}_{c}") for c in PLACE_FIELDS[1:]))
                if pid in homes and homes[pid][0] != loc:
                    issues.add("schema", f["children"], row, f"{prefix}_id",
                               f"place {pid!r} is a {homes[pid][0][0].replace('_', ' ')} at another location or "
                               f"of another kind at row {homes[pid][1]}",
                               f"le lieu {pid!r} est déjà, ligne {homes[pid][1]}, {_PLACE_FR[homes[pid][0][0]]} "
                               "à un autre endroit ou d'une autre sorte")
                homes.setdefault(pid, (loc, row))
        has_home = bool(r.get("home_id"))
        if not has_home and r.get("home_absence") is None and not any(r.get(f"home_{c}") is not None for c in PLACE_FIELDS):
            issues.add("schema", f["children"], row, "home_absence",
                       "no family home: give home_id, home_lat, home_lon, home_commune, home_departement, "
                       "or home_absence (unknown, abroad, none)",
                       "pas de domicile familial : donnez home_id, home_lat, home_lon, home_commune, "
                       "home_departement, ou home_absence (unknown, abroad, none)")
        elif has_home and r.get("home_absence") is not None:
            issues.add("schema", f["children"], row, "home_absence",
                       f"a family home is given, so home_absence must be empty (got {r['home_absence'].value!r})",
                       f"un domicile familial est donné, home_absence doit donc être vide (reçu "
                       f"{r['home_absence'].value!r})")
    for r in tables["sibling_groups"]:
        for cid in r.get("child_ids") or ():
            if cid not in ids["children"]:
                issues.add("reference", f["sibling_groups"], r["_row"], "child_ids", f"unknown child {cid!r}",
                           f"enfant {cid!r} inconnu")
    for r in tables["units"]:
        row = r["_row"]
        sid = r.get("structure_id")
        if sid and sid not in ids["structures"]:
            issues.add("reference", f["units"], row, "structure_id", f"unknown structure {sid!r}",
                       f"structure {sid!r} inconnue")
        lo, hi = r.get("age_min"), r.get("age_max")
        if isinstance(lo, int) and isinstance(hi, int) and lo > hi:
            issues.add("schema", f["units"], row, "age_max", f"age_max {hi} is below age_min {lo}",
                       f"age_max {hi} est inférieur à age_min {lo}")
        cap, occ = r.get("capacity"), r.get("occupied")
        if isinstance(cap, int) and isinstance(occ, int) and occ > cap:
            issues.add("schema", f["units"], row, "occupied", f"{occ} occupied places for a capacity of {cap}",
                       f"{occ} places occupées pour une capacité de {cap}")
        n = placed.get(r.get("id"), 0)
        if isinstance(occ, int) and n > occ:
            issues.add("schema", f["units"], row, "occupied",
                       f"{n} children are placed here ({f['children']}) but only {occ} places are occupied",
                       f"{n} enfants sont placés ici ({f['children']}) mais seules {occ} places sont occupées")


def _build(tables: dict[str, list[dict]], files: dict[str, str], on: date) -> PlacementSystem:
    """Domain objects from checked rows; any DomainError becomes a PlacementDataError."""
    issues = _Issues()

    def make(file: str, row: int, fn):
        try:
            return fn()
        except DomainError as err:
            issues.add("schema", file, row, None, str(err), err.fr)
            return None

    places: dict[tuple[str, str], Place] = {}

    def place(kind: type[Place], prefix: str, r: dict) -> Place | None:
        pid = r.get(f"{prefix}_id")
        if not pid:
            return None
        known = places.get((prefix, pid))
        if known is None:
            known = kind(pid, Location(r[f"{prefix}_lat"], r[f"{prefix}_lon"], r[f"{prefix}_commune"],
                                       r[f"{prefix}_departement"]))
            places[(prefix, pid)] = known
        return known

    children = []
    for r in tables["children"]:
        def child(r=r) -> Child:
            home = place(Home, "home", r)
            current = CurrentPlacement(r["current_unit_id"], r["current_since"]) if r["current_unit_id"] else None
            return Child(
                id=r["id"], birth_date=r["birth_date"], sex=r["sex"], home=home,
                waiting_since=r["waiting_since"], sibling_group_id=r["sibling_group_id"] or None,
                needs=r["needs"], legal_basis=r["legal_basis"], urgency=r["urgency"], current=current,
                judge=JudgeConstraints(frozenset(r["judge_excluded_structures"]),
                                       frozenset(r["judge_excluded_departements"]),
                                       r["judge_max_travel_minutes"], frozenset(r["judge_separated_from"]),
                                       bool(r.get("judge_supervised_visits")), placed_away=bool(r.get("judge_placed_away"))),
                pregnant=r["pregnant"], own_child_birth_date=r["own_child_birth_date"],
                service=r.get("service") or None, home_absence=r.get("home_absence") or None,
                school=place(School, "school", r), visit_site=place(VisitSite, "visit_site", r),
                own_children=int(r.get("own_children") or 0), wish=r.get("wish") or Wish.NONE,
            )
        children.append(make(files["children"], r["_row"], child))
    groups = [make(files["sibling_groups"], r["_row"],
                   lambda r=r: SiblingGroup(r["id"], tuple(r["child_ids"]), r["together"]))
              for r in tables["sibling_groups"]]
    structures = [make(files["structures"], r["_row"], lambda r=r: Structure(
        r["id"], r["name"], r["type"], r["operator"],
        Location(r["lat"], r["lon"], r["commune"], r["departement"]),
        r["capabilities"], r["daily_price_eur"], r["secret"])) for r in tables["structures"]]
    units = [make(files["units"], r["_row"], lambda r=r: Unit(
        r["id"], r["structure_id"], r["age_min"], r["age_max"], r["sex"], r["capacity"],
        r["occupied"], r["takes_siblings"])) for r in tables["units"]]
    issues.raise_if_any()
    try:
        return PlacementSystem(on, tuple(children), tuple(groups), tuple(structures), tuple(units))
    except DomainError as err:
        raise SchemaError([DataIssue("<dataset>", None, None, str(err), err.fr)]) from None
