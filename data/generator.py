"""Synthetic population of the Paris child-protection system, deterministic by seed.

Every child is synthetic: pseudonymous ids ("E-000123"), no names, homes drawn at random
inside real arrondissements and communes. Structures are generic ("MECS - Nevers") but sit in
real communes (see data/reference/SOURCES.md).

Calibration at scale 1 on the Paris child-protection plan 2015-2020 (schéma départemental de
prévention et de protection de l'enfance, figures at 31/12/2014; "Lnnn" is the line of
../shared/reference/paris-child-protection-plan-2015-2020.txt, digest in paris-plan-figures.md),
see :data:`PARIS_2014`:

* 5,106 children and young adults in care (L85), by single year of age and sex exactly as the
  plan's table (L453-475, :data:`AGE_SEX_2014`): bands 0-3 7.0%, 4-11 20.0%, 12-15 22.1%, 16-17
  23.8%, 18-20 27.2%; boys 65.7% (L475, L481), 47% of the 0-3, 58% of the 4-11, 63% of the
  12-15, 72% of the 16-17 and 73% of the 18-20.
* 1,580 young migrants, 31% (L530-533, L674): 744 unaccompanied minors (MNA), three quarters
  aged 16-17 and a quarter under 16 (13-15), and 836 young adults on a contrat jeune majeur.
  Decision: MNA are 92% boys, taken from the table's cells of their ages.
* Where the children are hosted (L579-583), :data:`HOSTING_SETTINGS`: departmental
  establishments 470, establishments funded by Paris 992, associative foster services 319,
  departmental foster services 1,281 with 975 carers (L795, about 1.3 children each), hotels 449
  (16-21 year olds, most of them MNA), autonomous flats 65 (young adults), other settings 370,
  other départements' establishments 1,160. Decision: the 370 "autres placements" are the
  children waiting for a place (the plan lists "en attente de placement" among them, L581; the
  others, with a trusted person or with parents, take no place the engine assigns).
* 318 mothers or pregnant women in centres maternels with 379 children (L677): every mother is
  placed (never waiting); a fifth are pregnant without a child yet, the others have one or two
  children living with them (``own_children``), 379 in all.
* 299 sibling groups totalling 602 children (L1276; mostly pairs, the few extra children make
  groups of 3 or 4); siblings share a home; 10% of groups may be split (``together=False``), and
  in half of those the eldest carries a judge's separation order naming a sibling.
* 990 places in 14 departmental establishments (L794) and 2,082 places in associative
  establishments (L796; modelled as MECS and pouponnières, the associative foster services,
  centres maternels, lieux de vie, semi-autonomy and emergency services being opened as their
  children need them). Their places not taken by Parisian children are occupied by children
  outside this dataset (placed by other départements), up to 92-100% occupancy.
* Where the children in care are placed (L595, L602, L610, L614; L96): 51% in Paris, 21% elsewhere
  in Île-de-France, 28% in the provinces, over the children placed today; where the places are
  (L1295): 41% in Paris, 21% elsewhere in Île-de-France, 30% in the provinces, over every place
  of the dataset. How both hold: the plan's place shares sum to 92%; the 8% left are the hotel
  rooms (hotels are no lieu d'accueil of the plan's map), counted apart. Children outnumber
  places in Paris because hotel rooms (in Paris) and Paris's establishments hold mostly
  Parisian children, while the establishment places outside Paris are largely taken by
  children of other départements; the remaining difference is closed by where foster carers
  and other départements' establishments are put (:meth:`_Builder.locate_on_demand`: each site
  goes to the zone that both targets lack most).
* Foster carers clustered where the plan says (:data:`FOSTER_DEPARTEMENT_WEIGHT`): in the
  provinces the Sarthe, Eure-et-Loir, Loiret and Yonne (L616); in Île-de-France many in the
  Yvelines (L608) and Seine-Saint-Denis (L599), few in Seine-et-Marne (L608). Large
  establishments (60 places or more) in Île-de-France outside Paris are in the Yvelines
  (Sonchamp, Villepreux: L606).
* Family homes for about half the children (L553: "environ un jeune sur deux n'a pas ou plus
  d'adresse à Paris"), 2,420 of them in Paris (L553), spread over the 20 arrondissements by
  population times :data:`ARRONDISSEMENT_POVERTY_WEIGHT` (x2.0 for the 18e, 19e and 20e, x1.3
  for the 10e, 11e, 13e and 17e, x0.6 for the 6e, 7e, 8e and 16e, x1.0 elsewhere; L73), the
  others elsewhere in Île-de-France by commune population times :data:`IDF_DEPARTEMENT_WEIGHT`.
  Most MNA have none (decision: 92%; the family abroad for three quarters, unknown for the
  rest); other children without a home: unknown address or none (decision).
* Schools (decision): every child aged 3-17 has a current school, except a fifth of MNA minors
  (not yet schooled); half of the young adults a training place. Near the current placement
  for a child placed more than a year ago, near the family home for one placed recently or
  waiting, else near the service that follows the child; schools are shared (a few per commune).
* Supervised visits (decision): the judge orders them for 8% of the children with a family
  home (a fratrie as one), at one of ten visit sites in Paris, the nearest to the home.
* About 7% of children are waiting for a place (current=None): the 370 above, drawn more often
  among infants, MNA and children with a disability, for whom free places are scarcer.

Steps that may take more than a second report through ``progress(stage, fraction)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from datetime import date, timedelta

import numpy as np

from data import geography
from matcher import (
    Child,
    CurrentPlacement,
    DomainError,
    Home,
    HomeAbsence,
    JudgeConstraints,
    LegalBasis,
    Location,
    Need,
    Operator,
    PlacementSystem,
    School,
    Sex,
    SiblingGroup,
    Structure,
    StructureType,
    Unit,
    UnitSex,
    Urgency,
    VisitSite,
)
from matcher.model import SERVICE_LOCATIONS, Service

Progress = Callable[[str, float], None]

DEFAULT_REFERENCE_DATE = date(2026, 11, 23)


AGE_SEX_2014: tuple[tuple[int, int], ...] = (
    (53, 36), (42, 41), (51, 40), (42, 51), (36, 43), (42, 57), (44, 59), (48, 67), (53, 77),
    (70, 80), (65, 94), (72, 112), (83, 107), (104, 149), (106, 181), (128, 268), (155, 394),
    (189, 477), (150, 459), (122, 370), (98, 191),
)
"""(girls, boys) placed at each age 0 to 20 on 31/12/2014 (plan L453-475; total 1,753 girls and
3,353 boys, L475)."""

HOSTING_SETTINGS: dict[str, int] = {
    "departmental_establishments": 470,
    "paris_funded_establishments": 992,
    "associative_foster_services": 319,
    "departmental_foster_services": 1281,
    "hotels": 449,
    "autonomous_flats": 65,
    "other_settings": 370,
    "other_departements_establishments": 1160,
}
"""Children by hosting setting at 31/12/2014 (plan L579-583; they add up to 5,106).
:func:`hosting_setting` says which setting a structure is."""


@dataclass(frozen=True)
class Calibration:
    """Published figures the generator reproduces at scale 1 (shares are fractions of 1)."""

    children: int = 5106  # L85
    unaccompanied_minors: int = 744  # L531
    unaccompanied_young_adults: int = 836  # L532
    unaccompanied_minor_16_17_share: float = 0.75  # L531: "3/4 ayant de 16 à 18 ans"
    sibling_groups: int = 299  # L1276
    sibling_children: int = 602  # L1276
    separable_group_share: float = 0.10
    departmental_establishments: int = 14  # L794
    departmental_places: int = 990  # L794
    associative_establishment_places: int = 2082  # L796
    departmental_foster_carers: int = 975  # L634, L795
    paris_child_share: float = 0.51  # L595
    idf_child_share: float = 0.21  # L96, L602 + L610
    province_child_share: float = 0.28  # L96, L614
    paris_place_share: float = 0.41  # L1295
    idf_place_share: float = 0.21  # L1295
    province_place_share: float = 0.30  # L1295
    mothers: int = 318  # L677
    mothers_children: int = 379  # L677
    pregnant_share: float = 0.2
    """Share of the mothers pregnant without a child yet: a decision."""
    family_home_share: float = 0.50  # L553: about one in two has no address
    children_with_home_in_paris: int = 2420  # L553
    unaccompanied_home_share: float = 0.08
    """MNA with a family home in Île-de-France: a decision (most have none)."""
    disability_share: float = 0.065
    psychic_care_share: float = 0.09
    protection_share: float = 0.01
    judge_constraint_share: float = 0.04
    supervised_visit_share: float = 0.08
    """Children with a family home whose judge orders supervised visits: a decision."""
    unschooled_mna_share: float = 0.2
    """MNA minors not (yet) at school: a decision."""
    young_adult_training_share: float = 0.5
    """Young adults with a known training place: a decision."""

    @property
    def waiting_share(self) -> float:
        """The "other settings" (370 of 5,106, L581) are the children waiting for a place."""
        return HOSTING_SETTINGS["other_settings"] / self.children


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

FOSTER_DEPARTEMENT_WEIGHT: dict[str, float] = {
    # provinces: many in the Sarthe, Eure-et-Loir, Loiret, Yonne (L616); the Nièvre's old network
    "72": 6.0, "28": 6.0, "45": 6.0, "89": 6.0, "58": 1.5, "61": 1.0, "27": 1.0, "18": 0.8,
    "41": 0.8, "03": 0.6,
    # Île-de-France: many in the Yvelines (L608) and Seine-Saint-Denis (L599), few in Seine-et-Marne (L608)
    "78": 5.0, "93": 4.0, "95": 1.0, "91": 1.0, "94": 0.8, "92": 0.5, "77": 0.15,
}
"""Weight of a commune's population (Île-de-France) or of a station commune (provinces), by
département, in placing foster carers."""


OTHER_DEPARTEMENT_DAILY_PRICE_EUR: dict[StructureType, tuple[float, float]] = {
    StructureType.MECS: (185.0, 20.0),
    StructureType.LIEU_DE_VIE: (180.0, 20.0),
    StructureType.POUPONNIERE: (290.0, 30.0),
}
"""(mean, standard deviation) of the daily price of a place in another département's
establishment: that département's own prix de journée (assumed orders of magnitude, below
Paris's; the plan gives no prices)."""

