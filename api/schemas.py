"""Input and output schemas of the officers' service (separate models for each direction)."""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer, model_serializer, model_validator

from matcher.errors import DomainError


class _In(BaseModel):
    """Every write: unknown fields refused, and strict types (a capacity of "13" or true is not a
    number: numbers must be JSON numbers, flags JSON booleans)."""

    model_config = ConfigDict(extra="forbid", strict=True)


def _utc(value: Any) -> Any:
    """The store keeps naive UTC; every timestamp that leaves carries its offset."""
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


def iso_utc(value: datetime, timespec: str = "auto") -> str:
    """ISO 8601 with its offset, a naive time read as UTC: ``2026-12-02T18:11:45+00:00`` (every
    time the API and the command line print)."""
    return _utc(value).isoformat(timespec=timespec)


Timestamp = Annotated[datetime, AfterValidator(_utc), PlainSerializer(lambda d: d.isoformat(), return_type=str)]
"""An ISO 8601 timestamp with its offset (``2026-11-23T09:00:00+00:00``)."""


# --- free places ------------------------------------------------------------------------------


class FreePlace(BaseModel):
    """One unit with at least one free place (capacity - occupied - held)."""

    structure_id: str
    structure_name: str
    structure_type: str
    operator: str
    commune: str
    departement: str
    zone: str
    daily_price_eur: float
    unit_id: str
    age_min: int
    age_max: int
    sex: str
    takes_siblings: bool
    capacity: int
    occupied: int
    held: int
    free: int
    travel_minutes: float | None = Field(description="Minutes from the origin asked for; null when none or unreachable.")
    vacancies_declared_at: Timestamp | None = None
    vacancies_stale: bool = Field(False, description="Declared longer ago than the server's stale age.")


class FreePlaces(BaseModel):
    total: int = Field(description="Units that match, before limit/offset.")
    free_places: int = Field(description="Free places in the units that match.")
    data_version: int
    items: list[FreePlace]


# --- proposals --------------------------------------------------------------------------------


class ComponentOut(BaseModel):
    name: str
    quantity: float
    unit: str
    cost: float = Field(description="Minutes-equivalent (see matcher/weights.toml).")


class PlacementOut(BaseModel):
    child_id: str
    structure_id: str | None
    unit_id: str | None
    travel_minutes: float | None
    anchor: str = Field("", description="Where travel_minutes is measured from: visit_site, family_home, school or service.")
    score: float | None
    capacity_price: float | None
    moved_from: str | None = Field(None, description="The unit an already-placed child leaves (null: no move).")
    vacancies_stale: bool = Field(False, description="The unit's vacancies were declared long ago.")


class ProposalOut(BaseModel):
    own_rank: int
    system_rank: int | None = Field(description="Rank once capacity prices are added; null without prices.")
    structure_id: str
    structure_name: str
    siblings_together: bool | None = Field(
        None, description="Every sibling in one structure; absent for a single child (no fratrie to keep together).")
    structures_used: int
    own_score: float
    capacity_price: float | None
    system_score: float | None
    components: list[ComponentOut]
    rules_met: list[str] = Field(description="Hard rules every placement of the proposal passes (rule names, "
                                 "as in `matcher.rules`: age_range, needs_met, free_place...).")
    rules_met_words: list[str] = Field(description="The same rules in words, in the language of the answer.")
    placements: list[PlacementOut]
    explanation: str | None
    moves: list[str] = Field(default_factory=list, description="Each already-placed child this proposal moves, in words.")
    vacancies_stale: bool = Field(False, description="A place it uses was declared long ago (ranked below fresh "
                                  "places at an equal score).")
    warnings: list[str] = Field(default_factory=list, description="What the officer should check, in words.")
    split_reason: str | None = Field(None, description="For a fratrie not kept together: why, in words.")

    @model_serializer(mode="wrap")
    def _drop_absent(self, handler):
        data = handler(self)
        if data.get("siblings_together") is None:
            data.pop("siblings_together", None)
        return data


class ExclusionOut(BaseModel):
    rule: str
    reason: str


class UnitCheckOut(BaseModel):
    child_id: str
    unit_id: str
    exclusions: list[ExclusionOut]


class AheadOut(BaseModel):
    structure_id: str
    own_score: float


class WhyNotOut(BaseModel):
    structure_id: str
    verdict: Literal["excluded", "full", "separated", "ranked_lower", "best", "already_placed"]
    sentence: str
    rank: int | None
    checks: list[UnitCheckOut]
    ahead: list[AheadOut]


class ProposalsOut(BaseModel):
    child_ids: list[str]
    sibling_group_id: str | None
    order: Literal["own", "system"]
    data_version: int
    prices_available: bool
    prices_version: int | None = Field(
        None, description="Data version the capacity prices were computed at: older than data_version for the "
        "moments after a confirmation or a unit update while they are recomputed in the background.")
    proposals: list[ProposalOut]
    why_not: WhyNotOut | None = None


