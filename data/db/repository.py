"""Live operations of the officers' service on the store: holds, confirmations, cancellations,
expiry, capacity updates and batch jobs. Each function runs inside the caller's transaction
(``Database.write()``), so a confirmation and its capacity update commit together or not at all.

No double booking: a hold takes its places with one atomic conditional update,
``UPDATE units SET held = held + n WHERE id = :unit AND occupied + held + n <= capacity``;
concurrent holds on the last place serialise on the unit's row (PostgreSQL row lock; SQLite's
write lock taken by ``BEGIN IMMEDIATE``) and exactly one of them matches. The table's CHECK
constraint ``occupied + held <= capacity`` guards the same invariant once more.

Times are naive UTC datetimes.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from data.db.database import bump_version
from data.db.errors import ConflictError, NotFoundError
from data.db.models import (
    BatchJobRow,
    ChildRow,
    PlacementRow,
    ReservationChildRow,
    ReservationRow,
    UnitRow,
)

HELD, CONFIRMED, CANCELLED, EXPIRED = "held", "confirmed", "cancelled", "expired"
LIVE_STATUSES = (HELD,)


def utcnow() -> datetime:
    """Now, as the store keeps it (naive UTC)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


@dataclass(frozen=True, slots=True)
class UnitState:
    id: str
    structure_id: str
    capacity: int
    occupied: int
    held: int

    @property
    def free(self) -> int:
        return self.capacity - self.occupied - self.held


def unit_state(session: Session, unit_id: str) -> UnitState:
    row = session.get(UnitRow, unit_id, populate_existing=True)
    if row is None:
        raise NotFoundError(f"unit {unit_id!r} does not exist")
    return UnitState(row.id, row.structure_id, row.capacity, row.occupied, row.held)


def live_holds(session: Session, now: datetime) -> dict[str, int]:
    """Places held per unit by reservations still live at ``now`` (expired ones not counted,
    even before the sweep has released them)."""
    rows = session.execute(
        select(ReservationRow.unit_id, func.sum(ReservationRow.places))
        .where(ReservationRow.status == HELD, ReservationRow.expires_at > now)
        .group_by(ReservationRow.unit_id)
    )
    return {unit_id: int(n) for unit_id, n in rows}


def get_reservation(session: Session, reservation_id: str) -> ReservationRow:
    row = session.get(ReservationRow, reservation_id, populate_existing=True)
    if row is None:
        raise NotFoundError(f"reservation {reservation_id!r} does not exist")
    return row


def expire_holds(session: Session, now: datetime, unit_id: str | None = None) -> int:
    """Release every hold past its expiry (on one unit, or all): status ``expired``, places given
    back. Safe under concurrency: a hold is released by the one transaction whose conditional
    update flips its status. Returns the number of holds released."""
    query = select(ReservationRow.id, ReservationRow.unit_id, ReservationRow.places).where(
        ReservationRow.status == HELD, ReservationRow.expires_at <= now
    )
    if unit_id is not None:
        query = query.where(ReservationRow.unit_id == unit_id)
    released = 0
    for rid, uid, places in session.execute(query).all():
        flipped = session.execute(
            update(ReservationRow)
            .where(ReservationRow.id == rid, ReservationRow.status == HELD)
            .values(status=EXPIRED, closed_at=now)
        ).rowcount
        if flipped:
            session.execute(update(UnitRow).where(UnitRow.id == uid).values(held=UnitRow.held - places))
            released += 1
    return released