VISIT_SITES = 10
"""Number of supervised-visit sites (lieux de visites médiatisées), in Paris (assumed)."""

DAILY_PRICE_EUR: dict[StructureType, tuple[float, float]] = {
    StructureType.MECS: (225.0, 20.0),
    StructureType.POUPONNIERE: (330.0, 30.0),
    StructureType.FOYER_ENFANCE: (260.0, 25.0),
    StructureType.ASSISTANT_FAMILIAL: (115.0, 8.0),
    StructureType.LIEU_DE_VIE: (200.0, 20.0),
    StructureType.SEMI_AUTONOMIE: (120.0, 15.0),
    StructureType.CENTRE_MATERNEL: (190.0, 20.0),
    StructureType.ACCUEIL_URGENCE: (110.0, 15.0),
    StructureType.HOTEL: (60.0, 10.0),
}
"""(mean, standard deviation) of the daily price per place in euros, orders of magnitude of
published departmental prices (prix de journée): MECS 200-250, pouponnière 300+, foster family
100-130 (salary and allowances), lieu de vie ~200, semi-autonomie ~120, hotel room with a meal
allowance ~60 (assumed). Other départements' establishments: :data:`OTHER_DEPARTEMENT_DAILY_PRICE_EUR`."""


def hosting_setting(structure: Structure) -> str:
    """The hosting setting of :data:`HOSTING_SETTINGS` a structure belongs to (a child waiting
    for a place is in "other_settings")."""
    if structure.type is StructureType.HOTEL:
        return "hotels"
    if structure.operator is Operator.OTHER_DEPARTEMENT:
        return "other_departements_establishments"
    departmental = structure.operator is Operator.DEPARTMENTAL
    if structure.type is StructureType.ASSISTANT_FAMILIAL:
        return "departmental_foster_services" if departmental else "associative_foster_services"
    if structure.type is StructureType.SEMI_AUTONOMIE and departmental:
        return "autonomous_flats"
    return "departmental_establishments" if departmental else "paris_funded_establishments"

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
            raise DomainError("a scenario needs a name", fr="un scénario doit avoir un nom")
        if not (isinstance(self.scale, (int, float)) and math.isfinite(self.scale)):
            raise DomainError(f"scenario {self.name}: scale must be a number, got {self.scale!r}",
                              fr=f"{self._fr_prefix()}l'échelle doit être un nombre, reçu {self.scale!r}")
        if not (0.01 <= self.scale <= 1000):
            raise DomainError(f"scenario {self.name}: scale {self.scale} is outside 0.01-1000",
                              fr=f"{self._fr_prefix()}l'échelle {self.scale:g} est hors de 0,01-1000".replace(".", ","))

    def _fr_prefix(self) -> str:
        """The scenario named in French sentences, except the one ``generate`` makes of its arguments."""
        return "" if self.name == "custom" else f"scénario {self.name} : "


SCENARIOS: dict[str, Scenario] = {
    "small": Scenario("small", 0.05, "About 5% of Paris (about 255 children): quick tests."),
    "paris": Scenario("paris", 1.0, "Paris at scale 1, calibrated on the 2014 figures."),
    "paris-10x": Scenario("paris-10x", 10.0, "Ten times Paris (about 51,000 children): benchmarks."),
}


def generate_scenario(name: str, seed: int = 1, progress: Progress | None = None) -> PlacementSystem:
    """The placement system of a named scenario (see :data:`SCENARIOS`)."""
    if name not in SCENARIOS:
        raise DomainError(f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}",
                          fr=f"scénario {name!r} inconnu ; connus : {', '.join(SCENARIOS)}")
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
        raise DomainError(f"seed must be a non-negative integer, got {seed!r}",
                          fr=f"la graine doit être un entier positif ou nul, reçu {seed!r}")
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
    home_absence: HomeAbsence | None = None
    waiting: bool = False
    category: str = ""
    """The hosting setting (a key of HOSTING_SETTINGS) of a placed child."""
    stype: StructureType | None = None
    unit: int = -1
    since: date | None = None
    waiting_since: date | None = None
    urgent: bool = False
    pregnant: bool = False
    own_child_birth: date | None = None
    own_children: int = 0
    separated: set = field(default_factory=set)
    excluded_structures: set = field(default_factory=set)
    excluded_departements: set = field(default_factory=set)
    max_travel: float | None = None
    supervised: bool = False
    visit_site: int = -1
    school: int = -1
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
    category: str = ""


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
        raise DomainError(f"cannot split {total} into {len(weights)} parts of at least {minimum}",
                          fr=f"impossible de répartir {total} en {len(weights)} parts d'au moins {minimum}")
    if weights.sum() <= 0:
        weights = np.ones(len(weights))
    share = weights / weights.sum() * rest
    out = np.floor(share).astype(int)
    left = rest - out.sum()
    order = np.argsort(-(share - out), kind="stable")
    out[order[:left]] += 1
    return base + out


