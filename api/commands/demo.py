"""`placement demo`: the main job on the embedded default.

Builds the Paris instance (the generated scale-1 scenario, or a dataset directory), stores it
in the embedded SQLite database and reads it back, computes public-transport minutes from every
family home, school, visit site and service to every structure, assigns the children waiting for a place with the greedy
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

from matcher import AgeBand, AnchorKind, PlacementError, Weights, Zone
from matcher.outcome import summarize
from matcher.words import split_words, structure_name


@dataclass(frozen=True)
class DemoReport:
    dataset: dict[str, Any]
    methods: dict[str, dict[str, Any]]
    comparison: dict[str, Any] | None = None
    """Children one method places and the other does not (see :func:`compare_unplaced`)."""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"dataset": self.dataset, "methods": self.methods}
        if self.comparison is not None:
            out["comparison"] = self.comparison
        return out


def compare_unplaced(system, first: dict[str, str | None], second: dict[str, str | None]) -> dict[str, Any]:
    """The children ``first`` places and ``second`` leaves without a place, and the reverse:
    how many, how many in a fratrie, and by need (so the table can say why one method leaves
    children without a place that the other placed)."""
    def side(a: dict[str, str | None], b: dict[str, str | None]) -> dict[str, Any]:
        ids = sorted(c for c, u in a.items() if u is not None and b.get(c) is None)
        kids = [system.child_by_id[c] for c in ids]
        by_need: dict[str, int] = {}
        for k in kids:
            for n in sorted(k.needs) or ["none"]:
                key = n if isinstance(n, str) else n.value
                by_need[key] = by_need.get(key, 0) + 1
        return {"children": len(ids), "in_fratries": sum(1 for k in kids if k.sibling_group_id is not None),
                "fratries": len({k.sibling_group_id for k in kids if k.sibling_group_id is not None}),
                "by_need": dict(sorted(by_need.items())), "child_ids": ids[:20]}

    return {"placed_by_greedy_only": side(first, second), "placed_by_optimal_only": side(second, first)}


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
    reset: bool = False,
) -> DemoReport:
    from data.db import Database
    from data.db.database import DEMO_URL
    from data.generator import generate
    from data.io import read_dataset
    from data.transit import travel_matrix
    from solver.greedy import solve_greedy
    from solver.optimal import SolverSettings, solve_optimal
    from solver.problem import Problem
    from solver.solution import relative_gap, require_valid_solution

    db = Database(database_url or DEMO_URL)
    work = db.officers_work()
    if any(work.values()) and not reset:
        raise PlacementError(
            f"the store {db.url_for_display} holds {work['reservations']} reservation(s) and {work['placements']} "
            "confirmed placement(s) made through the officers' service; the demo would replace them. "
            "Run it on its own store (the default, var/demo.sqlite3) or pass --reset to replace them anyway"
        )
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
        db.migrate()
        db.save_system(system)
        system = db.load_system()
        done()

        done = steps.step("Public-transport minutes from every family home, school, visit site and service")
        travel = travel_matrix(system.origins, system.structures, progress=lambda d, t: done("", d / t if t else 1.0))
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
            require_valid_solution(problem, solutions[name], f"placement demo ({name})")
            done()
        bound = solutions["optimal"].bound  # one proven bound, both methods measured against it
        structure_names = {s.id: structure_name(s) for s in system.structures}  # "name (id)" in the split sentences
        for name, solution in solutions.items():
            summary = summarize(system, solution.unit_of_child, travel).to_dict()
            summary.update(
                objective=round(solution.objective, 1),
                bound=None if bound is None else round(bound, 1),
                gap=relative_gap(solution.objective, bound),
                wall_seconds=round(solution.wall_seconds, 2),
                splits=[split_words(s.to_dict(), structure_names, "en") for s in solution.splits],
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
    comparison = compare_unplaced(system, dict(solutions["greedy"].unit_of_child), dict(solutions["optimal"].unit_of_child))
    return DemoReport(dataset, methods, comparison)


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
    table.add_column("", no_wrap=True)
    for name in names:
        table.add_column(name, justify="right")
    m = report.methods

    def row(label: str, fn: Any) -> None:
        table.add_row(label, *(fn(m[n]) for n in names))

    row("placed", lambda s: f"{s['placed']} / {s['children']}")
    for zone, label in ((Zone.PARIS, "  in Paris"), (Zone.ILE_DE_FRANCE, "  elsewhere in Île-de-France"),
                        (Zone.PROVINCE, "  in the provinces")):
        row(label, lambda s, z=zone.value: f"{s['placed_by_zone'][z]} ({_pct(s['share_by_zone'][z])})")
    row("transit from the anchor, median", lambda s: _minutes(s["travel"]["median_minutes"]))
    row("transit from the anchor, p90", lambda s: _minutes(s["travel"]["p90_minutes"]))
    for kind in AnchorKind:  # the point each child's travel is measured from (Child.anchor)
        row(f"  anchor: {kind.value.replace('_', ' ')}", lambda s, k=kind.value: str(s["anchor_used"].get(k, 0)))
    row("proposed a hotel (16-21)", lambda s: str(s["in_hotel"]))
    row("school changes", lambda s: str(s["school_changes"]))
    row("fratries waiting", lambda s: str(s["siblings"]["groups"]))
    row("  kept together, every child placed", lambda s: str(s["siblings"]["kept_together"]))
    row("  split over several structures", lambda s: str(s["siblings"]["split"] + s["siblings"]["split_allowed"]))
    row("  together, some children without a place", lambda s: str(s["siblings"]["not_all_placed"]))
    row("  no place at all", lambda s: str(s["siblings"].get("none_placed", 0)))
    row("without a place", lambda s: str(s["unplaced"]))
    for band in AgeBand:
        row(f"  aged {band.value}", lambda s, b=band.value: str(s["unplaced_by_age_band"][b]))
    needs = sorted({n for s in m.values() for n in s["unplaced_by_need"]})
    for need in needs:
        row(f"  need: {need.replace('_', ' ')}", lambda s, n=need: str(s["unplaced_by_need"].get(n, 0)))
    row("daily cost of the new places", lambda s: f"{s['daily_cost_eur']:,.0f} EUR")
    row("objective (in minutes of travel)", lambda s: f"{s['objective']:,.0f}")
    row("proven lower bound", lambda s: "-" if s["bound"] is None else f"{s['bound']:,.0f} ({s['bound_source']})")
    row("gap to the bound", lambda s: "-" if s["gap"] is None else _pct(s["gap"]))
    row("wall time", lambda s: f"{s['wall_seconds']:.2f} s")
    console.print(table)
    for name in names:
        for split in m[name]["splits"]:
            console.print(f"[yellow]{name}:[/yellow] {split}")
        for warning in m[name].get("warnings", []):
            console.print(f"[red]{name}, warning:[/red] {warning}")
    if report.comparison:
        for key, a, b in (("placed_by_greedy_only", "greedy", "the optimiser"),
                          ("placed_by_optimal_only", "the optimiser", "greedy")):
            c = report.comparison[key]
            if not c["children"]:
                continue
            needs = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in c["by_need"].items() if k != "none") or "no special need"
            console.print(
                f"{c['children']} child(ren) have a place with {a} and none with {b}: {c['in_fratries']} of them "
                f"in {c['fratries']} fratrie(s); needs: {needs}."
            )
        console.print(
            "Places are fewer than the children waiting: the optimiser gives each place where it does most good "
            "(an urgent case, a 0-3, a child with a disability or needing psychological care, a child of a "
            "fratrie, then shorter trips), "
            "and splits a fratrie only when keeping it whole would leave other children without a place "
            "(see docs/SOLVER.md)."
        )


def register(app: typer.Typer) -> None:
    @app.command()
    def demo(
        data: Annotated[Path | None, typer.Option(help="Dataset directory (CSV/Parquet); default: generate the Paris scenario.")] = None,
        scale: Annotated[float, typer.Option(min=0.01, help="Scale of the generated population (1 = Paris).")] = 1.0,
        seed: Annotated[int, typer.Option(help="Seed of the generated population.")] = 1,
        database_url: Annotated[str | None, typer.Option(
            envvar="PLACEMENT_DEMO_DATABASE_URL",
            help="Database URL; default: the demo's own SQLite file var/demo.sqlite3 (never the store of "
            "`placement serve`).")] = None,
        reset: Annotated[bool, typer.Option("--reset", help="Replace the store even if it holds reservations or "
                                            "placements confirmed through the officers' service.")] = False,
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
                console=console, show_progress=not as_json, reset=reset,
            )
        except PlacementError as err:
            console.print(f"[red]error:[/red] {err}")
            raise typer.Exit(code=1) from None
        if as_json:
            typer.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
        else:
            render(report, console)
