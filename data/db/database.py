"""The placement store: one :class:`Database` per URL (SQLite file or PostgreSQL).

``Database(url)`` opens the engine; :meth:`Database.migrate` applies the Alembic migrations;
:meth:`Database.save_system` replaces everything in one transaction and
:meth:`Database.load_system` gives the same :class:`~matcher.model.PlacementSystem` back.
A server that holds the system at one data version reads what has changed since with
:func:`load_changes` (the rows :func:`bump_version` stamped), not the whole system again.

SQLite (the embedded default) runs in WAL mode with a busy timeout, and write transactions
start with ``BEGIN IMMEDIATE`` so that two writers queue instead of failing on a lock upgrade.
PostgreSQL uses psycopg 3; ``schema=`` puts every table in a named schema (the tests use one
schema per run so that they never touch each other's data).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, delete, event, func, insert, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from data.db.errors import EmptyStoreError, StoreUnavailableError
from data.db.models import (
    Base,
    BatchJobRow,
    ChildRow,
    HomeRow,
    Meta,
    PlacementRow,
    ReservationChildRow,
    ReservationRow,
    SiblingGroupRow,
    StructureRow,
    UnitRow,
)
from matcher.model import (
    Child,
    CurrentPlacement,
    Home,
    HomeAbsence,
    JudgeConstraints,
    LegalBasis,
    Location,
    Need,
    Operator,
    Place,
    PlacementSystem,
    School,
    Service,
    Sex,
    SiblingGroup,
    Structure,
    StructureType,
    Unit,
    UnitSex,
    Urgency,
    VisitSite,
    Wish,
)

DEFAULT_URL = "sqlite:///var/placement.sqlite3"
"""The embedded default: a SQLite file under ./var, created on demand."""
DEMO_URL = "sqlite:///var/demo.sqlite3"
"""The demo's own store (``placement demo``), never the one ``placement serve`` uses."""

_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

CONNECT_TIMEOUT_S = 5
"""Seconds to open a PostgreSQL connection before the store is called unavailable."""