ZONES = ("paris", "idf", "province")
ESTABLISHMENT_SETTINGS = ("departmental_establishments", "paris_funded_establishments")
FOSTER_SETTINGS = ("departmental_foster_services", "associative_foster_services")
ALLOWED_ZONES: dict[str, tuple[str, ...]] = {
    "hotels": ("paris", "idf"),
    "autonomous_flats": ("paris",),
    "other_departements_establishments": ("idf", "province"),
    "foster": ZONES,
    "lieu_de_vie": ("idf", "province"),
    "near_paris": ("paris", "idf"),
}
"""Zones an on-demand site may be put in, by kind (see :meth:`_Builder.site_kind`)."""

PARIS_PREFERENCE = 30.0
"""How much more a Parisian child bound for an establishment of the Paris system is drawn to
one in Paris than to one outside (Paris's establishments hold mostly Parisian children)."""

ESTABLISHMENT_ZONE_SHARE = (0.50, 0.20, 0.30)
"""Where the places of the Paris system's establishments are (Paris, rest of Île-de-France,
provinces): tuned so that both the children's and the places' zone shares hold (see above)."""


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
        self.schools: list[tuple[str, Location]] = []
        self.visit_sites: list[Location] = []

    def rng(self, stage: int) -> np.random.Generator:
        return np.random.default_rng(np.random.SeedSequence([self.seed, stage]))

    def count(self, figure: float) -> int:
        """A figure of the 5,106 children scaled to this population."""
        return _round(figure * len(self.kids) / self.cal.children) if self.kids else _round(figure * self.scale)

    # -- orchestration ---------------------------------------------------------------------

    def build(self) -> PlacementSystem:
        self.progress("children", 0.0)
        self.make_children(self.rng(1))
        self.make_needs(self.rng(2))
        self.choose_waiting(self.rng(3))
        self.progress("structures", 0.2)
        self.choose_settings(self.rng(5))
        self.make_establishments(self.rng(4))
        self.locate_establishments(self.rng(13))
        self.progress("placements", 0.35)
        self.place_children(self.rng(6))
        self.set_occupancy(self.rng(7))
        self.progress("locations", 0.55)
        self.locate_on_demand(self.rng(8))
        self.locate_homes(self.rng(9))
        self.progress("judges", 0.75)
        self.make_dates(self.rng(10))
        self.make_judge_constraints(self.rng(11))
        self.make_schools_and_visits(self.rng(14))
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
        return anniversary - timedelta(days=int(rng.integers(1, 365)))  # born before the reference date

    def make_children(self, rng: np.random.Generator) -> None:
        """Ages and sexes exactly as the plan's table (:data:`AGE_SEX_2014`) scaled; MNA taken
        from the cells of their ages (92% boys); fratries from the other minors."""
        cal, s = self.cal, self.scale
        n = max(10, _round(cal.children * s))
        pool = _apportion(n, np.array(AGE_SEX_2014, dtype=float).reshape(-1))  # cell = age * 2 + (0 girl, 1 boy)
        n_mna_minor = _round(cal.unaccompanied_minors * n / cal.children)
        n_mna_ya = _round(cal.unaccompanied_young_adults * n / cal.children)
        n_1617 = _round(cal.unaccompanied_minor_16_17_share * n_mna_minor)
        kids: list[tuple[int, Sex, bool, int]] = []
        for ages, total in (((16, 17), n_1617), ((13, 14, 15), n_mna_minor - n_1617), ((18, 19, 20), n_mna_ya)):
            boys = _round(0.92 * total)
            for sex_bit, m in ((1, boys), (0, total - boys)):
                cells = np.array([a * 2 + sex_bit for a in ages])
                take = np.minimum(_apportion(m, pool[cells].astype(float)), pool[cells])
                pool[cells] -= take
                for a, t in zip(ages, take):
                    kids += [(a, Sex.MALE if sex_bit else Sex.FEMALE, True, -1)] * int(t)
        n_groups = _round(cal.sibling_groups * s)
        n_sib = max(2 * n_groups, _round(cal.sibling_children * s))
        sizes = np.full(n_groups, 2)
        extra = n_sib - 2 * n_groups
        while extra > 0 and n_groups:
            g = int(rng.integers(0, n_groups))
            if sizes[g] < 4:
                sizes[g] += 1
                extra -= 1

        def draw(lo: int, hi: int, near: int | None = None) -> tuple[int, Sex]:
            """A (age, sex) left in the pool, age in lo..hi (the nearest to ``near`` when given)."""
            ages = np.arange(max(0, lo), min(17, hi) + 1)
            counts = pool[ages * 2] + pool[ages * 2 + 1]
            if counts.sum() == 0:
                ages = np.arange(0, 21)
                counts = pool[ages * 2] + pool[ages * 2 + 1]
            if near is not None:
                ok = ages[counts > 0]
                age = int(ok[np.argmin(np.abs(ok - near) + rng.random(ok.size) * 0.1)])
            else:
                age = int(rng.choice(ages, p=counts / counts.sum()))
            girls, boys = pool[age * 2], pool[age * 2 + 1]
            bit = int(rng.random() < boys / (girls + boys))
            pool[age * 2 + bit] -= 1
            return age, Sex.MALE if bit else Sex.FEMALE

        # Fratries (not MNA): an eldest minor, the others 1-6 years apart, from the table's cells.
        for g, size in enumerate(sizes):
            eldest, sex = draw(int(size) - 1, 17)
            kids.append((eldest, sex, False, g))
            for k in range(int(size) - 1):
                target = max(0, eldest - int(rng.integers(1, 7)) * (k + 1) // 2)
                age, sex = draw(0, eldest, near=target)
                kids.append((age, sex, False, g))
        for cell, c in enumerate(pool):
            kids += [(cell // 2, Sex.MALE if cell % 2 else Sex.FEMALE, False, -1)] * int(c)
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
        # Mothers and pregnant women (L677): single girls 15-20, more often the older ones.
        moms = [k for k in singles_f if 15 <= k.age <= 20 and Need.PROTECTION not in k.needs]
        w = np.array([{15: 0.3, 16: 0.6, 17: 1.0}.get(k.age, 1.3) for k in moms])
        n_mom = min(len(moms), max(1, self.count(cal.mothers)))
        chosen = [moms[int(i)] for i in rng.choice(len(moms), size=n_mom, replace=False, p=w / w.sum())]
        n_preg = _round(cal.pregnant_share * n_mom)
        with_child = n_mom - n_preg
        n_two = min(with_child, max(0, self.count(cal.mothers_children) - with_child))
        for j, k in enumerate(chosen):
            k.needs.add(Need.MOTHER_CHILD)
            k.needs.discard(Need.DISABILITY)
            if j < n_preg:
                k.pregnant = True
            else:
                k.own_child_birth = self.on - timedelta(days=int(rng.integers(10, 900)))
                k.own_children = 2 if j - n_preg < n_two else 1

    def choose_waiting(self, rng: np.random.Generator) -> None:
        """The "other settings" (370 at scale 1, L581) wait for a place, more often infants, MNA
        and disabled children; fratries as a whole; mothers are all in their centre maternel."""
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
                if Need.MOTHER_CHILD in k.needs:
                    w = 0.0
            weights.append(w)
        w = np.array(weights)
        target = _round(self.cal.waiting_share * len(self.kids))
        order = rng.choice(len(blocks), size=int((w > 0).sum()), replace=False, p=w / w.sum())
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

    # -- settings --------------------------------------------------------------------------

    SETTING_PREFERENCE: dict[str, dict[str, float]] = {
        "infant": {"departmental_establishments": 1.0, "paris_funded_establishments": 1.0,
                   "departmental_foster_services": 1.3, "associative_foster_services": 1.0,
                   "other_departements_establishments": 0.5},
        "child": {"departmental_establishments": 0.5, "paris_funded_establishments": 0.8,
                  "departmental_foster_services": 1.5, "associative_foster_services": 1.2,
                  "other_departements_establishments": 1.0},
        "young_teen": {"departmental_establishments": 0.8, "paris_funded_establishments": 1.0,
                       "departmental_foster_services": 1.0, "associative_foster_services": 0.8,
                       "other_departements_establishments": 1.2},
        "older_teen": {"departmental_establishments": 0.8, "paris_funded_establishments": 1.0,
                       "departmental_foster_services": 0.7, "associative_foster_services": 0.5,
                       "other_departements_establishments": 1.2},
        "young_adult": {"departmental_establishments": 0.3, "paris_funded_establishments": 1.0,
                        "departmental_foster_services": 0.8, "associative_foster_services": 0.5,
                        "other_departements_establishments": 0.8},
        "mna_minor": {"departmental_establishments": 1.0, "paris_funded_establishments": 1.5,
                      "departmental_foster_services": 0.3, "associative_foster_services": 0.3,
                      "other_departements_establishments": 1.5},
        "mna_adult": {"departmental_establishments": 0.1, "paris_funded_establishments": 1.5,
                      "departmental_foster_services": 0.3, "associative_foster_services": 0.3,
                      "other_departements_establishments": 1.0},
    }
    """Relative preference of each profile for the hosting settings (decisions); the counts of
    :data:`HOSTING_SETTINGS` are then met by quota."""

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

    def choose_settings(self, rng: np.random.Generator) -> None:
        """The hosting setting of every placed child, meeting :data:`HOSTING_SETTINGS` by quota:
        mothers in centres maternels (a third departmental: 3 of the 9 centres, L794 and L796),
        protected girls in the secret associative MECS, hotels for single 16-20 year olds
        (mostly MNA), autonomous flats for single young adults, then every other child or
        fratrie drawn by preference times what each setting still lacks."""
        left = {cat: self.count(v) for cat, v in HOSTING_SETTINGS.items() if cat != "other_settings"}
        placed_singles = [self.kids[b[0]] for b in self.blocks() if len(b) == 1 and not self.kids[b[0]].waiting]

        def assign(kids: list[_Kid], cat: str, stype: StructureType) -> None:
            for k in kids:
                k.category, k.stype = cat, stype
            left[cat] -= len(kids)

        for k in placed_singles:
            if Need.MOTHER_CHILD in k.needs:
                cat = "departmental_establishments" if rng.random() < 1 / 3 else "paris_funded_establishments"
                assign([k], cat, StructureType.CENTRE_MATERNEL)
            elif Need.PROTECTION in k.needs:
                assign([k], "paris_funded_establishments", StructureType.MECS)
        free = [k for k in placed_singles if not k.category]
        for cat, stype, lo, mna_weight in (("hotels", StructureType.HOTEL, 16, 6.0),
                                           ("autonomous_flats", StructureType.SEMI_AUTONOMIE, 18, 1.0)):
            pool = [k for k in free if k.age >= lo and not k.category]
            w = np.array([mna_weight if k.mna else 1.0 for k in pool])
            n = min(len(pool), max(0, left[cat]))
            for i in rng.choice(len(pool), size=n, replace=False, p=w / w.sum()) if n else ():
                assign([pool[int(i)]], cat, stype)
        blocks = [b for b in self.blocks() if not self.kids[b[0]].waiting and not self.kids[b[0]].category]
        cats = [c for c in left if c not in ("hotels", "autonomous_flats")]
        for j in rng.permutation(len(blocks)):
            kids = [self.kids[i] for i in blocks[int(j)]]
            youngest = min(kids, key=lambda k: k.age)
            pref = self.SETTING_PREFERENCE[self.profile(youngest)]
            w = np.array([pref[c] * max(left[c], 0) for c in cats], dtype=float)
            if len(kids) > 3:
                w[[cats.index(c) for c in FOSTER_SETTINGS]] = 0.0  # a foster carer has 1 to 3 places
            if len(kids) > 1 and min(k.age for k in kids) <= 3 < max(k.age for k in kids):
                w[cats.index("paris_funded_establishments")] = 0.0  # only foyers take 0-3 with older ones
            if any((Need.DISABILITY in k.needs and k.age > 3) or (k.mna and k.age >= 18) for k in kids):
                w[cats.index("departmental_establishments")] = 0.0  # no departmental place for them
            if w.sum() <= 0:
                w = np.array([pref[c] for c in cats], dtype=float)
                if len(kids) > 3:
                    w[[cats.index(c) for c in FOSTER_SETTINGS]] = 0.0
            cat = cats[int(rng.choice(len(cats), p=w / w.sum()))]
            assign(kids, cat, self.setting_type(kids, cat, rng))

    def setting_type(self, kids: list[_Kid], cat: str, rng: np.random.Generator) -> StructureType:
        """The kind of place within a hosting setting (decisions, by age and profile)."""
        if cat in FOSTER_SETTINGS:
            return StructureType.ASSISTANT_FAMILIAL
        ages = [k.age for k in kids]
        if all(a <= 3 for a in ages):
            return StructureType.POUPONNIERE if cat != "other_departements_establishments" else StructureType.MECS
        if cat == "other_departements_establishments":
            return StructureType.LIEU_DE_VIE if min(ages) >= 4 and len(kids) == 1 and rng.random() < 0.25 else StructureType.MECS
        if cat == "departmental_establishments":
            if min(ages) <= 3 or (max(ages) <= 17 and rng.random() < 0.4):
                return StructureType.FOYER_ENFANCE
            return StructureType.MECS
        k = kids[0]
        options: tuple[tuple[StructureType, float], ...]
        if len(kids) > 1:
            options = ((StructureType.MECS, 0.9), (StructureType.LIEU_DE_VIE, 0.1))
        elif k.mna and k.age >= 18:
            options = ((StructureType.SEMI_AUTONOMIE, 0.5), (StructureType.MECS, 0.5))
        elif k.mna:
            options = ((StructureType.MECS, 0.7), (StructureType.ACCUEIL_URGENCE, 0.2), (StructureType.SEMI_AUTONOMIE, 0.1))
        elif k.age >= 18:
            options = ((StructureType.SEMI_AUTONOMIE, 0.5), (StructureType.MECS, 0.5))
        elif k.age >= 16:
            options = ((StructureType.MECS, 0.6), (StructureType.ACCUEIL_URGENCE, 0.12),
                       (StructureType.SEMI_AUTONOMIE, 0.18), (StructureType.LIEU_DE_VIE, 0.1))
        elif k.age >= 13:
            options = ((StructureType.MECS, 0.78), (StructureType.LIEU_DE_VIE, 0.1), (StructureType.ACCUEIL_URGENCE, 0.12))
        else:
            options = ((StructureType.MECS, 0.88), (StructureType.LIEU_DE_VIE, 0.12))
        if k.age < 16:
            options = tuple(o for o in options if o[0] is not StructureType.SEMI_AUTONOMIE)
        if k.age < 13:
            options = tuple(o for o in options if o[0] is not StructureType.ACCUEIL_URGENCE)
        p = np.array([o[1] for o in options])
        return options[int(rng.choice(len(options), p=p / p.sum()))][0]

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
        """Departmental (14, 990 places, L794) and associative (2,082 places, L796) establishments
        at scale 1, their kinds in proportion to the children bound for them."""
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
        for i, (t, c) in enumerate(zip(types, caps)):
            extra = {Need.PSYCHIC_CARE} if rng.random() < 0.5 else set()
            if t is StructureType.FOYER_ENFANCE and i % 2 == 0 or t is StructureType.MECS and i % 3 == 1:
                extra.add(Need.UNACCOMPANIED_MINOR)  # about half the foyers, a third of the MECS
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
        est = [k for k in self.kids if k.category == "paris_funded_establishments" and Need.PROTECTION not in k.needs]
        d_poup = sum(k.stype is StructureType.POUPONNIERE for k in est)
        d_mna = sum(k.stype is StructureType.MECS and k.mna for k in est)
        d_mecs = sum(k.stype is StructureType.MECS and not k.mna for k in est)
        need = np.array([1.3 * d_poup, 1.45 * d_mna, 1.3 * d_mecs]) + 1e-6
        kind_p = need / need.sum()
        kinds = ("pouponniere", "mna", "mecs")

        def add(r: int) -> None:
            if r == 0:
                sizes.append((StructureType.POUPONNIERE, int(rng.integers(20, 41)), "pouponniere"))
            elif r == 1:
                sizes.append((StructureType.MECS, int(rng.integers(20, 61)), "mna"))
            else:
                sizes.append((StructureType.MECS, int(rng.integers(15, 61)), "mecs"))

        # Every kind first gets the places its children need, then the rest is drawn at random.
        for r in range(3):
            while sum(c for _, c, k in sizes if k == kinds[r]) < need[r] - 1e-6 and sum(c for _, c, _ in sizes) < total:
                add(r)
        while sum(c for _, c, _ in sizes) < total:
            add(int(rng.choice(3, p=kind_p)))
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
                if k.stype is not StructureType.MECS or k.mna is not mna or Need.PROTECTION in k.needs \
                        or k.category not in ESTABLISHMENT_SETTINGS:
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
            if site.operator is Operator.DEPARTMENTAL:  # every age band the Département takes
                k = min(len(options), max(1, capacity // 8))
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


    # -- placements ------------------------------------------------------------------------

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
        if site.stype is StructureType.HOTEL and k.age < 16:
            return False
        return True

    def locate_establishments(self, rng: np.random.Generator) -> None:
        """Zones of the Paris system's establishments (before the children are placed, who go
        to those in Paris first): :data:`ESTABLISHMENT_ZONE_SHARE` of their places, largest first,
        each to the zone that lacks most."""
        sites = list(self.sites)
        cap = {s.idx: sum(self.slots[u].capacity for u in s.units) for s in sites}
        target = np.array(ESTABLISHMENT_ZONE_SHARE) * sum(cap.values())
        assigned = np.zeros(3)
        ordered = sorted(sites, key=lambda s: (-cap[s.idx], rng.random()))
        yvelines = {s.idx for s in [s for s in ordered if not s.secret and cap[s.idx] >= 60][:2]}
        for s in ordered:
            lack = np.maximum(target - assigned, 0) + 1e-9
            # the two largest in Île-de-France (then in the Yvelines: Sonchamp, Villepreux, L606)
            z = 1 if s.idx in yvelines else int(rng.choice(3, p=lack / lack.sum()))
            s.zone = ZONES[z]
            s.category = "departmental_establishments" if s.operator is Operator.DEPARTMENTAL else "paris_funded_establishments"
            assigned[z] += cap[s.idx]
        self.place_sites_in_zones(sites, rng)

    def place_children(self, rng: np.random.Generator) -> None:
        """Put every placed child in a compatible unit: establishments have fixed places (those
        in Paris first), the other settings and foster carers are opened as children need them."""
        self.open_sites: dict[tuple[str, StructureType], list[int]] = {}
        blocks = [b for b in self.blocks() if not self.kids[b[0]].waiting]
        # Most constrained first: specialised needs, then fratries, then the rest.
        def hardness(b: list[int]) -> int:
            return -(10 * max(len(self.kids[i].needs - {Need.UNACCOMPANIED_MINOR}) for i in b) + len(b))
        order = rng.permutation(len(blocks))
        order = sorted(order, key=lambda j: hardness(blocks[int(j)]))
        self._compat_cache: dict[tuple, np.ndarray] = {}
        self._est_slots = np.array([s.idx for s in self.slots], dtype=int)
        self._room = np.array([s.capacity for s in self.slots], dtype=float)
        self._paris = np.array([PARIS_PREFERENCE if self.sites[s.site].zone == "paris" else 1.0 for s in self.slots])
        total = len(order)
        for n_done, j in enumerate(order):
            b = blocks[int(j)]
            kids = [self.kids[i] for i in b]
            forbidden = {self.slots[self.kids[o].unit].site for k in kids for o in k.separated
                         if self.kids[o].unit >= 0}
            stype, cat = kids[0].stype, kids[0].category
            ok = False
            if cat in ESTABLISHMENT_SETTINGS and stype in ESTABLISHMENTS:
                operator = Operator.DEPARTMENTAL if cat == "departmental_establishments" else Operator.ASSOCIATIVE
                tries = [(stype, operator)] + [(t, operator) for t in (StructureType.MECS, StructureType.FOYER_ENFANCE,
                                                                        StructureType.POUPONNIERE) if t is not stype]
                for t, op in tries:
                    ok = self.place_in_establishment(kids, t, op, forbidden, rng)
                    if ok:
                        for k in kids:
                            k.stype = t
                        break
                other = Operator.ASSOCIATIVE if operator is Operator.DEPARTMENTAL else Operator.DEPARTMENTAL
                for t in (() if ok else (stype, StructureType.MECS, StructureType.FOYER_ENFANCE, StructureType.POUPONNIERE)):
                    ok = self.place_in_establishment(kids, t, other, forbidden, rng)
                    if ok:
                        cat = "departmental_establishments" if other is Operator.DEPARTMENTAL else "paris_funded_establishments"
                        for k in kids:
                            k.stype, k.category = t, cat
                        break
                if not ok:
                    cat = "departmental_foster_services" if len(kids) <= 3 else "other_departements_establishments"
                    for k in kids:
                        k.category = cat
                        k.stype = self.setting_type(kids, cat, rng)
            if not ok:
                self.place_on_demand(kids, kids[0].category, kids[0].stype, forbidden, rng)
            if n_done % 2000 == 0:
                self.progress("placements", 0.35 + 0.2 * n_done / max(1, total))

    def compatible_slots(self, k: _Kid, stype: StructureType, operator: Operator) -> np.ndarray:
        key = (k.age, k.sex, frozenset(k.needs), stype, operator)
        hit = self._compat_cache.get(key)
        if hit is None:
            hit = np.array([u for u in self._est_slots
                            if self.sites[self.slots[u].site].stype is stype
                            and self.sites[self.slots[u].site].operator is operator
                            and self.compatible(k, self.slots[u], self.sites[self.slots[u].site])],
                           dtype=int)
            self._compat_cache[key] = hit
        return hit

    def place_in_establishment(self, kids: list[_Kid], stype: StructureType, operator: Operator, forbidden: set,
                               rng: np.random.Generator) -> bool:
        if len(kids) == 1:
            cand = self.compatible_slots(kids[0], stype, operator)
            if len(cand) == 0:
                return False
            room = self._room[cand]
            if forbidden:
                room = room * np.array([self.slots[u].site not in forbidden for u in cand])
            if room.sum() <= 0:
                return False
            room = room * self._paris[cand]
            u = int(cand[rng.choice(len(cand), p=room / room.sum())])
            self.put(kids[0], u)
            return True
        per_kid = [self.compatible_slots(k, stype, operator) for k in kids]
        sites = set.intersection(*({self.slots[u].site for u in c} for c in per_kid)) - forbidden
        for site in sorted(sites, key=lambda i: (self.sites[i].zone != "paris", rng.random())):
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
        StructureType.SEMI_AUTONOMIE: ((6, 20), (((16, 21), UnitSex.MIXED, 0.6), ((18, 21), UnitSex.MIXED, 0.4))),
        StructureType.CENTRE_MATERNEL: ((8, 20), (((14, 21), UnitSex.GIRLS, 1.0),)),
        StructureType.ACCUEIL_URGENCE: ((10, 30), (((13, 17), UnitSex.MIXED, 0.6), ((18, 21), UnitSex.MIXED, 0.4))),
        StructureType.HOTEL: ((8, 30), (((16, 21), UnitSex.MIXED, 1.0),)),
        StructureType.MECS: ((10, 30), (((0, 6), UnitSex.MIXED, 0.15), ((4, 11), UnitSex.MIXED, 0.35),
                                        ((12, 17), UnitSex.MIXED, 0.3), ((16, 21), UnitSex.MIXED, 0.2))),
    }
    """(capacity range, unit templates) of the settings opened as children need them (MECS:
    another département's establishment; autonomous flats: 3-8 places for 18-21)."""

    SITE_OPERATOR: dict[str, Operator] = {
        "departmental_establishments": Operator.DEPARTMENTAL,
        "paris_funded_establishments": Operator.ASSOCIATIVE,
        "departmental_foster_services": Operator.DEPARTMENTAL,
        "associative_foster_services": Operator.ASSOCIATIVE,
        "hotels": Operator.DEPARTMENTAL,
        "autonomous_flats": Operator.DEPARTMENTAL,
        "other_departements_establishments": Operator.OTHER_DEPARTEMENT,
    }
    """Who runs (or, for hotel rooms, books) the sites opened for each hosting setting."""

    def place_on_demand(self, kids: list[_Kid], category: str, stype: StructureType, forbidden: set,
                        rng: np.random.Generator) -> None:
        open_sites = self.open_sites.setdefault((category, stype), [])
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
        site = self.open_site(stype, category, kids, rng)
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

    def open_site(self, stype: StructureType, category: str, kids: list[_Kid], rng: np.random.Generator) -> _Site:
        (lo, hi), templates = self.ON_DEMAND_TEMPLATES[stype]
        if category == "autonomous_flats":
            (lo, hi), templates = (3, 8), (((18, 21), UnitSex.MIXED, 1.0),)
        needs = set().union(*(k.needs for k in kids))
        caps = set(needs)
        operator = self.SITE_OPERATOR[category]
        if stype is StructureType.ASSISTANT_FAMILIAL:
            # about 1.3 children per carer (1,281 children with 975 carers, L795)
            capacity = max(len(kids), int(rng.choice([1, 2, 3], p=[0.79, 0.17, 0.04])))
            if rng.random() < 0.05:
                caps.add(Need.DISABILITY)
            if rng.random() < 0.08:
                caps.add(Need.PSYCHIC_CARE)
        else:
            capacity = max(len(kids) + 1, int(rng.integers(lo, hi + 1)))
            if stype is StructureType.CENTRE_MATERNEL:
                caps.add(Need.MOTHER_CHILD)
            if stype in (StructureType.SEMI_AUTONOMIE, StructureType.ACCUEIL_URGENCE, StructureType.HOTEL,
                         StructureType.MECS) and rng.random() < 0.6:
                caps.add(Need.UNACCOMPANIED_MINOR)
            if stype is not StructureType.HOTEL and rng.random() < 0.3:
                caps.add(Need.PSYCHIC_CARE)
        caps.discard(Need.PROTECTION)
        site = self.new_site(stype, operator, caps)
        site.category = category
        # One unit: the template that takes every child the site is opened for (or one that
        # covers their ages), so that the site fills with children like them.
        lo_age, hi_age = min(k.age for k in kids), max(k.age for k in kids)
        fits = [t for t in templates if t[0][0] <= lo_age and hi_age <= t[0][1]
                and all(t[1].admits(k.sex) and (k.age < 18 or t[0][1] >= 18) and (k.age >= 18 or t[0][0] < 18) for k in kids)]
        chosen = (fits[int(rng.integers(0, len(fits)))],) if fits else \
            (((lo_age, max(hi_age, lo_age)), templates[0][1] if all(templates[0][1].admits(k.sex) for k in kids) else UnitSex.MIXED, 1.0),)
        split = _apportion(capacity, np.array([t[2] for t in chosen]), minimum=1)
        takes_siblings = stype in (StructureType.ASSISTANT_FAMILIAL, StructureType.LIEU_DE_VIE, StructureType.MECS,
                                   StructureType.HOTEL)  # siblings may share a hotel
        for (ages, sex, _), c in zip(chosen, split):
            slot = self.new_slot(site, ages, sex, int(c), takes_siblings)
            # Vacancies: foster carers keep about 5% of places free, hotels 20% (rooms booked
            # ahead), other settings about 4% (assumed).
            p_free = {StructureType.ASSISTANT_FAMILIAL: 0.05, StructureType.HOTEL: 0.2}.get(stype, 0.04)
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
        """Occupied places: the children placed here, and in the Paris system's establishments
        also children outside this dataset, up to 92-99% (97-100% where places are scarce)."""
        for slot in self.slots:
            site = self.sites[slot.site]
            if site.stype in ESTABLISHMENTS and site.category in ESTABLISHMENT_SETTINGS:
                scarce = (site.stype is StructureType.POUPONNIERE or Need.DISABILITY in site.caps
                          or Need.UNACCOMPANIED_MINOR in site.caps or site.secret)
                occ = rng.uniform(0.97, 1.0) if scarce else rng.uniform(0.92, 0.99)
                slot.occupied = min(slot.capacity, max(slot.placed, _round(slot.capacity * occ)))
            else:
                slot.occupied = slot.placed

    # -- geography -------------------------------------------------------------------------

    @staticmethod
    def site_kind(site: _Site) -> str:
        if site.category in ("hotels", "autonomous_flats", "other_departements_establishments"):
            return site.category
        if site.stype is StructureType.ASSISTANT_FAMILIAL:
            return "foster"
        if site.stype is StructureType.LIEU_DE_VIE:
            return "lieu_de_vie"
        return "near_paris"

    def locate_on_demand(self, rng: np.random.Generator) -> None:
        """Zones of the sites opened for the children (the establishments are placed already):
        largest first, each to the allowed zone (:data:`ALLOWED_ZONES`) that both the children's
        shares (51/21/28%, L595) and the places' shares (41/21/30%, L1295; hotel rooms apart)
        lack most."""
        cal = self.cal
        cap = np.array([sum(self.slots[u].capacity for u in s.units) for s in self.sites], dtype=float)
        kids = np.array([sum(self.slots[u].placed for u in s.units) for s in self.sites], dtype=float)
        placed, total = kids.sum(), cap.sum()
        kid_target = np.array([cal.paris_child_share, cal.idf_child_share, cal.province_child_share]) * placed
        cap_target = np.array([cal.paris_place_share, cal.idf_place_share, cal.province_place_share]) * total
        kid_done, cap_done = np.zeros(3), np.zeros(3)
        todo = []
        for s in self.sites:
            if s.location is None:
                todo.append(s)
                continue
            z = ZONES.index(s.zone)
            kid_done[z] += kids[s.idx]
            cap_done[z] += cap[s.idx]
        for s in sorted(todo, key=lambda s: (-cap[s.idx], rng.random())):
            allowed = [ZONES.index(z) for z in ALLOWED_ZONES[self.site_kind(s)]]
            hotel = s.stype is StructureType.HOTEL
            lack = np.maximum(kid_target - kid_done, 0) / max(placed, 1)
            if not hotel:
                lack = lack + np.maximum(cap_target - cap_done, 0) / max(total, 1)
            w = lack[allowed] ** 2 + 1e-12
            z = allowed[int(rng.choice(len(allowed), p=w / w.sum()))]
            s.zone = ZONES[z]
            kid_done[z] += kids[s.idx]
            if not hotel:
                cap_done[z] += cap[s.idx]
        self.place_sites_in_zones(todo, rng)

    def place_sites_in_zones(self, sites: list[_Site], rng: np.random.Generator) -> None:
        """A point for each site in its zone: an arrondissement by area in Paris; a commune by
        population in Île-de-France, weighted by département for foster carers
        (:data:`FOSTER_DEPARTEMENT_WEIGHT`), hotels (the inner ring) and large establishments
        (60 places or more: the Yvelines); a station commune in the provinces by the square root of its population
        times :data:`PROVINCE_DEPARTEMENT_WEIGHT` (foster carers: :data:`FOSTER_DEPARTEMENT_WEIGHT`)."""
        arr = geography.arrondissements()
        zones_idf = geography.idf_zones().set_index("code_insee")
        arr_w = arr["code"].map(zones_idf["area_km2"]).to_numpy(dtype=float)
        com = geography.idf_communes()
        com = com[com["population"] > 0].reset_index(drop=True)
        com_pop = com["population"].to_numpy(dtype=float)
        com_dep = com["departement"].to_numpy()
        prov = geography.province_station_communes()
        wanted = set(PROVINCE_DEPARTEMENT_WEIGHT) | set(FOSTER_DEPARTEMENT_WEIGHT)
        prov = prov[prov["departement"].isin(wanted)].reset_index(drop=True)
        prov_root = np.sqrt(prov["population_municipale"].astype(float).to_numpy())
        prov_dep = prov["departement"].to_numpy()

        def idf_weights(kind: str, large: bool) -> np.ndarray:
            if kind == "foster":
                return com_pop * np.array([FOSTER_DEPARTEMENT_WEIGHT.get(d, 0.0) for d in com_dep])
            if kind == "hotels":
                return com_pop * np.isin(com_dep, ["92", "93", "94"])
            if large:  # Sonchamp, Villepreux (L606)
                return com_pop * (com_dep == "78")
            return com_pop

        def prov_weights(kind: str) -> np.ndarray:
            table = FOSTER_DEPARTEMENT_WEIGHT if kind == "foster" else PROVINCE_DEPARTEMENT_WEIGHT
            return prov_root * np.array([table.get(d, 0.0) for d in prov_dep])

        groups: dict[tuple[str, str, bool], list[_Site]] = {}
        for s in sites:
            large = s.location is None and sum(self.slots[u].capacity for u in s.units) >= 60
            groups.setdefault((s.zone, self.site_kind(s) if s.category not in ESTABLISHMENT_SETTINGS or
                               s.stype not in ESTABLISHMENTS else "establishment", large), []).append(s)
        for (zone, kind, large), items in sorted(groups.items()):
            if zone == "paris":
                picks = rng.choice(len(arr), size=len(items), p=arr_w / arr_w.sum())
                self._locate_in_polygons(items, picks, arr, "75", rng)
            elif zone == "idf":
                w = idf_weights(kind, large)
                picks = rng.choice(len(com), size=len(items), p=w / w.sum())
                self._locate_in_polygons(items, picks, com, None, rng)
            else:
                w = prov_weights(kind)
                picks = rng.choice(len(prov), size=len(items), p=w / w.sum())
                jitter = rng.normal(0, 0.01, size=(len(picks), 2))
                for s, i, (dx, dy) in zip(items, picks, jitter):
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
        """One home per fratrie and per child outside a fratrie, for about half the children
        (L553): most MNA have none (their family abroad, or unknown), other children without
        one have an unknown address or none; 2,420 children with a home in Paris (L553), the
        rest elsewhere in Île-de-France."""
        cal = self.cal
        owners: list[list[int]] = [list(m) for m in self.groups]
        owners += [[k.idx] for k in self.kids if k.group < 0]
        order = rng.permutation(len(owners))
        owners = [owners[int(i)] for i in order]
        n = len(self.kids)
        n_mna = sum(k.mna for k in self.kids)
        p_mna = cal.unaccompanied_home_share
        p_other = min(1.0, (cal.family_home_share * n - p_mna * n_mna) / max(1, n - n_mna))
        has_home = np.array([rng.random() < (p_mna if self.kids[m[0]].mna else p_other) for m in owners])
        with_home = sum(len(m) for m, h in zip(owners, has_home) if h)
        p_paris = min(1.0, self.count(cal.children_with_home_in_paris) / max(1, with_home))
        in_paris = rng.random(len(owners)) < p_paris
        arr = geography.arrondissements()
        w = (arr["population"] * arr["code"].map(ARRONDISSEMENT_POVERTY_WEIGHT)).to_numpy(dtype=float)
        com = geography.idf_communes()
        com = com[com["population"] > 0].reset_index(drop=True)
        cw = (com["population"] * com["departement"].map(IDF_DEPARTEMENT_WEIGHT)).to_numpy(dtype=float)
        paris_idx = np.flatnonzero(has_home & in_paris)
        idf_idx = np.flatnonzero(has_home & ~in_paris)
        locs: dict[int, Location] = {}
        p_picks = rng.choice(len(arr), size=len(paris_idx), p=w / w.sum())
        for j, loc in zip(paris_idx, self._locate_in_polygons(list(paris_idx), p_picks, arr, "75", rng)):
            locs[int(j)] = loc
        c_picks = rng.choice(len(com), size=len(idf_idx), p=cw / cw.sum())
        for j, loc in zip(idf_idx, self._locate_in_polygons(list(idf_idx), c_picks, com, None, rng)):
            locs[int(j)] = loc
        reasons = rng.random(len(owners))
        for o, members in enumerate(owners):
            if o in locs:
                self.homes.append(locs[o])
                for i in members:
                    self.kids[i].home = len(self.homes) - 1
                continue
            mna = self.kids[members[0]].mna
            if mna:
                absence = HomeAbsence.ABROAD if reasons[o] < 0.75 else HomeAbsence.UNKNOWN
            else:
                absence = HomeAbsence.UNKNOWN if reasons[o] < 0.6 else HomeAbsence.NONE
            for i in members:
                self.kids[i].home_absence = absence


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

    # -- schools and supervised visits -----------------------------------------------------

    def make_schools_and_visits(self, rng: np.random.Generator) -> None:
        """Schools (a child aged 3-17, except a fifth of MNA minors; half of the young adults a
        training place) near the current placement for a child placed more than a year ago,
        near the family home for one placed recently or waiting, else near the placement, or
        near the service that follows a waiting child without a home. Supervised visits for 8% of the homes (a
        fratrie as one), at the nearest of :data:`VISIT_SITES` sites in Paris."""
        cal = self.cal
        arr = geography.arrondissements()
        w = arr["population"].to_numpy(dtype=float)
        picks = rng.choice(len(arr), size=VISIT_SITES, p=w / w.sum())
        self.visit_sites = self._locate_in_polygons(list(range(VISIT_SITES)), picks, arr, "75", rng)
        sites = np.array([(v.lat, v.lon) for v in self.visit_sites])
        supervised = rng.random(len(self.homes)) < cal.supervised_visit_share
        for k in self.kids:
            if k.home >= 0 and supervised[k.home]:
                home = self.homes[k.home]
                k.supervised = True
                k.visit_site = int(np.argmin(((sites - (home.lat, home.lon)) * (1.0, 0.66)) ** 2 @ np.ones(2)))
        self._school_pool: dict[str, list[int]] = {}
        self._school_uses: dict[str, int] = {}
        for k in self.kids:
            draw = rng.random()
            if k.age < 3:
                continue
            if k.age >= 18 and draw >= cal.young_adult_training_share:
                continue
            if k.mna and k.age < 18 and draw < cal.unschooled_mna_share:
                continue
            placement = self.sites[self.slots[k.unit].site].location if k.unit >= 0 else None
            long_ago = k.since is not None and (self.on - k.since).days > 365
            if placement is not None and long_ago:
                near = placement
            elif k.home >= 0:
                near = self.homes[k.home]
            elif placement is not None:
                near = placement
            else:  # waiting, no home: near the service that follows the child (its Paris point)
                near = SERVICE_LOCATIONS[self.service_of(k)]
            k.school = self.school_near(near, rng)

    def service_of(self, k: _Kid) -> Service:
        """:func:`matcher.model.service_of` for a child with neither home nor school yet (the
        sector then comes from the digits of the child's id, ``E-<idx + 1>``)."""
        if k.mna:
            return Service.UNACCOMPANIED_MINORS
        if Need.MOTHER_CHILD in k.needs:
            return Service.MOTHER_CHILD
        if k.waiting_since is not None and k.birth is not None and \
                (k.waiting_since - k.birth).days // 365.25 >= 18:
            return Service.YOUNG_ADULTS
        return Service(f"sector-{(k.idx + 1) % 9 + 1}")

    def school_near(self, near: Location, rng: np.random.Generator) -> int:
        """A school in the commune of ``near``: a new one (within about 500 m) for every 25
        children of the commune, else one of those already there."""
        pool = self._school_pool.setdefault(near.commune, [])
        uses = self._school_uses.get(near.commune, 0)
        self._school_uses[near.commune] = uses + 1
        if len(pool) < 1 + uses // 25:
            lat = round(near.lat + float(rng.normal(0, 0.0045)), 6)
            lon = round(near.lon + float(rng.normal(0, 0.0065)), 6)
            self.schools.append((f"SCH-{near.commune}-{len(pool) + 1:02d}", Location(lat, lon, near.commune, near.departement)))
            pool.append(len(self.schools) - 1)
            return pool[-1]
        return pool[int(rng.integers(0, len(pool)))]

    # -- assembly --------------------------------------------------------------------------

    def assemble(self) -> PlacementSystem:
        n = len(self.kids)
        width = max(6, len(str(n)))
        kid_id = [f"E-{i + 1:0{width}d}" for i in range(n)]
        gwidth = max(4, len(str(len(self.groups))))
        group_id = [f"F-{g + 1:0{gwidth}d}" for g in range(len(self.groups))]
        hwidth = max(6, len(str(len(self.homes))))
        homes = [Home(f"H-{h + 1:0{hwidth}d}", loc) for h, loc in enumerate(self.homes)]
        schools = [School(sid, loc) for sid, loc in self.schools]
        visit_sites = [VisitSite(f"VS-{v + 1:02d}", loc) for v, loc in enumerate(self.visit_sites)]
        # FINESS-like ids: département (2 characters) + 7 digits; foster families "AF-".
        number = 0
        afwidth = max(6, len(str(len(self.sites))))
        labels = {StructureType.FOYER_ENFANCE: "Foyer de l'enfance", StructureType.MECS: "MECS",
                  StructureType.POUPONNIERE: "Pouponnière", StructureType.LIEU_DE_VIE: "Lieu de vie",
                  StructureType.SEMI_AUTONOMIE: "Service semi-autonomie",
                  StructureType.CENTRE_MATERNEL: "Centre maternel",
                  StructureType.ACCUEIL_URGENCE: "Accueil d'urgence", StructureType.HOTEL: "Hôtel"}
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
                label = "Appartements autonomes" if s.category == "autonomous_flats" else labels[s.stype]
                if s.operator is Operator.OTHER_DEPARTEMENT:
                    label += " (autre département)"
                name = ("Structure protégée " + s.id) if s.secret else f"{label} - {s.name_place}"
            if s.operator is Operator.OTHER_DEPARTEMENT:
                mean, sd = OTHER_DEPARTEMENT_DAILY_PRICE_EUR.get(s.stype, DAILY_PRICE_EUR[s.stype])
                factor = 1.0
            else:
                mean, sd = DAILY_PRICE_EUR[s.stype]
                factor = 1.05 if s.operator is Operator.DEPARTMENTAL and s.stype is not StructureType.HOTEL else 1.0
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
                supervised_visits=k.supervised,
            )
            children.append(Child(
                id=kid_id[k.idx], birth_date=k.birth, sex=k.sex, home=homes[k.home] if k.home >= 0 else None,
                waiting_since=k.waiting_since,
                sibling_group_id=group_id[k.group] if k.group >= 0 else None,
                needs=frozenset(k.needs), legal_basis=k.legal,
                urgency=Urgency.URGENT if k.urgent else Urgency.NORMAL,
                current=current, judge=judge, pregnant=k.pregnant,
                own_child_birth_date=k.own_child_birth, own_children=k.own_children,
                home_absence=k.home_absence, school=schools[k.school] if k.school >= 0 else None,
                visit_site=visit_sites[k.visit_site] if k.visit_site >= 0 else None,
            ))
        groups = [SiblingGroup(group_id[g], tuple(kid_id[i] for i in members), self.group_together[g])
                  for g, members in enumerate(self.groups)]
        children = one_service_per_fratrie(children, groups)
        return PlacementSystem(self.on, tuple(children), tuple(groups), tuple(structures), tuple(units))


def scenario_parameters(scenario: Scenario) -> dict[str, object]:
    """The parameters of a scenario as plain values (for dataset.json)."""
    return {f.name: (getattr(scenario, f.name).isoformat() if f.name == "reference_date"
                     else getattr(scenario, f.name)) for f in fields(scenario)}


def one_service_per_fratrie(children: list[Child], groups: list[SiblingGroup]) -> list[Child]:
    """A fratrie is followed by one service, that of its first member: siblings share one
    referent service in ASE practice, and an officer acts for a whole fratrie or for none of it
    (docs/SECURITY.md). Without this, siblings with no family home (their sector then comes from
    their ids) or with an 18-21 year-old among them would be followed by several services, and
    no officer could ask for the fratrie's proposals."""
    index = {c.id: i for i, c in enumerate(children)}
    out = list(children)
    for group in groups:
        service = out[index[group.child_ids[0]]].service
        for cid in group.child_ids[1:]:
            if out[index[cid]].service != service:
                out[index[cid]] = replace(out[index[cid]], service=service)
    return out