# --- reservations and units --------------------------------------------------------------------


class PlacementIn(_In):
    child_id: str = Field(min_length=1, max_length=64)
    unit_id: str | None = Field(min_length=1, max_length=64, description=(
        "The unit to hold; null (given, not left out) for a sibling the proposal leaves without a place for "
        "now: nothing is held for them. A sibling listed in the unit they live in stays there."))


class ReservationIn(_In):
    """Hold places of one unit for a child, or for every child of a sibling group; or, for a
    sibling group, places in several units at once (``placements``, as a proposal gives them):
    all held or none."""

    unit_id: str | None = Field(None, min_length=1, max_length=64)
    child_id: str | None = Field(None, min_length=1, max_length=64)
    sibling_group_id: str | None = Field(None, min_length=1, max_length=64)
    placements: list[PlacementIn] | None = Field(
        None, min_length=1, max_length=20,
        description="For a sibling group: each child's unit, as a proposal gives them (copy its placements as they "
        "are: a sibling left without a place has unit_id null, one who stays where they live may be listed there "
        "or left out). Every waiting sibling is listed.")
    hold_hours: float | None = Field(None, gt=0, le=720, description="Default: the server's PLACEMENT_HOLD_HOURS.")

    @model_validator(mode="after")
    def _one_subject(self) -> ReservationIn:
        if (self.child_id is None) == (self.sibling_group_id is None):
            raise DomainError("give exactly one of child_id and sibling_group_id",
                              fr="donnez soit child_id, soit sibling_group_id, et un seul des deux")
        if (self.unit_id is None) == (self.placements is None):
            raise DomainError("give exactly one of unit_id and placements",
                              fr="donnez soit unit_id, soit placements, et un seul des deux")
        if self.placements is not None and self.sibling_group_id is None:
            raise DomainError("placements are for a sibling group: give sibling_group_id",
                              fr="placements sert à réserver pour une fratrie : donnez sibling_group_id")
        return self


class ReservationPartOut(BaseModel):
    reservation_id: str
    unit_id: str
    structure_id: str
    child_ids: list[str]
    places: int


class ReservationOut(BaseModel):
    id: str
    created_by: str | None = Field(None, description="The account that made the hold (its holder).")
    confirmed_by: str | None = None
    cancelled_by: str | None = None
    unit_id: str
    structure_id: str
    child_ids: list[str]
    sibling_group_id: str | None
    places: int
    status: Literal["held", "confirmed", "cancelled", "expired"]
    created_at: Timestamp
    expires_at: Timestamp
    closed_at: Timestamp | None
    bundle_id: str | None = Field(None, description="A fratrie held over several units in one step: the bundle's id "
                                  "(its first reservation). Confirming or cancelling any of them does all.")
    parts: list[ReservationPartOut] = Field(default_factory=list, description="One per unit held.")


class UnitUpdate(_In):
    capacity: int | None = Field(None, ge=0, le=10_000)
    occupied: int | None = Field(None, ge=0, le=10_000)

    @model_validator(mode="after")
    def _something(self) -> UnitUpdate:
        if self.capacity is None and self.occupied is None:
            raise DomainError("give capacity, occupied or both", fr="donnez capacity, occupied ou les deux")
        return self


class UnitOut(BaseModel):
    """A unit's details: where it is, whom it takes, its places and when they were declared."""

    id: str
    structure_id: str
    structure_name: str
    structure_type: str
    age_min: int
    age_max: int
    sex: str
    needs_served: list[str] = Field(description="Needs the structure provides (disability, psychic_care...).")
    takes_siblings: bool
    capacity: int
    occupied: int
    held: int
    free: int
    vacancies_declared_at: Timestamp | None = Field(description="When the structure last declared these places.")
    vacancies_stale: bool = Field(description="Declared longer ago than the server's stale age (default 7 days).")


class UnitsOut(BaseModel):
    total: int = Field(description="Units that match, before limit/offset.")
    items: list[UnitOut]


# --- batch jobs -------------------------------------------------------------------------------


class JobIn(_In):
    method: Literal["greedy", "optimal"] = "optimal"
    time_limit_s: float = Field(10.0, gt=0, le=600)


class JobOut(BaseModel):
    id: str
    method: str
    status: Literal["queued", "running", "succeeded", "failed", "cancelled"]
    stage: str | None = Field(None, description="The stage under way: loading, building, solving, checking, summarising.")
    stages: list[str] = Field(default_factory=list, description="Every stage, in order.")
    progress: float = Field(description="Share of the whole job done (0-1); during the solve, the share of its "
                            "time limit spent.")
    message: str
    created_at: Timestamp
    started_at: Timestamp | None
    finished_at: Timestamp | None
    error: str | None


