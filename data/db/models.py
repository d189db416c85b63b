"""Tables of the placement store (SQLAlchemy 2, typed ``Mapped`` models).

One row per domain object, plus the live state the officers' service writes: reservations
(holds on places), placements (confirmed holds), batch jobs and a ``meta`` table with two
counters: ``definitions_version`` changes when the whole system is replaced (children, homes,
structures, units as defined), ``version`` (the data version) on that and on every change of
capacities, occupancies or placements. Unit and child rows carry the data version of their last
such change (``changed_version``), so that a server holding the system at an older version
reads only what changed since (:func:`data.db.database.load_changes`).

``position`` columns keep the order of the domain tuples so that ``save_system`` then
``load_system`` gives back an equal :class:`~matcher.model.PlacementSystem`.
Lists of codes (needs, capabilities, judge's exclusions) are JSON arrays, sorted.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Times are naive UTC everywhere in the store (SQLite keeps no time zone).


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[str]: JSON}


class Meta(Base):
    """Singleton row (id 1): reference date and the data version."""

    __tablename__ = "meta"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reference_date: Mapped[date | None] = mapped_column(Date)
    version: Mapped[int] = mapped_column(Integer, default=0)
    """The data version: bumped on every change to capacities, occupancies or placements, and
    when the system is replaced."""
    definitions_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """Bumped only when the system is replaced (``save_system``): a server must then reload it
    whole; between two such changes it applies the rows whose ``changed_version`` is newer."""


class HomeRow(Base):
    __tablename__ = "homes"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    commune: Mapped[str] = mapped_column(String(10))
    departement: Mapped[str] = mapped_column(String(3))


class StructureRow(Base):
    __tablename__ = "structures"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(32), index=True)
    operator: Mapped[str] = mapped_column(String(32))
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    commune: Mapped[str] = mapped_column(String(10), index=True)
    departement: Mapped[str] = mapped_column(String(3), index=True)
    capabilities: Mapped[list[str]] = mapped_column(JSON, default=list)
    daily_price_eur: Mapped[float] = mapped_column(Float, default=0.0)
    secret: Mapped[bool] = mapped_column(Boolean, default=False)


class UnitRow(Base):
    __tablename__ = "units"
    __table_args__ = (
        CheckConstraint("capacity >= 0", name="ck_units_capacity_nonneg"),
        CheckConstraint("occupied >= 0 AND held >= 0", name="ck_units_counts_nonneg"),
        CheckConstraint("occupied + held <= capacity", name="ck_units_no_overbooking"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    structure_id: Mapped[str] = mapped_column(ForeignKey("structures.id"), index=True)
    age_min: Mapped[int] = mapped_column(Integer)
    age_max: Mapped[int] = mapped_column(Integer)
    sex: Mapped[str] = mapped_column(String(8))
    capacity: Mapped[int] = mapped_column(Integer)
    occupied: Mapped[int] = mapped_column(Integer, default=0)
    held: Mapped[int] = mapped_column(Integer, default=0)
    """Places held by live reservations (counted as taken; the atomic guard reads it)."""
    takes_siblings: Mapped[bool] = mapped_column(Boolean, default=True)
    changed_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0", index=True)
    """Data version of the last change of ``capacity`` or ``occupied`` (holds do not count)."""
    vacancies_declared_at: Mapped[datetime | None] = mapped_column(DateTime())
    """When the structure last declared this unit's places (a manager's update, or the import of
    the system): vacancies older than the server's ``stale_after_days`` are shown as stale."""


class SiblingGroupRow(Base):
    __tablename__ = "sibling_groups"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    together: Mapped[bool] = mapped_column(Boolean, default=True)


class ChildRow(Base):
    __tablename__ = "children"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    birth_date: Mapped[date] = mapped_column(Date)
    sex: Mapped[str] = mapped_column(String(1))
    home_id: Mapped[str | None] = mapped_column(ForeignKey("homes.id"), index=True)
    """Empty when the child has no family home (``home_absence`` says why)."""
    waiting_since: Mapped[date] = mapped_column(Date)
    sibling_group_id: Mapped[str | None] = mapped_column(ForeignKey("sibling_groups.id"), index=True)
    sibling_rank: Mapped[int | None] = mapped_column(Integer)
    """Order of the child in its sibling group."""
    needs: Mapped[list[str]] = mapped_column(JSON, default=list)
    legal_basis: Mapped[str] = mapped_column(String(16))
    urgency: Mapped[str] = mapped_column(String(8))
    current_unit_id: Mapped[str | None] = mapped_column(ForeignKey("units.id"), index=True)
    current_since: Mapped[date | None] = mapped_column(Date)
    judge_excluded_structures: Mapped[list[str]] = mapped_column(JSON, default=list)
    judge_excluded_departements: Mapped[list[str]] = mapped_column(JSON, default=list)
    judge_max_travel_minutes: Mapped[float | None] = mapped_column(Float)
    judge_separated_from: Mapped[list[str]] = mapped_column(JSON, default=list)
    pregnant: Mapped[bool] = mapped_column(Boolean, default=False)
    own_child_birth_date: Mapped[date | None] = mapped_column(Date)
    service: Mapped[str | None] = mapped_column(String(32), index=True)
    """The ASE service that follows the child (matcher.Service); empty in stores written before it."""
    home_absence: Mapped[str | None] = mapped_column(String(16))
    """Why there is no family home (matcher.HomeAbsence), when ``home_id`` is empty."""
    school_id: Mapped[str | None] = mapped_column(String(64))
    school_lat: Mapped[float | None] = mapped_column(Float)
    school_lon: Mapped[float | None] = mapped_column(Float)
    school_commune: Mapped[str | None] = mapped_column(String(10))
    school_departement: Mapped[str | None] = mapped_column(String(3))
    visit_site_id: Mapped[str | None] = mapped_column(String(64))
    visit_site_lat: Mapped[float | None] = mapped_column(Float)
    visit_site_lon: Mapped[float | None] = mapped_column(Float)
    visit_site_commune: Mapped[str | None] = mapped_column(String(10))
    visit_site_departement: Mapped[str | None] = mapped_column(String(3))
    judge_supervised_visits: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    own_children: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    judge_placed_away: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    """The judge placed the child away on purpose (not a rebalancing candidate)."""
    wish: Mapped[str] = mapped_column(String(16), default="none", server_default="none")
    """The child's stated wish about a move (matcher.Wish)."""
    changed_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0", index=True)
    """Data version of the last change of the current placement (a confirmation)."""


