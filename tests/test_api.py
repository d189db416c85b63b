"""The officers' service, endpoint by endpoint and error by error, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from data.db.models import AuditRow, ChildRow, PlacementRow, UnitRow
from tests.api_support import Api, running_api

PROBLEM = "application/problem+json"


@pytest.fixture
def api(db) -> Api:
    with running_api(db, prices={"U-near-4": 1000.0}) as a:
        yield a


def units_of(response) -> set[str]:
    return {p["unit_id"] for p in response.json()["items"]}


def problem_of(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status and body["title"] and body["type"].startswith("https://")
    return body


# --- free places ---------------------------------------------------------------------------------


def test_free_places_lists_units_with_room_and_hides_secret_ones(api: Api):
    r = api.get("/places")
    assert r.status_code == 200
    assert units_of(r) == {"U-near-4", "U-near-12", "U-sd-16", "U-nev", "U-pou"}
    near = next(p for p in r.json()["items"] if p["unit_id"] == "U-near-4")
    assert near["free"] == 1 and near["capacity"] == 2 and near["structure_name"] == "MECS Vaugirard"
    assert r.json()["free_places"] == 1 + 3 + 3 + 10 + 3


def test_secret_places_are_seen_only_by_protection_officers(api: Api):
    for role in ("officer", "planner", "structure_manager"):
        assert "U-secret" not in units_of(api.get("/places", role=role))
        assert api.get("/places?needs=protection", role=role).json()["items"] == []
    assert "U-secret" in units_of(api.get("/places", role="protection_officer"))
    assert units_of(api.get("/places?needs=protection", role="protection_officer")) == {"U-secret"}


@pytest.mark.parametrize(
    "query, expected",
    [
        ("structure_type=pouponniere", {"U-pou"}),
        ("structure_type=pouponniere&structure_type=mecs&age=2", {"U-pou"}),
        ("age=13&sex=F", {"U-near-12", "U-nev"}),
        ("age=13&sex=M", {"U-nev"}),
        ("zone=93", {"U-sd-16"}),
        ("zone=75115", {"U-near-4", "U-near-12", "U-pou"}),
        ("zone=58&age=8", {"U-nev"}),
    ],
)
def test_free_places_filters(api: Api, query, expected):
    assert units_of(api.get(f"/places?{query}")) == expected


def test_free_places_within_minutes_of_a_child_home_sorted_by_travel(api: Api):
    items = api.get("/places?child_id=C-1&within_minutes=90").json()["items"]
    assert {p["unit_id"] for p in items} == {"U-near-4", "U-near-12", "U-sd-16", "U-pou"}
    minutes = [p["travel_minutes"] for p in items]
    assert minutes == sorted(minutes) and all(m <= 90 for m in minutes)


def test_free_places_within_minutes_of_a_point(api: Api):
    r = api.get("/places?lat=46.99&lon=3.16&within_minutes=30")
    assert units_of(r) == {"U-nev"}
    assert r.json()["items"][0]["travel_minutes"] < 30


def test_held_places_count_as_taken(api: Api):
    assert api.post("/reservations", {"unit_id": "U-near-4", "child_id": "C-1"}).status_code == 201
    assert "U-near-4" not in units_of(api.get("/places"))


@pytest.mark.parametrize(
    "query, status, field, text",
    [
        ("within_minutes=30", 422, "within_minutes", "within_minutes needs an origin"),
        ("lat=48.8", 422, "lon", "Give both lat and lon"),
        ("age=30", 422, "age", "less than or equal to 21"),
        ("structure_type=castle", 422, "structure_type.0", "Input should be"),
        ("zone=Paris", 422, "zone", "should match pattern"),
        ("lat=48.8&lon=2.3&child_id=C-1", 422, "child_id", "not both"),
        ("limit=0", 422, "limit", "greater than or equal to 1"),
    ],
)
def test_free_places_bad_queries_are_problems_naming_the_field(api: Api, query, status, field, text):
    body = problem_of(api.get(f"/places?{query}&lang=en"), status)
    assert text in body["detail"]
    assert field in [e["field"] for e in body["errors"]]


@pytest.mark.parametrize(
    "query, field, text",
    [
        ("within_minutes=30", "within_minutes", "within_minutes demande une origine : lat et lon, ou child_id."),
        ("lat=48.8", "lon", "Donnez lat et lon ensemble, ou aucun des deux."),
        ("age=30", "age", "La requête a 1 champ(s) invalide(s) : age : doit être au plus 21"),
        ("limit=0", "limit", "La requête a 1 champ(s) invalide(s) : limit : doit être au moins 1"),
        ("structure_type=castle", "structure_type.0", "structure_type.0 : doit être l'une des valeurs"),
    ],
)
def test_bad_queries_are_refused_in_french_by_default(api: Api, query, field, text):
    body = problem_of(api.get(f"/places?{query}"), 422)
    assert text in body["detail"], body["detail"]
    assert field in [e["field"] for e in body["errors"]]
    assert "type" not in body["errors"][0]  # pydantic's error type is not sent


def test_free_places_unknown_child_and_no_token(api: Api):
    assert problem_of(api.get("/places?child_id=C-404&lang=en"), 404)["detail"] == "Child 'C-404' does not exist."
    assert problem_of(api.get("/places?child_id=C-404"), 404)["detail"] == "L'enfant 'C-404' n'existe pas."
    body = problem_of(api.get("/places?lang=en", role=None), 401)
    assert "needs a bearer token" in body["detail"]
    body = problem_of(api.get("/places", role=None), 401)
    assert body["detail"] == "Connectez-vous d'abord : cette route demande un jeton (POST /auth/token)."
    assert problem_of(api.get("/places", headers={"Authorization": "Bearer not-a-token"}, role=None), 401)


# --- proposals -----------------------------------------------------------------------------------


def test_child_proposals_with_components_and_both_ranks(api: Api):
    r = api.get("/children/C-1/proposals?lang=en")
    assert r.status_code == 200
    body = r.json()
    assert body["prices_available"] and body["order"] == "own"
    first = body["proposals"][0]
    assert first["placements"][0]["unit_id"] == "U-near-4" and first["own_rank"] == 1
    names = {c["name"] for c in first["components"]}
    assert {"transit_time", "outside_paris", "daily_price", "stability"} <= names
    assert {"age_range", "needs_met", "free_place", "judge_max_travel"} <= set(first["rules_met"])
    assert len(first["rules_met_words"]) == len(first["rules_met"])
    assert "Age range" in first["rules_met_words"]  # lang=en
    french = api.get("/children/C-1/proposals").json()["proposals"][0]  # French by default
    assert french["rules_met"] == first["rules_met"] and "Tranche d'âge" in french["rules_met_words"]
    assert first["system_rank"] > 1 and first["capacity_price"] == 1000.0
    assert "Ranked lower system-wide" in first["explanation"]
    assert [p["placements"][0]["unit_id"] for p in body["proposals"]] == ["U-near-4", "U-nev"]


def test_system_order_puts_the_priced_place_last(api: Api):
    body = api.get("/children/C-1/proposals?order=system&lang=en").json()
    assert [p["placements"][0]["unit_id"] for p in body["proposals"]] == ["U-nev", "U-near-4"]
    assert body["proposals"][0]["explanation"].startswith("Ranked higher system-wide")


def test_sibling_group_proposals_keep_the_fratrie_together_first(api: Api):
    body = api.get("/sibling-groups/F-1/proposals?k=5").json()
    first = body["proposals"][0]
    assert first["siblings_together"] and first["structure_id"] == "S-near"
    assert {p["child_id"]: p["unit_id"] for p in first["placements"]} == {"C-2": "U-near-4", "C-3": "U-near-12"}
    assert body["child_ids"] == ["C-2", "C-3"] and body["sibling_group_id"] == "F-1"


def test_protected_child_is_proposed_a_secret_place_only_to_a_protection_officer(api: Api):
    assert api.get("/children/C-P/proposals").json()["proposals"] == []
    body = api.get("/children/C-P/proposals", role="protection_officer").json()
    assert [p["structure_id"] for p in body["proposals"]] == ["S-secret"]


def test_why_not_a_full_structure_and_a_farther_one(api: Api):
    full = api.get("/children/C-1/proposals?why_not=S-sd&lang=en").json()["why_not"]
    assert full["verdict"] == "full" and "U-sd-4 5/5" in full["sentence"]
    assert "U-sd-16" not in full["sentence"]  # a 16-21 unit would never take an 8-year-old
    far = api.get("/children/C-1/proposals?why_not=S-nev&lang=en").json()["why_not"]
    assert far["verdict"] == "ranked_lower" and far["rank"] == 2
    assert far["ahead"][0]["structure_id"] == "S-near"
    excluded = api.get("/children/C-1/proposals?why_not=S-pou&lang=en").json()["why_not"]
    assert excluded["verdict"] == "excluded" and "at 8, C-1 is outside the unit's 0-3 age range" in excluded["sentence"]
    french = api.get("/children/C-1/proposals?why_not=S-pou").json()["why_not"]  # French by default
    assert "à 8 ans, C-1 est hors de la tranche 0-3 ans de l'unité" in french["sentence"]
    assert "Pouponnière du 15e (S-pou)" in french["sentence"]


def test_proposal_errors(api: Api):
    assert problem_of(api.get("/children/C-404/proposals?lang=en"), 404)["detail"] == "Child 'C-404' does not exist."
    assert problem_of(api.get("/sibling-groups/F-9/proposals?lang=en"), 404)["detail"] == "Sibling group 'F-9' does not exist."
    assert problem_of(api.get("/sibling-groups/F-9/proposals"), 404)["detail"] == "La fratrie 'F-9' n'existe pas."
    assert problem_of(api.get("/children/C-1/proposals?why_not=S-x"), 404)["detail"] == "La structure 'S-x' n'existe pas."
    # a secret structure is not acknowledged to a caller who may not see it
    assert problem_of(api.get("/children/C-1/proposals?why_not=S-secret&lang=en"), 404)["detail"] == \
        "Structure 'S-secret' does not exist."
    assert problem_of(api.get("/children/C-1/proposals?k=0"), 422)["errors"][0]["field"] == "k"
    assert problem_of(api.get("/children/C-1/proposals?order=best"), 422)["errors"][0]["field"] == "order"


def test_capacity_prices_are_computed_once_per_data_version_then_again_in_the_background(api: Api):
    first = api.get("/children/C-1/proposals").json()
    api.get("/sibling-groups/F-1/proposals")
    assert len(api.price_calls) == 1 and first["prices_version"] == first["data_version"]
    assert api.patch("/units/U-nev", {"capacity": 12}, role="structure_manager").status_code == 200
    stale = api.get("/children/C-1/proposals").json()  # answered at once with the older prices, labelled
    assert stale["data_version"] == first["data_version"] + 1 and stale["prices_version"] == first["data_version"]
    assert stale["proposals"][0]["capacity_price"] == 1000.0
    api.services.prices.wait(timeout=30)
    assert len(api.price_calls) == 2
    fresh = api.get("/children/C-1/proposals").json()
    assert fresh["prices_version"] == fresh["data_version"] == first["data_version"] + 1
    api.services.prices.wait(timeout=30)
    assert len(api.price_calls) == 2


def test_a_replaced_system_is_loaded_whole_and_priced_before_the_answer(api: Api):
    from tests.api_support import sample_system

    api.get("/children/C-1/proposals")
    assert (api.services.systems.full_loads, len(api.price_calls)) == (1, 1)
    api.db.save_system(sample_system())
    body = api.get("/children/C-1/proposals").json()
    assert (api.services.systems.full_loads, api.services.systems.refreshes, len(api.price_calls)) == (2, 0, 2)
    assert body["prices_version"] == body["data_version"] == api.db.version()


def test_without_prices_the_own_order_still_answers_and_the_system_order_is_503(db):
    from api.services import ServiceUnavailable

    def unavailable(*_):
        raise ServiceUnavailable("the system-aware ordering needs solver.duals, which is not available")

    with running_api(db, price_function=unavailable) as api:
        body = api.get("/children/C-1/proposals").json()
        assert not body["prices_available"] and body["proposals"][0]["system_rank"] is None
        assert "needs solver.duals" in problem_of(api.get("/children/C-1/proposals?order=system"), 503)["detail"]


def test_a_solver_failure_on_the_prices_is_a_503_and_the_own_order_still_answers(db):
    from solver.lp import SolverError

    def failing(*_):
        raise SolverError("the LP relaxation is abnormal: a solver failure or the time limit")

    with running_api(db, price_function=failing) as api:
        body = api.get("/children/C-1/proposals").json()
        assert not body["prices_available"] and body["prices_version"] is None and body["proposals"]
        detail = problem_of(api.get("/children/C-1/proposals?order=system&lang=en"), 503)["detail"]
        assert "capacity prices could not be computed: the LP relaxation is abnormal" in detail
        detail = problem_of(api.get("/children/C-1/proposals?order=system"), 503)["detail"]
        assert detail.startswith("Les prix de capacité n'ont pas pu être calculés : the LP relaxation is abnormal")


# --- reservations ----------------------------------------------------------------------------------


def test_hold_then_confirm_places_the_child_in_one_transaction(api: Api):
    r = api.post("/reservations", {"unit_id": "U-near-4", "child_id": "C-1"})
    assert r.status_code == 201
    res = r.json()
    assert res["status"] == "held" and res["places"] == 1 and res["structure_id"] == "S-near"
    assert res["expires_at"].startswith("2026-11-25T09:00")  # 48 h by default
    version = api.db.version()
    c = api.post(f"/reservations/{res['id']}/confirm")
    assert c.status_code == 200 and c.json()["status"] == "confirmed"
    with api.db.read() as s:
        unit = s.get(UnitRow, "U-near-4")
        assert (unit.occupied, unit.held) == (2, 0)
        assert s.get(ChildRow, "C-1").current_unit_id == "U-near-4"
        assert s.scalars(select(PlacementRow.unit_id).where(PlacementRow.child_id == "C-1")).all() == ["U-near-4"]
    assert api.db.version() == version + 1
    with api.db.read() as s:
        assert api.services.systems.snapshot(s).system.child_by_id["C-1"].current.unit_id == "U-near-4"
    again = problem_of(api.post(f"/reservations/{res['id']}/confirm?lang=en"), 409)
    assert again["detail"] == f"Reservation {res['id']} is already confirmed."
    again = problem_of(api.post(f"/reservations/{res['id']}/confirm"), 409)
    assert again["detail"] == f"La réservation {res['id']} est déjà confirmée."


def test_cancel_gives_the_place_back(api: Api):
    rid = api.post("/reservations", {"unit_id": "U-near-4", "child_id": "C-1"}).json()["id"]
    assert api.get("/units/U-near-4").json()["held"] == 1
    r = api.post(f"/reservations/{rid}/cancel")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    places = {k: v for k, v in api.get("/units/U-near-4").json().items()
              if k in ("id", "structure_id", "capacity", "occupied", "held", "free")}
    assert places == {"id": "U-near-4", "structure_id": "S-near", "capacity": 2, "occupied": 1, "held": 0, "free": 1}
    assert problem_of(api.post(f"/reservations/{rid}/cancel"), 409)["detail"] == f"La réservation {rid} est déjà annulée."


def test_a_full_unit_is_a_conflict_with_the_counts(api: Api):
    api.post("/reservations", {"sibling_group_id": "F-1", "placements": [{"child_id": "C-2", "unit_id": "U-near-4"},
                                                                          {"child_id": "C-3", "unit_id": "U-near-12"}]})
    body = problem_of(api.post("/reservations?lang=en", {"unit_id": "U-near-4", "child_id": "C-1"}), 409)
    assert body["detail"] == "Unit U-near-4 has 0 free place(s) for 1 child(ren): 1 occupied and 1 held of 2."
    body = problem_of(api.post("/reservations", {"unit_id": "U-near-4", "child_id": "C-1"}), 409)
    assert body["detail"] == ("L'unité U-near-4 a 0 place(s) libre(s) pour 1 enfant(s) : 1 occupée(s) et "
                              "1 réservée(s) sur 2.")


def test_a_fratrie_holds_its_places_in_one_unit(api: Api):
    r = api.post("/reservations", {"unit_id": "U-nev", "sibling_group_id": "F-1", "hold_hours": 2})
    assert r.status_code == 201
    assert r.json()["child_ids"] == ["C-2", "C-3"] and r.json()["places"] == 2
    assert r.json()["expires_at"].startswith("2026-11-23T11:00")
    assert api.get("/units/U-nev").json()["held"] == 2


def test_a_child_holds_one_place_at_a_time(api: Api):
    first = api.post("/reservations", {"unit_id": "U-near-4", "child_id": "C-1"}).json()["id"]
    body = problem_of(api.post("/reservations?lang=en", {"unit_id": "U-nev", "child_id": "C-1"}), 409)
    assert f"C-1 already holds a place in unit U-near-4 (reservation {first})" in body["detail"]
    body = problem_of(api.post("/reservations", {"unit_id": "U-nev", "child_id": "C-1"}), 409)
    assert body["detail"] == (f"C-1 a déjà une place réservée dans l'unité U-near-4 (réservation {first}) : "
                              "annulez-la d'abord.")


def test_an_ineligible_unit_is_refused_naming_each_rule(api: Api):
    body = problem_of(api.post("/reservations", {"unit_id": "U-pou", "sibling_group_id": "F-1"}), 422)
    assert body["title"] == "Not eligible"
    reasons = [(e["child_id"], e["rule"], e["reason"]) for e in body["errors"]]
    assert reasons == [("C-2", "age_range", "à 9 ans, C-2 est hors de la tranche 0-3 ans de l'unité"),
                       ("C-3", "age_range", "à 13 ans, C-3 est hors de la tranche 0-3 ans de l'unité")]
    assert "placements" not in body["detail"]  # this unit takes neither: no hint


def test_a_fratrie_held_in_one_unit_that_takes_only_some_of_them_is_told_of_placements(api: Api):
    """U-near-12 takes C-3 (13) and not C-2 (9): the refusal says how to hold a proposal over
    several units (``placements``), in the caller's language."""
    fr = problem_of(api.post("/reservations", {"unit_id": "U-near-12", "sibling_group_id": "F-1"}), 422)
    assert [e["child_id"] for e in fr["errors"]] == ["C-2"]
    assert fr["detail"].endswith("réservez-les en une fois avec « placements » (l'unité de chaque enfant, "
                                 "comme dans la proposition)."), fr["detail"]
    en = problem_of(api.post("/reservations", {"unit_id": "U-near-12", "sibling_group_id": "F-1"},
                             headers={"Accept-Language": "en"}), 422)
    assert "hold them at once with `placements`" in en["detail"]
    assert api.get("/units/U-near-12").json()["held"] == 0  # nothing held


