"""Synthetic population of the Paris child-protection system, deterministic by seed.

Every child is synthetic: pseudonymous ids ("E-000123"), no names, homes drawn at random
inside real arrondissements and communes. Structures are generic ("MECS - Nevers") but sit in
real communes (see data/reference/SOURCES.md).

Calibration at scale 1 (Paris, schéma départemental de prévention et de protection de
l'enfance, figures for 2014), see :data:`PARIS_2014`:

* 5,106 children and young adults in care; 27% aged 18-21; 31% unaccompanied minors (MNA).
  Decision: MNA are 92% boys; 70% of them are minors aged 13-17 (mostly 15-17) and 30% young
  adults aged 18-20 on a contrat jeune majeur, so MNA young adults are about a third of the
  18-21 group.
* Of the children placed today: 49% in establishments (foyer de l'enfance, MECS, pouponnière),
  34% with foster families (assistant familial), 17% in other settings (lieu de vie,
  semi-autonomie, centre maternel, accueil d'urgence).
* 299 sibling groups totalling 602 children (mostly pairs, the few extra children make groups
  of 3 or 4); siblings share a home; 10% of groups may be split (``together=False``), and in
  half of those the eldest carries a judge's separation order naming a sibling.
* 990 places in 14 departmental establishments and 2,082 places in associative establishments
  (MECS and pouponnières), plus foster families (1 to 3 places each) and the other settings.
  The 3,072 establishment places hold the 49% of placed children in establishments; the rest
  of their occupied places (about 19%) is taken by children outside this dataset (placed by
  other départements), so that establishment occupancy is 92-100% like the rest.
* Places are located 41% in Paris, 21% elsewhere in Île-de-France and 38% in the provinces;
  foster families mostly in the provinces (78%), lieux de vie too (85%).
* Family homes: 85% in Paris, spread over the 20 arrondissements by population times
  :data:`ARRONDISSEMENT_POVERTY_WEIGHT` (x2.0 for the 18e, 19e and 20e, x1.3 for the 10e,
  11e, 13e and 17e, x0.6 for the 6e, 7e, 8e and 16e, x1.0 elsewhere); 15% elsewhere in
  Île-de-France, by commune population times :data:`IDF_DEPARTEMENT_WEIGHT`. An unaccompanied
  minor has no family home: the "home" stands for the place where the ASE took them in.
* About 7% of children are waiting for a place (current=None), drawn more often among infants,
  MNA and children with a disability, for whom free places are scarcer.

Steps that may take more than a second report through ``progress(stage, fraction)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import date, timedelta

import numpy as np

from data import geography
from matcher import (
    Child,
    CurrentPlacement,
    DomainError,
    Home,
    JudgeConstraints,
    LegalBasis,
    Location,
    Need,
    Operator,
    PlacementSystem,
    Sex,
    SiblingGroup,
    Structure,
    StructureType,
    Unit,
    UnitSex,
    Urgency,
)

Progress = Callable[[str, float], None]

DEFAULT_REFERENCE_DATE = date(2026, 11, 23)


@dataclass(frozen=True)
class Calibration:
    """Published figures the generator reproduces at scale 1 (shares are fractions of 1)."""

    children: int = 5106
    young_adult_share: float = 0.27
    unaccompanied_share: float = 0.31
    unaccompanied_adult_share: float = 0.30
    """Share of MNA who are young adults (18-20): a modelling decision, not a published figure."""
    establishment_share: float = 0.49
    foster_share: float = 0.34
    other_share: float = 0.17
    sibling_groups: int = 299
    sibling_children: int = 602
    separable_group_share: float = 0.10
    departmental_establishments: int = 14
    departmental_places: int = 990
    associative_establishment_places: int = 2082
    paris_place_share: float = 0.41
    idf_place_share: float = 0.21
    province_place_share: float = 0.38
    waiting_share: float = 0.07
    disability_share: float = 0.065
    psychic_care_share: float = 0.09
    protection_share: float = 0.01
    mother_child_share: float = 0.008
    judge_constraint_share: float = 0.04
    home_in_paris_share: float = 0.85


PARIS_2014 = Calibration()

ARRONDISSEMENT_POVERTY_WEIGHT: dict[str, float] = {
    **{f"751{i:02d}": 1.0 for i in range(1, 21)},
    "75118": 2.0, "75119": 2.0, "75120": 2.0,
    "75110": 1.3, "75111": 1.3, "75113": 1.3, "75117": 1.3,
    "75106": 0.6, "75107": 0.6, "75108": 0.6, "75116": 0.6,
}
"""Weight of an arrondissement's population in drawing family homes (child poverty)."""

IDF_DEPARTEMENT_WEIGHT: dict[str, float] = {
    "93": 2.0, "94": 1.2, "95": 1.2, "92": 1.0, "77": 0.6, "78": 0.6, "91": 0.6,
}
"""Weight of a commune's population, by département, in drawing homes outside Paris."""

PROVINCE_DEPARTEMENT_WEIGHT: dict[str, float] = {
    "58": 3.0, "89": 2.5, "18": 1.5, "03": 1.5, "41": 1.5, "72": 1.5, "61": 1.5, "27": 1.5,
    "60": 2.0, "45": 1.5, "62": 1.5, "80": 1.2, "02": 1.2, "51": 1.0, "10": 1.0, "28": 1.2,
    "36": 0.8, "14": 0.8, "76": 1.0, "59": 1.0, "21": 0.6, "37": 0.8,
}
"""Where Paris places children in the provinces (historically the Nièvre and Yonne foster
networks, then the départements around Île-de-France)."""

DAILY_PRICE_EUR: dict[StructureType, tuple[float, float]] = {
    StructureType.MECS: (225.0, 20.0),
    StructureType.POUPONNIERE: (330.0, 30.0),
    StructureType.FOYER_ENFANCE: (260.0, 25.0),
    StructureType.ASSISTANT_FAMILIAL: (115.0, 8.0),
    StructureType.LIEU_DE_VIE: (200.0, 20.0),
    StructureType.SEMI_AUTONOMIE: (120.0, 15.0),
    StructureType.CENTRE_MATERNEL: (190.0, 20.0),
    StructureType.ACCUEIL_URGENCE: (110.0, 15.0),
}
"""(mean, standard deviation) of the daily price per place in euros, orders of magnitude of
published departmental prices (prix de journée): MECS 200-250, pouponnière 300+, foster family
100-130 (salary and allowances), lieu de vie ~200, semi-autonomie ~120."""

ESTABLISHMENTS = frozenset({StructureType.FOYER_ENFANCE, StructureType.MECS, StructureType.POUPONNIERE})
OTHER_SETTINGS = frozenset({
    StructureType.LIEU_DE_VIE, StructureType.SEMI_AUTONOMIE,
    StructureType.CENTRE_MATERNEL, StructureType.ACCUEIL_URGENCE,
})


