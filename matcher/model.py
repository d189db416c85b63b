"""The placement system as a child-protection officer sees it.

Children (some in a fratrie, a sibling group), structures (lieux d'accueil) and their units,
each unit with an age range, a sex, a capacity and its occupied places. Everything here is a
plain, frozen value: no I/O, no database, no solver. Invariants are checked on construction so
that an impossible age or a unit with more children than places never enters the engine.

Vocabulary (see docs/GLOSSARY.md): *fratrie* = sibling group; *MECS* = maison d'enfants à
caractère social; *pouponnière* = nursery for children under 3; *assistant familial* = foster
carer employed by the département or an association (1 to 3 places at home); *lieu de vie et
d'accueil* = small residential setting; *centre maternel* = mother-and-child home; *MNA*
(mineur non accompagné) = unaccompanied minor.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from functools import cached_property
from types import MappingProxyType
from typing import Collection, Iterable, Mapping

from matcher.errors import DomainError

PARIS_DEPARTEMENT = "75"
ILE_DE_FRANCE_DEPARTEMENTS = frozenset({"75", "77", "78", "91", "92", "93", "94", "95"})
MAX_AGE_YEARS = 21
"""Contrat jeune majeur ends at 21: nobody older is in the care of the ASE."""


class AgeBand(StrEnum):
    """The age bands of the Paris child-protection plan."""

    INFANT = "0-3"
    CHILD = "4-11"
    YOUNG_TEEN = "12-15"
    OLDER_TEEN = "16-17"
    YOUNG_ADULT = "18-21"

    @classmethod
    def of(cls, age_years: int) -> AgeBand:
        if age_years < 0 or age_years > MAX_AGE_YEARS:
            raise DomainError(f"age {age_years} is outside 0-{MAX_AGE_YEARS} years",
                              fr=f"l'âge {age_years} ans est hors de 0-{MAX_AGE_YEARS} ans")
        if age_years <= 3:
            return cls.INFANT
        if age_years <= 11:
            return cls.CHILD
        if age_years <= 15:
            return cls.YOUNG_TEEN
        if age_years <= 17:
            return cls.OLDER_TEEN
        return cls.YOUNG_ADULT


class Sex(StrEnum):
    FEMALE = "F"
    MALE = "M"


class UnitSex(StrEnum):
    """Who a unit takes."""

    MIXED = "mixed"
    GIRLS = "girls"
    BOYS = "boys"

    def admits(self, sex: Sex) -> bool:
        return (
            self is UnitSex.MIXED
            or (self is UnitSex.GIRLS and sex is Sex.FEMALE)
            or (self is UnitSex.BOYS and sex is Sex.MALE)
        )


class Need(StrEnum):
    """Specialised needs of a child; a structure must have the matching capability."""

    DISABILITY = "disability"
    PSYCHIC_CARE = "psychic_care"
    MOTHER_CHILD = "mother_child"
    PROTECTION = "protection"
    """Protection / secret placement (for example a victim of trafficking)."""
    UNACCOMPANIED_MINOR = "unaccompanied_minor"
    """Mineur non accompagné (MNA)."""


class Wish(StrEnum):
    """What the child said about a move (shown to the planner; weighed by the rebalancing plan)."""

    NONE = "none"
    """Nothing said (or not asked)."""
    CLOSER = "closer"
    """Wants to live closer to the family home."""
    STAY = "stay"
    """Wants to stay where they are."""


class LegalBasis(StrEnum):
    JUDICIAL = "judicial"
    """Placement ordered by the juge des enfants."""
    ADMINISTRATIVE = "administrative"
    """Accueil provisoire agreed with the family."""


class Urgency(StrEnum):
    NORMAL = "normal"
    URGENT = "urgent"


class StructureType(StrEnum):
    """Types of lieu d'accueil (FINESS categories in brackets)."""

    FOYER_ENFANCE = "foyer_enfance"
    """Foyer de l'enfance [175]: departmental emergency and assessment home."""
    MECS = "mecs"
    """Maison d'enfants à caractère social [177]."""
    POUPONNIERE = "pouponniere"
    """Pouponnière à caractère social [176]: children under 3."""
    ASSISTANT_FAMILIAL = "assistant_familial"
    """Assistant familial / placement familial [236]: a foster home with 1 to 3 places."""
    LIEU_DE_VIE = "lieu_de_vie"
    """Lieu de vie et d'accueil [462]."""
    SEMI_AUTONOMIE = "semi_autonomie"
    """Semi-autonomy flats for older teenagers and young adults."""
    CENTRE_MATERNEL = "centre_maternel"
    """Centre maternel / établissement d'accueil mère-enfant [166]."""
    ACCUEIL_URGENCE = "accueil_urgence"
    """Emergency reception."""
    HOTEL = "hotel"
    """Hotel room paid by the ASE (449 young people in 2014, 9%, plan L579): only for 16-21 year
    olds (hard rule ``hotel_age``), an undesired option with a high penalty (soft rule
    ``hotel_stay``)."""


