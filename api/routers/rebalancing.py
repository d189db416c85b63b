"""Rebalancing: a planner submits a plan (a job), officers approve its moves one by one (each
approval holds the new place: a reservation, confirmed like any other)."""

from __future__ import annotations

import logging
from datetime import timedelta

from fastapi import APIRouter, status

from api import policy
from api.deps import CallerDep, LangDep, ServicesDep, SessionDep, WriterSnapshotDep
from api.problems import ApiProblem
from api.schemas import RebalancingIn, RebalancingOut, ReservationOut
from api.services import Services
from data.db import audit
from data.db import rebalancing as store
from data.db import repository as repo
from data.db.models import BatchJobRow
from matcher.rules import Option, exclusions
from matcher.words import Lang, Said, failure_words, rule_reason

log = logging.getLogger(__name__)

router = APIRouter(prefix="/rebalancing", tags=["rebalancing"])



def _run(services: Services, job_id: str, body: RebalancingIn) -> None:
    """The job: plan on the latest snapshot, store it (every move proposed), or record the failure."""
    from planning.rebalance import RebalanceSettings, greedy_rebalancing, plan_rebalancing

    with services.db.write() as session:
        repo.update_job(session, job_id, status="running", started_at=services.now(),
                        message=Said("planning", "planification"))
    try:
        with services.db.read() as session:
            snap = services.systems.snapshot(session)
        run = plan_rebalancing if body.method == "optimal" else greedy_rebalancing
        plan = run(snap.system, snap.travel, services.weights, RebalanceSettings.default(), on=body.on,
                   max_moves=body.max_moves, min_gain=body.min_gain_minutes)
        with services.db.write() as session:
            store.store_plan(session, job_id, {"data_version": snap.version, **plan.to_dict()}, services.now())
    except Exception as err:  # the job fails, the server does not
        log.exception("rebalancing job %s failed", job_id)
        with services.db.write() as session:
            repo.update_job(session, job_id, status="failed", finished_at=services.now(),
                            message=Said("failed", "en échec"), error=failure_words(err))


def _secret_structures(snap) -> frozenset[str]:
    return frozenset(s.id for s in snap.system.structures if s.secret)


def _out(row: BatchJobRow, snap, caller, services: Services, lang: Lang) -> RebalancingOut:
    """The plan as the caller may see it (``api.policy``): no move touching a secret place for
    those not entitled; an officer sees the moves of their service's children; a planner sees
    every move with pseudonyms instead of child ids."""
    plan = row.result if row.status == "succeeded" else None
    hidden = 0
    if plan is not None:
        moves = plan.get("moves", [])
        shown = [m for m in moves
                 if all(policy.sees_structure(caller, snap.system.structure_by_id[s])
                        for s in (m["from_structure"], m["to_structure"]) if s in snap.system.structure_by_id)]
        if caller.role in policy.SERVICE_ROLES:
            shown = [m for m in shown if m["child_id"] in snap.system.child_by_id
                     and policy.acts_for_child(caller, snap.system.child_by_id[m["child_id"]])]
        elif caller.role == policy.PLANNER:
            shown = [{**m, "child_id": services.security.pseudonym(m["child_id"]),
                      "reason": m.get("reason", "").replace(m["child_id"], services.security.pseudonym(m["child_id"]))}
                     for m in shown]
        hidden = len(moves) - len(shown)
        plan = {**plan, "moves": shown}
    message, error = row.said(lang)
    return RebalancingOut(id=row.id, status=row.status, progress=row.progress, message=message,
                          created_at=row.created_at, finished_at=row.finished_at, error=error, plan=plan,
                          hidden_moves=hidden)


@router.post("", response_model=RebalancingOut, status_code=status.HTTP_202_ACCEPTED,
             summary="Submit a rebalancing (planners)",
             responses={403: {"description": "The caller is not a planner"},
                        409: {"description": "The store holds no placement system"}})
def submit(body: RebalancingIn, services: ServicesDep, snap: WriterSnapshotDep, caller: CallerDep,
           lang: LangDep) -> RebalancingOut:
    if body.on is not None and body.on < snap.system.reference_date:
        raise ApiProblem(422, "Invalid request", f"The date {body.on.isoformat()} is before the data's reference date "
                         f"{snap.system.reference_date.isoformat()}.", [{"field": "on", "in": "body", "reason": "before the reference date"}],
                         fr=f"La date {body.on.isoformat()} précède la date de référence des données "
                         f"{snap.system.reference_date.isoformat()}.")
    with services.db.write() as session:
        job_id = store.create_plan_job(session, services.now()).id
    services.jobs.futures[job_id] = services.jobs.executor.submit(_run, services, job_id, body)
    with services.db.read() as session:
        return _out(store.plan_of(session, job_id), snap, caller, services, lang)


