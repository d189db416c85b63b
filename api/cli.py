"""`placement`: the one command line entry point for every job a user runs."""

from __future__ import annotations

import typer

from api.commands import dataset, demo, serve, simulate, solve, travel

app = typer.Typer(
    name="placement",
    help="Placement-capacity matching engine for child protection (ASE Paris).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

for module in (demo, dataset, travel, solve, serve, simulate):
    module.register(app)


if __name__ == "__main__":  # pragma: no cover
    app()
