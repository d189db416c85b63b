"""CLI commands (travel)."""

import typer


def register(app: typer.Typer) -> None:
    """Add this area's commands to the app."""