def test_expired_holds_are_released_on_access_and_by_the_sweep(api: Api):
    rid = api.post("/reservations", {"unit_id": "U-near-4", "child_id": "C-1"}).json()["id"]
    other = api.post("/reservations", {"unit_id": "U-nev", "sibling_group_id": "F-1", "hold_hours": 1}).json()["id"]
    api.clock.advance(hours=49)
    assert "U-near-4" in units_of(api.get("/places"))  # expired holds no longer count, even before release
    r = api.get(f"/reservations/{rid}")
    assert r.json()["status"] == "expired"
    assert problem_of(api.post(f"/reservations/{rid}/confirm", headers={"Accept-Language": "en"}), 409)["detail"] == \
        f"Reservation {rid} is already expired."
    with api.db.read() as s:
        assert s.get(UnitRow, "U-near-4").held == 0 and s.get(UnitRow, "U-nev").held == 2
    assert api.services.sweep() == 1
    with api.db.read() as s:
        assert s.get(UnitRow, "U-nev").held == 0
        expired = [(r.actor, r.action) for r in s.scalars(select(AuditRow).where(AuditRow.subject_id == other))]
        assert expired == [("officer", "hold"), ("server", "expire")]
    assert api.get(f"/reservations/{other}").json()["status"] == "expired"


