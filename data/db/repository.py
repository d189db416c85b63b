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

from sqlalchemy import bindparam, func, select, update
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
from matcher.words import Said, reservation_status_fr

HELD, CONFIRMED, CANCELLED, EXPIRED = "held", "confirmed", "cancelled", "expired"
LIVE_STATUSES = (HELD,)


def _shown(value: str) -> str:
    """An id the caller sent, as an error may echo it: at most 64 characters."""
    return repr(value if len(value) <= 64 else value[:63] + "…")


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
    vacancies_declared_at: datetime | None = None

    @property
    def free(self) -> int:
        return self.capacity - self.occupied - self.held


def unit_state(session: Session, unit_id: str) -> UnitState:
    row = session.get(UnitRow, unit_id, populate_existing=True)
    if row is None:
        raise NotFoundError(f"unit {_shown(unit_id)} does not exist", fr=f"l'unité {_shown(unit_id)} n'existe pas")
    return UnitState(row.id, row.structure_id, row.capacity, row.occupied, row.held, row.vacancies_declared_at)


_LIVE_HOLDS = (select(ReservationRow.unit_id, func.sum(ReservationRow.places))
               .where(ReservationRow.status == HELD, ReservationRow.expires_at > bindparam("now"))
               .group_by(ReservationRow.unit_id))
"""Built once (read on every proposal: building it each time cost as much CPU as running it)."""


def live_holds(session: Session, now: datetime) -> dict[str, int]:
    """Places held per unit by reservations still live at ``now`` (expired ones not counted,
    even before the sweep has released them)."""
    rows = session.connection().execute(_LIVE_HOLDS, {"now": now})  # plain rows: no ORM layer
    return {unit_id: int(n) for unit_id, n in rows}


def get_reservation(session: Session, reservation_id: str) -> ReservationRow:
    row = session.get(ReservationRow, reservation_id, populate_existing=True)
    if row is None:
        raise NotFoundError(f"reservation {_shown(reservation_id)} does not exist",
                            fr=f"la réservation {_shown(reservation_id)} n'existe pas")
    return row


def expire_holds(session: Session, now: datetime, unit_id: str | None = None,
                 released_ids: list[str] | None = None) -> int:
    """Release every hold past its expiry (on one unit, or all): status ``expired``, places given
    back. Safe under concurrency: a hold is released by the one transaction whose conditional
    update flips its status. Returns the number of holds released (their ids are appended to
    ``released_ids`` when given)."""
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
            if released_ids is not None:
                released_ids.append(rid)
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
    return hold_bundle(session, parts=[(unit_id, list(child_ids))], sibling_group_id=sibling_group_id,
                       ttl=ttl, now=now, by=by, service=service)[0]


