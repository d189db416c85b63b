"""What a solver returns, its settings, and the checks and objective every method shares.

* :class:`SolverSettings`: time limit, workers, seed, logging, candidate arcs per child: the
  solver's settings as data, in one place.
* :class:`Solution`: the assignment (``unit_of_child``), objective, proven bound, gap, wall
  time, statistics, the sibling splits with their cause, and an explanation per child.
* :func:`objective`: the objective of an assignment recomputed from scratch (the same formula for
  every method, so their figures compare).
* :func:`violations`: every hard rule an assignment breaks, each naming the rule and the children;
  :func:`require_valid`: the one guard every answer passes before it leaves the engine.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from matcher.errors import HardRuleViolation
from matcher.outcome import Summary, summarize
from matcher.rules import (
    CAPACITY_RULE,
    Option,
    Violation,
    exclusions,
    judge_separation,
    siblings_together,
    unit_takes_siblings,
)
from matcher.scoring import ScoreComponent
from solver.problem import Problem
from solver.siblings import SplitCause

UnitOfChild = Mapping[str, str | None]
log = logging.getLogger("placement.guard")

FREE_PLACE = CAPACITY_RULE.name
JUDGE_SEPARATION = judge_separation.__name__
UNIT_TAKES_SIBLINGS = unit_takes_siblings.__name__
SIBLINGS_TOGETHER = siblings_together.__name__


@dataclass(frozen=True, slots=True)
class SolverSettings:
    """Settings of the optimal method (data, in one place)."""

    time_limit_s: float = 14.0
    """Wall-clock budget of the whole solve, seconds."""
    workers: int = 2
    """Threads the caller may give the solve; unused since SCIP (single-threaded in OR-Tools) replaced
    CP-SAT, kept so that callers' settings stay valid."""
    seed: int = 1
    log: bool = False
    """Print the solvers' logs."""
    candidates_per_child: int = 8
    """Cheapest eligible units kept per child before pricing adds more (reduced-cost filtering)."""
    pricing_rounds: int = 200
    """Most rounds of LP pricing (column generation); it stops earlier when nothing is left to add
    (converged, usually within 20 rounds) or after half the time limit."""
    mip_backend: str = "HIGHS"
    """Backend of the exact MIP stage 2: "HIGHS" (through ``highspy``, from the best assignment so
    far, reporting HiGHS's dual bound: :func:`solver.optimal._highs_mip`) or an OR-Tools backend
    ("SCIP"). HiGHS replaced SCIP: on the waiting batch it solves stage 2 about twice as fast
    (seed 1: 4.5 s and the optimum 169,038.5, where SCIP took 7.8 s to stop at 169,042.0; seed
    15: 16 s against 31 s, on the loaded shared machine). Stage 1 keeps SCIP."""
    mip_gap: float = 0.0001
    """The exact step (SCIP) stops when its relative gap is this small (issue 10's target for the
    waiting batch: 0.01% on every seed)."""
    max_lp_children: int = 500
    """Above this many children the LP and its MIP stages are skipped: the best flow start is
    polished (``polish_arcs_per_child``) and the bound is the flow's (Paris, scope all, 5,106
    children: GLOP needs about 2.3 s per pricing round, does not converge in the budget and ends
    ABNORMAL; the waiting scope has 357-371 and reaches its proven optimum by the LP path). Was
    2,000: from about 560 children the LP path used its whole budget for a worse answer than
    the polish (scope all, against the exact optimum: 562 children, 0.075% above it in 11.6 s
    against 0.032% in 1.9 s; 766, 0.40% against 0.048%; 1,021, 0.25% in 17 s, over its 14 s
    budget, against 0.020% in 1.9 s)."""
    polish_arcs_per_child: int = 8
    """When no LP over every arc runs (above ``max_lp_children``, or GLOP failed): the best start
    is polished by the MIP (``polish_backend``) on this many arcs of least reduced cost per child
    at the flow's prices plus the starts' arcs, in the time left. 0: none. Most of the gap at
    Paris scale, scope all, is this support, not the bound (seed 1, HiGHS to its gap: 3 arcs
    3,435,710 optimal on them, 6: 3,435,208 in 4.3 s, 10: 3,434,895 in 9.4 s, 16: 3,434,335 in
    11.4 s; flow bound 3,432,218). 6 rather than 8: over seeds 1-8, 8 per child gave 0.025-0.078%
    but up to 14.8 s wall with a 14 s budget, 6 gave 0.027-0.085% with more room."""
    polish_fratrie_structures: int = 10
    """The polish also holds, for each fratrie that must stay together and that the flow splits,
    its members' arcs into this many structures that could hold it whole
    (:meth:`solver.flow.FlowRelaxation.fratrie_support`). 0: none."""
    polish_backend: str = "HIGHS"
    """Backend of the polish MIPs (as ``mip_backend``). HiGHS replaced SCIP there (issue 10, second
    round): on the 31,000 arcs of 6 per child (Paris, scope all, seed 1) it proves its gap in
    4.3 s where SCIP takes 13.6 s. It starts from the best assignment so far, so a polish stopped
    by the time limit is never worse than its start."""
    polish_neighbourhood: bool = True
    """Each polish (HiGHS) first looks for a better start near the current one, in up to half its
    time: its LP relaxation, then the MIP with only the variables that share a row with one where
    the relaxation differs from the start left free (:func:`solver.optimal._neighbourhood_start`;
    2-3 s at Paris scale, scope all). When the second polish (``polish_fratrie_structures``) runs,
    the first is that step alone, and the second is the step then its MIP. Paris, scope all, 20
    seeds, 2-core EPYC: gap median 0.238% -> 0.134%, max 0.719% -> 0.381%, better on 13 seeds, the
    same on 7; HiGHS's own root spent about 5 s in cut rounds before its sub-MIP found what
    this step finds (BENCHMARKS.md, "Scope all, eighth round")."""
    lp_bound_after_polish: bool = True
    """Above ``max_lp_children``, with time left after the polishes (at least
    ``polish_min_seconds`` before ``finish_reserve_s``): the LP relaxation with the fratrie rows,
    by pricing, from the polish's model and basis (:func:`solver.lp.highs_relaxation`), for a
    bound better than the flow's (its Lagrangian at the LP's multipliers). It comes last so that
    it never takes time from the answer."""
    polish_min_seconds: float = 1.0
    """The polish runs only with at least this much of the time limit left."""
    finish_reserve_s: float = 1.0
    """Seconds at the end of ``time_limit_s`` the polishes leave unused: for the explanations
    (0.3-0.7 s at Paris scale, scope all) and for HiGHS, which can pass its own time limit by a
    second or two while it ends its root (Paris, scope all, seed 17 on the 2-core EPYC machine: a
    polish given 3.7 s ran 5.9 s, and the solve took 16.2 s on a 14 s budget)."""
    max_stage2_arcs: int = 300_000
    """Most arcs the second exact step may add (beyond that only the first step's bound is used)."""


