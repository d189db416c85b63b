"""Database fixtures: every storage and API test runs on SQLite and on PostgreSQL.

PostgreSQL is the server named by TEST_POSTGRES_URL (default
``postgresql+psycopg://postgres@127.0.0.1:5432/test``). Where it cannot be reached the
PostgreSQL cases are skipped with the reason, except when the CI variable is set: then they
fail, loudly. Each test gets its own SQLite file or its own PostgreSQL schema, dropped after.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from data.db import Database

# Hypothesis profiles: "ci" (the default, and what CI runs) is derandomised, so a run gives the
# same examples every time and a red build is never luck; "long" draws fresh random examples
# with no example database shortcut, run by hand: HYPOTHESIS_PROFILE=long .venv/bin/python -m pytest
# (tests that set their own max_examples keep it; the others get 500).
settings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True)
settings.register_profile("long", derandomize=False, max_examples=500, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")

_postgres_problem: list[str | None] = []


def _postgres_unreachable() -> str | None:
    """None when the test PostgreSQL answers, else why not (checked once per run)."""
    if not _postgres_problem:
        import sqlalchemy as sa

        engine = sa.create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        try:
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
            _postgres_problem.append(None)
        except Exception as err:  # any driver error means: not reachable
            _postgres_problem.append(f"PostgreSQL at {POSTGRES_URL} is not reachable: {type(err).__name__}: {err}".strip())
        finally:
            engine.dispose()
    return _postgres_problem[0]


def open_test_database(backend: str, tmp_path) -> Database:
    """A fresh, migrated, empty store on ``backend`` ("sqlite" or "postgresql")."""
    if backend == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'placement.sqlite3'}")
    else:
        problem = _postgres_unreachable()
        if problem is not None:
            if os.environ.get("CI"):
                pytest.fail(f"{problem} (CI is set, so PostgreSQL must be there)")
            pytest.skip(problem)
        db = Database(POSTGRES_URL, schema=f"t_{uuid.uuid4().hex[:12]}", pool_size=25, max_overflow=25)
    db.migrate()
    return db


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db(request, tmp_path) -> Iterator[Database]:
    """A migrated, empty store on each database."""
    database = open_test_database(request.param, tmp_path)
    try:
        yield database
    finally:
        if not database.is_sqlite:
            database.drop_schema()
        database.dispose()
