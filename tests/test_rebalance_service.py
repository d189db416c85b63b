"""Rebalancing plans in the store, on the command line and through the service: --apply writes
every reservation or none (SQLite and PostgreSQL), a planner submits, an officer approves."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from api.cli import app
from data.db import Database
from data.db import rebalancing as store
from data.db import repository as repo
from data.db.errors import ConflictError, NotFoundError
from data.db.models import BatchJobRow, ReservationRow
from data.io import write_dataset
from matcher import CurrentPlacement
from planning.rebalance import plan_rebalancing
from tests.api_support import running_api
from tests.factories import child
from tests.rebalance_fixtures import HOME, HOME_15, SINCE, far_system, settings

NOW = datetime(2026, 11, 23, 9, 0, 0)
TTL = timedelta(hours=48)


def two_far_children():
    """C-far and C-far2 in Nevers, two free places in the 15e: two moves, two reservations."""
    other = child("C-far2", 11, home=HOME, current=CurrentPlacement("U-nev", SINCE))
    return far_system(near_free=2, extra=[other])


def chain_case():
    """C-sd moves into the free place of the 15e (move 1); C-far takes the one C-sd frees (move 2)."""
    sd = child("C-sd", 9, home=HOME_15, current=CurrentPlacement("U-sd", SINCE))
    return far_system(near_free=1, extra=[sd])


CHAIN_SETTINGS = dict(far_minutes=20.0, move_base=5.0, move_per_year=0.0)


def counts(db: Database) -> tuple[int, int, int]:
    with db.read() as session:
        jobs = session.scalar(select(func.count()).select_from(BatchJobRow))
        holds = session.scalar(select(func.count()).select_from(ReservationRow))
        held = repo.unit_state(session, "U-near").held
    return int(jobs or 0), int(holds or 0), held


def test_apply_records_the_plan_and_a_hold_per_move(db):
    s, travel = two_far_children()
    db.save_system(s)
    plan = plan_rebalancing(s, travel, settings=settings()).to_dict()
    assert len(plan["moves"]) == 2
    with db.write() as session:
        job_id, rows = store.record_plan(session, plan, NOW, TTL)
    assert len(rows) == 2 and counts(db) == (1, 2, 2)
    with db.read() as session:
        stored = store.plan_of(session, job_id).result
    assert [m["status"] for m in stored["moves"]] == ["held", "held"]
    assert {m["reservation_id"] for m in stored["moves"]} == {r.id for r in rows}


def test_apply_failure_midway_writes_nothing(db):
    s, travel = two_far_children()
    db.save_system(s)
    plan = plan_rebalancing(s, travel, settings=settings()).to_dict()
    with db.write() as session:  # meanwhile, one of the two free places is taken
        state = repo.unit_state(session, "U-near")
        repo.set_unit_places(session, "U-near", capacity=state.capacity - 1, occupied=None)
    with pytest.raises(ConflictError, match=r"move 2: unit U-near has 0 free place\(s\)"):
        with db.write() as session:
            store.record_plan(session, plan, NOW, TTL)
    assert counts(db) == (0, 0, 0)  # the first hold and the job were rolled back with it


def test_a_chain_move_is_approved_once_the_move_before_it_is_confirmed(db):
    s, travel = chain_case()
    db.save_system(s)
    plan = plan_rebalancing(s, travel, settings=settings(**CHAIN_SETTINGS)).to_dict()
    assert [(m["child_id"], m["after_move"]) for m in plan["moves"]] == [("C-sd", None), ("C-far", 1)]
    with db.write() as session:
        job_id, rows = store.record_plan(session, plan, NOW, TTL)
    assert len(rows) == 1 and rows[0].child_ids == ["C-sd"]
    with pytest.raises(ConflictError, match="move 1 must free the place first"):
        with db.write() as session:
            store.approve_move(session, job_id, 2, NOW, TTL)
    with db.write() as session:
        repo.confirm(session, rows[0].id, NOW, NOW.date())
    with db.write() as session:
        [held] = store.approve_move(session, job_id, 2, NOW, TTL)
    assert held.unit_id == "U-sd" and held.child_ids == ["C-far"]
    with pytest.raises(ConflictError, match="already approved"):
        with db.write() as session:
            store.approve_move(session, job_id, 2, NOW, TTL)
    with pytest.raises(NotFoundError, match="has no move 9"):
        with db.write() as session:
            store.approve_move(session, job_id, 9, NOW, TTL)


# --- the command line ---------------------------------------------------------------------------

runner = CliRunner()


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("PLACEMENT_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "travel-cache"))


@pytest.fixture
def dataset(tmp_path):
    s, _ = two_far_children()
    return write_dataset(s, tmp_path / "far", "csv"), s


def test_cli_dry_run_prints_the_plan_and_writes_nothing(dataset, tmp_path):
    directory, _ = dataset
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    out = tmp_path / "plan.json"
    result = runner.invoke(app, ["rebalance", "--data", str(directory), "--json", "--database-url", url, "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert {m["child_id"] for m in report["moves"]} == {"C-far", "C-far2"}
    assert report["totals"]["moves"] == 2 and report["before"]["placed_by_zone"]["province"] == 2
    assert report["after"]["placed_by_zone"]["province"] == 0 and "applied" not in report
    assert json.loads(out.read_text())["moves"] == report["moves"]
    assert not (tmp_path / "store.sqlite3").exists()
    text = runner.invoke(app, ["rebalance", "--data", str(directory), "--max-moves", "1"])
    assert text.exit_code == 0 and "1 mouvements" in text.output and "Rapproche l'enfant" in text.output
    flat = re.sub(r"[ \n]+", " ", text.output)  # rich's wrapping undone; the no-break spaces kept
    assert "(optimisation exacte, optimal)" in flat and "mip" not in flat  # the plan's machine words in French
    assert re.search(r"valeur du plan [\d\u202f]+, borne prouvée [\d\u202f]+, écart \d+,\d\d\u00a0%", flat)
    assert re.search(r"avant : Paris \d+,\d\u00a0%, Île-de-France \d+,\d\u00a0%, province \d+,\d\u00a0% ;", flat)


def test_the_plans_figures_are_said_with_french_numbers_and_words():
    from api.commands.rebalance import _EXCLUDED_WORDS, _figures
    from matcher.words import number, percent
    from planning.rebalance import EXCLUSION_TEXT

    assert (number(2155, "fr"), number(706.66, "fr", 1), percent(0.494, "fr"), percent(0, "fr", 2)) == (
        "2\u202f155", "706,7", "49,4\u00a0%", "0,00\u00a0%")
    assert set(_EXCLUDED_WORDS) == set(EXCLUSION_TEXT)  # every reason a child is left out has its words
    summary = {"share_by_zone": {"paris": 0.5, "ile_de_france": 0.2, "province": 0.3},
               "travel": {"median_minutes": 24.4}, "siblings": {"split": 1, "split_allowed": 1, "groups": 14}}
    assert _figures(summary) == ("Paris 50,0\u00a0%, Île-de-France 20,0\u00a0%, province 30,0\u00a0% ; trajet médian "
                                 "24 min ; fratries séparées 2 / 14")


def test_cli_apply_records_reservations_or_nothing(dataset, tmp_path):
    directory, s = dataset
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    empty = runner.invoke(app, ["rebalance", "--data", str(directory), "--apply", "--database-url", url])
    assert empty.exit_code == 2 and "ne contient aucun système de placement" in empty.output, empty.output
    db = Database(url)
    db.save_system(s)
    with db.write() as session:  # one of the two places is taken in the store: the second hold fails
        state = repo.unit_state(session, "U-near")
        repo.set_unit_places(session, "U-near", capacity=state.capacity - 1, occupied=None)
    failed = runner.invoke(app, ["rebalance", "--data", str(directory), "--apply", "--database-url", url])
    assert failed.exit_code == 2 and "rien n'a été écrit dans la base" in failed.output, failed.output
    assert "erreur : déplacement" in failed.output and "place(s) libre(s)" in failed.output, failed.output
    assert counts(db) == (0, 0, 0)
    with db.write() as session:
        repo.set_unit_places(session, "U-near", capacity=state.capacity, occupied=None)
    applied = runner.invoke(app, ["rebalance", "--data", str(directory), "--apply", "--json", "--database-url", url])
    assert applied.exit_code == 0, applied.output
    report = json.loads(applied.stdout)
    assert len(report["applied"]["reservations"]) == 2 and counts(db) == (1, 2, 2)
    db.dispose()


@pytest.mark.parametrize("args, said", [
    (["--on", "2026-02-30"], "pas une date"),
    (["--method", "best"], "méthode 'best' inconnue"),
    (["--out", "plan.txt"], "le plan s'écrit en JSON"),
    (["--on", "2020-01-01"], "précède la date de référence des données"),
])
def test_cli_bad_options_are_clear_errors(dataset, args, said):
    directory, _ = dataset
    result = runner.invoke(app, ["rebalance", "--data", str(directory), *args])
    assert result.exit_code == 2 and said in result.output


# --- through the service ------------------------------------------------------------------------


def _submit(api, body=None, role="planner"):
    return api.post("/rebalancing", json=body or {}, role=role)


def test_a_planner_submits_and_an_officer_approves_each_move(db):
    s, _ = two_far_children()
    db.save_system(s)
    with running_api(db, seed=False) as api:
        assert _submit(api, role="officer").status_code == 403
        r = _submit(api, {"max_moves": 5})
        assert r.status_code == 202, r.text
        job_id = r.json()["id"]
        api.services.jobs.wait(job_id, timeout=60)
        r = api.get(f"/rebalancing/{job_id}", role="officer")
        assert r.status_code == 200 and r.json()["status"] == "succeeded", r.text
        plan = r.json()["plan"]
        assert [m["status"] for m in plan["moves"]] == ["proposed", "proposed"]
        planned = api.get(f"/rebalancing/{job_id}", role="planner").json()["plan"]["moves"]
        assert [m["child_id"][:2] for m in planned] == ["P-", "P-"]  # planners: pseudonyms, never the ids
        assert not any(m["child_id"] in planned[0]["reason"] for m in plan["moves"])
        assert "Rapproche l'enfant" in plan["moves"][0]["reason"]
        first = plan["moves"][0]["number"]
        denied = api.post(f"/rebalancing/{job_id}/moves/{first}/approve", role="planner")
        assert denied.status_code == 403 and "ne peut pas appeler" in denied.json()["detail"]
        ok = api.post(f"/rebalancing/{job_id}/moves/{first}/approve", role="officer")
        assert ok.status_code == 201, ok.text
        [reservation] = ok.json()
        assert reservation["unit_id"] == "U-near" and reservation["status"] == "held"
        again = api.post(f"/rebalancing/{job_id}/moves/{first}/approve", role="officer")
        assert again.status_code == 409 and "est déjà approuvé" in again.json()["detail"]
        again = api.post(f"/rebalancing/{job_id}/moves/{first}/approve?lang=en", role="officer")
        assert again.status_code == 409 and "already approved" in again.json()["detail"]
        after = api.get(f"/rebalancing/{job_id}", role="officer").json()["plan"]["moves"]
        assert [m["status"] for m in after] == ["held", "proposed"]
        assert api.post(f"/rebalancing/{job_id}/moves/99/approve", role="officer").status_code == 404
        assert api.get("/rebalancing/J-nope", role="officer").status_code == 404
        assert api.post("/rebalancing/J-nope/moves/1/approve", role="officer").status_code == 404
        bad = _submit(api, {"on": "2020-01-01"})
        assert bad.status_code == 422 and "précède la date de référence des données" in bad.json()["detail"]
        assert _submit(api, {"max_moves": -1}).status_code == 422
        # a reservation from a move is confirmed like any other: the child moves
        confirmed = api.post(f"/reservations/{reservation['id']}/confirm", role="officer")
        assert confirmed.status_code == 200 and confirmed.json()["status"] == "confirmed"
    assert db.load_system().child_by_id[reservation["child_ids"][0]].current.unit_id == "U-near"


def test_confirming_every_move_gives_the_plans_figures(db):
    """Applying the plan in the store (hold, confirm, chain after chain) then recomputing the
    summary from what the store holds gives the plan's 'after' figures."""
    from matcher.outcome import summarize
    from planning.rebalance import placements

    s, travel = chain_case()
    db.save_system(s)
    plan = plan_rebalancing(s, travel, settings=settings(**CHAIN_SETTINGS))
    with db.write() as session:
        job_id, rows = store.record_plan(session, plan.to_dict(), NOW, TTL)
    for move in plan.moves:
        if move.after_move is not None:
            with db.write() as session:
                rows = store.approve_move(session, job_id, move.number, NOW, TTL)
        with db.write() as session:
            for r in rows:
                if r.child_ids == [move.child_id]:
                    repo.confirm(session, r.id, NOW, NOW.date())
    after = db.load_system()
    assert summarize(after, placements(after), travel) == plan.after


