"""Travel times from the children's origins to structures, as the domain consumes them.

Origins are family homes, schools, supervised-visit sites and service places
(:attr:`matcher.model.PlacementSystem.origins`); a child's travel term reads the row of
:attr:`matcher.model.Child.anchor`, school continuity the row of the child's school.

How the minutes are computed (public transport, walking, rail to the provinces) is the job of
:mod:`data.transit`; the domain only reads a matrix. Missing means unreachable, never zero.

Rows are *origins*: several homes may share one row (siblings share a home; homes close
together may be snapped to one origin cell by the travel layer), so the matrix stays small at
10x scale. Columns are structures.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Mapping

import numpy as np

from matcher.errors import DomainError


@dataclass(frozen=True, eq=False)
class TravelMatrix:
    """Door-to-door public-transport minutes, origins x structures (float32, NaN = unreachable)."""

    row_of_home: Mapping[str, int]
    """Row of ``minutes`` for each origin id (family home, school, visit site, service place; the
    name is historical)."""
    structure_ids: tuple[str, ...]
    minutes: np.ndarray

    def __post_init__(self) -> None:
        if self.minutes.ndim != 2 or self.minutes.shape[1] != len(self.structure_ids):
            raise DomainError(
                f"travel matrix has shape {self.minutes.shape}, expected (origins, {len(self.structure_ids)})",
                fr=f"la matrice des temps de trajet a la forme {self.minutes.shape}, attendue (origines, "
                   f"{len(self.structure_ids)})")
        rows = self.minutes.shape[0]
        bad = [h for h, r in self.row_of_home.items() if not 0 <= r < rows]
        if bad:
            raise DomainError(f"travel matrix: home(s) {', '.join(bad[:5])} point outside its {rows} rows",
                              fr=f"matrice des temps de trajet : le ou les domiciles {', '.join(bad[:5])} renvoient "
                                 f"hors de ses {rows} lignes")
        finite = self.minutes[~np.isnan(self.minutes)]
        if finite.size and finite.min() < 0:
            raise DomainError("travel matrix has negative minutes",
                              fr="la matrice des temps de trajet contient des minutes négatives")

    @classmethod
    def from_homes(cls, home_ids: tuple[str, ...], structure_ids: tuple[str, ...], minutes: np.ndarray) -> TravelMatrix:
        """One row per home, in the order given."""
        return cls({h: i for i, h in enumerate(home_ids)}, structure_ids, minutes)

    @cached_property
    def structure_index(self) -> Mapping[str, int]:
        return {s: j for j, s in enumerate(self.structure_ids)}

    def row(self, home_id: str) -> np.ndarray | None:
        """Minutes from one home to every structure (a view), or None if the home is unknown."""
        r = self.row_of_home.get(home_id)
        return None if r is None else self.minutes[r]

    def between(self, home_id: str, structure_id: str) -> float | None:
        """Minutes from a home to a structure, or None when unreachable or not in the matrix."""
        r = self.row_of_home.get(home_id)
        j = self.structure_index.get(structure_id)
        if r is None or j is None:
            return None
        value = float(self.minutes[r, j])
        return None if np.isnan(value) else value
