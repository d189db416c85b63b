"""Dual prices of capacity: what one place in a unit is worth to the children waiting.

Built on the LP relaxation of the batch model (:mod:`solver.lp`).
"""

from __future__ import annotations

from solver.lp import solve_relaxation
from solver.problem import Problem
from solver.solution import SolverSettings


def capacity_prices(problem: Problem, settings: SolverSettings | None = None) -> dict[str, float]:
    """Shadow price of one place in each unit, in minutes-equivalent, keyed by unit id.

    Meaning: the LP dual of the unit's capacity constraint in the batch model of ``problem``
    (its scope: the children waiting, or all children). A price ``p >= 0`` says that giving one
    place of this unit to a child costs the *other* children of the batch ``p`` in the objective
    (they go farther, out of Paris or without a place), and one more place there would lower the
    optimal objective by about ``p``. Sign: never negative; 0 for a unit that is not contested
    (it keeps free places at the optimum, or no child can use it). Units absent from the LP
    (nobody eligible) are 0. The same units of measure as ``matcher/weights.toml``.

    A system-aware ranking of a child's options orders them by ``score + price``.
    """
    relaxation = solve_relaxation(problem, settings)
    return {unit.id: float(relaxation.prices[j]) for j, unit in enumerate(problem.units)}