def test_a_hold_on_a_unit_whose_holds_expired_succeeds(api: Api):
    api.post("/reservations", {"unit_id": "U-near-4", "child_id": "C-1", "hold_hours": 1})
    api.clock.advance(hours=2)
    assert api.post("/reservations", {"sibling_group_id": "F-1", "placements": [
        {"child_id": "C-2", "unit_id": "U-near-4"}, {"child_id": "C-3", "unit_id": "U-near-12"}]}).status_code == 201


@pytest.mark.parametrize(
    "body, field, text",
    [
        ({"unit_id": "U-nev"}, "body", "give exactly one of child_id and sibling_group_id"),
        ({"unit_id": "U-nev", "child_id": "C-1", "sibling_group_id": "F-1"}, "body", "give exactly one"),
        ({"unit_id": "U-nev", "child_id": "C-1", "colour": "red"}, "colour", "Extra inputs are not permitted"),
        ({"unit_id": "U-nev", "child_id": "C-1", "hold_hours": -1}, "hold_hours", "greater than 0"),
        ({"child_id": "C-1"}, "body", "give exactly one of unit_id and placements"),
    ],
)
def test_reservation_validation_errors_name_the_field(api: Api, body, field, text):
    problem = problem_of(api.post("/reservations?lang=en", body), 422)
    assert text in problem["detail"]
    assert field in [e["field"] for e in problem["errors"]]


