"""`placement solve`: assign children of a dataset with the greedy baseline or the optimiser.

Reads a dataset directory (CSV/Parquet, :func:`data.io.read_dataset`), computes the
public-transport minutes from every family home, school, visit site and service to every structure, builds the
:class:`solver.problem.Problem` for the chosen scope (the children waiting for a place, or all
children: a full re-plan), runs the method and prints the outcome summary with the objective,
proven bound, gap, wall time and the sibling splits. With ``--out`` the assignment is written,
one row per child with its place, minutes, score components and the explanation, as CSV or
Parquet, atomically (a temporary file renamed into place: never half-written).
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.console import Console

from matcher import DomainError, PlacementError, Weights

METHODS = ("greedy", "optimal")
SCOPES = ("waiting", "all")
OUT_FORMATS = {".csv": "csv", ".parquet": "parquet"}
COMPONENTS = ("transit_time", "outside_paris", "outside_ile_de_france", "daily_price", "stability")
"""Score components written as columns (matcher.scoring.score_option); others get their own column too."""


def check_options(method: str, scope: str, out: Path | None) -> None:
    """Reject an unknown method, scope or output format before any work is done."""
    if method not in METHODS:
        raise DomainError(f"unknown method {method!r}; expected one of {', '.join(METHODS)}")
    if scope not in SCOPES:
        raise DomainError(f"unknown scope {scope!r}; expected one of {', '.join(SCOPES)}")
    if out is not None:
        if out.suffix.lower() not in OUT_FORMATS:
            raise DomainError(f"--out {out}: unknown format {out.suffix or '(no extension)'!r}; use .csv or .parquet")
        if not out.parent.is_dir():
            raise DomainError(f"--out {out}: directory {out.parent} does not exist")


def assignment_frame(problem: Any, solution: Any) -> pd.DataFrame:
    """One row per child of the problem: place, minutes, score and its components, explanation."""
    names = list(COMPONENTS)
    for e in solution.explanations.values():
        for c in e.components:
            if c.name not in names:
                names.append(c.name)
    rows = []
    for child in problem.children:
        e = solution.explanations.get(child.id)
        unit_id = solution.unit_of_child.get(child.id)
        row: dict[str, Any] = {
            "child_id": child.id,
            "structure_id": problem.system.unit_by_id[unit_id].structure_id if unit_id else None,
            "unit_id": unit_id,
            "travel_minutes": None if e is None or e.travel_minutes is None else round(float(e.travel_minutes), 1),
            "score": None if e is None or not unit_id else round(sum(c.cost for c in e.components), 3),
        }
        costs = {c.name: c.cost for c in e.components} if e is not None else {}
        for name in names:
            row[f"cost_{name}"] = round(float(costs[name]), 3) if name in costs else None
        row["explanation"] = e.text if e is not None else ""
        rows.append(row)
    frame = pd.DataFrame(rows, columns=["child_id", "structure_id", "unit_id", "travel_minutes", "score",
                                        *(f"cost_{n}" for n in names), "explanation"])
    for col in ("travel_minutes", "score", *(f"cost_{n}" for n in names)):
        frame[col] = frame[col].astype("float64")
    return frame


def write_assignment(frame: pd.DataFrame, out: Path) -> Path:
    """Write the assignment as CSV or Parquet (by extension), atomically."""
    fmt = OUT_FORMATS[out.suffix.lower()]
    tmp = out.parent / f".{out.name}.tmp-{uuid.uuid4().hex[:8]}"
    try:
        if fmt == "csv":
            frame.to_csv(tmp, index=False)
        else:
            frame.to_parquet(tmp, index=False)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def run_solve(
    *,
    data_dir: Path,
    method: str,
    weights: Weights,
    time_limit_s: float,
    scope: str,
    console: Console,
    show_progress: bool,
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Solve the dataset; return the report (JSON-ready) and the assignment frame."""
    from api.commands.demo import _steps
    from data.io import read_dataset
    from data.transit import travel_matrix
    from matcher.outcome import summarize
    from solver.greedy import solve_greedy
    from solver.optimal import solve_optimal
    from solver.problem import Problem
    from solver.solution import SolverSettings

    if not data_dir.is_dir():
        raise DomainError(f"--data {data_dir}: no such dataset directory")
    with _steps(console, show_progress) as steps:
        done = steps.step(f"Reading {data_dir}")
        system = read_dataset(data_dir)
        done()
        done = steps.step("Public-transport minutes from every family home, school, visit site and service")
        travel = travel_matrix(system.origins, system.structures,
                               progress=lambda d, t: done("", d / t if t else 1.0))
        done()
        done = steps.step(f"Assigning the children ({method}, scope {scope})")
        problem = Problem.build(system, travel, weights, scope=scope)  # type: ignore[arg-type]
        if method == "greedy":
            solution = solve_greedy(problem)
        else:
            solution = solve_optimal(problem, SolverSettings(time_limit_s=time_limit_s))
        done()
    report: dict[str, Any] = {
        "dataset": str(data_dir),
        "method": method,
        "scope": scope,
        "reference_date": system.reference_date.isoformat(),
    }
    report.update(summarize(system, solution.unit_of_child, travel).to_dict())
    report.update(
        objective=round(solution.objective, 1),
        bound=None if solution.bound is None else round(solution.bound, 1),
        gap=solution.gap,
        wall_seconds=round(solution.wall_seconds, 2),
        splits=[str(s) for s in solution.splits],
    )
    return report, assignment_frame(problem, solution)