def hold_bundle(
    session: Session,
    *,
    parts: Sequence[tuple[str, Sequence[str]]],
    sibling_group_id: str | None,
    ttl: timedelta,
    now: datetime,
    by: str | None = None,
    service: str | None = None,
) -> list[ReservationRow]:
    """Hold places in one or several units, all or nothing, in the caller's transaction: one
    reservation per unit (``parts``: unit id and the children it takes); with more than one,
    each carries the id of the first as ``bundle_id`` and they are confirmed or cancelled
    together. The units are taken in id order (two bundles never wait for each other in a
    cycle); the first unit without room raises ConflictError and the caller's transaction rolls
    back every place taken before it."""
    child_ids = [c for _, children in parts for c in children]
    if not parts or any(not children for _, children in parts):
        raise ConflictError("a reservation needs at least one child in each unit",
                            fr="une réservation demande au moins un enfant dans chaque unité")
    if len(set(child_ids)) != len(child_ids):
        raise ConflictError("a child is listed twice", fr="un enfant figure deux fois")
    if len({u for u, _ in parts}) != len(parts):
        raise ConflictError("a unit is listed twice: put its children together",
                            fr="une unité figure deux fois : regroupez ses enfants")
    for unit_id, _ in parts:
        unit_state(session, unit_id)
    known = set(session.scalars(select(ChildRow.id).where(ChildRow.id.in_(child_ids))))
    missing = [c for c in child_ids if c not in known]
    if missing:
        raise NotFoundError(f"child(ren) {', '.join(missing)} do not exist",
                            fr=f"enfant(s) {', '.join(missing)} inexistant(s)")
    for unit_id, _ in parts:
        expire_holds(session, now, unit_id)
    # Lock the children's rows (in id order) so that two holds of one child queue and the second
    # sees the first: one live hold per child (PostgreSQL let both through under a race; SQLite's
    # BEGIN IMMEDIATE queues every writer anyway). After expire_holds, so that the unit is locked
    # before the children, as confirm() does.
    session.execute(select(ChildRow.id).where(ChildRow.id.in_(list(child_ids))).order_by(ChildRow.id).with_for_update())
    busy = session.execute(
        select(ReservationChildRow.child_id, ReservationRow.id, ReservationRow.unit_id)
        .join(ReservationRow, ReservationRow.id == ReservationChildRow.reservation_id)
        .where(ReservationChildRow.child_id.in_(child_ids), ReservationRow.status == HELD,
               ReservationRow.expires_at > now)
    ).all()
    if busy:
        said = "; ".join(f"{c} already holds a place in unit {u} (reservation {r})" for c, r, u in busy)
        dit = " ; ".join(f"{c} a déjà une place réservée dans l'unité {u} (réservation {r})" for c, r, u in busy)
        raise ConflictError(said + ": cancel it first", fr=dit + " : annulez-la d'abord")
    for unit_id, children in sorted(parts, key=lambda p: p[0]):
        n = len(children)
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
                + (": nothing was held" if len(parts) > 1 else ""),
                fr=f"l'unité {unit_id} a {max(state.free, 0)} place(s) libre(s) pour {n} enfant(s) : "
                f"{state.occupied} occupée(s) et {state.held} réservée(s) sur {state.capacity}"
                + (" : rien n'a été réservé" if len(parts) > 1 else ""),
            )
    rows = []
    for unit_id, children in parts:
        rows.append(ReservationRow(
            id=f"R-{uuid.uuid4().hex[:16]}", unit_id=unit_id, sibling_group_id=sibling_group_id,
            child_ids=list(children), places=len(children), status=HELD, created_at=now, expires_at=now + ttl,
            created_by=by, service=service,
        ))
    if len(rows) > 1:
        for row in rows:
            row.bundle_id = rows[0].id
    session.add_all(rows)
    session.flush()
    session.add_all(ReservationChildRow(reservation_id=r.id, child_id=c) for r in rows for c in r.child_ids)
    session.flush()
    return rows


def bundle_of(session: Session, row: ReservationRow, lock: bool = False) -> list[ReservationRow]:
    """Every reservation of ``row``'s bundle, the first one first (just ``row`` outside a bundle)."""
    if row.bundle_id is None:
        return [row]
    query = select(ReservationRow).where(ReservationRow.bundle_id == row.bundle_id).order_by(ReservationRow.id)
    if lock:
        query = query.with_for_update()
    rows = list(session.scalars(query.execution_options(populate_existing=True)))
    return sorted(rows, key=lambda r: (r.id != r.bundle_id, r.unit_id))


