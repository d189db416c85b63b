"""CLI commands `placement backup FILE` and `placement restore FILE`: the whole store (SQLite's
online backup, or pg_dump / pg_restore on PostgreSQL)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from api.commands.users import DatabaseUrl


def register(app: typer.Typer) -> None:
    """Add this area's commands to the app."""

    @app.command()
    def backup(file: Annotated[Path, typer.Argument(help="Where to write the backup.")],
               database_url: DatabaseUrl = None) -> None:
        """Write a consistent copy of the store to FILE (safe while the server runs)."""
        from data.db import Database
        from data.db.backup import backup as make
        from data.db.database import DEFAULT_URL
        from data.db.errors import StoreError

        db = Database(database_url or DEFAULT_URL)
        try:
            make(db, file)
        except StoreError as err:
            typer.echo(f"error: {err}", err=True)
            raise typer.Exit(2) from None
        finally:
            db.dispose()
        typer.echo(f"Backup of {db.url_for_display} written to {file}.")

    @app.command()
    def restore(file: Annotated[Path, typer.Argument(help="A backup written by `placement backup`.")],
                database_url: DatabaseUrl = None) -> None:
        """Replace what the store holds by the backup in FILE (stop the server first)."""
        from data.db import Database
        from data.db.backup import restore as put_back
        from data.db.database import DEFAULT_URL
        from data.db.errors import StoreError

        db = Database(database_url or DEFAULT_URL)
        try:
            put_back(db, file)
        except StoreError as err:
            typer.echo(f"error: {err}", err=True)
            raise typer.Exit(2) from None
        finally:
            db.dispose()
        typer.echo(f"{db.url_for_display} restored from {file}.")