def test_reservation_unknown_ids_are_404_with_a_sentence(api: Api):
    cases = [
        ({"unit_id": "U-x", "child_id": "C-1"}, "Unit 'U-x' does not exist."),
        ({"unit_id": "U-nev", "child_id": "C-x"}, "Child 'C-x' does not exist."),
        ({"unit_id": "U-nev", "sibling_group_id": "F-x"}, "Sibling group 'F-x' does not exist."),
        ({"unit_id": "U-secret", "child_id": "C-P"}, "Unit 'U-secret' does not exist."),
    ]
    for body, detail in cases:
        assert problem_of(api.post("/reservations?lang=en", body), 404)["detail"] == detail
    for verb in ("confirm", "cancel"):
        assert problem_of(api.post(f"/reservations/R-x/{verb}?lang=en"), 404)["detail"] == "Reservation 'R-x' does not exist."
        assert problem_of(api.post(f"/reservations/R-x/{verb}"), 404)["detail"] == "La réservation 'R-x' n'existe pas."
    assert problem_of(api.get("/reservations/R-x"), 404)["detail"] == "La réservation 'R-x' n'existe pas."
    assert problem_of(api.post("/reservations", {"unit_id": "U-x", "child_id": "C-1"}), 404)["detail"] == \
        "L'unité 'U-x' n'existe pas."


def test_a_protection_officer_reserves_a_secret_place_others_cannot_see_it(api: Api):
    r = api.post("/reservations", {"unit_id": "U-secret", "child_id": "C-P"}, role="protection_officer")
    assert r.status_code == 201
    assert problem_of(api.get(f"/reservations/{r.json()['id']}"), 404)["detail"].startswith("La réservation")
    assert api.get(f"/reservations/{r.json()['id']}", role="protection_officer").json()["status"] == "held"


def test_a_placed_child_cannot_reserve_its_own_unit(api: Api):
    body = problem_of(api.post("/reservations", {"unit_id": "U-near-4", "child_id": "C-placed"}), 409)
    assert body["detail"] == "L'enfant C-placed est déjà placé dans l'unité U-near-4."


