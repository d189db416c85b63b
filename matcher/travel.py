"""Travel times from family homes to structures, as the domain consumes them.

How the minutes are computed (public transport, walking, rail to the provinces) is the job of
:mod:`data.transit`; the domain only reads a matrix. Missing means unreachable, never zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Mapping

import numpy as np

from matcher.errors import DomainError


@dataclass(frozen=True, eq=False)
class TravelMatrix:
    """Door-to-door public-transport minutes, homes x structures (float32, NaN = unreachable)."""

    home_ids: tuple[str, ...]
    structure_ids: tuple[str, ...]
    minutes: np.ndarray

    def __post_init__(self) -> None:
        expected = (len(self.home_ids), len(self.structure_ids))
        if self.minutes.shape != expected:
            raise DomainError(f"travel matrix has shape {self.minutes.shape}, expected {expected}")
        if np.any(self.minutes[~np.isnan(self.minutes)] < 0):
            raise DomainError("travel matrix has negative minutes")

    @cached_property
    def home_index(self) -> Mapping[str, int]:
        return {h: i for i, h in enumerate(self.home_ids)}

    @cached_property
    def structure_index(self) -> Mapping[str, int]:
        return {s: j for j, s in enumerate(self.structure_ids)}

    def between(self, home_id: str, structure_id: str) -> float | None:
        """Minutes from a home to a structure, or None when unreachable or not in the matrix."""
        i = self.home_index.get(home_id)
        j = self.structure_index.get(structure_id)
        if i is None or j is None:
            return None
        value = float(self.minutes[i, j])
        return None if np.isnan(value) else value
