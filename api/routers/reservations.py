"""Reservations: hold places for a child or a fratrie (in one unit, or in several units at once,
all or nothing), confirm them into placements, cancel them, list them.

Only an officer (or protection officer) of the children's service holds; only the holder's
service, or an administrator, reads, confirms or cancels (``api.policy``). Each change and its
audit rows commit together; reading a reservation is recorded too.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query, status
from sqlalchemy import select

from api import policy
from api.deps import CallerDep, ServicesDep, WriterSnapshotDep
from api.problems import ApiProblem, shown
from api.schemas import ReservationIn, ReservationOut, ReservationPartOut, ReservationsOut
from data.db import audit
from data.db import repository as repo
from data.db.models import ReservationRow
from matcher.model import Service
from matcher.rules import Option, exclusions

router = APIRouter(prefix="/reservations", tags=["reservations"])


def _out(rows: list[ReservationRow], snap, caller) -> ReservationOut:
    """One reservation (or a bundle's, the first one first) as the caller may see it."""
    lead = rows[0]
    parts = [ReservationPartOut(reservation_id=r.id, unit_id=r.unit_id, structure_id=_structure_id(snap, r.unit_id),
                                child_ids=list(r.child_ids), places=r.places) for r in rows]
    return ReservationOut(
        id=lead.id, unit_id=lead.unit_id, structure_id=parts[0].structure_id,
        child_ids=[c for r in rows for c in r.child_ids], sibling_group_id=lead.sibling_group_id,
        places=sum(r.places for r in rows), status=lead.status, created_at=lead.created_at,
        expires_at=lead.expires_at, closed_at=lead.closed_at, bundle_id=lead.bundle_id,
        created_by=lead.created_by, confirmed_by=lead.confirmed_by, cancelled_by=lead.cancelled_by,
        parts=parts,
    )


def _structure_id(snap, unit_id: str) -> str:
    unit = snap.system.unit_by_id.get(unit_id)
    return unit.structure_id if unit else ""


def _unit(snap, caller, unit_id: str, field: str):
    """A unit the caller may hold: unknown and not visible alike are the same 404."""
    try:
        return policy.unit(caller, snap.system, unit_id)
    except ApiProblem as err:
        err.errors = [{"field": field, "in": "body", "reason": "no unit has this id"}]
        raise



@router.post("", response_model=ReservationOut, status_code=status.HTTP_201_CREATED,
             summary="Hold places for a child or a sibling group (in several units at once: all or nothing)",
             responses={404: {"description": "Unknown unit, child or sibling group"},
                        409: {"description": "Not enough free places, or a child already holds one"},
                        422: {"description": "Invalid body, or a hard rule excludes the unit"}})
def hold(body: ReservationIn, services: ServicesDep, snap: WriterSnapshotDep, caller: CallerDep) -> ReservationOut:
    system = snap.system
    if body.child_id is not None:
        children = [policy.child(caller, system, body.child_id)]
    else:
        group = policy.sibling_group(caller, system, body.sibling_group_id or "")
        children = [system.child_by_id[c] for c in group.child_ids]
    if body.placements is None:
        unit = _unit(snap, caller, body.unit_id or "", "unit_id")
        plan = [(children, unit)]
        for child in children:
            if child.current is not None and child.current.unit_id == unit.id:
                raise ApiProblem(409, "Conflict", f"Child {child.id} is already placed in unit {unit.id}.")
    else:
        plan = _bundle_plan(snap, caller, children, body)
    errors = []
    for kids, unit in plan:
        structure = system.structure_of(unit)
        for child in kids:
            option = Option.of(child, structure, unit, snap.travel)
            for e in exclusions(child, option, system.reference_date):
                errors.append({"field": "unit_id" if body.placements is None else "placements", "in": "body",
                               "reason": f"{child.id}: {e}"})
    if errors:
        said = "; ".join(e["reason"] for e in errors)
        where = plan[0][1].id if len(plan) == 1 else ", ".join(u.id for _, u in plan)
        raise ApiProblem(422, "Not eligible", f"Unit {where} cannot take them: {said}." if len(plan) == 1
                         else f"Units {where} cannot take them: {said}.", errors)
    hours = body.hold_hours if body.hold_hours is not None else services.settings.hold_hours
    with services.db.write() as session:
        rows = repo.hold_bundle(session, parts=[(u.id, [c.id for c in kids]) for kids, u in plan],
                                sibling_group_id=body.sibling_group_id, ttl=timedelta(hours=hours),
                                now=services.now(), by=caller.name, service=caller.service)
        audit.record(session, caller.reservation_entries("hold", rows), repo.utcnow())
        services.fault_pause("hold")
    return _out(rows, snap, caller)


def _bundle_plan(snap, caller, children, body: ReservationIn):
    """The units of a fratrie's hold in several units: every sibling who is not staying where
    they live is listed once, and no one else."""
    system = snap.system
    ids = {c.id for c in children}
    listed: dict[str, str] = {}
    for p in body.placements or ():
        if p.child_id not in ids:
            raise ApiProblem(422, "Invalid request", f"Child {shown(p.child_id)} is not in sibling group "
                             f"{body.sibling_group_id}.", [{"field": "placements", "in": "body",
                                                            "reason": "child not in the sibling group"}])
        if p.child_id in listed:
            raise ApiProblem(422, "Invalid request", f"Child {p.child_id} is listed twice.",
                             [{"field": "placements", "in": "body", "reason": "child listed twice"}])
        listed[p.child_id] = p.unit_id
    staying = {c.id for c in children if c.current is not None and c.id not in listed}
    missing = sorted(ids - set(listed) - staying)
    if missing:
        raise ApiProblem(422, "Invalid request", f"The hold leaves out {', '.join(missing)}: every waiting sibling "
                         "needs a unit (all or nothing).",
                         [{"field": "placements", "in": "body", "reason": f"missing {', '.join(missing)}"}])
    by_unit: dict[str, list] = {}
    for child in children:
        if child.id not in listed:
            continue
        unit = _unit(snap, caller, listed[child.id], "placements")
        if child.current is not None and child.current.unit_id == unit.id:
            raise ApiProblem(409, "Conflict", f"Child {child.id} is already placed in unit {unit.id}: leave them out.")
        by_unit.setdefault(unit.id, []).append(child)
    return [(kids, system.unit_by_id[u]) for u, kids in by_unit.items()]


def _visible(snap, caller, rows: list[ReservationRow], reservation_id: str) -> None:
    """Every reservation of a bundle is one the caller may see and act on; 404 otherwise."""
    for r in rows:
        policy.reservation(caller, snap.system, r)


@router.get("", response_model=ReservationsOut, summary="List reservations (by holder, service, status)")
def list_reservations(
    services: ServicesDep, snap: WriterSnapshotDep, caller: CallerDep,
    holder: Annotated[str | None, Query(min_length=1, max_length=64, description="The account that made the hold.")] = None,
    service: Annotated[list[Service] | None, Query(description="The ASE service(s) following one of the children.")] = None,
    status_: Annotated[list[Literal["held", "confirmed", "cancelled", "expired"]] | None,
                       Query(alias="status", description="held, confirmed, cancelled or expired.")] = None,
    unit_id: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> ReservationsOut:
    """Newest first; a bundle (a fratrie held over several units) is one item. Holds past their
    expiry are released first, so that ``status=held`` lists only live ones."""
    now = services.now()
    with services.db.write() as session:
        repo.expire_holds(session, now)
    with services.db.read() as session:
        query = select(ReservationRow).order_by(ReservationRow.created_at.desc(), ReservationRow.id)
        if holder is not None:
            query = query.where(ReservationRow.created_by == holder)
        if status_:
            query = query.where(ReservationRow.status.in_(status_))
        if unit_id is not None:
            query = query.where(ReservationRow.unit_id == unit_id)
        rows = list(session.scalars(query))
        bundles: dict[str, list[ReservationRow]] = {}
        for r in rows:
            bundles.setdefault(r.bundle_id or r.id, []).append(r)
        wanted = set(service or ())
        items = []
        for key, members in bundles.items():
            if members[0].bundle_id is not None:
                members = repo.bundle_of(session, members[0])
            if not all(_may_see(snap, caller, r) for r in members):
                continue
            if wanted:
                kids = [snap.system.child_by_id.get(c) for r in members for c in r.child_ids]
                if not any(k is not None and k.service in wanted for k in kids):
                    continue
            items.append(members)
        page = [_out(m, snap, caller) for m in items[offset:offset + limit]]
    return ReservationsOut(total=len(items), items=page)


def _may_see(snap, caller, row: ReservationRow) -> bool:
    try:
        policy.reservation(caller, snap.system, row)
    except ApiProblem:
        return False
    return True


@router.get("/{reservation_id}", response_model=ReservationOut, summary="A reservation (expired holds are released on access)")
def get(reservation_id: str, services: ServicesDep, snap: WriterSnapshotDep, caller: CallerDep) -> ReservationOut:
    with services.db.write() as session:
        row = repo.refresh_expiry(session, repo.get_reservation(session, reservation_id), services.now())
        rows = repo.bundle_of(session, row)
        _visible(snap, caller, rows, reservation_id)
        for r in rows:
            repo.refresh_expiry(session, r, services.now())
        audit.record(session, caller.entries("read", "reservation", [r.id for r in rows]), repo.utcnow())
    return _out(rows, snap, caller)


def _check_visible(services, snap, caller, reservation_id: str) -> None:
    with services.db.read() as session:
        row = repo.get_reservation(session, reservation_id)
        _visible(snap, caller, repo.bundle_of(session, row), reservation_id)


@router.post("/{reservation_id}/confirm", response_model=ReservationOut,
             summary="Confirm a hold into placements (a bundle: all of it; one transaction with the capacity update)",
             responses={409: {"description": "The hold is no longer live (confirmed, cancelled or expired)"}})
def confirm(reservation_id: str, services: ServicesDep, snap: WriterSnapshotDep, caller: CallerDep) -> ReservationOut:
    _check_visible(services, snap, caller, reservation_id)
    now = services.now()
    with services.db.write() as session:
        row = repo.confirm(session, reservation_id, now, now.date(), by=caller.name)
        rows = repo.bundle_of(session, row)
        audit.record(session, caller.reservation_entries("confirm", rows), repo.utcnow())
        services.fault_pause("confirm")
    return _out(rows, snap, caller)


@router.post("/{reservation_id}/cancel", response_model=ReservationOut, summary="Cancel a hold (a bundle: all of it)",
             responses={409: {"description": "The hold is no longer live (confirmed, cancelled or expired)"}})
def cancel(reservation_id: str, services: ServicesDep, snap: WriterSnapshotDep, caller: CallerDep) -> ReservationOut:
    _check_visible(services, snap, caller, reservation_id)
    with services.db.write() as session:
        row = repo.cancel(session, reservation_id, services.now(), by=caller.name)
        rows = repo.bundle_of(session, row)
        audit.record(session, caller.reservation_entries("cancel", rows), repo.utcnow())
    return _out(rows, snap, caller)
