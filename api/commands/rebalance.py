"""`placement rebalance`: propose moves that bring children placed far away closer to home.

Reads a dataset (:func:`data.io.read_dataset`), computes the public-transport minutes, and runs
:func:`planning.rebalance.plan_rebalancing` (or the greedy baseline) for a date. ``--dry-run``
(the default) prints the plan (and writes it as JSON with ``--out``); ``--apply`` records it in
the database as a rebalancing job with a reservation for every move into a place free now, in
one transaction: if anything fails, nothing is written.
"""

from __future__ import annotations

import json
import os
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from api.commands import error_line
from matcher import DomainError, PlacementError, Weights
from matcher.words import number, percent

METHODS = ("optimal", "greedy")


def _date(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise DomainError(f"--on {value!r}: not a date (YYYY-MM-DD)",
                          fr=f"--on {value!r} : pas une date (AAAA-MM-JJ)") from None


def run_rebalance(*, data_dir: Path, method: str, weights: Weights, settings: Any, on: date | None,
                  max_moves: int | None, min_gain: float) -> tuple[Any, Any]:
    """(plan, system) for a dataset directory."""
    from data.io import read_dataset
    from data.transit import travel_matrix
    from planning.rebalance import greedy_rebalancing, plan_rebalancing

    if method not in METHODS:
        raise DomainError(f"unknown method {method!r}; expected one of {', '.join(METHODS)}",
                          fr=f"méthode {method!r} inconnue ; attendue : {', '.join(METHODS)}")
    if not data_dir.is_dir():
        raise DomainError(f"--data {data_dir}: no such dataset directory",
                          fr=f"--data {data_dir} : ce dossier de données n'existe pas")
    system = read_dataset(data_dir)
    travel = travel_matrix(system.origins, system.structures)
    run = plan_rebalancing if method == "optimal" else greedy_rebalancing
    return run(system, travel, weights, settings, on=on, max_moves=max_moves, min_gain=min_gain), system


def apply_plan(plan: dict[str, Any], database_url: str | None, hold_hours: float) -> tuple[str, list[str]]:
    """Record the plan in the store in one transaction; (job id, reservation ids)."""
    from data.db import Database
    from data.db import rebalancing as store
    from data.db.database import DEFAULT_URL
    from data.db.repository import utcnow

    from api.services import fault_pause
    from api.settings import Settings

    db = Database(database_url or DEFAULT_URL)
    try:
        db.migrate()
        if db.is_empty():
            raise DomainError(f"the database {db.url_for_display} holds no placement system: "
                              "run `placement serve --data DIR` or `placement demo` first",
                              fr=f"la base {db.url_for_display} ne contient aucun système de placement : lancez "
                              "d'abord `placement serve --data DIR` ou `placement demo`")
        with db.write() as session:
            job_id, rows = store.record_plan(session, plan, utcnow(), timedelta(hours=hold_hours))
            fault_pause(Settings(), "apply")  # test hook: killed here, nothing may be left
            return job_id, [r.id for r in rows]
    finally:
        db.dispose()


def write_plan(report: dict[str, Any], out: Path) -> Path:
    if out.suffix.lower() != ".json":
        raise DomainError(f"--out {out}: the plan is written as JSON (.json)",
                          fr=f"--out {out} : le plan s'écrit en JSON (.json)")
    if not out.parent.is_dir():
        raise DomainError(f"--out {out}: directory {out.parent} does not exist",
                          fr=f"--out {out} : le dossier {out.parent} n'existe pas")
    tmp = out.parent / f".{out.name}.tmp-{uuid.uuid4().hex[:8]}"
    try:
        tmp.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


_METHOD_WORDS = {"mip": "optimisation exacte", "greedy": "glouton"}
_STATUS_WORDS = {"optimal": "optimal", "feasible": "réalisable, temps limite atteint", "heuristic": "heuristique"}
_EXCLUDED_WORDS = {"judge_placed_away": "éloignement voulu par le juge", "settled_recently": "arrivés récemment",
                   "turns_18_soon": "bientôt 18 ans", "turns_21_soon": "bientôt 21 ans",
                   "current_place_breaks_rule": "place actuelle déjà hors règle"}
"""The plan's machine words (``method``, ``status``, the excluded children's ``rule``) in French."""


def _figures(summary: dict[str, Any]) -> str:
    share = summary["share_by_zone"]
    travel = summary["travel"]
    median = "-" if travel["median_minutes"] is None else f"{travel['median_minutes']:.0f} min"
    sib = summary["siblings"]
    return (f"Paris {percent(share['paris'], 'fr')}, Île-de-France {percent(share['ile_de_france'], 'fr')}, "
            f"province {percent(share['province'], 'fr')} ; trajet médian {median} ; "
            f"fratries séparées {sib['split'] + sib['split_allowed']} / {sib['groups']}")


def render(report: dict[str, Any], console: Console) -> None:
    t = report["totals"]
    console.print(f"[bold]Rééquilibrage au {report['on']}[/bold] ({_METHOD_WORDS.get(report['method'], report['method'])}, "
                  f"{_STATUS_WORDS.get(report['status'], report['status'])}) : "
                  f"{report['candidates']} enfants candidats, exclus : "
                  + (", ".join(f"{_EXCLUDED_WORDS.get(k, k)} {v}" for k, v in report["excluded"].items()) or "aucun"))
    for m in report["moves"]:
        console.print(f"  {m['number']:>3}. chaîne {m['chain']}.{m['step']}  {m['child_id']} : "
                      f"{m['from_unit']} → {m['to_unit']}  (valeur {m['value']:.0f})", soft_wrap=True)
        console.print(f"       {m['reason']}", soft_wrap=True)
    saved, per_move, disruption = (number(t[k], "fr") for k in ("minutes_saved", "minutes_saved_per_move", "disruption"))
    console.print(f"  {t['moves']} mouvements en {t['chains']} chaînes (la plus longue : {t['longest_chain']}), "
                  f"{saved} min de trajet en moins ({per_move} par mouvement), "
                  f"coût des changements {disruption}, fratries réunies {t['fratries_reunited']}")
    bound = "-" if report["bound"] is None else number(report["bound"], "fr")
    gap = "-" if report["gap"] is None else percent(report["gap"], "fr", 2)
    console.print(f"  valeur du plan {number(report['objective'], 'fr')}, borne prouvée {bound}, écart {gap}, "
                  f"{number(report['wall_seconds'], 'fr', 1)} s")
    console.print(f"  avant : {_figures(report['before'])}")
    console.print(f"  après : {_figures(report['after'])}")
    if report.get("applied"):
        a = report["applied"]
        console.print(f"  enregistré : plan {a['job_id']}, {len(a['reservations'])} réservation(s)")
    if report.get("out"):
        console.print(f"  écrit : {report['out']}")


def register(app: typer.Typer) -> None:
    """Add this area's commands to the app."""

    @app.command()
    def rebalance(
        data: Annotated[Path, typer.Option(help="Dataset directory (CSV or Parquet).")],
        max_moves: Annotated[int | None, typer.Option(min=0, help="Most children moved.")] = None,
        min_gain: Annotated[float, typer.Option(min=0, help="Least minutes a move must save (except to reunite a fratrie).")] = 0.0,
        on: Annotated[str | None, typer.Option(help="Date of the moves (YYYY-MM-DD); default: the data's reference date.")] = None,
        method: Annotated[str, typer.Option(help="optimal (the MIP) or greedy (farthest child to the nearest free place).")] = "optimal",
        max_chain: Annotated[int | None, typer.Option(min=1, help="Longest chain of moves (default: matcher/weights.toml).")] = None,
        time_limit: Annotated[float | None, typer.Option(min=0.1, help="Solver time limit, seconds.")] = None,
        settings_file: Annotated[Path | None, typer.Option("--settings", help="TOML file with a [rebalancing] section overriding the defaults.")] = None,
        weights: Annotated[Path | None, typer.Option(help="TOML file overriding matcher/weights.toml [objective].")] = None,
        apply: Annotated[bool, typer.Option("--apply/--dry-run", help="--dry-run (default) only shows the plan; --apply records it as reservations.")] = False,
        database_url: Annotated[str | None, typer.Option("--database-url", envvar="DATABASE_URL", help="Store for --apply (default: the embedded SQLite file).")] = None,
        hold_hours: Annotated[float, typer.Option(min=0.1, help="How long the reservations of --apply hold the places.")] = 48.0,
        out: Annotated[Path | None, typer.Option(help="Write the plan as JSON.")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print the plan as JSON.")] = False,
    ) -> None:
        """Propose moves bringing children placed far away closer to home (and reuniting split fratries)."""
        from data.db.errors import ConflictError, NotFoundError, StoreUnavailableError
        from planning.rebalance import RebalanceSettings

        console = Console(stderr=as_json)
        try:
            chosen = RebalanceSettings.load(settings_file) if settings_file else RebalanceSettings.default()
            overrides: dict[str, Any] = {}
            if max_chain is not None:
                overrides["max_chain"] = max_chain
            if time_limit is not None:
                overrides["time_limit_s"] = time_limit
            if overrides:
                chosen = RebalanceSettings.from_mapping(overrides, base=chosen)
            plan, _ = run_rebalance(
                data_dir=data, method=method, weights=Weights.load(weights) if weights else Weights.default(),
                settings=chosen, on=_date(on), max_moves=max_moves, min_gain=min_gain,
            )
            report = plan.to_dict()
            if out is not None:
                report["out"] = str(write_plan(report, out))
            if apply:
                job_id, reservations = apply_plan(plan.to_dict(), database_url, hold_hours)
                report["applied"] = {"job_id": job_id, "reservations": reservations}
        except (ConflictError, NotFoundError, StoreUnavailableError) as err:
            console.print(error_line(err, "fr") + " ; rien n'a été écrit dans la base", style="red", soft_wrap=True,
                          markup=False, highlight=False)
            raise typer.Exit(2) from None
        except (PlacementError, OSError) as err:
            console.print(error_line(err, "fr"), style="red", soft_wrap=True, markup=False, highlight=False)
            raise typer.Exit(2) from None
        if as_json:
            typer.echo(json.dumps(report, indent=2, ensure_ascii=False))
        else:
            render(report, console)
