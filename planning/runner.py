"""Solving scenarios: one scenario (:func:`solve_scenario`), or many on Dask (:func:`run_scenarios`).

Scenarios are independent solves of the optimiser over the same base instance. The base system,
its travel matrix and the weights (:class:`BaseInstance`) are sent to the Dask workers once
(``client.scatter``, in a list so it is not split) and every task gets the future; a task gets
only its scenario and the travel minutes of the structures the scenario adds (computed here,
before the tasks are sent, by the caller's ``minutes_for``: the workers need no transit network).
A LocalCluster is started unless a scheduler address is given. A scenario that fails (it does not
apply to the base, the solver fails, or the answer breaks a hard rule) is reported with its error
and the others go on. Every solution passes :func:`solver.solution.require_valid_solution` (with its reported splits).
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from matcher import DomainError, Home, PlacementError, PlacementSystem, Structure, Weights
from matcher.travel import TravelMatrix
from planning.comparison import scenario_figures
from planning.scenarios import Scenario, apply_scenario, new_structures

MinutesFor = Callable[[Sequence[Home], Sequence[Structure]], TravelMatrix]
"""Travel minutes from homes to (new) structures: ``data.transit.travel_matrix`` in the CLI."""
Progress = Callable[[int, int, str], None]
"""``progress(done, total, name of the scenario just finished)``."""


@dataclass(frozen=True)
class RunSettings:
    """How each scenario is solved (data, in one place)."""

    scope: Literal["all", "waiting"] = "all"
    """all: the planners' full re-plan (every child, moving one costs `move`); waiting: only the
    children waiting for a place."""
    time_limit_s: float = 20.0
    """The optimiser's time limit per scenario."""
    seed: int = 1

    def __post_init__(self) -> None:
        if self.scope not in ("all", "waiting"):
            raise DomainError(f"unknown scope {self.scope!r}; expected all or waiting",
                              fr=f"périmètre {self.scope!r} inconnu ; attendu : all ou waiting")
        if not self.time_limit_s > 0:
            raise DomainError(f"time limit must be positive, got {self.time_limit_s}",
                              fr=f"le temps limite doit être positif, reçu {self.time_limit_s}")


def _rebuild_system(reference_date, children, sibling_groups, structures, units) -> PlacementSystem:
    return PlacementSystem(reference_date, children, sibling_groups, structures, units)


@dataclass(frozen=True, eq=False)
class BaseInstance:
    """What every scenario starts from: the base system, its travel matrix and the weights.

    Pickled without the system's cached look-up maps (they are rebuilt where it is unpickled),
    so it can travel to Dask workers."""

    system: PlacementSystem
    travel: TravelMatrix
    weights: Weights

    def __reduce__(self):
        s = self.system
        rebuilt = (_rebuild_system, (s.reference_date, s.children, s.sibling_groups, s.structures, s.units))
        travel = (TravelMatrix, (dict(self.travel.row_of_home), self.travel.structure_ids, self.travel.minutes))
        return (_base_instance, (rebuilt, travel, self.weights))


def _base_instance(system, travel, weights) -> BaseInstance:
    def build(x):
        return x[0](*x[1]) if isinstance(x, tuple) else x

    return BaseInstance(build(system), build(travel), weights)


@dataclass(frozen=True)
class ExtraColumns:
    """Travel minutes from the base matrix's rows to structures it lacks (float32, NaN: unreachable)."""

    structure_ids: tuple[str, ...]
    minutes: np.ndarray


def extra_columns(travel: TravelMatrix, homes: Sequence[Home], structures: Sequence[Structure],
                  minutes_for: MinutesFor) -> ExtraColumns:
    """The columns of ``structures`` for the rows of ``travel``. ``minutes_for`` gets every home
    (so that a travel layer that snaps homes to origins snaps them as it did for ``travel``); each
    row of ``travel`` takes the minutes of one of its homes."""
    ids = tuple(s.id for s in structures)
    out = np.full((travel.minutes.shape[0], len(ids)), np.nan, dtype=np.float32)
    if not ids:
        return ExtraColumns(ids, out)
    by_row: dict[int, Home] = {}
    for h in homes:
        r = travel.row_of_home.get(h.id)
        if r is not None:
            by_row.setdefault(r, h)
    extra = minutes_for(list(homes), list(structures))
    cols = [extra.structure_index[i] for i in ids]
    for r, h in by_row.items():
        row = extra.row(h.id)
        if row is not None:
            out[r] = row[cols]
    return ExtraColumns(ids, out)


def with_columns(travel: TravelMatrix, extra: ExtraColumns | None) -> TravelMatrix:
    """The travel matrix with the extra structures' columns appended."""
    if extra is None or not extra.structure_ids:
        return travel
    return TravelMatrix(travel.row_of_home, travel.structure_ids + extra.structure_ids,
                        np.hstack([travel.minutes, extra.minutes.astype(travel.minutes.dtype)]))


