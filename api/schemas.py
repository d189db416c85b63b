"""Input and output schemas of the officers' service (separate models for each direction)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

UtcDateTime = Annotated[datetime, AfterValidator(lambda d: d if d.tzinfo else d.replace(tzinfo=timezone.utc))]
"""A time in UTC with its offset (RFC 3339 date-time): the store keeps naive UTC."""


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


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
    score: float | None
    capacity_price: float | None


class ProposalOut(BaseModel):
    own_rank: int
    system_rank: int | None = Field(description="Rank once capacity prices are added; null without prices.")
    structure_id: str
    structure_name: str
    siblings_together: bool
    structures_used: int
    own_score: float
    capacity_price: float | None
    system_score: float | None
    components: list[ComponentOut]
    rules_met: list[str] = Field(description="Hard rules every placement of the proposal passes.")
    placements: list[PlacementOut]
    explanation: str | None


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
    verdict: Literal["excluded", "full", "separated", "ranked_lower", "best"]
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


class ReservationIn(_In):
    """Hold places of one unit for a child, or for every child of a sibling group."""

    unit_id: str = Field(min_length=1, max_length=64)
    child_id: str | None = Field(None, min_length=1, max_length=64)
    sibling_group_id: str | None = Field(None, min_length=1, max_length=64)
    hold_hours: float | None = Field(None, gt=0, le=720, description="Default: the server's PLACEMENT_HOLD_HOURS.")

    @model_validator(mode="after")
    def _one_subject(self) -> ReservationIn:
        if (self.child_id is None) == (self.sibling_group_id is None):
            raise ValueError("give exactly one of child_id and sibling_group_id")
        return self


class ReservationOut(BaseModel):
    id: str
    created_by: str | None = None
    confirmed_by: str | None = None
    cancelled_by: str | None = None
    unit_id: str
    structure_id: str
    child_ids: list[str]
    sibling_group_id: str | None
    places: int
    status: Literal["held", "confirmed", "cancelled", "expired"]
    created_at: UtcDateTime
    expires_at: UtcDateTime
    closed_at: UtcDateTime | None


class UnitUpdate(_In):
    capacity: int | None = Field(None, ge=0, le=10_000)
    occupied: int | None = Field(None, ge=0, le=10_000)

    @model_validator(mode="after")
    def _something(self) -> UnitUpdate:
        if self.capacity is None and self.occupied is None:
            raise ValueError("give capacity, occupied or both")
        return self


class UnitOut(BaseModel):
    id: str
    structure_id: str
    capacity: int
    occupied: int
    held: int
    free: int


# --- batch jobs -------------------------------------------------------------------------------


class JobIn(_In):
    method: Literal["greedy", "optimal"] = "optimal"
    time_limit_s: float = Field(10.0, gt=0, le=600)


class JobOut(BaseModel):
    id: str
    method: str
    status: Literal["queued", "running", "succeeded", "failed"]
    progress: float
    message: str
    created_at: UtcDateTime
    started_at: UtcDateTime | None
    finished_at: UtcDateTime | None
    error: str | None


class JobResultOut(BaseModel):
    id: str
    result: dict[str, Any]


class HealthOut(BaseModel):
    """Minimal on purpose: no connection string, no host, no count."""

    status: Literal["ok"]
    data_version: int


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
