"""CLI commands `placement users add|list|disable|reset-password`: the accounts of the officers'
service (docs/SECURITY.md). Passwords are typed at a hidden prompt (twice) or read from standard
input with ``--password-stdin``; there is no default password. The first administrator is made
the same way: ``placement users add NAME --role administrator``.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

DatabaseUrl = Annotated[str | None, typer.Option(
    "--database-url", envvar="DATABASE_URL", help="SQLAlchemy URL of the store (default: var/placement.sqlite3).")]


def _database(url: str | None):
    from data.db import Database
    from data.db.database import DEFAULT_URL

    db = Database(url or DEFAULT_URL)
    db.migrate()
    return db


def _password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline().rstrip("\n")
        if not line:
            raise typer.BadParameter("no password on standard input", param_hint="--password-stdin")
        return line
    return typer.prompt("Password", hide_input=True, confirmation_prompt=True)


def _hash(password: str) -> str:
    from api.security import PasswordPolicyError, hash_new_password
    from api.settings import Settings

    try:
        return hash_new_password(Settings(), password)
    except PasswordPolicyError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None


def _fail(err: Exception) -> None:
    typer.echo(f"error: {err}", err=True)
    raise typer.Exit(2) from None


def register(app: typer.Typer) -> None:
    """Add this area's commands to the app."""
    users = typer.Typer(help="Accounts of the officers' service: add, list, disable, reset a password.",
                        no_args_is_help=True)
    app.add_typer(users, name="users")

    @users.command("add")
    def add(
        name: Annotated[str, typer.Argument(help="User name (sign-in).")],
        role: Annotated[str, typer.Option(help="officer, protection_officer, planner, structure_manager or administrator.")],
        service: Annotated[str | None, typer.Option(help="The officer's service (sector-1..sector-9, unaccompanied-minors, young-adults, mother-child).")] = None,
        structure: Annotated[list[str] | None, typer.Option("--structure", help="A structure the manager runs (repeat).")] = None,
        password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from standard input.")] = False,
        database_url: DatabaseUrl = None,
    ) -> None:
        """Create an account (the first administrator too)."""
        from data.db import accounts
        from data.db.errors import StoreError
        from data.db.repository import utcnow
        from matcher.model import Service

        if service is not None and service not in {s.value for s in Service}:
            _fail(ValueError(f"unknown service {service!r}: one of {', '.join(s.value for s in Service)}"))
        try:
            accounts.check_profile(role, service, structure or ())
        except StoreError as err:
            _fail(err)
        password_hash = _hash(_password(password_stdin))
        db = _database(database_url)
        try:
            with db.write() as session:
                if structure:
                    from sqlalchemy import select

                    from data.db.models import StructureRow

                    known = set(session.scalars(select(StructureRow.id)))
                    unknown = [s for s in structure if s not in known]
                    if unknown:
                        raise StoreError(f"unknown structure(s) {', '.join(unknown)}",
                                         fr=f"structure(s) inconnue(s) : {', '.join(unknown)}")
                account = accounts.add_user(session, name=name, role=role, service=service,
                                            structure_ids=structure or (), password_hash=password_hash, now=utcnow())
                from data.db import audit

                audit.record(session, [audit.Entry("cli", "administrator", "add-user", "user", name, "cli")], utcnow())
        except StoreError as err:
            _fail(err)
        finally:
            db.dispose()
        typer.echo(f"Account {account.name} created ({account.role}"
                   + (f", {account.service}" if account.service else "")
                   + (f", {', '.join(account.structure_ids)}" if account.structure_ids else "") + ").")

    @users.command("list")
    def list_(database_url: DatabaseUrl = None) -> None:
        """List the accounts (never the passwords)."""
        from data.db import accounts
        from data.db.repository import utcnow

        db = _database(database_url)
        try:
            with db.read() as session:
                rows = accounts.list_accounts(session)
        finally:
            db.dispose()
        now = utcnow()
        for a in rows:
            state = "disabled" if not a.active else ("locked" if a.locked_until and a.locked_until > now else "active")
            where = a.service or ", ".join(a.structure_ids) or "-"
            typer.echo(f"{a.name}\t{a.role}\t{where}\t{state}")

    @users.command("disable")
    def disable(name: str, database_url: DatabaseUrl = None) -> None:
        """Disable an account: it can no longer sign in, its tokens stop working."""
        from data.db import accounts, audit
        from data.db.errors import StoreError
        from data.db.repository import utcnow

        db = _database(database_url)
        try:
            with db.write() as session:
                accounts.disable(session, name, utcnow())
                audit.record(session, [audit.Entry("cli", "administrator", "disable-user", "user", name, "cli")], utcnow())
        except StoreError as err:
            _fail(err)
        finally:
            db.dispose()
        typer.echo(f"Account {name} disabled.")

    @users.command("reset-password")
    def reset_password(
        name: str,
        password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from standard input.")] = False,
        database_url: DatabaseUrl = None,
    ) -> None:
        """Set a new password: the account is unlocked and enabled, its older tokens stop working."""
        from data.db import accounts, audit
        from data.db.errors import StoreError
        from data.db.repository import utcnow

        password_hash = _hash(_password(password_stdin))
        db = _database(database_url)
        try:
            with db.write() as session:
                accounts.set_password(session, name, password_hash, utcnow())
                audit.record(session, [audit.Entry("cli", "administrator", "reset-password", "user", name, "cli")],
                             utcnow())
        except StoreError as err:
            _fail(err)
        finally:
            db.dispose()
        typer.echo(f"New password set for {name}.")
