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

from api.commands import error_line
from matcher import AgeBand, DomainError, PlacementError, Weights, Zone
from matcher.words import Lang, number, percent, said, split_words, structure_name

METHODS = ("greedy", "optimal")
SCOPES = ("waiting", "all")
OUT_FORMATS = {".csv": "csv", ".parquet": "parquet"}
COMPONENTS = ("transit_time", "outside_paris", "outside_ile_de_france", "daily_price", "stability")
"""Score components written as columns (matcher.scoring.score_option); others get their own column too."""


def check_options(method: str, scope: str, out: Path | None) -> None:
    """Reject an unknown method, scope or output format before any work is done."""
    if method not in METHODS:
        raise DomainError(f"unknown method {method!r}; expected one of {', '.join(METHODS)}",
                          fr=f"méthode {method!r} inconnue ; attendue : {', '.join(METHODS)}")
    if scope not in SCOPES:
        raise DomainError(f"unknown scope {scope!r}; expected one of {', '.join(SCOPES)}",
                          fr=f"périmètre {scope!r} inconnu ; attendu : {', '.join(SCOPES)}")
    if out is not None:
        if out.suffix.lower() not in OUT_FORMATS:
            raise DomainError(f"--out {out}: unknown format {out.suffix or '(no extension)'!r}; use .csv or .parquet",
                              fr=f"--out {out} : format {out.suffix or '(sans extension)'!r} inconnu ; utilisez .csv "
                              "ou .parquet")
        if not out.parent.is_dir():
            raise DomainError(f"--out {out}: directory {out.parent} does not exist",
                              fr=f"--out {out} : le dossier {out.parent} n'existe pas")


def assignment_frame(problem: Any, solution: Any, lang: Lang = "fr") -> pd.DataFrame:
    """One row per child of the problem: place, minutes, score and its components, and the
    explanation in ``lang`` (:func:`solver.explain.explanation_text`)."""
    from solver.explain import explanation_text, structure_names

    split_of = {s.group_id: s for s in solution.splits}
    structures = structure_names(problem)
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
        split = split_of.get(child.sibling_group_id) if child.sibling_group_id else None
        row["explanation"] = (explanation_text(problem, e, split, lang, structures, solution.method)
                              if e is not None else "")
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


_STEPS = {
    "fr": {"read": "Lecture de {}",
           "travel": "Minutes en transports en commun depuis chaque domicile, école, lieu de visite et service",
           "assign": "Affectation des enfants ({method}, {scope})",
           "greedy": "glouton", "optimal": "optimiseur",
           "waiting": "enfants en attente", "all": "tous les enfants"},
    "en": {"read": "Reading {}",
           "travel": "Public-transport minutes from every family home, school, visit site and service",
           "assign": "Assigning the children ({method}, scope {scope})",
           "greedy": "greedy", "optimal": "optimal", "waiting": "waiting", "all": "all"},
}
"""The progress steps shown while the command works."""


