"""Free places: units with room, filtered by type, age, sex, needs, zone and travel time."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import numpy as np
from fastapi import APIRouter, Query

from api import policy
from api.deps import CallerDep, ServicesDep, SessionDep, SnapshotDep
from api.problems import ApiProblem
from api.schemas import FreePlace, FreePlaces
from api.services import Snapshot
from data.db import repository as repo
from matcher.model import Need, Sex, StructureType

router = APIRouter(prefix="/places", tags=["free places"])


def _structure_of_unit(snap: Snapshot) -> np.ndarray:
    """Position in ``system.structures`` of each unit's structure (memoised on the snapshot)."""
    memo = snap.memo.get("unit_structure")
    if memo is None:
        pos = {s.id: k for k, s in enumerate(snap.system.structures)}
        memo = np.array([pos[u.structure_id] for u in snap.system.units], dtype=np.int64)
        snap.memo["unit_structure"] = memo
    return memo


@router.get("", response_model=FreePlaces, summary="List free places")
def free_places(
    services: ServicesDep,
    session: SessionDep,
    snap: SnapshotDep,
    caller: CallerDep,
    structure_type: Annotated[list[StructureType] | None, Query(description="One or more structure types.")] = None,
    age: Annotated[int | None, Query(ge=0, le=21, description="Age in years the unit must take.")] = None,
    sex: Annotated[Sex | None, Query(description="Sex the unit must admit (F or M).")] = None,
    needs: Annotated[list[Need] | None, Query(description="Needs the structure must provide (all of them).")] = None,
    zone: Annotated[str | None, Query(pattern=r"^[0-9]{2,3}[0-9AB]?[0-9]{0,2}$", description="INSEE code of an arrondissement or commune (5 characters) or a département (2-3).")] = None,
    within_minutes: Annotated[float | None, Query(gt=0, le=1440, description="Only places this close to the origin.")] = None,
    lat: Annotated[float | None, Query(ge=-90, le=90)] = None,
    lon: Annotated[float | None, Query(ge=-180, le=180)] = None,
    child_id: Annotated[str | None, Query(min_length=1, description="Origin: this child's anchor (visit site, family home, school or service).")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> FreePlaces:
    system, index = snap.system, snap.index
    if (lat is None) != (lon is None):
        missing = "lon" if lon is None else "lat"
        raise ApiProblem(422, "Invalid request", "Give both lat and lon, or neither.",
                         [{"field": missing, "in": "query", "reason": "lat and lon go together"}],
                         fr="Donnez lat et lon ensemble, ou aucun des deux.")
    if child_id is not None and lat is not None:
        raise ApiProblem(422, "Invalid request", "Give an origin as lat/lon or as child_id, not both.",
                         [{"field": "child_id", "in": "query", "reason": "only one origin"}],
                         fr="Donnez une origine par lat/lon ou par child_id, pas les deux.")
    if within_minutes is not None and child_id is None and lat is None:
        raise ApiProblem(422, "Invalid request", "within_minutes needs an origin: lat and lon, or child_id.",
                         [{"field": "within_minutes", "in": "query", "reason": "needs lat/lon or child_id"}],
                         fr="within_minutes demande une origine : lat et lon, ou child_id.")

    unit_structure = _structure_of_unit(snap)
    keep_s = np.ones(len(system.structures), dtype=bool)
    types = set(structure_type or ())
    wanted = frozenset(needs or ())
    for k, s in enumerate(system.structures):
        if not policy.sees_structure(caller, s) or (types and s.type not in types) \
                or (wanted and not wanted <= s.capabilities) \
                or (zone is not None and zone not in (s.location.commune, s.location.departement)):
            keep_s[k] = False

    held = repo.live_holds(session, services.now())
    free = index.free_places(held)
    mask = keep_s[unit_structure] & (free >= 1)
    if age is not None:
        mask &= (index.unit_age_min <= age) & (age <= index.unit_age_max)
    if sex is not None:
        mask &= (index.unit_sex == 0) | (index.unit_sex == (1 if sex is Sex.FEMALE else 2))

    minutes: np.ndarray | None = None
    if child_id is not None:
        policy.child_origin(caller)
        child = policy.child(caller, system, child_id, "child_id", "query")
        row = snap.travel.row(child.anchor.id)
        minutes = np.full(len(system.units), np.nan, dtype=np.float64)
        if row is not None:
            ok = index.unit_col >= 0
            minutes[ok] = row[index.unit_col[ok]]
    elif lat is not None and lon is not None:
        per_structure = services.systems.travel_source.minutes_from(lat, lon, system.structures)
        minutes = np.asarray(per_structure, dtype=np.float64)[unit_structure]
    if within_minutes is not None and minutes is not None:
        mask &= np.nan_to_num(minutes, nan=np.inf) <= within_minutes

    chosen = np.flatnonzero(mask)
    if minutes is not None:
        chosen = chosen[np.argsort(np.nan_to_num(minutes[chosen], nan=np.inf), kind="stable")]
    stale = snap.stale_units(services.now(), timedelta(days=services.settings.stale_after_days))
    items = []
    for j in chosen[offset:offset + limit]:
        unit = system.units[j]
        s = system.structures[unit_structure[j]]
        m = None if minutes is None or np.isnan(minutes[j]) else round(float(minutes[j]), 1)
        items.append(FreePlace(
            structure_id=s.id, structure_name=s.name, structure_type=s.type.value, operator=s.operator.value,
            commune=s.location.commune, departement=s.location.departement, zone=s.zone.value,
            daily_price_eur=s.daily_price_eur, unit_id=unit.id, age_min=unit.age_min, age_max=unit.age_max,
            sex=unit.sex.value, takes_siblings=unit.takes_siblings, capacity=unit.capacity, occupied=unit.occupied,
            held=held.get(unit.id, 0), free=int(free[j]), travel_minutes=m,
            vacancies_declared_at=snap.declared.get(unit.id), vacancies_stale=unit.id in stale,
        ))
    if child_id is not None:
        services.record(caller.entries("read-travel", "child", [child_id]), reading=session)
    return FreePlaces(total=int(chosen.size), free_places=int(free[chosen].sum()), data_version=snap.version, items=items)
