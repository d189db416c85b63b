"""Simulations through the service: submit a job, follow it, fetch its figures and its report."""

from __future__ import annotations

import pytest

from tests.api_support import Api, running_api


@pytest.fixture
def api(db) -> Api:
    with running_api(db) as client:
        yield client


def problem_of(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return response.json()


def test_a_simulation_runs_as_a_job_and_returns_its_figures_and_report(api: Api):
    r = api.post("/simulations", {"months": 1, "policies": ["greedy", "batch"], "replications": 2, "seed": 3,
                                  "capacity_changes": [{"on": "2026-12-01", "places": 2, "unit": "U-near-12"}],
                                  "parameters": {"hindsight_time_limit_s": 5}}, role="planner")
    assert r.status_code == 202, r.text
    job = r.json()["id"]
    assert r.json()["method"] == "simulation"
    api.services.simulations.wait(job, timeout=120)
    status = api.get(f"/simulations/{job}", role="planner").json()
    assert status["status"] == "succeeded" and status["progress"] == 1.0, status
    result = api.get(f"/simulations/{job}/result", role="planner").json()["result"]
    assert result["policies"] == ["greedy", "batch"] and len(result["replications"]) == 2
    for name in ("greedy", "batch"):
        share = result["summary"]["policies"][name]["share_of_hindsight"]
        assert share["n"] == 2 and 0 < share["mean"] <= 1
    assert result["capacity_changes"][0]["unit"] == "U-near-12"
    assert "report_html" not in result
    page = api.get(f"/simulations/{job}/report", role="planner")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<html lang="fr">' in page.text and "<svg" in page.text


def test_simulation_errors(api: Api):
    assert problem_of(api.get("/simulations/J-nope?lang=en", role="planner"), 404)["detail"] == \
        "Simulation 'J-nope' does not exist."
    assert problem_of(api.get("/simulations/J-nope", role="planner"), 404)["detail"] == "La simulation 'J-nope' n'existe pas."
    solver_job = api.post("/jobs", {"method": "greedy"}, role="planner").json()["id"]
    api.services.jobs.wait(solver_job, timeout=60)
    assert problem_of(api.get(f"/simulations/{solver_job}", role="planner"), 404)["detail"] == \
        f"La simulation '{solver_job}' n'existe pas."
    bad = problem_of(api.post("/simulations", {"policies": ["fastest"]}, role="planner"), 422)
    assert bad["errors"][0]["field"].startswith("policies")
    unknown = problem_of(api.post("/simulations", {"months": 1, "capacity_changes": [
        {"on": "2026-12-01", "places": 2, "unit": "U-nope"}]}, role="planner"), 422)
    assert "unité 'U-nope' inconnue" in unknown["detail"]
    typo = problem_of(api.post("/simulations?lang=en", {"months": 1, "parameters": {"batch_dayz": 3}}, role="planner"), 422)
    assert "nknown simulation parameter(s) batch_dayz" in typo["detail"]
    typo = problem_of(api.post("/simulations", {"months": 1, "parameters": {"batch_dayz": 3}}, role="planner"), 422)
    assert "aramètre(s) de simulation inconnu(s) batch_dayz" in typo["detail"]
    both = problem_of(api.post("/simulations?lang=en", {"months": 1, "capacity_changes": [
        {"on": "2026-12-01", "places": 2, "unit": "U-near-12", "zone": "paris"}]}, role="planner"), 422)
    assert "name exactly one of unit, structure, or zone/type" in both["detail"]
    both = problem_of(api.post("/simulations", {"months": 1, "capacity_changes": [
        {"on": "2026-12-01", "places": 2, "unit": "U-near-12", "zone": "paris"}]}, role="planner"), 422)
    assert "nommez exactement un de unit, structure, ou zone/type" in both["detail"]


def test_a_result_not_ready_and_an_empty_store(db):
    with running_api(db, seed=False) as api:
        assert problem_of(api.post("/simulations?lang=en", {"months": 1}, role="planner"), 409)["detail"] == \
            "The store holds no placement system to simulate."
        assert problem_of(api.post("/simulations", {"months": 1}, role="planner"), 409)["detail"] == \
            "La base ne contient encore aucun système de placement à simuler."
