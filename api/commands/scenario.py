"""`placement scenario`: planners' what-if capacity scenarios, compared side by side.

* ``placement scenario run BASE.yaml OTHER.yaml ... --out DIR``: solve each scenario with the
  optimiser on the same instance and write the comparison against the first one (JSON, a French
  report, pictures and one self-contained HTML page: planning.report);
* ``placement scenario sweep TEMPLATE.yaml --rank-by FIGURE --out DIR``: the variants of a
  template, solved and ranked;
* ``placement scenario check FILE...``: validate scenario files (every error at once);
* ``placement scenario examples``: the example scenarios shipped with the engine.

The instance is the generated scale-1 Paris dataset unless ``--data DIR`` names one. Scenarios
run on Dask: a LocalCluster of ``--workers`` processes, or an existing scheduler
(``--scheduler tcp://host:port``). docs/SCENARIOS.md describes the files and the figures.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from api.commands import error_line
from matcher import PlacementError, Weights

scenario_app = typer.Typer(name="scenario", help="What-if capacity scenarios: run, compare, sweep.", no_args_is_help=True)

DataOpt = Annotated[Path | None, typer.Option(help="Dataset directory (CSV/Parquet); default: the generated Paris instance.")]
ScaleOpt = Annotated[float, typer.Option(min=0.01, help="Scale of the generated instance when --data is not given (1 = Paris).")]
SeedOpt = Annotated[int, typer.Option(help="Seed of the generated instance.")]
ScopeOpt = Annotated[str, typer.Option(help="all (full re-plan: every child, moves cost) or waiting (children without a place).")]
TimeOpt = Annotated[float, typer.Option(min=0.1, help="Optimiser time limit per scenario, seconds.")]
WorkersOpt = Annotated[int, typer.Option(min=1, help="Dask workers of the local cluster (ignored with --scheduler).")]
SchedulerOpt = Annotated[str | None, typer.Option(help="Address of an existing Dask scheduler (tcp://host:port).")]
WeightsOpt = Annotated[Path | None, typer.Option(help="TOML file overriding matcher/weights.toml (before each scenario's own weights).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the comparison JSON on stdout.")]


def base_instance(data: Path | None, scale: float, seed: int, weights: Path | None) -> Any:
    """The instance every scenario starts from, with its travel matrix (cached on disk)."""
    from data.generator import generate
    from data.io import read_dataset
    from data.transit import travel_matrix
    from matcher import DomainError
    from planning.runner import BaseInstance

    if data is not None and not data.is_dir():
        raise DomainError(f"--data {data}: no such dataset directory",
                          fr=f"--data {data} : ce dossier de données n'existe pas")
    system = read_dataset(data) if data is not None else generate(scale, seed)
    travel = travel_matrix(system.origins, system.structures)
    return BaseInstance(system, travel, Weights.load(weights) if weights else Weights.default())


def transit_minutes(homes, structures):
    """Travel minutes to the structures a scenario adds (the same transit network and cache)."""
    from data.transit import travel_matrix

    return travel_matrix(homes, structures)


def run_and_report(scenarios: list, out: Path, *, data: Path | None, scale: float, seed: int, scope: str,
                   time_limit: float, workers: int, scheduler: str | None, weights: Path | None,
                   console: Console, show_progress: bool, rank_by: str | None = None) -> dict[str, Any]:
    """Solve the scenarios (the first is the reference), write the report; return the comparison."""
    from planning.comparison import compare, rank
    from planning.report import write_report
    from planning.runner import RunSettings, run_scenarios

    settings = RunSettings(scope=scope, time_limit_s=time_limit)  # type: ignore[arg-type]
    with console.status("Chargement des données et des temps de trajet", spinner="dots") if show_progress else _nothing():
        base = base_instance(data, scale, seed, weights)
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        console=console, disable=not show_progress)
    with progress:
        task = progress.add_task("Résolution des scénarios", total=len(scenarios))

        def advance(done: int, total: int, name: str) -> None:
            progress.update(task, completed=done, description=f"Résolu : {name[:50]}")

        results = run_scenarios(base, scenarios, settings, minutes_for=transit_minutes, scheduler=scheduler,
                                workers=workers, progress=advance)
    comparison = compare(results)
    ranking = rank(results[1:], rank_by) if rank_by else None
    written = write_report(comparison, out, ranking)
    if ranking is not None:
        comparison["ranking"] = ranking
    comparison["written"] = [str(p) for p in written]
    return comparison


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def render(comparison: dict[str, Any], console: Console) -> None:
    from planning.comparison import FIGURES
    from planning.report import fr_difference, fr_value

    base = comparison["base"]
    for s in comparison["scenarios"]:
        if s.get("error"):
            console.print(f"[red]échec[/red] {s['name']} : {s['error']}", soft_wrap=True)
            continue
        f, d = s["figures"], s.get("difference") or {}
        parts = []
        for key in ("share_paris", "median_minutes", "p90_minutes", "within_90_share", "without_place", "daily_cost_eur", "children_moved"):
            fig = FIGURES[key]
            diff = "" if s["name"] == base else f" ({fr_difference(fig, fig.of(d))})"
            parts.append(f"{fig.label_fr[0].lower() + fig.label_fr[1:]} {fr_value(fig, fig.of(f))}{diff}")
        console.print(f"[bold]{s['name']}[/bold] : " + " ; ".join(parts), soft_wrap=True)
    if comparison.get("ranking"):
        fig = FIGURES[comparison["ranking"][0]["figure"]]
        first = "le plus bas" if fig.better == "lower" else "le plus haut"
        console.print(f"[bold]Classement selon « {fig.label_fr} »[/bold] ({first} d'abord) :", soft_wrap=True)
        for r in comparison["ranking"]:
            console.print(f"  {r['rank']}. {r['name']} : {fr_value(fig, r['value'])}", soft_wrap=True)
    out = [p for p in comparison.get("written", []) if p.endswith(".html")]
    if out:
        console.print(f"Rapport : {out[0]} (et, à côté, comparison.json, rapport.md et les images PNG)", soft_wrap=True)


def _fail(console: Console, err: Exception) -> None:
    console.print(error_line(err, "fr"), style="red", soft_wrap=True, markup=False, highlight=False)
    raise typer.Exit(2)


@scenario_app.command("run")
def run(
    files: Annotated[list[Path], typer.Argument(help="Scenario files; the first is the reference of the comparison.")],
    out: Annotated[Path, typer.Option(help="Directory for comparison.json, rapport.md, rapport.html and the pictures.")],
    data: DataOpt = None, scale: ScaleOpt = 1.0, seed: SeedOpt = 1, scope: ScopeOpt = "all",
    time_limit: TimeOpt = 20.0, workers: WorkersOpt = 2, scheduler: SchedulerOpt = None,
    weights: WeightsOpt = None, as_json: JsonOpt = False,
) -> None:
    """Solve each scenario on the same instance and compare them with the first."""
    from planning.scenarios import ScenarioError, load_scenario

    console = Console(stderr=as_json)
    scenarios, issues = [], []
    for f in files:
        try:
            scenarios.append(load_scenario(f))
        except ScenarioError as err:
            issues += err.issues
    if issues:
        _fail(console, ScenarioError(issues))
    try:
        comparison = run_and_report(scenarios, out, data=data, scale=scale, seed=seed, scope=scope, time_limit=time_limit,
                                    workers=workers, scheduler=scheduler, weights=weights, console=console,
                                    show_progress=not as_json)
    except (PlacementError, OSError) as err:
        _fail(console, err)
    if as_json:
        typer.echo(json.dumps(comparison, indent=2, ensure_ascii=False))
    else:
        render(comparison, console)


@scenario_app.command("sweep")
def sweep(
    template: Annotated[Path, typer.Argument(help="Sweep template: a scenario with a 'vary' grid of ${placeholders}.")],
    out: Annotated[Path, typer.Option(help="Directory for the comparison, ranking and report.")],
    rank_by: Annotated[str | None, typer.Option(help="Figure to rank the variants by (default: the template's rank_by).")] = None,
    data: DataOpt = None, scale: ScaleOpt = 1.0, seed: SeedOpt = 1, scope: ScopeOpt = "all",
    time_limit: TimeOpt = 20.0, workers: WorkersOpt = 2, scheduler: SchedulerOpt = None,
    weights: WeightsOpt = None, as_json: JsonOpt = False,
) -> None:
    """Generate the variants of a template, solve them, rank them by a figure."""
    from planning.comparison import figure
    from planning.sweep import load_sweep

    console = Console(stderr=as_json)
    try:
        plan = load_sweep(template)
        chosen = rank_by or plan.rank_by
        if chosen is None:
            from matcher import DomainError

            raise DomainError("say which figure to rank by: --rank-by, or rank_by in the template",
                              fr="dites selon quel indicateur classer : --rank-by, ou rank_by dans le modèle")
        figure(chosen)
        comparison = run_and_report(list(plan.scenarios), out, data=data, scale=scale, seed=seed, scope=scope,
                                    time_limit=time_limit, workers=workers, scheduler=scheduler, weights=weights,
                                    console=console, show_progress=not as_json, rank_by=chosen)
    except (PlacementError, OSError) as err:
        _fail(console, err)
    if as_json:
        typer.echo(json.dumps(comparison, indent=2, ensure_ascii=False))
    else:
        render(comparison, console)


@scenario_app.command("check")
def check(files: Annotated[list[Path], typer.Argument(help="Scenario files or sweep templates to validate.")]) -> None:
    """Validate scenario files and sweep templates; every problem named by file, line and key."""
    from planning.scenarios import ScenarioError, load_scenario
    from planning.sweep import load_sweep

    console = Console()
    issues = []
    for f in files:
        try:
            is_template = f.is_file() and "\nvary:" in "\n" + f.read_text(encoding="utf-8")
            loaded = load_sweep(f) if is_template else load_scenario(f)
            what = f"{len(loaded.variants)} variantes" if is_template else f"{len(loaded.changes)} changement(s)"
            console.print(f"{f} : valide ({what})", soft_wrap=True)
        except ScenarioError as err:
            issues += err.issues
    if issues:
        _fail(console, ScenarioError(issues))


@scenario_app.command("examples")
def examples() -> None:
    """List the example scenarios shipped with the engine (from the Paris plan's actions)."""
    from planning.scenarios import EXAMPLES_DIR, example_paths

    console = Console()
    for p in [*example_paths(), *sorted((EXAMPLES_DIR / "sweeps").glob("*.yaml"))]:
        text = p.read_text(encoding="utf-8")
        name = next((line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("name:")), p.stem)
        console.print(f"[bold]{p}[/bold]\n  {name}", soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add this area's commands to the app."""
    app.add_typer(scenario_app, name="scenario")
