"""Batch jobs: start an optimiser run, follow its progress, fetch its result."""

from __future__ import annotations

from fastapi import APIRouter, status

from api.deps import ServicesDep, SessionDep
from api.problems import ApiProblem
from api.schemas import JobIn, JobOut, JobResultOut
from api.services import JOB_STAGES, JobQueueFull
from data.db import repository as repo
from data.db.models import BatchJobRow

router = APIRouter(prefix="/jobs", tags=["batch jobs"])


def _out(row: BatchJobRow) -> JobOut:
    return JobOut(id=row.id, method=row.method, status=row.status, stage=row.stage, stages=list(JOB_STAGES),
                  progress=row.progress, message=row.message, created_at=row.created_at, started_at=row.started_at,
                  finished_at=row.finished_at, error=row.error)


@router.post("", response_model=JobOut, status_code=status.HTTP_202_ACCEPTED, summary="Start an optimiser run",
             responses={429: {"description": "Every worker busy and the queue full: retry after Retry-After seconds"}})
def start(body: JobIn, services: ServicesDep) -> JobOut:
    if services.db.is_empty():
        raise ApiProblem(409, "Conflict", "The store holds no placement system to optimise.")
    try:
        job_id = services.jobs.start(body.method, body.time_limit_s)
    except JobQueueFull as err:
        raise ApiProblem(429, "Too many requests", str(err), None, {"Retry-After": str(err.retry_after)}) from None
    with services.db.read() as session:
        return _out(repo.get_job(session, job_id))


@router.post("/{job_id}/cancel", response_model=JobOut, status_code=status.HTTP_202_ACCEPTED,
             summary="Cancel a job (queued: at once; running: at its next stage)",
             responses={409: {"description": "The job has already ended"}})
def cancel(job_id: str, services: ServicesDep) -> JobOut:
    services.jobs.cancel(job_id)
    with services.db.read() as session:
        return _out(repo.get_job(session, job_id))


@router.get("/{job_id}", response_model=JobOut, summary="A job's status and progress")
def get(job_id: str, session: SessionDep) -> JobOut:
    return _out(repo.get_job(session, job_id))


@router.get("/{job_id}/result", response_model=JobResultOut, summary="A finished job's summary and assignment")
def result(job_id: str, session: SessionDep) -> JobResultOut:
    row = repo.get_job(session, job_id)
    if row.status == "failed":
        raise ApiProblem(409, "Conflict", f"Batch job {job_id} failed: {row.error}")
    if row.status == "cancelled":
        raise ApiProblem(409, "Conflict", f"Batch job {job_id} was cancelled: it has no result.")
    if row.status != "succeeded" or row.result is None:
        raise ApiProblem(409, "Conflict", f"Batch job {job_id} is {row.status} ({row.progress:.0%} done): "
                         "its result is not ready yet.")
    return JobResultOut(id=row.id, result=row.result)