@dataclass(frozen=True)
class Scenario:
    """A named, seeded synthetic scenario. ``scale`` multiplies every count of PARIS_2014."""

    name: str
    scale: float
    description: str
    reference_date: date = DEFAULT_REFERENCE_DATE

    def __post_init__(self) -> None:
        if not self.name:
            raise DomainError("a scenario needs a name")
        if not (isinstance(self.scale, (int, float)) and math.isfinite(self.scale)):
            raise DomainError(f"scenario {self.name}: scale must be a number, got {self.scale!r}")
        if not (0.01 <= self.scale <= 1000):
            raise DomainError(f"scenario {self.name}: scale {self.scale} is outside 0.01-1000")


SCENARIOS: dict[str, Scenario] = {
    "small": Scenario("small", 0.05, "About 5% of Paris (about 255 children): quick tests."),
    "paris": Scenario("paris", 1.0, "Paris at scale 1, calibrated on the 2014 figures."),
    "paris-10x": Scenario("paris-10x", 10.0, "Ten times Paris (about 51,000 children): benchmarks."),
}


def generate_scenario(name: str, seed: int = 1, progress: Progress | None = None) -> PlacementSystem:
    """The placement system of a named scenario (see :data:`SCENARIOS`)."""
    if name not in SCENARIOS:
        raise DomainError(f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}")
    scenario = SCENARIOS[name]
    return generate(scenario.scale, seed, scenario.reference_date, progress)


def generate(
    scale: float = 1.0,
    seed: int = 1,
    reference_date: date = DEFAULT_REFERENCE_DATE,
    progress: Progress | None = None,
) -> PlacementSystem:
    """A synthetic placement system of ``scale`` times Paris, the same for the same seed."""
    Scenario("custom", scale, "")  # validates the scale
    if not isinstance(seed, int) or seed < 0:
        raise DomainError(f"seed must be a non-negative integer, got {seed!r}")
    return _Builder(scale, seed, reference_date, progress or (lambda stage, fraction: None)).build()


# --- internal records -----------------------------------------------------------------------


@dataclass(slots=True)
class _Kid:
    idx: int
    age: int
    sex: Sex
    mna: bool
    group: int = -1
    needs: set = field(default_factory=set)
    home: int = -1
    waiting: bool = False
    stype: StructureType | None = None
    unit: int = -1
    since: date | None = None
    waiting_since: date | None = None
    urgent: bool = False
    pregnant: bool = False
    own_child_birth: date | None = None
    separated: set = field(default_factory=set)
    excluded_structures: set = field(default_factory=set)
    excluded_departements: set = field(default_factory=set)
    max_travel: float | None = None
    legal: LegalBasis = LegalBasis.JUDICIAL
    birth: date | None = None

    def age_band_key(self) -> str:
        return "4-11" if self.age <= 11 else "12-15" if self.age <= 15 else "16-17" if self.age <= 17 else "18-21"


@dataclass(slots=True)
class _Site:
    idx: int
    stype: StructureType
    operator: Operator
    caps: frozenset
    secret: bool = False
    units: list = field(default_factory=list)
    zone: str = ""
    location: Location | None = None
    name_place: str = ""
    id: str = ""
    price: float = 0.0


@dataclass(slots=True)
class _Slot:
    idx: int
    site: int
    age_min: int
    age_max: int
    sex: UnitSex
    capacity: int
    placed: int = 0
    fill: int = 0
    """Places the generator fills with children of the dataset (capacity minus vacancies)."""
    takes_siblings: bool = True
    occupied: int = 0


def _round(x: float) -> int:
    return int(math.floor(x + 0.5))


def _apportion(total: int, weights: np.ndarray, minimum: int = 0) -> np.ndarray:
    """Integers summing to ``total`` proportional to ``weights`` (largest remainder)."""
    weights = np.asarray(weights, dtype=float)
    base = np.full(len(weights), minimum, dtype=int)
    rest = total - base.sum()
    if rest < 0:
        raise DomainError(f"cannot split {total} into {len(weights)} parts of at least {minimum}")
    share = weights / weights.sum() * rest
    out = np.floor(share).astype(int)
    left = rest - out.sum()
    order = np.argsort(-(share - out), kind="stable")
    out[order[:left]] += 1
    return base + out


