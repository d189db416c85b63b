"""Accounts for the browser tests, made in the store as `placement users add` makes them."""

from __future__ import annotations

from api.security import Security
from api.settings import Settings
from data.db import Database, accounts
from data.db.repository import utcnow
from tests.api_support import CHEAP_ARGON2


def create_accounts(database_url: str, data_dir: str, wanted: dict, password: str) -> None:
    """One account per name of ``wanted`` ({name: (role, service, structure ids)}), all with
    ``password``; the signing key is made in ``data_dir`` as the server will find it."""
    security = Security(Settings(database_url=database_url, data_dir=data_dir, **CHEAP_ARGON2))
    db = Database(database_url)
    try:
        with db.write() as session:
            for name, (role, service, structures) in wanted.items():
                accounts.add_user(session, name=name, role=role, service=service, structure_ids=list(structures),
                                  password_hash=security.hash_password(password), now=utcnow())
    finally:
        db.dispose()
