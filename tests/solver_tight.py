"""Small instances with fratries and tight one-place units: the shape that exposed the LP's weak fratrie rows.

Every child waits; structures have one or two units of one or two places, some units do not take
siblings, most children belong to a fratrie of two or three that must stay together, and there
are fewer places than children, so fratries compete for structures. Deterministic by seed.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

from matcher import Child, Home, JudgeConstraints, PlacementSystem, Sex, SiblingGroup, Unit, UnitSex, Weights
from solver.problem import Problem
from tests.factories import ON, born, structure
from tests.solver_instances import PLACES, synthetic_travel


def tight_system(seed: int, n_children: int = 12, n_structures: int = 7, separations: bool = True) -> PlacementSystem:
    rng = random.Random(seed)
    structures, units = [], []
    for s in range(n_structures):
        structures.append(structure(f"S-{s}", location=rng.choice(PLACES), daily_price_eur=float(rng.randint(80, 300))))
        for u in range(rng.choice((1, 1, 2))):
            units.append(Unit(f"U-{s}-{u}", f"S-{s}", 3, 17, UnitSex.MIXED, rng.choice((1, 1, 1, 2)), 0, rng.random() < 0.7))
    ids = [f"C-{k:02d}" for k in range(n_children)]
    groups: list[SiblingGroup] = []
    group_of: dict[str, str] = {}
    k = 0
    while k < n_children - 1:
        if rng.random() < 0.7:
            size = min(rng.choice((2, 2, 3)), n_children - k)
            members = tuple(ids[k : k + size])
            gid = f"F-{len(groups)}"
            groups.append(SiblingGroup(gid, members, together=rng.random() < 0.9))
            group_of.update(dict.fromkeys(members, gid))
            k += size
        else:
            k += 1
    homes: dict[str, Home] = {}
    children = []
    for cid in ids:
        key = group_of.get(cid, cid)
        if key not in homes:
            homes[key] = Home(f"H-{key}", rng.choice(PLACES))
        judge = JudgeConstraints()
        if separations and rng.random() < 0.1:
            judge = JudgeConstraints(separated_from=frozenset({rng.choice([o for o in ids if o != cid])}))
        children.append(Child(
            id=cid, birth_date=born(rng.randint(4, 15), rng.randint(0, 11)), sex=rng.choice(list(Sex)),
            home=homes[key], waiting_since=date(2026, 1, 1) + timedelta(days=rng.randint(0, 300)),
            sibling_group_id=group_of.get(cid), judge=judge,
        ))
    return PlacementSystem(ON, tuple(children), tuple(groups), tuple(structures), tuple(units))


def tight_problem(seed: int, n_children: int = 12, n_structures: int = 7, separations: bool = True) -> Problem:
    system = tight_system(seed, n_children, n_structures, separations)
    return Problem.build(system, synthetic_travel(system), Weights.default(), "waiting")