class _Builder:
    def __init__(self, scale: float, seed: int, on: date, progress: Progress):
        self.scale = float(scale)
        self.seed = seed
        self.on = on
        self.progress = progress
        self.cal = PARIS_2014
        self.kids: list[_Kid] = []
        self.groups: list[list[int]] = []
        self.group_together: list[bool] = []
        self.sites: list[_Site] = []
        self.slots: list[_Slot] = []
        self.homes: list[Location] = []

    def rng(self, stage: int) -> np.random.Generator:
        return np.random.default_rng(np.random.SeedSequence([self.seed, stage]))

    # -- orchestration ---------------------------------------------------------------------

    def build(self) -> PlacementSystem:
        self.progress("children", 0.0)
        self.make_children(self.rng(1))
        self.make_needs(self.rng(2))
        self.choose_waiting(self.rng(3))
        self.progress("structures", 0.2)
        self.choose_settings(self.rng(5))
        self.make_establishments(self.rng(4))
        self.progress("placements", 0.35)
        self.place_children(self.rng(6))
        self.set_occupancy(self.rng(7))
        self.progress("locations", 0.55)
        self.locate_structures(self.rng(8))
        self.locate_homes(self.rng(9))
        self.progress("judges", 0.75)
        self.make_dates(self.rng(10))
        self.make_judge_constraints(self.rng(11))
        self.progress("checks", 0.85)
        system = self.assemble()
        self.progress("done", 1.0)
        return system

    # -- children --------------------------------------------------------------------------

    def birth_date(self, age: int, rng: np.random.Generator) -> date:
        year = self.on.year - age
        try:
            anniversary = self.on.replace(year=year)
        except ValueError:  # 29 February
            anniversary = date(year, 2, 28)
        return anniversary - timedelta(days=int(rng.integers(0, 365)))

    def make_children(self, rng: np.random.Generator) -> None:
        cal, s = self.cal, self.scale
        n = max(10, _round(cal.children * s))
        n_ya = _round(cal.young_adult_share * n)
        n_mna = _round(cal.unaccompanied_share * n)
        n_mna_ya = _round(cal.unaccompanied_adult_share * n_mna)
        n_mna_minor = n_mna - n_mna_ya
        n_other_ya = n_ya - n_mna_ya
        n_other_minor = n - n_ya - n_mna_minor
        n_groups = _round(cal.sibling_groups * s)
        n_sib = max(2 * n_groups, _round(cal.sibling_children * s))
        sizes = np.full(n_groups, 2)
        extra = n_sib - 2 * n_groups
        while extra > 0 and n_groups:
            g = int(rng.integers(0, n_groups))
            if sizes[g] < 4:
                sizes[g] += 1
                extra -= 1
        # Ages of non-MNA minors: band shares 0-3 11%, 4-11 33%, 12-15 31%, 16-17 25%.
        minor_w = np.array([0.2, 0.25, 0.27, 0.28] + [1 / 8] * 8 + [1 / 4] * 4 + [1 / 2] * 2)
        minor_w *= np.repeat([0.11, 0.33, 0.31, 0.25], [4, 8, 4, 2])
        minor_w /= minor_w.sum()
        kids: list[tuple[int, Sex, bool, int]] = []
        # Sibling groups (non-MNA): an eldest age from the minor profile, the others 1-6 years apart.
        for g, size in enumerate(sizes):
            eldest = int(rng.choice(18, p=minor_w))
            eldest = max(eldest, size - 1)
            ages = [eldest] + [max(0, eldest - int(rng.integers(1, 7)) * (k + 1) // 2) for k in range(size - 1)]
            for a in ages:
                kids.append((a, Sex.MALE if rng.random() < 0.53 else Sex.FEMALE, False, g))
        n_other_minor_single = max(0, n_other_minor - len(kids))
        for a in rng.choice(18, size=n_other_minor_single, p=minor_w):
            kids.append((int(a), Sex.MALE if rng.random() < 0.55 else Sex.FEMALE, False, -1))
        for a in rng.choice([18, 19, 20], size=n_other_ya, p=[0.45, 0.35, 0.20]):
            kids.append((int(a), Sex.MALE if rng.random() < 0.5 else Sex.FEMALE, False, -1))
        for a in rng.choice([13, 14, 15, 16, 17], size=n_mna_minor, p=[0.03, 0.07, 0.25, 0.32, 0.33]):
            kids.append((int(a), Sex.MALE if rng.random() < 0.92 else Sex.FEMALE, True, -1))
        for a in rng.choice([18, 19, 20], size=n_mna_ya, p=[0.6, 0.3, 0.1]):
            kids.append((int(a), Sex.MALE if rng.random() < 0.92 else Sex.FEMALE, True, -1))
        order = rng.permutation(len(kids))
        self.groups = [[] for _ in range(n_groups)]
        for idx, k in enumerate(order):
            age, sex, mna, g = kids[int(k)]
            kid = _Kid(idx, age, sex, mna, g)
            kid.birth = self.birth_date(age, rng)
            if mna:
                kid.needs.add(Need.UNACCOMPANIED_MINOR)
            if g >= 0:
                self.groups[g].append(idx)
            self.kids.append(kid)
        separable = rng.random(n_groups) < self.cal.separable_group_share
        self.group_together = [not bool(x) for x in separable]
        for g, together in enumerate(self.group_together):
            if not together and rng.random() < 0.5:
                members = sorted(self.groups[g], key=lambda i: -self.kids[i].age)
                self.kids[members[0]].separated.add(members[1])
                self.kids[members[1]].separated.add(members[0])

    def make_needs(self, rng: np.random.Generator) -> None:
        cal = self.cal
        n = len(self.kids)
        n_mna = sum(k.mna for k in self.kids)
        for k in self.kids:
            # Disability mostly among non-MNA children; psychic care in both.
            p_dis = cal.disability_share * n / max(1, n - n_mna) * (0.15 if k.mna else 0.95)
            if rng.random() < p_dis:
                k.needs.add(Need.DISABILITY)
            if rng.random() < cal.psychic_care_share * (0.8 if k.mna else 1.1):
                k.needs.add(Need.PSYCHIC_CARE)
        singles_f = [k for k in self.kids if k.group < 0 and k.sex is Sex.FEMALE]
        prot = [k for k in singles_f if 13 <= k.age <= 20]
        n_prot = min(len(prot), max(1, _round(cal.protection_share * n)))
        for i in rng.choice(len(prot), size=n_prot, replace=False):
            prot[int(i)].needs.add(Need.PROTECTION)
            prot[int(i)].needs.discard(Need.DISABILITY)
        moms = [k for k in singles_f if 16 <= k.age <= 20 and Need.PROTECTION not in k.needs]
        n_mom = min(len(moms), max(1, _round(cal.mother_child_share * n)))
        for i in rng.choice(len(moms), size=n_mom, replace=False):
            k = moms[int(i)]
            k.needs.add(Need.MOTHER_CHILD)
            k.needs.discard(Need.DISABILITY)
            if rng.random() < 0.4:
                k.pregnant = True
            else:
                k.own_child_birth = self.on - timedelta(days=int(rng.integers(10, 900)))

    def choose_waiting(self, rng: np.random.Generator) -> None:
        """About 7% wait for a place, more often infants, MNA and disabled children; fratries as a whole."""
        blocks = self.blocks()
        weights = []
        for b in blocks:
            w = 1.0
            for i in b:
                k = self.kids[i]
                if k.age <= 3:
                    w *= 1.6
                if k.mna:
                    w *= 1.5
                if Need.DISABILITY in k.needs:
                    w *= 1.6
            weights.append(w)
        w = np.array(weights)
        target = _round(self.cal.waiting_share * len(self.kids))
        order = rng.choice(len(blocks), size=len(blocks), replace=False, p=w / w.sum())
        count = 0
        for b in order:
            if count >= target:
                break
            for i in blocks[int(b)]:
                self.kids[i].waiting = True
            count += len(blocks[int(b)])

    def blocks(self) -> list[list[int]]:
        """Children placed as one: a fratrie that stays together, otherwise each child alone."""
        out = []
        for g, members in enumerate(self.groups):
            if self.group_together[g]:
                out.append(list(members))
        out.extend([k.idx] for k in self.kids if k.group < 0 or not self.group_together[k.group])
        return out

    # -- structures ------------------------------------------------------------------------

    def new_site(self, stype: StructureType, operator: Operator, caps, secret: bool = False) -> _Site:
        site = _Site(len(self.sites), stype, operator, frozenset(caps), secret)
        self.sites.append(site)
        return site

    def new_slot(self, site: _Site, ages: tuple[int, int], sex: UnitSex, capacity: int,
                 takes_siblings: bool = True) -> _Slot:
        slot = _Slot(len(self.slots), site.idx, ages[0], ages[1], sex, capacity,
                     takes_siblings=takes_siblings)
        self.slots.append(slot)
        site.units.append(slot.idx)
        return slot

    def make_establishments(self, rng: np.random.Generator) -> None:
        """Departmental (14, 990 places) and associative (2,082 places) establishments at scale 1."""
        cal, s = self.cal, self.scale
        n_dep = max(1, _round(cal.departmental_establishments * s))
        pattern = [StructureType.FOYER_ENFANCE, StructureType.MECS, StructureType.POUPONNIERE,
                   StructureType.FOYER_ENFANCE, StructureType.MECS, StructureType.MECS,
                   StructureType.FOYER_ENFANCE, StructureType.MECS, StructureType.POUPONNIERE,
                   StructureType.FOYER_ENFANCE, StructureType.MECS, StructureType.MECS,
                   StructureType.FOYER_ENFANCE, StructureType.MECS]
        types = [pattern[i % len(pattern)] for i in range(n_dep)]
        base = {StructureType.FOYER_ENFANCE: 90, StructureType.MECS: 65, StructureType.POUPONNIERE: 45}
        w = np.array([base[t] for t in types]) * rng.lognormal(0, 0.25, n_dep)
        caps = _apportion(max(n_dep * 8, _round(cal.departmental_places * s)), w, minimum=8)
        for t, c in zip(types, caps):
            extra = {Need.PSYCHIC_CARE} if rng.random() < 0.5 else set()
            if t is StructureType.FOYER_ENFANCE:
                extra |= {Need.UNACCOMPANIED_MINOR} if rng.random() < 0.5 else set()
            if t is StructureType.POUPONNIERE and rng.random() < 0.5:
                extra.add(Need.DISABILITY)
            self.establishment_units(self.new_site(t, Operator.DEPARTMENTAL, extra), int(c), rng)
        total = max(8, _round(cal.associative_establishment_places * s))
        n_secret = max(1, _round(3 * s))
        sizes: list[tuple[StructureType, int, str]] = []
        protected = [k for k in self.kids if Need.PROTECTION in k.needs and not k.waiting]
        minors = sum(k.age < 18 for k in protected)
        secret_units = _apportion(2 * (len(protected) + n_secret) + 2, np.array([minors + 1, len(protected) - minors + 1]), minimum=1)
        secret_split = [_apportion(int(c), np.ones(n_secret)) for c in secret_units]
        for i in range(n_secret):
            sizes.append((StructureType.MECS, int(secret_split[0][i] + secret_split[1][i]), f"secret{i}"))
        # Kinds of associative establishment in proportion to the demand departmental ones leave.
        est = [k for k in self.kids if k.stype in ESTABLISHMENTS and Need.PROTECTION not in k.needs]
        d_poup = sum(k.stype is StructureType.POUPONNIERE for k in est)
        d_mna = sum(k.stype is StructureType.MECS and k.mna for k in est)
        d_mecs = sum(k.stype is StructureType.MECS and not k.mna for k in est)
        dep_cap = {t: sum(int(c) for tt, c in zip(types, caps) if tt is t) for t in set(types)}
        need = np.array([
            max(0.0, 1.3 * d_poup - dep_cap.get(StructureType.POUPONNIERE, 0)),
            1.45 * d_mna,
            max(0.0, 1.3 * d_mecs - dep_cap.get(StructureType.MECS, 0)),
        ]) + 1e-6
        kind_p = need / need.sum()
        while sum(c for _, c, _ in sizes) < total:
            r = int(rng.choice(3, p=kind_p))
            if r == 0:
                sizes.append((StructureType.POUPONNIERE, int(rng.integers(20, 41)), "pouponniere"))
            elif r == 1:
                sizes.append((StructureType.MECS, int(rng.integers(20, 61)), "mna"))
            else:
                sizes.append((StructureType.MECS, int(rng.integers(15, 61)), "mecs"))
        over = sum(c for _, c, _ in sizes) - total
        t, c, kind = sizes[-1]
        if c - over >= 8:
            sizes[-1] = (t, c - over, kind)
        else:
            sizes.pop()
            t2, c2, k2 = sizes[-1]
            sizes[-1] = (t2, c2 + c - over, k2)
        for t, c, kind in sizes:
            caps: set[Need] = set()
            if kind.startswith("secret"):
                # Sized on the protected girls (twice as many places), girls 13-17 and 16-21.
                i = int(kind.removeprefix("secret"))
                site = self.new_site(t, Operator.ASSOCIATIVE,
                                     {Need.PROTECTION, Need.PSYCHIC_CARE, Need.UNACCOMPANIED_MINOR}, True)
                self.new_slot(site, (13, 17), UnitSex.GIRLS, max(1, int(secret_split[0][i])))
                self.new_slot(site, (16, 21), UnitSex.GIRLS, max(1, int(secret_split[1][i])))
                continue
            if kind == "mna":
                caps.add(Need.UNACCOMPANIED_MINOR)
                if rng.random() < 0.4:
                    caps.add(Need.PSYCHIC_CARE)
            else:
                if rng.random() < (0.4 if t is StructureType.POUPONNIERE else 0.16):
                    caps.add(Need.DISABILITY)
                if rng.random() < 0.3:
                    caps.add(Need.PSYCHIC_CARE)
            self.establishment_units(self.new_site(t, Operator.ASSOCIATIVE, caps), c, rng)

    def mecs_demand(self, mna: bool) -> dict[str, float]:
        """Children bound for a MECS by unit template (weights for drawing unit templates)."""
        key = ("mna" if mna else "std")
        cache = self.__dict__.setdefault("_mecs_demand", {})
        if key not in cache:
            w = dict.fromkeys(["minor_m", "minor_f", "adult_m", "adult_f", "4-11", "12-15", "16-17", "18-21"], 0.0)
            for k in self.kids:
                if k.stype is not StructureType.MECS or k.mna is not mna or Need.PROTECTION in k.needs:
                    continue
                if mna:
                    w[("adult_" if k.age >= 18 else "minor_") + ("m" if k.sex is Sex.MALE else "f")] += 1
                else:
                    w[k.age_band_key()] += 1
            cache[key] = w
        return cache[key]

    def establishment_units(self, site: _Site, capacity: int, rng: np.random.Generator) -> None:
        """Units by age band: pouponnière 0-3; foyer 0-3 to 16-17; MECS 4-11 / 12-15 / 16-17 / 16-21."""
        t = site.stype
        if t is StructureType.POUPONNIERE:
            templates = [((0, 3), UnitSex.MIXED, 1.0)]
        elif t is StructureType.FOYER_ENFANCE:
            templates = [((0, 3), UnitSex.MIXED, 0.12), ((4, 11), UnitSex.MIXED, 0.28),
                         ((12, 15), UnitSex.GIRLS, 0.15), ((12, 15), UnitSex.BOYS, 0.15),
                         ((16, 17), UnitSex.MIXED, 0.15), ((13, 17), UnitSex.BOYS, 0.15)]
        elif Need.UNACCOMPANIED_MINOR in site.caps and t is StructureType.MECS:
            w = self.mecs_demand(mna=True)
            templates = [((14, 17), UnitSex.BOYS, w["minor_m"]), ((13, 17), UnitSex.MIXED, w["minor_f"]),
                         ((16, 21), UnitSex.BOYS, w["adult_m"]), ((16, 21), UnitSex.MIXED, w["adult_f"])]
            templates = [x for x in templates if x[2] > 0] or [((14, 17), UnitSex.BOYS, 1.0)]
        else:
            w = self.mecs_demand(mna=False)
            options = [((4, 11), UnitSex.MIXED, 0.75 * w["4-11"]), ((6, 13), UnitSex.MIXED, 0.25 * w["4-11"]),
                       ((12, 15), UnitSex.MIXED, 0.5 * w["12-15"]), ((12, 15), UnitSex.GIRLS, 0.25 * w["12-15"]),
                       ((12, 15), UnitSex.BOYS, 0.25 * w["12-15"]), ((16, 17), UnitSex.MIXED, 0.5 * w["16-17"]),
                       ((16, 17), UnitSex.BOYS, 0.25 * w["16-17"]), ((16, 17), UnitSex.GIRLS, 0.25 * w["16-17"]),
                       ((16, 21), UnitSex.MIXED, w["18-21"])]
            options = [o for o in options if o[2] > 0] or [((4, 11), UnitSex.MIXED, 1.0)]
            k = min(len(options), max(1, capacity // 12), int(rng.integers(2, 5)))
            p = np.array([o[2] for o in options])
            pick = sorted(rng.choice(len(options), size=k, replace=False, p=p / p.sum()))
            templates = [options[int(i)] for i in pick]
        n_units = max(1, min(len(templates) * 3, _round(capacity / 12)))
        if n_units < len(templates):
            templates = templates[:n_units]
        chosen = [templates[i % len(templates)] for i in range(n_units)]
        split = _apportion(capacity, np.array([c[2] for c in chosen]), minimum=1)
        for (ages, sex, _), c in zip(chosen, split):
            self.new_slot(site, ages, sex, int(c))

    # -- settings and placements -----------------------------------------------------------

    SETTING_PROBABILITIES: dict[str, tuple[tuple[StructureType, float], ...]] = {
        "infant": ((StructureType.POUPONNIERE, 0.55), (StructureType.ASSISTANT_FAMILIAL, 0.38),
                   (StructureType.FOYER_ENFANCE, 0.07)),
        "child": ((StructureType.ASSISTANT_FAMILIAL, 0.52), (StructureType.MECS, 0.36),
                  (StructureType.FOYER_ENFANCE, 0.08), (StructureType.LIEU_DE_VIE, 0.04)),
        "young_teen": ((StructureType.ASSISTANT_FAMILIAL, 0.34), (StructureType.MECS, 0.52),
                       (StructureType.FOYER_ENFANCE, 0.10), (StructureType.LIEU_DE_VIE, 0.04)),
        "older_teen": ((StructureType.ASSISTANT_FAMILIAL, 0.25), (StructureType.MECS, 0.57),
                       (StructureType.FOYER_ENFANCE, 0.06), (StructureType.SEMI_AUTONOMIE, 0.09),
                       (StructureType.LIEU_DE_VIE, 0.03)),
        "young_adult": ((StructureType.ASSISTANT_FAMILIAL, 0.37), (StructureType.SEMI_AUTONOMIE, 0.24),
                        (StructureType.MECS, 0.36), (StructureType.LIEU_DE_VIE, 0.03)),
        "mna_minor": ((StructureType.MECS, 0.64), (StructureType.ACCUEIL_URGENCE, 0.12),
                      (StructureType.SEMI_AUTONOMIE, 0.08), (StructureType.ASSISTANT_FAMILIAL, 0.12),
                      (StructureType.LIEU_DE_VIE, 0.04)),
        "mna_adult": ((StructureType.SEMI_AUTONOMIE, 0.46), (StructureType.ACCUEIL_URGENCE, 0.06),
                      (StructureType.ASSISTANT_FAMILIAL, 0.20), (StructureType.MECS, 0.28)),
    }
    """Setting of a placed child by profile, tuned so that the shares come out at 49/34/17."""

    def profile(self, k: _Kid) -> str:
        if k.mna:
            return "mna_adult" if k.age >= 18 else "mna_minor"
        if k.age <= 3:
            return "infant"
        if k.age <= 11:
            return "child"
        if k.age <= 15:
            return "young_teen"
        if k.age <= 17:
            return "older_teen"
        return "young_adult"

    def draw_setting(self, k: _Kid, rng: np.random.Generator) -> StructureType:
        if Need.MOTHER_CHILD in k.needs:
            return StructureType.CENTRE_MATERNEL
        if Need.PROTECTION in k.needs:
            return StructureType.MECS
        table = self.SETTING_PROBABILITIES[self.profile(k)]
        if k.age < 16:
            table = tuple(x for x in table if x[0] is not StructureType.SEMI_AUTONOMIE)
        if k.age < 13:
            table = tuple(x for x in table if x[0] is not StructureType.ACCUEIL_URGENCE)
        if k.age >= 18:
            table = tuple(x for x in table if x[0] is not StructureType.FOYER_ENFANCE)
        p = np.array([x[1] for x in table])
        return table[int(rng.choice(len(table), p=p / p.sum()))][0]

    def choose_settings(self, rng: np.random.Generator) -> None:
        for b in self.blocks():
            kids = [self.kids[i] for i in b]
            if kids[0].waiting:
                continue
            if len(kids) == 1:
                kids[0].stype = self.draw_setting(kids[0], rng)
                continue
            if len(kids) <= 3 and rng.random() < 0.6:
                stype = StructureType.ASSISTANT_FAMILIAL
            elif all(k.age <= 3 for k in kids):
                stype = StructureType.POUPONNIERE
            elif any(k.age <= 3 for k in kids):
                stype = StructureType.FOYER_ENFANCE  # the only establishment with 0-3 and older units
            else:
                stype = StructureType.MECS if rng.random() < 0.75 else StructureType.FOYER_ENFANCE
            for k in kids:
                k.stype = stype

    def compatible(self, k: _Kid, slot: _Slot, site: _Site) -> bool:
        """Mirror of the hard rules of matcher.rules that do not need travel times."""
        if not (slot.age_min <= k.age <= slot.age_max) or not slot.sex.admits(k.sex):
            return False
        if k.age >= 18 and slot.age_max < 18:
            return False
        if k.age < 18 and slot.age_min >= 18:
            return False
        if not k.needs <= site.caps:
            return False
        if site.stype is StructureType.CENTRE_MATERNEL and Need.MOTHER_CHILD not in k.needs:
            return False
        if site.secret and Need.PROTECTION not in k.needs:
            return False
        return True

    def place_children(self, rng: np.random.Generator) -> None:
        """Put every placed child in a compatible unit: establishments have fixed places,
        other settings and foster families are opened as children need them."""
        self.open_sites: dict[StructureType, list[int]] = {}
        blocks = [b for b in self.blocks() if not self.kids[b[0]].waiting]
        # Most constrained first: specialised needs, then fratries, then the rest.
        def hardness(b: list[int]) -> int:
            return -(10 * max(len(self.kids[i].needs - {Need.UNACCOMPANIED_MINOR}) for i in b) + len(b))
        order = rng.permutation(len(blocks))
        order = sorted(order, key=lambda j: hardness(blocks[int(j)]))
        est_slots = [s.idx for s in self.slots]
        self._compat_cache: dict[tuple, np.ndarray] = {}
        self._est_slots = np.array(est_slots, dtype=int)
        self._room = np.array([s.capacity for s in self.slots], dtype=float)
        total = len(order)
        for n_done, j in enumerate(order):
            b = blocks[int(j)]
            kids = [self.kids[i] for i in b]
            forbidden = {self.slots[self.kids[o].unit].site for k in kids for o in k.separated
                         if self.kids[o].unit >= 0}
            stype = kids[0].stype
            ok = False
            if stype in ESTABLISHMENTS:
                ok = self.place_in_establishment(kids, stype, forbidden, rng)
                for other in (StructureType.MECS, StructureType.FOYER_ENFANCE):
                    if not ok and other is not stype:
                        ok = self.place_in_establishment(kids, other, forbidden, rng)
                        if ok:
                            for k in kids:
                                k.stype = other
                if not ok:
                    for k in kids:
                        k.stype = StructureType.ASSISTANT_FAMILIAL if len(kids) <= 3 else StructureType.LIEU_DE_VIE
            if not ok:
                self.place_on_demand(kids, kids[0].stype, forbidden, rng)
            if n_done % 2000 == 0:
                self.progress("placements", 0.35 + 0.2 * n_done / max(1, total))

    def compatible_slots(self, k: _Kid, stype: StructureType) -> np.ndarray:
        key = (k.age, k.sex, frozenset(k.needs), stype)
        hit = self._compat_cache.get(key)
        if hit is None:
            hit = np.array([u for u in self._est_slots
                            if self.sites[self.slots[u].site].stype is stype
                            and self.compatible(k, self.slots[u], self.sites[self.slots[u].site])],
                           dtype=int)
            self._compat_cache[key] = hit
        return hit

    def place_in_establishment(self, kids: list[_Kid], stype: StructureType, forbidden: set,
                               rng: np.random.Generator) -> bool:
        if len(kids) == 1:
            cand = self.compatible_slots(kids[0], stype)
            if len(cand) == 0:
                return False
            room = self._room[cand]
            if forbidden:
                room = room * np.array([self.slots[u].site not in forbidden for u in cand])
            if room.sum() <= 0:
                return False
            u = int(cand[rng.choice(len(cand), p=room / room.sum())])
            self.put(kids[0], u)
            return True
        per_kid = [self.compatible_slots(k, stype) for k in kids]
        sites = set.intersection(*({self.slots[u].site for u in c} for c in per_kid)) - forbidden
        for site in sorted(sites, key=lambda _: rng.random()):
            room = {u: self._room[u] for c in per_kid for u in c if self.slots[u].site == site}
            choice = []
            for c in per_kid:
                best = max((u for u in c if self.slots[u].site == site), key=lambda u: room[u])
                if room[best] < 1:
                    break
                room[best] -= 1
                choice.append(best)
            else:
                for k, u in zip(kids, choice):
                    self.put(k, u)
                return True
        return False

    def put(self, k: _Kid, u: int) -> None:
        k.unit = u
        self.slots[u].placed += 1
        if u < len(self._room):  # establishment places, fixed before placements
            self._room[u] -= 1

    ON_DEMAND_TEMPLATES: dict[StructureType, tuple[tuple[int, int], tuple[tuple[tuple[int, int], UnitSex, float], ...]]] = {
        StructureType.ASSISTANT_FAMILIAL: ((1, 3), (((0, 21), UnitSex.MIXED, 1.0),)),
        StructureType.LIEU_DE_VIE: ((4, 8), (((4, 21), UnitSex.MIXED, 1.0),)),
        StructureType.SEMI_AUTONOMIE: ((12, 40), (((16, 21), UnitSex.MIXED, 0.6), ((18, 21), UnitSex.MIXED, 0.4))),
        StructureType.CENTRE_MATERNEL: ((8, 20), (((14, 21), UnitSex.GIRLS, 1.0),)),
        StructureType.ACCUEIL_URGENCE: ((15, 50), (((13, 17), UnitSex.MIXED, 0.6), ((18, 21), UnitSex.MIXED, 0.4))),
    }
    """(capacity range, unit templates) of the settings opened as children need them."""

    def place_on_demand(self, kids: list[_Kid], stype: StructureType, forbidden: set,
                        rng: np.random.Generator) -> None:
        open_sites = self.open_sites.setdefault(stype, [])
        for si in list(open_sites):
            site = self.sites[si]
            if si in forbidden:
                continue
            choice = self.fit(kids, site)
            if choice is not None:
                for k, u in zip(kids, choice):
                    self.put(k, u)
                if all(self.slots[u].placed >= self.slots[u].fill for u in site.units):
                    open_sites.remove(si)
                return
        site = self.open_site(stype, kids, rng)
        choice = self.fit(kids, site)
        assert choice is not None, "a new site is made to fit the children it is opened for"
        for k, u in zip(kids, choice):
            self.put(k, u)
        if any(self.slots[u].placed < self.slots[u].fill for u in site.units):
            open_sites.append(site.idx)

    def fit(self, kids: list[_Kid], site: _Site) -> list[int] | None:
        left = {u: self.slots[u].fill - self.slots[u].placed for u in site.units}
        choice = []
        for k in kids:
            ok = [u for u in site.units if left[u] > 0 and self.compatible(k, self.slots[u], site)]
            if not ok:
                return None
            u = max(ok, key=lambda u: left[u])
            left[u] -= 1
            choice.append(u)
        return choice

    def open_site(self, stype: StructureType, kids: list[_Kid], rng: np.random.Generator) -> _Site:
        (lo, hi), templates = self.ON_DEMAND_TEMPLATES[stype]
        needs = set().union(*(k.needs for k in kids))
        caps = set(needs)
        if stype is StructureType.ASSISTANT_FAMILIAL:
            operator = Operator.DEPARTMENTAL if rng.random() < 0.65 else Operator.ASSOCIATIVE
            capacity = max(len(kids), int(rng.choice([1, 2, 3], p=[0.2, 0.45, 0.35])))
            if rng.random() < 0.05:
                caps.add(Need.DISABILITY)
            if rng.random() < 0.08:
                caps.add(Need.PSYCHIC_CARE)
        else:
            operator = Operator.ASSOCIATIVE
            capacity = max(len(kids) + 1, int(rng.integers(lo, hi + 1)))
            if stype is StructureType.CENTRE_MATERNEL:
                caps.add(Need.MOTHER_CHILD)
            if stype in (StructureType.SEMI_AUTONOMIE, StructureType.ACCUEIL_URGENCE) and rng.random() < 0.6:
                caps.add(Need.UNACCOMPANIED_MINOR)
            if rng.random() < 0.3:
                caps.add(Need.PSYCHIC_CARE)
        caps.discard(Need.PROTECTION)
        site = self.new_site(stype, operator, caps)
        chosen = templates if capacity >= 2 * len(templates) else templates[:1]
        split = _apportion(capacity, np.array([t[2] for t in chosen]), minimum=1)
        takes_siblings = stype in (StructureType.ASSISTANT_FAMILIAL, StructureType.LIEU_DE_VIE)
        for (ages, sex, _), c in zip(chosen, split):
            slot = self.new_slot(site, ages, sex, int(c), takes_siblings)
            # Vacancies: foster families keep about 9% of places free, other settings about 5%.
            p_free = 0.09 if stype is StructureType.ASSISTANT_FAMILIAL else 0.05
            slot.fill = int(c) - int(rng.binomial(int(c), p_free))
        # The children it is opened for always fit.
        if self.fit(kids, site) is None:
            for k in kids:
                for u in site.units:
                    s = self.slots[u]
                    if self.compatible(k, s, site):
                        s.fill = min(s.capacity, s.fill + 1)
                        break
        return site

    def set_occupancy(self, rng: np.random.Generator) -> None:
        """Occupied places: the children placed here, and in establishments also children
        outside this dataset, up to 92-99% (97-100% where places are scarce)."""
        for slot in self.slots:
            site = self.sites[slot.site]
            if site.stype in ESTABLISHMENTS:
                scarce = (site.stype is StructureType.POUPONNIERE or Need.DISABILITY in site.caps
                          or Need.UNACCOMPANIED_MINOR in site.caps or site.secret)
                occ = rng.uniform(0.97, 1.0) if scarce else rng.uniform(0.92, 0.99)
                slot.occupied = min(slot.capacity, max(slot.placed, _round(slot.capacity * occ)))
            else:
                slot.occupied = slot.placed

    # -- geography -------------------------------------------------------------------------

    def locate_structures(self, rng: np.random.Generator) -> None:
        """Zones: foster families and lieux de vie mostly in the provinces, the rest placed so
        that places come out 41% Paris / 21% Île-de-France / 38% provinces."""
        cal = self.cal
        cap = np.array([sum(self.slots[u].capacity for u in s.units) for s in self.sites], dtype=float)
        target = np.array([cal.paris_place_share, cal.idf_place_share, cal.province_place_share]) * cap.sum()
        assigned = np.zeros(3)
        zones = ["paris", "idf", "province"]
        fixed_p = {StructureType.ASSISTANT_FAMILIAL: [0.04, 0.18, 0.78],
                   StructureType.LIEU_DE_VIE: [0.0, 0.15, 0.85]}
        rest = []
        for s in self.sites:
            if s.stype in fixed_p:
                z = int(rng.choice(3, p=fixed_p[s.stype]))
                s.zone = zones[z]
                assigned[z] += cap[s.idx]
            else:
                rest.append(s)
        # Largest first, each to a zone drawn in proportion to what that zone still lacks.
        rest.sort(key=lambda s: (-cap[s.idx], rng.random()))
        for s in rest:
            lack = np.maximum(target - assigned, 0) + 1e-9
            z = int(rng.choice(3, p=lack / lack.sum()))
            s.zone = zones[z]
            assigned[z] += cap[s.idx]
        self.place_sites_in_zones(rng)

    def place_sites_in_zones(self, rng: np.random.Generator) -> None:
        arr = geography.arrondissements()
        zones_idf = geography.idf_zones().set_index("code_insee")
        arr_w = arr["code"].map(zones_idf["area_km2"]).to_numpy(dtype=float)
        com = geography.idf_communes()
        com = com[com["population"] > 0].reset_index(drop=True)
        com_w = com["population"].to_numpy(dtype=float)
        prov = geography.province_station_communes()
        prov = prov[prov["departement"].isin(PROVINCE_DEPARTEMENT_WEIGHT)].reset_index(drop=True)
        prov_w = (np.sqrt(prov["population_municipale"].astype(float).to_numpy())
                  * prov["departement"].map(PROVINCE_DEPARTEMENT_WEIGHT).to_numpy())
        by_zone: dict[str, list[_Site]] = {"paris": [], "idf": [], "province": []}
        for s in self.sites:
            by_zone[s.zone].append(s)
        picks = rng.choice(len(arr), size=len(by_zone["paris"]), p=arr_w / arr_w.sum())
        self._locate_in_polygons(by_zone["paris"], picks, arr, "75", rng)
        picks = rng.choice(len(com), size=len(by_zone["idf"]), p=com_w / com_w.sum())
        self._locate_in_polygons(by_zone["idf"], picks, com, None, rng)
        picks = rng.choice(len(prov), size=len(by_zone["province"]), p=prov_w / prov_w.sum())
        jitter = rng.normal(0, 0.01, size=(len(picks), 2))
        for s, i, (dx, dy) in zip(by_zone["province"], picks, jitter):
            row = prov.iloc[int(i)]
            s.location = Location(round(float(row["lat"]) + dy, 6), round(float(row["lon"]) + dx, 6),
                                  row["code_insee"], row["departement"])
            s.name_place = row["nom"]

    def _locate_in_polygons(self, items: list, picks: np.ndarray, gdf, departement: str | None,
                            rng: np.random.Generator) -> list[Location]:
        """Set ``location`` (and ``name_place`` where present) of items at random points inside
        the polygons of ``gdf`` picked for them."""
        out: list[Location | None] = [None] * len(items)
        for i in np.unique(picks):
            where = np.flatnonzero(picks == i)
            row = gdf.iloc[int(i)]
            lons, lats = geography.sample_points(row.geometry, len(where), rng)
            code = row["code_cog2026"] if "code_cog2026" in gdf.columns else row["code"]
            dep = departement or row["departement"]
            for w, lon, lat in zip(where, lons, lats):
                out[int(w)] = Location(round(float(lat), 6), round(float(lon), 6), code, dep)
        names = gdf["nom"].to_numpy()
        for item, i, loc in zip(items, picks, out):
            if isinstance(item, _Site):
                item.location = loc
                item.name_place = str(names[int(i)])
        return out  # type: ignore[return-value]

    def locate_homes(self, rng: np.random.Generator) -> None:
        """One home per fratrie and per child outside a fratrie."""
        owners: list[list[int]] = [list(m) for m in self.groups]
        owners += [[k.idx] for k in self.kids if k.group < 0]
        order = rng.permutation(len(owners))
        owners = [owners[int(i)] for i in order]
        in_paris = rng.random(len(owners)) < self.cal.home_in_paris_share
        arr = geography.arrondissements()
        w = (arr["population"] * arr["code"].map(ARRONDISSEMENT_POVERTY_WEIGHT)).to_numpy(dtype=float)
        com = geography.idf_communes()
        com = com[com["population"] > 0].reset_index(drop=True)
        cw = (com["population"] * com["departement"].map(IDF_DEPARTEMENT_WEIGHT)).to_numpy(dtype=float)
        paris_idx = np.flatnonzero(in_paris)
        idf_idx = np.flatnonzero(~in_paris)
        locs: list[Location | None] = [None] * len(owners)
        p_picks = rng.choice(len(arr), size=len(paris_idx), p=w / w.sum())
        for j, loc in zip(paris_idx, self._locate_in_polygons(list(paris_idx), p_picks, arr, "75", rng)):
            locs[int(j)] = loc
        c_picks = rng.choice(len(com), size=len(idf_idx), p=cw / cw.sum())
        for j, loc in zip(idf_idx, self._locate_in_polygons(list(idf_idx), c_picks, com, None, rng)):
            locs[int(j)] = loc
        self.homes = locs  # type: ignore[assignment]
        for h, members in enumerate(owners):
            for i in members:
                self.kids[i].home = h

    # -- dates and judges ------------------------------------------------------------------

    def make_dates(self, rng: np.random.Generator) -> None:
        done_groups: dict[int, tuple[date, date, bool]] = {}
        for k in self.kids:
            if k.group >= 0 and k.group in done_groups and self.group_together[k.group]:
                k.since, k.waiting_since, k.urgent = done_groups[k.group]
            elif k.waiting:
                k.waiting_since = self.on - timedelta(days=int(rng.integers(1, 61)))
                p_urgent = 0.5 if (k.age <= 3 or Need.PROTECTION in k.needs) else 0.2
                k.urgent = bool(rng.random() < p_urgent)
            else:
                youngest = k.birth
                if k.group >= 0 and self.group_together[k.group]:
                    youngest = max(self.kids[i].birth for i in self.groups[k.group])
                born_days = (self.on - youngest).days
                stay = int(min(born_days, rng.exponential(700), 6 * 365))
                k.since = self.on - timedelta(days=max(1, stay))
                k.waiting_since = max(k.birth, k.since - timedelta(days=int(rng.integers(3, 60))))
            if k.group >= 0:
                done_groups.setdefault(k.group, (k.since, k.waiting_since, k.urgent))
            if k.mna:
                k.legal = LegalBasis.JUDICIAL
            elif rng.random() < 0.2:
                k.legal = LegalBasis.ADMINISTRATIVE

    def make_judge_constraints(self, rng: np.random.Generator) -> None:
        """About 4% of children: a maximum travel time (60-120 min), excluded structures or départements."""
        share = self.cal.judge_constraint_share
        establishments = [s.idx for s in self.sites if s.stype in ESTABLISHMENTS and not s.secret]
        provinces = sorted(PROVINCE_DEPARTEMENT_WEIGHT)
        for k in self.kids:
            if rng.random() >= share:
                continue
            current_site = self.sites[self.slots[k.unit].site] if k.unit >= 0 else None
            r = rng.random()
            if r < 0.45:
                if current_site is None or current_site.zone != "province":
                    k.max_travel = float(rng.choice([60.0, 90.0, 120.0]))
                else:
                    r = 0.7
            if 0.45 <= r < 0.75:
                pick = [provinces[int(i)] for i in rng.choice(len(provinces), size=2, replace=False)]
                k.excluded_departements = {d for d in pick
                                           if current_site is None or d != current_site.location.departement}
            elif r >= 0.75:
                pick = {establishments[int(i)] for i in rng.choice(len(establishments), size=2, replace=False)}
                k.excluded_structures = {p for p in pick if current_site is None or p != current_site.idx}

    # -- assembly --------------------------------------------------------------------------

    def assemble(self) -> PlacementSystem:
        n = len(self.kids)
        width = max(6, len(str(n)))
        kid_id = [f"E-{i + 1:0{width}d}" for i in range(n)]
        gwidth = max(4, len(str(len(self.groups))))
        group_id = [f"F-{g + 1:0{gwidth}d}" for g in range(len(self.groups))]
        hwidth = max(6, len(str(len(self.homes))))
        homes = [Home(f"H-{h + 1:0{hwidth}d}", loc) for h, loc in enumerate(self.homes)]
        # FINESS-like ids: département (2 characters) + 7 digits; foster families "AF-".
        number = 0
        afwidth = max(6, len(str(len(self.sites))))
        labels = {StructureType.FOYER_ENFANCE: "Foyer de l'enfance", StructureType.MECS: "MECS",
                  StructureType.POUPONNIERE: "Pouponnière", StructureType.LIEU_DE_VIE: "Lieu de vie",
                  StructureType.SEMI_AUTONOMIE: "Service semi-autonomie",
                  StructureType.CENTRE_MATERNEL: "Centre maternel",
                  StructureType.ACCUEIL_URGENCE: "Accueil d'urgence"}
        price_rng = self.rng(12)
        structures: list[Structure] = []
        for s in self.sites:
            assert s.location is not None
            number += 1
            if s.stype is StructureType.ASSISTANT_FAMILIAL:
                s.id = f"AF-{number:0{afwidth}d}"
                name = f"Assistant familial {s.id}"
            else:
                s.id = f"{s.location.departement}{number:07d}"
                name = ("Structure protégée " + s.id) if s.secret else f"{labels[s.stype]} - {s.name_place}"
            mean, sd = DAILY_PRICE_EUR[s.stype]
            factor = 1.05 if s.operator is Operator.DEPARTMENTAL else 1.0
            price = round(max(mean / 2, price_rng.normal(mean, sd)) * factor, 2)
            structures.append(Structure(s.id, name, s.stype, s.operator, s.location,
                                        frozenset(s.caps), price, s.secret))
        units: list[Unit] = []
        unit_id: list[str] = [""] * len(self.slots)
        for s in self.sites:
            for j, u in enumerate(s.units):
                slot = self.slots[u]
                unit_id[u] = f"{s.id}-U{j + 1}"
                units.append(Unit(unit_id[u], s.id, slot.age_min, slot.age_max, slot.sex,
                                  slot.capacity, slot.occupied, slot.takes_siblings))
        children: list[Child] = []
        for k in self.kids:
            assert k.birth is not None and k.waiting_since is not None
            current = None
            if k.unit >= 0:
                assert k.since is not None
                current = CurrentPlacement(unit_id[k.unit], k.since)
            judge = JudgeConstraints(
                excluded_structures=frozenset(self.sites[i].id for i in k.excluded_structures),
                excluded_departements=frozenset(k.excluded_departements),
                max_travel_minutes=k.max_travel,
                separated_from=frozenset(kid_id[o] for o in k.separated),
            )
            children.append(Child(
                id=kid_id[k.idx], birth_date=k.birth, sex=k.sex, home=homes[k.home],
                waiting_since=k.waiting_since,
                sibling_group_id=group_id[k.group] if k.group >= 0 else None,
                needs=frozenset(k.needs), legal_basis=k.legal,
                urgency=Urgency.URGENT if k.urgent else Urgency.NORMAL,
                current=current, judge=judge, pregnant=k.pregnant,
                own_child_birth_date=k.own_child_birth,
            ))
        groups = [SiblingGroup(group_id[g], tuple(kid_id[i] for i in members), self.group_together[g])
                  for g, members in enumerate(self.groups)]
        return PlacementSystem(self.on, tuple(children), tuple(groups), tuple(structures), tuple(units))


def scenario_parameters(scenario: Scenario) -> dict[str, object]:
    """The parameters of a scenario as plain values (for dataset.json)."""
    return {f.name: (getattr(scenario, f.name).isoformat() if f.name == "reference_date"
                     else getattr(scenario, f.name)) for f in fields(scenario)}
