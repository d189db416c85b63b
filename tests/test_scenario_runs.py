"""Scenarios solved on Dask, compared, ranked and reported (tiny systems, crow-fly minutes)."""

from __future__ import annotations

import json
import os
import shutil
import signal

import subprocess
import sys
import time
from pathlib import Path

import pytest

from api.services import CrowFlyTravel
from matcher import Weights
from planning.comparison import compare, difference, rank, scenario_figures
from planning.report import REPORT_HTML, fr_difference, picture_names, write_report
from planning.runner import BaseInstance, RunSettings, run_scenarios
from planning.scenarios import parse_scenario
from planning.sweep import parse_sweep
from solver.solution import HardRuleViolation
from tests.servers import free_port
from tests.test_scenarios import tiny

CROWFLY = CrowFlyTravel()


def minutes_for(homes, structures):
    return CROWFLY.matrix(tuple(homes), tuple(structures))


def base() -> BaseInstance:
    system = tiny()
    return BaseInstance(system, CROWFLY.matrix(system.origins, system.structures), Weights.default())


REFERENCE = parse_scenario("name: Référence\ndescription: rien ne change\nchanges: []\n", "ref.yaml")
MORE_IN_PARIS = parse_scenario(
    "name: Plus à Paris\ndescription: places à Paris\nchanges:\n"
    "  - open: {places: 6, type: mecs, zone: {arrondissement: 18}, ages: [12, 15]}\n", "paris.yaml")
TOO_MANY = parse_scenario(
    "name: Trop fermer\ndescription: impossible\nchanges:\n  - close: {places: 500}\n", "bad.yaml")
SETTINGS = RunSettings(scope="all", time_limit_s=5)


def run(scenarios, **kw):
    return run_scenarios(base(), scenarios, SETTINGS, minutes_for=minutes_for, workers=1, processes=False, **kw)


def test_scenarios_run_on_dask_failures_are_reported_and_the_others_go_on():
    seen = []
    results = run([REFERENCE, TOO_MANY, MORE_IN_PARIS], progress=lambda done, total, name: seen.append((done, total)))
    assert [r["name"] for r in results] == ["Référence", "Trop fermer", "Plus à Paris"]
    assert results[1]["figures"] is None and "only 17 places match, cannot close 500" in results[1]["error"]
    assert "bad.yaml:4" in results[1]["error"]
    assert results[0]["error"] is None and results[2]["error"] is None
    assert sorted(seen) == [(1, 3), (2, 3), (3, 3)]
    ref, paris = results[0]["figures"], results[2]["figures"]
    assert paris["places"] == ref["places"] + 6
    # the children aged 12-15 placed in Nevers come back to Paris: closer, and moved
    assert paris["share_by_zone"]["paris"] > ref["share_by_zone"]["paris"]
    assert paris["groups"]["age_band"]["12-15"]["median_minutes"] < ref["groups"]["age_band"]["12-15"]["median_minutes"]
    assert paris["children_moved"] >= 2
    comparison = compare(results)
    assert comparison["base"] == "Référence"
    assert comparison["failed"] == [{"name": "Trop fermer", "source": "bad.yaml", "error": results[1]["error"]}]
    d = comparison["scenarios"][2]["difference"]
    assert d["share_by_zone"]["paris"] > 0 and d["transit"]["median_minutes"] < 0  # signed
    assert d["places"] == 6
    assert comparison["scenarios"][0]["difference"]["places"] == 0


def test_every_solution_passes_the_hard_rule_guard(monkeypatch):
    """A solver answer that breaks a hard rule is an error of that scenario, never a result."""
    import solver.optimal

    real = solver.optimal.solve_optimal

    def broken(problem, settings=None, with_explanations=True):
        solution = real(problem, settings, with_explanations=with_explanations)
        too_young = next(c.id for c in problem.children if problem.system.age_of(c) < 3)
        wrong = {**solution.unit_of_child, too_young: "U-nev"}  # a baby in a unit for 12-15
        return type(solution)(wrong, solution.method, solution.objective, solution.bound, solution.gap, 0.0)

    monkeypatch.setattr(solver.optimal, "solve_optimal", broken)
    [result] = run([REFERENCE])
    assert result["figures"] is None
    assert result["error"].startswith(HardRuleViolation.__name__)
    assert "breaks 1 hard rule(s)" in result["error"] and "C-w2" not in result["error"]  # aggregates only


