"""CLI commands on datasets: `placement generate` and `placement validate`."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from api.commands import error_line
from data.errors import PlacementDataError
from matcher import DomainError, PlacementSystem
from matcher.words import ZONE_WORDS


def _counts(system: PlacementSystem) -> str:
    waiting = sum(1 for c in system.children if c.is_waiting)
    places = sum(u.capacity for u in system.units)
    occupied = sum(u.occupied for u in system.units)
    zones = Counter(s.zone for s in system.structures)
    where = ", ".join(f"{zones[z]} {ZONE_WORDS['fr'][z]}" for z in ZONE_WORDS["fr"] if zones[z])
    return (
        f"{len(system.children)} enfants ({waiting} en attente d'une place), "
        f"{len(system.sibling_groups)} fratries, {len(system.structures)} structures "
        f"({where}), {len(system.units)} unités, "
        f"{places} places ({occupied} occupées), date de référence {system.reference_date.isoformat()}"
    )


_STAGE_WORDS = {"children": "enfants", "structures": "structures", "placements": "placements en cours",
                "locations": "lieux", "judges": "décisions des juges", "checks": "vérifications", "done": "terminé"}
"""The generator's stages (``data.generator``'s progress) as the progress bar shows them."""


def register(app: typer.Typer) -> None:
    """Add this area's commands to the app."""

    @app.command()
    def generate(
        out: Annotated[Path, typer.Option("--out", help="Directory to write the dataset to (replaced).")],
        scale: Annotated[float, typer.Option(help="Multiple of Paris's size (1 = about 5,100 children).")] = 1.0,
        seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same dataset.")] = 1,
        fmt: Annotated[str, typer.Option("--format", help="csv or parquet.")] = "csv",
        scenario: Annotated[str | None, typer.Option(help="Named scenario (small, paris, paris-10x); overrides --scale.")] = None,
    ) -> None:
        """Generate a synthetic placement dataset (every child synthetic) and write it."""
        from data.generator import SCENARIOS, Scenario, generate as make, scenario_parameters
        from data.io import FORMATS, write_dataset

        console = Console(stderr=True)
        try:
            if fmt not in FORMATS:
                raise DomainError(f"unknown format {fmt!r}; allowed: {', '.join(FORMATS)}",
                                  fr=f"format {fmt!r} inconnu ; permis : {', '.join(FORMATS)}")
            if scenario is not None:
                if scenario not in SCENARIOS:
                    raise DomainError(f"unknown scenario {scenario!r}; known: {', '.join(SCENARIOS)}",
                                      fr=f"scénario {scenario!r} inconnu ; connus : {', '.join(SCENARIOS)}")
                chosen = SCENARIOS[scenario]
            else:
                chosen = Scenario("custom", scale, f"scale {scale}")
            with Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                          console=console, transient=True) as bar:
                task = bar.add_task("génération", total=1.0)
                system = make(chosen.scale, seed, chosen.reference_date,
                              lambda stage, fraction: bar.update(task, description=_STAGE_WORDS.get(stage, stage),
                                                                 completed=fraction))
                bar.update(task, description="écriture", completed=1.0)
                params = scenario_parameters(chosen) | {"seed": seed}
                path = write_dataset(system, out, fmt, generator=params)  # type: ignore[arg-type]
        except (DomainError, PlacementDataError, OSError) as err:
            console.print(error_line(err, "fr"), style="red", markup=False, highlight=False)
            raise typer.Exit(2) from None
        typer.echo(f"écrit : {path} ({fmt}) : {_counts(system)}")

    @app.command()
    def validate(
        directory: Annotated[Path, typer.Argument(help="Dataset directory (CSV or Parquet).")],
    ) -> None:
        """Check a dataset: print its counts and OK, or every problem (exit code 1)."""
        from data.io import read_dataset

        try:
            system = read_dataset(directory)
        except PlacementDataError as err:
            typer.echo(f"INVALIDE : {len(err.issues)} problème(s) dans {directory}", err=True)
            for issue in err.issues:
                typer.echo(f"  - {issue.said('fr')}", err=True)
            raise typer.Exit(1) from None
        typer.echo(_counts(system))
        typer.echo("OK")
