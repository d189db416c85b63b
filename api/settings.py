"""Settings of the officers' service, from the environment, in one object.

``DATABASE_URL`` picks the store (default: the embedded SQLite file ``var/placement.sqlite3``);
the other variables start with ``PLACEMENT_`` (``PLACEMENT_HOLD_HOURS=24``...).
"""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from data.db.database import DEFAULT_URL

Role = Literal["officer", "protection_officer", "planner", "structure_manager"]
ROLES: tuple[str, ...] = ("officer", "protection_officer", "planner", "structure_manager")
SECRET_ROLES: frozenset[str] = frozenset({"protection_officer"})
"""Roles entitled to see secret places (protection of trafficking victims)."""
UNIT_MANAGER_ROLES: frozenset[str] = frozenset({"structure_manager", "planner"})
"""Roles that may change a unit's capacity and occupied places."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PLACEMENT_", extra="ignore", populate_by_name=True)

    database_url: str = Field(DEFAULT_URL, validation_alias=AliasChoices("DATABASE_URL", "PLACEMENT_DATABASE_URL"))
    hold_hours: float = Field(48.0, gt=0, description="How long a reservation holds a place, in hours.")
    default_role: Role = Field("officer", description="Role of a caller who sends no X-Role header.")
    travel: Literal["transit", "crowfly"] = Field(
        "transit", description="transit: public-transport minutes (data.transit); crowfly: a distance estimate."
    )
    travel_cache_dir: str | None = None
    weights_file: str | None = None
    sweep_seconds: float = Field(60.0, ge=0, description="Period of the sweep of expired holds (0: no sweep thread).")
    max_k: int = Field(50, ge=1, description="Most proposals one request may ask for.")
    scenario_dir: str = Field("var/scenarios", description="Where scenario jobs write their state and reports.")
    scenario_scheduler: str | None = Field(None, description="Dask scheduler for scenario jobs (default: a local cluster).")
    scenario_workers: int = Field(2, ge=1, description="Workers of the local Dask cluster of a scenario job.")
    scenario_processes: bool = Field(True, description="Local Dask workers as processes (False: threads, for tests).")
    stale_after_days: float = Field(7.0, gt=0, description="Vacancies declared longer ago than this are stale: "
                                    "shown as such, and ranked below fresh ones at equal score.")
    warm_on_start: bool = Field(True, description="Load the system, its travel matrix and the capacity prices before "
                                "accepting traffic (the first request then costs what the others do).")
    max_running_jobs: int = Field(1, ge=1, le=16, description="Batch jobs run at once.")
    max_queued_jobs: int = Field(4, ge=0, le=1000, description="Batch jobs waiting to run; beyond, 429 with Retry-After.")
