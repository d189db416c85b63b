"""The placement store: migrations, and save_system / load_system round trips on both databases."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import inspect, select

from data.db import Database, EmptyStoreError
from data.db.models import UnitRow
from matcher import CurrentPlacement, JudgeConstraints, LegalBasis, Need, Sex, SiblingGroup, StructureType, Urgency
from matcher.model import Home, UnitSex
from tests.factories import NEVERS, PARIS_18, SAINT_DENIS, child, structure, system, unit


def rich_system():
    """Every field of the domain set to a non-default value somewhere."""
    home_a = Home("H-A", PARIS_18)
    home_b = Home("H-B", SAINT_DENIS)
    structures = [
        structure("S-2", StructureType.POUPONNIERE, SAINT_DENIS, daily_price_eur=310.5),
        structure("S-1", capabilities=(Need.DISABILITY, Need.PSYCHIC_CARE)),
        structure("S-3", StructureType.CENTRE_MATERNEL, NEVERS, (Need.MOTHER_CHILD, Need.PROTECTION), secret=True),
    ]
    units = [
        unit("U-3", "S-3", (16, 21), UnitSex.GIRLS, capacity=4, occupied=2),
        unit("U-1", "S-1", (4, 11), capacity=10, occupied=1, takes_siblings=False),
        unit("U-2", "S-2", (0, 3), UnitSex.MIXED, capacity=6),
    ]
    children = [
        child("C-2", 6, home=home_a, sibling_group_id="F-1", needs=(Need.DISABILITY,),
              current=CurrentPlacement("U-1", date(2025, 3, 4))),
        child("C-1", 2, Sex.FEMALE, home=home_a, sibling_group_id="F-1", urgency=Urgency.URGENT,
              judge=JudgeConstraints(frozenset({"S-3"}), frozenset({"58", "93"}), 45.5, frozenset({"C-3"}))),
        child("C-3", 17, Sex.FEMALE, home=home_b, needs=(Need.MOTHER_CHILD, Need.PROTECTION),
              legal_basis=LegalBasis.ADMINISTRATIVE, pregnant=True, current=CurrentPlacement("U-3", date(2026, 1, 2))),
        child("C-4", 19, Sex.FEMALE, home=home_b, own_child_birth_date=date(2025, 6, 1)),
    ]
    return system(children, structures, units, [SiblingGroup("F-1", ("C-2", "C-1"), together=False)])


def test_migrate_creates_every_table_and_is_idempotent(db: Database):
    db.migrate()
    names = set(inspect(db.engine).get_table_names(schema=db.schema))
    assert {"children", "homes", "structures", "units", "sibling_groups", "reservations",
            "reservation_children", "placements", "batch_jobs", "meta", "alembic_version"} <= names


def test_save_then_load_gives_the_same_system(db: Database):
    original = rich_system()
    db.save_system(original)
    loaded = db.load_system()
    assert loaded == original
    assert loaded.children == original.children
    assert loaded.sibling_groups == original.sibling_groups
    assert loaded.structures == original.structures
    assert loaded.units == original.units


def test_save_system_replaces_everything_and_bumps_the_version(db: Database):
    db.save_system(rich_system())
    first = db.version()
    small = system([child("C-9")], [structure("S-9")], [unit("U-9", "S-9")])
    db.save_system(small)
    assert db.load_system() == small
    assert db.version() == first + 1


def test_save_system_is_one_transaction(db: Database):
    db.save_system(rich_system())
    broken = rich_system()
    # A unit pointing at a structure the system lacks cannot be built in the domain, so break
    # the store instead: a unit row whose structure is missing fails the foreign key at insert.
    object.__setattr__(broken, "structures", broken.structures[:2])
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError, match="(?i)foreign key"):
        db.save_system(broken)
    assert db.load_system() == rich_system()


def test_load_system_of_an_empty_store_says_so(db: Database):
    assert db.is_empty()
    with pytest.raises(EmptyStoreError, match="holds no placement system yet"):
        db.load_system()


def test_units_start_with_no_holds(db: Database):
    db.save_system(rich_system())
    with db.read() as session:
        assert [u.held for u in session.scalars(select(UnitRow))] == [0, 0, 0]


def test_memory_sqlite_is_refused_with_a_reason():
    with pytest.raises(ValueError, match="needs a file"):
        Database("sqlite:///:memory:")


def _crowded_system(n_children: int):
    """One unit with 3 free places (5 capacity, 2 occupied) and ``n_children`` waiting for it."""
    from tests.factories import PARIS_15

    children = [child(f"C-{i}", 8, home=Home("H-1", PARIS_18)) for i in range(n_children)]
    return system(children, [structure("S-1", StructureType.MECS, PARIS_15)],
                  [unit("U-1", "S-1", (4, 11), capacity=5, occupied=2)], [])


def test_concurrent_holds_on_the_last_places_never_double_book(db: Database):
    import threading
    from datetime import datetime, timedelta

    from data.db import repository
    from data.db.errors import ConflictError

    n = 20
    db.save_system(_crowded_system(n))
    start = threading.Barrier(n)
    outcomes: list[str] = []
    lock = threading.Lock()

    def attempt(i: int) -> None:
        start.wait()
        try:
            with db.write() as session:
                repository.hold(session, unit_id="U-1", child_ids=[f"C-{i}"], sibling_group_id=None,
                                ttl=timedelta(hours=1), now=datetime(2026, 11, 23, 9))
            result = "held"
        except ConflictError as err:
            result = f"conflict: {err}"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(outcomes) == n
    assert outcomes.count("held") == 3
    conflicts = [o for o in outcomes if o != "held"]
    assert len(conflicts) == n - 3
    assert all("free place(s)" in c for c in conflicts), conflicts
    with db.read() as session:
        u = session.get(UnitRow, "U-1")
        assert (u.capacity, u.occupied, u.held) == (5, 2, 3)
        assert repository.double_bookings(session) == []


def test_a_confirmation_that_fails_half_way_writes_nothing(db: Database, monkeypatch):
    from datetime import date as day
    from datetime import datetime, timedelta

    from data.db import repository
    from data.db.models import ChildRow, PlacementRow, ReservationRow

    db.save_system(_crowded_system(1))
    now = datetime(2026, 11, 23, 9)
    with db.write() as session:
        rid = repository.hold(session, unit_id="U-1", child_ids=["C-0"], sibling_group_id=None,
                              ttl=timedelta(hours=1), now=now).id
    version = db.version()

    def broken(session, **_):  # fails after the unit and the child were updated, before the commit
        raise RuntimeError("disk full")

    monkeypatch.setattr(repository, "bump_version", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        with db.write() as session:
            repository.confirm(session, rid, now, day(2026, 11, 23))
    with db.read() as session:
        u = session.get(UnitRow, "U-1")
        assert (u.occupied, u.held) == (2, 1)
        assert session.get(ChildRow, "C-0").current_unit_id is None
        assert session.scalars(select(PlacementRow)).all() == []
        assert session.get(ReservationRow, rid).status == "held"
    assert db.version() == version
    monkeypatch.undo()
    with db.write() as session:
        repository.confirm(session, rid, now, day(2026, 11, 23))
    with db.read() as session:
        u = session.get(UnitRow, "U-1")
        assert (u.occupied, u.held) == (3, 0)


def test_consistent_read_sees_one_snapshot_while_others_commit(db: Database):
    """The system is loaded under consistent_read: a change committed in the middle of the load
    must not be seen half-way (under READ COMMITTED it would be)."""
    from sqlalchemy import update

    from data.db.database import current_version, load_system

    db.save_system(rich_system())
    with db.consistent_read() as session:
        version = current_version(session)
        before = {u.id: u.occupied for u in session.scalars(select(UnitRow))}
        with db.write() as other:
            other.execute(update(UnitRow).values(occupied=UnitRow.occupied + 1))
            from data.db.database import bump_version
            bump_version(other)
        assert {u.id: u.occupied for u in session.scalars(select(UnitRow).execution_options(populate_existing=True))} == before
        assert current_version(session) == version
        load_system(session)
    with db.read() as session:
        assert current_version(session) == version + 1


# --- what changed since a data version ----------------------------------------------------------


def _two_units_system(n_children: int):
    """Units U-1 (3 free of 5) and U-2 (4 free of 4), ``n_children`` waiting, one child placed in U-1."""
    from tests.factories import PARIS_15

    home = Home("H-1", PARIS_18)
    children = [child(f"C-{i}", 8, home=home) for i in range(n_children)]
    children.append(child("C-placed", 9, home=home, current=CurrentPlacement("U-1", date(2025, 1, 6))))
    return system(children, [structure("S-1", StructureType.MECS, PARIS_15)],
                  [unit("U-1", "S-1", (4, 11), capacity=5, occupied=2), unit("U-2", "S-1", (4, 11), capacity=4)], [])


def _hold(db: Database, unit_id: str, *child_ids: str) -> str:
    from datetime import datetime, timedelta

    from data.db import repository

    with db.write() as session:
        return repository.hold(session, unit_id=unit_id, child_ids=list(child_ids), sibling_group_id=None,
                               ttl=timedelta(hours=1), now=datetime(2026, 11, 23, 9)).id


def _confirm(db: Database, reservation_id: str) -> None:
    from datetime import datetime

    from data.db import repository

    with db.write() as session:
        repository.confirm(session, reservation_id, datetime(2026, 11, 23, 9), date(2026, 11, 23))


def test_load_changes_reads_only_the_units_and_children_changed_since_a_version(db: Database):
    from data.db import repository
    from data.db.database import load_changes, load_system

    db.save_system(_two_units_system(3))
    start = db.versions()
    loaded = db.load_system()
    moved = _hold(db, "U-2", "C-placed")
    _hold(db, "U-2", "C-1")  # a hold alone changes nothing the snapshot holds
    with db.read() as session:
        assert load_changes(session, start.data).units == ()
    _confirm(db, moved)
    with db.write() as session:
        repository.set_unit_places(session, "U-1", capacity=7, occupied=None)
    with db.consistent_read() as session:
        changes = load_changes(session, start.data)
        assert changes.since == start.data
        assert changes.version.definitions == start.definitions and changes.version.data == start.data + 2
        assert [(u.id, u.capacity, u.occupied) for u in changes.units] == [("U-1", 7, 1), ("U-2", 4, 1)]
        assert [(c.id, c.current.unit_id) for c in changes.children] == [("C-placed", "U-2")]
        assert loaded.with_changes(changes.units, changes.children) == load_system(session)
        only_last = load_changes(session, start.data + 1)
        assert [u.id for u in only_last.units] == ["U-1"] and only_last.children == ()
        assert load_changes(session, changes.version.data).units == ()


def test_concurrent_confirmations_commit_their_versions_in_order(db: Database):
    """Seven confirmations at once: each gets its own data version, and the changes read from
    the version before them give the system a full load gives."""
    import threading

    from data.db.database import load_changes, load_system
    from data.db.models import ChildRow

    n = 7
    db.save_system(_two_units_system(n))
    loaded = db.load_system()
    start = db.version()
    holds = [_hold(db, "U-1" if i < 3 else "U-2", f"C-{i}") for i in range(n)]
    start_line = threading.Barrier(n)
    errors: list[BaseException] = []

    def confirm(rid: str) -> None:
        start_line.wait()
        try:
            _confirm(db, rid)
        except BaseException as err:  # noqa: BLE001 (reported below)
            errors.append(err)

    threads = [threading.Thread(target=confirm, args=(rid,)) for rid in holds]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    with db.consistent_read() as session:
        stamps = sorted(session.scalars(select(ChildRow.changed_version).where(ChildRow.changed_version > start)))
        assert stamps == list(range(start + 1, start + n + 1))
        changes = load_changes(session, start)
        assert loaded.with_changes(changes.units, changes.children) == load_system(session)


def test_save_system_changes_the_definitions_version(db: Database):
    db.save_system(_two_units_system(1))
    first = db.versions()
    _confirm(db, _hold(db, "U-2", "C-0"))
    assert db.versions() == type(first)(first.definitions, first.data + 1)
    db.save_system(_two_units_system(1))
    assert db.versions() == type(first)(first.definitions + 1, first.data + 2)


def test_migration_0002_keeps_a_store_in_use_and_goes_back(db: Database):
    from sqlalchemy import text

    db.downgrade("0001")
    assert "definitions_version" not in {c["name"] for c in inspect(db.engine).get_columns("meta", schema=db.schema)}
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO meta (id, reference_date, version) VALUES (1, '2026-11-23', 7)"))
    db.migrate()
    assert db.versions().definitions == 7 and db.versions().data == 7
    for table in ("units", "children"):
        assert "changed_version" in {c["name"] for c in inspect(db.engine).get_columns(table, schema=db.schema)}
    db.save_system(_two_units_system(2))
    _confirm(db, _hold(db, "U-1", "C-1"))
    with pytest.raises(Exception):  # the CHECK constraints survive the round trip
        with db.write() as session:
            session.execute(text("UPDATE units SET occupied = capacity + 1 WHERE id = 'U-2'"))


def test_children_without_home_with_school_and_visit_site_round_trip(db: Database):
    from tests.test_io_anchors import anchored_system

    original = anchored_system()
    db.save_system(original)
    assert db.load_system() == original


def test_migration_0004_goes_back_only_when_every_child_has_a_home(db: Database):
    from tests.test_io_anchors import anchored_system

    db.save_system(anchored_system())
    with pytest.raises(Exception, match="no family home"):
        db.downgrade("0003")
    db.save_system(rich_system())
    _confirm(db, _hold(db, "U-2", "C-1"))  # a store in use: placements refer to the children
    placed = db.load_system()
    db.downgrade("0003")
    assert "school_id" not in {c["name"] for c in inspect(db.engine).get_columns("children", schema=db.schema)}
    db.migrate()
    assert db.load_system() == placed
def test_a_child_whose_hold_expired_can_be_held_in_another_unit(db: Database):
    """Regression (issue 11): the one-hold-per-child check ignored expiry, so a child whose hold
    on U-1 had expired got a 409 when held on U-2 (expiry is released per unit, on access)."""
    from datetime import datetime, timedelta

    from data.db import repository
    from data.db.errors import ConflictError

    db.save_system(_two_units_system(2))
    at_nine = datetime(2026, 11, 23, 9)
    with db.write() as session:
        first = repository.hold(session, unit_id="U-1", child_ids=["C-1"], sibling_group_id=None,
                                ttl=timedelta(hours=1), now=at_nine).id
    with db.write() as session, pytest.raises(ConflictError, match=f"C-1 already holds a place in unit U-1 \\(reservation {first}\\)"):
        repository.hold(session, unit_id="U-2", child_ids=["C-1"], sibling_group_id=None,
                        ttl=timedelta(hours=1), now=at_nine + timedelta(minutes=59))
    with db.write() as session:
        second = repository.hold(session, unit_id="U-2", child_ids=["C-1"], sibling_group_id=None,
                                 ttl=timedelta(hours=1), now=at_nine + timedelta(hours=2)).id
    with db.read() as session:
        assert repository.get_reservation(session, second).status == "held"
        assert repository.live_holds(session, at_nine + timedelta(hours=2)) == {"U-2": 1}


def test_concurrent_holds_of_one_child_on_two_units_give_one_hold(db: Database):
    """One live hold per child under a race: two officers hold the same child on two units at
    the same moment, twenty times; each time exactly one hold is taken (threads, both databases)."""
    import threading
    from datetime import datetime, timedelta

    from data.db import repository
    from data.db.errors import ConflictError

    db.save_system(_two_units_system(2))
    now = datetime(2026, 11, 23, 9)
    for round_ in range(20):
        start = threading.Barrier(2)
        outcomes: dict[str, str] = {}

        def attempt(unit_id: str) -> None:
            start.wait()
            try:
                with db.write() as session:
                    repository.hold(session, unit_id=unit_id, child_ids=["C-1"], sibling_group_id=None,
                                    ttl=timedelta(hours=1), now=now)
                outcomes[unit_id] = "held"
            except ConflictError as err:
                outcomes[unit_id] = str(err)

        threads = [threading.Thread(target=attempt, args=(u,)) for u in ("U-1", "U-2")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert sorted(outcomes.values()).count("held") == 1, (round_, outcomes)
        assert any("C-1 already holds a place" in o for o in outcomes.values()), outcomes
        with db.write() as session:
            held = session.scalars(select(repository.ReservationRow).where(repository.ReservationRow.status == "held")).all()
            assert len(held) == 1
            repository.cancel(session, held[0].id, now)
            assert repository.double_bookings(session) == []


def test_a_database_that_does_not_answer_is_unavailable_within_the_connect_timeout(monkeypatch):
    """A PostgreSQL address whose listener never answers (the handshake completes, the server
    says nothing) fails within ``CONNECT_TIMEOUT_S`` with the store named, instead of holding the
    caller for ever."""
    import socket
    import threading
    import time

    from data.db.errors import StoreUnavailableError
    from data.db import database as database_module

    monkeypatch.setattr(database_module, "CONNECT_TIMEOUT_S", 1)
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # never accepted: the kernel completes the handshake, nobody answers
    port = silent.getsockname()[1]
    outcome: list[BaseException | None] = []

    def connect() -> None:
        store = Database(f"postgresql+psycopg://postgres@127.0.0.1:{port}/test")
        try:
            store.migrate()
            outcome.append(None)
        except BaseException as err:  # noqa: BLE001 - the test looks at what it was
            outcome.append(err)
        finally:
            store.dispose()

    started = time.monotonic()
    worker = threading.Thread(target=connect, daemon=True)
    worker.start()
    worker.join(15)
    silent.close()
    assert outcome, "the connection attempt was still waiting after 15 s"
    assert isinstance(outcome[0], StoreUnavailableError) and f"127.0.0.1:{port}" in str(outcome[0]), outcome
    assert time.monotonic() - started < 10


def test_migration_0008_keeps_the_jobs_written_before_it_said_in_english(db: Database):
    from sqlalchemy import text

    from data.db import repository as repo

    db.downgrade("0007")
    assert "message_fr" not in {c["name"] for c in inspect(db.engine).get_columns("batch_jobs", schema=db.schema)}
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO batch_jobs (id, method, status, progress, message, created_at, error) "
                          "VALUES ('J-old', 'greedy', 'failed', 1.0, 'failed', '2026-12-01 09:00:00', 'RuntimeError: x')"))
    db.migrate()
    with db.read() as session:
        assert repo.get_job(session, "J-old").said("fr") == ("failed", "RuntimeError: x")