def test_figures_count_fratries_moves_and_groups_on_a_hand_made_assignment():
    system = tiny()
    travel = CROWFLY.matrix(system.origins, system.structures)
    assignment = {"C-p1": "U-par", "C-n1": "U-nev", "C-n2": "U-par", "C-af": "U-af", "C-w1": None, "C-w2": "U-pou",
                  "C-w3": None}
    f = scenario_figures(system, system, assignment, travel)
    assert (f["children"], f["placed"], f["without_place"]) == (7, 5, 2)
    assert f["fratries"] == {"groups": 1, "together": 0, "split": 1, "split_allowed": 0, "partly_placed": 0, "without_place": 0}
    assert f["children_moved"] == 1  # C-n2 left Nevers
    assert f["without_place_by_need"]["disability"] == 1 and f["without_place_by_age_band"]["12-15"] == 1
    assert f["groups"]["arrondissement"]["75115"]["without_place"] == 2
    assert f["groups"]["unaccompanied_minor"]["no"]["children"] == 7
    assert f["placed_by_departement"] == {"58": 2, "75": 3}
    assert sum(f["transit"]["histogram"]["counts"]) == 5
    assert f["daily_cost_eur"] == 200 + 150 + 200 + 115 + 330


def test_difference_is_signed_and_rank_follows_the_better_direction():
    assert difference({"a": 3, "b": {"c": 1.5}, "d": None}, {"a": 5, "b": {"c": 1.0}, "d": 2}) == {"a": -2, "b": {"c": 0.5}, "d": None}
    results = [{"name": n, "figures": {"transit": {"median_minutes": m}, "share_by_zone": {"paris": p}}}
               for n, m, p in (("a", 50, 0.3), ("b", 40, 0.2), ("c", 60, 0.5))] + [{"name": "x", "figures": None, "error": "boom"}]
    assert [r["name"] for r in rank(results, "median_minutes")] == ["b", "a", "c"]
    assert [r["name"] for r in rank(results, "share_paris")] == ["c", "a", "b"]
    with pytest.raises(Exception, match="unknown figure 'speed'"):
        rank(results, "speed")


def test_french_differences_carry_their_sign():
    from planning.comparison import FIGURES

    assert fr_difference(FIGURES["share_paris"], 0.052) == "+5,2 pt"
    assert fr_difference(FIGURES["share_paris"], -0.0004) == "="
    assert fr_difference(FIGURES["median_minutes"], -8.4) == "−8 min"
    assert fr_difference(FIGURES["daily_cost_eur"], 1234.0) == "+1\u202f234 €"
    assert fr_difference(FIGURES["without_place"], 0) == "="


def test_report_is_written_whole_with_pictures_and_a_self_contained_french_page(tmp_path):
    results = run([REFERENCE, MORE_IN_PARIS, TOO_MANY])
    comparison = compare(results)
    written = write_report(comparison, tmp_path / "out", rank(results[1:], "median_minutes"))
    names = {p.name for p in written}
    assert {"comparison.json", "rapport.md", REPORT_HTML, *picture_names(comparison)} == names
    assert len(picture_names(comparison)) == 4  # transit, headline, one map per solved scenario
    for name in picture_names(comparison):
        assert (tmp_path / "out" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = (tmp_path / "out" / REPORT_HTML).read_text(encoding="utf-8")
    assert '<html lang="fr">' in page
    assert page.count('src="data:image/png;base64,') == 4
    assert "http://" not in page and "https://" not in page and "<link" not in page and "<script" not in page
    assert "Échec" in page and "only 17 places match" in page
    text = (tmp_path / "out" / "rapport.md").read_text(encoding="utf-8")
    assert "Par rapport à « Référence »" in text and "trajet médian" in text
    data = json.loads((tmp_path / "out" / "comparison.json").read_text(encoding="utf-8"))
    assert data["ranking"][0]["figure"] == "median_minutes" and data["failed"][0]["name"] == "Trop fermer"
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]  # no temporary file left


def test_sweep_template_makes_a_grid_of_variants_and_names_its_errors():
    text = ("name: Grille\ndescription: ${places} places en ${dep}\nrank_by: median_minutes\n"
            "vary:\n  dep: ['92', '93']\n  places: [5, 10]\n"
            "changes:\n  - open: {places: '${places}', type: mecs, zone: {departement: '${dep}'}, ages: [12, 15]}\n")
    sweep = parse_sweep(text, "t.yaml")
    assert [v.name for v in sweep.variants] == ["Grille (dep=92, places=5)", "Grille (dep=92, places=10)",
                                                "Grille (dep=93, places=5)", "Grille (dep=93, places=10)"]
    assert sweep.variants[3].changes[0].places == 10 and sweep.variants[3].changes[0].zone.code == "93"
    assert sweep.variants[0].description == "5 places en 92"
    assert sweep.scenarios[0].changes == () and sweep.rank_by == "median_minutes"
    bad = text.replace("'${dep}'", "'${where}'").replace("[5, 10]", "[5, -1]")
    with pytest.raises(Exception) as err:
        parse_sweep(bad, "t.yaml")
    message = str(err.value)
    assert "t.yaml:8: changes[0].open.zone.departement: unknown placeholder ${where}" in message
    with pytest.raises(Exception, match=r"t.yaml:8: changes\[0\].open.places: .*greater than 0.*\(variant dep=92, places=-1\)"):
        parse_sweep(text.replace("[5, 10]", "[5, -1]"), "t.yaml")
    with pytest.raises(Exception, match="a sweep needs 'vary'"):
        parse_sweep("name: x\ndescription: y\nchanges: []\n", "t.yaml")