@dataclass(frozen=True, slots=True)
class SplitReport:
    """A sibling group placed over several structures, and why."""

    group_id: str
    structures: tuple[str, ...]
    cause: SplitCause | str
    """Why (``str()`` gives the English sentence; a :class:`SplitCause` also its machine fields)."""

    def to_dict(self) -> dict[str, Any]:
        """Machine fields: the group, its structures and the cause's fields (``text``: English)."""
        cause = self.cause.to_dict() if isinstance(self.cause, SplitCause) else {"kind": "other"}
        return {"group_id": self.group_id, "structures": list(self.structures), **cause, "text": str(self)}

    def __str__(self) -> str:
        return f"Sibling group {self.group_id} split over {', '.join(self.structures)}: {self.cause}"


WHY_NOT_KINDS = ("ineligible", "full", "judge_structure", "judge_separation", "unit_no_siblings",
                 "fratrie_elsewhere", "not_chosen")
"""Why a better-looking place was not chosen (:attr:`BetterOption.reason`)."""


@dataclass(frozen=True, slots=True)
class BetterOption:
    """A place that looked better for the child (a lower score) and was not chosen: machine
    fields; :func:`solver.explain.explanation_text` says them in French or English."""

    unit_id: str
    score: float
    reason: str
    """One of :data:`WHY_NOT_KINDS`."""
    rules: tuple[str, ...] = ()
    """``ineligible``: the hard rules it breaks (names of ``matcher.rules.OPTION_RULES``)."""
    capacity: int = 0
    """``full``: its places for this run."""
    taken_by: tuple[str, ...] = ()
    """``full``: the children holding them."""
    groups: tuple[str, ...] = ()
    """``full``: the fratries among them."""
    other: str | None = None
    """``judge_separation``: the child it must stay apart from; ``fratrie_elsewhere``: the fratrie."""
    structure_id: str | None = None
    """``fratrie_elsewhere``: where the fratrie is kept together."""

    def __post_init__(self) -> None:
        if self.reason not in WHY_NOT_KINDS:
            raise ValueError(f"BetterOption {self.unit_id}: unknown reason {self.reason!r}; expected one of "
                             f"{', '.join(WHY_NOT_KINDS)}")


