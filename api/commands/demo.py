"""`placement demo`: the main job on the embedded default.

Builds the Paris instance (the generated scale-1 scenario, or a dataset directory), stores it
in the embedded SQLite database and reads it back, computes public-transport minutes from every
family home, school, visit site and service to every structure, assigns the children waiting for a place with the greedy
baseline (first come, nearest available) and with the optimiser, and prints both side by side.
"""

from __future__ import annotations

import json
import re
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Iterator

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from api.commands import error_line
from matcher import AgeBand, AnchorKind, PlacementError, Weights, Zone
from matcher.outcome import summarize
from matcher.words import Lang, number, percent, said, split_words, structure_name


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


_STEPS = {
    "fr": {"build": "Construction du dispositif parisien de placement",
           "store": "Enregistrement dans la base de données et relecture",
           "travel": "Minutes en transports en commun depuis chaque domicile, école, lieu de visite et service",
           "assign": "Affectation des enfants en attente ({})"},
    "en": {"build": "Building the Paris placement system", "store": "Storing it in the database and reading it back",
           "travel": "Public-transport minutes from every family home, school, visit site and service",
           "assign": "Assigning the waiting children ({})"},
}
"""The progress steps the demo shows while it works."""


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
    lang: Lang = "fr",
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
            "Run it on its own store (the default, var/demo.sqlite3) or pass --reset to replace them anyway",
            fr=f"la base {db.url_for_display} contient {work['reservations']} réservation(s) et {work['placements']} "
            "placement(s) confirmé(s) par le service des agents ; la démonstration les remplacerait. Lancez-la sur "
            "sa propre base (par défaut, var/demo.sqlite3) ou passez --reset pour les remplacer quand même",
        )
    with _steps(console, show_progress) as steps:
        done = steps.step(_STEPS[lang]["build"])
        if data_dir is not None:
            system = read_dataset(data_dir)
            source = str(data_dir)
        else:
            system = generate(scale=scale, seed=seed, progress=lambda msg, f: done(msg, f))
            source = f"generated (scale {scale:g}, seed {seed})"
        done()

        done = steps.step(_STEPS[lang]["store"])
        db.migrate()
        db.save_system(system)
        system = db.load_system()
        done()

        done = steps.step(_STEPS[lang]["travel"])
        travel = travel_matrix(system.origins, system.structures, progress=lambda d, t: done("", d / t if t else 1.0))
        done()

        methods: dict[str, dict[str, Any]] = {}
        problem = Problem.build(system, travel, weights, scope="waiting")
        solutions = {}
        for name in ("greedy", "optimal"):
            done = steps.step(_STEPS[lang]["assign"].format(_WORDS[lang][name]))
            if name == "greedy":
                solutions[name] = solve_greedy(problem, with_bound=False, with_explanations=False)
            else:
                solutions[name] = solve_optimal(problem, SolverSettings(time_limit_s=time_limit_s), with_explanations=False)
            require_valid_solution(problem, solutions[name], f"placement demo ({name})", f"placement demo ({name})")
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
                splits=[split_words(s.to_dict(), structure_names, lang) for s in solution.splits],
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