def test_moves_into_secret_places_are_shown_only_to_protection_officers(db):
    from dataclasses import replace

    from matcher import Need, PlacementSystem

    far = child("C-far", 10, home=HOME, needs=(Need.PROTECTION,), current=CurrentPlacement("U-nev", SINCE))
    s, _ = far_system(far=far)
    structures = tuple(
        replace(st, capabilities=frozenset({Need.PROTECTION}), secret=st.id == "S-near") if st.id in ("S-nev", "S-near") else st
        for st in s.structures
    )
    db.save_system(PlacementSystem(s.reference_date, s.children, s.sibling_groups, structures, s.units))
    with running_api(db, seed=False) as api:
        job_id = _submit(api).json()["id"]
        api.services.jobs.wait(job_id, timeout=60)
        shown = api.get(f"/rebalancing/{job_id}", role="officer").json()
        assert shown["plan"]["moves"] == [] and shown["hidden_moves"] == 1
        entitled = api.get(f"/rebalancing/{job_id}", role="protection_officer").json()
        assert [m["to_unit"] for m in entitled["plan"]["moves"]] == ["U-near"] and entitled["hidden_moves"] == 0
        assert api.post(f"/rebalancing/{job_id}/moves/1/approve", role="officer").status_code == 404
        ok = api.post(f"/rebalancing/{job_id}/moves/1/approve", role="protection_officer")
        assert ok.status_code == 201 and ok.json()[0]["unit_id"] == "U-near"