class JobsOut(BaseModel):
    total: int
    items: list[JobOut]


class JobResultOut(BaseModel):
    id: str
    result: dict[str, Any]


class HealthOut(BaseModel):
    """Minimal on purpose: no connection string, no host, no count."""

    status: Literal["ok"]
    data_version: int


# --- children ---------------------------------------------------------------------------------


class FamilyHomeOut(BaseModel):
    """Where the family lives, to the arrondissement or commune: never the address."""

    commune: str = Field(description="INSEE code of the commune (751xx: a Paris arrondissement).")
    departement: str
    arrondissement: int | None = Field(description="1-20 for a Paris home, else null.")


class WaitingChildOut(BaseModel):
    id: str
    age: int
    age_band: str
    sex: str
    urgency: str
    legal_basis: str
    needs: list[str]
    service: str | None
    waiting_since: date
    waiting_days: int
    sibling_group_id: str | None
    family_home: FamilyHomeOut | None = Field(description="Null when the child has no family home (see home_absence).")
    home_absence: str | None = Field(None, description="Why there is no family home: unknown, abroad or none.")
    held_by_reservation: str | None = Field(description="The live reservation holding a place for the child, if any.")


class WaitingChildrenOut(BaseModel):
    total: int = Field(description="Children that match, before limit/offset.")
    data_version: int
    items: list[WaitingChildOut]


class CurrentPlacementOut(BaseModel):
    unit_id: str | None = None
    structure_id: str | None = None
    structure_name: str | None = None
    commune: str | None = None
    since: date
    secret: bool = Field(False, description="A secret place: where is shown only to a protection officer.")


class SiblingOut(BaseModel):
    id: str
    age: int
    sex: str
    waiting: bool
    current_placement: CurrentPlacementOut | None


class JudgeOut(BaseModel):
    excluded_structures: list[dict[str, str]]
    excluded_departements: list[str]
    max_travel_minutes: int | None
    separated_from: list[str]


class ChildFileOut(BaseModel):
    """A child's file summary for the officer: no address, no coordinates."""

    id: str
    age: int
    age_band: str
    sex: str
    urgency: str
    legal_basis: str
    needs: list[str]
    service: str | None
    waiting: bool
    waiting_since: date
    pregnant: bool
    mother_of_young_child: bool
    sibling_group_id: str | None
    siblings_together_required: bool | None
    siblings: list[SiblingOut]
    judge: JudgeOut
    current_placement: CurrentPlacementOut | None
    family_home: FamilyHomeOut | None = Field(description="Null when the child has no family home (see home_absence).")
    home_absence: str | None = Field(None, description="Why there is no family home: unknown, abroad or none.")
    anchor: str = Field(description="Where the child's travel is measured from: visit_site, family_home, school or service.")
    school_commune: str | None = Field(None, description="INSEE code of the commune of the child's school, when known.")
    visit_site_commune: str | None = Field(None, description="Commune of the supervised-visit site, when the judge ordered them.")
    held_by_reservation: str | None
    data_version: int


class ReservationsOut(BaseModel):
    total: int
    items: list[ReservationOut]


# --- accounts ---------------------------------------------------------------------------------


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"]
    expires_in: int = Field(description="Seconds the access token is valid.")
    refresh_token: str = Field(description="Use once at POST /auth/refresh for new tokens.")


class RefreshIn(_In):
    refresh_token: str = Field(min_length=1, max_length=200)


class AccountOut(BaseModel):
    name: str
    role: str
    service: str | None
    structure_ids: list[str]
# --- rebalancing --------------------------------------------------------------------------------


class RebalancingIn(_In):
    """A planner's request for a rebalancing plan (planning.rebalance)."""

    on: date | None = Field(None, strict=False, description="Date of the moves (ISO 8601, YYYY-MM-DD); default: the data's reference date.")
    max_moves: int | None = Field(None, ge=0, le=100_000, description="Most children moved.")
    min_gain_minutes: float = Field(0.0, ge=0, le=1_000, description="Least minutes a move must save (except to reunite a fratrie).")
    method: Literal["optimal", "greedy"] = "optimal"


class RebalancingOut(BaseModel):
    id: str
    status: Literal["queued", "running", "succeeded", "failed"]
    progress: float
    message: str
    created_at: Timestamp
    finished_at: Timestamp | None
    error: str | None
    plan: dict[str, Any] | None = Field(description="The plan once ready: moves (each with status proposed or held and "
                                                   "its reservation), chains, totals, figures before and after.")
    hidden_moves: int = Field(0, description="Moves into or out of secret places, not shown to this caller.")