@dataclass(frozen=True, slots=True)
class Explanation:
    """Why a child is where the solution puts it (or why it has no place), as machine fields;
    :func:`solver.explain.explanation_text` says it in French or English, when asked (a sentence
    for every child at every solve was mostly never read)."""

    child_id: str
    unit_id: str | None
    structure_id: str | None
    travel_minutes: float | None
    components: tuple[ScoreComponent, ...]
    """Score components of the chosen place (matcher.scoring.score_option), empty if unplaced."""
    better_options: tuple[BetterOption, ...]
    """Better-looking places not chosen, best first."""
    eligible_units: int = 0
    """Without a place: how many units the hard rules allow (all full when > 0)."""


@dataclass(frozen=True)
class Solution:
    unit_of_child: dict[str, str | None]
    method: str
    objective: float
    """Minutes-equivalent (see matcher/weights.toml), lower is better."""
    bound: float | None
    """Proven lower bound on the objective of any feasible assignment (LP / Lagrangian)."""
    gap: float | None
    """(objective - bound) / objective, None without a bound."""
    wall_seconds: float
    stats: dict[str, Any] = field(default_factory=dict)
    splits: tuple[SplitReport, ...] = ()
    explanations: dict[str, Explanation] = field(default_factory=dict)
    bound_source: str | None = None
    """Where the bound comes from: ``"exact"`` (nothing to place: the bound is 0), ``"flow"`` (the Lagrangian at the min-cost flow's prices),
    ``"lagrangian"`` (at the LP's multipliers), ``"mip"`` (the exact step's bound over the arcs
    that could beat the incumbent, :mod:`solver.optimal`); None when there is no bound (then
    ``warnings`` says why)."""
    warnings: tuple[str, ...] = ()
    """What did not go as planned and how it was handled (a solver failure retried or recovered,
    a step skipped, a bound that could not be computed): never silent, shown by ``placement
    solve`` and ``placement demo`` and in their JSON."""

    @classmethod
    def of_assignment(
        cls,
        problem: Problem,
        assigned: np.ndarray,
        method: str,
        bound: float | None,
        started: float,
        stats: dict[str, Any],
        splits: tuple[SplitReport, ...] | list[SplitReport] = (),
        explanations: dict[str, Explanation] | None = None,
        bound_source: str | None = None,
        warnings: tuple[str, ...] | list[str] = (),
    ) -> Solution:
        """The solution of an assignment given as unit index per child (-1: no place), re-scored
        from scratch; ``started`` is the ``time.perf_counter()`` of the start of the solve."""
        value = objective_of(problem, assigned)
        return cls(
            unit_of_child=unit_of_child(problem, assigned),
            method=method,
            objective=value,
            bound=bound,
            gap=relative_gap(value, bound),
            wall_seconds=time.perf_counter() - started,
            stats=stats,
            splits=tuple(splits),
            explanations=explanations or {},
            bound_source=bound_source if bound is not None else None,
            warnings=tuple(warnings),
        )

    def summary(self, problem: Problem) -> Summary:
        """The outcome summary (zones, minutes, fratries, unmet demand) of this assignment."""
        return summarize(problem.system, self.unit_of_child, problem.travel)