def hold(
    session: Session,
    *,
    unit_id: str,
    child_ids: Sequence[str],
    sibling_group_id: str | None,
    ttl: timedelta,
    now: datetime,
    by: str | None = None,
    service: str | None = None,
) -> ReservationRow:
    """Hold ``len(child_ids)`` places of a unit until ``now + ttl``.

    404 when the unit or a child does not exist; 409 when a child already holds a place or the
    unit has too few free places (occupied + held). Eligibility is the caller's job (it knows
    the domain rules); this function guarantees only that no place is promised twice.
    """
    if not child_ids:
        raise ConflictError("a reservation needs at least one child")
    state = unit_state(session, unit_id)
    known = set(session.scalars(select(ChildRow.id).where(ChildRow.id.in_(list(child_ids)))))
    missing = [c for c in child_ids if c not in known]
    if missing:
        raise NotFoundError(f"child(ren) {', '.join(missing)} do not exist")
    expire_holds(session, now, unit_id)
    busy = session.execute(
        select(ReservationChildRow.child_id, ReservationRow.id, ReservationRow.unit_id)
        .join(ReservationRow, ReservationRow.id == ReservationChildRow.reservation_id)
        .where(ReservationChildRow.child_id.in_(list(child_ids)), ReservationRow.status == HELD,
               ReservationRow.expires_at > now)
    ).all()
    if busy:
        said = "; ".join(f"{c} already holds a place in unit {u} (reservation {r})" for c, r, u in busy)
        raise ConflictError(said + ": cancel it first")
    n = len(child_ids)
    taken = session.execute(
        update(UnitRow)
        .where(UnitRow.id == unit_id, UnitRow.occupied + UnitRow.held + n <= UnitRow.capacity)
        .values(held=UnitRow.held + n)
    ).rowcount
    if taken != 1:
        state = unit_state(session, unit_id)
        raise ConflictError(
            f"unit {unit_id} has {max(state.free, 0)} free place(s) for {n} child(ren): "
            f"{state.occupied} occupied and {state.held} held of {state.capacity}"
        )
    row = ReservationRow(
        id=f"R-{uuid.uuid4().hex[:16]}", unit_id=unit_id, sibling_group_id=sibling_group_id,
        child_ids=list(child_ids), places=n, status=HELD, created_at=now, expires_at=now + ttl,
        created_by=by, service=service,
    )
    session.add(row)
    session.flush()
    session.add_all(ReservationChildRow(reservation_id=row.id, child_id=c) for c in child_ids)
    session.flush()
    return row


