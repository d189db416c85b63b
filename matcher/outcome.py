"""What an assignment of children to places means for children and families.

The same summary serves the demo, the solver's report and the planners' scenario comparison:
where children are placed (Paris / Île-de-France / provinces), how far in minutes from the
child's anchor (family home, visit site, school or service), which fratries stay together, who is left without a place, and what it costs.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

import numpy as np

from matcher.model import AgeBand, AnchorKind, PlacementSystem, StructureType, Zone
from matcher.rules import siblings_together
from matcher.scoring import SCHOOL_CHANGE_MINUTES, school_continuity_applies
from matcher.travel import TravelMatrix

UnitOfChild = Mapping[str, str | None]
"""An assignment: for each child considered, the unit id, or None when left without a place."""


@dataclass(frozen=True)
class TravelStats:
    median_minutes: float | None
    p90_minutes: float | None
    mean_minutes: float | None
    unreachable: int
    """Placed children whose place has no computable public-transport time."""


@dataclass(frozen=True)
class SiblingStats:
    groups: int
    kept_together: int
    split: int
    """Groups spread over several structures (among those the judge did not allow to split)."""
    split_allowed: int
    """Separable groups that are in several structures."""
    not_all_placed: int
    """Groups with some but not all children placed (and the placed ones together)."""
    none_placed: int = 0
    """Groups none of whose children has a place."""


@dataclass(frozen=True)
class Summary:
    children: int
    placed: int
    unplaced: int
    placed_by_zone: dict[str, int]
    share_by_zone: dict[str, float]
    travel: TravelStats
    siblings: SiblingStats
    unplaced_by_age_band: dict[str, int]
    unplaced_by_need: dict[str, int]
    daily_cost_eur: float
    moved: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    in_hotel: int = 0
    """Young people placed in a hotel room."""
    school_changes: int = 0
    """Placed children of school age with a school, in the school year, whose place is more than
    ``SCHOOL_CHANGE_MINUTES`` (or unreachable) from that school (needs a travel matrix)."""
    anchor_used: dict[str, int] = field(default_factory=dict)
    """Children counted, by the point their travel is measured from (``Child.anchor``)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _shares(counts: Counter[str], total: int) -> dict[str, float]:
    """Shares rounded to 4 decimals that still add up to 1 (the largest takes the rounding)."""
    if not total:
        return {k: 0.0 for k in counts}
    shares = {k: round(n / total, 4) for k, n in counts.items()}
    largest = max(counts, key=lambda k: counts[k])
    shares[largest] = round(1.0 - sum(v for k, v in shares.items() if k != largest), 4)
    return shares


def summarize(
    system: PlacementSystem, unit_of_child: UnitOfChild, travel: TravelMatrix | None = None
) -> Summary:
    """Summarise an assignment. Children absent from ``unit_of_child`` are not counted."""
    on = system.reference_date
    by_zone: Counter[str] = Counter({z.value: 0 for z in Zone})
    minutes: list[float] = []
    unreachable = 0
    unplaced_band: Counter[str] = Counter({b.value: 0 for b in AgeBand})
    unplaced_need: Counter[str] = Counter()
    cost = 0.0
    moved = 0
    structure_of_child: dict[str, str | None] = {}
    in_hotel = school_changes = 0
    anchors: Counter[str] = Counter()
    for child_id, unit_id in unit_of_child.items():
        child = system.child_by_id[child_id]
        anchors[child.anchor.kind.value] += 1
        if unit_id is None:
            structure_of_child[child_id] = None
            unplaced_band[child.age_band_on(on).value] += 1
            for need in child.needs or ():
                unplaced_need[need.value] += 1
            if not child.needs:
                unplaced_need["none"] += 1
            continue
        unit = system.unit_by_id[unit_id]
        structure = system.structure_of(unit)
        structure_of_child[child_id] = structure.id
        by_zone[structure.zone.value] += 1
        cost += structure.daily_price_eur
        in_hotel += structure.type is StructureType.HOTEL
        if travel is not None and child.school is not None and school_continuity_applies(child, on):
            to_school = travel.between(child.school.id, structure.id)
            school_changes += to_school is None or to_school > SCHOOL_CHANGE_MINUTES
        if child.current is not None and child.current.unit_id != unit_id:
            moved += 1
        if travel is not None:
            m = travel.between(child.anchor.id, structure.id)
            if m is None:
                unreachable += 1
            else:
                minutes.append(m)
    placed = sum(by_zone.values())
    total = len(unit_of_child)

    groups = kept = split = split_allowed = partial = nothing = 0
    for group in system.sibling_groups:
        members = [c for c in group.child_ids if c in unit_of_child]
        if len(members) < 2:
            continue
        groups += 1
        structures = {structure_of_child[c] for c in members}
        placed_structures = structures - {None}
        if len(placed_structures) > 1:
            if siblings_together(group, structure_of_child) is None:
                split_allowed += 1
            else:
                split += 1
        elif not placed_structures:
            nothing += 1
        elif None in structures:
            partial += 1
        else:
            kept += 1

    arr = np.asarray(minutes, dtype=float)
    stats = TravelStats(
        median_minutes=round(float(np.median(arr)), 1) if arr.size else None,
        p90_minutes=round(float(np.percentile(arr, 90)), 1) if arr.size else None,
        mean_minutes=round(float(arr.mean()), 1) if arr.size else None,
        unreachable=unreachable,
    )
    return Summary(
        children=total,
        placed=placed,
        unplaced=total - placed,
        placed_by_zone=dict(by_zone),
        share_by_zone=_shares(by_zone, placed),
        travel=stats,
        siblings=SiblingStats(groups, kept, split, split_allowed, partial, nothing),
        unplaced_by_age_band=dict(unplaced_band),
        unplaced_by_need=dict(sorted(unplaced_need.items())),
        daily_cost_eur=round(cost, 2),
        moved=moved,
        in_hotel=in_hotel,
        school_changes=school_changes,
        anchor_used={k.value: anchors[k.value] for k in AnchorKind if anchors[k.value]},
    )