class ReservationRow(Base):
    """A hold on places of one unit for a child or a whole fratrie."""

    __tablename__ = "reservations"
    __table_args__ = (Index("ix_reservations_status_expires", "status", "expires_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.id"), index=True)
    sibling_group_id: Mapped[str | None] = mapped_column(ForeignKey("sibling_groups.id"))
    child_ids: Mapped[list[str]] = mapped_column(JSON)
    places: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    """held, confirmed, cancelled or expired."""
    created_at: Mapped[datetime] = mapped_column(DateTime())
    expires_at: Mapped[datetime] = mapped_column(DateTime())
    closed_at: Mapped[datetime | None] = mapped_column(DateTime())
    bundle_id: Mapped[str | None] = mapped_column(String(40), index=True)
    """For a fratrie held over several units in one step: the id of the bundle's first
    reservation, carried by each of them (all held, confirmed or cancelled together)."""
    service: Mapped[str | None] = mapped_column(String(32))
    """The holder's service: only it (or an administrator) may confirm or cancel."""
    created_by: Mapped[str | None] = mapped_column(String(64), index=True)
    """The account that made the hold (its holder)."""
    confirmed_by: Mapped[str | None] = mapped_column(String(64))
    cancelled_by: Mapped[str | None] = mapped_column(String(64))


class ReservationChildRow(Base):
    """Which children a reservation holds; one live hold per child (checked on hold)."""

    __tablename__ = "reservation_children"

    reservation_id: Mapped[str] = mapped_column(ForeignKey("reservations.id"), primary_key=True)
    child_id: Mapped[str] = mapped_column(ForeignKey("children.id"), primary_key=True, index=True)


class PlacementRow(Base):
    """A confirmed placement (history: a child may have several over time)."""

    __tablename__ = "placements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    child_id: Mapped[str] = mapped_column(ForeignKey("children.id"), index=True)
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.id"), index=True)
    since: Mapped[date] = mapped_column(Date)
    reservation_id: Mapped[str | None] = mapped_column(ForeignKey("reservations.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime())


class BatchJobRow(Base):
    __tablename__ = "batch_jobs"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    method: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    """queued, running, succeeded, failed or cancelled."""
    stage: Mapped[str | None] = mapped_column(String(32))
    """The stage under way (loading, building, solving, checking, summarising)."""
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    message: Mapped[str] = mapped_column(Text, default="")
    message_fr: Mapped[str | None] = mapped_column(Text)
    """The message in French (None: said in English, as a job written before migration 0008)."""
    created_at: Mapped[datetime] = mapped_column(DateTime())
    started_at: Mapped[datetime | None] = mapped_column(DateTime())
    finished_at: Mapped[datetime | None] = mapped_column(DateTime())
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    error_fr: Mapped[str | None] = mapped_column(Text)

    def said(self, lang: str) -> tuple[str, str | None]:
        """(message, error) in ``lang``: the French ones where they were written."""
        fr = lang == "fr"
        return ((self.message_fr if fr and self.message_fr else self.message),
                (self.error_fr if fr and self.error_fr else self.error))
    owner: Mapped[str | None] = mapped_column(String(64), index=True)
    """The account that started the job: only it sees the job and its result."""


class UserRow(Base):
    """An account of the officers' service (docs/SECURITY.md): a role, the service an officer
    belongs to, the structures a structure manager runs; the password as an Argon2id hash."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(32))
    service: Mapped[str | None] = mapped_column(String(32))
    structure_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime())
    token_version: Mapped[int] = mapped_column(Integer, default=0)
    """Bumped when the account is disabled or its password reset: older tokens stop working."""
    created_at: Mapped[datetime] = mapped_column(DateTime())


class RefreshTokenRow(Base):
    """A refresh token, kept as its SHA-256 digest; used once (rotated on each refresh)."""

    __tablename__ = "refresh_tokens"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime())
    used_at: Mapped[datetime | None] = mapped_column(DateTime())


class AuditRow(Base):
    """Append-only trail: who read or changed which child's record, reservation or unit, when and
    from where. Each row carries the hash of the previous one (``prev_hash``, unique) and its own
    (``hash``), so that a change, a deletion or an insertion in the middle breaks the chain
    (``data.db.audit.verify``). On PostgreSQL a trigger refuses UPDATE, DELETE and TRUNCATE; on
    SQLite triggers refuse UPDATE and DELETE (migration 0006)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(), index=True)
    actor: Mapped[str] = mapped_column(String(64), index=True)
    role: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(32))
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[str] = mapped_column(String(64), index=True)
    remote: Mapped[str] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64))
