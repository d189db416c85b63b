"""Errors of data loading and validation.

Validation reports every problem at once: each :class:`DataIssue` names the file, the row
(1-based, the header being row 1), the column and the reason. A refused file leaves nothing
half-imported.
"""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Mapping
from typing import Any, Iterable

from matcher.errors import PlacementError


@dataclass(frozen=True, slots=True)
class DataIssue:
    file: str
    row: int | None
    column: str | None
    reason: str
    reason_fr: str | None = None
    """The reason in French, where given (the English one is said otherwise)."""

    def __str__(self) -> str:
        return self.said("en")

    def said(self, lang: str) -> str:
        """``children.csv, row 3, column 'sex': unknown value 'X'...`` in ``lang``."""
        fr = lang == "fr"
        where = self.file
        if self.row is not None:
            where += f", {'ligne' if fr else 'row'} {self.row}"
        if self.column is not None:
            where += f", {'colonne' if fr else 'column'} {self.column!r}"
        reason = self.reason_fr if fr and self.reason_fr else self.reason
        return f"{where}{' : ' if fr else ': '}{reason}"


class PlacementDataError(PlacementError):
    """Input data that cannot be used. ``issues`` lists every problem found."""

    SHOWN = 50
    """At most this many issues are listed in the message."""

    def __init__(self, issues: Iterable[DataIssue] | str, *, fr: str | None = None):
        if isinstance(issues, str):
            issues = [DataIssue("<input>", None, None, issues, fr)]
        self.issues: tuple[DataIssue, ...] = tuple(issues)
        super().__init__(self._message("en"), fr=self._message("fr"))

    def _message(self, lang: str) -> str:
        fr = lang == "fr"
        shown = "\n".join(f"  - {i.said(lang)}" for i in self.issues[: self.SHOWN])
        rest = len(self.issues) - self.SHOWN
        more = (f"\n  ... {'et' if fr else 'and'} {rest} {'de plus' if fr else 'more'}") if rest > 0 else ""
        head = (f"{len(self.issues)} problème(s) dans les données :" if fr
                else f"{len(self.issues)} problem(s) in the input:")
        return f"{head}\n{shown}{more}"


class MissingFileError(PlacementDataError):
    """A file the dataset needs is not there."""


class SchemaError(PlacementDataError):
    """Columns missing or unknown, or values of the wrong type or out of range."""


class UnknownReferenceError(PlacementDataError):
    """An id that points to nothing (unknown structure, unit, child or sibling group)."""


# --- pydantic's reasons in French ------------------------------------------------------------


_REASONS_FR: dict[str, str] = {
    "missing": "champ obligatoire absent",
    "extra_forbidden": "champ inconnu",
    "int_type": "doit être un nombre entier",
    "int_parsing": "doit être un nombre entier",
    "int_from_float": "doit être un nombre entier, sans décimales",
    "float_type": "doit être un nombre",
    "float_parsing": "doit être un nombre",
    "finite_number": "doit être un nombre fini",
    "bool_type": "doit être vrai ou faux (true ou false)",
    "bool_parsing": "doit être vrai ou faux (true ou false)",
    "string_type": "doit être un texte",
    "list_type": "doit être une liste",
    "dict_type": "doit être un objet",
    "model_type": "doit être un objet",
    "model_attributes_type": "doit être un objet",
    "date_type": "doit être une date (AAAA-MM-JJ)",
    "date_parsing": "doit être une date (AAAA-MM-JJ)",
    "date_from_datetime_parsing": "doit être une date (AAAA-MM-JJ)",
    "datetime_type": "doit être une date et heure ISO 8601",
    "datetime_parsing": "doit être une date et heure ISO 8601",
    "datetime_from_date_parsing": "doit être une date et heure ISO 8601",
    "greater_than": "doit être supérieur à {gt}",
    "greater_than_equal": "doit être au moins {ge}",
    "less_than": "doit être inférieur à {lt}",
    "less_than_equal": "doit être au plus {le}",
    "string_too_short": "doit compter au moins {min_length} caractère(s)",
    "string_too_long": "doit compter au plus {max_length} caractère(s)",
    "too_short": "doit compter au moins {min_length} élément(s)",
    "too_long": "doit compter au plus {max_length} élément(s)",
    "string_pattern_mismatch": "n'a pas la forme attendue ({pattern})",
    "literal_error": "doit être l'une des valeurs {expected}",
    "enum": "doit être l'une des valeurs {expected}",
}
"""Pydantic's reasons in French, by its error type (``ctx`` fills the braces); a type not listed
keeps pydantic's English words."""


def _french(value: Any) -> str:
    """A bound or a list of pydantic's context in French: ``0.0`` -> ``0``, ``2.5`` -> ``2,5``,
    ``'fr' or 'en'`` -> ``'fr' ou 'en'``."""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else str(value).replace(".", ",")
    return str(value).replace(" or ", " ou ")


def pydantic_reason(e: Mapping[str, Any], lang: str) -> str:
    """Why a field is invalid (one error of pydantic's ``errors()``), in ``lang``: pydantic's own
    message in English; in French, the sentence of :data:`_REASONS_FR`, or the French words of an
    engine error raised by a validator (a :class:`PlacementError` carries both). The API's
    problems and the scenario files' issues both say it this way."""
    ctx = e.get("ctx") or {}
    cause = ctx.get("error")
    if isinstance(cause, PlacementError):
        return cause.said(lang)
    template = _REASONS_FR.get(e.get("type", "")) if lang == "fr" else None
    if template is None:
        return str(e.get("msg", ""))
    try:
        return template.format(**{k: _french(v) for k, v in ctx.items()})
    except (KeyError, IndexError):
        return str(e.get("msg", ""))