class Database:
    """An engine, its sessions and the store's whole-system operations."""

    def __init__(self, url: str = DEFAULT_URL, *, schema: str | None = None, pool_size: int = 20,
                 max_overflow: int = 10):
        try:
            self.url = make_url(url)
            self.url.get_dialect()
        except (ArgumentError, NoSuchModuleError) as err:
            raise StoreUnavailableError(f"database URL {url!r} is not a usable SQLAlchemy URL ({err})",
                                        fr=f"l'URL de base de données {url!r} n'est pas une URL SQLAlchemy "
                                        f"utilisable ({err})") from None
        self.schema = schema
        if schema is not None and not _SCHEMA_NAME.match(schema):
            raise ValueError(f"schema name {schema!r} must be lower-case letters, digits and _")
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        if self.is_sqlite:
            self.engine = self._sqlite_engine()
        else:
            # connect_timeout: a server that does not answer fails the request within seconds
            # (503) instead of holding it, and a worker thread, for as long as the system's TCP
            # timeout (minutes), or for ever when a listener never answers.
            connect_args: dict[str, object] = {"connect_timeout": CONNECT_TIMEOUT_S}
            if schema:
                connect_args["options"] = f"-csearch_path={schema}"
            self.engine = create_engine(
                # pool_size: connections kept open. With 10, 16 concurrent requests and the audit's
                # writer went past it, and each connection past it was opened for one request and
                # closed after (PostgreSQL forks a process each time). 20 + 10 per server process.
                self.url, pool_size=pool_size, max_overflow=max_overflow, pool_pre_ping=True,
                connect_args=connect_args,
            )
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        # A request's reads on PostgreSQL: each statement in its own implicit transaction. Under
        # READ COMMITTED each statement of a transaction already sees its own snapshot, so the
        # answers are the same, without the BEGIN and ROLLBACK round trips (two of the five a
        # proposal request made). SQLite keeps its read transaction (one snapshot in WAL mode).
        self._request_read = self._read if self.is_sqlite else sessionmaker(
            self.engine.execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False)
        self._write = sessionmaker(
            self.engine.execution_options(immediate=True) if self.is_sqlite else self.engine,
            expire_on_commit=False,
        )

    def _sqlite_engine(self) -> Engine:
        database = self.url.database
        if not database or database == ":memory:":
            raise ValueError("the SQLite store needs a file (several connections share it), not :memory:")
        Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(self.url, connect_args={"timeout": 30, "check_same_thread": False},
                               pool_size=20, max_overflow=20)

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
            dbapi_connection.isolation_level = None  # transactions are begun below, not by pysqlite
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn) -> None:  # type: ignore[no-untyped-def]
            immediate = conn.get_execution_options().get("immediate", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine

    @property
    def url_for_display(self) -> str:
        """The URL with any password hidden."""
        return self.url.render_as_string(hide_password=True)

    def __repr__(self) -> str:
        return f"Database({self.url_for_display!r}, schema={self.schema!r})"

    # --- sessions ------------------------------------------------------------------------

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading (rolled back at the end)."""
        with self._read() as session:
            yield session

    def read_session(self) -> Session:
        """A session for a request's reads, which the caller closes: on PostgreSQL each
        statement commits on its own (autocommit), which READ COMMITTED makes equivalent for
        reads; never for writes, locks or server-side cursors (use :meth:`read` or :meth:`write`)."""
        return self._request_read()

    @contextmanager
    def consistent_read(self) -> Iterator[Session]:
        """A read session whose queries all see one snapshot of the store (PostgreSQL:
        REPEATABLE READ; SQLite: a read transaction in WAL mode already does). Loading the whole
        system needs it: under READ COMMITTED a confirmation committed between the units query
        and the children query shows more children placed in a unit than it has occupied."""
        if self.is_sqlite:
            with self.read() as session:
                yield session
            return
        with self.engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
            with Session(bind=conn) as session:
                try:
                    yield session
                finally:
                    session.rollback()

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session whose transaction commits at the end, or rolls back on any error.

        On SQLite it holds the write lock from the start (``BEGIN IMMEDIATE``).
        """
        with self._write() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()

    # --- schema --------------------------------------------------------------------------

    def alembic_config(self) -> Config:
        config = Config()
        config.set_main_option("script_location", str(resources.files("data").joinpath("migrations")))
        # ConfigParser interpolates %: a URL with an escaped character (a password, options) keeps it
        config.set_main_option("sqlalchemy.url", self.url.render_as_string(hide_password=False).replace("%", "%%"))
        return config

    def migrate(self) -> None:
        """Create or upgrade the tables to the latest migration (idempotent)."""
        if self.schema is not None:
            with self.engine.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"'))
        try:
            self._alembic(command.upgrade, "head")
        except OperationalError as err:
            first = str(err.orig).strip().splitlines()[0]
            raise StoreUnavailableError(f"cannot open the database {self.url_for_display}: {first}",
                                        fr=f"impossible d'ouvrir la base {self.url_for_display} : {first}") from None

    def downgrade(self, revision: str) -> None:
        """Take the tables back to an older migration (for operators and tests); a migration
        that would lose data refuses with the reason."""
        self._alembic(command.downgrade, revision)

    def _alembic(self, step, revision: str) -> None:
        """Run an Alembic step in one transaction. On SQLite, foreign keys are off while it runs
        (a migration that rebuilds a table would otherwise empty the rows that refer to it: the
        way Alembic's batch mode asks for) and checked whole before the commit."""
        config = self.alembic_config()
        with self.engine.connect() as conn:
            raw = conn.connection.driver_connection if self.is_sqlite else None
            if raw is not None:
                raw.execute("PRAGMA foreign_keys=OFF")  # outside any transaction: SQLite ignores it inside one
            try:
                with conn.begin():
                    config.attributes["connection"] = conn
                    step(config, revision)
                    if raw is not None:
                        broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                        if broken:
                            raise StoreUnavailableError(f"migration to {revision} would break {len(broken)} references")
            finally:
                if raw is not None:
                    raw.execute("PRAGMA foreign_keys=ON")

    def drop_schema(self) -> None:
        """Drop every table (and the named PostgreSQL schema). For tests and resets."""
        if self.schema is not None:
            with self.engine.begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE'))
            return
        with self.engine.begin() as conn:
            Base.metadata.drop_all(conn)
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))

    # --- whole system --------------------------------------------------------------------

    def is_empty(self) -> bool:
        with self.read() as session:
            meta = session.get(Meta, 1)
            return meta is None or meta.reference_date is None

    def version(self) -> int:
        """The data version: changes whenever capacities, occupancies or placements change."""
        with self.read() as session:
            return current_version(session)

    def versions(self) -> StoreVersion:
        with self.read() as session:
            return current_versions(session)

    def save_system(self, system: PlacementSystem, declared_at: datetime | None = None) -> None:
        """Replace everything the store holds by ``system``, in one transaction.

        Reservations and placement history of the previous system go with it; batch jobs stay.
        Every unit's vacancies count as declared at ``declared_at`` (default: now, naive UTC).
        """
        declared = declared_at or datetime.now(timezone.utc).replace(tzinfo=None)
        with self.write() as session:
            for table in (ReservationChildRow, PlacementRow, ReservationRow, ChildRow,
                          SiblingGroupRow, UnitRow, StructureRow, HomeRow):
                session.execute(delete(table))
            _insert(session, HomeRow, [_home_row(h) for h in system.homes])
            _insert(session, StructureRow, [_structure_row(i, s) for i, s in enumerate(system.structures)])
            _insert(session, UnitRow, [{**_unit_row(i, u), "vacancies_declared_at": declared}
                                       for i, u in enumerate(system.units)])
            _insert(session, SiblingGroupRow,
                    [{"id": g.id, "position": i, "together": g.together} for i, g in enumerate(system.sibling_groups)])
            rank = {cid: r for g in system.sibling_groups for r, cid in enumerate(g.child_ids)}
            _insert(session, ChildRow, [_child_row(i, c, rank.get(c.id)) for i, c in enumerate(system.children)])
            meta = session.get(Meta, 1)
            if meta is None:
                session.add(Meta(id=1, reference_date=system.reference_date, version=1, definitions_version=1))
            else:
                meta.reference_date = system.reference_date
                meta.version = meta.version + 1
                meta.definitions_version = meta.definitions_version + 1

    def officers_work(self) -> dict[str, int]:
        """What officers wrote in the store and ``save_system`` would destroy: reservations and
        confirmed placements (counts; zero for a store with no tables yet)."""
        from sqlalchemy import inspect

        with self.read() as session:
            names = set(inspect(session.connection()).get_table_names(schema=self.schema))
            if not {"reservations", "placements"} <= names:
                return {"reservations": 0, "placements": 0}
            return {"reservations": count_rows(session, ReservationRow), "placements": count_rows(session, PlacementRow)}

    def load_system(self) -> PlacementSystem:
        """The placement system the store holds (raises EmptyStoreError when there is none)."""
        with self.read() as session:
            return load_system(session)


