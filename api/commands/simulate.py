"""`placement simulate`: a period of arrivals and departures under several placement policies.

Takes the base dataset (the generated scale-1 Paris instance by default, or ``--data DIR``) and
a scenario (a YAML document with dated ``capacity_changes`` and ``simulation`` parameters, or
``base`` for none: docs/SIMULATION.md), runs ``--replications`` seeds of
:func:`planning.simulation.simulate` on Dask (a LocalCluster of ``--workers`` processes, or the
scheduler at ``--scheduler``; ``--workers 0`` runs them here), prints each policy's figures with
their 95% intervals and writes ``simulation.json``, ``simulation.html`` (the report, in French)
and ``weekly.csv`` into ``--out``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from api.commands import error_line
from matcher import DomainError, PlacementError, Weights

TRAVEL_SOURCES = ("transit", "crowfly")


def parse_policies(text: str) -> list[str]:
    from planning.simulation import POLICIES

    names = [p.strip() for p in text.split(",") if p.strip()]
    unknown = [p for p in names if p not in POLICIES]
    if unknown or not names:
        raise DomainError(f"--policies: unknown policy(ies) {', '.join(unknown) or '(none given)'}; known: {', '.join(POLICIES)}",
                          fr=f"--policies : politique(s) inconnue(s) {', '.join(unknown) or '(aucune donnée)'} ; connues : "
                          f"{', '.join(POLICIES)}")
    if len(set(names)) != len(names):
        raise DomainError("--policies: a policy is named twice", fr="--policies : une politique est nommée deux fois")
    return names


def run_simulate(*, scenario: str, months: int | None, policies: list[str], replications: int, seed: int,
                 workers: int, scheduler: str | None, data_dir: Path | None, scale: float, travel_source: str,
                 weights: Weights, console: Console, show_progress: bool) -> dict[str, Any]:
    """Read everything, check it, then run the replications; returns the result (JSON-ready)."""
    from api.commands.demo import _steps
    from data.generator import generate
    from data.io import read_dataset
    from data.simulation_files import read_scenario_document
    from planning.simulation import replicate, resolve_capacity_changes, scenario_from_document

    if travel_source not in TRAVEL_SOURCES:
        raise DomainError(f"--travel: unknown source {travel_source!r}; expected one of {', '.join(TRAVEL_SOURCES)}",
                          fr=f"--travel : source {travel_source!r} inconnue ; attendue : {', '.join(TRAVEL_SOURCES)}")
    if replications < 1:
        raise DomainError(f"--replications must be at least 1, got {replications}",
                          fr=f"--replications doit valoir au moins 1, reçu {replications}")
    if workers < 0:
        raise DomainError(f"--workers must be 0 (no Dask) or more, got {workers}",
                          fr=f"--workers doit valoir 0 (sans Dask) ou plus, reçu {workers}")
    document = read_scenario_document(scenario)
    params, changes = scenario_from_document(document, months)
    planned = None
    if "changes" in document:  # a planners' capacity scenario (docs/SCENARIOS.md): in force from the first day
        from planning.scenarios import read_yaml, scenario_from_data

        data, lines = read_yaml(Path(scenario).read_text(encoding="utf-8"), str(scenario))
        planned = scenario_from_data({k: v for k, v in data.items() if k not in ("capacity_changes", "simulation")}, lines)
        weights = planned.weights_over(weights)
    if data_dir is not None and not data_dir.is_dir():
        raise DomainError(f"--data {data_dir}: no such dataset directory",
                          fr=f"--data {data_dir} : ce dossier de données n'existe pas")
    with _steps(console, show_progress) as steps:
        done = steps.step("Construction du système de placement")
        system = read_dataset(data_dir) if data_dir is not None else generate(scale=scale, seed=1)
        if planned is not None:
            from planning.scenarios import apply_scenario

            system = apply_scenario(system, planned)
        resolve_capacity_changes(system, changes, system.reference_date, params.days)
        done()
        done = steps.step("Temps de trajet en transports en commun depuis chaque domicile familial")
        if travel_source == "crowfly":
            from api.services import CrowFlyTravel

            travel = CrowFlyTravel().matrix(system.origins, system.structures)
        else:
            from data.transit import travel_matrix

            travel = travel_matrix(system.origins, system.structures, progress=lambda d, t: done("", d / t if t else 1.0))
        done()
        done = steps.step(f"Simulation de {params.days} jours × {replications} réplication(s)")
        result = replicate(system, travel, weights, params, replications, seed, policies, changes,
                           workers=workers, scheduler=scheduler, progress=lambda d, t: done("", d / t))
        done()
    result["scenario"] = scenario
    result["scenario_changes"] = [] if planned is None else [type(c).__name__ for c in planned.changes]
    result["dataset"] = str(data_dir) if data_dir is not None else f"generated (scale {scale:g}, seed 1)"
    result["travel"] = travel_source
    return result


def render(result: dict[str, Any], console: Console) -> None:
    """The results in French, as the HTML report shows them (the same table)."""
    from planning.simulation_report import summary_table

    n = len(result["replications"])
    wall = f"{result['wall_seconds']:.1f}".replace(".", ",")
    console.print(f"[bold]{result['days']} jours[/bold] à partir du {result['start']}, scénario {result['scenario']}, "
                  f"{n} réplication(s), {result['dataset']}, calcul {wall} s", soft_wrap=True)
    headers, rows, caption = summary_table(result)
    table = Table(title=caption)
    table.add_column(headers[0])
    for header in headers[1:]:
        table.add_column(header, justify="right")
    for row in rows:
        table.add_row(*row)
    console.print(table)
    for failure in result["failures"]:
        console.print(f"  [yellow]la réplication {failure['seed']} a échoué : {failure['error']}[/yellow]", soft_wrap=True)
    for kind, path in result.get("files", {}).items():
        console.print(f"  écrit : {path}", soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add this area's commands to the app."""

    @app.command()
    def simulate(
        scenario: Annotated[str, typer.Argument(help="Scenario YAML file (capacity_changes, simulation), or 'base'.")],
        months: Annotated[int | None, typer.Option(min=1, max=60, help="Months simulated (default 12, or the scenario's).")] = None,
        policies: Annotated[str, typer.Option(help="Comma-separated: greedy, own, system, batch.")] = "greedy,own,system,batch",
        replications: Annotated[int, typer.Option(min=1, help="Seeds simulated (confidence intervals over them).")] = 1,
        seed: Annotated[int, typer.Option(min=0, help="Root seed the replications' seeds are spawned from.")] = 1,
        workers: Annotated[int, typer.Option(min=0, help="Dask LocalCluster worker processes (0: no Dask, run here).")] = 1,
        scheduler: Annotated[str | None, typer.Option(help="Address of a running Dask scheduler (instead of a LocalCluster).")] = None,
        data: Annotated[Path | None, typer.Option(help="Dataset directory (default: the generated Paris instance).")] = None,
        scale: Annotated[float, typer.Option(min=0.01, max=10, help="Scale of the generated instance when no --data.")] = 1.0,
        travel: Annotated[str, typer.Option(help="transit (the engine's public-transport minutes) or crowfly (an estimate).")] = "transit",
        weights: Annotated[Path | None, typer.Option(help="TOML file overriding matcher/weights.toml.")] = None,
        out: Annotated[Path, typer.Option(help="Directory for simulation.json, simulation.html and weekly.csv.")] = Path("simulation-out"),
        as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    ) -> None:
        """Simulate arrivals and departures over a period under several placement policies."""
        from data.simulation_files import write_simulation
        from planning.simulation_report import render_report

        console = Console(stderr=as_json)
        try:
            chosen = parse_policies(policies)
            result = run_simulate(scenario=scenario, months=months, policies=chosen, replications=replications, seed=seed,
                                  workers=workers, scheduler=scheduler, data_dir=data, scale=scale, travel_source=travel,
                                  weights=Weights.load(weights) if weights else Weights.default(),
                                  console=console, show_progress=not as_json)
            result["files"] = write_simulation(out, result, render_report(result))
        except (PlacementError, OSError) as err:
            console.print(error_line(err, "fr"), style="red", soft_wrap=True, markup=False, highlight=False)
            raise typer.Exit(2) from None
        if as_json:
            typer.echo(json.dumps({k: v for k, v in result.items() if k != "replications"}, indent=1, ensure_ascii=False, default=str))
        else:
            render(result, console)