@router.get("/{job_id}", response_model=RebalancingOut, summary="A rebalancing: status, then the plan",
            responses={404: {"description": "Unknown plan"}})
def get(job_id: str, services: ServicesDep, session: SessionDep, snap: WriterSnapshotDep, caller: CallerDep,
        lang: LangDep) -> RebalancingOut:
    return _out(store.plan_of(session, job_id), snap, caller, services, lang)


@router.post("/{job_id}/moves/{number}/approve", response_model=list[ReservationOut],
             status_code=status.HTTP_201_CREATED,
             summary="Approve a move (officers): its new place is held, with its fratrie's",
             responses={403: {"description": "The caller is not an officer"},
                        404: {"description": "Unknown plan or move"},
                        409: {"description": "Already approved, plan not ready, or the place is not free (yet)"},
                        422: {"description": "A hard rule now excludes the move"}})
def approve(job_id: str, number: int, services: ServicesDep, snap: WriterSnapshotDep, caller: CallerDep) -> list[ReservationOut]:
    system = snap.system
    with services.db.read() as session:
        row = store.plan_of(session, job_id)
    moves = (row.result or {}).get("moves", []) if row.status == "succeeded" else []
    move = next((m for m in moves if m.get("number") == number), None)
    secret = _secret_structures(snap)
    if move is not None and (not caller.sees_secret and (move["from_structure"] in secret or move["to_structure"] in secret)
                             or move["child_id"] not in system.child_by_id
                             or not policy.acts_for_child(caller, system.child_by_id[move["child_id"]])):
        move = None  # a move the caller may not see or act on is not acknowledged to exist
    if move is None and row.status == "succeeded":
        raise ApiProblem(404, "Not found", f"Rebalancing plan {job_id} has no move {number}.",
                         fr=f"Le plan de rapprochement {job_id} n'a pas de déplacement {number}.")
    if move is not None:
        family = [m for m in moves if m is move or (move.get("sibling_group_id") and m.get("sibling_group_id") == move["sibling_group_id"])]
        errors, french = [], []
        for m in family:
            child, unit = system.child_by_id.get(m["child_id"]), system.unit_by_id.get(m["to_unit"])
            if child is None or unit is None:
                raise ApiProblem(404, "Not found", f"Move {m['number']}: child {m['child_id']} or unit {m['to_unit']} no longer exists.",
                                 fr=f"Déplacement {m['number']} : l'enfant {m['child_id']} ou l'unité {m['to_unit']} "
                                 "n'existe plus.")
            structure = system.structure_of(unit)
            option = Option.of(child, structure, unit, snap.travel)
            for e in exclusions(child, option, system.reference_date):
                errors.append({"field": "number", "in": "path", "reason": f"move {m['number']}, {child.id}: {e}"})
                french.append(f"déplacement {m['number']}, {child.id} : " + rule_reason(
                    e.rule, child, structure, unit, option.travel_minutes, child.age_on(system.reference_date), "fr"))
        if errors:
            said = "; ".join(e["reason"] for e in errors)
            raise ApiProblem(422, "Not eligible", f"The move can no longer be made: {said}.", errors,
                             fr=f"Le déplacement n'est plus possible : {' ; '.join(french)}.")
    with services.db.write() as session:
        rows = store.approve_move(session, job_id, number, services.now(), timedelta(hours=services.settings.hold_hours),
                                  by=caller.name)
        audit.record(session, caller.reservation_entries("approve-move", rows), repo.utcnow())
    unit_structure = {u.id: u.structure_id for u in system.units}
    return [ReservationOut(id=r.id, unit_id=r.unit_id, structure_id=unit_structure.get(r.unit_id, ""),
                           child_ids=list(r.child_ids), sibling_group_id=r.sibling_group_id, places=r.places,
                           status=r.status, created_at=r.created_at, expires_at=r.expires_at, closed_at=r.closed_at,
                           created_by=r.created_by, bundle_id=r.bundle_id)
            for r in rows]