def test_confirming_a_move_frees_the_old_place(api: Api):
    rid = api.post("/reservations", {"unit_id": "U-nev", "child_id": "C-placed"}).json()["id"]
    api.post(f"/reservations/{rid}/confirm")
    assert api.get("/units/U-near-4").json()["occupied"] == 0
    assert api.get("/units/U-nev").json()["occupied"] == 1


# --- the snapshot after a change: brought up to date, not reloaded --------------------------------


def counted_full_loads(monkeypatch) -> list[int]:
    """Count the calls of the whole-system loader the services use."""
    import api.services

    calls: list[int] = []
    real = api.services.load_system

    def counted(session):
        calls.append(1)
        return real(session)

    monkeypatch.setattr(api.services, "load_system", counted)
    return calls


def every_answer(api: Api) -> dict:
    """What the officers' screens read: free places, every child's and the fratrie's proposals in
    both orders with a "why not", for a caller who sees secret places and one who does not.
    Without ``prices_version``: after a change the prices are stale but labelled for a moment."""
    out = {}
    for role in ("officer", "protection_officer"):
        out[role] = api.get("/places?limit=1000", role=role).json()
        for cid in ("C-1", "C-2", "C-3", "C-P", "C-0", "C-placed"):
            out[role, cid] = api.get(f"/children/{cid}/proposals?k=50&why_not=S-near", role=role).json()
            out[role, cid, "places"] = api.get(f"/places?child_id={cid}&within_minutes=600", role=role).json()
        for order in ("own", "system"):
            out[role, "F-1", order] = api.get(f"/sibling-groups/F-1/proposals?k=50&order={order}", role=role).json()
    for body in out.values():
        body.pop("prices_version", None)
    return out


def free_of(answers: dict, unit_id: str) -> int:
    return next((p["free"] for p in answers["officer"]["items"] if p["unit_id"] == unit_id), 0)


@pytest.mark.parametrize("change", ["confirm", "move", "unit_update"])
def test_after_a_change_the_next_answers_come_without_a_full_reload_and_equal_a_fresh_load(db, monkeypatch, change):
    from data.db.database import load_system

    full_loads = counted_full_loads(monkeypatch)
    with running_api(db, prices={"U-near-4": 1000.0}) as api:
        before = every_answer(api)
        assert len(full_loads) == 1
        if change == "confirm":  # C-1 takes the last free place of U-near-4
            rid = api.post("/reservations", {"unit_id": "U-near-4", "child_id": "C-1"}).json()["id"]
            assert api.post(f"/reservations/{rid}/confirm").status_code == 200
        elif change == "move":  # C-placed leaves U-near-4 for U-nev
            rid = api.post("/reservations", {"unit_id": "U-nev", "child_id": "C-placed"}).json()["id"]
            assert api.post(f"/reservations/{rid}/confirm").status_code == 200
        else:
            assert api.patch("/units/U-nev", {"capacity": 12, "occupied": 4}, role="structure_manager").status_code == 200
        after = every_answer(api)
        assert len(full_loads) == 1 and api.services.systems.refreshes == 1
        assert after["officer"]["data_version"] == api.db.version() == before["officer"]["data_version"] + 1
        expected = {"confirm": {"U-near-4": 0, "U-nev": 10}, "move": {"U-near-4": 2, "U-nev": 9},
                    "unit_update": {"U-near-4": 1, "U-nev": 8}}[change]
        assert {u: free_of(after, u) for u in expected} == expected
        if change == "confirm":
            assert "U-near-4" not in {p["placements"][0]["unit_id"] for p in after["officer", "C-2"]["proposals"]}
            assert "U-near-4" not in {p["placements"][0]["unit_id"] for p in after["officer", "C-0"]["proposals"]}
            assert after["officer", "F-1", "own"] != before["officer", "F-1", "own"]
        with running_api(db, prices={"U-near-4": 1000.0}, seed=False) as fresh:
            assert every_answer(fresh) == after
        assert len(full_loads) == 2  # the fresh app's own load
        with db.consistent_read() as session:
            assert api.services.systems.snapshot(session).system == load_system(session)


def test_changes_made_one_after_another_are_applied_in_turn(db, monkeypatch):
    full_loads = counted_full_loads(monkeypatch)
    with running_api(db, prices={"U-near-4": 1000.0}) as api:
        api.get("/places")
        for capacity in (11, 12, 13):
            assert api.patch("/units/U-nev", {"capacity": capacity}, role="structure_manager").status_code == 200
            assert free_of({"officer": api.get("/places").json()}, "U-nev") == capacity
        rid = api.post("/reservations", {"unit_id": "U-near-4", "child_id": "C-1"}).json()["id"]
        api.post(f"/reservations/{rid}/confirm")
        assert api.patch("/units/U-near-4", {"capacity": 3}, role="structure_manager").status_code == 200
        body = api.get("/places").json()
        assert free_of({"officer": body}, "U-near-4") == 1 and body["data_version"] == api.db.version()
        assert len(full_loads) == 1 and api.services.systems.refreshes == 5


# --- units ---------------------------------------------------------------------------------------


def test_a_structure_manager_updates_capacity_and_occupancy(api: Api):
    r = api.patch("/units/U-nev", {"capacity": 8, "occupied": 3}, role="structure_manager")
    assert r.status_code == 200 and r.json()["free"] == 5
    assert next(p for p in api.get("/places").json()["items"] if p["unit_id"] == "U-nev")["free"] == 5


def test_unit_updates_never_go_below_what_is_taken(api: Api):
    api.post("/reservations", {"unit_id": "U-near-4", "child_id": "C-1"})
    body = problem_of(api.patch("/units/U-near-4?lang=en", {"capacity": 1}, role="structure_manager"), 409)
    assert body["detail"] == "Unit U-near-4: capacity 1 is below the 1 occupied and 1 held place(s)."
    body = problem_of(api.patch("/units/U-near-4", {"capacity": 1}, role="structure_manager"), 409)
    assert body["detail"] == ("Unité U-near-4 : une capacité de 1 est inférieure aux 1 place(s) occupée(s) et "
                              "1 réservée(s).")
    body = problem_of(api.patch("/units/U-near-4?lang=en", {"occupied": 0}, role="structure_manager"), 409)
    assert body["detail"] == "Unit U-near-4: occupied 0 is below the 1 child(ren) placed there."
    body = problem_of(api.patch("/units/U-near-4", {"occupied": 0}, role="structure_manager"), 409)
    assert body["detail"] == "Unité U-near-4 : 0 place(s) occupée(s), moins que les 1 enfant(s) qui y sont placés."