class Operator(StrEnum):
    DEPARTMENTAL = "departmental"
    """Run by the Département de Paris."""
    ASSOCIATIVE = "associative"
    """Run by an association, funded (tarifé) by Paris."""
    OTHER_DEPARTEMENT = "other_departement"
    """An establishment of another département that takes Parisian children (1,160 in 2014, 23%,
    plan L579-583), at that département's prices; never in Paris."""


class Zone(StrEnum):
    """Where a place is, seen from Paris."""

    PARIS = "paris"
    ILE_DE_FRANCE = "ile_de_france"
    """Île-de-France outside Paris."""
    PROVINCE = "province"

    @classmethod
    def of_departement(cls, departement: str) -> Zone:
        if departement == PARIS_DEPARTEMENT:
            return cls.PARIS
        if departement in ILE_DE_FRANCE_DEPARTEMENTS:
            return cls.ILE_DE_FRANCE
        return cls.PROVINCE


class Service(StrEnum):
    """The ASE Paris service that follows a child: one of the nine territorial sectors (secteurs
    d'aide sociale à l'enfance, each covering a group of arrondissements), the unaccompanied
    minors' service (MNA), the young adults' service (contrats jeunes majeurs) or the
    mother-child service (centres maternels). An officer belongs to one service and acts for its
    children. The grouping of arrondissements into sectors is assumed (see
    :data:`SECTOR_OF_ARRONDISSEMENT`): the plan names nine sectors without listing them."""

    SECTOR_1 = "sector-1"
    SECTOR_2 = "sector-2"
    SECTOR_3 = "sector-3"
    SECTOR_4 = "sector-4"
    SECTOR_5 = "sector-5"
    SECTOR_6 = "sector-6"
    SECTOR_7 = "sector-7"
    SECTOR_8 = "sector-8"
    SECTOR_9 = "sector-9"
    UNACCOMPANIED_MINORS = "unaccompanied-minors"
    YOUNG_ADULTS = "young-adults"
    MOTHER_CHILD = "mother-child"

    @property
    def is_sector(self) -> bool:
        return self.value.startswith("sector-")


SECTOR_OF_ARRONDISSEMENT: Mapping[int, int] = MappingProxyType({
    1: 1, 2: 1, 3: 1, 4: 1, 5: 2, 6: 2, 7: 2, 8: 3, 9: 3, 10: 3, 11: 4, 12: 5, 13: 6, 14: 6,
    15: 7, 16: 7, 17: 8, 18: 8, 19: 9, 20: 9,
})
"""Territorial sector of each Paris arrondissement (assumed grouping of the 20 arrondissements
into nine sectors of comparable child population)."""


@dataclass(frozen=True, slots=True)
class Location:
    """A point and the zone it lies in.

    ``commune`` is the INSEE code of the commune, or of the arrondissement inside Paris
    (75101 to 75120); ``departement`` its département code ("75", "93", "58"...).
    """

    lat: float
    lon: float
    commune: str
    departement: str
    zone: Zone = field(init=False, repr=False, compare=False)
    """Paris, Île-de-France or the provinces, from the département (set once: the scores and the
    proposals ask for it for every option)."""

    def __post_init__(self) -> None:
        if not (-90.0 <= self.lat <= 90.0) or not (-180.0 <= self.lon <= 180.0):
            raise DomainError(f"location ({self.lat}, {self.lon}) is not a latitude/longitude",
                              fr=f"le lieu ({self.lat}, {self.lon}) n'est pas une latitude/longitude")
        if not self.commune or not self.departement:
            raise DomainError("location needs a commune code and a département code",
                              fr="un lieu demande un code de commune et un code de département")
        object.__setattr__(self, "zone", Zone.of_departement(self.departement))


