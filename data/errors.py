"""Errors of data loading and validation.

Validation reports every problem at once: each :class:`DataIssue` names the file, the row
(1-based, the header being row 1), the column and the reason. A refused file leaves nothing
half-imported.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

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
