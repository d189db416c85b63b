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

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f", row {self.row}"
        if self.column is not None:
            where += f", column {self.column!r}"
        return f"{where}: {self.reason}"


class PlacementDataError(PlacementError):
    """Input data that cannot be used. ``issues`` lists every problem found."""

    def __init__(self, issues: Iterable[DataIssue] | str):
        if isinstance(issues, str):
            issues = [DataIssue("<input>", None, None, issues)]
        self.issues: tuple[DataIssue, ...] = tuple(issues)
        shown = "\n".join(f"  - {i}" for i in self.issues[:50])
        more = f"\n  ... and {len(self.issues) - 50} more" if len(self.issues) > 50 else ""
        super().__init__(f"{len(self.issues)} problem(s) in the input:\n{shown}{more}")


class MissingFileError(PlacementDataError):
    """A file the dataset needs is not there."""


class SchemaError(PlacementDataError):
    """Columns missing or unknown, or values of the wrong type or out of range."""


class UnknownReferenceError(PlacementDataError):
    """An id that points to nothing (unknown structure, unit, child or sibling group)."""
