"""Reservations: hold a place for a child or a fratrie, confirm it into a placement, cancel it."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, status

from api.deps import CallerDep, ServicesDep, WriterSnapshotDep
from api.problems import ApiProblem
from api.schemas import ReservationIn, ReservationOut
from api.services import Services
from data.db import repository as repo
from data.db.models import ReservationRow
from matcher.rules import Option, exclusions

router = APIRouter(prefix="/reservations", tags=["reservations"])


def _out(row: ReservationRow, structure_id: str) -> ReservationOut:
    return ReservationOut(
        id=row.id, unit_id=row.unit_id, structure_id=structure_id, child_ids=list(row.child_ids),
        sibling_group_id=row.sibling_group_id, places=row.places, status=row.status,
        created_at=row.created_at, expires_at=row.expires_at, closed_at=row.closed_at,
    )


def _visible_structure(services: Services, snap, caller, unit_id: str) -> str:
    """The structure of a unit the caller may see; 404 otherwise (a secret place is not
    acknowledged to exist for a caller who may not see it)."""
    unit = snap.system.unit_by_id.get(unit_id)
    if unit is None or (snap.system.structure_of(unit).secret and not caller.sees_secret):
        raise ApiProblem(404, "Not found", f"Unit {unit_id!r} does not exist.")
    return unit.structure_id


@router.post("", response_model=ReservationOut, status_code=status.HTTP_201_CREATED,
             summary="Hold places for a child or a sibling group",
             responses={404: {"description": "Unknown unit, child or sibling group"},
                        409: {"description": "Not enough free places, or a child already holds one"},
                        422: {"description": "Invalid body, or a hard rule excludes the unit"}})
def hold(body: ReservationIn, services: ServicesDep, snap: WriterSnapshotDep, caller: CallerDep) -> ReservationOut:
    system = snap.system
    structure_id = _visible_structure(services, snap, caller, body.unit_id)
    if body.child_id is not None:
        if body.child_id not in system.child_by_id:
            raise ApiProblem(404, "Not found", f"Child {body.child_id!r} does not exist.")
        children = [system.child_by_id[body.child_id]]
    else:
        group = system.sibling_group_by_id.get(body.sibling_group_id or "")
        if group is None:
            raise ApiProblem(404, "Not found", f"Sibling group {body.sibling_group_id!r} does not exist.")
        children = [system.child_by_id[c] for c in group.child_ids]
    unit = system.unit_by_id[body.unit_id]
    structure = system.structure_by_id[structure_id]
    errors = []
    for child in children:
        if child.current is not None and child.current.unit_id == unit.id:
            raise ApiProblem(409, "Conflict", f"Child {child.id} is already placed in unit {unit.id}.")
        option = Option.of(child, structure, unit, snap.travel)
        for e in exclusions(child, option, system.reference_date):
            errors.append({"field": "unit_id", "in": "body", "reason": f"{child.id}: {e}"})
    if errors:
        said = "; ".join(e["reason"] for e in errors)
        raise ApiProblem(422, "Not eligible", f"Unit {unit.id} cannot take them: {said}.", errors)
    hours = body.hold_hours if body.hold_hours is not None else services.settings.hold_hours
    with services.db.write() as session:
        row = repo.hold(session, unit_id=unit.id, child_ids=[c.id for c in children],
                        sibling_group_id=body.sibling_group_id, ttl=timedelta(hours=hours), now=services.now())
    return _out(row, structure_id)


@router.get("/{reservation_id}", response_model=ReservationOut, summary="A reservation (expired holds are released on access)")
def get(reservation_id: str, services: ServicesDep, snap: WriterSnapshotDep, caller: CallerDep) -> ReservationOut:
    with services.db.write() as session:
        row = repo.refresh_expiry(session, repo.get_reservation(session, reservation_id), services.now())
    return _out(row, _visible_reservation(snap, caller, row))


def _visible_reservation(snap, caller, row: ReservationRow) -> str:
    unit = snap.system.unit_by_id.get(row.unit_id)
    structure_id = unit.structure_id if unit else ""
    if unit is not None and snap.system.structure_of(unit).secret and not caller.sees_secret:
        raise ApiProblem(404, "Not found", f"Reservation {row.id!r} does not exist.")
    return structure_id


def _check_visible(services: Services, snap, caller, reservation_id: str) -> str:
    with services.db.read() as session:
        row = repo.get_reservation(session, reservation_id)
        return _visible_reservation(snap, caller, row)


@router.post("/{reservation_id}/confirm", response_model=ReservationOut,
             summary="Confirm a hold into placements (one transaction with the capacity update)")
def confirm(reservation_id: str, services: ServicesDep, snap: WriterSnapshotDep, caller: CallerDep) -> ReservationOut:
    structure_id = _check_visible(services, snap, caller, reservation_id)
    now = services.now()
    with services.db.write() as session:
        row = repo.confirm(session, reservation_id, now, now.date())
    return _out(row, structure_id)


@router.post("/{reservation_id}/cancel", response_model=ReservationOut, summary="Cancel a hold")
def cancel(reservation_id: str, services: ServicesDep, snap: WriterSnapshotDep, caller: CallerDep) -> ReservationOut:
    structure_id = _check_visible(services, snap, caller, reservation_id)
    with services.db.write() as session:
        row = repo.cancel(session, reservation_id, services.now())
    return _out(row, structure_id)