def solve_scenario(base: BaseInstance, scenario: Scenario, extra: ExtraColumns | None,
                   settings: RunSettings) -> dict[str, Any]:
    """Apply the scenario to the base, solve it with the optimiser, check the answer with
    :func:`solver.solution.require_valid_solution` and measure it (:func:`scenario_figures`).
    Raises on any failure (the caller reports it)."""
    from solver.optimal import solve_optimal
    from solver.problem import Problem
    from solver.solution import SolverSettings, require_valid_solution

    started = time.perf_counter()
    system = apply_scenario(base.system, scenario)
    travel = with_columns(base.travel, extra)
    missing = [s.id for s in new_structures(base.system, system) if s.id not in travel.structure_index]
    if missing:
        raise DomainError(f"no travel minutes for the new structure(s) {', '.join(missing[:5])}",
                          fr=f"aucun temps de trajet pour la ou les nouvelles structures {', '.join(missing[:5])}")
    weights = scenario.weights_over(base.weights)
    problem = Problem.build(system, travel, weights, settings.scope)
    solution = solve_optimal(problem, SolverSettings(time_limit_s=settings.time_limit_s, workers=1, seed=settings.seed),
                             with_explanations=False)
    require_valid_solution(problem, solution, f"scenario {scenario.name!r}", f"scénario {scenario.name!r}")
    figures = scenario_figures(base.system, system, solution.unit_of_child, travel)
    figures["solver"] = {
        "scope": settings.scope,
        "objective": round(solution.objective, 1),
        "bound": None if solution.bound is None else round(solution.bound, 1),
        "gap": solution.gap,
        "solve_seconds": round(solution.wall_seconds, 2),
        "wall_seconds": round(time.perf_counter() - started, 2),
        "splits": [str(s) for s in solution.splits],
    }
    return figures


def _describe(error: BaseException) -> str:
    """The error of a scenario in one sentence. A broken hard rule is counted, not detailed (the
    details name children, and a comparison holds only aggregates; the guard has logged them)."""
    from solver.solution import HardRuleViolation

    if isinstance(error, HardRuleViolation):
        return (f"HardRuleViolation: {error.context}: the solver's answer breaks {len(error.found)} hard rule(s), "
                "so it is not used (the details are in the log)")
    text = f"{type(error).__name__}: {error}"
    if not isinstance(error, PlacementError):  # an unexpected failure: keep where it happened
        tb = traceback.extract_tb(error.__traceback__)
        if tb:
            last = tb[-1]
            text += f" (at {last.filename.rsplit('/', 1)[-1]}:{last.lineno})"
    return text


def _entry(scenario: Scenario) -> dict[str, Any]:
    return {"name": scenario.name, "description": scenario.description, "source": scenario.source,
            "figures": None, "error": None}


def run_scenarios(
    base: BaseInstance,
    scenarios: Sequence[Scenario],
    settings: RunSettings = RunSettings(),
    *,
    minutes_for: MinutesFor | None = None,
    scheduler: str | None = None,
    workers: int = 1,
    processes: bool = True,
    progress: Progress | None = None,
) -> list[dict[str, Any]]:
    """Solve every scenario on Dask; one result per scenario, in the order given.

    Each result has ``name``, ``description``, ``source`` and either ``figures``
    (:func:`scenario_figures` plus ``solver``) or ``error`` (a sentence). ``scheduler``: the
    address of an existing Dask scheduler (``tcp://host:port``); otherwise a LocalCluster of
    ``workers`` single-threaded workers (``processes=False`` keeps them in this process: tests).
    ``minutes_for`` gives travel minutes to the structures a scenario adds (a scenario that adds
    some fails without it).
    """
    from dask.distributed import Client, LocalCluster, as_completed

    if workers < 1:
        raise DomainError(f"workers must be at least 1, got {workers}", fr=f"workers vaut au moins 1, reçu {workers}")
    results = [_entry(s) for s in scenarios]
    report = progress or (lambda done, total, name: None)
    # Apply each scenario here first: a scenario that does not apply fails before any solve, and
    # the minutes of the structures it adds are computed once, on this side.
    tasks: list[tuple[int, ExtraColumns | None]] = []
    done = 0
    for i, scenario in enumerate(scenarios):
        try:
            changed = apply_scenario(base.system, scenario)
            added = new_structures(base.system, changed)
            extra = None
            if added:
                if minutes_for is None:
                    raise DomainError("the scenario adds structures and no travel source was given for them",
                                      fr="le scénario ajoute des structures sans source de temps de trajet pour elles")
                extra = extra_columns(base.travel, base.system.origins, added, minutes_for)
            tasks.append((i, extra))
        except Exception as err:  # reported with the scenario, the others go on
            results[i]["error"] = _describe(err)
            done += 1
            report(done, len(scenarios), scenario.name)
    if not tasks:
        return results

    if scheduler:
        cluster_cm: Any = None
        client_cm = Client(scheduler, set_as_default=False)
    else:
        cluster_cm = LocalCluster(n_workers=workers, threads_per_worker=1, processes=processes,
                                  dashboard_address=":0", silence_logs=40)
        client_cm = None
    try:
        client = client_cm if client_cm is not None else Client(cluster_cm, set_as_default=False)
        with client:
            if scheduler:
                client.get_versions(check=True)
            [base_future] = client.scatter([base])
            futures = {
                client.submit(solve_scenario, base_future, scenarios[i], extra, settings,
                              key=f"scenario-{i}-{time.time_ns()}", pure=False, retries=0): i
                for i, extra in tasks
            }
            for future in as_completed(futures, loop=client.loop):
                i = futures[future]
                try:
                    results[i]["figures"] = future.result()
                except Exception as err:
                    results[i]["error"] = _describe(err)
                done += 1
                report(done, len(scenarios), scenarios[i].name)
    finally:
        if cluster_cm is not None:
            cluster_cm.close()
    return results


__all__ = ["BaseInstance", "ExtraColumns", "RunSettings", "extra_columns", "run_scenarios", "solve_scenario",
           "with_columns"]