@dataclass(frozen=True, slots=True)
class StoreVersion:
    """The store's two counters (``meta``): ``definitions`` changes when the whole system is
    replaced, ``data`` on that and on every change of capacities, occupancies or placements."""

    definitions: int
    data: int


def current_version(session: Session) -> int:
    version = session.connection().scalar(select(Meta.version).where(Meta.id == 1))
    return int(version or 0)


def current_versions(session: Session) -> StoreVersion:
    row = session.execute(select(Meta.definitions_version, Meta.version).where(Meta.id == 1)).first()
    return StoreVersion(0, 0) if row is None else StoreVersion(int(row[0] or 0), int(row[1] or 0))


def bump_version(session: Session, *, units: Iterable[str] = (), children: Iterable[str] = ()) -> int:
    """Mark a change of capacities, occupancies or placements, inside the caller's transaction:
    the data version goes up by one and the ``units`` and ``children`` rows named (those whose
    capacity, occupied or current placement changed) carry it in ``changed_version``, so that
    :func:`load_changes` finds them. Returns the new version.

    Every writer takes the meta row's lock here and keeps it until its commit, so versions
    commit in their order: a reader that sees version v sees every change stamped up to v.
    """
    session.flush()  # the caller's pending ORM changes go first
    version = int(session.execute(
        update(Meta).where(Meta.id == 1).values(version=Meta.version + 1).returning(Meta.version)
    ).scalar_one())
    unit_ids, child_ids = sorted(set(units)), sorted(set(children))
    if unit_ids:
        session.execute(update(UnitRow).where(UnitRow.id.in_(unit_ids)).values(changed_version=version))
    if child_ids:
        session.execute(update(ChildRow).where(ChildRow.id.in_(child_ids)).values(changed_version=version))
    return version


@dataclass(frozen=True)
class Changes:
    """What changed in the store after one data version and up to another, within the same
    definitions: units with a new capacity or occupancy, children with a new current placement,
    as domain values read the way :func:`load_system` reads them."""

    since: int
    version: StoreVersion
    units: tuple[Unit, ...]
    children: tuple[Child, ...]
    declared: dict[str, datetime | None] = field(default_factory=dict)
    """When the changed units' vacancies were last declared."""