@dataclass(frozen=True, slots=True)
class Place:
    """A named point a child's travel is measured from (a row of the travel matrix)."""

    id: str
    location: Location

    def __post_init__(self) -> None:
        if not self.id:
            raise DomainError(f"a {type(self).__name__.lower()} needs an id",
                              fr=f"{_PLACE_FR.get(type(self).__name__, 'un lieu')} doit avoir un identifiant")


_PLACE_FR = {"Home": "un domicile familial", "School": "une école", "VisitSite": "un lieu de visite"}


@dataclass(frozen=True, slots=True)
class Home(Place):
    """A family home: the place parents visit from. Siblings share one."""


@dataclass(frozen=True, slots=True)
class School(Place):
    """The school or training place a child attends now (its point and commune)."""


@dataclass(frozen=True, slots=True)
class VisitSite(Place):
    """A place where supervised visits happen (lieu de visites médiatisées), used instead of
    the family home when the judge orders supervised visits."""


class HomeAbsence(StrEnum):
    """Why a child has no family home to measure travel from."""

    UNKNOWN = "unknown"
    """The family's address is not known to the ASE."""
    ABROAD = "abroad"
    """The family lives abroad (most unaccompanied minors)."""
    NONE = "none"
    """No family home (parents dead, without a fixed abode, or the child came alone)."""


class AnchorKind(StrEnum):
    """Where a child's travel term is measured from, in order of precedence."""

    VISIT_SITE = "visit_site"
    """The site of supervised visits, when the judge ordered them and the site is known."""
    FAMILY_HOME = "family_home"
    SCHOOL = "school"
    """The school or training place, for a child with no family home."""
    SERVICE = "service"
    """The ASE service that follows the child, for a child with neither home nor school."""


@dataclass(frozen=True, slots=True)
class Anchor:
    """The point a child's travel term is measured from and which kind of point it is."""

    kind: AnchorKind
    place: Place

    @property
    def id(self) -> str:
        return self.place.id

    @property
    def location(self) -> Location:
        return self.place.location

    def describe(self) -> str:
        """In words, for explanations."""
        return {
            AnchorKind.VISIT_SITE: "the supervised-visit site",
            AnchorKind.FAMILY_HOME: "the family home",
            AnchorKind.SCHOOL: "the school or training place",
            AnchorKind.SERVICE: "the ASE service that follows the child",
        }[self.kind]


@dataclass(frozen=True, slots=True)
class JudgeConstraints:
    """What the juge des enfants decided about where a child may live."""

    excluded_structures: frozenset[str] = frozenset()
    excluded_departements: frozenset[str] = frozenset()
    max_travel_minutes: float | None = None
    """Longest public-transport time from the family home, in minutes."""
    separated_from: frozenset[str] = frozenset()
    """Children (siblings) this child must not be placed with, by the judge's order."""
    supervised_visits: bool = False
    """The judge ordered supervised visits (visites médiatisées): travel is then measured from
    the child's visit site, when known, instead of the family home."""
    placed_away: bool = False
    """The judge placed the child away from the family on purpose (éloignement): the placement
    is not a candidate for being brought closer (planning.rebalance). It restricts no option, so
    :attr:`is_empty` (which is about eligibility) does not look at it."""

    def __post_init__(self) -> None:
        if self.max_travel_minutes is not None and self.max_travel_minutes <= 0:
            raise DomainError(
                f"judge's max_travel_minutes must be positive, got {self.max_travel_minutes}",
                fr=f"le max_travel_minutes du juge doit être positif, reçu {self.max_travel_minutes}",
            )
        if not isinstance(self.placed_away, bool):
            raise DomainError(f"judge's placed_away must be true or false, got {self.placed_away!r}",
                              fr=f"le placed_away du juge doit être vrai ou faux, reçu {self.placed_away!r}")

    @property
    def is_empty(self) -> bool:
        return not (
            self.excluded_structures
            or self.excluded_departements
            or self.max_travel_minutes is not None
            or self.separated_from
            or self.supervised_visits
        )


@dataclass(frozen=True, slots=True)
class CurrentPlacement:
    unit_id: str
    since: date


