"""Tiny named systems for the rebalancing tests: children placed far away, free places near."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

from matcher import CurrentPlacement, Home, JudgeConstraints, Location, SiblingGroup, StructureType, Wish
from planning.rebalance import RebalanceSettings
from tests.factories import NEVERS, PARIS_15, PARIS_18, SAINT_DENIS, child, structure, system, unit
from tests.solver_instances import synthetic_travel

SINCE = date(2024, 1, 10)
"""Start of the current placements (settled: more than 180 days before the reference date)."""

HOME = Home("H-1", PARIS_18)
HOME_15 = Home("H-15", Location(48.8400, 2.2990, "75115", "75"))


def settings(**values) -> RebalanceSettings:
    """The default settings with a short solver budget (and what the test changes)."""
    return RebalanceSettings.from_mapping({"time_limit_s": 5.0, **values}, base=RebalanceSettings.default())


def far_system(near_free: int = 1, *, far=None, siblings: int = 0, extra=(), groups=(), near_takes_siblings: bool = True):
    """C-far (10, home in Paris 18e) placed in Nevers; a Paris 15e unit with ``near_free`` free
    places; a Saint-Denis unit full. ``siblings``: that many brothers and sisters of C-far in
    Nevers too (one fratrie F-1)."""
    structures = [
        structure("S-nev", StructureType.MECS, NEVERS, name="MECS Nevers"),
        structure("S-near", StructureType.MECS, PARIS_15, name="MECS Vaugirard"),
        structure("S-sd", StructureType.MECS, SAINT_DENIS, name="MECS Saint-Denis"),
    ]
    kids = [far or child("C-far", 10, home=HOME, current=CurrentPlacement("U-nev", SINCE))]
    group = []
    if siblings:
        ids = ["C-far"] + [f"C-sib{k}" for k in range(1, siblings + 1)]
        kids[0] = replace(kids[0], sibling_group_id="F-1")
        kids += [child(i, 9, home=HOME, sibling_group_id="F-1", current=CurrentPlacement("U-nev", SINCE)) for i in ids[1:]]
        group = [SiblingGroup("F-1", tuple(ids))]
    kids += list(extra)
    placed = {}
    for c in kids:
        if c.current is not None:
            placed[c.current.unit_id] = placed.get(c.current.unit_id, 0) + 1
    units = [
        unit("U-nev", "S-nev", (4, 17), capacity=20, occupied=placed.get("U-nev", 0)),
        unit("U-near", "S-near", (4, 17), capacity=placed.get("U-near", 0) + near_free + 1,
             occupied=placed.get("U-near", 0) + 1, takes_siblings=near_takes_siblings),
        unit("U-sd", "S-sd", (4, 17), capacity=max(2, placed.get("U-sd", 0)), occupied=max(2, placed.get("U-sd", 0))),
    ]
    s = system(kids, structures, units, group + list(groups))
    return s, synthetic_travel(s)


def wish(c, value: Wish):
    return replace(c, wish=value)


def judge_away(c):
    return replace(c, judge=JudgeConstraints(placed_away=True))


def random_case(seed: int, n_children: int = 14, n_structures: int = 6):
    """A small random system where rebalancing has work: homes in Paris and its suburbs,
    structures from Paris to the provinces, children placed in units that suit them (some
    fratries split, some with the judge's orders), a few free places. Wishes and the judge's
    placed_away flag are drawn too. Returns (system, travel)."""
    import random

    from matcher import Need, PlacementSystem, Sex, StructureType, Unit, UnitSex
    from matcher.rules import Option, is_eligible
    from tests.factories import ON
    from tests.solver_instances import PLACES, minutes_between

    rng = random.Random(seed)
    homes_at = [p for p in PLACES if p.departement in ("75", "93", "94", "78")]
    structures, units = [], []
    for k in range(n_structures):
        caps = tuple(n for n in (Need.DISABILITY, Need.PSYCHIC_CARE) if rng.random() < 0.3)
        stype = rng.choice([StructureType.MECS, StructureType.MECS, StructureType.FOYER_ENFANCE, StructureType.LIEU_DE_VIE])
        structures.append(structure(f"S-{k}", stype, rng.choice(PLACES), caps))
        for j in range(rng.randint(1, 2)):
            lo, hi = rng.choice([(0, 11), (4, 17), (4, 17), (12, 21), (0, 21)])
            units.append(Unit(f"U-{k}-{j}", f"S-{k}", lo, hi, rng.choice([UnitSex.MIXED] * 4 + [UnitSex.GIRLS, UnitSex.BOYS]),
                              rng.randint(2, 5), 0, rng.random() < 0.8))
    by_id = {s.id: s for s in structures}
    kids, groups = [], []
    k = 0
    while k < n_children:
        size = 2 if rng.random() < 0.35 and k + 1 < n_children else 1
        home = Home(f"H-{k}", rng.choice(homes_at))
        ids = [f"C-{k + j:02d}" for j in range(size)]
        gid = f"F-{k}" if size > 1 else None
        for j, cid in enumerate(ids):
            needs = frozenset(n for n in (Need.DISABILITY, Need.PSYCHIC_CARE) if rng.random() < 0.1)
            judge = JudgeConstraints()
            r = rng.random()
            if r < 0.1:
                judge = JudgeConstraints(max_travel_minutes=rng.choice([60.0, 400.0]))
            elif r < 0.15 and size > 1:
                judge = JudgeConstraints(separated_from=frozenset(i for i in ids if i != cid))
            wish = rng.choice([Wish.NONE] * 4 + [Wish.CLOSER, Wish.STAY])
            judge = replace(judge, placed_away=rng.random() < 0.1)
            since = ON - timedelta(days=rng.randint(30, 2000))
            kids.append(child(cid, rng.randint(4, 21), rng.choice(list(Sex)), home=home, needs=tuple(needs),
                              judge=judge, sibling_group_id=gid, wish=wish, waiting_since=since - timedelta(days=5),
                              current=CurrentPlacement("?", since)))
        if gid:
            groups.append(SiblingGroup(gid, tuple(ids), together=rng.random() < 0.8))
        k += size
    load = {u.id: 0 for u in units}
    placed = []
    for c in kids:
        options = [u for u in units if load[u.id] < u.capacity and is_eligible(
            c, Option(by_id[u.structure_id], u, minutes_between(c.home.location, by_id[u.structure_id].location)), ON)]
        if options and rng.random() < 0.9:
            u = rng.choice(options)
            load[u.id] += 1
            placed.append(replace(c, current=replace(c.current, unit_id=u.id)))
        else:
            placed.append(replace(c, current=None))
    units = [replace(u, occupied=min(u.capacity, load[u.id] + rng.randint(0, 1))) for u in units]
    s = PlacementSystem(ON, tuple(placed), tuple(groups), tuple(structures), tuple(units))
    return s, synthetic_travel(s)