def render(report: dict[str, Any], console: Console) -> None:
    r = report
    shares = ", ".join(f"{z} {r['placed_by_zone'][z]} ({100 * r['share_by_zone'][z]:.1f}%)" for z in r["placed_by_zone"])
    travel = r["travel"]
    median = "-" if travel["median_minutes"] is None else f"{travel['median_minutes']:.0f} min"
    p90 = "-" if travel["p90_minutes"] is None else f"{travel['p90_minutes']:.0f} min"
    console.print(f"[bold]{r['method']}[/bold] on {r['dataset']} (scope {r['scope']}, {r['reference_date']}):")
    console.print(f"  placed {r['placed']} / {r['children']}: {shares}; without a place {r['unplaced']}")
    anchors = ", ".join(f"{k.replace('_', ' ')} {n}" for k, n in r.get("anchor_used", {}).items())
    console.print(f"  transit from the anchor: median {median}, p90 {p90} (anchors: {anchors or '-'})")
    console.print(f"  in a hotel {r.get('in_hotel', 0)}, school changes {r.get('school_changes', 0)}")
    sib = r["siblings"]
    console.print(f"  fratries kept together {sib['kept_together']} / {sib['groups']}, split {sib['split']}")
    console.print(f"  daily cost of the new places {r['daily_cost_eur']:,.0f} EUR")
    bound = "-" if r["bound"] is None else f"{r['bound']:,.1f}"
    gap = "-" if r["gap"] is None else f"{100 * r['gap']:.2f}%"
    console.print(f"  objective {r['objective']:,.1f}, proven bound {bound}, gap {gap}, wall {r['wall_seconds']:.2f} s")
    for split in r["splits"]:
        console.print(f"  [yellow]{split}[/yellow]")
    if r.get("out"):
        console.print(f"  wrote {r['out']}")


def register(app: typer.Typer) -> None:
    """Add this area's commands to the app."""

    @app.command()
    def solve(
        data: Annotated[Path, typer.Option(help="Dataset directory (CSV or Parquet).")],
        method: Annotated[str, typer.Option(help="greedy (first come, nearest place) or optimal.")] = "optimal",
        weights: Annotated[Path | None, typer.Option(help="TOML file overriding matcher/weights.toml.")] = None,
        time_limit: Annotated[float, typer.Option(min=0.1, help="Optimiser time limit, seconds.")] = 30.0,
        scope: Annotated[str, typer.Option(help="waiting (children without a place) or all (full re-plan).")] = "waiting",
        out: Annotated[Path | None, typer.Option(help="Write the assignment with explanations (.csv or .parquet).")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    ) -> None:
        """Assign the children of a dataset (greedy or optimal); print the outcome, optionally write it."""
        console = Console(stderr=as_json)
        try:
            check_options(method, scope, out)
            chosen = Weights.load(weights) if weights else Weights.default()
            report, frame = run_solve(
                data_dir=data, method=method, weights=chosen, time_limit_s=time_limit, scope=scope,
                console=console, show_progress=not as_json,
            )
            if out is not None:
                report["out"] = str(write_assignment(frame, out))
        except (PlacementError, OSError) as err:
            console.print(f"[red]error:[/red] {err}", soft_wrap=True)
            raise typer.Exit(2) from None
        if as_json:
            typer.echo(json.dumps(report, indent=2, ensure_ascii=False))
        else:
            render(report, console)