def test_unit_update_errors(api: Api):
    for role in ("officer", "planner", "protection_officer", "administrator"):
        assert problem_of(api.patch("/units/U-nev?lang=en", {"capacity": 3}, role=role), 403)["detail"] == \
            f"Role {role!r} may not call PATCH /units/{{unit_id}}."
        assert problem_of(api.patch("/units/U-nev", {"capacity": 3}, role=role), 403)["detail"] == \
            f"Le rôle {role!r} ne peut pas appeler PATCH /units/{{unit_id}}."
    manager = "structure_manager"
    assert problem_of(api.patch("/units/U-x?lang=en", {"capacity": 3}, role=manager), 404)["detail"] == "Unit 'U-x' does not exist."
    assert problem_of(api.patch("/units/U-secret", {"capacity": 3}, role=manager), 404)["detail"] == "L'unité 'U-secret' n'existe pas."
    # a unit of a structure the manager does not run: the same answer as one that does not exist
    assert problem_of(api.patch("/units/U-sd-16", {"capacity": 3}, role=manager), 404)["detail"] == "L'unité 'U-sd-16' n'existe pas."
    assert "give capacity, occupied or both" in problem_of(api.patch("/units/U-nev?lang=en", {}, role=manager), 422)["detail"]
    assert "body : donnez capacity, occupied ou les deux" in problem_of(api.patch("/units/U-nev", {}, role=manager), 422)["detail"]
    assert problem_of(api.patch("/units/U-nev", {"capacity": -1}, role=manager), 422)["errors"][0]["field"] == "capacity"


# --- batch jobs ----------------------------------------------------------------------------------


def test_a_greedy_job_runs_in_the_background_and_returns_its_assignment(api: Api):
    r = api.post("/jobs", {"method": "greedy"}, role="planner")
    assert r.status_code == 202 and r.json()["status"] in ("queued", "running", "succeeded")
    job = r.json()["id"]
    api.services.jobs.wait(job, timeout=60)
    status = api.get(f"/jobs/{job}", role="planner").json()
    assert status["status"] == "succeeded", status
    assert status["progress"] == 1.0
    result = api.get(f"/jobs/{job}/result", role="planner").json()["result"]
    assert result["method"] == "greedy"
    pseudonym = api.services.security.pseudonym
    # pseudonymous, and without the child assigned to a secret place (a planner does not see them)
    assert set(result["assignment"]) == {pseudonym(c) for c in ("C-1", "C-2", "C-3", "C-0")}
    assert result["summary"]["children"] == 5
    assert result["assignment"][pseudonym("C-0")] == "U-pou"


def test_job_progress_and_a_result_not_ready(db):
    release = threading.Event()

    def slow(system, travel, weights, method, limit, progress):
        progress(0.5, "half way")
        release.wait(30)
        return {"assignment": {}}

    with running_api(db, runner=slow) as api:
        job = api.post("/jobs", {"method": "optimal", "time_limit_s": 5}, role="planner").json()["id"]
        for _ in range(200):
            if api.get(f"/jobs/{job}", role="planner").json()["progress"] == 0.5:
                break
            threading.Event().wait(0.02)
        status = api.get(f"/jobs/{job}", role="planner").json()
        assert status["status"] == "running" and status["message"] == "half way"
        assert problem_of(api.get(f"/jobs/{job}/result?lang=en", role="planner"), 409)["detail"] == \
            f"Batch job {job} is running (50% done): its result is not ready yet."
        assert problem_of(api.get(f"/jobs/{job}/result", role="planner"), 409)["detail"] == \
            f"Le travail {job} est en cours (50% fait) : son résultat n'est pas encore prêt."
        release.set()
        api.services.jobs.wait(job, timeout=30)
        assert api.get(f"/jobs/{job}/result", role="planner").json()["result"]["assignment"] == {}


def test_a_failed_job_says_why(db):
    def broken(*_):
        raise RuntimeError("solver crashed on purpose")

    with running_api(db, runner=broken) as api:
        job = api.post("/jobs", {"method": "greedy"}, role="planner").json()["id"]
        api.services.jobs.wait(job, timeout=30)
        assert api.get(f"/jobs/{job}?lang=en", role="planner").json()["error"] == "RuntimeError: solver crashed on purpose"
        assert problem_of(api.get(f"/jobs/{job}/result?lang=en", role="planner"), 409)["detail"] == \
            f"Batch job {job} failed: RuntimeError: solver crashed on purpose."
        said = api.get(f"/jobs/{job}", role="planner").json()
        assert (said["message"], said["error"]) == ("en échec", "erreur inattendue (RuntimeError: solver crashed on purpose)")


def test_a_job_says_its_progress_and_its_failure_in_the_readers_language(db):
    from matcher.errors import DomainError

    def refused(*_):
        raise DomainError("the travel matrix has negative minutes",
                          fr="la matrice des temps de trajet contient des minutes négatives")

    with running_api(db) as api:
        job = api.post("/jobs", {"method": "greedy"}, role="planner").json()["id"]
        api.services.jobs.wait(job, timeout=60)
        assert api.get(f"/jobs/{job}", role="planner").json()["message"] == "terminé"
        assert api.get(f"/jobs/{job}?lang=en", role="planner").json()["message"] == "done"
        assert [j["message"] for j in api.get("/jobs", role="planner").json()["items"]] == ["terminé"]
    with running_api(db, runner=refused, seed=False) as api:
        job = api.post("/jobs", {"method": "greedy"}, role="planner").json()["id"]
        api.services.jobs.wait(job, timeout=30)
        said = api.get(f"/jobs/{job}", role="planner").json()
        assert said["error"] == "la matrice des temps de trajet contient des minutes négatives"
        assert problem_of(api.get(f"/jobs/{job}/result", role="planner"), 409)["detail"] == \
            f"Le travail {job} a échoué : la matrice des temps de trajet contient des minutes négatives."
        assert api.get(f"/jobs/{job}?lang=en", role="planner").json()["error"] == \
            "DomainError: the travel matrix has negative minutes"


