"""Accounts of the officers' service in the store: users, failed sign-ins and lockout, refresh
tokens. Passwords arrive here already hashed (``api.security`` hashes them); refresh tokens are
kept as their SHA-256 digest. Each function runs in the caller's transaction."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from data.db.errors import ConflictError, NotFoundError
from data.db.models import Meta, RefreshTokenRow, UserRow

ROLES: tuple[str, ...] = ("officer", "protection_officer", "planner", "structure_manager", "administrator")
"""Every role an account may have (docs/SECURITY.md)."""
SERVICE_ROLES = frozenset({"officer", "protection_officer"})
"""Roles that belong to a service and act for its children."""


@dataclass(frozen=True, slots=True)
class Account:
    """An account as the service reads it (never the password hash)."""

    id: int
    name: str
    role: str
    service: str | None
    structure_ids: tuple[str, ...]
    active: bool
    locked_until: datetime | None
    token_version: int


def _account(row: Any) -> Account:
    """From a ``UserRow`` or a row of its columns (same attribute names)."""
    return Account(row.id, row.name, row.role, row.service, tuple(row.structure_ids or ()), row.active,
                   row.locked_until, row.token_version)


def check_profile(role: str, service: str | None, structure_ids: list[str] | tuple[str, ...]) -> None:
    """A role's required attachments: an officer a service, a structure manager structures."""
    if role not in ROLES:
        raise ConflictError(f"unknown role {role!r}: one of {', '.join(ROLES)}",
                            fr=f"rôle {role!r} inconnu : l'un de {', '.join(ROLES)}")
    if role in SERVICE_ROLES and not service:
        raise ConflictError(f"a {role} belongs to a service: give one", fr=f"un compte {role} appartient à un service : "
                            "donnez-le")
    if role not in SERVICE_ROLES and service:
        raise ConflictError(f"a {role} belongs to no service", fr=f"un compte {role} n'appartient à aucun service")
    if role == "structure_manager" and not structure_ids:
        raise ConflictError("a structure_manager runs at least one structure: give them",
                            fr="un compte structure_manager dirige au moins une structure : donnez-les")
    if role != "structure_manager" and structure_ids:
        raise ConflictError(f"a {role} runs no structure", fr=f"un compte {role} ne dirige aucune structure")


def add_user(session: Session, *, name: str, role: str, password_hash: str, service: str | None = None,
             structure_ids: list[str] | tuple[str, ...] = (), now: datetime) -> Account:
    check_profile(role, service, structure_ids)
    if session.scalar(select(UserRow.id).where(UserRow.name == name)) is not None:
        raise ConflictError(f"user {name!r} already exists", fr=f"le compte {name!r} existe déjà")
    row = UserRow(name=name, role=role, service=service, structure_ids=sorted(structure_ids),
                  password_hash=password_hash, active=True, failed_logins=0, token_version=0, created_at=now)
    session.add(row)
    session.flush()
    return _account(row)


def _row(session: Session, name: str) -> UserRow:
    row = session.scalars(select(UserRow).where(UserRow.name == name).with_for_update()).one_or_none()
    if row is None:
        raise NotFoundError(f"user {name!r} does not exist", fr=f"le compte {name!r} n'existe pas")
    return row


_ACCOUNT_COLUMNS = (UserRow.id, UserRow.name, UserRow.role, UserRow.service, UserRow.structure_ids,
                    UserRow.active, UserRow.locked_until, UserRow.token_version)


def get_account(session: Session, user_id: int) -> Account | None:
    """The account as stored now (read on each request: a plain row, no ORM object)."""
    row = session.execute(select(*_ACCOUNT_COLUMNS).where(UserRow.id == user_id)).first()
    return None if row is None else _account(row)


_ACCOUNT_AND_VERSION = (select(*_ACCOUNT_COLUMNS, select(Meta.version).where(Meta.id == 1).scalar_subquery())
                        .where(UserRow.id == bindparam("user_id")))
"""Built once: building the statement on each request cost as much CPU as running it."""


def account_and_version(session: Session, user_id: int) -> tuple[Account | None, int | None]:
    """The account as stored now and the store's data version, in one statement: what every
    signed-in request reads first (None, None for an unknown id). Run on the session's
    connection, without the ORM's layer (a plain row: a third of the CPU of two ORM queries)."""
    row = session.connection().execute(_ACCOUNT_AND_VERSION, {"user_id": user_id}).first()
    if row is None:
        return None, None
    return _account(row), int(row[-1] or 0)


def list_accounts(session: Session) -> list[Account]:
    return [_account(r) for r in session.scalars(select(UserRow).order_by(UserRow.name))]


def credentials(session: Session, name: str, lock: bool = False) -> tuple[Account, str] | None:
    """The account and its password hash (None if unknown); ``lock``: the row locked for the
    sign-in's update (in a write transaction)."""
    query = select(UserRow).where(UserRow.name == name)
    row = session.scalars(query.with_for_update() if lock else query).one_or_none()
    return None if row is None else (_account(row), row.password_hash)


def signed_in(session: Session, user_id: int, new_hash: str | None = None) -> None:
    """A successful sign-in: the failures are forgotten (and the hash renewed when asked)."""
    values: dict = {"failed_logins": 0, "locked_until": None}
    if new_hash is not None:
        values["password_hash"] = new_hash
    session.execute(update(UserRow).where(UserRow.id == user_id).values(**values))


def failed_sign_in(session: Session, user_id: int, now: datetime, limit: int, lock_for: timedelta) -> bool:
    """Count a failed sign-in; after ``limit`` in a row the account is locked for ``lock_for``.
    Returns True when it is now locked."""
    row = session.get(UserRow, user_id, populate_existing=True)
    if row is None:
        raise NotFoundError(f"user id {user_id} does not exist", fr=f"le compte n° {user_id} n'existe pas")
    row.failed_logins += 1
    if row.failed_logins >= limit:
        row.locked_until = now + lock_for
        row.failed_logins = 0
        return True
    return False


def disable(session: Session, name: str, now: datetime) -> Account:
    row = _row(session, name)
    row.active = False
    row.token_version += 1
    session.execute(update(RefreshTokenRow).where(RefreshTokenRow.user_id == row.id, RefreshTokenRow.used_at.is_(None))
                    .values(used_at=now))
    session.flush()
    return _account(row)


def set_password(session: Session, name: str, password_hash: str, now: datetime) -> Account:
    """A new password (reset by an administrator): the account is unlocked and enabled, every
    token given before stops working."""
    row = _row(session, name)
    row.password_hash = password_hash
    row.failed_logins = 0
    row.locked_until = None
    row.active = True
    row.token_version += 1
    session.execute(update(RefreshTokenRow).where(RefreshTokenRow.user_id == row.id, RefreshTokenRow.used_at.is_(None))
                    .values(used_at=now))
    session.flush()
    return _account(row)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def store_refresh_token(session: Session, user_id: int, token: str, expires_at: datetime) -> None:
    session.add(RefreshTokenRow(digest=digest(token), user_id=user_id, expires_at=expires_at))
    session.flush()


def use_refresh_token(session: Session, token: str, now: datetime) -> int | None:
    """The user of a live refresh token, which is used up (one use each); None otherwise."""
    used = session.execute(
        update(RefreshTokenRow)
        .where(RefreshTokenRow.digest == digest(token), RefreshTokenRow.used_at.is_(None),
               RefreshTokenRow.expires_at > now)
        .values(used_at=now).returning(RefreshTokenRow.user_id)
    ).first()
    return None if used is None else int(used[0])
