"""Units: a structure manager reads and updates the capacity and occupied places of the units of
their structures; officers and planners read a unit they may see (``api.policy``)."""

from __future__ import annotations

from fastapi import APIRouter

from api import policy
from api.deps import CallerDep, ServicesDep, WriterSnapshotDep
from api.schemas import UnitOut, UnitUpdate
from data.db import audit
from data.db import repository as repo

router = APIRouter(prefix="/units", tags=["units"])


def _out(state: repo.UnitState) -> UnitOut:
    return UnitOut(id=state.id, structure_id=state.structure_id, capacity=state.capacity,
                   occupied=state.occupied, held=state.held, free=state.free)


@router.get("/{unit_id}", response_model=UnitOut, summary="A unit's places")
def get(unit_id: str, services: ServicesDep, snap: WriterSnapshotDep, caller: CallerDep) -> UnitOut:
    policy.unit(caller, snap.system, unit_id)
    with services.db.write() as session:
        repo.expire_holds(session, services.now(), unit_id)
        audit.record(session, caller.entries("read", "unit", [unit_id]), repo.utcnow())
        return _out(repo.unit_state(session, unit_id))


@router.patch("/{unit_id}", response_model=UnitOut, summary="Update a unit's capacity and occupied places",
              responses={409: {"description": "Below what is occupied, held or placed"}})
def update(unit_id: str, body: UnitUpdate, services: ServicesDep, snap: WriterSnapshotDep, caller: CallerDep) -> UnitOut:
    policy.unit(caller, snap.system, unit_id)
    with services.db.write() as session:
        repo.expire_holds(session, services.now(), unit_id)
        state = repo.set_unit_places(session, unit_id, capacity=body.capacity, occupied=body.occupied)
        audit.record(session, caller.entries("update", "unit", [unit_id]), repo.utcnow())
        return _out(state)
