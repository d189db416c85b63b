"""Holds in the store (data/db/repository.py), one rule at a time, on SQLite and PostgreSQL:
expiry at its exact boundary, release of an expired hold's places, one live hold per child, the
words of each conflict, and what confirm and cancel write. Written to kill the mutants that
survived the storage tests (tests/mutation_survivors.md)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

from data.db import Database
from data.db import repository as repo
from data.db.errors import ConflictError, NotFoundError
from data.db.models import ChildRow, PlacementRow, ReservationRow, UnitRow
from matcher import CurrentPlacement, SiblingGroup, StructureType
from matcher.model import Home
from tests.factories import PARIS_15, PARIS_18, child, structure, system, unit

NINE = datetime(2026, 11, 23, 9)
HOUR = timedelta(hours=1)


@pytest.fixture
def store(db: Database) -> Database:
    """U-1: 5 places, 1 occupied by C-placed; U-2: 4 free places; C-1..C-4 waiting (C-1 and C-2
    the fratrie F-7)."""
    home = Home("H-1", PARIS_18)
    kids = [child(f"C-{i}", 8, home=home, sibling_group_id="F-7" if i <= 2 else None) for i in range(1, 5)]
    kids.append(child("C-placed", 9, home=home, current=CurrentPlacement("U-1", date(2025, 1, 6))))
    db.save_system(system(kids, [structure("S-1", StructureType.MECS, PARIS_15)],
                          [unit("U-1", "S-1", capacity=5, occupied=1), unit("U-2", "S-1", capacity=4)],
                          [SiblingGroup("F-7", ("C-1", "C-2"))]))
    return db


def hold(db: Database, unit_id: str, *child_ids: str, at: datetime = NINE, group: str | None = None) -> str:
    with db.write() as session:
        return repo.hold(session, unit_id=unit_id, child_ids=list(child_ids), sibling_group_id=group, ttl=HOUR, now=at).id


def reservation(db: Database, rid: str) -> ReservationRow:
    with db.read() as session:
        row = session.get(ReservationRow, rid)
        session.expunge(row)
        return row


def held(db: Database) -> dict[str, int]:
    with db.read() as session:
        return {u.id: u.held for u in session.scalars(select(UnitRow).order_by(UnitRow.id))}


def test_expire_holds_releases_exactly_the_holds_past_expiry(store: Database):
    a = hold(store, "U-1", "C-1", "C-2")
    b = hold(store, "U-2", "C-3", at=NINE + timedelta(minutes=30))
    with store.write() as session:
        assert repo.expire_holds(session, NINE + HOUR - timedelta(seconds=1)) == 0
    assert held(store) == {"U-1": 2, "U-2": 1}
    with store.write() as session:
        assert repo.expire_holds(session, NINE + HOUR) == 1  # expires_at == now: expired
    row = reservation(store, a)
    assert (row.status, row.closed_at.replace(tzinfo=None)) == ("expired", NINE + HOUR)
    assert reservation(store, b).status == "held"
    assert held(store) == {"U-1": 0, "U-2": 1}  # two places back in U-1, U-2 untouched
    with store.write() as session:
        assert repo.expire_holds(session, NINE + 3 * HOUR) == 1
        assert repo.expire_holds(session, NINE + 3 * HOUR) == 0  # never twice
    assert held(store) == {"U-1": 0, "U-2": 0}


def test_expire_holds_counts_each_hold_released(store: Database):
    hold(store, "U-1", "C-1")
    hold(store, "U-1", "C-2")
    hold(store, "U-2", "C-3")
    with store.write() as session:
        assert repo.expire_holds(session, NINE + 2 * HOUR) == 3
        assert repo.double_bookings(session) == []


def test_expire_holds_on_one_unit_leaves_the_others(store: Database):
    a = hold(store, "U-1", "C-1")
    b = hold(store, "U-2", "C-2")
    with store.write() as session:
        assert repo.expire_holds(session, NINE + 2 * HOUR, "U-2") == 1
    assert (reservation(store, a).status, reservation(store, b).status) == ("held", "expired")
    assert held(store) == {"U-1": 1, "U-2": 0}


def test_expire_holds_leaves_confirmed_and_cancelled_ones(store: Database):
    a = hold(store, "U-1", "C-1")
    b = hold(store, "U-2", "C-2")
    with store.write() as session:
        repo.confirm(session, a, NINE, date(2026, 11, 23))
        repo.cancel(session, b, NINE)
    with store.write() as session:
        assert repo.expire_holds(session, NINE + 2 * HOUR) == 0
    assert (reservation(store, a).status, reservation(store, b).status) == ("confirmed", "cancelled")
    assert held(store) == {"U-1": 0, "U-2": 0}


def test_live_holds_count_neither_expired_nor_closed_holds(store: Database):
    hold(store, "U-1", "C-1", "C-2")
    b = hold(store, "U-2", "C-3")
    with store.write() as session:
        repo.cancel(session, b, NINE)
    with store.read() as session:
        assert repo.live_holds(session, NINE + HOUR - timedelta(seconds=1)) == {"U-1": 2}
        assert repo.live_holds(session, NINE + HOUR) == {}  # expired at its exact expiry, even before release


def test_a_child_can_be_held_again_at_the_exact_expiry_of_its_hold(store: Database):
    first = hold(store, "U-1", "C-1")
    with pytest.raises(ConflictError) as caught:
        hold(store, "U-2", "C-1", at=NINE + HOUR - timedelta(seconds=1))
    assert str(caught.value) == f"C-1 already holds a place in unit U-1 (reservation {first}): cancel it first"
    hold(store, "U-2", "C-1", at=NINE + HOUR)


def test_conflicts_name_every_child_and_every_hold(store: Database):
    a = hold(store, "U-1", "C-1")
    b = hold(store, "U-2", "C-2")
    with pytest.raises(ConflictError) as caught:
        hold(store, "U-2", "C-1", "C-2", "C-3")
    text = str(caught.value)
    assert text.endswith(": cancel it first")
    assert set(text.removesuffix(": cancel it first").split("; ")) == {
        f"C-1 already holds a place in unit U-1 (reservation {a})", f"C-2 already holds a place in unit U-2 (reservation {b})"}


def test_a_hold_names_unknown_children_and_needs_one(store: Database):
    with pytest.raises(NotFoundError) as caught:
        hold(store, "U-1", "C-1", "C-8", "C-9")
    assert str(caught.value) == "child(ren) C-8, C-9 do not exist"
    with pytest.raises(ConflictError) as caught:
        hold(store, "U-1")
    assert str(caught.value) == "a reservation needs at least one child in each unit"
    with pytest.raises(NotFoundError):
        hold(store, "U-404", "C-1")
    assert held(store) == {"U-1": 0, "U-2": 0}


def test_a_full_unit_says_how_full(store: Database):
    hold(store, "U-2", "C-1", "C-2", "C-3", "C-4")
    with pytest.raises(ConflictError) as caught:
        hold(store, "U-2", "C-placed")
    assert str(caught.value) == "unit U-2 has 0 free place(s) for 1 child(ren): 0 occupied and 4 held of 4"


def test_a_hold_records_what_it_holds(store: Database):
    rid = hold(store, "U-1", "C-1", "C-2", group="F-7")
    row = reservation(store, rid)
    assert rid.startswith("R-") and len(rid) == 18
    assert (row.unit_id, row.sibling_group_id, list(row.child_ids), row.places, row.status) == ("U-1", "F-7", ["C-1", "C-2"], 2, "held")
    assert (row.created_at.replace(tzinfo=None), row.expires_at.replace(tzinfo=None)) == (NINE, NINE + HOUR)


def test_confirm_writes_the_placement_and_frees_the_place_left(store: Database):
    rid = hold(store, "U-2", "C-placed", "C-1")
    with store.write() as session:
        repo.confirm(session, rid, NINE + timedelta(minutes=5), date(2026, 11, 23))
    row = reservation(store, rid)
    assert (row.status, row.closed_at.replace(tzinfo=None)) == ("confirmed", NINE + timedelta(minutes=5))
    with store.read() as session:
        units = {u.id: (u.occupied, u.held) for u in session.scalars(select(UnitRow))}
        assert units == {"U-1": (0, 0), "U-2": (2, 0)}  # C-placed left U-1, whose only place was taken
        placements = session.scalars(select(PlacementRow).order_by(PlacementRow.child_id)).all()
        assert [(p.child_id, p.unit_id, p.reservation_id, p.since) for p in placements] == [
            ("C-1", "U-2", rid, date(2026, 11, 23)), ("C-placed", "U-2", rid, date(2026, 11, 23))]
        assert session.get(ChildRow, "C-placed").current_unit_id == "U-2"
        assert repo.double_bookings(session) == []


@pytest.mark.parametrize("act", ["confirm", "cancel"])
def test_a_hold_at_its_exact_expiry_can_no_longer_be_confirmed_or_cancelled(store: Database, act):
    rid = hold(store, "U-1", "C-1")
    with store.write() as session, pytest.raises(ConflictError) as caught:
        if act == "confirm":
            repo.confirm(session, rid, NINE + HOUR, date(2026, 11, 23))
        else:
            repo.cancel(session, rid, NINE + HOUR)
    assert str(caught.value) == f"reservation {rid} is already expired"
    with store.write() as session:  # the refusal released it, in the caller's transaction
        assert repo.expire_holds(session, NINE + HOUR) == 0
    assert held(store) == {"U-1": 0, "U-2": 0}


@pytest.mark.parametrize("act", ["confirm", "cancel"])
def test_a_closed_hold_says_so(store: Database, act):
    rid = hold(store, "U-1", "C-1")
    with store.write() as session:
        repo.cancel(session, rid, NINE)
    with store.write() as session, pytest.raises(ConflictError) as caught:
        if act == "confirm":
            repo.confirm(session, rid, NINE + 2 * HOUR, date(2026, 11, 23))
        else:
            repo.cancel(session, rid, NINE + 2 * HOUR)
    assert str(caught.value) == f"reservation {rid} is already cancelled"
    assert reservation(store, rid).status == "cancelled"


def test_cancel_gives_the_places_back_and_records_when(store: Database):
    rid = hold(store, "U-1", "C-1", "C-2")
    with store.write() as session:
        repo.cancel(session, rid, NINE + timedelta(minutes=10))
    row = reservation(store, rid)
    assert (row.status, row.closed_at.replace(tzinfo=None)) == ("cancelled", NINE + timedelta(minutes=10))
    assert held(store) == {"U-1": 0, "U-2": 0}


def test_refresh_expiry_releases_on_access(store: Database):
    rid = hold(store, "U-1", "C-1")
    with store.write() as session:
        row = repo.refresh_expiry(session, session.get(ReservationRow, rid), NINE + HOUR - timedelta(seconds=1))
        assert row.status == "held"
        row = repo.refresh_expiry(session, row, NINE + HOUR)
        assert (row.status, row.closed_at.replace(tzinfo=None)) == ("expired", NINE + HOUR)
    assert held(store) == {"U-1": 0, "U-2": 0}


def test_a_hold_released_by_another_transaction_meanwhile_is_not_released_twice(store: Database, monkeypatch):
    """Kills the mutant that dropped the status re-check from expire_holds' update: between its
    select and its update, another transaction (the sweep, say) releases the same expired hold;
    the places must be given back once. PostgreSQL only: SQLite queues every writer, so the race
    cannot happen there."""
    if store.is_sqlite:
        pytest.skip("SQLite serialises writers (BEGIN IMMEDIATE): no interleaving to test")
    rid = hold(store, "U-1", "C-1", "C-2")
    later = NINE + 2 * HOUR
    with store.write() as session:
        real = session.execute
        calls = {"n": 0}

        def interleaved(statement, *args, **kwargs):
            result = real(statement, *args, **kwargs)
            calls["n"] += 1
            if calls["n"] == 1:  # after the select of expired holds: another transaction releases it
                rows = result.all()
                with store.write() as other:
                    assert repo.expire_holds(other, later) == 1
                return _Rows(rows)
            return result

        monkeypatch.setattr(session, "execute", interleaved)
        assert repo.expire_holds(session, later) == 0  # already released by the other transaction
    assert held(store) == {"U-1": 0, "U-2": 0}
    assert reservation(store, rid).status == "expired"


class _Rows:
    """The rows of a result already read (what ``session.execute(...).all()`` gives back)."""

    def __init__(self, rows):
        self.rows = rows

    def all(self):
        return self.rows