def run_solve(
    *,
    data_dir: Path,
    method: str,
    weights: Weights,
    time_limit_s: float,
    scope: str,
    console: Console,
    show_progress: bool,
    lang: Lang = "fr",
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Solve the dataset; return the report (JSON-ready) and the assignment frame. Each split
    fratrie of the report keeps its machine fields and gets ``sentence``: why, in ``lang``."""
    from api.commands.demo import _steps
    from data.io import read_dataset
    from data.transit import travel_matrix
    from matcher.outcome import summarize
    from solver.greedy import solve_greedy
    from solver.optimal import solve_optimal
    from solver.problem import Problem
    from solver.solution import SolverSettings, require_valid_solution

    if not data_dir.is_dir():
        raise DomainError(f"--data {data_dir}: no such dataset directory",
                          fr=f"--data {data_dir} : ce dossier de données n'existe pas")
    with _steps(console, show_progress) as steps:
        words = _STEPS[lang]
        done = steps.step(words["read"].format(data_dir))
        system = read_dataset(data_dir)
        done()
        done = steps.step(words["travel"])
        travel = travel_matrix(system.origins, system.structures,
                               progress=lambda d, t: done("", d / t if t else 1.0))
        done()
        done = steps.step(words["assign"].format(method=words[method], scope=words[scope]))
        problem = Problem.build(system, travel, weights, scope=scope)  # type: ignore[arg-type]
        if method == "greedy":
            solution = solve_greedy(problem)
        else:
            solution = solve_optimal(problem, SolverSettings(time_limit_s=time_limit_s))
        require_valid_solution(problem, solution, f"placement solve ({method})", f"placement solve ({method})")
        done()
    names = {s.id: structure_name(s) for s in system.structures}
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
        splits=[{**s.to_dict(), "sentence": split_words(s.to_dict(), names, lang)} for s in solution.splits],
        bound_source=solution.bound_source,
        warnings=list(solution.warnings),
    )
    return report, assignment_frame(problem, solution, lang)


_WORDS = {
    "fr": {
        "head": "[bold]{method}[/bold] sur {dataset} ({scope}, au {date}) :",
        "greedy": "Référence gloutonne", "optimal": "Optimiseur",
        "waiting": "les enfants en attente d'une place", "all": "tous les enfants, re-planification complète",
        "placed": "  {placed} enfants placés sur {children} : {zones} ; {unplaced} sans place",
        "zone_paris": "{n} à Paris ({share})", "zone_ile_de_france": "{n} ailleurs en Île-de-France ({share})",
        "zone_province": "{n} hors Île-de-France ({share})",
        "travel": "  trajet depuis l'ancrage : médiane {median}, 90e centile {p90} ({anchors})",
        "hotel": "  hôtel proposé (16-21 ans) : {hotel} ; changements d'école : {schools}",
        "fratries": "  fratries : {groups}, dont {kept} réunies avec chaque enfant placé, {split} réparties entre "
                    "plusieurs structures{allowed}, {not_all} réunies avec des enfants sans place, {none} sans aucune place",
        "unplaced_by": "  sans place, par âge : {ages} ; par besoin : {needs}",
        "age": "{band} ans {n}",
        "cost": "  coût journalier des nouvelles places : {cost}",
        "objective": "  objectif {objective} (en minutes de trajet), borne inférieure prouvée {bound}{source}, "
                     "écart à la borne {gap}, durée {wall}",
        "allowed": " (séparation permise par le juge pour {})",
        "source_exact": " (exacte : aucun enfant à placer)", "source_flow": " (par le flot à coût minimum)",
        "source_lp": " (par la relaxation linéaire)", "source_lagrangian": " (par la relaxation lagrangienne)",
        "source_mip": " (par le modèle en nombres entiers)",
        "warning": "avertissement :", "wrote": "  affectation écrite dans {}",
    },
    "en": {
        "head": "[bold]{method}[/bold] on {dataset} ({scope}, on {date}):",
        "greedy": "Greedy baseline", "optimal": "Optimiser",
        "waiting": "the children waiting for a place", "all": "every child, a full re-plan",
        "placed": "  {placed} of {children} children placed: {zones}; {unplaced} without a place",
        "zone_paris": "{n} in Paris ({share})", "zone_ile_de_france": "{n} elsewhere in Île-de-France ({share})",
        "zone_province": "{n} outside Île-de-France ({share})",
        "travel": "  transit from the anchor: median {median}, p90 {p90} ({anchors})",
        "hotel": "  proposed a hotel (16-21): {hotel}; school changes: {schools}",
        "fratries": "  fratries: {groups}, of which {kept} kept together with every child placed, {split} split over "
                    "several structures{allowed}, {not_all} together with some children without a place, {none} with no place",
        "unplaced_by": "  without a place, by age: {ages}; by need: {needs}",
        "age": "{band} {n}",
        "cost": "  daily cost of the new places: {cost}",
        "objective": "  objective {objective} (in minutes of travel), proven lower bound {bound}{source}, "
                     "gap to the bound {gap}, wall time {wall}",
        "allowed": " ({} where the judge allows the children apart)",
        "source_exact": " (exact: no child to place)", "source_flow": " (from the min-cost flow)",
        "source_lp": " (from the linear relaxation)", "source_lagrangian": " (from the Lagrangian relaxation)",
        "source_mip": " (from the integer model)",
        "warning": "warning:", "wrote": "  wrote the assignment to {}",
    },
}
"""The printed report in each language (the JSON keeps the machine fields, in English)."""


def render(report: dict[str, Any], console: Console, lang: Lang = "fr") -> None:
    """The report as sentences in ``lang``, numbers rounded (minutes and euros as integers)."""
    from api.commands.demo import _WORDS as DEMO_WORDS, _need

    r, w = report, _WORDS[lang]
    zones = ", ".join(w[f"zone_{z.value}"].format(n=r["placed_by_zone"][z.value],
                                                   share=percent(r["share_by_zone"][z.value], lang))
                      for z in Zone if z.value in r["placed_by_zone"])
    travel = r["travel"]
    median = "-" if travel["median_minutes"] is None else f"{travel['median_minutes']:.0f} min"
    p90 = "-" if travel["p90_minutes"] is None else f"{travel['p90_minutes']:.0f} min"
    anchors = ", ".join(f"{DEMO_WORDS[lang].get(f'anchor_{k}', k.replace('_', ' '))} {n}"
                        for k, n in r.get("anchor_used", {}).items())
    console.print(w["head"].format(method=w[r["method"]], dataset=r["dataset"], scope=w[r["scope"]],
                                   date=r["reference_date"]), soft_wrap=True)
    console.print(w["placed"].format(placed=r["placed"], children=r["children"], zones=zones, unplaced=r["unplaced"]),
                  soft_wrap=True)
    console.print(w["travel"].format(median=median, p90=p90, anchors=anchors or "-"), soft_wrap=True)
    console.print(w["hotel"].format(hotel=r.get("in_hotel", 0), schools=r.get("school_changes", 0)), soft_wrap=True)
    sib = r["siblings"]
    console.print(w["fratries"].format(groups=sib["groups"], kept=sib["kept_together"],
                                       split=sib["split"] + sib.get("split_allowed", 0),
                                       allowed=w["allowed"].format(sib["split_allowed"]) if sib.get("split_allowed") else "",
                                       not_all=sib.get("not_all_placed", 0), none=sib.get("none_placed", 0)),
                  soft_wrap=True)
    if r["unplaced"]:
        ages = ", ".join(w["age"].format(band=b.value, n=r["unplaced_by_age_band"].get(b.value, 0)) for b in AgeBand
                         if r["unplaced_by_age_band"].get(b.value))
        needs = ", ".join(f"{_need(k, lang)} {n}" for k, n in r["unplaced_by_need"].items() if n) or "-"
        console.print(w["unplaced_by"].format(ages=ages or "-", needs=needs), soft_wrap=True)
    cost = f"{number(r['daily_cost_eur'], lang)} €" if lang == "fr" else f"{r['daily_cost_eur']:,.0f} EUR"
    console.print(w["cost"].format(cost=cost), soft_wrap=True)
    bound = "-" if r["bound"] is None else number(r["bound"], lang)
    gap = "-" if r["gap"] is None else percent(r["gap"], lang, 2)  # as the optimiser's targets are stated
    wall = f"{r['wall_seconds']:.1f} s"
    source = w.get(f"source_{r.get('bound_source')}", "") if r["bound"] is not None else ""
    console.print(w["objective"].format(objective=number(r["objective"], lang), bound=bound, source=source, gap=gap,
                                        wall=wall.replace(".", ",") if lang == "fr" else wall), soft_wrap=True)
    for warning in r.get("warnings", []):
        console.print(f"  [red]{w['warning']}[/red] {said(warning, lang)}", soft_wrap=True)
    for split in r["splits"]:
        console.print(f"  [yellow]{split['sentence']}[/yellow]", soft_wrap=True)
    if r.get("out"):
        console.print(w["wrote"].format(r["out"]), soft_wrap=True)


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
        lang: Annotated[str, typer.Option("--lang", help="Language of the report and sentences: fr (default) or en; "
                                          "the JSON's machine fields are English either way.")] = "fr",
    ) -> None:
        """Assign the children of a dataset (greedy or optimal); print the outcome, optionally write it."""
        console = Console(stderr=as_json)
        if lang not in ("fr", "en"):
            console.print(f"[red]error:[/red] --lang must be fr or en, not {lang[:16]!r}")
            raise typer.Exit(2)
        try:
            check_options(method, scope, out)
            chosen = Weights.load(weights) if weights else Weights.default()
            report, frame = run_solve(
                data_dir=data, method=method, weights=chosen, time_limit_s=time_limit, scope=scope,
                console=console, show_progress=not as_json, lang=lang,  # type: ignore[arg-type]
            )
            if out is not None:
                report["out"] = str(write_assignment(frame, out))
        except (PlacementError, OSError) as err:
            console.print(error_line(err, lang), style="red", soft_wrap=True, markup=False, highlight=False)
            raise typer.Exit(2) from None
        if as_json:
            typer.echo(json.dumps(report, indent=2, ensure_ascii=False))
        else:
            render(report, console, lang)  # type: ignore[arg-type]