def test_job_errors(api: Api):
    planner = "planner"
    assert problem_of(api.get("/jobs/J-x?lang=en", role=planner), 404)["detail"] == "Batch job 'J-x' does not exist."
    assert problem_of(api.get("/jobs/J-x/result", role=planner), 404)["detail"] == "Le travail 'J-x' n'existe pas."
    assert problem_of(api.post("/jobs", {"method": "magic"}, role=planner), 422)["errors"][0]["field"] == "method"
    assert problem_of(api.post("/jobs", {"time_limit_s": 0}, role=planner), 422)["errors"][0]["field"] == "time_limit_s"


# --- the rest ------------------------------------------------------------------------------------


def test_health_and_openapi(api: Api):
    assert api.get("/health", role=None).json() == {"status": "ok", "data_version": api.db.version()}
    paths = api.get("/openapi.json").json()["paths"]
    assert {"/places", "/children/{child_id}/proposals", "/sibling-groups/{group_id}/proposals", "/reservations",
            "/reservations/{reservation_id}/confirm", "/units/{unit_id}", "/jobs", "/jobs/{job_id}/result"} <= set(paths)


def test_unknown_paths_methods_and_malformed_json_are_problems(api: Api):
    assert problem_of(api.get("/nowhere?lang=en"), 404)["detail"] == "There is no resource at /nowhere."
    assert problem_of(api.get("/nowhere"), 404)["detail"] == "Il n'y a rien à l'adresse /nowhere."
    assert problem_of(api.client.delete("/places?lang=en"), 405)["detail"] == "DELETE is not allowed on /places."
    assert problem_of(api.client.delete("/places"), 405)["detail"] == "DELETE n'est pas permis sur /places."
    bad = api.client.post("/reservations?lang=en", content=b"{not json",
                          headers={"content-type": "application/json", **api.headers("officer")})
    body = problem_of(bad, 422)
    assert body["detail"].startswith("The body is not valid JSON")
    bad = api.client.post("/reservations", content=b"{not json",
                          headers={"content-type": "application/json", **api.headers("officer")})
    assert problem_of(bad, 422)["detail"].startswith("Le corps de la requête n'est pas du JSON valide")
    assert body["errors"] == [{"field": "body", "in": "body", "reason": body["errors"][0]["reason"]}]


def test_serve_loads_a_dataset_into_the_store_and_builds_the_app(tmp_path, monkeypatch):
    monkeypatch.setenv("PLACEMENT_DATA_DIR", str(tmp_path / "var"))
    from fastapi.testclient import TestClient
    from typer.testing import CliRunner

    from api.cli import app as cli
    from api.commands.serve import prepare
    from data.io import write_dataset
    from tests.api_support import sample_system

    data = write_dataset(sample_system(), tmp_path / "data")
    url = f"sqlite:///{tmp_path / 'serve.sqlite3'}"
    first = prepare(database_url=url, data_dir=data)
    assert first.seeded == f"dataset {data}"
    again = prepare(database_url=url, data_dir=None)
    assert again.seeded is None  # a store that already holds a system is not replaced
    with TestClient(again.app) as client:
        assert client.get("/health").status_code == 200
        r = client.get("/units/U-near-4")
        assert r.status_code == 401, r.text  # nothing without an account
    assert (tmp_path / "var" / "secret.key").stat().st_mode & 0o777 == 0o600

    started = {}
    monkeypatch.setattr("uvicorn.run", lambda app, host, port: started.update(app=app, host=host, port=port))
    result = CliRunner().invoke(cli, ["serve", "--port", "8123", "--database-url", url])
    assert result.exit_code == 0, result.output
    assert started["port"] == 8123 and started["host"] == "127.0.0.1"
    assert "Serving on http://127.0.0.1:8123" in result.output
    assert "No account yet" in result.output and "placement users add admin --role administrator" in result.output