def relative_gap(objective: float, bound: float | None) -> float | None:
    if bound is None:
        return None
    if objective <= 0:
        return 0.0
    return max(0.0, (objective - bound) / objective)


def indices(problem: Problem, unit_of_child: UnitOfChild) -> np.ndarray:
    """Unit index per child of the problem (-1 for no place)."""
    out = np.full(problem.n_children, -1, dtype=np.int64)
    for i, child in enumerate(problem.children):
        unit_id = unit_of_child.get(child.id)
        if unit_id is not None:
            out[i] = problem.unit_index[unit_id]
    return out


def unit_of_child(problem: Problem, assigned: np.ndarray) -> dict[str, str | None]:
    """Unit id per child id (None for no place) of an assignment given as unit index per child."""
    return {c.id: (problem.units[assigned[i]].id if assigned[i] >= 0 else None) for i, c in enumerate(problem.children)}


def objective_of(problem: Problem, assigned: np.ndarray) -> float:
    """Objective of an assignment given as unit index per child (-1: no place)."""
    placed = np.flatnonzero(assigned >= 0)
    total = float(problem.pair_costs(placed, assigned[placed])[0].sum())
    total += float(problem.unplaced_cost[assigned < 0].sum())
    total += problem.weights.siblings_split * sum(extra_structures(problem, assigned, b) for b in range(len(problem.blocks)))
    return total


def objective(problem: Problem, unit_of_child: UnitOfChild) -> float:
    """Objective of an assignment, recomputed from the domain (minutes-equivalent)."""
    return objective_of(problem, indices(problem, unit_of_child))


def extra_structures(problem: Problem, assigned: np.ndarray, block: int) -> int:
    """Structures beyond the first that a must-stay-together fratrie is spread over (0 if separable)."""
    b = problem.blocks[block]
    if not b.together:
        return 0
    units = [assigned[m] for m in b.members if assigned[m] >= 0]
    return max(0, len({int(problem.unit_structure[u]) for u in units}) - 1)


