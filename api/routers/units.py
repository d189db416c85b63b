"""Units: a structure manager reads and updates a unit's capacity and occupied places."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import CallerDep, ServicesDep, WriterSnapshotDep
from api.problems import ApiProblem, not_found
from api.schemas import UnitOut, UnitUpdate
from data.db import repository as repo

router = APIRouter(prefix="/units", tags=["units"])


def _visible(snap, caller, unit_id: str) -> None:
    unit = snap.system.unit_by_id.get(unit_id)
    if unit is None or (snap.system.structure_of(unit).secret and not caller.sees_secret):
        raise not_found("Unit", unit_id, "unit_id")


def _out(state: repo.UnitState) -> UnitOut:
    return UnitOut(id=state.id, structure_id=state.structure_id, capacity=state.capacity,
                   occupied=state.occupied, held=state.held, free=state.free)


@router.get("/{unit_id}", response_model=UnitOut, summary="A unit's places")
def get(unit_id: str, services: ServicesDep, snap: WriterSnapshotDep, caller: CallerDep) -> UnitOut:
    _visible(snap, caller, unit_id)
    with services.db.write() as session:
        repo.expire_holds(session, services.now(), unit_id)
        return _out(repo.unit_state(session, unit_id))


@router.patch("/{unit_id}", response_model=UnitOut, summary="Update a unit's capacity and occupied places",
              responses={403: {"description": "Role may not manage units"},
                         409: {"description": "Below what is occupied, held or placed"}})
def update(unit_id: str, body: UnitUpdate, services: ServicesDep, snap: WriterSnapshotDep, caller: CallerDep) -> UnitOut:
    _visible(snap, caller, unit_id)
    if not caller.manages_units:
        raise ApiProblem(403, "Forbidden", f"Role {caller.role!r} may not change a unit's places: "
                         "a structure_manager or a planner may.")
    with services.db.write() as session:
        repo.expire_holds(session, services.now(), unit_id)
        return _out(repo.set_unit_places(session, unit_id, capacity=body.capacity, occupied=body.occupied))
