"""Planners' what-if scenarios: submit a run or a sweep as a job, follow it, fetch the comparison
(JSON), the French HTML report and each picture. Planners only: everything here is aggregated."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, status
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from api import policy
from api.deps import CallerDep, LangDep, ServicesDep
from api.policy import Caller
from api.problems import ApiProblem
from api.schemas import Timestamp
from matcher.words import Lang, job_status_fr

router = APIRouter(prefix="/scenarios", tags=["capacity scenarios"], responses={403: {"description": "Not a planner"}})
"""Planners only, and each sees only the jobs they started (the access policy, ``api.policy``)."""


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scope: Literal["all", "waiting"] = Field("all", description="all: full re-plan; waiting: the children waiting only.")
    time_limit_s: float = Field(20.0, gt=0, le=600, description="Optimiser time limit per scenario, seconds.")


class RunIn(_In):
    scenarios: list[str] = Field(min_length=1, max_length=50,
                                 description="Scenario files (YAML text, docs/SCENARIOS.md); the first is the reference.")


class SweepIn(_In):
    template: str = Field(description="A sweep template (YAML text with a 'vary' grid).")
    rank_by: str | None = Field(None, description="Figure to rank the variants by (default: the template's rank_by).")


class ScenarioJobOut(BaseModel):
    id: str
    kind: Literal["run", "sweep"]
    status: Literal["queued", "running", "succeeded", "failed"]
    progress: float
    done: int
    """Scenarios finished (solved or failed)."""
    total: int
    message: str
    created_at: Timestamp
    started_at: Timestamp | None
    finished_at: Timestamp | None
    error: str | None
    rank_by: str | None


def _invalid(err: Any, lang: Lang) -> ApiProblem:
    """A 422 naming every problem of the scenario files by file, line and key, in ``lang``."""
    issues = [{"field": i.key or "(top level)", "in": "body", "reason": i.reason(lang), "file": i.file, "line": i.line}
              for i in err.issues]
    if lang == "fr":
        said = " ; ".join(i.said("fr") for i in err.issues[:10])
        return ApiProblem.in_lang(lang, 422, "Invalid scenario", f"Le scénario a {len(issues)} problème(s) : {said}",
                                  issues)
    said = "; ".join(i.said("en") for i in err.issues[:10])
    return ApiProblem.in_lang(lang, 422, "Invalid scenario", f"The scenario has {len(issues)} problem(s): {said}", issues)


def _settings(body: _In) -> Any:
    from planning.runner import RunSettings

    return RunSettings(scope=body.scope, time_limit_s=body.time_limit_s)


def _job(services: Any, job_id: str, caller: Caller) -> dict[str, Any]:
    """The state of a job the caller started; 404 alike for unknown and someone else's."""
    from data.db.errors import NotFoundError

    try:
        state = services.scenarios.state(job_id)
    except NotFoundError:
        raise policy.not_found("Scenario job", job_id) from None
    if state.get("owner") != caller.name:
        raise policy.not_found("Scenario job", job_id)
    return state


def _out(state: dict[str, Any], lang: Lang) -> ScenarioJobOut:
    """The job in ``lang``: its message and error in French where they were written."""
    out = {k: state.get(k) for k in ScenarioJobOut.model_fields}
    if lang == "fr":
        out["message"] = state.get("message_fr") or out["message"]
        out["error"] = state.get("error_fr") or out["error"]
    return ScenarioJobOut(**out)


def _finished(services: Any, job_id: str, caller: Caller) -> Any:
    state = _job(services, job_id, caller)
    if state["status"] == "failed":
        raise ApiProblem(409, "Conflict", f"Scenario job {job_id} failed: {state['error']}",
                         fr=f"Le travail de scénarios {job_id} a échoué : {state.get('error_fr') or state['error']}")
    if state["status"] != "succeeded":
        raise ApiProblem(409, "Conflict", f"Scenario job {job_id} is {state['status']} ({state['done']} of "
                                          f"{state['total']} scenarios done): its results are not ready yet.",
                         fr=f"Le travail de scénarios {job_id} est {job_status_fr(state['status'])} ({state['done']} "
                         f"scénario(s) terminé(s) sur {state['total']}) : ses résultats ne sont pas encore prêts.")
    return services.scenarios.path(job_id)


def _require_data(services: Any) -> None:
    if services.db.is_empty():
        raise ApiProblem(409, "Conflict", "The store holds no placement system to run scenarios on.",
                         fr="La base ne contient encore aucun système de placement sur lequel jouer des scénarios.")


@router.post("/runs", response_model=ScenarioJobOut, status_code=status.HTTP_202_ACCEPTED,
             summary="Run scenarios and compare them with the first",
             responses={409: {"description": "No placement system"}, 422: {"description": "Invalid scenario"}})
def start_run(body: RunIn, services: ServicesDep, caller: CallerDep, lang: LangDep) -> ScenarioJobOut:
    from planning.scenarios import ScenarioError, parse_scenario

    scenarios, issues = [], []
    for k, text in enumerate(body.scenarios):
        try:
            scenarios.append(parse_scenario(text, f"scenarios[{k}]"))
        except ScenarioError as err:
            issues += err.issues
    if issues:
        raise _invalid(ScenarioError(issues), lang)
    _require_data(services)
    return _out(_job(services, services.scenarios.start("run", scenarios, _settings(body), owner=caller.name), caller), lang)


@router.post("/sweeps", response_model=ScenarioJobOut, status_code=status.HTTP_202_ACCEPTED,
             summary="Run the variants of a template and rank them",
             responses={409: {"description": "No placement system"}, 422: {"description": "Invalid template"}})