def load_changes(session: Session, since: int) -> Changes:
    """The unit and child rows changed after data version ``since`` (two indexed queries). Run
    it in a session that sees one snapshot (:meth:`Database.consistent_read`), and only for a
    system loaded at the same ``definitions`` version: otherwise load the whole system again."""
    version = current_versions(session)
    unit_rows = session.execute(
        select(UnitRow.__table__).where(UnitRow.changed_version > since).order_by(UnitRow.position)).all()
    units = tuple(_unit(u) for u in unit_rows)
    child_rows = session.execute(
        select(ChildRow.__table__).where(ChildRow.changed_version > since).order_by(ChildRow.position)).all()
    home_ids = sorted({c.home_id for c in child_rows if c.home_id is not None})
    homes = {h.id: _home(h) for h in session.execute(select(HomeRow.__table__).where(HomeRow.id.in_(home_ids)))} \
        if home_ids else {}
    children = tuple(_child(c, homes.get(c.home_id)) for c in child_rows)
    return Changes(since, version, units, children, {u.id: u.vacancies_declared_at for u in unit_rows})


def load_declared(session: Session, since: int | None = None) -> dict[str, datetime | None]:
    """When each unit's vacancies were last declared (all units, or those changed after data
    version ``since``)."""
    query = select(UnitRow.id, UnitRow.vacancies_declared_at)
    if since is not None:
        query = query.where(UnitRow.changed_version > since)
    return {uid: at for uid, at in session.execute(query)}


def load_system(session: Session) -> PlacementSystem:
    # Plain rows (Core), not ORM objects: the whole system is large (51,000 children at scale 10).
    meta = session.get(Meta, 1)
    if meta is None or meta.reference_date is None:
        raise EmptyStoreError("the store holds no placement system yet: save one first (placement serve does)",
                              fr="la base ne contient encore aucun système de placement : enregistrez-en un "
                              "d'abord (placement serve le fait)")
    homes = {h.id: _home(h) for h in session.execute(select(HomeRow.__table__))}
    structures = tuple(
        Structure(
            id=s.id, name=s.name, type=StructureType(s.type), operator=Operator(s.operator),
            location=Location(s.lat, s.lon, s.commune, s.departement),
            capabilities=frozenset(Need(n) for n in s.capabilities),
            daily_price_eur=s.daily_price_eur, secret=s.secret,
        )
        for s in session.execute(select(StructureRow.__table__).order_by(StructureRow.position))
    )
    units = tuple(_unit(u) for u in session.execute(select(UnitRow.__table__).order_by(UnitRow.position)))
    child_rows = session.execute(select(ChildRow.__table__).order_by(ChildRow.position)).all()
    members: dict[str, list[tuple[int, str]]] = {}
    for c in child_rows:
        if c.sibling_group_id is not None:
            members.setdefault(c.sibling_group_id, []).append((c.sibling_rank or 0, c.id))
    groups = tuple(
        SiblingGroup(g.id, tuple(cid for _, cid in sorted(members.get(g.id, []))), g.together)
        for g in session.execute(select(SiblingGroupRow.__table__).order_by(SiblingGroupRow.position))
    )
    children = tuple(_child(c, homes.get(c.home_id)) for c in child_rows)
    return PlacementSystem(meta.reference_date, children, groups, structures, units)


def count_rows(session: Session, model: type[Base]) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


# --- row <-> domain -----------------------------------------------------------------------


def _insert(session: Session, model: type[Base], rows: list[dict]) -> None:
    chunk = 5000
    for start in range(0, len(rows), chunk):
        session.execute(insert(model), rows[start:start + chunk])


def _home_row(h: Home) -> dict:
    loc = h.location
    return {"id": h.id, "lat": loc.lat, "lon": loc.lon, "commune": loc.commune, "departement": loc.departement}


def _structure_row(i: int, s: Structure) -> dict:
    loc = s.location
    return {
        "id": s.id, "position": i, "name": s.name, "type": s.type.value, "operator": s.operator.value,
        "lat": loc.lat, "lon": loc.lon, "commune": loc.commune, "departement": loc.departement,
        "capabilities": sorted(n.value for n in s.capabilities), "daily_price_eur": s.daily_price_eur,
        "secret": s.secret,
    }


def _unit_row(i: int, u: Unit) -> dict:
    return {
        "id": u.id, "position": i, "structure_id": u.structure_id, "age_min": u.age_min, "age_max": u.age_max,
        "sex": u.sex.value, "capacity": u.capacity, "occupied": u.occupied, "held": 0,
        "takes_siblings": u.takes_siblings,
    }