@dataclass(frozen=True, slots=True)
class Child:
    """A child or young adult in the care of the ASE (pseudonymous, always synthetic here)."""

    id: str
    birth_date: date
    sex: Sex
    home: Home | None
    """The family home; None when there is none (then ``home_absence`` says why)."""
    waiting_since: date
    """When the request for a place was made (first come, first served in the baseline)."""
    sibling_group_id: str | None = None
    needs: frozenset[Need] = frozenset()
    legal_basis: LegalBasis = LegalBasis.JUDICIAL
    urgency: Urgency = Urgency.NORMAL
    current: CurrentPlacement | None = None
    judge: JudgeConstraints = field(default_factory=JudgeConstraints)
    pregnant: bool = False
    own_child_birth_date: date | None = None
    """For a young mother: her own child's birth date (mother-child units)."""
    service: Service | None = None
    """The service that follows the child; when not given, :func:`service_of` decides it."""
    home_absence: HomeAbsence | None = None
    """Why there is no family home (required exactly when ``home`` is None)."""
    school: School | None = None
    """The school or training place the child attends now, when known."""
    visit_site: VisitSite | None = None
    """Where supervised visits happen, when the judge ordered them."""
    own_children: int = 0
    """For a young mother: how many children of hers live with her (the youngest born on
    ``own_child_birth_date``); 1 when only that date is given."""
    wish: Wish = Wish.NONE
    """The child's own stated wish about a move (closer to the family, stay, nothing said)."""

    def __post_init__(self) -> None:
        if not self.id:
            raise DomainError("a child needs an id", fr="un enfant doit avoir un identifiant")
        if self.home is None and self.home_absence is None:
            raise DomainError(f"child {self.id}: no family home and no reason why (unknown, abroad or none)",
                              fr=f"enfant {self.id} : ni domicile familial ni raison de son absence (unknown, "
                              "abroad ou none)")
        if self.home is not None and self.home_absence is not None:
            raise DomainError(f"child {self.id}: has a family home and a reason for having none ({self.home_absence.value})",
                              fr=f"enfant {self.id} : un domicile familial et une raison de ne pas en avoir "
                              f"({self.home_absence.value})")
        if self.own_children < 0:
            raise DomainError(f"child {self.id}: own_children {self.own_children} is negative",
                              fr=f"enfant {self.id} : own_children {self.own_children} est négatif")
        if self.own_children and self.own_child_birth_date is None:
            raise DomainError(f"child {self.id}: {self.own_children} own children but no birth date of the youngest",
                              fr=f"enfant {self.id} : {self.own_children} enfant(s) à soi mais pas de date de "
                              "naissance du plus jeune")
        if self.own_child_birth_date is not None and not self.own_children:
            object.__setattr__(self, "own_children", 1)
        if self.service is None:
            object.__setattr__(self, "service", service_of(self))
        if not isinstance(self.wish, Wish):
            try:
                object.__setattr__(self, "wish", Wish(self.wish))
            except ValueError:
                allowed = ", ".join(w.value for w in Wish)
                raise DomainError(f"child {self.id}: unknown wish {self.wish!r}; allowed: {allowed}",
                                  fr=f"enfant {self.id} : souhait {self.wish!r} inconnu ; permis : {allowed}") from None
        if self.own_child_birth_date is not None and self.own_child_birth_date < self.birth_date:
            raise DomainError(f"child {self.id}: own child born before the mother",
                              fr=f"enfant {self.id} : son enfant est né avant sa mère")
        if (self.pregnant or self.own_child_birth_date is not None) and self.sex is not Sex.FEMALE:
            raise DomainError(f"child {self.id}: only a girl or young woman can be pregnant or a mother",
                              fr=f"enfant {self.id} : seule une fille ou une jeune femme peut être enceinte ou mère")
        if self.id in self.judge.separated_from:
            raise DomainError(f"child {self.id}: cannot be ordered separated from themself",
                              fr=f"enfant {self.id} : ne peut pas être séparé de lui-même par le juge")

    def age_on(self, on: date) -> int:
        """Age in whole years on a date; raises DomainError if it is impossible for the ASE."""
        years = on.year - self.birth_date.year - ((on.month, on.day) < (self.birth_date.month, self.birth_date.day))
        if self.birth_date > on:
            raise DomainError(
                f"child {self.id}: born {self.birth_date.isoformat()}, after the reference date {on.isoformat()}",
                fr=f"enfant {self.id} : né le {self.birth_date.isoformat()}, après la date de référence "
                f"{on.isoformat()}",
            )
        if years > MAX_AGE_YEARS:
            raise DomainError(
                f"child {self.id}: age {years} on {on.isoformat()} (born {self.birth_date.isoformat()}) "
                f"is outside 0-{MAX_AGE_YEARS} years",
                fr=f"enfant {self.id} : un âge de {years} ans au {on.isoformat()} (né le "
                f"{self.birth_date.isoformat()}) est hors de 0-{MAX_AGE_YEARS} ans"
            )
        return years

    def age_band_on(self, on: date) -> AgeBand:
        return AgeBand.of(self.age_on(on))

    def is_mother_of_infant_on(self, on: date) -> bool:
        """Pregnant, or mother of a child under 3 on that date."""
        if self.pregnant:
            return True
        if self.own_child_birth_date is None:
            return False
        months = (on.year - self.own_child_birth_date.year) * 12 + on.month - self.own_child_birth_date.month
        return 0 <= months < 36

    @property
    def is_waiting(self) -> bool:
        return self.current is None

    @property
    def anchor(self) -> Anchor:
        """The one point this child's travel is measured from (transit time, the judge's maximum
        travel, the summaries): the visit site when the judge ordered supervised visits and the
        site is known; else the family home; else the school or training place; else the place
        of the service that follows the child (for an unaccompanied minor, the Paris MNA
        service). Never "no point": a missing home is never zero minutes."""
        if self.judge.supervised_visits and self.visit_site is not None:
            return Anchor(AnchorKind.VISIT_SITE, self.visit_site)
        if self.home is not None:
            return Anchor(AnchorKind.FAMILY_HOME, self.home)
        if self.school is not None:
            return Anchor(AnchorKind.SCHOOL, self.school)
        assert self.service is not None
        return Anchor(AnchorKind.SERVICE, service_place(self.service))


