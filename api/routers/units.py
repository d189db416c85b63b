"""Units: a unit's details (structure, whom it takes, places, when they were declared); a
structure manager updates the capacity and occupied places of the units of their structures (a
declaration of its vacancies); officers and planners read a unit they may see (``api.policy``)."""

from __future__ import annotations

from datetime import timedelta

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select

from api import policy
from api.deps import CallerDep, ServicesDep, WriterSnapshotDep
from api.schemas import UnitOut, UnitsOut, UnitUpdate
from api.services import Services, Snapshot
from data.db import audit
from data.db import repository as repo
from data.db.models import UnitRow

router = APIRouter(prefix="/units", tags=["units"])


def _out(services: Services, snap: Snapshot, state: repo.UnitState) -> UnitOut:
    unit = snap.system.unit_by_id[state.id]
    s = snap.system.structure_of(unit)
    declared = state.vacancies_declared_at
    stale = declared is None or services.now() - declared > timedelta(days=services.settings.stale_after_days)
    return UnitOut(id=state.id, structure_id=state.structure_id, structure_name=s.name, structure_type=s.type.value,
                   age_min=unit.age_min, age_max=unit.age_max, sex=unit.sex.value,
                   needs_served=sorted(n.value for n in s.capabilities), takes_siblings=unit.takes_siblings,
                   capacity=state.capacity, occupied=state.occupied, held=state.held, free=state.free,
                   vacancies_declared_at=declared, vacancies_stale=stale)


@router.get("", response_model=UnitsOut, summary="The units the caller may see (a structure manager: their own)")
def units(services: ServicesDep, snap: WriterSnapshotDep, caller: CallerDep,
          structure_id: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
          limit: Annotated[int, Query(ge=1, le=1000)] = 200,
          offset: Annotated[int, Query(ge=0)] = 0) -> UnitsOut:
    """Sorted by structure then unit. A structure manager sees the units of their structures
    (their vacancies to declare), others every unit of a structure they may see."""
    system = snap.system
    visible = [u for u in system.units
               if policy.sees_structure(caller, system.structure_of(u))
               and (caller.role != policy.MANAGER or u.structure_id in caller.structure_ids)
               and (structure_id is None or u.structure_id == structure_id)]
    visible.sort(key=lambda u: (system.structure_of(u).name, u.id))
    page = visible[offset:offset + limit]
    with services.db.write() as session:
        repo.expire_holds(session, services.now())
        rows = {r.id: r for r in session.scalars(select(UnitRow).where(UnitRow.id.in_([u.id for u in page])))} if page else {}
        items = [_out(services, snap, repo.UnitState(r.id, r.structure_id, r.capacity, r.occupied, r.held,
                                                     r.vacancies_declared_at))
                 for r in (rows[u.id] for u in page if u.id in rows)]
    return UnitsOut(total=len(visible), items=items)


@router.get("/{unit_id}", response_model=UnitOut, summary="A unit's details and places")
def get(unit_id: str, services: ServicesDep, snap: WriterSnapshotDep, caller: CallerDep) -> UnitOut:
    policy.unit(caller, snap.system, unit_id)
    with services.db.write() as session:
        repo.expire_holds(session, services.now(), unit_id)
        audit.record(session, caller.entries("read", "unit", [unit_id]), repo.utcnow())
        return _out(services, snap, repo.unit_state(session, unit_id))


@router.patch("/{unit_id}", response_model=UnitOut, summary="Declare a unit's capacity and occupied places",
              responses={409: {"description": "Below what is occupied, held or placed"}})
def update(unit_id: str, body: UnitUpdate, services: ServicesDep, snap: WriterSnapshotDep, caller: CallerDep) -> UnitOut:
    policy.unit(caller, snap.system, unit_id)
    with services.db.write() as session:
        repo.expire_holds(session, services.now(), unit_id)
        state = repo.set_unit_places(session, unit_id, capacity=body.capacity, occupied=body.occupied,
                                     now=services.now())
        audit.record(session, caller.entries("update", "unit", [unit_id]), repo.utcnow())
        return _out(services, snap, state)