# --- an existing Dask cluster: a separate scheduler and worker on loopback ----------------------




@pytest.mark.slow
def test_sweep_on_a_separate_dask_scheduler_and_worker_on_loopback(tmp_path):
    dask = shutil.which("dask", path=str(Path(sys.executable).parent)) or shutil.which("dask")
    assert dask, "the dask command line comes with dask[distributed]"
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    started: list[subprocess.Popen] = []
    try:
        started.append(subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", str(port),
                                          "--no-dashboard"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                         env=env, start_new_session=True))
        started.append(subprocess.Popen([dask, "worker", address, "--host", "127.0.0.1", "--nthreads", "1",
                                          "--nworkers", "1", "--no-dashboard", "--no-nanny"],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                                         start_new_session=True))
        from dask.distributed import Client

        deadline = time.monotonic() + 60
        while True:
            try:
                with Client(address, timeout=5, set_as_default=False) as client:
                    client.wait_for_workers(1, timeout=max(1, deadline - time.monotonic()))
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        sweep = parse_sweep("name: Grille\ndescription: d\nvary:\n  places: [2, 6]\n"
                            "changes:\n  - open: {places: '${places}', type: mecs, zone: {arrondissement: 18}, ages: [12, 15]}\n",
                            "grid.yaml")
        results = run_scenarios(base(), sweep.scenarios, SETTINGS, minutes_for=minutes_for, scheduler=address)
        assert [r["error"] for r in results] == [None, None, None]
        assert results[2]["figures"]["places"] == results[1]["figures"]["places"] + 4
        assert {r["name"] for r in rank(results[1:], "share_paris")} == {"Grille (places=2)", "Grille (places=6)"}
        with Client(address, set_as_default=False) as client:
            assert len(client.scheduler_info()["workers"]) == 1  # the tasks ran on the separate worker
    finally:
        for proc in reversed(started):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in started:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


def test_the_base_instance_is_scattered_once_and_never_passed_to_a_task(monkeypatch):
    from dask.distributed import Client

    scattered, submitted = [], []
    real_scatter, real_submit = Client.scatter, Client.submit

    def scatter(self, data, *a, **kw):
        scattered.append(data)
        return real_scatter(self, data, *a, **kw)

    def submit(self, fn, *args, **kw):
        submitted.append(args)
        return real_submit(self, fn, *args, **kw)

    monkeypatch.setattr(Client, "scatter", scatter)
    monkeypatch.setattr(Client, "submit", submit)
    results = run([REFERENCE, MORE_IN_PARIS, REFERENCE])
    assert [r["error"] for r in results] == [None, None, None]
    assert len(scattered) == 1 and isinstance(scattered[0], list) and isinstance(scattered[0][0], BaseInstance)
    assert len(submitted) == 3
    assert not any(isinstance(a, BaseInstance) for args in submitted for a in args)
    extra = submitted[1][2]  # the new structure's minutes travel with its scenario, nothing else
    assert extra.minutes.shape[1] == 1


def test_the_base_instance_survives_pickling():
    import pickle

    b = base()
    again = pickle.loads(pickle.dumps(b))
    assert again.system.children == b.system.children and again.system.units == b.system.units
    assert (again.travel.minutes == b.travel.minutes).all() and again.weights == b.weights


def test_minutes_to_new_structures_are_those_of_the_full_transit_matrix(tmp_path, monkeypatch):
    """The columns a scenario adds equal what the travel layer gives when the structures were
    there from the start (the homes are snapped to the same origins)."""
    import numpy as np

    from data.generator import generate
    from data.transit import travel_matrix
    from planning.runner import extra_columns

    monkeypatch.setenv("PLACEMENT_CACHE_DIR", str(tmp_path))
    system = generate(0.02, 1)
    full = travel_matrix(system.homes, system.structures)
    without = travel_matrix(system.homes, system.structures[:-3])
    extra = extra_columns(without, system.homes, system.structures[-3:], travel_matrix)
    assert extra.structure_ids == tuple(s.id for s in system.structures[-3:])
    assert np.array_equal(extra.minutes, full.minutes[:, -3:], equal_nan=True)
