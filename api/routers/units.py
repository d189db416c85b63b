"""Units: a unit's details (structure, whom it takes, places, when they were declared); a
structure manager updates the capacity and occupied places of the units of their structures (a
declaration of its vacancies); officers and planners read a unit they may see (``api.policy``)."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter

from api import policy
from api.deps import CallerDep, ServicesDep, WriterSnapshotDep
from api.schemas import UnitOut, UnitUpdate
from api.services import Services, Snapshot
from data.db import audit
from data.db import repository as repo

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
