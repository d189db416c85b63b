"""Simulations: submit a year of arrivals and departures as a job, follow it, fetch its results
(the figures per policy with their intervals, the weekly series) and its report (HTML, French)."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from fastapi import APIRouter, status
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field

from api import policy
from api.deps import CallerDep, LangDep, ServicesDep, SessionDep
from api.policy import Caller
from api.problems import ApiProblem
from api.schemas import JobOut
from api.simulation_jobs import METHOD
from data.db import repository as repo
from data.db.errors import NotFoundError
from data.db.models import BatchJobRow
from matcher.words import Lang, job_status_fr

router = APIRouter(prefix="/simulations", tags=["simulations"])

PolicyName = Literal["greedy", "own", "system", "batch"]


class CapacityChangeIn(BaseModel):
    """Places opened (+N) or closed (-N) on a date in one unit, one structure, or every
    structure of a zone and/or type (docs/SIMULATION.md)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    on: date = Field(strict=False, description="ISO 8601 date (YYYY-MM-DD).")
    places: int
    unit: str | None = None
    structure: str | None = None
    zone: Literal["paris", "ile_de_france", "province"] | None = None
    type: str | None = None


class SimulationIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    months: int = Field(12, ge=1, le=24, description="Months simulated, daily steps.")
    policies: list[PolicyName] = Field(default_factory=lambda: ["greedy", "own", "system", "batch"], min_length=1)
    replications: int = Field(1, ge=1, le=20, description="Seeds simulated (confidence intervals over them).")
    seed: int = Field(1, ge=0, description="Root seed the replications' seeds are spawned from.")
    capacity_changes: list[CapacityChangeIn] = Field(default_factory=list)
    parameters: dict[str, Any] = Field(default_factory=dict, description="Simulation parameters overriding the defaults.")


class SimulationResultOut(BaseModel):
    id: str
    result: dict[str, Any]


def _row(session, job_id: str, caller: Caller) -> BatchJobRow:
    """A simulation the caller started; the same 404 for unknown and someone else's."""
    try:
        row = repo.get_job(session, job_id)
    except NotFoundError:
        raise policy.not_found("Simulation", job_id) from None
    if row.method != METHOD or row.owner != caller.name:
        raise policy.not_found("Simulation", job_id)
    return row


def _out(row: BatchJobRow, lang: Lang) -> JobOut:
    message, error = row.said(lang)
    return JobOut(id=row.id, method=row.method, status=row.status, progress=row.progress, message=message,
                  created_at=row.created_at, started_at=row.started_at, finished_at=row.finished_at, error=error)


def _finished(row: BatchJobRow) -> dict[str, Any]:
    if row.status == "failed":
        raise ApiProblem(409, "Conflict", f"Simulation {row.id} failed: {row.error}",
                         fr=f"La simulation {row.id} a échoué : {row.said('fr')[1]}")
    if row.status != "succeeded" or row.result is None:
        raise ApiProblem(409, "Conflict", f"Simulation {row.id} is {row.status} ({row.progress:.0%} done): "
                         "its result is not ready yet.",
                         fr=f"La simulation {row.id} est {job_status_fr(row.status)} ({row.progress:.0%} faite) : "
                         "son résultat n'est pas encore prêt.")
    return row.result


@router.post("", response_model=JobOut, status_code=status.HTTP_202_ACCEPTED, summary="Start a simulation",
             responses={409: {"description": "No placement system in the store"},
                        422: {"description": "Bad parameters or capacity changes"}})
def start(body: SimulationIn, services: ServicesDep, caller: CallerDep, lang: LangDep) -> JobOut:
    from planning.simulation import resolve_capacity_changes, scenario_from_document

    if services.db.is_empty():
        raise ApiProblem(409, "Conflict", "The store holds no placement system to simulate.",
                         fr="La base ne contient encore aucun système de placement à simuler.")
    changes_in = [{k: (v.isoformat() if isinstance(v, date) else v) for k, v in c.model_dump(exclude_none=True).items()}
                  for c in body.capacity_changes]
    params, changes = scenario_from_document({"capacity_changes": changes_in, "simulation": body.parameters}, body.months)
    with services.db.read() as session:
        snap = services.systems.snapshot(session)
    resolve_capacity_changes(snap.system, changes, snap.system.reference_date, params.days)
    job_id = services.simulations.start({"months": body.months, "policies": list(body.policies),
                                         "replications": body.replications, "seed": body.seed,
                                         "capacity_changes": changes_in, "parameters": body.parameters},
                                        owner=caller.name)
    with services.db.read() as session:
        return _out(repo.get_job(session, job_id), lang)


@router.get("/{job_id}", response_model=JobOut, summary="A simulation's status and progress")
def get(job_id: str, session: SessionDep, caller: CallerDep, lang: LangDep) -> JobOut:
    return _out(_row(session, job_id, caller), lang)


@router.get("/{job_id}/result", response_model=SimulationResultOut, summary="A finished simulation's figures",
            responses={409: {"description": "Not finished, or failed"}})
def result(job_id: str, session: SessionDep, caller: CallerDep) -> SimulationResultOut:
    found = _finished(_row(session, job_id, caller))
    return SimulationResultOut(id=job_id, result={k: v for k, v in found.items() if k != "report_html"})


@router.get("/{job_id}/report", response_class=HTMLResponse, summary="A finished simulation's report (HTML, French)",
            responses={409: {"description": "Not finished, or failed"}})
def report(job_id: str, session: SessionDep, caller: CallerDep) -> HTMLResponse:
    return HTMLResponse(_finished(_row(session, job_id, caller))["report_html"])
