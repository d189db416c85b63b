"""What-if capacity scenarios: a YAML file of changes, validated, and applied to a placement system.

A scenario (:class:`Scenario`) is read from YAML with :func:`load_scenario` or
:func:`parse_scenario`. Every problem is reported at once in one :class:`ScenarioError`, each
issue naming the file, the line and the key (``scenario.yaml:12: changes[0].open.places: ...``).
:func:`apply_scenario` turns a base :class:`matcher.PlacementSystem` into the system the scenario
describes (a new value; the base is never changed), deterministically for the scenario's seed.
Errors that need the base system (an unknown structure, fewer places to close than asked) are
reported the same way, with the line of the change. docs/SCENARIOS.md describes the format.

The changes:

* ``open``: N new places of a structure type, age range, sex and needs in a zone (arrondissement,
  commune, département: a new structure at a point inside it) or in a named structure (a new
  unit there), taking fratries or not;
* ``close``: N places of the units that match (zone, type, ages, sex): free places first, then
  places of children of the dataset (who lose their place and wait again), then places held by
  children outside the dataset;
* ``convert``: N places of the matching units closed as above and opened again in the same
  structures with other attributes (ages, sex, fratries; another type or needs make a new
  structure at the same address);
* ``fratries``: mark the matching units (all, or N of them) as taking siblings;
* ``recruit`` / ``lose``: foster carers (assistants familiaux) with their places, recruited at
  points drawn inside a zone, or lost (their places close, their children wait again);
* ``demand``: more (or fewer) children waiting for a place, of an age band and/or a need
  (new children copy the profile and family home of children of that kind; fewer removes waiting
  children who are not in a fratrie);
* ``weights``: the objective's weights (matcher/weights.toml) changed for this scenario.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal, Mapping

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr, ValidationError

from data.errors import pydantic_reason
from matcher import (
    AgeBand,
    Child,
    DomainError,
    Location,
    Need,
    Operator,
    PlacementError,
    PlacementSystem,
    Structure,
    StructureType,
    Unit,
    UnitSex,
    Weights,
    Zone,
)
from matcher.model import MAX_AGE_YEARS

EXAMPLES_DIR = Path(__file__).parent / "examples"
"""The example scenarios shipped with the engine (drawn from the Paris plan's actions)."""

CHANGE_KINDS = ("open", "close", "convert", "fratries", "recruit", "lose", "demand")

DEFAULT_DAILY_PRICE_EUR: dict[StructureType, float] = {
    StructureType.MECS: 225.0,
    StructureType.POUPONNIERE: 330.0,
    StructureType.FOYER_ENFANCE: 260.0,
    StructureType.ASSISTANT_FAMILIAL: 115.0,
    StructureType.LIEU_DE_VIE: 200.0,
    StructureType.SEMI_AUTONOMIE: 120.0,
    StructureType.CENTRE_MATERNEL: 190.0,
    StructureType.ACCUEIL_URGENCE: 110.0,
}
"""Daily price of a new place when the scenario gives none: the means the generator draws from
(data.generator.DAILY_PRICE_EUR), orders of magnitude of published prix de journée."""


# --- errors -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScenarioIssue:
    """One thing wrong with a scenario file: where (file, line, key) and why."""

    file: str
    line: int | None
    key: str
    message: str
    message_fr: str | None = None
    """The message in French, where given (the English one is said otherwise)."""

    def __str__(self) -> str:
        return self.said("en")

    def reason(self, lang: str) -> str:
        """The message alone, in ``lang``."""
        return self.message_fr if lang == "fr" and self.message_fr else self.message

    def said(self, lang: str) -> str:
        """``file:line: key: message`` in ``lang``."""
        fr = lang == "fr"
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        colon = " : " if fr else ": "
        return f"{where}{colon}{self.key or ('(racine)' if fr else '(top level)')}{colon}{self.reason(lang)}"


class ScenarioError(PlacementError):
    """A scenario that cannot be read or applied; ``issues`` lists every problem found."""

    def __init__(self, issues: list[ScenarioIssue]):
        self.issues = list(issues)
        super().__init__("scenario is not valid:\n  " + "\n  ".join(i.said("en") for i in self.issues),
                         fr="le scénario n'est pas valide :\n  " + "\n  ".join(i.said("fr") for i in self.issues))


@dataclass(frozen=True, slots=True)
class Where:
    """Where a change was written: for errors found when it is applied."""

    file: str
    line: int | None
    key: str

    def issue(self, message: str, fr: str | None = None) -> ScenarioIssue:
        return ScenarioIssue(self.file, self.line, self.key, message, fr)


# --- the parsed scenario --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ZoneRef:
    """A zone: ``arrondissement`` (75101-75120), ``commune`` (INSEE code), ``departement``,
    ``area`` (paris, ile_de_france, province: to select places only) or ``structure`` (an id)."""

    kind: Literal["arrondissement", "commune", "departement", "area", "structure"]
    code: str

    def __str__(self) -> str:
        return f"{self.kind} {self.code}"


@dataclass(frozen=True, slots=True)
class Selector:
    """Which existing units a change applies to; None matches everything."""

    zone: ZoneRef | None = None
    type: StructureType | None = None
    ages: tuple[int, int] | None = None
    """Units whose age range overlaps this one."""
    sex: UnitSex | None = None


@dataclass(frozen=True, slots=True)
class OpenPlaces:
    places: int
    type: StructureType
    zone: ZoneRef
    ages: tuple[int, int]
    sex: UnitSex
    needs: frozenset[Need]
    fratries: bool
    daily_price_eur: float | None
    where: Where


@dataclass(frozen=True, slots=True)
class ClosePlaces:
    places: int
    select: Selector
    where: Where


@dataclass(frozen=True, slots=True)
class PlaceKind:
    """What converted places become; None keeps what the place was."""

    type: StructureType | None = None
    ages: tuple[int, int] | None = None
    sex: UnitSex | None = None
    needs: frozenset[Need] | None = None
    fratries: bool | None = None


@dataclass(frozen=True, slots=True)
class ConvertPlaces:
    places: int
    select: Selector
    to: PlaceKind
    where: Where


@dataclass(frozen=True, slots=True)
class MarkFratries:
    select: Selector
    units: int | None
    where: Where


@dataclass(frozen=True, slots=True)
class RecruitCarers:
    carers: int
    places_per_carer: int
    zone: ZoneRef
    ages: tuple[int, int]
    daily_price_eur: float | None
    where: Where


@dataclass(frozen=True, slots=True)
class LoseCarers:
    carers: int
    zone: ZoneRef | None
    where: Where


@dataclass(frozen=True, slots=True)
class ChangeDemand:
    children: int
    """More (positive) or fewer (negative) children waiting."""
    age_band: AgeBand | None
    need: Need | None
    where: Where


Change = OpenPlaces | ClosePlaces | ConvertPlaces | MarkFratries | RecruitCarers | LoseCarers | ChangeDemand


@dataclass(frozen=True)
class Scenario:
    """A parsed, validated scenario: a name, a sentence for people, a seed, the changes to the
    base system in order, and weight overrides."""

    name: str
    description: str
    seed: int = 1
    changes: tuple[Change, ...] = ()
    weights: dict[str, float] = field(default_factory=dict)
    source: str = "<scenario>"

    def weights_over(self, base: Weights) -> Weights:
        """The objective's weights of this scenario: ``base`` with this scenario's overrides."""
        return Weights.from_mapping(self.weights, base=base) if self.weights else base


# --- input schema (pydantic) ----------------------------------------------------------------------

Code = StrictStr | StrictInt
Ages = Annotated[list[StrictInt], Field(min_length=2, max_length=2)]
Price = Annotated[StrictFloat | StrictInt, Field(ge=0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _ZoneIn(_Strict):
    arrondissement: Code | None = None
    commune: Code | None = None
    departement: Code | None = None
    area: Zone | None = None
    structure: StrictStr | None = None


class _SelectIn(_Strict):
    zone: _ZoneIn | None = None
    type: StructureType | None = None
    ages: Ages | None = None
    sex: UnitSex | None = None


class _OpenIn(_Strict):
    places: Annotated[StrictInt, Field(gt=0)]
    type: StructureType
    zone: _ZoneIn
    ages: Ages
    sex: UnitSex = UnitSex.MIXED
    needs: list[Need] = []
    fratries: StrictBool = True
    daily_price_eur: Price | None = None


class _CloseIn(_SelectIn):
    places: Annotated[StrictInt, Field(gt=0)]


class _KindIn(_Strict):
    type: StructureType | None = None
    ages: Ages | None = None
    sex: UnitSex | None = None
    needs: list[Need] | None = None
    fratries: StrictBool | None = None


class _ConvertIn(_Strict):
    places: Annotated[StrictInt, Field(gt=0)]
    from_: _SelectIn = Field(alias="from")
    to: _KindIn


class _FratriesIn(_SelectIn):
    units: Annotated[StrictInt, Field(gt=0)] | None = None


class _RecruitIn(_Strict):
    carers: Annotated[StrictInt, Field(gt=0)]
    places_per_carer: Annotated[StrictInt, Field(ge=1, le=3)] = 2
    zone: _ZoneIn
    ages: Ages = [0, 17]
    daily_price_eur: Price | None = None


class _LoseIn(_Strict):
    carers: Annotated[StrictInt, Field(gt=0)]
    zone: _ZoneIn | None = None


class _DemandIn(_Strict):
    children: StrictInt
    age_band: AgeBand | None = None
    need: Need | None = None


class _ScenarioIn(_Strict):
    name: Annotated[StrictStr, Field(min_length=1)]
    description: Annotated[StrictStr, Field(min_length=1)]
    seed: Annotated[StrictInt, Field(ge=0)] = 1
    changes: list[dict[str, Any]] = []
    weights: dict[str, Any] = {}


_CHANGE_MODELS: dict[str, type[BaseModel]] = {
    "open": _OpenIn, "close": _CloseIn, "convert": _ConvertIn, "fratries": _FratriesIn,
    "recruit": _RecruitIn, "lose": _LoseIn, "demand": _DemandIn,
}


# --- reading YAML with line numbers ---------------------------------------------------------------


class _Lines:
    """The line of every key and item of a YAML document, by path (for the error messages)."""

    def __init__(self, root: yaml.Node | None, source: str):
        self.source = source
        self.lines: dict[tuple, int] = {(): root.start_mark.line + 1 if root is not None else 1}
        self.duplicates: list[ScenarioIssue] = []
        if root is not None:
            self._walk(root, ())

    def _walk(self, node: yaml.Node, path: tuple) -> None:
        if isinstance(node, yaml.MappingNode):
            seen: set[Any] = set()
            for key_node, value_node in node.value:
                key = key_node.value
                if key in seen:
                    self.duplicates.append(ScenarioIssue(self.source, key_node.start_mark.line + 1,
                                                         key_path(path + (key,)), "key given twice",
                                                         "clé donnée deux fois"))
                seen.add(key)
                self.lines[path + (key,)] = key_node.start_mark.line + 1
                self._walk(value_node, path + (key,))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                self.lines[path + (i,)] = item.start_mark.line + 1
                self._walk(item, path + (i,))

    def line(self, path: tuple) -> int | None:
        """The line of ``path``, or of its nearest ancestor written in the file."""
        path = tuple(path)
        while path not in self.lines and path:
            path = path[:-1]
        return self.lines.get(path)

    def issue(self, path: tuple, message: str, fr: str | None = None) -> ScenarioIssue:
        """An issue at ``path``: ``message`` in English, ``fr`` the same in French."""
        return ScenarioIssue(self.source, self.line(path), key_path(path), message, fr)

    def where(self, path: tuple) -> Where:
        return Where(self.source, self.line(path), key_path(path))


def key_path(path: tuple) -> str:
    """``('changes', 0, 'open', 'places')`` -> ``changes[0].open.places``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def read_yaml(text: str, source: str) -> tuple[Any, _Lines]:
    """The data of a YAML document and the line of each key; a syntax error is a ScenarioError."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 if mark is not None else None
        raise ScenarioError([ScenarioIssue(source, line, "", f"not valid YAML: {err.problem or err}",
                                           f"YAML invalide : {err.problem or err}")]) from None
    except yaml.YAMLError as err:
        raise ScenarioError([ScenarioIssue(source, None, "", f"not valid YAML: {err}", f"YAML invalide : {err}")]) from None
    return data, _Lines(root, source)


def _pydantic_issues(err: ValidationError, prefix: tuple, lines: _Lines) -> list[ScenarioIssue]:
    issues = []
    for e in err.errors():
        loc = tuple("from" if p == "from_" else p for p in e["loc"])
        # unions report each alternative ("int", "str"): keep the path before the alternative
        loc = tuple(p for p in loc if not (isinstance(p, str) and p in {"str", "int", "float", "bool", "constrained-int", "constrained-float"}))
        message, french = e["msg"], pydantic_reason(e, "fr")
        if e["type"] == "extra_forbidden":
            message, french = "unknown key", "clé inconnue"
        elif e["type"] == "missing":
            message, french = "required key is missing", "clé obligatoire absente"
        elif "input" in e and e["type"] not in {"missing"} and not isinstance(e["input"], (dict, list)):
            message, french = f"{message} (got {e['input']!r})", f"{french} (reçu {e['input']!r})"
        issues.append(lines.issue(prefix + loc, message, french))
    # one message per key and text (unions repeat themselves)
    unique: dict[tuple, ScenarioIssue] = {}
    for i in issues:
        unique.setdefault((i.line, i.key, i.message), i)
    return list(unique.values())


def load_scenario(path: Path | str) -> Scenario:
    """Read and validate a scenario file; ScenarioError with every problem otherwise."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError([ScenarioIssue(str(path), None, "", "no such scenario file",
                                           "fichier de scénario introuvable")]) from None
    except (OSError, UnicodeDecodeError) as err:
        raise ScenarioError([ScenarioIssue(str(path), None, "", f"cannot be read: {err}", f"illisible : {err}")]) from None
    return parse_scenario(text, str(path))


def parse_scenario(text: str, source: str = "<scenario>") -> Scenario:
    """Validate a scenario given as YAML text; ``source`` names it in the errors."""
    data, lines = read_yaml(text, source)
    return scenario_from_data(data, lines)


def scenario_from_data(data: Any, lines: _Lines, prefix: tuple = ()) -> Scenario:
    """A Scenario from already-read YAML data (``prefix``: where it sits in the document)."""
    issues: list[ScenarioIssue] = list(lines.duplicates)
    if not isinstance(data, dict):
        raise ScenarioError(issues + [lines.issue(prefix, f"a scenario is a mapping of keys (name, description, "
                                                          f"changes...), got {type(data).__name__}",
                                                  f"un scénario est un ensemble de clés (name, description, "
                                                  f"changes...), reçu {type(data).__name__}")])
    try:
        top = _ScenarioIn.model_validate(data)
    except ValidationError as err:
        issues += _pydantic_issues(err, prefix, lines)
        top = None
    changes: list[Change] = []
    raw_changes = data.get("changes", [])
    if isinstance(raw_changes, list):
        for i, raw in enumerate(raw_changes):
            path = prefix + ("changes", i)
            if not isinstance(raw, dict) or len(raw) != 1:
                issues.append(lines.issue(path, f"each change is one of {', '.join(CHANGE_KINDS)} with its keys, "
                                                f"for example 'open: {{places: 10, ...}}'",
                                          f"chaque changement est l'un de {', '.join(CHANGE_KINDS)} avec ses clés, "
                                          f"par exemple 'open: {{places: 10, ...}}'"))
                continue
            (kind, body), = raw.items()
            if kind not in _CHANGE_MODELS:
                issues.append(lines.issue(path + (kind,), f"unknown change {kind!r}; expected one of {', '.join(CHANGE_KINDS)}",
                                          f"changement {kind!r} inconnu ; attendu : {', '.join(CHANGE_KINDS)}"))
                continue
            if not isinstance(body, dict):
                issues.append(lines.issue(path + (kind,), "expected a mapping of keys", "un ensemble de clés est attendu"))
                continue
            try:
                model = _CHANGE_MODELS[kind].model_validate(body)
            except ValidationError as err:
                found = _pydantic_issues(err, path + (kind,), lines)
                issues += found + _checks_of_valid_parts(kind, body, path + (kind,), lines, {i.key for i in found})
                continue
            change, found = _change(kind, model, path + (kind,), lines)
            issues += found
            if change is not None:
                changes.append(change)
    weights: dict[str, float] = {}
    raw_weights = data.get("weights", {})
    if isinstance(raw_weights, dict) and raw_weights:
        for key, value in raw_weights.items():
            if key not in _WEIGHT_NAMES:
                issues.append(lines.issue(prefix + ("weights", key), f"unknown weight; known: {', '.join(sorted(_WEIGHT_NAMES))}",
                                          f"poids inconnu ; connus : {', '.join(sorted(_WEIGHT_NAMES))}"))
            elif isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                issues.append(lines.issue(prefix + ("weights", key), f"a weight is a non-negative number (got {value!r})",
                                          f"un poids est un nombre positif ou nul (reçu {value!r})"))
            else:
                weights[key] = float(value)
    if issues or top is None:
        raise ScenarioError(sorted(issues, key=lambda i: (i.line or 0, i.key)))
    return Scenario(top.name, top.description, top.seed, tuple(changes), weights, lines.source)


_WEIGHT_NAMES = frozenset(Weights.__dataclass_fields__)


def _checks_of_valid_parts(kind: str, body: dict, path: tuple, lines: _Lines, bad: set[str]) -> list[ScenarioIssue]:
    """The zone and age checks of the parts of a change that are well-formed, when another part is
    not: so that every problem of the file is reported at once."""
    issues: list[ScenarioIssue] = []
    for sub in (("zone",), ("from", "zone")):
        value: Any = body
        for part in sub:
            value = value.get(part) if isinstance(value, dict) else None
        where = path + sub
        if not isinstance(value, dict) or any(k == key_path(where) or k.startswith(key_path(where) + ".") for k in bad):
            continue
        try:
            zone = _ZoneIn.model_validate(value)
        except ValidationError:
            continue
        _zone(zone, where, lines, issues, to_place=kind in ("open", "recruit"))
    for sub in (("ages",), ("to", "ages"), ("from", "ages")):
        value = body
        for part in sub:
            value = value.get(part) if isinstance(value, dict) else None
        where = path + sub
        if (isinstance(value, list) and len(value) == 2 and all(type(v) is int for v in value)
                and not any(k.startswith(key_path(where)) for k in bad)):
            _ages(value, where, lines, issues)
    return issues


def _ages(raw: list[int], path: tuple, lines: _Lines, issues: list[ScenarioIssue]) -> tuple[int, int] | None:
    lo, hi = raw
    if not (0 <= lo <= hi <= MAX_AGE_YEARS):
        issues.append(lines.issue(path, f"impossible age range {lo}-{hi}: ages are whole years within 0-{MAX_AGE_YEARS}, "
                                        "youngest first",
                                  f"tranche d'âge {lo}-{hi} impossible : des âges en années entières dans "
                                  f"0-{MAX_AGE_YEARS}, le plus jeune d'abord"))
        return None
    return (lo, hi)


def _zone(raw: _ZoneIn, path: tuple, lines: _Lines, issues: list[ScenarioIssue], *, to_place: bool) -> ZoneRef | None:
    given = {k: v for k, v in raw.model_dump(exclude_none=True).items()}
    if len(given) != 1:
        issues.append(lines.issue(path, "a zone is exactly one of arrondissement, commune, departement, area, structure"
                                        f" (got {', '.join(given) or 'none'})",
                                  "une zone est exactement l'un de arrondissement, commune, departement, area, "
                                  f"structure (reçu {', '.join(given) or 'aucun'})"))
        return None
    (kind, value), = given.items()
    where = path + (kind,)
    if kind == "area":
        if to_place:
            issues.append(lines.issue(where, "places are opened at an arrondissement, a commune, a département or a "
                                             "structure, not in a whole area",
                                      "des places s'ouvrent dans un arrondissement, une commune, un département ou "
                                      "une structure, pas dans toute une aire"))
            return None
        return ZoneRef("area", Zone(value).value)
    if kind == "structure":
        return ZoneRef("structure", value)  # checked against the base system when applied
    code = _normalise_code(kind, value)
    if kind == "commune":
        code = commune_today().get(code, code)  # a commune merged since 2018: the one that holds it today
    known = known_zones()[kind]
    if code not in known:
        hint = {"arrondissement": "75101 to 75120 (or 1 to 20)",
                "commune": "an INSEE code of a commune of Île-de-France, or of a commune with a station elsewhere",
                "departement": "a metropolitan département code such as 75, 93 or 2A"}[kind]
        indice = {"arrondissement": "75101 à 75120 (ou 1 à 20)",
                  "commune": "le code INSEE d'une commune d'Île-de-France, ou d'une commune ailleurs qui a une gare",
                  "departement": "un code de département métropolitain comme 75, 93 ou 2A"}[kind]
        issues.append(lines.issue(where, f"unknown {kind} {value!r}; expected {hint}",
                                  f"{kind} {value!r} inconnu(e) ; attendu : {indice}"))
        return None
    return ZoneRef(kind, code)  # type: ignore[arg-type]


def _normalise_code(kind: str, value: str | int) -> str:
    if kind == "arrondissement":
        if isinstance(value, int) and 1 <= value <= 20:
            return f"751{value:02d}"
        return str(value)
    if kind == "departement":
        return f"{value:02d}" if isinstance(value, int) else value.strip().upper()
    return f"{value:05d}" if isinstance(value, int) else value.strip().upper()


def _selector(raw: _SelectIn, path: tuple, lines: _Lines, issues: list[ScenarioIssue]) -> Selector:
    zone = _zone(raw.zone, path + ("zone",), lines, issues, to_place=False) if raw.zone is not None else None
    ages = _ages(raw.ages, path + ("ages",), lines, issues) if raw.ages is not None else None
    return Selector(zone, raw.type, ages, raw.sex)


def _change(kind: str, m: Any, path: tuple, lines: _Lines) -> tuple[Change | None, list[ScenarioIssue]]:
    issues: list[ScenarioIssue] = []
    where = lines.where(path)
    change: Change | None = None
    if kind == "open":
        zone = _zone(m.zone, path + ("zone",), lines, issues, to_place=True)
        ages = _ages(m.ages, path + ("ages",), lines, issues)
        if zone is not None and ages is not None:
            change = OpenPlaces(m.places, m.type, zone, ages, m.sex, frozenset(m.needs), m.fratries,
                                None if m.daily_price_eur is None else float(m.daily_price_eur), where)
    elif kind == "close":
        sel = _selector(m, path, lines, issues)
        change = ClosePlaces(m.places, sel, where)
    elif kind == "convert":
        sel = _selector(m.from_, path + ("from",), lines, issues)
        ages = _ages(m.to.ages, path + ("to", "ages"), lines, issues) if m.to.ages is not None else None
        to = PlaceKind(m.to.type, ages, m.to.sex, None if m.to.needs is None else frozenset(m.to.needs), m.to.fratries)
        if to == PlaceKind():
            issues.append(lines.issue(path + ("to",), "says nothing to convert to (type, ages, sex, needs or fratries)",
                                      "ne dit pas en quoi convertir (type, ages, sex, needs ou fratries)"))
        change = ConvertPlaces(m.places, sel, to, where)
    elif kind == "fratries":
        sel = _selector(m, path, lines, issues)
        change = MarkFratries(sel, m.units, where)
    elif kind == "recruit":
        zone = _zone(m.zone, path + ("zone",), lines, issues, to_place=True)
        ages = _ages(m.ages, path + ("ages",), lines, issues)
        if zone is not None and zone.kind == "structure":
            issues.append(lines.issue(path + ("zone", "structure"), "foster carers are recruited in a zone "
                                                                    "(arrondissement, commune or département)",
                                      "les assistants familiaux se recrutent dans une zone (arrondissement, commune "
                                      "ou département)"))
        elif zone is not None and ages is not None:
            change = RecruitCarers(m.carers, m.places_per_carer, zone, ages,
                                   None if m.daily_price_eur is None else float(m.daily_price_eur), where)
    elif kind == "lose":
        zone = _zone(m.zone, path + ("zone",), lines, issues, to_place=False) if m.zone is not None else None
        change = LoseCarers(m.carers, zone, where)
    elif kind == "demand":
        if m.children == 0:
            issues.append(lines.issue(path + ("children",), "a change of demand is a number of children other than 0",
                                      "un changement de la demande est un nombre d'enfants autre que 0"))
        if m.age_band is None and m.need is None:
            issues.append(lines.issue(path, "say which children: age_band, need, or both",
                                      "dites quels enfants : age_band, need, ou les deux"))
        change = ChangeDemand(m.children, m.age_band, m.need, where)
    return (None if issues else change), issues


# --- reference zones ------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def known_zones() -> dict[str, dict[str, tuple[float, float, str]]]:
    """Zone codes that may be named, with a point inside each (lat, lon) and its name."""
    from data import geography

    zones = geography.idf_zones()
    arr = zones[zones["kind"] == "arrondissement"]
    com = zones[(zones["kind"] != "arrondissement") & (zones["code_insee"] != "75056")]
    out: dict[str, dict[str, tuple[float, float, str]]] = {
        "arrondissement": {r.code_insee: (r.inside_lat, r.inside_lon, r.nom) for r in arr.itertuples()},
        "commune": {r.code_insee: (r.inside_lat, r.inside_lon, r.nom) for r in com.itertuples()},
        "departement": {},
    }
    for r in com.itertuples():  # the code a commune has today leads to the same place
        out["commune"].setdefault(r.code_insee_cog2026, (r.inside_lat, r.inside_lon, r.nom))
    for r in geography.province_station_communes().itertuples():
        out["commune"].setdefault(r.code_insee, (r.lat, r.lon, r.nom))
    for r in geography.departements().itertuples():
        out["departement"][r.code] = (r.inside_lat, r.inside_lon, r.nom)
    return out


@lru_cache(maxsize=1)
def commune_today() -> dict[str, str]:
    """The code of the commune that holds each 2018 Île-de-France commune today (COG 2026): the
    code structures' locations carry."""
    from data import geography

    zones = geography.idf_zones()
    return {a: b for a, b in zip(zones["code_insee"], zones["code_insee_cog2026"]) if isinstance(b, str) and a != b}


def zone_name(zone: ZoneRef) -> str:
    """A zone in words, for people."""
    if zone.kind in ("arrondissement", "commune", "departement"):
        return known_zones()[zone.kind][zone.code][2]
    if zone.kind == "area":
        return {"paris": "Paris", "ile_de_france": "Île-de-France hors Paris", "province": "province"}[zone.code]
    return f"structure {zone.code}"


def _location(lat: float, lon: float) -> Location:
    from data.geography import locate

    return locate(float(lat), float(lon))


def _points_in(zone: ZoneRef, n: int, rng: np.random.Generator) -> list[Location]:
    """``n`` locations drawn inside the zone (a province commune: its station, n times)."""
    from data import geography

    lat, lon, _ = known_zones()[zone.kind][zone.code]
    geometry = None
    if zone.kind == "arrondissement":
        g = geography.arrondissements()
        geometry = g.loc[g["code"] == zone.code, "geometry"]
    elif zone.kind == "commune":
        g = geography.idf_communes()
        geometry = g.loc[(g["code"] == zone.code) | (g["code_cog2026"] == zone.code), "geometry"]
    elif zone.kind == "departement":
        g = geography.departements()
        geometry = g.loc[g["code"] == zone.code, "geometry"]
    if geometry is None or geometry.empty:
        return [_location(lat, lon)] * n
    lons, lats = geography.sample_points(geometry.union_all(), n, rng)
    return [_location(a, b) for a, b in zip(lats, lons)]


# --- applying a scenario --------------------------------------------------------------------------


def matches(structure_by_id: Mapping[str, Structure], unit: Unit, select: Selector) -> bool:
    """Does the unit fall under the selector (zone, structure type, overlapping ages, sex)?"""
    s = structure_by_id[unit.structure_id]
    if select.type is not None and s.type is not select.type:
        return False
    if select.sex is not None and unit.sex is not select.sex:
        return False
    if select.ages is not None and (unit.age_max < select.ages[0] or unit.age_min > select.ages[1]):
        return False
    if select.zone is not None and not in_zone(s, select.zone):
        return False
    return True


def in_zone(structure: Structure, zone: ZoneRef) -> bool:
    loc = structure.location
    if zone.kind == "structure":
        return structure.id == zone.code
    if zone.kind == "area":
        return loc.zone.value == zone.code
    if zone.kind == "departement":
        return loc.departement == zone.code
    return loc.commune == zone.code


class _Draft:
    """A placement system being changed: units, structures and children by id, in order."""

    def __init__(self, base: PlacementSystem, seed: int):
        self.base = base
        self.seed = seed
        self.structures: dict[str, Structure] = {s.id: s for s in base.structures}
        self.units: dict[str, Unit] = {u.id: u for u in base.units}
        self.children: dict[str, Child] = {c.id: c for c in base.children}
        self.groups = list(base.sibling_groups)
        self.on = base.reference_date

    def rng(self, index: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, index])

    def system(self) -> PlacementSystem:
        return PlacementSystem(self.on, tuple(self.children.values()), tuple(self.groups),
                               tuple(self.structures.values()), tuple(self.units.values()))

    def units_of(self, structure_id: str) -> list[Unit]:
        return [u for u in self.units.values() if u.structure_id == structure_id]

    def children_in(self, unit_id: str) -> list[str]:
        return sorted(c.id for c in self.children.values() if c.current is not None and c.current.unit_id == unit_id)

    def new_id(self, stem: str) -> str:
        k = 1
        while f"{stem}-{k}" in self.structures or f"{stem}-{k}" in self.units:
            k += 1
        return f"{stem}-{k}"

    def matching_units(self, select: Selector, where: Where) -> list[Unit]:
        if select.zone is not None and select.zone.kind == "structure" and select.zone.code not in self.structures:
            raise ScenarioError([where.issue(f"unknown structure {select.zone.code!r} in the base dataset",
                                             f"structure {select.zone.code!r} inconnue des données de base")])
        return [u for u in self.units.values() if matches(self.structures, u, select)]

    def close(self, units: list[Unit], places: int, rng: np.random.Generator, where: Where) -> dict[str, int]:
        """Close ``places`` places of ``units`` (free first, then children of the dataset, then
        places held outside it); returns the places closed per unit id."""
        total = sum(u.capacity for u in units)
        if total < places:
            raise ScenarioError([where.issue(f"only {total} places match, cannot close {places}",
                                             f"seules {total} places correspondent, impossible d'en fermer {places}")])
        order = [units[i] for i in rng.permutation(len(units))]
        closed: dict[str, int] = {}
        left = places
        for u in order:  # free places first
            k = min(u.free, left)
            if k:
                closed[u.id] = k
                left -= k
        for u in order:  # then occupied places: the dataset's children leave first
            if not left:
                break
            k = min(u.occupied, left)
            if not k:
                continue
            ours = self.children_in(u.id)
            leave = [ours[i] for i in rng.permutation(len(ours))[: min(k, len(ours))]]
            for cid in leave:
                self.children[cid] = replace(self.children[cid], current=None, waiting_since=self.on)
            closed[u.id] = closed.get(u.id, 0) + k
            left -= k
        for uid, k in closed.items():
            u = self.units[uid]
            capacity = u.capacity - k
            self.units[uid] = replace(u, capacity=capacity, occupied=min(u.occupied, capacity))
        return closed


def apply_scenario(system: PlacementSystem, scenario: Scenario) -> PlacementSystem:
    """The placement system the scenario describes, from ``system`` (which is not changed).

    Deterministic for the scenario's seed. Raises :class:`ScenarioError` (every issue with the
    line of its change) when a change cannot apply to this system.
    """
    draft = _Draft(system, scenario.seed)
    issues: list[ScenarioIssue] = []
    for index, change in enumerate(scenario.changes):
        try:
            _apply(draft, change, index)
        except ScenarioError as err:
            issues += err.issues
        except DomainError as err:
            issues.append(change.where.issue(str(err), err.fr))
    if issues:
        raise ScenarioError(issues)
    try:
        return draft.system()
    except DomainError as err:  # a bug of this module, named as such rather than hidden
        raise ScenarioError([ScenarioIssue(scenario.source, None, "", f"the changed system is inconsistent: {err}",
                                           f"le système modifié est incohérent : {err.said('fr')}")]) from err


def _new_structure(draft: _Draft, stem: str, stype: StructureType, location: Location, needs: frozenset[Need],
                   price: float | None, name: str) -> Structure:
    sid = draft.new_id(stem)
    s = Structure(sid, name, stype, Operator.ASSOCIATIVE, location, needs,
                  DEFAULT_DAILY_PRICE_EUR[stype] if price is None else price)
    draft.structures[sid] = s
    return s


def _add_unit(draft: _Draft, structure_id: str, ages: tuple[int, int], sex: UnitSex, places: int, fratries: bool) -> Unit:
    uid = draft.new_id(f"{structure_id}-SCN")
    u = Unit(uid, structure_id, ages[0], ages[1], sex, places, 0, fratries)
    draft.units[uid] = u
    return u


def _apply(draft: _Draft, change: Change, index: int) -> None:
    rng = draft.rng(index)
    stem = f"SCN{index + 1}"
    if isinstance(change, OpenPlaces):
        if change.zone.kind == "structure":
            s = draft.structures.get(change.zone.code)
            if s is None:
                raise ScenarioError([change.where.issue(f"unknown structure {change.zone.code!r} in the base dataset",
                                                        f"structure {change.zone.code!r} inconnue des données de base")])
            missing = change.needs - s.capabilities
            if missing:
                offered = ", ".join(sorted(n.value for n in missing))
                raise ScenarioError([change.where.issue(
                    f"structure {s.id} does not offer {offered}; open the places in a zone instead",
                    f"la structure {s.id} n'offre pas {offered} ; ouvrez plutôt les places dans une zone")])
            if change.type is not s.type:
                raise ScenarioError([change.where.issue(f"structure {s.id} is a {s.type.value}, not a {change.type.value}",
                                                        f"la structure {s.id} est de type {s.type.value}, pas "
                                                        f"{change.type.value}")])
            _add_unit(draft, s.id, change.ages, change.sex, change.places, change.fratries)
            return
        lat, lon, name = known_zones()[change.zone.kind][change.zone.code]
        s = _new_structure(draft, stem, change.type, _location(lat, lon), change.needs, change.daily_price_eur,
                           f"{change.type.value} (scénario) - {name}")
        _add_unit(draft, s.id, change.ages, change.sex, change.places, change.fratries)
    elif isinstance(change, ClosePlaces):
        units = draft.matching_units(change.select, change.where)
        draft.close(units, change.places, rng, change.where)
    elif isinstance(change, ConvertPlaces):
        units = draft.matching_units(change.select, change.where)
        closed = draft.close(units, change.places, rng, change.where)
        to = change.to
        for uid, k in closed.items():
            u = draft.units[uid]
            s = draft.structures[u.structure_id]
            target = s
            if (to.type is not None and to.type is not s.type) or (to.needs is not None and to.needs != s.capabilities):
                key = f"{s.id}-{stem}"
                target = next((x for x in draft.structures.values() if x.id.startswith(key + "-")
                               and x.location == s.location), None) or _new_structure(
                    draft, key, to.type or s.type, s.location, s.capabilities if to.needs is None else to.needs,
                    s.daily_price_eur, f"{s.name} (places converties)")
            _add_unit(draft, target.id, to.ages or (u.age_min, u.age_max), to.sex or u.sex, k,
                      u.takes_siblings if to.fratries is None else to.fratries)
    elif isinstance(change, MarkFratries):
        units = [u for u in draft.matching_units(change.select, change.where) if not u.takes_siblings]
        if not units:
            raise ScenarioError([change.where.issue("no unit that does not take fratries matches",
                                                    "aucune unité qui n'accueille pas les fratries ne correspond")])
        if change.units is not None:
            if len(units) < change.units:
                raise ScenarioError([change.where.issue(f"only {len(units)} units match, cannot mark {change.units}",
                                                        f"seules {len(units)} unités correspondent, impossible d'en "
                                                        f"ouvrir {change.units} aux fratries")])
            units = [units[i] for i in sorted(rng.permutation(len(units))[: change.units])]
        for u in units:
            draft.units[u.id] = replace(u, takes_siblings=True)
    elif isinstance(change, RecruitCarers):
        name = known_zones()[change.zone.kind][change.zone.code][2]
        for loc in _points_in(change.zone, change.carers, rng):
            s = _new_structure(draft, stem, StructureType.ASSISTANT_FAMILIAL, loc, frozenset(), change.daily_price_eur,
                               f"Assistant familial (scénario) - {name}")
            _add_unit(draft, s.id, change.ages, UnitSex.MIXED, change.places_per_carer, True)
    elif isinstance(change, LoseCarers):
        with_places = {u.structure_id for u in draft.units.values() if u.capacity}
        carers = sorted(
            s.id for s in draft.structures.values()
            if s.type is StructureType.ASSISTANT_FAMILIAL and (change.zone is None or in_zone(s, change.zone))
            and s.id in with_places
        )
        if len(carers) < change.carers:
            where = f" in {zone_name(change.zone)}" if change.zone else ""
            ou = f" dans {zone_name(change.zone)}" if change.zone else ""
            raise ScenarioError([change.where.issue(f"only {len(carers)} foster carers{where}, cannot lose {change.carers}",
                                                    f"seulement {len(carers)} assistants familiaux{ou}, impossible d'en "
                                                    f"perdre {change.carers}")])
        lost = [carers[i] for i in sorted(rng.permutation(len(carers))[: change.carers])]
        units = [u for sid in lost for u in draft.units_of(sid)]
        draft.close(units, sum(u.capacity for u in units), rng, change.where)
    elif isinstance(change, ChangeDemand):
        _change_demand(draft, change, rng, stem)
    else:  # pragma: no cover - every kind is handled above
        raise TypeError(change)


def _kind_of(draft: _Draft, child: Child, change: ChangeDemand) -> bool:
    if change.age_band is not None and child.age_band_on(draft.on) is not change.age_band:
        return False
    if change.need is not None and change.need not in child.needs:
        return False
    return True


def _change_demand(draft: _Draft, change: ChangeDemand, rng: np.random.Generator, stem: str) -> None:
    what = " and ".join(x for x in (f"aged {change.age_band.value}" if change.age_band else "",
                                     f"with need {change.need.value}" if change.need else "") if x)
    quoi = " et ".join(x for x in (f"de {change.age_band.value} ans" if change.age_band else "",
                                   f"avec le besoin {change.need.value}" if change.need else "") if x)
    if change.children > 0:
        templates = sorted(c.id for c in draft.children.values() if _kind_of(draft, c, change))
        if not templates:
            raise ScenarioError([change.where.issue(f"no child {what} in the base dataset to model new ones on",
                                                    f"aucun enfant {quoi} dans les données de base sur qui modeler "
                                                    "les nouveaux")])
        picks = rng.choice(len(templates), size=change.children, replace=True)
        for k, i in enumerate(picks):
            t = draft.children[templates[int(i)]]
            cid = f"{stem}-E-{k + 1:05d}"
            draft.children[cid] = replace(t, id=cid, waiting_since=draft.on, sibling_group_id=None,
                                       current=None, judge=type(t.judge)())
    else:
        waiting = sorted(c.id for c in draft.children.values()
                         if c.current is None and c.sibling_group_id is None and _kind_of(draft, c, change)
                         and not any(c.id in o.judge.separated_from for o in draft.children.values() if o.judge.separated_from))
        if len(waiting) < -change.children:
            raise ScenarioError([change.where.issue(
                f"only {len(waiting)} waiting children {what} outside a fratrie, cannot remove {-change.children}",
                f"seulement {len(waiting)} enfants en attente {quoi} hors fratrie, impossible d'en retirer "
                f"{-change.children}")])
        for i in sorted(rng.permutation(len(waiting))[: -change.children]):
            del draft.children[waiting[int(i)]]


def new_structures(base: PlacementSystem, changed: PlacementSystem) -> tuple[Structure, ...]:
    """Structures of ``changed`` that ``base`` does not have (they need travel minutes)."""
    return tuple(s for s in changed.structures if s.id not in base.structure_by_id)


def example_paths() -> list[Path]:
    """The shipped example scenarios, base first."""
    return sorted(EXAMPLES_DIR.glob("*.yaml"))


_SLUG = re.compile(r"[^a-z0-9]+")


def slug(name: str) -> str:
    """A file-name-safe form of a scenario's name."""
    import unicodedata

    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    return _SLUG.sub("-", plain).strip("-")[:60] or "scenario"


__all__ = [
    "ChangeDemand", "ClosePlaces", "ConvertPlaces", "LoseCarers", "MarkFratries", "OpenPlaces", "PlaceKind",
    "RecruitCarers", "Scenario", "ScenarioError", "ScenarioIssue", "Selector", "ZoneRef", "apply_scenario",
    "example_paths", "load_scenario", "new_structures", "parse_scenario",
]
