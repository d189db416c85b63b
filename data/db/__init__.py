"""The placement store (SQLAlchemy 2 + Alembic): SQLite by default, PostgreSQL by URL."""

from data.db.database import DEFAULT_URL, Database
from data.db.errors import ConflictError, EmptyStoreError, NotFoundError, StoreError

__all__ = ["DEFAULT_URL", "ConflictError", "Database", "EmptyStoreError", "NotFoundError", "StoreError"]