def test_serve_data_never_replaces_officers_work_without_reset(tmp_path, monkeypatch):
    from datetime import timedelta

    from typer.testing import CliRunner

    from api.cli import app as cli
    from data.db import Database
    from data.db import repository as repo
    from data.io import write_dataset
    from tests.api_support import sample_system

    monkeypatch.setenv("PLACEMENT_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setattr("uvicorn.run", lambda *a, **k: None)
    data = write_dataset(sample_system(), tmp_path / "data")
    store = tmp_path / "serve.sqlite3"
    url = f"sqlite:///{store}"
    assert CliRunner().invoke(cli, ["serve", "--database-url", url, "--data", str(data)]).exit_code == 0  # no work yet
    db = Database(url)
    with db.write() as session:
        repo.hold(session, unit_id="U-nev", child_ids=["C-1"], sibling_group_id=None, ttl=timedelta(hours=1),
                  now=repo.utcnow())
    refused = CliRunner().invoke(cli, ["serve", "--database-url", url, "--data", str(data)])
    assert refused.exit_code == 2, refused.output
    said = " ".join(refused.output.split())
    assert str(store) in "".join(said.split()) and "--reset" in said and "1 reservation(s)" in said
    assert db.officers_work() == {"reservations": 1, "placements": 0}  # untouched
    replaced = CliRunner().invoke(cli, ["serve", "--database-url", url, "--data", str(data), "--reset"])
    assert replaced.exit_code == 0, replaced.output
    assert db.officers_work() == {"reservations": 0, "placements": 0}
    db.dispose()


@pytest.mark.parametrize(
    "case,message",
    [
        ("url", "is not a usable SQLAlchemy URL"),
        ("unreachable", "cannot open the database postgresql+psycopg://postgres@127.0.0.1:1/test"),
        ("dataset", "children.csv, row 1, column 'id': missing column"),
    ],
)
def test_serve_bad_input_is_a_clear_error_and_writes_nothing(tmp_path, monkeypatch, case, message):
    from typer.testing import CliRunner

    from api.cli import app as cli

    store = tmp_path / "serve.sqlite3"
    bad = tmp_path / "bad-dataset"
    bad.mkdir()
    (bad / "children.csv").write_text("x\n1\n")
    args = {
        "url": ["--database-url", "not a url"],
        "unreachable": ["--database-url", "postgresql+psycopg://postgres@127.0.0.1:1/test"],
        "dataset": ["--database-url", f"sqlite:///{store}", "--data", str(bad)],
    }[case]
    monkeypatch.setattr("uvicorn.run", lambda *a, **k: pytest.fail("the server must not start"))
    result = CliRunner().invoke(cli, ["serve", *args])
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
    assert not store.exists()


# --- no answer that breaks a hard rule -----------------------------------------------------------


def test_a_proposal_that_breaks_a_hard_rule_is_never_returned(api: Api, monkeypatch):
    import matcher.proposals
    from matcher.rules import Violation

    def broken(system, proposal, travel, held=None, index=None):
        first = proposal.placements[0]
        return [Violation("age_range", (first.child_id,), f"in unit {first.unit_id}: age 13 is outside the unit's 4-11 range")]

    monkeypatch.setattr(matcher.proposals, "proposal_violations", broken)
    body = problem_of(api.get("/children/C-1/proposals?lang=en"), 500)
    assert body["title"] == "Hard rule broken"
    assert body["detail"].startswith("Proposals for C-1: the answer breaks a hard rule, so it is not returned: "
                                     "age_range (child C-1): in unit U-near-4")
    assert "proposals" not in body
    said = problem_of(api.get("/children/C-1/proposals?lang=fr"), 500)["detail"]
    assert said == ("Propositions pour C-1 : la réponse enfreint une règle stricte, elle n'est donc pas rendue : "
                    "tranche d'âge (enfant C-1). L'erreur a été consignée.")


def test_a_batch_job_whose_assignment_breaks_a_hard_rule_fails(api: Api, monkeypatch):
    import solver.greedy
    from tests.test_solve_cli import _crowded

    monkeypatch.setattr(solver.greedy, "solve_greedy", _crowded(solver.greedy.solve_greedy))
    job = api.post("/jobs", {"method": "greedy"}, role="planner").json()["id"]
    api.services.jobs.wait(job, timeout=60)
    status = api.get(f"/jobs/{job}?lang=en", role="planner").json()
    assert status["status"] == "failed"
    assert status["error"].startswith("HardRuleViolation: batch job (greedy): the answer breaks a hard rule")
    assert "free_place (children" in status["error"]
    assert "is not returned" in problem_of(api.get(f"/jobs/{job}/result?lang=en", role="planner"), 409)["detail"]
    said = api.get(f"/jobs/{job}", role="planner").json()["error"]
    assert said.startswith("traitement par lots (greedy) : la réponse enfreint une règle stricte, elle n'est donc pas "
                           "rendue : ")
    assert "place libre (enfants C-1, C-2, C-3, C-P, C-0, unité U-near-4)" in said


def test_a_split_fratrie_in_a_job_result_says_why_in_the_callers_language_and_hides_secret_places(api: Api):
    """The machine fields of a split stay; ``sentence`` is in French or English, with structure
    names and rounded minutes, no internal term; a secret structure is named to no one who may
    not see it (its id replaced, the English text dropped)."""
    import re

    from api.routers.jobs import _with_sentences
    from api.policy import Caller
    from solver.siblings import SPLIT_KINDS

    with api.db.read() as s:
        snap = api.services.systems.snapshot(s)
    planner = Caller(1, "planner", "planner", None, frozenset(), "test")
    for kind in SPLIT_KINDS:
        split = {"group_id": "F-1", "structures": ["S-near", "S-secret"], "kind": kind, "members": 2, "age_min": 9,
                 "age_max": 13, "needs": ["disability"], "eligible_structures": 3, "able_structures": 1,
                 "nearest_structure": "S-secret", "nearest_minutes": 16.4, "text": "English, naming S-secret"}
        for lang in ("fr", "en"):
            (shown,) = _with_sentences({"splits": [split]}, snap, planner, lang)["splits"]
            sentence = shown["sentence"]
            assert shown["kind"] == kind and shown["structures"] == ["S-near", "secret"]
            assert "S-secret" not in str(shown) and "Secret home" not in str(shown), shown
            assert "MECS Vaugirard" in sentence and "F-1" in sentence
            assert not re.search(r"[a-z]+_[a-z]+", sentence), sentence  # no internal term
            assert ("La fratrie" in sentence) == (lang == "fr"), sentence
            if kind in ("full_at_its_turn", "needed_by_others"):
                assert ("16 min" in sentence) and ("protégée" in sentence if lang == "fr" else "protected" in sentence)
            if kind != "separable":
                assert ("handicap" in sentence) if lang == "fr" else ("disability" in sentence), sentence
    twins = {"group_id": "F-2", "structures": ["S-near"], "kind": "no_common_structure", "members": 2, "age_min": 17,
             "age_max": 17}
    (shown,) = _with_sentences({"splits": [twins]}, snap, planner, "fr")["splits"]
    assert "ses 2 enfants de 17 ans" in shown["sentence"], shown["sentence"]
    # a result stored before the machine fields existed keeps its text
    assert _with_sentences({"splits": ["Sibling group F-1 split"]}, snap, planner, "fr")["splits"] == ["Sibling group F-1 split"]


def test_every_hard_rule_has_a_french_label():
    from matcher.rules import CAPACITY_RULE, GROUP_RULES, OPTION_RULES
    from matcher.words import RULE_LABELS

    names = {r.name for r in (*OPTION_RULES, CAPACITY_RULE, *GROUP_RULES)}
    assert set(RULE_LABELS["fr"]) == names
