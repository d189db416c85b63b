"""The audit trail (``audit_log``): append-only, each row chained to the previous by a hash.

``record`` appends in the caller's transaction (a change and its audit row commit together).
Writers are serialised so that the chain has no fork: PostgreSQL takes a transaction-level
advisory lock, SQLite's write transactions already hold the database's write lock
(``BEGIN IMMEDIATE``); ``prev_hash`` is unique besides. ``verify`` walks the chain and names the
first row that does not fit: a changed field, a deleted or an inserted row.
"""

from __future__ import annotations

import hashlib
import json
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


def record(session: Session, entries: list[Entry], at: datetime) -> None:
    """Append ``entries`` at ``at`` (naive UTC) in the caller's transaction."""
    if not entries:
        return
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
    prev = session.scalar(select(AuditRow.hash).order_by(AuditRow.id.desc()).limit(1)) or GENESIS
    at = at.replace(tzinfo=None)
    for e in entries:
        h = row_hash(prev, at, e)
        session.add(AuditRow(at=at, actor=e.actor[:64], role=e.role, action=e.action, subject_type=e.subject_type,
                             subject_id=e.subject_id[:64], remote=e.remote[:64], prev_hash=prev, hash=h))
        prev = h
    session.flush()


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