def service_of(child: Child) -> Service:
    """The service that follows a child when none is recorded: the unaccompanied minors' service
    for an MNA, the mother-child service for a pregnant girl or young mother, the young adults'
    service for an 18-21 year-old (age when the request was made), else the territorial sector
    of the family home's arrondissement (a home outside Paris: the sector numbered by its
    département code, modulo nine; assumed)."""
    if Need.UNACCOMPANIED_MINOR in child.needs:
        return Service.UNACCOMPANIED_MINORS
    if child.pregnant or child.own_child_birth_date is not None:
        return Service.MOTHER_CHILD
    on = child.waiting_since
    years = on.year - child.birth_date.year - ((on.month, on.day) < (child.birth_date.month, child.birth_date.day))
    if years >= 18:
        return Service.YOUNG_ADULTS
    where = child.home or child.school
    if where is None:  # no home, no school: assumed, by the digits of the child's id
        digits = "".join(ch for ch in child.id if ch.isdigit()) or "0"
        return Service(f"sector-{int(digits) % 9 + 1}")
    commune = where.location.commune
    if commune.startswith("751") and commune[3:].isdigit() and int(commune[3:]) in SECTOR_OF_ARRONDISSEMENT:
        return Service(f"sector-{SECTOR_OF_ARRONDISSEMENT[int(commune[3:])]}")
    digits = "".join(ch for ch in where.location.departement if ch.isdigit()) or "0"
    return Service(f"sector-{int(digits) % 9 + 1}")


SERVICE_LOCATIONS: Mapping[Service, Location] = MappingProxyType({
    Service.SECTOR_1: Location(48.8630, 2.3601, "75103", "75"),
    Service.SECTOR_2: Location(48.8462, 2.3504, "75105", "75"),
    Service.SECTOR_3: Location(48.8762, 2.3607, "75110", "75"),
    Service.SECTOR_4: Location(48.8591, 2.3800, "75111", "75"),
    Service.SECTOR_5: Location(48.8440, 2.3870, "75112", "75"),
    Service.SECTOR_6: Location(48.8283, 2.3560, "75113", "75"),
    Service.SECTOR_7: Location(48.8420, 2.2990, "75115", "75"),
    Service.SECTOR_8: Location(48.8925, 2.3484, "75118", "75"),
    Service.SECTOR_9: Location(48.8871, 2.3848, "75119", "75"),
    Service.UNACCOMPANIED_MINORS: Location(48.8838, 2.3700, "75119", "75"),
    Service.YOUNG_ADULTS: Location(48.8700, 2.3560, "75110", "75"),
    Service.MOTHER_CHILD: Location(48.8330, 2.3260, "75114", "75"),
})
"""Where each service is, as an assumed point in Paris (not a published address): each sector
in one of its arrondissements, the MNA service in the 19e, the young adults' service in the
10e, the mother-child service in the 14e. The anchor of a child with neither family home nor
school (:attr:`Child.anchor`)."""


