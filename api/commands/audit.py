"""CLI commands `placement audit` (query the audit trail) and `placement audit verify` (check
its hash chain), docs/SECURITY.md."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from api.commands.users import DatabaseUrl, _database


def register(app: typer.Typer) -> None:
    """Add this area's commands to the app."""
    trail = typer.Typer(help="The audit trail: who read or changed which child, reservation or unit.",
                        invoke_without_command=True)
    app.add_typer(trail, name="audit")

    @trail.callback()
    def query(
        ctx: typer.Context,
        child: Annotated[str | None, typer.Option(help="Only this child's record.")] = None,
        user: Annotated[str | None, typer.Option(help="Only what this account did.")] = None,
        since: Annotated[datetime | None, typer.Option(help="Only from this date (UTC), e.g. 2026-12-01.")] = None,
        limit: Annotated[int, typer.Option(min=1, help="At most this many rows.")] = 1000,
        database_url: DatabaseUrl = None,
    ) -> None:
        """List audit rows (oldest first), tab-separated: id, time (ISO 8601, +00:00), user, role, action,
        subject type, subject id, from where."""
        if ctx.invoked_subcommand is not None:
            return
        from api.schemas import iso_utc
        from data.db import audit

        db = _database(database_url)
        try:
            with db.read() as session:
                rows = audit.query(session, child=child, user=user, since=since, limit=limit)
        finally:
            db.dispose()
        for r in rows:
            typer.echo(f"{r.id}\t{iso_utc(r.at, 'seconds')}\t{r.actor}\t{r.role}\t{r.action}\t"
                       f"{r.subject_type}\t{r.subject_id}\t{r.remote}")

    @trail.command("verify")
    def verify(database_url: DatabaseUrl = None) -> None:
        """Check the hash chain: exit 0 when intact, 1 naming each row that does not fit."""
        from data.db import audit

        db = _database(database_url)
        try:
            with db.read() as session:
                verdict = audit.verify(session)
        finally:
            db.dispose()
        if verdict.ok:
            typer.echo(f"Audit trail intact: {verdict.rows} row(s), head {verdict.head}.")
            return
        for problem in verdict.problems:
            typer.echo(f"TAMPERED {problem}", err=True)
        typer.echo(f"Audit trail broken: {len(verdict.problems)} problem(s) in {verdict.rows} row(s).", err=True)
        raise typer.Exit(1)
