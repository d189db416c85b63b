"""Faults, with real processes: the server SIGKILLed inside a confirmation and inside a fratrie's
hold leaves the store all-or-nothing (PostgreSQL and SQLite in WAL mode); PostgreSQL restarted
under traffic gives 503 with Retry-After while it is down, and no confirmation is lost or
doubled after.

PostgreSQL here is a throwaway cluster of our own (``tests.servers.private_postgres``), never
the shared server: these tests stop and start it. Without initdb/pg_ctl they are skipped, with
the reason, unless CI is set. The server sleeps inside the transaction being tested through the
test hook ``PLACEMENT_FAULT_PAUSE_AT`` so that it is killed between its writes and its commit.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections import Counter

import httpx
import pytest
from sqlalchemy import func, select

from data.db import Database
from data.db.models import AuditRow, ChildRow, PlacementRow, ReservationChildRow, ReservationRow, UnitRow
from data.db.repository import double_bookings
from tests.api_support import SAMPLE_SERVICE, sample_system
from tests.servers import add_accounts, postgres_binaries, private_postgres, served, sign_in

pytestmark = pytest.mark.slow
OFFICER = {"officer": {"role": "officer", "service": SAMPLE_SERVICE.value}}


@pytest.fixture(scope="module")
def cluster():
    if postgres_binaries() is None:
        reason = "initdb/pg_ctl not installed: cannot start a private PostgreSQL cluster"
        if os.environ.get("CI"):
            pytest.fail(reason + " (CI is set)")
        pytest.skip(reason)
    with private_postgres() as pg:
        yield pg


def _store(url: str) -> dict[str, str]:
    db = Database(url)
    try:
        db.migrate()
        db.save_system(sample_system())
    finally:
        db.dispose()
    return add_accounts(url, OFFICER)


@pytest.fixture
def store_url(request, tmp_path):
    """A fresh store: a new database in the private cluster, or a SQLite file."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'placement.sqlite3'}"
    cluster = request.getfixturevalue("cluster")
    name = f"f_{os.urandom(6).hex()}"
    admin = Database(cluster.url)
    with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    admin.dispose()
    return cluster.url.rsplit("/", 1)[0] + f"/{name}"


def _state(url: str) -> dict:
    db = Database(url)
    try:
        with db.read() as s:
            return {
                "units": {u.id: (u.capacity, u.occupied, u.held) for u in s.scalars(select(UnitRow))},
                "children": {c.id: c.current_unit_id for c in s.scalars(select(ChildRow))},
                "reservations": {r.id: r.status for r in s.scalars(select(ReservationRow))},
                "reservation_children": s.scalar(select(func.count()).select_from(ReservationChildRow)),
                "placements": s.scalar(select(func.count()).select_from(PlacementRow)),
                "audit": Counter(a for (a,) in s.execute(select(AuditRow.action))),
                "double_bookings": double_bookings(s),
            }
    finally:
        db.dispose()