_WORDS: dict[str, dict[str, str]] = {
    "fr": {
        "title": "Enfants en attente d'une place : référence gloutonne et optimiseur",
        "intro": "[bold]Dispositif parisien de placement[/bold] ({source}, enregistré dans {database}), au {date} : "
                 "{children} enfants confiés, {fratries} fratries, {structures} structures, {places} places dont "
                 "{free} libres ; [bold]{waiting} enfants en attente d'une place[/bold].",
        "greedy": "glouton", "optimal": "optimiseur",
        "greedy_who": "l'algorithme glouton", "optimal_who": "l'optimiseur",
        "placed": "placés", "zone_paris": "  à Paris", "zone_ile_de_france": "  ailleurs en Île-de-France",
        "zone_province": "  hors Île-de-France", "median": "trajet depuis l'ancrage, médiane",
        "p90": "trajet depuis l'ancrage, 90e centile", "anchor": "  ancrage : {}",
        "anchor_family_home": "domicile familial", "anchor_school": "école", "anchor_visit_site": "lieu de visite",
        "anchor_service": "service", "hotel": "hôtel proposé (16-21 ans)", "school_changes": "changements d'école",
        "fratries": "fratries en attente", "kept": "  réunies, chaque enfant placé",
        "split": "  réparties entre plusieurs structures", "not_all": "  réunies, certains enfants sans place",
        "none": "  aucune place", "unplaced": "sans place", "age": "  {} ans", "need": "  besoin : {}",
        "cost": "coût journalier des nouvelles places", "objective": "objectif (en minutes de trajet)",
        "bound": "borne inférieure prouvée", "gap": "écart à la borne", "wall": "durée",
        "warning": "avertissement",
        "only": "{n} enfant(s) ont une place avec {a} et aucune avec {b} : {fr} d'entre eux dans {groups} "
                "fratrie(s) ; besoins : {needs}.",
        "no_need": "aucun besoin particulier",
        "why": "Les places sont moins nombreuses que les enfants en attente : l'optimiseur donne chaque place là où "
               "elle sert le plus (une urgence, un enfant de 0 à 3 ans, un enfant handicapé ou qui a besoin de soins "
               "psychiques, un enfant d'une fratrie, puis les trajets plus courts) et ne répartit une fratrie que "
               "lorsque la garder réunie laisserait d'autres enfants sans place (voir docs/SOLVER.md).",
        "why_fit": "Les places libres sont assez nombreuses, mais toutes ne conviennent pas aux enfants en attente "
                   "(âge, sexe, besoins, décisions du juge) : l'optimiseur donne chaque place là où elle sert le plus "
                   "(une urgence, un enfant de 0 à 3 ans, un enfant handicapé ou qui a besoin de soins psychiques, "
                   "un enfant d'une fratrie, puis les trajets plus courts) et ne répartit une fratrie que lorsque la "
                   "garder réunie laisserait d'autres enfants sans place (voir docs/SOLVER.md).",
    },
    "en": {
        "title": "Children waiting for a place: greedy baseline vs optimiser",
        "intro": "[bold]Paris placement system[/bold] ({source}, stored in {database}), on {date}: {children} children "
                 "in care, {fratries} fratries, {structures} structures, {places} places of which {free} free; "
                 "[bold]{waiting} children waiting for a place[/bold].",
        "greedy": "greedy", "optimal": "optimal",
        "greedy_who": "greedy", "optimal_who": "the optimiser",
        "placed": "placed", "zone_paris": "  in Paris", "zone_ile_de_france": "  elsewhere in Île-de-France",
        "zone_province": "  in the provinces", "median": "transit from the anchor, median",
        "p90": "transit from the anchor, p90", "anchor": "  anchor: {}",
        "anchor_family_home": "family home", "anchor_school": "school", "anchor_visit_site": "visit site",
        "anchor_service": "service", "hotel": "proposed a hotel (16-21)", "school_changes": "school changes",
        "fratries": "fratries waiting", "kept": "  kept together, every child placed",
        "split": "  split over several structures", "not_all": "  together, some children without a place",
        "none": "  no place at all", "unplaced": "without a place", "age": "  aged {}", "need": "  need: {}",
        "cost": "daily cost of the new places", "objective": "objective (in minutes of travel)",
        "bound": "proven lower bound", "gap": "gap to the bound", "wall": "wall time", "warning": "warning",
        "only": "{n} child(ren) have a place with {a} and none with {b}: {fr} of them in {groups} fratrie(s); "
                "needs: {needs}.",
        "no_need": "no special need",
        "why": "Places are fewer than the children waiting: the optimiser gives each place where it does most good "
               "(an urgent case, a 0-3, a child with a disability or needing psychological care, a child of a "
               "fratrie, then shorter trips), and splits a fratrie only when keeping it whole would leave other "
               "children without a place (see docs/SOLVER.md).",
        "why_fit": "Free places are enough in number, but not all of them fit the children waiting (age, sex, needs, "
                   "the judge's orders): the optimiser gives each place where it does most good (an urgent case, a "
                   "0-3, a child with a disability or needing psychological care, a child of a fratrie, then "
                   "shorter trips), and splits a fratrie only when keeping it whole would leave other children "
                   "without a place (see docs/SOLVER.md).",
    },
}
"""The demo's table and sentences in each language (machine fields stay in the JSON)."""


def _minutes(x: float | None) -> str:
    return "-" if x is None else f"{x:.0f} min"