def violations(problem: Problem, unit_of_child: UnitOfChild, *, splits: Iterable[str] | None = None) -> list[Violation]:
    """Every hard rule the assignment breaks, each naming its rule (a name of ``matcher.RULES``)
    and its children; empty when it keeps them all.

    * the rules on one option (:data:`matcher.rules.OPTION_RULES`), checked by the matcher's own
      functions on each placed child (the one source of truth, not the solver's vectorised copy);
    * ``free_place``: no unit holds more children than the places the scope may fill;
    * ``judge_separation``: two children the judge separated never in one structure, nor a child
      in the structure where such a child, out of scope, lives now;
    * ``unit_takes_siblings``: a unit that does not take siblings holds at most one child of a fratrie;
    * ``siblings_together``, only when ``splits`` (the group ids whose split the answer reports,
      with its cause) is given: a fratrie that must stay together is never split unreported.
    """
    assigned = indices(problem, unit_of_child)
    system, on = problem.system, problem.system.reference_date
    found: list[Violation] = []
    placed = np.flatnonzero(assigned >= 0)
    minutes = pair_minutes(problem, placed, assigned[placed])
    for i, m in zip(placed.tolist(), minutes.tolist()):
        child, unit = problem.children[i], problem.units[assigned[i]]
        option = Option(system.structure_of(unit), unit, None if np.isnan(m) else float(m))
        for e in exclusions(child, option, on):
            found.append(Violation(e.rule, (child.id,), f"in unit {unit.id}: {e.reason}", unit.id))
        s = int(problem.unit_structure[assigned[i]])
        if s in problem.forbidden_structures.get(i, ()):
            found.append(Violation(JUDGE_SEPARATION, (child.id,), f"placed in structure {problem.structure_ids[s]}, "
                                   "where a child the judge separated them from lives", unit.id))
    load = Counter(int(u) for u in assigned[placed])
    for u, n in sorted(load.items()):
        if n > problem.capacity[u]:
            who = tuple(problem.children[i].id for i in placed if assigned[i] == u)
            found.append(Violation(FREE_PLACE, who, f"unit {problem.units[u].id} holds {n} children for "
                                   f"{problem.capacity[u]} place(s)", problem.units[u].id))
    for a, b in problem.separations:
        if assigned[a] >= 0 and assigned[b] >= 0 and problem.unit_structure[assigned[a]] == problem.unit_structure[assigned[b]]:
            where = problem.structure_ids[problem.unit_structure[assigned[a]]]
            found.append(Violation(JUDGE_SEPARATION, (problem.children[a].id, problem.children[b].id),
                                   f"both in structure {where} against the judge's separation order"))
    reported = None if splits is None else set(splits)
    for block in problem.blocks:
        group = system.sibling_group_by_id[block.group_id]
        members = {problem.children[m].id: (problem.units[assigned[m]].id if assigned[m] >= 0 else None) for m in block.members}
        reason = unit_takes_siblings(group, members, system.unit_by_id)
        if reason is not None:
            found.append(Violation(UNIT_TAKES_SIBLINGS, tuple(members), reason))
        if reported is not None and block.together and group.id not in reported:
            reason = siblings_together(group, {c: system.unit_by_id[u].structure_id if u else None for c, u in members.items()})
            if reason is not None:
                found.append(Violation(SIBLINGS_TOGETHER, tuple(members), reason + ", and the answer does not report it"))
    return found


def pair_minutes(problem: Problem, children: np.ndarray, units: np.ndarray) -> np.ndarray:
    """Minutes (float, NaN when unreachable) of each (child, unit) pair, pairwise."""
    rows = problem.child_travel_row[children]
    cols = problem.structure_travel_col[problem.unit_structure[units]]
    ok = (rows >= 0) & (cols >= 0)
    out = np.full(children.size, np.nan)
    out[ok] = problem.travel.minutes[rows[ok], cols[ok]]
    return out


def require_valid(problem: Problem, unit_of_child: UnitOfChild, context: str, *, splits: Iterable[str] | None = None,
                  context_fr: str | None = None) -> None:
    """The one guard every answer passes before it leaves the engine (a solve, a rebalancing
    plan, a scenario's solution, a simulation step): raises :class:`HardRuleViolation` naming
    each broken rule and child (:func:`violations`), logged first. ``splits``: the group ids
    whose split the answer reports (then an unreported split of a together fratrie is an error
    too); see :func:`require_valid_solution` for a :class:`Solution`. ``context_fr``: the context
    in French, for a French reader of the error."""
    found = violations(problem, unit_of_child, splits=splits)
    if found:
        error = HardRuleViolation(context, found, context_fr)
        log.error("%s", error)
        raise error


def require_valid_solution(problem: Problem, solution: Solution, context: str, context_fr: str | None = None) -> Solution:
    """:func:`require_valid` on a solver's :class:`Solution`, its reported splits included;
    returns the solution."""
    require_valid(problem, solution.unit_of_child, context, splits=[s.group_id for s in solution.splits],
                  context_fr=context_fr)
    return solution