def service_place(service: Service) -> Place:
    """The place of a service as a travel origin (id ``SVC-<service>``)."""
    return Place(f"SVC-{service.value}", SERVICE_LOCATIONS[service])


@dataclass(frozen=True, slots=True)
class SiblingGroup:
    """A fratrie. Siblings are placed together unless a judge decided otherwise."""

    id: str
    child_ids: tuple[str, ...]
    together: bool = True
    """False when the group may be split (judge's decision or assessed as separable)."""

    def __post_init__(self) -> None:
        if len(self.child_ids) < 2:
            raise DomainError(f"sibling group {self.id}: needs at least two children",
                              fr=f"fratrie {self.id} : il faut au moins deux enfants")
        if len(set(self.child_ids)) != len(self.child_ids):
            raise DomainError(f"sibling group {self.id}: a child is listed twice",
                              fr=f"fratrie {self.id} : un enfant figure deux fois")


@dataclass(frozen=True, slots=True)
class Unit:
    """A unit of a structure: a group of places with one age range and one sex."""

    id: str
    structure_id: str
    age_min: int
    age_max: int
    sex: UnitSex
    capacity: int
    occupied: int = 0
    takes_siblings: bool = True

    def __post_init__(self) -> None:
        if not (0 <= self.age_min <= self.age_max <= MAX_AGE_YEARS):
            raise DomainError(
                f"unit {self.id}: age range {self.age_min}-{self.age_max} is not within 0-{MAX_AGE_YEARS}",
                fr=f"unité {self.id} : la tranche d'âge {self.age_min}-{self.age_max} sort de 0-{MAX_AGE_YEARS}",
            )
        if self.capacity < 0:
            raise DomainError(f"unit {self.id}: capacity {self.capacity} is negative",
                              fr=f"unité {self.id} : la capacité {self.capacity} est négative")
        if not (0 <= self.occupied <= self.capacity):
            raise DomainError(
                f"unit {self.id}: {self.occupied} occupied places for a capacity of {self.capacity}",
                fr=f"unité {self.id} : {self.occupied} places occupées pour une capacité de {self.capacity}",
            )

    @property
    def free(self) -> int:
        return self.capacity - self.occupied

    @property
    def is_for_young_adults(self) -> bool:
        return self.age_max >= 18

    @property
    def is_only_for_young_adults(self) -> bool:
        return self.age_min >= 18


@dataclass(frozen=True, slots=True)
class Structure:
    """A lieu d'accueil: an establishment, a service or a foster home."""

    id: str
    """FINESS-like identifier (9 characters for establishments)."""
    name: str
    type: StructureType
    operator: Operator
    location: Location
    capabilities: frozenset[Need] = frozenset()
    daily_price_eur: float = 0.0
    secret: bool = False
    """Address kept secret (protection of trafficking victims): visible only to entitled staff."""

    def __post_init__(self) -> None:
        if self.daily_price_eur < 0:
            raise DomainError(f"structure {self.id}: daily price {self.daily_price_eur} is negative",
                              fr=f"structure {self.id} : le prix de journée {self.daily_price_eur} est négatif")
        if self.operator is Operator.OTHER_DEPARTEMENT and self.location.departement == PARIS_DEPARTEMENT:
            raise DomainError(f"structure {self.id}: an establishment of another département cannot be in Paris",
                              fr=f"structure {self.id} : un établissement d'un autre département ne peut pas être "
                              "à Paris")

    @property
    def zone(self) -> Zone:
        return self.location.zone