def _lock_reservation(session: Session, reservation_id: str) -> ReservationRow:
    row = session.scalars(
        select(ReservationRow).where(ReservationRow.id == reservation_id).with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if row is None:
        raise NotFoundError(f"reservation {_shown(reservation_id)} does not exist",
                            fr=f"la réservation {_shown(reservation_id)} n'existe pas")
    return row


def _closed(row: ReservationRow, status: str | None = None) -> ConflictError:
    status = status or row.status
    return ConflictError(f"reservation {row.id} is already {status}",
                         fr=f"la réservation {row.id} est déjà {reservation_status_fr(status)}")


def _live_bundle(session: Session, reservation_id: str, now: datetime) -> list[ReservationRow]:
    """The reservation's bundle, locked, expired holds released; 409 unless every one is live."""
    row = _lock_reservation(session, reservation_id)
    rows = bundle_of(session, row, lock=True)
    if any(r.status == HELD and r.expires_at <= now for r in rows):
        for r in rows:
            expire_holds(session, now, r.unit_id)
        for r in rows:
            session.refresh(r)
    for r in rows:
        if r.status != HELD:
            raise _closed(r if r.bundle_id is None or r.id == row.id else row, r.status)
    return rows


def confirm(session: Session, reservation_id: str, now: datetime, on: date, by: str | None = None) -> ReservationRow:
    """Turn a live hold into placements, in the caller's one transaction: each child's current
    placement is set (from ``on``), the unit's held places become occupied, a child moved from
    another unit frees that place, and the data version changes (the units and children changed
    carry it, :func:`~data.db.database.bump_version`). A hold of a bundle (a fratrie over several
    units) confirms every reservation of the bundle, or none. 409 when a hold is no longer live
    (confirmed, cancelled or expired)."""
    rows = _live_bundle(session, reservation_id, now)
    changed_units: set[str] = set()
    children_changed: list[str] = []
    for row in rows:
        session.execute(
            update(UnitRow).where(UnitRow.id == row.unit_id)
            .values(held=UnitRow.held - row.places, occupied=UnitRow.occupied + row.places)
        )
        changed_units.add(row.unit_id)
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
        children_changed.extend(row.child_ids)
        row.status = CONFIRMED
        row.closed_at = now
        row.confirmed_by = by
    bump_version(session, units=changed_units, children=children_changed)
    session.flush()
    return next(r for r in rows if r.id == reservation_id)


def cancel(session: Session, reservation_id: str, now: datetime, by: str | None = None) -> ReservationRow:
    """Give a live hold's places back (every reservation of its bundle). 409 when it is no longer live."""
    rows = _live_bundle(session, reservation_id, now)
    for row in rows:
        session.execute(update(UnitRow).where(UnitRow.id == row.unit_id).values(held=UnitRow.held - row.places))
        row.status = CANCELLED
        row.closed_at = now
        row.cancelled_by = by
    session.flush()
    return next(r for r in rows if r.id == reservation_id)


def refresh_expiry(session: Session, row: ReservationRow, now: datetime) -> ReservationRow:
    """Release the hold if it expired (on access), and return it as it now stands."""
    if row.status == HELD and row.expires_at <= now:
        expire_holds(session, now, row.unit_id)
        session.refresh(row)
    return row


def set_unit_places(session: Session, unit_id: str, *, capacity: int | None, occupied: int | None,
                    now: datetime | None = None) -> UnitState:
    """A structure manager's update of a unit's capacity and occupied places: a declaration of
    its vacancies (``vacancies_declared_at`` becomes ``now``).

    409 when the result would leave fewer places than are taken: capacity below occupied + held,
    or occupied below the children the store has placed there.
    """
    state = unit_state(session, unit_id)
    new_capacity = state.capacity if capacity is None else capacity
    new_occupied = state.occupied if occupied is None else occupied
    placed = int(session.scalar(select(func.count()).select_from(ChildRow).where(ChildRow.current_unit_id == unit_id)) or 0)
    if new_occupied < placed:
        raise ConflictError(
            f"unit {unit_id}: occupied {new_occupied} is below the {placed} child(ren) placed there",
            fr=f"unité {unit_id} : {new_occupied} place(s) occupée(s), moins que les {placed} enfant(s) "
            "qui y sont placés",
        )
    changed = session.execute(
        update(UnitRow)
        .where(UnitRow.id == unit_id, UnitRow.held + new_occupied <= new_capacity)
        .values(capacity=new_capacity, occupied=new_occupied, vacancies_declared_at=now or utcnow())
    ).rowcount
    if changed != 1:
        state = unit_state(session, unit_id)
        raise ConflictError(
            f"unit {unit_id}: capacity {new_capacity} is below the {new_occupied} occupied and "
            f"{state.held} held place(s)",
            fr=f"unité {unit_id} : une capacité de {new_capacity} est inférieure aux {new_occupied} place(s) "
            f"occupée(s) et {state.held} réservée(s)",
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
                      message="queued", message_fr="en file d'attente", created_at=now, owner=owner)
    session.add(row)
    session.flush()
    return row


def get_job(session: Session, job_id: str) -> BatchJobRow:
    row = session.get(BatchJobRow, job_id, populate_existing=True)
    if row is None:
        raise NotFoundError(f"batch job {_shown(job_id)} does not exist",
                            fr=f"le travail {_shown(job_id)} n'existe pas")
    return row


def update_job(session: Session, job_id: str, **values: Any) -> None:
    """Set a job's columns; a ``message`` or ``error`` given as a :class:`~matcher.words.Said`
    also sets its French column (a plain string clears it: no French left from an earlier step)."""
    session.execute(update(BatchJobRow).where(BatchJobRow.id == job_id).values(**with_french(values)))


def with_french(values: dict[str, Any]) -> dict[str, Any]:
    """``values`` with ``message_fr`` / ``error_fr`` beside a ``message`` / ``error`` given (the
    French words of a :class:`~matcher.words.Said`, else None) and the English as plain strings."""
    out = dict(values)
    for key in ("message", "error"):
        if key in values:
            text = values[key]
            if f"{key}_fr" not in values:  # given on its own: kept
                out[f"{key}_fr"] = text.fr if isinstance(text, Said) else None
            out[key] = None if text is None else str(text)
    return out