def start_sweep(body: SweepIn, services: ServicesDep, caller: CallerDep, lang: LangDep) -> ScenarioJobOut:
    from planning.comparison import FIGURES
    from planning.scenarios import ScenarioError
    from planning.sweep import parse_sweep

    try:
        sweep = parse_sweep(body.template, "template")
    except ScenarioError as err:
        raise _invalid(err, lang) from None
    rank_by = body.rank_by or sweep.rank_by
    if rank_by not in FIGURES:
        raise ApiProblem(422, "Invalid request", f"Unknown figure {rank_by!r} to rank by; known: {', '.join(FIGURES)}."
                         if rank_by else "Say which figure to rank by: rank_by in the request or in the template.",
                         [{"field": "rank_by", "in": "body", "reason": "unknown or missing figure"}],
                         fr=f"Indicateur de classement {rank_by!r} inconnu ; connus : {', '.join(FIGURES)}." if rank_by
                         else "Dites selon quel indicateur classer : rank_by dans la requête ou dans le modèle.")
    _require_data(services)
    return _out(_job(services, services.scenarios.start("sweep", list(sweep.scenarios), _settings(body), rank_by,
                                                        owner=caller.name), caller), lang)


class ExampleOut(BaseModel):
    file: str
    name: str
    description: str
    text: str = Field(description="The scenario file itself (YAML), to submit as is or to edit.")


class ExamplesOut(BaseModel):
    items: list[ExampleOut]


@router.get("/examples", response_model=ExamplesOut, summary="The shipped example scenarios (the Paris plan's actions)")
def examples() -> ExamplesOut:
    from planning.scenarios import example_paths, parse_scenario

    items = []
    for path in example_paths():
        text = path.read_text(encoding="utf-8")
        scenario = parse_scenario(text, path.name)
        items.append(ExampleOut(file=path.name, name=scenario.name, description=scenario.description or "", text=text))
    return ExamplesOut(items=items)


class ScenarioJobsOut(BaseModel):
    total: int
    items: list[ScenarioJobOut]


@router.get("/jobs", response_model=ScenarioJobsOut, summary="The caller's own scenario jobs, newest first")
def my_jobs(services: ServicesDep, caller: CallerDep, lang: LangDep) -> ScenarioJobsOut:
    states = [st for st in services.scenarios.states() if st.get("owner") == caller.name]
    states.sort(key=lambda st: st.get("created_at") or "", reverse=True)
    return ScenarioJobsOut(total=len(states), items=[_out(st, lang) for st in states[:200]])


@router.get("/jobs/{job_id}", response_model=ScenarioJobOut, summary="A scenario job's status and progress",
            responses={404: {"description": "Unknown job"}})
def get_job(job_id: str, services: ServicesDep, caller: CallerDep, lang: LangDep) -> ScenarioJobOut:
    return _out(_job(services, job_id, caller), lang)


@router.get("/jobs/{job_id}/comparison", summary="The comparison: exact figures and signed differences (JSON)",
            responses={404: {"description": "Unknown job"}, 409: {"description": "Not finished or failed"}})
def comparison(job_id: str, services: ServicesDep, caller: CallerDep) -> Response:
    from planning.report import COMPARISON_JSON

    import json

    from planning.comparison import FIGURES

    data = json.loads((_finished(services, job_id, caller) / COMPARISON_JSON).read_text(encoding="utf-8"))
    solved = [s for s in data.get("scenarios", []) if s.get("figures") is not None]
    data["headline"] = [
        {"figure": f.name, "label": f.label_fr, "unit": f.unit, "better": f.better,
         "values": [f.of(s["figures"]) for s in solved],
         "differences": [f.of(s["difference"]) if s.get("difference") is not None else None for s in solved]}
        for f in FIGURES.values()
    ]
    data["headline_scenarios"] = [s["name"] for s in solved]
    return JSONResponse(data)


@router.get("/jobs/{job_id}/report", response_class=HTMLResponse, summary="The report, one self-contained HTML page in French",
            responses={404: {"description": "Unknown job"}, 409: {"description": "Not finished or failed"}})
def report(job_id: str, services: ServicesDep, caller: CallerDep) -> HTMLResponse:
    from planning.report import REPORT_HTML

    return HTMLResponse((_finished(services, job_id, caller) / REPORT_HTML).read_text(encoding="utf-8"))


@router.get("/jobs/{job_id}/pictures", summary="The names of the job's pictures",
            responses={404: {"description": "Unknown job"}, 409: {"description": "Not finished or failed"}})
def pictures(job_id: str, services: ServicesDep, caller: CallerDep) -> JSONResponse:
    directory = _finished(services, job_id, caller)
    names = sorted(p.name for p in directory.glob("*.png"))
    return JSONResponse({"pictures": [{"name": n, "url": f"/scenarios/jobs/{job_id}/pictures/{n}"} for n in names]})


@router.get("/jobs/{job_id}/pictures/{name}", summary="One picture (PNG)",
            responses={200: {"content": {"image/png": {}}}, 404: {"description": "Unknown job or picture"},
                       409: {"description": "Not finished or failed"}})
def picture(job_id: str, name: Annotated[str, "a file name from /pictures"], services: ServicesDep, caller: CallerDep) -> Response:
    directory = _finished(services, job_id, caller)
    known = {p.name for p in directory.glob("*.png")}
    if name not in known:
        raise ApiProblem(404, "Not found", f"Scenario job {job_id} has no picture {name!r}.",
                         fr=f"Le travail de scénarios {job_id} n'a pas d'image {name!r}.")
    return Response((directory / name).read_bytes(), media_type="image/png")