@dataclass(frozen=True)
class PlacementSystem:
    """Every child, sibling group, structure and unit at a reference date, checked as a whole."""

    reference_date: date
    children: tuple[Child, ...]
    sibling_groups: tuple[SiblingGroup, ...]
    structures: tuple[Structure, ...]
    units: tuple[Unit, ...]

    def __post_init__(self) -> None:
        _raise_if_inconsistent(_consistency_problems(self))

    @cached_property
    def child_by_id(self) -> Mapping[str, Child]:
        return MappingProxyType({c.id: c for c in self.children})

    @cached_property
    def structure_by_id(self) -> Mapping[str, Structure]:
        return MappingProxyType({s.id: s for s in self.structures})

    @cached_property
    def unit_by_id(self) -> Mapping[str, Unit]:
        return MappingProxyType({u.id: u for u in self.units})

    @cached_property
    def sibling_group_by_id(self) -> Mapping[str, SiblingGroup]:
        return MappingProxyType({g.id: g for g in self.sibling_groups})

    @cached_property
    def units_by_structure(self) -> Mapping[str, tuple[Unit, ...]]:
        grouped: dict[str, list[Unit]] = {s.id: [] for s in self.structures}
        for unit in self.units:
            grouped[unit.structure_id].append(unit)
        return MappingProxyType({k: tuple(v) for k, v in grouped.items()})

    @cached_property
    def placed_by_unit(self) -> Mapping[str, int]:
        """How many children are placed in each unit (their current placement); units with none
        are left out."""
        placed: dict[str, int] = {}
        for child in self.children:
            if child.current is not None:
                placed[child.current.unit_id] = placed.get(child.current.unit_id, 0) + 1
        return MappingProxyType(placed)

    @cached_property
    def homes(self) -> tuple[Home, ...]:
        """Distinct family homes, in order of first appearance."""
        seen: dict[str, Home] = {}
        for child in self.children:
            if child.home is not None:
                seen.setdefault(child.home.id, child.home)
        return tuple(seen.values())

    @cached_property
    def origins(self) -> tuple[Place, ...]:
        """Every distinct point a child's travel is read from, the travel matrix's origins: the
        family homes, the schools, the visit sites and the places of the services that are some
        child's anchor (ids are unique across kinds: see the consistency check)."""
        seen: dict[str, Place] = {h.id: h for h in self.homes}
        for child in self.children:
            for place in (child.school, child.visit_site, child.anchor.place):
                if place is not None:
                    seen.setdefault(place.id, place)
        return tuple(seen.values())

    def with_changes(self, units: Iterable[Unit] = (), children: Iterable[Child] = ()) -> PlacementSystem:
        """The same system with these units and children in place of those of the same id (what a
        confirmation or a manager's update of capacity changes), in the same order. The changed
        units and children are checked against the rest with the rules of any system (DomainError
        with every problem); an id not in the system is a DomainError too (a new unit or child is
        a new system, not a change)."""
        new_units = {u.id: u for u in units}
        new_children = {c.id: c for c in children}
        unknown = [i for i in new_units if i not in self.unit_by_id] + [i for i in new_children if i not in self.child_by_id]
        if unknown:
            named = [f"unit {i!r}" if i in new_units else f"child {i!r}" for i in unknown]
            nommes = [f"unité {i!r}" if i in new_units else f"enfant {i!r}" for i in unknown]
            raise DomainError(f"cannot change what the system does not have: {', '.join(named)}",
                              fr=f"impossible de modifier ce que le système n'a pas : {', '.join(nommes)}")
        # Built without __init__, whose check goes over the whole system (0.1 s at scale 10), then
        # checked for what the changed units and children can break: the rest was checked when
        # this system was built and has not changed. The look-up maps are carried over, updated.
        changed = object.__new__(PlacementSystem)
        placed = dict(self.placed_by_unit)
        for child in new_children.values():
            before = self.child_by_id[child.id].current
            if before is not None:
                placed[before.unit_id] -= 1
                if not placed[before.unit_id]:
                    del placed[before.unit_id]
            if child.current is not None:
                placed[child.current.unit_id] = placed.get(child.current.unit_id, 0) + 1
        for name, value in (
            ("reference_date", self.reference_date),
            ("children", tuple(new_children.get(c.id, c) for c in self.children) if new_children else self.children),
            ("sibling_groups", self.sibling_groups),
            ("structures", self.structures),
            ("units", tuple(new_units.get(u.id, u) for u in self.units) if new_units else self.units),
            ("child_by_id", MappingProxyType({**self.child_by_id, **new_children})),
            ("unit_by_id", MappingProxyType({**self.unit_by_id, **new_units})),
            ("structure_by_id", self.structure_by_id),
            ("sibling_group_by_id", self.sibling_group_by_id),
            ("placed_by_unit", MappingProxyType(placed)),
        ):
            object.__setattr__(changed, name, value)
        _raise_if_inconsistent(_consistency_problems(changed, new_units, new_children))
        return changed

    def structure_of(self, unit: Unit) -> Structure:
        return self.structure_by_id[unit.structure_id]

    def siblings_of(self, child: Child) -> tuple[Child, ...]:
        if child.sibling_group_id is None:
            return ()
        group = self.sibling_group_by_id[child.sibling_group_id]
        return tuple(self.child_by_id[c] for c in group.child_ids if c != child.id)

    def waiting_children(self) -> tuple[Child, ...]:
        return tuple(c for c in self.children if c.is_waiting)

    def age_of(self, child: Child) -> int:
        return child.age_on(self.reference_date)


