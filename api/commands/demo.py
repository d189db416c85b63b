"""`placement demo`: the main job on the embedded default.

Builds the Paris instance (the generated scale-1 scenario, or a dataset directory), stores it
in the embedded SQLite database and reads it back, computes public-transport minutes from every
family home to every structure, assigns the children waiting for a place with the greedy
baseline (first come, nearest available) and with the optimiser, and prints both side by side.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Iterator

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from matcher import AgeBand, PlacementError, Weights, Zone
from matcher.outcome import summarize


@dataclass(frozen=True)
class DemoReport:
    dataset: dict[str, Any]
    methods: dict[str, dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "methods": self.methods}


@contextmanager
def _steps(console: Console, enabled: bool) -> Iterator[Any]:
    """A progress display with one task per step; a no-op object when disabled (--json)."""
    if not enabled:

        class _Quiet:
            def step(self, _label: str) -> Any:
                return lambda _msg="", _fraction=None: None

        yield _Quiet()
        return
    progress = Progress(
        SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
        console=console, transient=False,
    )

    class _Shown:
        def step(self, label: str) -> Any:
            task = progress.add_task(label, total=1.0)

            def report(_msg: str = "", fraction: float | None = None) -> None:
                progress.update(task, completed=1.0 if fraction is None else fraction)

            return report

    with progress:
        yield _Shown()


def run_demo(
    *,
    data_dir: Path | None,
    scale: float,
    seed: int,
    database_url: str | None,
    time_limit_s: float,
    weights: Weights,
    console: Console,
    show_progress: bool,
) -> DemoReport:
    from data.db import Database
    from data.db.database import DEFAULT_URL
    from data.generator import generate
    from data.io import read_dataset
    from data.transit import travel_matrix
    from solver.greedy import solve_greedy
    from solver.optimal import SolverSettings, solve_optimal
    from solver.problem import Problem
    from solver.solution import relative_gap

    with _steps(console, show_progress) as steps:
        done = steps.step("Building the Paris placement system")
        if data_dir is not None:
            system = read_dataset(data_dir)
            source = str(data_dir)
        else:
            system = generate(scale=scale, seed=seed, progress=lambda msg, f: done(msg, f))
            source = f"generated (scale {scale:g}, seed {seed})"
        done()

        done = steps.step("Storing it in the database and reading it back")
        db = Database(database_url or DEFAULT_URL)
        db.migrate()
        db.save_system(system)
        system = db.load_system()
        done()

        done = steps.step("Public-transport minutes from every family home")
        travel = travel_matrix(system.homes, system.structures, progress=lambda d, t: done("", d / t if t else 1.0))
        done()

        methods: dict[str, dict[str, Any]] = {}
        problem = Problem.build(system, travel, weights, scope="waiting")
        solutions = {}
        for name in ("greedy", "optimal"):
            done = steps.step(f"Assigning the waiting children ({name})")
            if name == "greedy":
                solutions[name] = solve_greedy(problem, with_bound=False, with_explanations=False)
            else:
                solutions[name] = solve_optimal(problem, SolverSettings(time_limit_s=time_limit_s), with_explanations=False)
            done()
        bound = solutions["optimal"].bound  # one proven bound, both methods measured against it
        for name, solution in solutions.items():
            summary = summarize(system, solution.unit_of_child, travel).to_dict()
            summary.update(
                objective=round(solution.objective, 1),
                bound=None if bound is None else round(bound, 1),
                gap=relative_gap(solution.objective, bound),
                wall_seconds=round(solution.wall_seconds, 2),
                splits=[str(s) for s in solution.splits],
                bound_source=solutions["optimal"].bound_source,
                warnings=list(solution.warnings),
            )
            methods[name] = summary

    dataset = {
        "source": source,
        "database": db.url_for_display,
        "reference_date": system.reference_date.isoformat(),
        "children": len(system.children),
        "waiting": len(problem.children),
        "sibling_groups": len(system.sibling_groups),
        "structures": len(system.structures),
        "units": len(system.units),
        "places": sum(u.capacity for u in system.units),
        "free_places": sum(u.free for u in system.units),
    }
    return DemoReport(dataset, methods)


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _minutes(x: float | None) -> str:
    return "-" if x is None else f"{x:.0f} min"


def render(report: DemoReport, console: Console) -> None:
    d = report.dataset
    console.print(
        f"[bold]Paris placement system[/bold] ({d['source']}, stored in {d['database']}), "
        f"on {d['reference_date']}: {d['children']} children in care, {d['sibling_groups']} fratries, "
        f"{d['structures']} structures, {d['places']} places of which {d['free_places']} free; "
        f"[bold]{d['waiting']} children waiting for a place[/bold]."
    )
    names = list(report.methods)
    table = Table(title="Children waiting for a place: greedy baseline vs optimiser")
    table.add_column("")
    for name in names:
        table.add_column(name, justify="right")
    m = report.methods

    def row(label: str, fn: Any) -> None:
        table.add_row(label, *(fn(m[n]) for n in names))

    row("placed", lambda s: f"{s['placed']} / {s['children']}")
    for zone, label in ((Zone.PARIS, "  in Paris"), (Zone.ILE_DE_FRANCE, "  elsewhere in Île-de-France"),
                        (Zone.PROVINCE, "  in the provinces")):
        row(label, lambda s, z=zone.value: f"{s['placed_by_zone'][z]} ({_pct(s['share_by_zone'][z])})")
    row("transit to family home, median", lambda s: _minutes(s["travel"]["median_minutes"]))
    row("transit to family home, p90", lambda s: _minutes(s["travel"]["p90_minutes"]))
    row("fratries kept together", lambda s: f"{s['siblings']['kept_together']} / {s['siblings']['groups']}")
    row("fratries split", lambda s: str(s["siblings"]["split"]))
    row("without a place", lambda s: str(s["unplaced"]))
    for band in AgeBand:
        row(f"  aged {band.value}", lambda s, b=band.value: str(s["unplaced_by_age_band"][b]))
    needs = sorted({n for s in m.values() for n in s["unplaced_by_need"]})
    for need in needs:
        row(f"  need: {need.replace('_', ' ')}", lambda s, n=need: str(s["unplaced_by_need"].get(n, 0)))
    row("daily cost of the new places", lambda s: f"{s['daily_cost_eur']:,.0f} EUR")
    row("objective (minutes-equivalent)", lambda s: f"{s['objective']:,.0f}")
    row("proven lower bound", lambda s: "-" if s["bound"] is None else f"{s['bound']:,.0f} ({s['bound_source']})")
    row("gap to the bound", lambda s: "-" if s["gap"] is None else _pct(s["gap"]))
    row("wall time", lambda s: f"{s['wall_seconds']:.2f} s")
    console.print(table)
    for name in names:
        for split in m[name]["splits"]:
            console.print(f"[yellow]{name}:[/yellow] {split}")
        for warning in m[name].get("warnings", []):
            console.print(f"[red]{name}, warning:[/red] {warning}")


def register(app: typer.Typer) -> None:
    @app.command()
    def demo(
        data: Annotated[Path | None, typer.Option(help="Dataset directory (CSV/Parquet); default: generate the Paris scenario.")] = None,
        scale: Annotated[float, typer.Option(min=0.01, help="Scale of the generated population (1 = Paris).")] = 1.0,
        seed: Annotated[int, typer.Option(help="Seed of the generated population.")] = 1,
        database_url: Annotated[str | None, typer.Option(envvar="DATABASE_URL", help="Database URL; default: embedded SQLite.")] = None,
        weights: Annotated[Path | None, typer.Option(help="TOML file overriding matcher/weights.toml.")] = None,
        time_limit: Annotated[float, typer.Option(min=0.1, help="Optimiser time limit, seconds.")] = 30.0,
        as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    ) -> None:
        """Build the Paris instance, assign the waiting children (greedy and optimal), print the outcome."""
        console = Console(stderr=as_json)
        try:
            report = run_demo(
                data_dir=data, scale=scale, seed=seed, database_url=database_url,
                time_limit_s=time_limit, weights=Weights.load(weights) if weights else Weights.default(),
                console=console, show_progress=not as_json,
            )
        except PlacementError as err:
            console.print(f"[red]error:[/red] {err}")
            raise typer.Exit(code=1) from None
        if as_json:
            typer.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
        else:
            render(report, console)
