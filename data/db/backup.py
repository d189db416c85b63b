"""Backup and restore of the placement store, whole and consistent.

- SQLite: the online backup API (``sqlite3.Connection.backup``): a consistent copy while the
  server runs. Restore checks the file first (an SQLite database that passes ``integrity_check``
  and holds the store's tables) and copies it back page by page in one step; stop the server
  before restoring.
- PostgreSQL: ``pg_dump --format=custom`` (of the store's schema when it has one) and
  ``pg_restore --clean --if-exists --single-transaction``: a restore that fails changes nothing.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy import MetaData, select

from data.db.database import Database
from data.db.errors import StoreError


class BackupError(StoreError):
    """A backup or a restore that could not be made (nothing was changed)."""


def _libpq(db: Database) -> tuple[str, dict[str, str]]:
    """A libpq URL without the password, and the environment carrying it (PGPASSWORD)."""
    url = db.url.set(drivername="postgresql")
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return url.set(password=None).render_as_string(hide_password=False), env


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} is not installed (the PostgreSQL client tools are needed)")
    return found


def backup(db: Database, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if db.is_sqlite:
        partial = path.with_name(path.name + ".partial")
        src = sqlite3.connect(db.url.database)
        dst = sqlite3.connect(partial)
        try:
            with dst:
                src.backup(dst)
        finally:
            dst.close()
            src.close()
        partial.replace(path)  # never a half-written backup under the final name
        return path
    url, env = _libpq(db)
    args = [_tool("pg_dump"), "--format=custom", "--no-owner", f"--file={path}", url]
    if db.schema:
        args.insert(-1, f"--schema={db.schema}")
    done = subprocess.run(args, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise BackupError(f"pg_dump failed: {done.stderr.strip()[:500]}")
    return path


def _check_sqlite_backup(path: Path) -> None:
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            if con.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                raise BackupError(f"{path} is damaged (integrity check failed)")
            tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        finally:
            con.close()
    except sqlite3.DatabaseError as err:
        raise BackupError(f"{path} is not an SQLite backup of the store: {err}") from None
    if not {"alembic_version", "meta", "children", "audit_log"} <= tables:
        raise BackupError(f"{path} is not a backup of the placement store (its tables are missing)")


def restore(db: Database, path: Path) -> None:
    """Replace what the store holds by the backup at ``path`` (nothing changes if it fails)."""
    path = Path(path)
    if not path.is_file():
        raise BackupError(f"{path} does not exist")
    if db.is_sqlite:
        _check_sqlite_backup(path)
        db.dispose()
        src = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        dst = sqlite3.connect(db.url.database)
        try:
            src.backup(dst)
        finally:
            dst.close()
            src.close()
        return
    url, env = _libpq(db)
    done = subprocess.run([_tool("pg_restore"), "--clean", "--if-exists", "--single-transaction", "--no-owner",
                           f"--dbname={url}", str(path)], env=env, capture_output=True, text=True)
    db.dispose()
    if done.returncode != 0:
        raise BackupError(f"pg_restore failed (nothing was changed): {done.stderr.strip()[:500]}")


def every_row(db: Database) -> dict[str, list[tuple]]:
    """Every row of every table of the store, sorted (to compare a restore with its origin)."""
    meta = MetaData(schema=db.schema)
    with db.engine.connect() as conn:
        meta.reflect(conn)
        out = {}
        for table in meta.sorted_tables:
            rows = conn.execute(select(table)).all()
            out[table.name] = sorted((tuple(r) for r in rows), key=repr)
        return out
