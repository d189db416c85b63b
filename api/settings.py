"""Settings of the officers' service, from the environment, in one object.

``DATABASE_URL`` picks the store (default: the embedded SQLite file ``var/placement.sqlite3``);
the other variables start with ``PLACEMENT_`` (``PLACEMENT_HOLD_HOURS=24``...).

The key that signs access tokens comes from ``PLACEMENT_SECRET_KEY`` or, when it is not set,
from the file ``secret.key`` in ``PLACEMENT_DATA_DIR`` (default ``var``), generated there on
first use (mode 0600). There is no default key.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from data.db.accounts import ROLES
from data.db.database import DEFAULT_URL

__all__ = ["ROLES", "SECRET_ROLES", "UNIT_MANAGER_ROLES", "Settings"]

SECRET_ROLES: frozenset[str] = frozenset({"protection_officer"})
"""Roles that see every secret place (a structure manager sees the secret ones they run)."""
UNIT_MANAGER_ROLES: frozenset[str] = frozenset({"structure_manager"})
"""Roles that change a unit's capacity and occupied places (their own structures' units)."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PLACEMENT_", extra="ignore", populate_by_name=True)

    database_url: str = Field(DEFAULT_URL, validation_alias=AliasChoices("DATABASE_URL", "PLACEMENT_DATABASE_URL"))
    hold_hours: float = Field(48.0, gt=0, description="How long a reservation holds a place, in hours.")
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
    # --- accounts (docs/SECURITY.md) ---
    data_dir: str = Field("var", description="Where the generated signing key is kept (secret.key).")
    secret_key: str | None = Field(None, min_length=32, repr=False,
                                   description="Key signing the access tokens; generated into data_dir when absent.")
    access_token_minutes: float = Field(15.0, gt=0, le=60, description="Lifetime of an access token.")
    refresh_token_hours: float = Field(12.0, gt=0, le=24 * 7, description="Lifetime of a refresh token.")
    max_failed_logins: int = Field(5, ge=1, description="Failed sign-ins in a row that lock an account.")
    lockout_minutes: float = Field(15.0, gt=0, description="How long a locked account stays locked.")
    argon2_time_cost: int = Field(3, ge=1)
    argon2_memory_kib: int = Field(65536, ge=8)
    argon2_parallelism: int = Field(4, ge=1)
    retry_after_s: int = Field(5, ge=1, description="Retry-After of a 503 while the database is unreachable.")
    # --- test hook (fault-injection tests only; never set in service) ---
    fault_pause_at: Literal["confirm", "hold", "apply"] | None = Field(
        None, description="Test hook: sleep inside this write transaction, after its writes, before its commit.")
    fault_pause_s: float = Field(0.0, ge=0)
