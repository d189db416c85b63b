"""Reservations: hold a place for a child or a fratrie, confirm it into a placement, cancel it.

Only an officer (or protection officer) of the children's service holds; only the holder's
service, or an administrator, reads, confirms or cancels (``api.policy``). Each change and its
audit rows commit together; reading a reservation is recorded too.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, status

from api import policy
from api.deps import CallerDep, ServicesDep, WriterSnapshotDep
from api.problems import ApiProblem
from api.schemas import ReservationIn, ReservationOut
from data.db import audit
from data.db import repository as repo
from data.db.models import ReservationRow
from matcher.rules import Option, exclusions

router = APIRouter(prefix="/reservations", tags=["reservations"])


def _out(row: ReservationRow, structure_id: str) -> ReservationOut:
    return ReservationOut(
        id=row.id, unit_id=row.unit_id, structure_id=structure_id, child_ids=list(row.child_ids),
        sibling_group_id=row.sibling_group_id, places=row.places, status=row.status,
        created_at=row.created_at, expires_at=row.expires_at, closed_at=row.closed_at,
        created_by=row.created_by, confirmed_by=row.confirmed_by, cancelled_by=row.cancelled_by,
    )


def _entries(caller, action: str, row: ReservationRow) -> list[audit.Entry]:
    return caller.entries(action, "reservation", [row.id]) + caller.entries(action, "child", row.child_ids)


@router.post("", response_model=ReservationOut, status_code=status.HTTP_201_CREATED,
             summary="Hold places for a child or a sibling group",
             responses={404: {"description": "Unknown unit, child or sibling group (or one the caller may not see)"},
                        409: {"description": "Not enough free places, or a child already holds one"},
                        422: {"description": "Invalid body, or a hard rule excludes the unit"}})
def hold(body: ReservationIn, services: ServicesDep, snap: WriterSnapshotDep, caller: CallerDep) -> ReservationOut:
    system = snap.system
    unit = policy.unit(caller, system, body.unit_id)
    if body.child_id is not None:
        children = [policy.child(caller, system, body.child_id)]
    else:
        group = policy.sibling_group(caller, system, body.sibling_group_id or "")
        children = [system.child_by_id[c] for c in group.child_ids]
    structure = system.structure_of(unit)
    errors = []
    for child in children:
        if child.current is not None and child.current.unit_id == unit.id:
            raise ApiProblem(409, "Conflict", f"Child {child.id} is already placed in unit {unit.id}.")
        option = Option(structure, unit, snap.travel.between(child.home.id, structure.id))
        for e in exclusions(child, option, system.reference_date):
            errors.append({"field": "unit_id", "in": "body", "reason": f"{child.id}: {e}"})
    if errors:
        said = "; ".join(e["reason"] for e in errors)
        raise ApiProblem(422, "Not eligible", f"Unit {unit.id} cannot take them: {said}.", errors)
    hours = body.hold_hours if body.hold_hours is not None else services.settings.hold_hours
    with services.db.write() as session:
        row = repo.hold(session, unit_id=unit.id, child_ids=[c.id for c in children],
                        sibling_group_id=body.sibling_group_id, ttl=timedelta(hours=hours), now=services.now(),
                        by=caller.name, service=caller.service)
        audit.record(session, _entries(caller, "hold", row), repo.utcnow())
        services.fault_pause("hold")
    return _out(row, structure.id)


@router.get("/{reservation_id}", response_model=ReservationOut, summary="A reservation (expired holds are released on access)")
def get(reservation_id: str, services: ServicesDep, snap: WriterSnapshotDep, caller: CallerDep) -> ReservationOut:
    with services.db.write() as session:
        row = repo.get_reservation(session, reservation_id)
        structure_id = policy.reservation(caller, snap.system, row)
        row = repo.refresh_expiry(session, row, services.now())
        audit.record(session, caller.entries("read", "reservation", [row.id]), repo.utcnow())
    return _out(row, structure_id)


def _check_visible(services, snap, caller, reservation_id: str) -> str:
    with services.db.read() as session:
        row = repo.get_reservation(session, reservation_id)
        return policy.reservation(caller, snap.system, row)


@router.post("/{reservation_id}/confirm", response_model=ReservationOut,
             summary="Confirm a hold into placements (one transaction with the capacity update)",
             responses={409: {"description": "The hold is no longer live (confirmed, cancelled or expired)"}})
def confirm(reservation_id: str, services: ServicesDep, snap: WriterSnapshotDep, caller: CallerDep) -> ReservationOut:
    structure_id = _check_visible(services, snap, caller, reservation_id)
    now = services.now()
    with services.db.write() as session:
        row = repo.confirm(session, reservation_id, now, now.date(), by=caller.name)
        audit.record(session, _entries(caller, "confirm", row), repo.utcnow())
        services.fault_pause("confirm")
    return _out(row, structure_id)


@router.post("/{reservation_id}/cancel", response_model=ReservationOut, summary="Cancel a hold",
             responses={409: {"description": "The hold is no longer live (confirmed, cancelled or expired)"}})
def cancel(reservation_id: str, services: ServicesDep, snap: WriterSnapshotDep, caller: CallerDep) -> ReservationOut:
    structure_id = _check_visible(services, snap, caller, reservation_id)
    with services.db.write() as session:
        row = repo.cancel(session, reservation_id, services.now(), by=caller.name)
        audit.record(session, _entries(caller, "cancel", row), repo.utcnow())
    return _out(row, structure_id)
