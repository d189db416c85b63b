"""`placement`: the one command line entry point for every job a user runs."""

from __future__ import annotations

import typer

from api.commands import audit, backup, dataset, demo, rebalance, scenario, serve, solve, travel, users

app = typer.Typer(
    name="placement",
    help="Placement-capacity matching engine for child protection (ASE Paris).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

for module in (demo, dataset, travel, solve, serve, scenario, rebalance, users, audit, backup):
    module.register(app)


if __name__ == "__main__":  # pragma: no cover
    app()
