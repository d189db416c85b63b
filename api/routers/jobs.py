"""Batch jobs: start an optimiser run, follow its progress, fetch its result.

A job is seen only by the account that started it. Its result is pseudonymous (child ids become
keyed hashes) and names no secret place to a caller who may not see it (``api.policy``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status
from sqlalchemy import select

from api import policy
from api.deps import CallerDep, LangDep, ServicesDep, SessionDep, SnapshotDep
from api.problems import ApiProblem
from api.schemas import JobIn, JobOut, JobResultOut, JobsOut
from api.services import JOB_STAGES, JobQueueFull
from data.db import repository as repo
from data.db.errors import NotFoundError
from data.db.models import BatchJobRow
from matcher.words import Lang, job_status_fr, split_words, structure_name

router = APIRouter(prefix="/jobs", tags=["batch jobs"])


def _out(row: BatchJobRow, lang: Lang) -> JobOut:
    message, error = row.said(lang)
    return JobOut(id=row.id, method=row.method, status=row.status, stage=row.stage, stages=list(JOB_STAGES),
                  progress=row.progress, message=message, created_at=row.created_at, started_at=row.started_at,
                  finished_at=row.finished_at, error=error)


@router.post("", response_model=JobOut, status_code=status.HTTP_202_ACCEPTED, summary="Start an optimiser run",
             responses={409: {"description": "The store holds no placement system"},
                        429: {"description": "Every worker busy and the queue full: retry after Retry-After seconds"}})
def start(body: JobIn, services: ServicesDep, caller: CallerDep, lang: LangDep) -> JobOut:
    if services.db.is_empty():
        raise ApiProblem(409, "Conflict", "The store holds no placement system to optimise.",
                         fr="La base ne contient encore aucun système de placement à optimiser.")
    try:
        job_id = services.jobs.start(body.method, body.time_limit_s, owner=caller.name)
    except JobQueueFull as err:
        raise ApiProblem(429, "Too many requests", str(err), None, {"Retry-After": str(err.retry_after)},
                         fr=err.fr) from None
    with services.db.read() as session:
        return _out(repo.get_job(session, job_id), lang)


@router.post("/{job_id}/cancel", response_model=JobOut, status_code=status.HTTP_202_ACCEPTED,
             summary="Cancel a job (queued: at once; running: at its next stage)",
             responses={409: {"description": "The job has already ended"}})
def cancel(job_id: str, services: ServicesDep, caller: CallerDep, lang: LangDep) -> JobOut:
    with services.db.read() as session:
        _job(session, caller, job_id)
    services.jobs.cancel(job_id)
    with services.db.read() as session:
        return _out(repo.get_job(session, job_id), lang)


@router.get("", response_model=JobsOut, summary="The caller's own jobs (optimiser runs and rebalancing plans), newest first")
def mine(session: SessionDep, caller: CallerDep, lang: LangDep) -> JobsOut:
    rows = list(session.scalars(select(BatchJobRow).where(BatchJobRow.owner == caller.name)
                                .order_by(BatchJobRow.created_at.desc()).limit(200)))
    return JobsOut(total=len(rows), items=[_out(r, lang) for r in rows])


def _job(session, caller, job_id: str) -> BatchJobRow:
    """A job the caller started: the same 404 for an unknown id and someone else's job."""
    try:
        row = repo.get_job(session, job_id)
    except NotFoundError:
        raise policy.not_found("Batch job", job_id) from None
    policy.job(caller, row, job_id)
    return row


@router.get("/{job_id}", response_model=JobOut, summary="A job's status and progress")
def get(job_id: str, session: SessionDep, caller: CallerDep, lang: LangDep) -> JobOut:
    return _out(_job(session, caller, job_id), lang)


def _pseudonymous(result: dict[str, Any], services, snap, caller) -> dict[str, Any]:
    """The result with child ids replaced by pseudonyms and, for a caller who may not see
    secret places, the children assigned to one left out of the assignment."""
    out = dict(result)
    assignment = result.get("assignment")
    if isinstance(assignment, dict):
        shown = {}
        for child_id, unit_id in assignment.items():
            unit = snap.system.unit_by_id.get(unit_id) if unit_id else None
            if unit is not None and not policy.sees_structure(caller, snap.system.structure_of(unit)):
                continue
            shown[services.security.pseudonym(child_id)] = unit_id
        out["assignment"] = shown
    return out


@router.get("/{job_id}/result", response_model=JobResultOut, summary="A finished job's summary and assignment",
            responses={409: {"description": "The job failed or is not finished"}})
def result(job_id: str, services: ServicesDep, session: SessionDep, snap: SnapshotDep, caller: CallerDep,
           lang: LangDep) -> JobResultOut:
    row = _job(session, caller, job_id)
    if row.status == "failed":
        raise ApiProblem(409, "Conflict", f"Batch job {job_id} failed: {row.error}",
                         fr=f"Le travail {job_id} a échoué : {row.said('fr')[1]}")
    if row.status == "cancelled":
        raise ApiProblem(409, "Conflict", f"Batch job {job_id} was cancelled: it has no result.",
                         fr=f"Le travail {job_id} a été annulé : il n'a pas de résultat.")
    if row.status != "succeeded" or row.result is None:
        raise ApiProblem(409, "Conflict", f"Batch job {job_id} is {row.status} ({row.progress:.0%} done): "
                         "its result is not ready yet.",
                         fr=f"Le travail {job_id} est {job_status_fr(row.status)} ({row.progress:.0%} fait) : "
                         "son résultat n'est pas encore prêt.")
    return JobResultOut(id=row.id, result=_with_sentences(_pseudonymous(row.result, services, snap, caller),
                                                          snap, caller, lang))


SECRET = "secret"
"""What a caller who may not see secret places reads instead of such a structure's id."""


def _with_sentences(result: dict[str, Any], snap, caller, lang) -> dict[str, Any]:
    """Each split fratrie of the result with ``sentence``: why, in the caller's language (the
    machine fields stay; a result stored before they existed keeps its text). A secret
    structure the caller may not see is named neither in the fields nor in the sentence."""
    splits = result.get("splits")
    if not isinstance(splits, list):
        return result
    hidden = {s.id for s in snap.system.structures if not policy.sees_structure(caller, s)}
    names = {s.id: structure_name(s) for s in snap.system.structures if s.id not in hidden}
    names[SECRET] = "une structure protégée" if lang == "fr" else "a protected structure"
    out = []
    for split in splits:
        if not isinstance(split, dict):
            out.append(split)
            continue
        shown = {**split, "structures": [SECRET if s in hidden else s for s in split.get("structures", [])]}
        if shown.get("nearest_structure") in hidden:
            shown["nearest_structure"] = SECRET
        if hidden & set(split.get("structures", [])) or split.get("nearest_structure") in hidden:
            shown.pop("text", None)  # the English text names the structures
        out.append({**shown, "sentence": split_words(shown, names, lang)})
    return {**result, "splits": out}