def render(report: DemoReport, console: Console, lang: Lang = "fr") -> None:
    w = _WORDS[lang]
    d = report.dataset
    source = d["source"]
    if lang == "fr":  # the JSON keeps "generated (scale 1, seed 1)"
        source = re.sub(r"^generated \(scale ([^,]+), seed (\d+)\)$",
                        lambda g: f"population générée, échelle {g[1].replace('.', ',')}, graine {g[2]}", source)
    console.print(w["intro"].format(source=source, database=d["database"], date=d["reference_date"],
                                    children=d["children"], fratries=d["sibling_groups"], structures=d["structures"],
                                    places=d["places"], free=d["free_places"], waiting=d["waiting"]))
    names = list(report.methods)
    table = Table(title=w["title"])
    table.add_column("", no_wrap=True)
    for name in names:
        table.add_column(w.get(name, name), justify="right")
    m = report.methods

    def row(label: str, fn: Any) -> None:
        table.add_row(label, *(fn(m[n]) for n in names))

    row(w["placed"], lambda s: f"{s['placed']} / {s['children']}")
    for zone in (Zone.PARIS, Zone.ILE_DE_FRANCE, Zone.PROVINCE):
        row(w[f"zone_{zone.value}"], lambda s, z=zone.value: f"{s['placed_by_zone'][z]} ({percent(s['share_by_zone'][z], lang)})")
    row(w["median"], lambda s: _minutes(s["travel"]["median_minutes"]))
    row(w["p90"], lambda s: _minutes(s["travel"]["p90_minutes"]))
    for kind in AnchorKind:  # the point each child's travel is measured from (Child.anchor)
        label = w["anchor"].format(w.get(f"anchor_{kind.value}", kind.value.replace("_", " ")))
        row(label, lambda s, k=kind.value: str(s["anchor_used"].get(k, 0)))
    row(w["hotel"], lambda s: str(s["in_hotel"]))
    row(w["school_changes"], lambda s: str(s["school_changes"]))
    row(w["fratries"], lambda s: str(s["siblings"]["groups"]))
    row(w["kept"], lambda s: str(s["siblings"]["kept_together"]))
    row(w["split"], lambda s: str(s["siblings"]["split"] + s["siblings"]["split_allowed"]))
    row(w["not_all"], lambda s: str(s["siblings"]["not_all_placed"]))
    row(w["none"], lambda s: str(s["siblings"].get("none_placed", 0)))
    row(w["unplaced"], lambda s: str(s["unplaced"]))
    for band in AgeBand:
        row(w["age"].format(band.value), lambda s, b=band.value: str(s["unplaced_by_age_band"][b]))
    needs = sorted({n for s in m.values() for n in s["unplaced_by_need"]})
    for need in needs:
        row(w["need"].format(_need(need, lang)), lambda s, n=need: str(s["unplaced_by_need"].get(n, 0)))
    row(w["cost"], lambda s: f"{number(s['daily_cost_eur'], lang)} €" if lang == "fr" else f"{s['daily_cost_eur']:,.0f} EUR")
    row(w["objective"], lambda s: number(s["objective"], lang))
    row(w["bound"], lambda s: "-" if s["bound"] is None else number(s["bound"], lang))  # its source: the JSON
    row(w["gap"], lambda s: "-" if s["gap"] is None else percent(s["gap"], lang))
    row(w["wall"], lambda s: f"{s['wall_seconds']:.2f} s".replace(".", ",") if lang == "fr" else f"{s['wall_seconds']:.2f} s")
    console.print(table)
    for name in names:
        for split in m[name]["splits"]:
            console.print(f"[yellow]{w.get(name, name)} :[/yellow] {split}" if lang == "fr"
                          else f"[yellow]{name}:[/yellow] {split}")
        for warning in m[name].get("warnings", []):
            console.print(f"[red]{w.get(name, name)}, {w['warning']}{' :' if lang == 'fr' else ':'}[/red] "
                          f"{said(warning, lang)}")
    if report.comparison:
        for key, a, b in (("placed_by_greedy_only", "greedy", "optimal"), ("placed_by_optimal_only", "optimal", "greedy")):
            c = report.comparison[key]
            if not c["children"]:
                continue
            needs_said = ", ".join(f"{_need(k, lang)} ({n})" for k, n in c["by_need"].items() if k != "none") or w["no_need"]
            console.print(w["only"].format(n=c["children"], a=w[f"{a}_who"], b=w[f"{b}_who"], fr=c["in_fratries"],
                                           groups=c["fratries"], needs=needs_said))
        why = _why(report)
        if why is not None:
            console.print(w[why])


def _why(report: DemoReport) -> str | None:
    """Which sentence says why children are left without a place, only when it is true: ``why``
    when the free places are fewer than the children waiting, ``why_fit`` when they are not but
    a method still leaves a child without a place (the free places do not fit them), none when
    every child is placed."""
    if report.dataset["free_places"] < report.dataset["waiting"]:
        return "why"
    if any(s["unplaced"] for s in report.methods.values()):
        return "why_fit"
    return None


def _need(value: str, lang: Lang) -> str:
    """A need's value ("disability") in the table's short words ("handicap")."""
    if value == "none":
        return "aucun besoin particulier" if lang == "fr" else "no special need"
    return _NEED_SHORT[lang].get(value, value.replace("_", " "))


_NEED_SHORT = {
    "fr": {"disability": "handicap", "psychic_care": "soins psychiques", "mother_child": "accueil mère-enfant",
           "protection": "protection (place secrète)", "unaccompanied_minor": "mineur non accompagné"},
    "en": {},
}
"""Short names of the needs for the table (matcher.words.NEED_WORDS reads as part of a sentence)."""


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
        lang: Annotated[str, typer.Option("--lang", help="Language of the table and sentences: fr (default) or en; "
                                          "the JSON's machine fields are English either way.")] = "fr",
    ) -> None:
        """Build the Paris instance, assign the waiting children (greedy and optimal), print the outcome."""
        console = Console(stderr=as_json)
        if lang not in ("fr", "en"):
            console.print(f"[red]error:[/red] --lang must be fr or en, not {lang[:16]!r}")
            raise typer.Exit(code=2)
        try:
            report = run_demo(
                data_dir=data, scale=scale, seed=seed, database_url=database_url,
                time_limit_s=time_limit, weights=Weights.load(weights) if weights else Weights.default(),
                console=console, show_progress=not as_json, reset=reset, lang=lang,  # type: ignore[arg-type]
            )
        except PlacementError as err:
            console.print(error_line(err, lang), style="red", markup=False, highlight=False)
            raise typer.Exit(code=1) from None
        if as_json:
            typer.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
        else:
            render(report, console, lang)  # type: ignore[arg-type]