def _lock_reservation(session: Session, reservation_id: str) -> ReservationRow:
    row = session.scalars(
        select(ReservationRow).where(ReservationRow.id == reservation_id).with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if row is None:
        raise NotFoundError(f"reservation {reservation_id!r} does not exist")
    return row


def _closed(row: ReservationRow) -> ConflictError:
    return ConflictError(f"reservation {row.id} is already {row.status}")


def confirm(session: Session, reservation_id: str, now: datetime, on: date, by: str | None = None) -> ReservationRow:
    """Turn a live hold into placements, in the caller's one transaction: each child's current
    placement is set (from ``on``), the unit's held places become occupied, a child moved from
    another unit frees that place, and the data version changes (the units and children changed
    carry it, :func:`~data.db.database.bump_version`). 409 when the hold is no longer
    live (confirmed, cancelled or expired)."""
    row = _lock_reservation(session, reservation_id)
    if row.status == HELD and row.expires_at <= now:
        expire_holds(session, now, row.unit_id)
        session.refresh(row)
    if row.status != HELD:
        raise _closed(row)
    session.execute(
        update(UnitRow).where(UnitRow.id == row.unit_id)
        .values(held=UnitRow.held - row.places, occupied=UnitRow.occupied + row.places)
    )
    changed_units = {row.unit_id}
    for child in session.scalars(select(ChildRow).where(ChildRow.id.in_(row.child_ids))):
        if child.current_unit_id is not None and child.current_unit_id != row.unit_id:
            session.execute(
                update(UnitRow).where(UnitRow.id == child.current_unit_id, UnitRow.occupied > 0)
                .values(occupied=UnitRow.occupied - 1)
            )
            changed_units.add(child.current_unit_id)
        child.current_unit_id = row.unit_id
        child.current_since = on
        session.add(PlacementRow(child_id=child.id, unit_id=row.unit_id, since=on, reservation_id=row.id,
                                 created_at=now))
    row.status = CONFIRMED
    row.closed_at = now
    row.confirmed_by = by
    bump_version(session, units=changed_units, children=row.child_ids)
    session.flush()
    return row


def cancel(session: Session, reservation_id: str, now: datetime, by: str | None = None) -> ReservationRow:
    """Give a live hold's places back. 409 when it is no longer live."""
    row = _lock_reservation(session, reservation_id)
    if row.status == HELD and row.expires_at <= now:
        expire_holds(session, now, row.unit_id)
        session.refresh(row)
    if row.status != HELD:
        raise _closed(row)
    session.execute(update(UnitRow).where(UnitRow.id == row.unit_id).values(held=UnitRow.held - row.places))
    row.status = CANCELLED
    row.closed_at = now
    row.cancelled_by = by
    session.flush()
    return row


def refresh_expiry(session: Session, row: ReservationRow, now: datetime) -> ReservationRow:
    """Release the hold if it expired (on access), and return it as it now stands."""
    if row.status == HELD and row.expires_at <= now:
        expire_holds(session, now, row.unit_id)
        session.refresh(row)
    return row


def set_unit_places(session: Session, unit_id: str, *, capacity: int | None, occupied: int | None) -> UnitState:
    """A structure manager's update of a unit's capacity and occupied places.

    409 when the result would leave fewer places than are taken: capacity below occupied + held,
    or occupied below the children the store has placed there.
    """
    state = unit_state(session, unit_id)
    new_capacity = state.capacity if capacity is None else capacity
    new_occupied = state.occupied if occupied is None else occupied
    placed = int(session.scalar(select(func.count()).select_from(ChildRow).where(ChildRow.current_unit_id == unit_id)) or 0)
    if new_occupied < placed:
        raise ConflictError(
            f"unit {unit_id}: occupied {new_occupied} is below the {placed} child(ren) placed there"
        )
    changed = session.execute(
        update(UnitRow)
        .where(UnitRow.id == unit_id, UnitRow.held + new_occupied <= new_capacity)
        .values(capacity=new_capacity, occupied=new_occupied)
    ).rowcount
    if changed != 1:
        state = unit_state(session, unit_id)
        raise ConflictError(
            f"unit {unit_id}: capacity {new_capacity} is below the {new_occupied} occupied and "
            f"{state.held} held place(s)"
        )
    bump_version(session, units=[unit_id])
    return unit_state(session, unit_id)


def double_bookings(session: Session) -> list[str]:
    """Units whose occupied + held places exceed their capacity, or whose held count differs
    from their live holds (should always be empty; the benchmark checks it)."""
    problems = []
    holds = dict(
        session.execute(
            select(ReservationRow.unit_id, func.sum(ReservationRow.places))
            .where(ReservationRow.status == HELD).group_by(ReservationRow.unit_id)
        ).all()
    )
    for u in session.scalars(select(UnitRow)):
        if u.occupied + u.held > u.capacity:
            problems.append(f"unit {u.id}: {u.occupied} occupied + {u.held} held > {u.capacity}")
        if u.held != int(holds.get(u.id, 0) or 0):
            problems.append(f"unit {u.id}: held {u.held} but live holds total {holds.get(u.id, 0)}")
    return problems


# --- batch jobs -------------------------------------------------------------------------------


def create_job(session: Session, method: str, now: datetime, owner: str | None = None) -> BatchJobRow:
    row = BatchJobRow(id=f"J-{uuid.uuid4().hex[:16]}", method=method, status="queued", progress=0.0,
                      message="queued", created_at=now, owner=owner)
    session.add(row)
    session.flush()
    return row


def get_job(session: Session, job_id: str) -> BatchJobRow:
    row = session.get(BatchJobRow, job_id, populate_existing=True)
    if row is None:
        raise NotFoundError(f"batch job {job_id!r} does not exist")
    return row


def update_job(session: Session, job_id: str, **values: Any) -> None:
    session.execute(update(BatchJobRow).where(BatchJobRow.id == job_id).values(**values))
