"""The planners' scenario service: submit a run or a sweep, follow it, fetch the comparison, the
report and each picture; planners only; every error path with its status and sentence."""

from __future__ import annotations

import pytest

from tests.api_support import Api, running_api

REFERENCE = "name: Référence\ndescription: rien ne change\nchanges: []\n"
PARIS = ("name: Places à Paris\ndescription: 4 places dans le 18e\nchanges:\n"
         "  - open: {places: 4, type: mecs, zone: {arrondissement: 18}, ages: [4, 15]}\n")
TEMPLATE = ("name: Grille\ndescription: ${places} places\nvary:\n  places: [1, 3]\n"
            "changes:\n  - open: {places: '${places}', type: mecs, zone: {arrondissement: 19}, ages: [4, 15]}\n")


@pytest.fixture
def api(db, tmp_path, monkeypatch) -> Api:
    monkeypatch.setenv("PLACEMENT_SCENARIO_DIR", str(tmp_path / "scenarios"))
    monkeypatch.setenv("PLACEMENT_SCENARIO_PROCESSES", "false")
    monkeypatch.setenv("PLACEMENT_SCENARIO_WORKERS", "1")
    with running_api(db) as a:
        yield a


def problem_of(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return response.json()


def test_a_planner_runs_scenarios_and_fetches_the_comparison_report_and_pictures(api: Api):
    r = api.post("/scenarios/runs", {"scenarios": [REFERENCE, PARIS], "time_limit_s": 5}, role="planner")
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["kind"] == "run" and job["total"] == 2 and job["status"] in ("queued", "running", "succeeded")
    api.services.scenarios.wait(job["id"], timeout=120)
    state = api.get(f"/scenarios/jobs/{job['id']}", role="planner").json()
    assert (state["status"], state["done"], state["progress"], state["error"]) == ("succeeded", 2, 1.0, None)
    assert state["message"] == "terminé"  # in the reader's language
    assert api.get(f"/scenarios/jobs/{job['id']}?lang=en", role="planner").json()["message"] == "done"
    assert [j["message"] for j in api.get("/scenarios/jobs", role="planner").json()["items"]] == ["terminé"]

    comparison = api.get(f"/scenarios/jobs/{job['id']}/comparison", role="planner")
    assert comparison.status_code == 200 and comparison.headers["content-type"] == "application/json"
    data = comparison.json()
    assert data["base"] == "Référence" and data["failed"] == []
    paris = data["scenarios"][1]
    assert paris["figures"]["places"] == data["scenarios"][0]["figures"]["places"] + 4
    assert paris["difference"]["places"] == 4
    assert "C-1" not in comparison.text  # aggregates only: no child is named

    page = api.get(f"/scenarios/jobs/{job['id']}/report", role="planner")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<html lang="fr">' in page.text and "Places à Paris" in page.text

    listed = api.get(f"/scenarios/jobs/{job['id']}/pictures", role="planner").json()["pictures"]
    assert {p["name"] for p in listed} >= {"transit-times.png", "headline.png"} and len(listed) == 4
    for p in listed:
        img = api.get(p["url"], role="planner")
        assert img.status_code == 200 and img.headers["content-type"] == "image/png" and img.content[:4] == b"\x89PNG"
    missing = problem_of(api.get(f"/scenarios/jobs/{job['id']}/pictures/nope.png", role="planner"), 404)
    assert "n'a pas d'image 'nope.png'" in missing["detail"]


def test_a_sweep_is_ranked_by_the_figure_asked(api: Api):
    r = api.post("/scenarios/sweeps", {"template": TEMPLATE, "rank_by": "share_paris", "time_limit_s": 5}, role="planner")
    assert r.status_code == 202, r.text
    job = r.json()
    assert (job["kind"], job["total"], job["rank_by"]) == ("sweep", 3, "share_paris")
    api.services.scenarios.wait(job["id"], timeout=120)
    data = api.get(f"/scenarios/jobs/{job['id']}/comparison", role="planner").json()
    assert [r["figure"] for r in data["ranking"]] == ["share_paris", "share_paris"]
    assert {r["name"] for r in data["ranking"]} == {"Grille (places=1)", "Grille (places=3)"}


def test_only_planners_may_run_or_read_scenarios(api: Api):
    for role in ("officer", "structure_manager", "protection_officer"):
        body = problem_of(api.post("/scenarios/runs", {"scenarios": [REFERENCE]}, role=role), 403)
        assert "ne peut pas appeler" in body["detail"]
        problem_of(api.get("/scenarios/jobs/SJ-0123456789abcdef", role=role), 403)
    problem_of(api.get("/scenarios/jobs/SJ-0123456789abcdef"), 403)  # the default role is an officer


def test_an_invalid_scenario_is_refused_with_every_problem_by_line_and_key(api: Api):
    bad = "name: x\ndescription: y\nchanges:\n  - open: {places: 0, type: castle, zone: {arrondissement: 21}, ages: [0, 3]}\n"
    body = problem_of(api.post("/scenarios/runs", {"scenarios": [REFERENCE, bad]}, role="planner"), 422)
    found = {(e["file"], e["line"], e["field"]) for e in body["errors"]}
    assert ("scenarios[1]", 4, "changes[0].open.places") in found
    assert ("scenarios[1]", 4, "changes[0].open.type") in found
    assert ("scenarios[1]", 4, "changes[0].open.zone.arrondissement") in found
    assert "scenarios[1]:4 : changes[0].open.places : doit être supérieur à 0 (reçu 0)" in body["detail"]
    assert "arrondissement 21 inconnu(e)" in body["detail"]
    assert {e["reason"] for e in body["errors"]} >= {"doit être supérieur à 0 (reçu 0)"}
    english = problem_of(api.post("/scenarios/runs?lang=en", {"scenarios": [REFERENCE, bad]}, role="planner"), 422)
    assert "scenarios[1]:4: changes[0].open.places" in english["detail"]
    assert "Input should be greater than 0 (got 0)" in {e["reason"] for e in english["errors"]}
    body = problem_of(api.post("/scenarios/sweeps?lang=en", {"template": TEMPLATE, "rank_by": "speed"},
                               role="planner"), 422)
    assert "Unknown figure 'speed'" in body["detail"]
    body = problem_of(api.post("/scenarios/sweeps", {"template": TEMPLATE, "rank_by": "speed"}, role="planner"), 422)
    assert "Indicateur de classement 'speed' inconnu" in body["detail"]
    body = problem_of(api.post("/scenarios/sweeps", {"template": TEMPLATE}, role="planner"), 422)
    assert "Dites selon quel indicateur classer" in body["detail"]
    body = problem_of(api.post("/scenarios/runs", {"scenarios": []}, role="planner"), 422)
    assert "scenarios" in body["detail"]


def test_unknown_unfinished_and_failed_jobs(api: Api):
    body = problem_of(api.get("/scenarios/jobs/SJ-0123456789abcdef?lang=en", role="planner"), 404)
    assert "Scenario job 'SJ-0123456789abcdef' does not exist." == body["detail"]
    body = problem_of(api.get("/scenarios/jobs/SJ-0123456789abcdef", role="planner"), 404)
    assert "Le travail de scénarios 'SJ-0123456789abcdef' n'existe pas." == body["detail"]
    problem_of(api.get("/scenarios/jobs/..%2F..%2Fetc/report", role="planner"), 404)
    service = api.services.scenarios
    for job_id, state in (("SJ-00000000000000aa", {"status": "running", "done": 1, "total": 3, "error": None}),
                          ("SJ-00000000000000bb", {"status": "failed", "done": 0, "total": 2, "error": "DomainError: boom"})):
        (service.directory / job_id).mkdir(parents=True)
        service._save(job_id, id=job_id, kind="run", progress=0.3, message="", created_at="2026-11-23T09:00:00",
                      started_at=None, finished_at=None, rank_by=None, owner="planner", **state)
    body = problem_of(api.get("/scenarios/jobs/SJ-00000000000000aa/comparison?lang=en", role="planner"), 409)
    assert "is running (1 of 3 scenarios done): its results are not ready yet" in body["detail"]
    body = problem_of(api.get("/scenarios/jobs/SJ-00000000000000aa/comparison", role="planner"), 409)
    assert "est en cours (1 scénario(s) terminé(s) sur 3) : ses résultats ne sont pas encore prêts" in body["detail"]
    body = problem_of(api.get("/scenarios/jobs/SJ-00000000000000bb/report", role="planner"), 409)
    assert "a échoué : DomainError: boom" in body["detail"]


def test_no_scenario_runs_on_an_empty_store(db, tmp_path, monkeypatch):
    monkeypatch.setenv("PLACEMENT_SCENARIO_DIR", str(tmp_path / "scenarios"))
    with running_api(db, seed=False) as api:
        body = problem_of(api.post("/scenarios/runs?lang=en", {"scenarios": [REFERENCE]}, role="planner"), 409)
        assert "holds no placement system" in body["detail"]
        body = problem_of(api.post("/scenarios/runs", {"scenarios": [REFERENCE]}, role="planner"), 409)
        assert "ne contient encore aucun système de placement" in body["detail"]
