"""Random small placement systems and a synthetic travel matrix, for the solver's tests.

Deterministic by seed. The travel minutes are a rough stand-in for public transport computed
from great-circle distance (10 min access + 3 min/km in Île-de-France, 2 min/km beyond), and a
few pairs are made unreachable (NaN) so that the unreachable path is exercised.
"""

from __future__ import annotations

import math
import random
from datetime import date, timedelta

import numpy as np

from matcher import (
    Child,
    CurrentPlacement,
    Home,
    JudgeConstraints,
    Location,
    Need,
    PlacementSystem,
    Sex,
    SiblingGroup,
    StructureType,
    Unit,
    UnitSex,
)
from matcher.model import ILE_DE_FRANCE_DEPARTEMENTS
from matcher.travel import TravelMatrix
from tests.factories import NEVERS, ON, PARIS_15, PARIS_18, SAINT_DENIS, born, structure

PLACES = (
    PARIS_18,
    PARIS_15,
    SAINT_DENIS,
    NEVERS,
    Location(48.8566, 2.3522, "75104", "75"),
    Location(48.7904, 2.4556, "94028", "94"),
    Location(48.8049, 2.1204, "78646", "78"),
    Location(47.3220, 5.0415, "21231", "21"),
)


def minutes_between(a: Location, b: Location) -> float:
    """Synthetic door-to-door minutes from great-circle distance."""
    la1, lo1, la2, lo2 = map(math.radians, (a.lat, a.lon, b.lat, b.lon))
    h = math.sin((la2 - la1) / 2) ** 2 + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    km = 2 * 6371.0 * math.asin(math.sqrt(h))
    both_idf = a.departement in ILE_DE_FRANCE_DEPARTEMENTS and b.departement in ILE_DE_FRANCE_DEPARTEMENTS
    return 10.0 + km * (3.0 if both_idf else 2.0)


def synthetic_travel(system: PlacementSystem, unreachable_every: int = 0) -> TravelMatrix:
    """One row per origin (homes, schools, visit sites, services); every
    ``unreachable_every``-th cell NaN (0: none)."""
    homes = system.origins
    out = np.array(
        [[minutes_between(h.location, s.location) for s in system.structures] for h in homes],
        dtype=np.float32,
    ).reshape(len(homes), len(system.structures))
    if unreachable_every:
        out.reshape(-1)[::unreachable_every] = np.nan
    return TravelMatrix.from_homes(tuple(h.id for h in homes), tuple(s.id for s in system.structures), out)


def random_system(
    seed: int,
    n_children: int = 12,
    n_structures: int = 4,
    placed_share: float = 0.3,
    group_share: float = 0.4,
    judge_share: float = 0.2,
) -> PlacementSystem:
    """A small random but consistent placement system."""
    rng = random.Random(seed)
    structures = []
    units: list[Unit] = []
    for s in range(n_structures):
        stype = rng.choice(
            [StructureType.MECS, StructureType.MECS, StructureType.ASSISTANT_FAMILIAL, StructureType.FOYER_ENFANCE,
             StructureType.CENTRE_MATERNEL, StructureType.SEMI_AUTONOMIE, StructureType.POUPONNIERE]
        )
        caps = tuple(n for n in Need if rng.random() < 0.3)
        structures.append(
            structure(f"S-{s}", type=stype, location=rng.choice(PLACES), capabilities=caps,
                      daily_price_eur=float(rng.randint(80, 300)), secret=rng.random() < 0.15)
        )
        for u in range(rng.randint(1, 3)):
            lo = rng.randint(0, 19)
            hi = rng.randint(lo, 21)
            cap = rng.randint(0, 4)
            units.append(
                Unit(f"U-{s}-{u}", f"S-{s}", lo, hi, rng.choice(list(UnitSex)), cap, rng.randint(0, cap),
                     rng.random() < 0.7)
            )
    # children
    kids_spec = []
    for k in range(n_children):
        age = rng.randint(0, 21)
        sex = rng.choice(list(Sex))
        needs = frozenset(n for n in Need if rng.random() < 0.12 and n is not Need.MOTHER_CHILD)
        mother = sex is Sex.FEMALE and age >= 15 and rng.random() < 0.4
        kids_spec.append([f"C-{k:02d}", age, sex, needs, mother])
    # sibling groups over consecutive children
    groups: list[SiblingGroup] = []
    group_of: dict[str, str] = {}
    k = 0
    while k < n_children - 1:
        if rng.random() < group_share:
            size = min(rng.randint(2, 3), n_children - k)
            ids = tuple(kids_spec[k + j][0] for j in range(size))
            gid = f"F-{len(groups)}"
            groups.append(SiblingGroup(gid, ids, together=rng.random() < 0.8))
            for cid in ids:
                group_of[cid] = gid
            k += size
        else:
            k += 1
    # who sits where now (respecting occupied counts)
    free_occupied = {u.id: u.occupied for u in units}
    children: list[Child] = []
    homes: dict[str, Home] = {}
    ids = [spec[0] for spec in kids_spec]
    for cid, age, sex, needs, mother in kids_spec:
        gid = group_of.get(cid)
        home_key = gid or cid
        if home_key not in homes:
            homes[home_key] = Home(f"H-{home_key}", rng.choice(PLACES))
        current = None
        if rng.random() < placed_share:
            options = [u for u in units if free_occupied[u.id] > 0]
            if options:
                u = rng.choice(options)
                free_occupied[u.id] -= 1
                current = CurrentPlacement(u.id, ON - timedelta(days=rng.randint(10, 900)))
        judge = JudgeConstraints()
        if rng.random() < judge_share:
            judge = JudgeConstraints(
                excluded_structures=frozenset(rng.sample([s.id for s in structures], k=rng.randint(0, 1))),
                excluded_departements=frozenset(rng.sample(["75", "93", "58", "78"], k=rng.randint(0, 1))),
                max_travel_minutes=rng.choice([None, 40.0, 90.0, 400.0]),
                separated_from=frozenset(rng.sample([o for o in ids if o != cid], k=rng.randint(0, 1))),
            )
        children.append(
            Child(
                id=cid,
                birth_date=born(age, rng.randint(0, 11)),
                sex=sex,
                home=homes[home_key],
                waiting_since=date(2026, 1, 1) + timedelta(days=rng.randint(0, 300)),
                sibling_group_id=gid,
                needs=needs | ({Need.MOTHER_CHILD} if mother and rng.random() < 0.5 else frozenset()),
                current=current,
                judge=judge,
                pregnant=mother,
            )
        )
    return PlacementSystem(ON, tuple(children), tuple(groups), tuple(structures), tuple(units))
