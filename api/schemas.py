"""Input and output schemas of the officers' service (separate models for each direction)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


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
    unit_id: str
    structure_id: str
    child_ids: list[str]
    sibling_group_id: str | None
    places: int
    status: Literal["held", "confirmed", "cancelled", "expired"]
    created_at: datetime
    expires_at: datetime
    closed_at: datetime | None


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
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None


class JobResultOut(BaseModel):
    id: str
    result: dict[str, Any]


class HealthOut(BaseModel):
    status: Literal["ok"]
    database: str
    data_version: int


# --- rebalancing --------------------------------------------------------------------------------


class RebalancingIn(_In):
    """A planner's request for a rebalancing plan (planning.rebalance)."""

    on: date | None = Field(None, description="Date of the moves; default: the data's reference date.")
    max_moves: int | None = Field(None, ge=0, le=100_000, description="Most children moved.")
    min_gain_minutes: float = Field(0.0, ge=0, le=1_000, description="Least minutes a move must save (except to reunite a fratrie).")
    method: Literal["optimal", "greedy"] = "optimal"


class RebalancingOut(BaseModel):
    id: str
    status: Literal["queued", "running", "succeeded", "failed"]
    progress: float
    message: str
    created_at: datetime
    finished_at: datetime | None
    error: str | None
    plan: dict[str, Any] | None = Field(description="The plan once ready: moves (each with status proposed or held and "
                                                   "its reservation), chains, totals, figures before and after.")
    hidden_moves: int = Field(0, description="Moves into or out of secret places, not shown to this caller.")
