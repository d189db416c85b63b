"""Rebalancing plans in the store: a plan is a batch job (``method`` ``rebalance``) whose result
is the plan (:meth:`planning.rebalance.Plan.to_dict`) with, for each move, its ``status``
(``proposed`` or ``held``) and ``reservation_id``. A move becomes a reservation (a hold on the
new place, :func:`data.db.repository.hold`) when it is recorded with ``--apply`` or approved by
an officer; confirming that reservation moves the child (:func:`data.db.repository.confirm`).

Every function runs in the caller's transaction (``Database.write()``): :func:`record_plan`
writes the job and all its holds, or nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from data.db import repository as repo
from data.db.errors import ConflictError, NotFoundError
from data.db.models import BatchJobRow, ChildRow, ReservationRow
from matcher.words import Said, job_status_fr

METHOD = "rebalance"
PROPOSED, HELD = "proposed", "held"


def with_move_status(plan: dict[str, Any]) -> dict[str, Any]:
    """The plan with every move ``proposed`` and no reservation yet (a copy)."""
    out = dict(plan)
    out["moves"] = [{**m, "status": PROPOSED, "reservation_id": None} for m in plan.get("moves", [])]
    return out


def create_plan_job(session: Session, now: datetime) -> BatchJobRow:
    return repo.create_job(session, METHOD, now)


def store_plan(session: Session, job_id: str, plan: dict[str, Any], now: datetime) -> None:
    """A finished job's plan (every move proposed)."""
    repo.update_job(session, job_id, status="succeeded", progress=1.0, message=Said("done", "terminé"), finished_at=now,
                    result=with_move_status(plan))


def _plan_row(session: Session, job_id: str) -> BatchJobRow:
    """The plan's job, locked for this transaction (two approvals of one plan queue)."""
    row = session.scalars(
        select(BatchJobRow).where(BatchJobRow.id == job_id).with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if row is None or row.method != METHOD:
        raise NotFoundError(f"rebalancing plan {job_id!r} does not exist",
                            fr=f"le plan de rapprochement {job_id!r} n'existe pas")
    return row


def plan_of(session: Session, job_id: str) -> BatchJobRow:
    """The plan's job (read), 404 when there is none or it is another kind of job."""
    row = session.get(BatchJobRow, job_id, populate_existing=True)
    if row is None or row.method != METHOD:
        raise NotFoundError(f"rebalancing plan {job_id!r} does not exist",
                            fr=f"le plan de rapprochement {job_id!r} n'existe pas")
    return row


def _fratrie_moves(moves: list[dict[str, Any]], move: dict[str, Any]) -> list[dict[str, Any]]:
    """The move and the moves of the same fratrie in the plan (a fratrie moves together)."""
    gid = move.get("sibling_group_id")
    if gid is None:
        return [move]
    return [m for m in moves if m.get("sibling_group_id") == gid]


def _hold_moves(session: Session, moves: Sequence[dict[str, Any]], now: datetime, ttl: timedelta,
                by: str | None = None) -> list[ReservationRow]:
    """One hold per new unit and fratrie (or child) of ``moves``, recorded as made by ``by`` for
    the children's service (whose officers then confirm or cancel it); marks the moves held."""
    by_target: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for m in moves:
        key = (m["to_unit"], m.get("sibling_group_id") or m["child_id"])
        by_target.setdefault(key, []).append(m)
    rows = []
    for (unit_id, _), group in by_target.items():
        try:
            service = session.scalar(select(ChildRow.service).where(ChildRow.id == group[0]["child_id"]))
            row = repo.hold(session, unit_id=unit_id, child_ids=[m["child_id"] for m in group],
                            sibling_group_id=group[0].get("sibling_group_id"), ttl=ttl, now=now, by=by,
                            service=service)
        except ConflictError as err:
            waits = sorted({m["after_move"] for m in group if m.get("after_move") is not None})
            leavers = sorted({m["after_leaver"] for m in group if m.get("after_leaver") is not None})
            hint = (f" (move {', '.join(str(n) for n in waits)} must free the place first: confirm its reservation)"
                    if waits else f" (the place frees when {', '.join(leavers)} leaves care)" if leavers else "")
            indice = (f" (le déplacement {', '.join(str(n) for n in waits)} doit d'abord libérer la place : "
                      "confirmez sa réservation)" if waits else
                      f" (la place se libère quand {', '.join(leavers)} quitte la prise en charge)" if leavers else "")
            numbers = ", ".join(str(m["number"]) for m in group)
            raise ConflictError(f"move {numbers}: {err}{hint}",
                                fr=f"déplacement {numbers} : {err.said('fr')}{indice}") from None
        for m in group:
            m["status"], m["reservation_id"] = HELD, row.id
        rows.append(row)
    return rows


def record_plan(session: Session, plan: dict[str, Any], now: datetime, ttl: timedelta) -> tuple[str, list[ReservationRow]]:
    """Record a plan (``placement rebalance --apply``): the plan as a job and a hold for every
    move into a place free now (with its fratrie); a move into a place another move frees, or
    that a young adult leaving care by the plan's date frees, stays ``proposed`` until that
    place is free and the move is approved. In the caller's one
    transaction: any failure (a place taken meanwhile, an unknown child or unit) raises and
    nothing is written."""
    job = create_plan_job(session, now)
    result = with_move_status(plan)
    moves = result["moves"]
    ready: list[dict[str, Any]] = []
    for m in moves:
        family = _fratrie_moves(moves, m)
        if all(f.get("after_move") is None and f.get("after_leaver") is None for f in family) and m not in ready:
            ready.append(m)
    rows = _hold_moves(session, ready, now, ttl)
    repo.update_job(session, job.id, status="succeeded", progress=1.0, message=Said("recorded", "enregistré"), started_at=now,
                    finished_at=now, result=result)
    return job.id, rows


def approve_move(session: Session, job_id: str, number: int, now: datetime, ttl: timedelta,
                 by: str | None = None) -> list[ReservationRow]:
    """An officer approves move ``number`` of a plan: a hold on its new place (and on those of
    its fratrie's moves), in the caller's transaction. 404 for an unknown plan or move; 409 when
    the plan is not finished, the move is already held, or its place is not free (a chain's
    place is freed when the move before it is confirmed)."""
    row = _plan_row(session, job_id)
    if row.status != "succeeded" or not row.result:
        raise ConflictError(f"rebalancing plan {job_id} is {row.status}: there is nothing to approve yet",
                            fr=f"le plan de rapprochement {job_id} est {job_status_fr(row.status)} : il n'y a "
                            "encore rien à approuver")
    result = {**row.result, "moves": [dict(m) for m in row.result.get("moves", [])]}
    moves = result["moves"]
    move = next((m for m in moves if m.get("number") == number), None)
    if move is None:
        raise NotFoundError(f"rebalancing plan {job_id} has no move {number}",
                            fr=f"le plan de rapprochement {job_id} n'a pas de déplacement {number}")
    if move.get("status") == HELD:
        raise ConflictError(f"move {number} of plan {job_id} is already approved (reservation {move['reservation_id']})",
                            fr=f"le déplacement {number} du plan {job_id} est déjà approuvé "
                            f"(réservation {move['reservation_id']})")
    family = [m for m in _fratrie_moves(moves, move) if m.get("status") != HELD]
    reservations = _hold_moves(session, family, now, ttl, by)
    repo.update_job(session, job_id, result=result)
    return reservations