def test_a_move_into_a_place_a_young_adult_frees_by_the_date_waits_for_it(db):
    from dataclasses import replace
    from datetime import date

    leaving = replace(child("C-old", 21, home=HOME, current=CurrentPlacement("U-near", SINCE)), birth_date=date(2004, 12, 1))
    s, travel = far_system(near_free=0, extra=[leaving])
    s = s.with_changes(units=[replace(s.unit_by_id["U-near"], age_max=21)])
    db.save_system(s)
    plan = plan_rebalancing(s, travel, settings=settings(), on=date(2026, 12, 15)).to_dict()
    assert [(m["child_id"], m["after_leaver"]) for m in plan["moves"]] == [("C-far", "C-old")]
    with db.write() as session:
        job_id, rows = store.record_plan(session, plan, NOW, TTL)
    assert rows == [] and counts(db) == (1, 0, 0)  # recorded, nothing held: the place is not free yet
    with pytest.raises(ConflictError, match="the place frees when C-old leaves care"):
        with db.write() as session:
            store.approve_move(session, job_id, 1, NOW, TTL)


def test_the_store_keeps_each_childs_wish_and_the_judges_placement_away(db):
    """Plans made through the service read them from the store (migration 0007)."""
    from matcher import JudgeConstraints, Wish
    from tests.factories import child, system

    kept = system([child("C-w", 12, wish=Wish.STAY), child("C-a", 13, judge=JudgeConstraints(placed_away=True)),
                   child("C-n", 14)], [], [])
    db.save_system(kept)
    loaded = db.load_system()
    by_id = {c.id: c for c in loaded.children}
    assert by_id["C-w"].wish is Wish.STAY and not by_id["C-w"].judge.placed_away
    assert by_id["C-a"].judge.placed_away and by_id["C-a"].wish is Wish.NONE
    assert by_id["C-n"].wish is Wish.NONE and not by_id["C-n"].judge.placed_away
