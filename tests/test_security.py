"""Accounts, the access policy, secret places, services, jobs' owners, the audit trail and
privacy of logs and errors (docs/SECURITY.md), on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta, timezone

import jwt
import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from typer.testing import CliRunner

from api.cli import app as cli
from api.policy import POLICY
from data.db import audit
from data.db.models import AuditRow, ReservationRow
from tests.api_support import OTHER_SERVICE, TEST_ACCOUNTS, Api, cli_url, running_api

PROBLEM = "application/problem+json"
ROLES = tuple(TEST_ACCOUNTS)


@pytest.fixture
def api(db) -> Api:
    """The service, asked in English: these tests check what is refused and that two refusals are
    the same answer, in the English words (tests/test_api.py checks the French ones)."""
    with running_api(db, prices={}) as a:
        a.client.headers["Accept-Language"] = "en"
        yield a


def detail(response, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    return response.json()["detail"]


# --- accounts and tokens -----------------------------------------------------------------------


def test_sign_in_gives_a_short_lived_token_and_wrong_passwords_get_one_answer(api: Api):
    r = api.sign_in("officer")
    assert r.status_code == 200 and r.json()["token_type"] == "bearer" and r.json()["expires_in"] == 15 * 60
    me = api.client.get("/auth/me", headers={"Authorization": f"Bearer {r.json()['access_token']}"}).json()
    assert me == {"name": "officer", "role": "officer", "service": "sector-8", "structure_ids": []}
    wrong = api.sign_in("officer", "not the password")
    unknown = api.sign_in("nobody", "not the password")
    assert detail(wrong, 401) == detail(unknown, 401) == "Wrong user name or password, or the account is locked or disabled."
    assert wrong.headers["www-authenticate"] == "Bearer"


def test_an_account_is_locked_after_repeated_failures_until_an_administrator_resets_it(api: Api, tmp_path):
    for _ in range(5):
        assert api.sign_in("planner", "wrong password!").status_code == 401
    assert api.sign_in("planner").status_code == 401  # the right password, but locked
    result = CliRunner().invoke(cli, ["users", "reset-password", "planner", "--password-stdin",
                                      "--database-url", cli_url(api.db)],
                                input="a new long passphrase\n", env=_cli_env(api))
    assert result.exit_code == 0, result.output
    assert api.sign_in("planner", "a new long passphrase").status_code == 200


def _cli_env(api: Api) -> dict[str, str]:
    return {"PLACEMENT_ARGON2_TIME_COST": "1", "PLACEMENT_ARGON2_MEMORY_KIB": "8", "PLACEMENT_ARGON2_PARALLELISM": "1"}


def test_refresh_tokens_are_used_once_and_tokens_end_with_the_account(api: Api):
    first = api.sign_in("officer").json()
    again = api.client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert again.status_code == 200 and again.json()["refresh_token"] != first["refresh_token"]
    assert "unknown, used or expired" in detail(api.client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]}), 401)
    token = {"Authorization": f"Bearer {again.json()['access_token']}"}
    assert api.client.get("/places", headers=token).status_code == 200
    result = CliRunner().invoke(cli, ["users", "disable", "officer", "--database-url",
                                      cli_url(api.db)])
    assert result.exit_code == 0, result.output
    assert "no longer valid" in detail(api.client.get("/places", headers=token), 401)
    assert api.client.post("/auth/refresh", json={"refresh_token": again.json()["refresh_token"]}).status_code == 401
    assert api.sign_in("officer").status_code == 401


@pytest.mark.parametrize("forge", ["expired", "other_key", "alg_none", "garbage"])
def test_bad_tokens_are_refused(api: Api, forge):
    user_id = api.client.get("/auth/me", headers=api.headers("officer")).status_code and 1
    now = datetime.now(timezone.utc)
    sec = api.services.security
    token = {
        "expired": lambda: sec.access_token(user_id, 0, now - timedelta(hours=1))[0],
        "other_key": lambda: jwt.encode({"sub": "1", "tv": 0, "iat": now, "exp": now + timedelta(minutes=5)},
                                        "another key of enough length for HS256!", algorithm="HS256"),
        "alg_none": lambda: jwt.encode({"sub": "1", "tv": 0, "iat": now, "exp": now + timedelta(minutes=5)},
                                       None, algorithm="none"),
        "garbage": lambda: "abc.def.ghi",
    }[forge]()
    r = api.client.get("/places", headers={"Authorization": f"Bearer {token}"})
    assert "invalid or expired" in detail(r, 401)


# --- the access policy, route by route and role by role ------------------------------------------

_SAMPLE_PARAMS = {"child_id": "C-1", "group_id": "F-1", "reservation_id": "R-none", "unit_id": "U-nev",
                  "job_id": "J-none"}
_SAMPLE_BODIES = {("POST", "/reservations"): {"unit_id": "U-nev", "child_id": "C-1"},
                  ("PATCH", "/units/{unit_id}"): {"capacity": 11},
                  ("POST", "/jobs"): {"method": "greedy"},
                  ("POST", "/auth/refresh"): {"refresh_token": "x"}}


def test_every_route_of_the_schema_has_a_policy_entry_and_every_role_gets_what_it_says(api: Api):
    """Walks the OpenAPI schema: a route missing from api.policy.POLICY fails here (and is
    refused to everyone by the app); anonymous callers get 401 on every non-public route; each
    role gets 403 exactly where the table does not name it."""
    paths = api.client.get("/openapi.json").json()["paths"]
    routes = [(m.upper(), p) for p, ops in paths.items() for m in ops]
    assert routes, "the schema lists no route"
    missing = [r for r in routes if r not in POLICY]
    assert not missing, f"routes without an entry in api.policy.POLICY: {missing}"
    for method, path in routes:
        rule = POLICY[method, path]
        url = re.sub(r"\{(\w+)\}", lambda m: _SAMPLE_PARAMS.get(m.group(1), "x"), path)
        body = _SAMPLE_BODIES.get((method, path))
        anonymous = api.client.request(method, url, json=body)
        if rule.public:  # answered without a token (a sign-in with a wrong password is its own 401)
            assert anonymous.status_code != 403 and "Sign in first" not in anonymous.text, (method, path)
            continue
        assert anonymous.status_code == 401, (method, path, anonymous.text)
        for role in ROLES:
            r = api.client.request(method, url, json=body, headers=api.headers(role))
            if role in rule.roles:
                assert r.status_code not in (401, 403), (method, path, role, r.text)
            else:
                assert r.status_code == 403, (method, path, role, r.text)
                assert r.json()["detail"] == f"Role {role!r} may not call {method} {path}."


def test_a_route_missing_from_the_policy_is_refused_to_everyone(db):
    with running_api(db) as api:
        app = api.client.app

        @app.get("/unlisted")
        def unlisted() -> dict:
            return {"secret": "should never be seen"}

        for role in (*ROLES, None):
            r = api.get("/unlisted", role=role)
            assert r.status_code == 403 and "n'a pas d'entrée dans la politique d'accès" in r.json()["detail"]
        assert any(isinstance(r, APIRoute) and r.path == "/unlisted" for r in app.routes)


# --- secret places: invisible to anyone not entitled, everywhere ----------------------------------


def test_secret_places_are_invisible_to_anyone_not_entitled(api: Api):
    api.add_account("manager-secret", "structure_manager", structure_ids=["S-secret"])
    api.add_account("officer-other", "officer", service=OTHER_SERVICE.value)
    for role in ("officer", "planner", "structure_manager", "officer-other"):
        places = api.get("/places?limit=1000", role=role).json()
        assert "U-secret" not in {p["unit_id"] for p in places["items"]}
        assert api.get("/places?needs=protection", role=role).json()["total"] == 0
        assert detail(api.get("/units/U-secret", role=role), 404) == "Unit 'U-secret' does not exist."
        assert detail(api.get("/units/U-nope", role=role), 404) == "Unit 'U-nope' does not exist."
    # proposals, "why not" and holds for an officer of the child's service who may not see them
    assert api.get("/children/C-P/proposals").json()["proposals"] == []
    assert detail(api.get("/children/C-P/proposals?why_not=S-secret"), 404) == "Structure 'S-secret' does not exist."
    assert detail(api.get("/children/C-P/proposals?why_not=S-nope"), 404) == "Structure 'S-nope' does not exist."
    assert detail(api.post("/reservations", {"unit_id": "U-secret", "child_id": "C-P"}), 404) == "Unit 'U-secret' does not exist."
    # the entitled: protection officers, and the manager who runs it (who declares its vacancies)
    assert "U-secret" in {p["unit_id"] for p in api.get("/places", role="protection_officer").json()["items"]}
    assert api.get("/units/U-secret", role="manager-secret").json()["capacity"] == 2
    assert api.patch("/units/U-secret", {"capacity": 3}, role="manager-secret").status_code == 200
    assert detail(api.patch("/units/U-nev", {"capacity": 3}, role="manager-secret"), 404) == "Unit 'U-nev' does not exist."
    # a reservation on a secret place: only the protection officers of the service see it
    rid = api.post("/reservations", {"unit_id": "U-secret", "child_id": "C-P"}, role="protection_officer").json()["id"]
    assert detail(api.get(f"/reservations/{rid}"), 404) == f"Reservation {rid!r} does not exist."
    assert detail(api.post(f"/reservations/{rid}/cancel"), 404) == f"Reservation {rid!r} does not exist."
    assert api.get(f"/reservations/{rid}", role="protection_officer").json()["status"] == "held"


def test_a_batch_result_names_no_secret_place_and_no_child(api: Api):
    job = api.post("/jobs", {"method": "greedy"}, role="planner").json()["id"]
    api.services.jobs.wait(job, timeout=60)
    result = api.get(f"/jobs/{job}/result", role="planner").json()["result"]
    text_of = str(result)
    assert "U-secret" not in text_of and "S-secret" not in text_of
    assert not re.search(r"\bC-(1|2|3|P|0|placed)\b", text_of)
    with api.db.read() as s:  # the stored result still has the real assignment
        from data.db.models import BatchJobRow

        assert s.get(BatchJobRow, job).result["assignment"]["C-P"] == "U-secret"


# --- services: an officer acts for the children of their service ---------------------------------


def test_an_officer_of_another_service_cannot_tell_the_children_exist(api: Api):
    api.add_account("officer-other", "officer", service=OTHER_SERVICE.value)
    other = "officer-other"
    for cid in ("C-1", "C-nope"):
        assert detail(api.get(f"/children/{cid}/proposals", role=other), 404) == f"Child {cid!r} does not exist."
        assert detail(api.get(f"/places?child_id={cid}&within_minutes=60", role=other), 404) == f"Child {cid!r} does not exist."
        assert detail(api.post("/reservations", {"unit_id": "U-nev", "child_id": cid}, role=other), 404) == \
            f"Child {cid!r} does not exist."
    assert detail(api.get("/sibling-groups/F-1/proposals", role=other), 404) == "Sibling group 'F-1' does not exist."
    rid = api.post("/reservations", {"unit_id": "U-nev", "child_id": "C-1"}).json()["id"]
    for verb in ("confirm", "cancel"):
        assert detail(api.post(f"/reservations/{rid}/{verb}", role=other), 404) == f"Reservation {rid!r} does not exist."
        assert detail(api.post(f"/reservations/R-nope/{verb}", role=other), 404) == "Reservation 'R-nope' does not exist."


def test_reservations_record_who_held_confirmed_and_cancelled_them(api: Api):
    held = api.post("/reservations", {"unit_id": "U-nev", "child_id": "C-1"}).json()
    assert held["created_by"] == "officer"
    confirmed = api.post(f"/reservations/{held['id']}/confirm", role="protection_officer").json()  # same service
    assert (confirmed["status"], confirmed["confirmed_by"]) == ("confirmed", "protection_officer")
    other = api.post("/reservations", {"unit_id": "U-pou", "child_id": "C-0"}).json()["id"]
    cancelled = api.post(f"/reservations/{other}/cancel", role="administrator").json()
    assert (cancelled["status"], cancelled["cancelled_by"]) == ("cancelled", "administrator")
    with api.db.read() as s:
        row = s.get(ReservationRow, held["id"])
        assert (row.created_by, row.confirmed_by, row.service) == ("officer", "protection_officer", "sector-8")


def test_planners_get_no_family_home_and_no_per_child_travel(api: Api):
    assert "may not ask for travel times from a child's family home" in \
        detail(api.get("/places?child_id=C-1&within_minutes=60", role="planner"), 403)
    assert detail(api.get("/children/C-1/proposals", role="planner"), 403).startswith("Role 'planner' may not call")
    assert api.get("/places?lat=48.85&lon=2.35&within_minutes=60", role="planner").status_code == 200


def test_a_caller_sees_only_their_own_jobs(api: Api):
    job = api.post("/jobs", {"method": "greedy"}, role="planner").json()["id"]
    api.services.jobs.wait(job, timeout=60)
    assert api.get(f"/jobs/{job}", role="planner").status_code == 200
    assert detail(api.get(f"/jobs/{job}", role="administrator"), 404) == f"Batch job {job!r} does not exist."
    assert detail(api.get(f"/jobs/{job}/result", role="administrator"), 404) == f"Batch job {job!r} does not exist."


def _same_404(hidden, absent, hidden_id: str, absent_id: str) -> None:
    """The answers for an id the caller may not see and for one that does not exist are the same
    bytes, but for the id asked (each names only its own)."""
    assert hidden.status_code == absent.status_code == 404, (hidden.text, absent.text)
    assert hidden.headers["content-type"] == absent.headers["content-type"]
    assert hidden.content.replace(hidden_id.encode(), b"<id>") == absent.content.replace(absent_id.encode(), b"<id>")


def test_a_hidden_reservation_or_job_is_the_same_404_as_an_absent_one(api: Api):
    api.add_account("officer-other", "officer", service=OTHER_SERVICE.value)
    other = "officer-other"
    rid = api.post("/reservations", {"unit_id": "U-nev", "child_id": "C-1"}).json()["id"]
    absent = "R-" + "0" * (len(rid) - 2)
    _same_404(api.get(f"/reservations/{rid}", role=other), api.get(f"/reservations/{absent}", role=other), rid, absent)
    for verb in ("confirm", "cancel"):
        _same_404(api.post(f"/reservations/{rid}/{verb}", role=other),
                  api.post(f"/reservations/{absent}/{verb}", role=other), rid, absent)
    # a part of a fratrie's hold: the answer names the part asked, never the hold's first part
    bundle = api.post("/reservations", {"sibling_group_id": "F-1", "placements": [
        {"child_id": "C-2", "unit_id": "U-near-4"}, {"child_id": "C-3", "unit_id": "U-near-12"}]}).json()
    lead, member = bundle["id"], bundle["parts"][1]["reservation_id"]
    for verb in ("confirm", "cancel"):
        hidden = api.post(f"/reservations/{member}/{verb}", role=other)
        assert lead not in hidden.text
        _same_404(hidden, api.post(f"/reservations/{absent}/{verb}", role=other), member, absent)
    _same_404(api.get(f"/reservations/{member}", role=other), api.get(f"/reservations/{absent}", role=other),
              member, absent)
    # someone else's batch job and a job that does not exist
    job = api.post("/jobs", {"method": "greedy"}, role="planner").json()["id"]
    api.services.jobs.wait(job, timeout=60)
    nope = "J-" + "0" * (len(job) - 2)
    for tail in ("", "/result", "/cancel"):
        send = api.post if tail == "/cancel" else api.get
        _same_404(send(f"/jobs/{job}{tail}", role="administrator"), send(f"/jobs/{nope}{tail}", role="administrator"),
                  job, nope)


# --- audit trail ---------------------------------------------------------------------------------


def _cli(api: Api, *args: str):
    return CliRunner().invoke(cli, [*args, "--database-url", cli_url(api.db)])


def test_reads_and_changes_are_in_the_audit_trail_and_the_chain_verifies(api: Api):
    api.get("/children/C-1/proposals")
    rid = api.post("/reservations", {"unit_id": "U-nev", "child_id": "C-1"}).json()["id"]
    api.post(f"/reservations/{rid}/confirm")
    api.get("/units/U-nev", role="structure_manager")
    with api.db.read() as s:
        rows = [(r.actor, r.action, r.subject_type, r.subject_id, r.remote)
                for r in audit.query(s, child="C-1")]
    assert rows == [("officer", "read-proposals", "child", "C-1", "testclient"),
                    ("officer", "hold", "child", "C-1", "testclient"),
                    ("officer", "confirm", "child", "C-1", "testclient")]
    listed = _cli(api, "audit", "--child", "C-1")
    assert listed.exit_code == 0 and listed.output.count("\tC-1\t") == 3
    by_user = _cli(api, "audit", "--user", "structure_manager")
    assert "\tread\tunit\tU-nev\t" in by_user.output
    assert _cli(api, "audit", "--since", "2999-01-01").output == ""
    for line in _cli(api, "audit", "--limit", "3").output.splitlines():  # every time with its offset
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", line.split("\t")[1]), line
    verified = _cli(api, "audit", "verify")
    assert verified.exit_code == 0 and "Audit trail intact" in verified.output


def test_the_application_cannot_update_or_delete_the_audit_trail(api: Api):
    api.get("/children/C-1/proposals")
    for statement in ("UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log"):
        with pytest.raises(Exception, match="append-only"):
            with api.db.write() as s:
                s.execute(text(statement))
    with api.db.read() as s:
        assert s.scalar(select(AuditRow.actor).where(AuditRow.subject_id == "C-1")) == "officer"


@pytest.mark.parametrize("tamper", ["change", "delete"])
def test_tampering_with_the_audit_trail_is_detected(api: Api, tamper):
    for cid in ("C-1", "C-0", "C-placed"):
        api.get(f"/children/{cid}/proposals")
    with api.db.read() as s:
        target = s.scalar(select(AuditRow.id).where(AuditRow.subject_id == "C-0"))
    # as the table's owner, the protection switched off first
    with api.db.engine.begin() as conn:
        if api.db.is_sqlite:
            conn.execute(text("DROP TRIGGER audit_log_no_update"))
            conn.execute(text("DROP TRIGGER audit_log_no_delete"))
        else:
            conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
        if tamper == "change":
            conn.execute(text("UPDATE audit_log SET actor = 'nobody' WHERE id = :i"), {"i": target})
        else:
            conn.execute(text("DELETE FROM audit_log WHERE id = :i"), {"i": target})
    result = _cli(api, "audit", "verify")
    assert result.exit_code == 1
    said = "changed after it was written" if tamper == "change" else "a row deleted or inserted"
    assert said in result.output and "Audit trail broken" in result.output


# --- privacy of logs, health and errors ------------------------------------------------------------


def test_health_shows_no_connection_string(api: Api):
    body = api.get("/health", role=None).json()
    assert set(body) == {"status", "data_version"}
    assert "sqlite" not in str(body) and "postgres" not in str(body)


def test_access_log_lines_carry_pseudonyms_not_child_ids(api: Api, caplog):
    from api.privacy import ACCESS_LOGGER, PseudonymFilter

    f = PseudonymFilter(api.services.security.pseudonym)
    record = logging.LogRecord(ACCESS_LOGGER, logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5", "GET", "/children/C-1/proposals?why_not=S-near", "1.1", 200), None)
    f.filter(record)
    line = record.getMessage()
    assert "C-1" not in line and api.services.security.pseudonym("C-1") in line and "S-near" in line
    record = logging.LogRecord(ACCESS_LOGGER, logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5", "GET", "/places?child_id=C-0&within_minutes=9", "1.1", 200), None)
    f.filter(record)
    assert "C-0" not in record.getMessage() and "within_minutes=9" in record.getMessage()
    assert api.services.security.pseudonym("C-1") != api.services.security.pseudonym("C-0")


def _server_log(caplog) -> str:
    """What the server logged (not the test client's own request lines)."""
    return "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith(("httpx", "httpcore")))


def test_an_unexpected_error_echoes_nothing_and_logs_no_personal_data(api: Api, monkeypatch, caplog):
    def broken(_session_or_version):
        raise KeyError("child C-1 born 2018-03-01 lives at 12 rue X")

    # both ways a request gets its snapshot: the one held (no I/O) and the one read from the store
    monkeypatch.setattr(api.services.systems, "at_least", broken)
    monkeypatch.setattr(api.services.systems, "snapshot", broken)
    client = TestClient(api.client.app, raise_server_exceptions=False)
    with caplog.at_level(logging.DEBUG):
        r = client.get("/children/C-1/proposals", headers=api.headers("officer"))
    assert r.status_code == 500 and r.headers["content-type"].startswith(PROBLEM)
    assert "C-1" not in r.text and "rue" not in r.text
    logged = _server_log(caplog)
    assert "KeyError" in logged and "/children/{child_id}/proposals" in logged and "broken" in logged
    assert "C-1" not in logged and "rue" not in logged and "2018" not in logged


def test_a_failed_batch_job_is_logged_without_its_message(db, caplog):
    def broken(*_):
        raise RuntimeError("child C-1 of 12 rue X could not be placed")

    with running_api(db, runner=broken) as api, caplog.at_level(logging.DEBUG):
        job = api.post("/jobs", {"method": "greedy"}, role="planner").json()["id"]
        api.services.jobs.wait(job, timeout=30)
    logged = _server_log(caplog)
    assert f"batch job {job} failed: builtins.RuntimeError" in logged
    assert "rue" not in logged and "C-1" not in logged


# --- accounts from the command line --------------------------------------------------------------


def test_users_command_line(tmp_path, monkeypatch):
    for k, v in {"PLACEMENT_ARGON2_TIME_COST": "1", "PLACEMENT_ARGON2_MEMORY_KIB": "8",
                 "PLACEMENT_ARGON2_PARALLELISM": "1"}.items():
        monkeypatch.setenv(k, v)
    url = ["--database-url", f"sqlite:///{tmp_path / 'users.sqlite3'}"]
    run = CliRunner().invoke
    first = run(cli, ["users", "add", "root", "--role", "administrator", *url], input="correct horse battery\ncorrect horse battery\n")
    assert first.exit_code == 0 and "Account root created (administrator)." in first.output
    assert "at least 12 characters" in run(cli, ["users", "add", "weak", "--role", "planner", "--password-stdin", *url],
                                           input="short\n").output
    assert "already exists" in run(cli, ["users", "add", "root", "--role", "planner", "--password-stdin", *url],
                                   input="another long passphrase\n").output
    assert "belongs to a service" in run(cli, ["users", "add", "o", "--role", "officer", "--password-stdin", *url],
                                         input="another long passphrase\n").output
    assert "unknown service" in run(cli, ["users", "add", "o", "--role", "officer", "--service", "sector-10",
                                          "--password-stdin", *url], input="another long passphrase\n").output
    ok = run(cli, ["users", "add", "anne", "--role", "officer", "--service", "sector-3", "--password-stdin", *url],
             input="another long passphrase\n")
    assert ok.exit_code == 0, ok.output
    assert run(cli, ["users", "disable", "anne", *url]).exit_code == 0
    listed = run(cli, ["users", "list", *url]).output.splitlines()
    assert listed == ["anne\tofficer\tsector-3\tdisabled", "root\tadministrator\t-\tactive"]
    assert "does not exist" in run(cli, ["users", "disable", "nobody", *url]).output
    from data.db import Database

    db = Database(f"sqlite:///{tmp_path / 'users.sqlite3'}")
    with db.read() as s:
        hashes = [h for (h,) in s.execute(text("SELECT password_hash FROM users"))]
    db.dispose()
    assert all(h.startswith("$argon2id$") for h in hashes)
    assert not any("correct horse" in h for h in hashes)


def test_no_request_holds_two_pooled_connections_when_it_writes_its_audit_rows(api: Api, monkeypatch):
    """Regression: the audit row of a read was written while the request's read session still
    held its connection; 50 officers at once then exhausted the pool (503 after 30 s)."""
    held_at_write: list[int] = []
    real_write = api.db.write

    def counted_write():
        held_at_write.append(api.db.engine.pool.checkedout())
        return real_write()

    api.get("/places")  # the snapshot loaded, the token fetched
    monkeypatch.setattr(api.db, "write", counted_write)
    api.get("/children/C-1/proposals")
    api.get("/sibling-groups/F-1/proposals")
    api.get("/places?child_id=C-1&within_minutes=90")
    rid = api.post("/reservations", {"unit_id": "U-nev", "child_id": "C-1"}).json()["id"]
    api.post(f"/reservations/{rid}/confirm")
    api.get(f"/reservations/{rid}")
    assert len(held_at_write) >= 6 and set(held_at_write) == {0}, held_at_write


def test_reads_are_audited_by_group_commit_each_committed_before_it_returns(db):
    """Concurrent reads share transactions (fewer commits than reads), each read's row is in the
    store when its ``append`` returns, and the chain verifies."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from data.db.repository import utcnow

    writes = []
    gate = threading.Event()

    def slow_write():
        writes.append(1)
        gate.wait(5)  # the first transaction waits: the reads behind it queue up
        return db.write()

    trail = audit.GroupCommit(slow_write, utcnow)
    entry = lambda i: [audit.Entry("anne", "officer", "read", "child", f"C-{i}", "test")]  # noqa: E731

    def read(i):
        trail.append(entry(i))
        with db.read() as s:  # committed before append returned
            return bool(audit.query(s, child=f"C-{i}"))

    with ThreadPoolExecutor(16) as pool:
        first = pool.submit(read, 0)
        while not writes:
            pass
        rest = [pool.submit(read, i) for i in range(1, 40)]
        gate.set()
        seen = [first.result()] + [f.result() for f in rest]
    trail.close()
    assert all(seen)
    assert trail.rows == 40 and trail.batches < 40 / 4, (trail.rows, trail.batches)
    with db.read() as s:
        verdict = audit.verify(s)
    assert verdict.ok and verdict.rows == 40


def test_a_failed_audit_transaction_fails_every_read_of_its_batch_and_the_next_one_goes_through(db):
    from data.db.repository import utcnow

    broken = {"on": True}

    def write():
        if broken["on"]:
            raise RuntimeError("database unreachable")
        return db.write()

    trail = audit.GroupCommit(write, utcnow)
    with pytest.raises(RuntimeError, match="unreachable"):
        trail.append([audit.Entry("anne", "officer", "read", "child", "C-1", "test")])
    broken["on"] = False
    trail.append([audit.Entry("anne", "officer", "read", "child", "C-2", "test")])
    trail.close()
    with db.read() as s:
        assert [r.subject_id for r in audit.query(s)] == ["C-2"]
    with pytest.raises(RuntimeError, match="closed"):
        trail.append([audit.Entry("anne", "officer", "read", "child", "C-3", "test")])
