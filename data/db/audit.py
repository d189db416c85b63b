"""The audit trail (``audit_log``): append-only, each row chained to the previous by a hash.

``record`` appends in the caller's transaction (a change and its audit row commit together).
``GroupCommit`` appends the rows of reads by group commit: every read waiting at a moment is
written in one transaction, and each waits for that commit before it answers.
Writers are serialised so that the chain has no fork: PostgreSQL takes a transaction-level
advisory lock, SQLite's write transactions already hold the database's write lock
(``BEGIN IMMEDIATE``); ``prev_hash`` is unique besides. ``verify`` walks the chain and names the
first row that does not fit: a changed field, a deleted or an inserted row.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from data.db.models import AuditRow

GENESIS = "0" * 64
"""``prev_hash`` of the first row."""
_LOCK_KEY = 0x41554449  # "AUDI": the advisory lock that serialises the writers on PostgreSQL


@dataclass(frozen=True, slots=True)
class Entry:
    """One audit event before it is written."""

    actor: str
    role: str
    action: str
    """read, hold, confirm, cancel, update, expire, sign-in, sign-in-failed..."""
    subject_type: str
    """child, reservation, unit, user."""
    subject_id: str
    remote: str
    """Where the request came from (client address), or ``cli`` / ``server``."""


def row_hash(prev_hash: str, at: datetime, e: Entry) -> str:
    fields = [prev_hash, at.isoformat(timespec="microseconds"), e.actor, e.role, e.action, e.subject_type,
              e.subject_id, e.remote]
    return hashlib.sha256(json.dumps(fields, separators=(",", ":")).encode()).hexdigest()


_LOCK = text("SELECT pg_advisory_xact_lock(:k)")
_HEAD = select(AuditRow.hash).order_by(AuditRow.id.desc()).limit(1)
_INSERT = AuditRow.__table__.insert()
"""Built once and run on the connection: the ORM's bulk insert cost 1 ms of CPU more a batch."""


def record(session: Session, entries: list[Entry], at: datetime) -> None:
    """Append ``entries`` at ``at`` (naive UTC) in the caller's transaction."""
    if not entries:
        return
    session.flush()  # the caller's pending changes first, as before
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(_LOCK, {"k": _LOCK_KEY})
    prev = connection.execute(_HEAD).scalar() or GENESIS
    at = at.replace(tzinfo=None)
    rows = []
    for e in entries:
        h = row_hash(prev, at, e)
        rows.append({"at": at, "actor": e.actor[:64], "role": e.role, "action": e.action,
                     "subject_type": e.subject_type, "subject_id": e.subject_id[:64], "remote": e.remote[:64],
                     "prev_hash": prev, "hash": h})
        prev = h
    connection.execute(_INSERT, rows)  # in order: ids follow the chain


class GroupCommit:
    """Appends the audit rows of reads, many requests to one transaction (group commit).

    A read's rows are queued and the request waits until they are committed, so that no answer
    leaves before its audit row is in the store (as with :func:`record` in the request's own
    transaction). One writer thread takes everything queued while the previous transaction
    committed and writes it in the next: under load each transaction carries the rows of every
    request that arrived meanwhile, and the serialised part of the trail (the lock, the chain's
    head, the commit) is paid once per batch instead of once per read. A failed transaction
    fails every request of its batch with the same error (a database down answers 503).

    ``write``: opens a write transaction (``Database.write``); ``now``: the time stamped on a
    batch (naive UTC)."""

    def __init__(self, write: Callable[[], AbstractContextManager[Session]], now: Callable[[], datetime]):
        self._write = write
        self._now = now
        self._queue: list[tuple[list[Entry], Future[None]]] = []
        self._ready = threading.Condition()
        self._closed = False
        self._thread: threading.Thread | None = None
        self.batches = 0
        """Transactions written (the batch sizes are ``rows / batches`` on average)."""
        self.rows = 0

    def append(self, entries: list[Entry], timeout: float | None = 60.0) -> None:
        """Queue ``entries`` and return once they are committed (or raise the transaction's error)."""
        if not entries:
            return
        done: Future[None] = Future()
        with self._ready:
            if self._closed:
                raise RuntimeError("the audit writer is closed")
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="audit-group-commit", daemon=True)
                self._thread.start()
            self._queue.append((entries, done))
            self._ready.notify()
        done.result(timeout)

    def close(self) -> None:
        """Write what is queued, then stop the writer."""
        with self._ready:
            self._closed = True
            self._ready.notify()
            thread = self._thread
        if thread is not None:
            thread.join(timeout=30)

    def _batches(self) -> Iterator[list[tuple[list[Entry], Future[None]]]]:
        while True:
            with self._ready:
                while not self._queue and not self._closed:
                    self._ready.wait()
                if not self._queue:
                    return
                batch, self._queue = self._queue, []
            yield batch

    def _run(self) -> None:
        for batch in self._batches():
            try:
                with self._write() as session:
                    record(session, [e for entries, _ in batch for e in entries], self._now())
            except BaseException as exc:  # every request of the batch gets the error
                for _, done in batch:
                    done.set_exception(exc)
                continue
            self.batches += 1
            self.rows += sum(len(entries) for entries, _ in batch)
            for _, done in batch:
                done.set_result(None)


def query(session: Session, *, child: str | None = None, user: str | None = None,
          since: datetime | None = None, limit: int | None = None) -> list[AuditRow]:
    q = select(AuditRow).order_by(AuditRow.id)
    if child is not None:
        q = q.where(AuditRow.subject_type == "child", AuditRow.subject_id == child)
    if user is not None:
        q = q.where(AuditRow.actor == user)
    if since is not None:
        q = q.where(AuditRow.at >= since)
    if limit is not None:
        q = q.limit(limit)
    return list(session.scalars(q))


@dataclass(frozen=True, slots=True)
class Verdict:
    rows: int
    head: str
    """Hash of the last row: write it down elsewhere to detect a rewrite of the whole chain."""
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(session: Session) -> Verdict:
    prev, problems, n = GENESIS, [], 0
    for r in session.scalars(select(AuditRow).order_by(AuditRow.id)).yield_per(5000):
        n += 1
        if r.prev_hash != prev:
            problems.append(f"row {r.id}: its previous hash does not match row before it (a row deleted or inserted)")
        entry = Entry(r.actor, r.role, r.action, r.subject_type, r.subject_id, r.remote)
        if row_hash(r.prev_hash, r.at, entry) != r.hash:
            problems.append(f"row {r.id}: its content does not match its hash (changed after it was written)")
        prev = r.hash
    return Verdict(n, prev, tuple(problems))