def _child_row(i: int, c: Child, rank: int | None) -> dict:
    return {
        "id": c.id, "position": i, "birth_date": c.birth_date, "sex": c.sex.value,
        "home_id": c.home.id if c.home is not None else None,
        "home_absence": c.home_absence.value if c.home_absence is not None else None,
        "waiting_since": c.waiting_since, "sibling_group_id": c.sibling_group_id, "sibling_rank": rank,
        "needs": sorted(n.value for n in c.needs), "legal_basis": c.legal_basis.value,
        "urgency": c.urgency.value,
        "current_unit_id": c.current.unit_id if c.current else None,
        "current_since": c.current.since if c.current else None,
        "judge_excluded_structures": sorted(c.judge.excluded_structures),
        "judge_excluded_departements": sorted(c.judge.excluded_departements),
        "judge_max_travel_minutes": c.judge.max_travel_minutes,
        "judge_separated_from": sorted(c.judge.separated_from),
        "pregnant": c.pregnant, "own_child_birth_date": c.own_child_birth_date,
        "service": c.service.value,
        **_place_columns("school", c.school), **_place_columns("visit_site", c.visit_site),
        "judge_supervised_visits": c.judge.supervised_visits, "own_children": c.own_children,
        "judge_placed_away": c.judge.placed_away, "wish": c.wish.value,
    }


def _place_columns(prefix: str, place: Place | None) -> dict:
    loc = place.location if place is not None else None
    return {
        f"{prefix}_id": place.id if place is not None else None,
        f"{prefix}_lat": loc.lat if loc else None, f"{prefix}_lon": loc.lon if loc else None,
        f"{prefix}_commune": loc.commune if loc else None, f"{prefix}_departement": loc.departement if loc else None,
    }


def _place(kind: type[Place], row, prefix: str) -> Place | None:
    pid = getattr(row, f"{prefix}_id")
    if not pid:
        return None
    return kind(pid, Location(getattr(row, f"{prefix}_lat"), getattr(row, f"{prefix}_lon"),
                              getattr(row, f"{prefix}_commune"), getattr(row, f"{prefix}_departement")))


_SEX = {e.value: e for e in Sex}
_NEED = {e.value: e for e in Need}
_LEGAL = {e.value: e for e in LegalBasis}
_URGENCY = {e.value: e for e in Urgency}
_SERVICE = {e.value: e for e in Service}
_WISH = {e.value: e for e in Wish}
_ABSENCE = {e.value: e for e in HomeAbsence}
_UNIT_SEX = {e.value: e for e in UnitSex}
"""Enum members by value: a dict look-up instead of ``Enum(value)`` (the reload after each
confirmation converts every child's fields)."""


def _home(h) -> Home:
    return Home(h.id, Location(h.lat, h.lon, h.commune, h.departement))


def _unit(u) -> Unit:
    return Unit(u.id, u.structure_id, u.age_min, u.age_max, _UNIT_SEX[u.sex], u.capacity, u.occupied, u.takes_siblings)


def _child(c, home: Home | None) -> Child:
    current = CurrentPlacement(c.current_unit_id, c.current_since) if c.current_unit_id and c.current_since else None
    return Child(
        id=c.id, birth_date=c.birth_date, sex=_SEX[c.sex], home=home, waiting_since=c.waiting_since,
        sibling_group_id=c.sibling_group_id, needs=frozenset(_NEED[n] for n in c.needs),
        legal_basis=_LEGAL[c.legal_basis], urgency=_URGENCY[c.urgency], current=current,
        judge=JudgeConstraints(
            excluded_structures=frozenset(c.judge_excluded_structures),
            excluded_departements=frozenset(c.judge_excluded_departements),
            max_travel_minutes=c.judge_max_travel_minutes,
            separated_from=frozenset(c.judge_separated_from),
            supervised_visits=bool(c.judge_supervised_visits),
            placed_away=bool(c.judge_placed_away),
        ),
        pregnant=c.pregnant, own_child_birth_date=c.own_child_birth_date,
        service=_SERVICE[c.service] if c.service else None,
        home_absence=_ABSENCE[c.home_absence] if c.home_absence else None,
        school=_place(School, c, "school"), visit_site=_place(VisitSite, c, "visit_site"),
        own_children=c.own_children or 0,
        wish=_WISH.get(c.wish or "none", Wish.NONE),
    )


__all__ = ["DEFAULT_URL", "BatchJobRow", "Changes", "Database", "StoreVersion", "bump_version", "current_version",
           "current_versions", "load_changes", "load_system"]