def _in_pause(server, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while f"fault-injection pause in {what}" not in server.output():
        assert time.monotonic() < deadline, server.output()[-2000:]
        time.sleep(0.05)
    time.sleep(0.3)  # the writes are done before the pause is logged; let the log line land


def _in_background(fn) -> threading.Thread:
    def swallow():
        try:
            fn()
        except httpx.HTTPError:
            pass  # the server is killed under this request
    t = threading.Thread(target=swallow, daemon=True)
    t.start()
    return t


@pytest.mark.parametrize("store_url", ["postgresql", "sqlite"], indirect=True)
def test_a_server_killed_inside_a_confirmation_leaves_all_or_nothing(store_url, tmp_path):
    passwords = _store(store_url)
    with served(store_url, tmp_path / "a", fault_pause_at="confirm", fault_pause_s="60") as server:
        auth = sign_in(server.base, "officer", passwords["officer"])
        r = httpx.post(server.base + "/reservations", json={"unit_id": "U-nev", "child_id": "C-1"}, headers=auth)
        assert r.status_code == 201, r.text
        rid = r.json()["id"]
        before = _state(store_url)
        _in_background(lambda: httpx.post(f"{server.base}/reservations/{rid}/confirm", headers=auth, timeout=90))
        _in_pause(server, "confirm")
        server.kill()
    after = _state(store_url)
    assert after == before  # nothing of the confirmation: no placement, no occupancy, no audit row
    assert after["reservations"][rid] == "held" and after["children"]["C-1"] is None
    if store_url.startswith("sqlite"):
        con = sqlite3.connect(store_url.removeprefix("sqlite:///"))
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        con.close()
    # the same confirmation, after a restart, is done whole
    with served(store_url, tmp_path / "b") as server:
        auth = sign_in(server.base, "officer", passwords["officer"])
        assert httpx.post(f"{server.base}/reservations/{rid}/confirm", headers=auth, timeout=60).status_code == 200
    done = _state(store_url)
    assert done["children"]["C-1"] == "U-nev" and done["reservations"][rid] == "confirmed"
    assert done["units"]["U-nev"] == (10, 1, 0) and done["placements"] == before["placements"] + 1
    assert done["audit"]["confirm"] == 2 and not done["double_bookings"]


@pytest.mark.parametrize("store_url", ["postgresql", "sqlite"], indirect=True)
def test_a_server_killed_inside_a_fratrie_hold_leaves_nothing_held(store_url, tmp_path):
    passwords = _store(store_url)
    before = _state(store_url)
    with served(store_url, tmp_path / "a", fault_pause_at="hold", fault_pause_s="60") as server:
        auth = sign_in(server.base, "officer", passwords["officer"])
        before = _state(store_url)  # after the sign-in's own audit row
        _in_background(lambda: httpx.post(server.base + "/reservations", headers=auth, timeout=90,
                                          json={"unit_id": "U-nev", "sibling_group_id": "F-1"}))
        _in_pause(server, "hold")
        server.kill()
    after = _state(store_url)
    assert after == before
    assert after["units"]["U-nev"] == (10, 0, 0) and after["reservation_children"] == 0


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
def test_postgres_restarted_under_traffic_gives_503_then_no_lost_or_doubled_confirmation(store_url, cluster, tmp_path):
    passwords = _store(store_url)
    wanted = {"C-1": "U-nev", "C-2": "U-nev", "C-3": "U-nev", "C-0": "U-pou", "C-placed": "U-nev"}
    with served(store_url, tmp_path / "a", retry_after_s="2") as server:
        auth = sign_in(server.base, "officer", passwords["officer"])
        held = {}
        for child_id, unit_id in wanted.items():
            if child_id in held:
                continue
            # C-2 and C-3 are the fratrie F-1, which stays together: held in one step
            body = ({"unit_id": unit_id, "sibling_group_id": "F-1"} if child_id in ("C-2", "C-3")
                    else {"unit_id": unit_id, "child_id": child_id})
            r = httpx.post(server.base + "/reservations", json=body, headers=auth)
            assert r.status_code == 201, r.text
            for held_child in r.json()["child_ids"]:
                held[held_child] = r.json()["id"]
        seen: Counter = Counter()
        retry_after: set[str] = set()
        stop = threading.Event()

        def traffic() -> None:
            with httpx.Client(base_url=server.base, headers=auth, timeout=30) as client:
                while not stop.is_set():
                    for url in ("/places", "/units/U-nev", "/children/C-1/proposals"):
                        try:
                            r = client.get(url)
                        except httpx.HTTPError:
                            seen["transport error"] += 1
                            continue
                        seen[r.status_code] += 1
                        if r.status_code == 503:
                            retry_after.add(r.headers.get("retry-after", ""))
                    time.sleep(0.02)

        readers = [threading.Thread(target=traffic) for _ in range(3)]
        for t in readers:
            t.start()
        time.sleep(1.0)
        cluster.stop("fast")
        down: Counter = Counter()
        try:
            for child_id in ("C-1", "C-2"):  # confirmations while the database is down
                r = httpx.post(f"{server.base}/reservations/{held[child_id]}/confirm", headers=auth, timeout=60)
                down[r.status_code] += 1
                assert r.status_code == 503 and r.headers["retry-after"] == "2", r.text
            time.sleep(1.0)
        finally:
            cluster.start()
        confirmed: Counter = Counter()
        for child_id, rid in held.items():  # every client retries until it has an answer
            for _ in range(60):
                r = httpx.post(f"{server.base}/reservations/{rid}/confirm", headers=auth, timeout=60)
                if r.status_code != 503:
                    break
                time.sleep(0.5)
            assert r.status_code in (200, 409), r.text
            if r.status_code == 409:
                assert "est déjà confirmée" in r.json()["detail"]
            confirmed[child_id] += 1
        time.sleep(0.5)
        stop.set()
        for t in readers:
            t.join(timeout=60)
    log = server.output()  # the access log names children by pseudonym only
    assert '"GET /children/P-' in log and "/children/C-1/" not in log, log[-1500:]
    assert seen[503] > 0 and retry_after == {"2"}, seen
    assert seen[500] == 0 and seen[200] > 0, seen
    after = _state(store_url)
    assert all(after["reservations"][rid] == "confirmed" for rid in held.values())
    assert {c: after["children"][c] for c in wanted} == wanted
    assert after["placements"] == len(wanted)  # one per child: none lost, none doubled
    assert after["units"]["U-nev"] == (10, 4, 0) and after["units"]["U-pou"] == (4, 2, 0)
    assert after["units"]["U-near-4"] == (2, 0, 0)  # C-placed moved out of it
    assert not after["double_bookings"]


@pytest.mark.parametrize("store_url", ["postgresql", "sqlite"], indirect=True)
def test_a_process_killed_while_applying_a_rebalancing_plan_leaves_nothing(store_url, tmp_path):
    """`placement rebalance --apply` records the plan (a job) and its holds in one transaction:
    killed after its writes and before its commit, the store holds none of them; run again, all."""
    import signal
    import subprocess
    import sys

    from data.db.models import BatchJobRow
    from data.io import write_dataset
    from tests.rebalance_fixtures import far_system

    system, _ = far_system(near_free=1)
    db = Database(store_url)
    db.migrate()
    db.save_system(system)
    db.dispose()
    data = write_dataset(system, tmp_path / "ds", "csv")
    before = _state(store_url)
    command = [sys.executable, "-m", "api.cli", "rebalance", "--data", str(data), "--apply", "--database-url", store_url]
    log = tmp_path / "apply.log"
    env = dict(os.environ, PLACEMENT_FAULT_PAUSE_AT="apply", PLACEMENT_FAULT_PAUSE_S="60")
    with open(log, "w") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 120
        while "fault-injection pause in apply" not in log.read_text():
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.05)
        time.sleep(0.3)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    def jobs() -> int:
        db = Database(store_url)
        try:
            with db.read() as s:
                return int(s.scalar(select(func.count()).select_from(BatchJobRow)) or 0)
        finally:
            db.dispose()

    assert jobs() == 0 and _state(store_url) == before  # all or nothing: nothing
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    after = _state(store_url)
    assert jobs() == 1 and len(after["reservations"]) == 1 and after["units"]["U-near"][2] == 1  # all of it