def _raise_if_inconsistent(problems: list[str]) -> None:
    if problems:
        shown = "; ".join(problems[:20])
        more = f" (and {len(problems) - 20} more)" if len(problems) > 20 else ""
        raise DomainError(f"placement system is inconsistent: {shown}{more}",
                          fr=f"le système de placement est incohérent : {shown}{more}")


def _duplicates(ids: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    dup: list[str] = []
    for i in ids:
        if i in seen:
            dup.append(i)
        seen.add(i)
    return dup


def _consistency_problems(
    system: PlacementSystem, units: Collection[str] | None = None, children: Collection[str] | None = None
) -> list[str]:
    """Every reason the system cannot be trusted, all at once.

    With ``units`` and ``children`` (ids), only the problems those units and children can cause:
    for a system that differs from one already checked in them alone
    (:meth:`PlacementSystem.with_changes`). The same rules, on fewer items.
    """
    whole = units is None and children is None
    problems: list[str] = []
    if whole:
        for kind, items in (
            ("child", system.children),
            ("sibling group", system.sibling_groups),
            ("structure", system.structures),
            ("unit", system.units),
        ):
            for dup in _duplicates(i.id for i in items):
                problems.append(f"{kind} id {dup!r} appears twice")
    structure_ids = system.structure_by_id
    unit_ids = system.unit_by_id
    child_ids = system.child_by_id
    group_ids = system.sibling_group_by_id
    unit_scope = system.units if whole else [system.unit_by_id[u] for u in units or ()]
    child_scope = system.children if whole else [system.child_by_id[c] for c in children or ()]
    for unit in unit_scope:
        if unit.structure_id not in structure_ids:
            problems.append(f"unit {unit.id}: unknown structure {unit.structure_id!r}")
    placed_here = system.placed_by_unit
    counted = system.units if whole else [
        system.unit_by_id[u]
        for u in sorted({*(units or ()), *(c.current.unit_id for c in child_scope if c.current is not None)})
        if u in system.unit_by_id
    ]
    for unit in counted:
        if placed_here.get(unit.id, 0) > unit.occupied:
            problems.append(
                f"unit {unit.id}: {placed_here[unit.id]} children placed there but only {unit.occupied} places occupied"
            )
    members: dict[str, str] = {}
    for group in system.sibling_groups:
        for cid in group.child_ids:
            if cid not in child_ids:
                if whole:
                    problems.append(f"sibling group {group.id}: unknown child {cid!r}")
            elif cid in members:
                if whole:
                    problems.append(f"child {cid} is in sibling groups {members[cid]} and {group.id}")
            else:
                members[cid] = group.id
    for child in child_scope:
        try:
            child.age_on(system.reference_date)
        except DomainError as err:
            problems.append(str(err))
        if child.sibling_group_id is not None:
            if child.sibling_group_id not in group_ids:
                problems.append(f"child {child.id}: unknown sibling group {child.sibling_group_id!r}")
            elif members.get(child.id) != child.sibling_group_id:
                problems.append(
                    f"child {child.id}: says sibling group {child.sibling_group_id} but is not listed in it"
                )
        elif child.id in members:
            problems.append(f"child {child.id}: listed in sibling group {members[child.id]} but has none")
        if child.current is not None and child.current.unit_id not in unit_ids:
            problems.append(f"child {child.id}: current placement in unknown unit {child.current.unit_id!r}")
        for other in child.judge.separated_from:
            if other not in child_ids:
                problems.append(f"child {child.id}: judge's separation names unknown child {other!r}")
        for sid in child.judge.excluded_structures:
            if sid not in structure_ids:
                problems.append(f"child {child.id}: judge excludes unknown structure {sid!r}")
    if whole:
        places: dict[str, Place] = {}
        for child in system.children:
            for place in (child.home, child.school, child.visit_site, child.anchor.place):
                if place is None:
                    continue
                known = places.setdefault(place.id, place)
                if known != place:
                    problems.append(
                        f"child {child.id}: {type(place).__name__.lower()} id {place.id!r} is also "
                        f"a {type(known).__name__.lower()} at another point or of another kind"
                    )
    return problems
