"""Explanations: for every child, the score of its place and why better-looking places were not chosen.

Better-looking means a lower score (:func:`matcher.scoring.score_option` total) than the place
given. For each of the best few such places the reason is one of: ineligible (the rule and its
reason, from :func:`matcher.rules.exclusions`), full (and who took it: a fratrie kept together, or
other children whose placement weighs more in the objective), or a group rule (the judge's
separation order, a unit that does not take siblings, the fratrie kept together elsewhere).
An unplaced child gets why: no eligible unit, or every eligible unit full.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from matcher.rules import Option, exclusions
from matcher.scoring import score_option
from solver.pricing import cheaper_units
from solver.problem import Problem
from solver.solution import Explanation, SplitReport

BETTER_SHOWN = 3
"""How many better-looking places each explanation discusses."""


def _option(problem: Problem, i: int, u: int) -> Option:
    unit = problem.units[u]
    s = problem.system.structure_by_id[unit.structure_id]
    return Option(s, unit, problem.minutes_of(i, u), problem.school_minutes_of(i, u))


def explain(problem: Problem, assigned: np.ndarray, splits: list[SplitReport] | tuple[SplitReport, ...] = ()) -> dict:
    """An :class:`Explanation` per child of the problem, keyed by child id."""
    on = problem.system.reference_date
    load = np.bincount(assigned[assigned >= 0], minlength=problem.n_units)
    holders: dict[int, list[int]] = defaultdict(list)
    for i in np.flatnonzero(assigned >= 0):
        holders[int(assigned[i])].append(int(i))
    split_of = {s.group_id: s for s in splits}
    placed = np.flatnonzero(assigned >= 0)
    # the BETTER_SHOWN cheapest units (over every unit) below each placed child's own cost, in
    # one compiled pass (a NumPy block per child took 53 s at 10x Paris scale)
    own_cost, _ = problem.pair_costs(placed, assigned[placed])
    cheaper, cheaper_cost = cheaper_units(problem, placed, own_cost - 1e-9, BETTER_SHOWN)
    cheaper_eligible = problem.eligible_pairs(np.repeat(placed, BETTER_SHOWN), cheaper.reshape(-1)).reshape(cheaper.shape)
    row_of = {int(i): r for r, i in enumerate(placed)}
    out: dict[str, Explanation] = {}
    for i, child in enumerate(problem.children):
        block = problem.blocks[problem.block_of_child[i]] if problem.block_of_child[i] >= 0 else None
        u = int(assigned[i])
        if u < 0:
            eligible = problem.eligible_units(i)
            if not eligible.size:
                text = "No place: no unit is eligible under the hard rules (age, sex, needs, judge's constraints)."
            else:
                text = (
                    f"No place: all {len(eligible)} eligible units are full, taken by children whose "
                    "placement weighs more in the objective (or who came first, for the greedy baseline)."
                )
            out[child.id] = Explanation(child.id, None, None, None, (), (), text)
            continue
        option = _option(problem, i, u)
        score = score_option(child, option, problem.weights, on)
        total = score.total
        r = row_of[i]
        shown = cheaper[r] >= 0
        better, better_cost, eligible = cheaper[r][shown], cheaper_cost[r][shown], cheaper_eligible[r][shown]
        reasons = []
        for b, b_cost, b_eligible in zip(better.tolist(), better_cost.tolist(), eligible.tolist()):
            if not b_eligible:
                exc = exclusions(child, _option(problem, i, b), on)
                why = "; ".join(str(e) for e in exc) if exc else "not eligible"
            elif load[b] >= problem.capacity[b]:
                others = holders.get(b, [])
                sibling_groups = sorted({problem.blocks[problem.block_of_child[o]].group_id for o in others if problem.block_of_child[o] >= 0})
                names = ", ".join(problem.children[o].id for o in others[:4]) + (" ..." if len(others) > 4 else "")
                why = f"full ({problem.capacity[b]} places for this run"
                why += f", taken by {names})" if others else ")"
                if sibling_groups:
                    why += f"; needed by sibling group {', '.join(sibling_groups)}"
            else:
                why = _group_reason(problem, assigned, i, b, block)
            reasons.append((problem.units[b].id, round(float(b_cost), 2), why))
        where = problem.system.structure_by_id[option.unit.structure_id]
        minutes = "unreachable" if option.travel_minutes is None else f"{option.travel_minutes:.0f} min"
        parts = [f"{c.name} {c.cost:.1f}" for c in score.components if c.cost]
        text = f"Unit {option.unit.id} of {where.id} ({where.zone.value}, {minutes} from {child.anchor.describe()}): score {total:.1f} ({', '.join(parts) or 'no cost'})."
        if block is not None and block.group_id in split_of:
            text += f" Sibling group {block.group_id} split: {split_of[block.group_id].cause}."
        if reasons:
            text += " Better-looking places not chosen: " + "; ".join(f"{r[0]} (score {r[1]:.1f}): {r[2]}" for r in reasons) + "."
        out[child.id] = Explanation(
            child.id, option.unit.id, where.id, option.travel_minutes, score.components, tuple(reasons), text
        )
    return out


def _group_reason(problem: Problem, assigned: np.ndarray, i: int, b: int, block) -> str:
    s = int(problem.unit_structure[b])
    if s in problem.forbidden_structures.get(i, ()):
        return "the judge ordered this child separated from a child living in this structure"
    for other in problem.separation_partners.get(i, ()):
        if assigned[other] >= 0 and problem.unit_structure[assigned[other]] == s:
            return f"the judge ordered this child separated from {problem.children[other].id}, who is placed there"
    if block is not None:
        if not problem.unit_takes_siblings[b] and any(assigned[m] == b for m in block.members if m != i):
            return "the unit does not take siblings and already holds one of the fratrie"
        if block.together:
            return f"keeps sibling group {block.group_id} together in structure {problem.structure_ids[problem.unit_structure[assigned[i]]]}"
    return "free, but the method did not choose it (the greedy baseline takes the nearest free place, not the lowest score)"
