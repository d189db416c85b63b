"""CLI command `placement serve`: the officers' service (FastAPI under uvicorn).

On the embedded default (the SQLite file under ./var) an empty store is first filled with the
generated scale-1 Paris scenario, or with the dataset directory given by ``--data``, using the
same building blocks as `placement demo` (``data.generator.generate``, ``data.io.read_dataset``,
``Database.save_system``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from fastapi import FastAPI


@dataclass
class Prepared:
    app: FastAPI
    database_url: str
    url: str
    """The URL itself (with any password), for the worker processes."""
    seeded: str | None
    """What was loaded into an empty store (None when the store already held a system)."""
    accounts: int = 0
    """Accounts in the store (none: the service answers nobody until one is created)."""


def prepare(*, database_url: str | None, data_dir: Path | None, scale: float = 1.0, seed: int = 1,
            reset: bool = False) -> Prepared:
    """Migrate the store, fill it when empty (or with ``data_dir``), and build the app (does not
    start a server). A dataset never replaces a store holding officers' reservations or
    confirmed placements unless ``reset``: that is a :class:`PlacementError` naming the store and
    ``--reset``, and nothing is written."""
    from api.app import create_app
    from api.settings import Settings
    from data.db import Database
    from data.db.database import DEFAULT_URL

    url = database_url or DEFAULT_URL
    system = seeded = None
    if data_dir is not None:
        # read and check the dataset before touching the store: a bad one changes nothing
        from data.io import read_dataset

        system, seeded = read_dataset(data_dir), f"dataset {data_dir}"
    db = Database(url)
    try:
        db.migrate()
        work = db.officers_work()
        if data_dir is not None and any(work.values()) and not reset:
            from matcher import PlacementError

            raise PlacementError(
                f"the store {db.url_for_display} holds {work['reservations']} reservation(s) and "
                f"{work['placements']} confirmed placement(s) made through the officers' service; --data would "
                "replace them. Serve the dataset from another store (--database-url) or pass --reset to replace "
                "them anyway",
                fr=f"la base {db.url_for_display} contient {work['reservations']} réservation(s) et "
                   f"{work['placements']} placement(s) confirmé(s) par le service des officiers ; --data les "
                   "remplacerait. Servez ces données depuis une autre base (--database-url) ou passez --reset pour "
                   "les remplacer quand même")
        if system is None and db.is_empty():
            from data.generator import generate

            system = generate(scale=scale, seed=seed)
            seeded = f"generated Paris scenario (scale {scale:g}, seed {seed})"
        if system is not None:
            db.save_system(system)
        from data.db import accounts

        with db.read() as session:
            known = len(accounts.list_accounts(session))
    finally:
        db.dispose()
    settings = Settings(database_url=url)
    return Prepared(create_app(settings), db.url_for_display, url, seeded, known)


def register(app: typer.Typer) -> None:
    """Add this area's commands to the app."""

    @app.command()
    def serve(
        host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="TCP port.", min=1, max=65535)] = 8000,
        database_url: Annotated[str | None, typer.Option(
            "--database-url", envvar="DATABASE_URL",
            help="SQLAlchemy URL of the store (default: SQLite file var/placement.sqlite3).")] = None,
        data: Annotated[Path | None, typer.Option(
            "--data", help="Dataset directory loaded into the store, replacing its system (refused when the store "
            "holds reservations or confirmed placements, unless --reset).",
            exists=True, file_okay=False, dir_okay=True)] = None,
        reset: Annotated[bool, typer.Option("--reset", help="With --data: replace the store even if it holds "
                                            "reservations or confirmed placements.")] = False,
        workers: Annotated[int, typer.Option(
            min=1, max=32, envvar="PLACEMENT_WORKERS",
            help="Server processes (each holds its own copy of the system: memory times N).")] = 1,
    ) -> None:
        """Start the placement officers' service (OpenAPI docs at /docs)."""
        import socket

        import uvicorn

        from matcher import PlacementError

        try:
            prepared = prepare(database_url=database_url, data_dir=data, reset=reset)
        except (PlacementError, OSError) as err:
            typer.echo(f"error: {err}", err=True)
            raise typer.Exit(2) from None
        if prepared.seeded:
            typer.echo(f"Loaded {prepared.seeded} into {prepared.database_url}")
        if not prepared.accounts:
            typer.echo("No account yet: nothing but /health answers. Create the first administrator with "
                       "`placement users add admin --role administrator` (docs/SECURITY.md).")
        typer.echo(f"Serving on http://{host}:{port} (store: {prepared.database_url}"
                   + (f", {workers} processes)" if workers > 1 else ")"))
        if workers == 1:
            uvicorn.run(prepared.app, host=host, port=port)
            return
        import os

        os.environ["DATABASE_URL"] = database_url or prepared.url
        if not hasattr(socket, "SO_REUSEPORT"):  # not Linux or BSD: one shared socket
            uvicorn.run("api.app:create_app", factory=True, host=host, port=port, workers=workers)
            return
        from api.workers import PortTaken, run_balanced

        try:
            run_balanced(uvicorn.Config("api.app:create_app", factory=True, host=host, port=port, workers=workers))
        except PortTaken as err:
            typer.echo(f"error: {err}", err=True)
            raise typer.Exit(2) from None
