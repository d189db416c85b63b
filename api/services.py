"""Services the app holds (one set per ``create_app``, never module-level): the loaded system
kept at the store's latest data version (loaded whole once, then brought up to date from the
rows each change touched), travel times, capacity prices (per data version, recomputed in the
background after a change), the batch-job runner and the sweep of expired holds. Routers reach
them through :mod:`api.deps`, so tests can swap any of them.
"""

from __future__ import annotations

import gc
import hashlib
import logging
import math
import sys
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import numpy as np
from sqlalchemy.orm import Session

from api.scenario_jobs import ScenarioJobService
from api.settings import Settings
from data.db import Database
from data.db import audit
from data.db import repository as repo
from data.db.errors import ConflictError
from data.db.database import Changes, current_version, current_versions, load_changes, load_declared, load_system
from matcher.errors import PlacementError
from matcher.model import Home, PlacementSystem, Structure
from matcher.proposals import SystemIndex
from matcher.scoring import Weights
from matcher.travel import TravelMatrix
from matcher.words import Said, failure_words, job_status_fr

log = logging.getLogger(__name__)


def _safe(exc: BaseException | None) -> str:
    """An error for the logs without its message (``api.privacy.safe_traceback``)."""
    from api.privacy import safe_traceback

    return safe_traceback(exc) if exc is not None else "unknown error"


class ServiceUnavailable(PlacementError):
    """A capability the request needs is not available on this server (a 503 for the API)."""


# --- travel times -----------------------------------------------------------------------------


class TravelSource(Protocol):
    """Where travel minutes come from."""

    name: str

    def matrix(self, homes: tuple[Home, ...], structures: tuple[Structure, ...]) -> TravelMatrix: ...

    def minutes_from(self, lat: float, lon: float, structures: tuple[Structure, ...]) -> np.ndarray: ...


@dataclass(frozen=True)
class CrowFlyTravel:
    """An estimate without a network: great-circle distance at ``speed_kmh`` plus a fixed
    ``access_minutes`` (walk, wait). Used by the tests, and by the server only when asked
    (``PLACEMENT_TRAVEL=crowfly``); the real figures come from :class:`TransitTravel`."""

    speed_kmh: float = 20.0
    access_minutes: float = 10.0
    name: str = "crowfly"

    def _minutes(self, lat: np.ndarray, lon: np.ndarray, s_lat: np.ndarray, s_lon: np.ndarray) -> np.ndarray:
        r = 6371.0
        p1, p2 = np.radians(lat)[:, None], np.radians(s_lat)[None, :]
        dphi = p2 - p1
        dl = np.radians(s_lon)[None, :] - np.radians(lon)[:, None]
        a = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
        km = 2 * r * np.arcsin(np.sqrt(np.clip(a, 0, 1)))
        return (self.access_minutes + km / self.speed_kmh * 60.0).astype(np.float32)

    def matrix(self, homes: tuple[Home, ...], structures: tuple[Structure, ...]) -> TravelMatrix:
        lat = np.array([h.location.lat for h in homes], dtype=float)
        lon = np.array([h.location.lon for h in homes], dtype=float)
        s_lat = np.array([s.location.lat for s in structures], dtype=float)
        s_lon = np.array([s.location.lon for s in structures], dtype=float)
        minutes = self._minutes(lat, lon, s_lat, s_lon) if homes and structures else np.zeros((len(homes), len(structures)), np.float32)
        return TravelMatrix.from_homes(tuple(h.id for h in homes), tuple(s.id for s in structures), minutes)

    def minutes_from(self, lat: float, lon: float, structures: tuple[Structure, ...]) -> np.ndarray:
        s_lat = np.array([s.location.lat for s in structures], dtype=float)
        s_lon = np.array([s.location.lon for s in structures], dtype=float)
        return self._minutes(np.array([lat]), np.array([lon]), s_lat, s_lon)[0]


@dataclass
class TransitTravel:
    """Public-transport minutes from :mod:`data.transit` (loaded once, cached on disk)."""

    cache_dir: str | None = None
    name: str = "transit"
    _network: Any = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def matrix(self, homes: tuple[Home, ...], structures: tuple[Structure, ...]) -> TravelMatrix:
        from data.transit import travel_matrix

        return travel_matrix(homes, structures, cache_dir=self.cache_dir)

    def minutes_from(self, lat: float, lon: float, structures: tuple[Structure, ...]) -> np.ndarray:
        from data.transit import TransitNetwork

        with self._lock:
            if self._network is None:
                self._network = TransitNetwork.load()
        dest = np.array([[s.location.lat, s.location.lon] for s in structures], dtype=float)
        return np.asarray(self._network.minutes_matrix(np.array([[lat, lon]]), dest), dtype=np.float32)[0]


def travel_source(settings: Settings) -> TravelSource:
    if settings.travel == "crowfly":
        return CrowFlyTravel()
    return TransitTravel(cache_dir=settings.travel_cache_dir)


# --- the loaded system, per data version ------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Snapshot:
    """The placement system at one data version, with its travel matrix and index."""

    definitions: int
    """The store's definitions version the system was loaded at (see :class:`StoreVersion`)."""
    version: int
    """The data version the system stands at."""
    system: PlacementSystem
    travel: TravelMatrix
    index: SystemIndex
    memo: dict[str, Any] = field(default_factory=dict)
    """Derived arrays computed once per snapshot by the routers that need them."""
    declared: Mapping[str, datetime | None] = field(default_factory=dict)
    """When each unit's vacancies were last declared (naive UTC; None: never)."""

    def stale_units(self, now: datetime, max_age: timedelta) -> frozenset[str]:
        """Units whose vacancies were declared longer than ``max_age`` before ``now`` (or never).
        Memoised per minute of the cut-off: the snapshot's declared times do not change."""
        cutoff = (now - max_age).replace(second=0, microsecond=0)
        memo = self.memo.get("stale")
        if memo is None or memo[0] != cutoff:  # only the latest minute is kept
            memo = (cutoff, frozenset(u for u, at in self.declared.items() if at is None or at < cutoff))
            self.memo["stale"] = memo
        return memo[1]

    def with_changes(self, changes: Changes) -> Snapshot:
        """This snapshot brought to ``changes.version``: the changed units and children replaced
        in the system and in the index; the travel matrix (homes and structures) is the same; the
        memo starts empty (what it holds may depend on occupancy)."""
        system = self.system.with_changes(changes.units, changes.children)
        index = self.index.with_changes(system, (u.id for u in changes.units), (c.id for c in changes.children))
        return Snapshot(self.definitions, changes.version.data, system, self.travel, index,
                        declared={**self.declared, **changes.declared})


class SystemService:
    """The system at the store's latest data version, held in memory (load once, compute many).

    Loaded whole at the first request and whenever the store's definitions change (the system
    was replaced: :meth:`Database.save_system`). A confirmation or a unit update changes only
    occupancy, capacity and current placements: the data version moves within the same
    definitions and the next request brings the snapshot up to date from the rows changed since
    (:func:`load_changes`, two indexed queries) instead of reloading 51,000 children.
    ``full_loads`` and ``refreshes`` count each kind.
    """

    def __init__(self, travel: TravelSource, consistent: Callable[[], AbstractContextManager[Session]] | None = None):
        self.travel_source = travel
        self.consistent = consistent
        """Opens a session that sees one snapshot of the store, to load the system from (the
        request's own session otherwise)."""
        self._snapshot: Snapshot | None = None
        self._travel_key: str | None = None
        self._travel: TravelMatrix | None = None
        self._lock = threading.Lock()
        self.full_loads = 0
        self.refreshes = 0

    def at_least(self, version: int) -> Snapshot | None:
        """The snapshot held if it stands at ``version`` or later (no I/O), else None."""
        snap = self._snapshot
        return snap if snap is not None and snap.version >= version else None

    def snapshot(self, session: Session) -> Snapshot:
        """The snapshot at the data version ``session`` sees, or a newer one."""
        version = current_version(session)
        snap = self._snapshot
        if snap is not None and snap.version >= version:
            return snap
        if self.consistent is not None:
            # End the request's read transaction first: its pooled connection goes back while this
            # request waits for the lock and loads on a connection of its own (otherwise requests
            # waiting here hold every connection and the loader cannot get one).
            session.rollback()
        with self._lock:
            snap = self._snapshot
            if snap is not None and snap.version >= version:
                return snap
            if self.consistent is not None:
                with self.consistent() as whole:
                    snap = self._load(whole, snap)
            else:
                snap = self._load(session, snap)
            self._snapshot = snap
            return snap

    def _load(self, session: Session, cached: Snapshot | None) -> Snapshot:
        """Up to date from ``cached`` if the definitions are the same, whole otherwise (``session``
        sees one snapshot of the store)."""
        versions = current_versions(session)
        if cached is not None and cached.definitions == versions.definitions:
            if cached.version >= versions.data:
                return cached
            self.refreshes += 1
            return cached.with_changes(load_changes(session, since=cached.version))
        system = load_system(session)
        travel = self._matrix(system)
        self.full_loads += 1
        snap = Snapshot(versions.definitions, versions.data, system, travel, SystemIndex.build(system, travel),
                        declared=load_declared(session))
        # The system lives until the next full load: keep its objects out of the cyclic garbage
        # collector's sight (reference counting still frees them). At scale 10 a full collection
        # otherwise walks millions of objects every few hundred requests, a 0.4-0.5 s pause.
        gc.freeze()
        return snap

    def _matrix(self, system: PlacementSystem) -> TravelMatrix:
        digest = hashlib.sha256()
        for h in system.origins:
            digest.update(f"{h.id}|{h.location.lat}|{h.location.lon};".encode())
        for s in system.structures:
            digest.update(f"{s.id}|{s.location.lat}|{s.location.lon};".encode())
        key = digest.hexdigest()
        if key != self._travel_key or self._travel is None:
            self._travel = self.travel_source.matrix(system.origins, system.structures)
            self._travel_key = key
        return self._travel


# --- capacity prices --------------------------------------------------------------------------

PriceFunction = Callable[[PlacementSystem, TravelMatrix, Weights], Mapping[str, float]]


def solver_capacity_prices(system: PlacementSystem, travel: TravelMatrix, weights: Weights) -> Mapping[str, float]:
    """Dual price of one place per unit (minutes-equivalent) from the batch model's relaxation
    over the children waiting (:func:`solver.duals.capacity_prices`)."""
    try:
        from solver.duals import capacity_prices
        from solver.problem import Problem
    except ImportError as err:
        raise ServiceUnavailable(f"the system-aware ordering needs solver.duals, which is not available: {err}",
                                 fr=f"l'ordre qui tient compte du système demande solver.duals, qui n'est pas "
                                 f"disponible : {err}") from None
    return capacity_prices(Problem.build(system, travel, weights, "waiting"))


@dataclass(frozen=True)
class Prices:
    """Capacity prices per unit id (minutes-equivalent) and the versions they were computed at."""

    values: Mapping[str, float]
    definitions: int
    version: int
    """The data version of the snapshot they were computed on (may be older than the request's)."""


class PriceService:
    """Capacity prices, computed at most once per data version and shared by every request;
    stale but labelled after a change of occupancy.

    With no prices yet for the store's definitions (the first request, or the system was
    replaced), the request waits for them. After a confirmation or a unit update (a newer data
    version, same definitions), requests get the prices of the older version at once, labelled
    with that version (:attr:`Prices.version`), while one recomputation on the newest snapshot
    runs in the background (seconds at scale 10: no request waits for it). At most one runs at a
    time; a change made during it is taken up by the next request after it.
    """

    def __init__(self, compute: PriceFunction = solver_capacity_prices):
        self.compute = compute
        self._latest: Prices | None = None
        self._computing = threading.Lock()
        """Held while prices are computed (one computation at a time)."""
        self._state = threading.Lock()
        self._background: Future | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="capacity-prices")
        self.computations = 0

    def prices(self, snapshot: Snapshot, weights: Weights) -> Prices:
        latest = self._latest
        if latest is None or latest.definitions != snapshot.definitions:
            with self._computing:
                latest = self._latest
                if latest is None or latest.definitions != snapshot.definitions:
                    return self._compute(snapshot, weights)
        if latest.version < snapshot.version:
            self._refresh_in_background(snapshot, weights)
        return latest

    def _compute(self, snapshot: Snapshot, weights: Weights) -> Prices:
        """Compute the prices of ``snapshot`` (the caller holds ``_computing``) and keep them
        unless newer ones are kept already."""
        try:
            values = dict(self.compute(snapshot.system, snapshot.travel, weights))
        except ServiceUnavailable:
            raise
        except PlacementError as err:  # a solver failure (solver.lp.SolverError...) is not the client's fault
            raise ServiceUnavailable(f"the capacity prices could not be computed: {err}",
                                     fr=f"les prix de capacité n'ont pas pu être calculés : {err}") from err
        bad = [u for u, p in values.items() if not math.isfinite(p)]
        if bad:
            raise ServiceUnavailable(f"capacity prices are not finite for unit(s) {', '.join(bad[:5])}",
                                     fr=f"les prix de capacité ne sont pas finis pour les unités {', '.join(bad[:5])}")
        prices = Prices(values, snapshot.definitions, snapshot.version)
        self.computations += 1
        latest = self._latest
        if latest is None or latest.definitions != prices.definitions or latest.version < prices.version:
            self._latest = prices
        return prices

    def _refresh_in_background(self, snapshot: Snapshot, weights: Weights) -> None:
        with self._state:
            if self._background is not None and not self._background.done():
                return
            self._background = self._executor.submit(self._refresh, snapshot, weights)

    def _refresh(self, snapshot: Snapshot, weights: Weights) -> None:
        with self._computing:
            latest = self._latest
            if latest is not None and latest.definitions == snapshot.definitions and latest.version >= snapshot.version:
                return
            try:
                self._compute(snapshot, weights)
            except Exception:  # the stale prices stay; the next request tries again
                log.error("background computation of the capacity prices at version %s failed: %s", snapshot.version,
                          _safe(sys.exc_info()[1]))

    def wait(self, timeout: float | None = None) -> None:
        """Wait for the background computation under way, if any (tests, shutdown)."""
        with self._state:
            running = self._background
        if running is not None:
            running.result(timeout)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)


# --- batch jobs -------------------------------------------------------------------------------

JobRunner = Callable[[PlacementSystem, TravelMatrix, Weights, str, float, Callable[..., None]], dict[str, Any]]

JOB_STAGES: tuple[str, ...] = ("loading", "building", "solving", "checking", "summarising")
"""The stages of a batch job, in order; ``progress`` is the share of the whole job done."""


class JobCancelled(PlacementError):
    """Raised inside a job at its next progress report once the caller asked to cancel it."""


class JobQueueFull(PlacementError):
    """Every worker is busy and the queue is full (a 429 with Retry-After)."""

    def __init__(self, message: str, retry_after: int, *, fr: str | None = None):
        super().__init__(message, fr=fr)
        self.retry_after = retry_after


def solver_job(system: PlacementSystem, travel: TravelMatrix, weights: Weights, method: str,
               time_limit_s: float, progress: Callable[..., None]) -> dict[str, Any]:
    """Run the batch optimiser (solver.greedy or solver.optimal) over the children waiting,
    reporting each stage; while the optimiser runs, the share of its time limit spent (a real
    bound on how long is left). The answer passes the hard-rule guard before it is kept."""
    from solver.problem import Problem
    from solver.solution import require_valid_solution

    progress(0.1, Said("building the problem", "construction du problème"), stage="building")
    problem = Problem.build(system, travel, weights, "waiting")
    progress(0.3, Said(f"solving ({method})", f"résolution ({method})"), stage="solving")
    stop = threading.Event()

    def tick() -> None:
        began = time.monotonic()
        while not stop.wait(0.5):
            spent = time.monotonic() - began
            try:
                progress(0.3 + 0.55 * min(spent / max(time_limit_s, 1e-9), 1.0),
                         Said(f"solving ({method}): {spent:.0f} s of at most {time_limit_s:.0f} s",
                              f"résolution ({method}) : {spent:.0f} s sur {time_limit_s:.0f} s au plus"), stage="solving")
            except JobCancelled:
                return  # the job stops at its next stage

    ticker = threading.Thread(target=tick, name="batch-job-progress", daemon=True)
    if method != "greedy":
        ticker.start()
    try:
        if method == "greedy":
            from solver.greedy import solve_greedy

            solution = solve_greedy(problem)
        else:
            try:
                from solver.optimal import SolverSettings, solve_optimal
            except ImportError as err:
                raise ServiceUnavailable(f"the optimal method is not available: {err}",
                                         fr=f"la méthode optimale n'est pas disponible : {err}") from None
            solution = solve_optimal(problem, SolverSettings(time_limit_s=time_limit_s))
    finally:
        stop.set()
        if ticker.is_alive():
            ticker.join(timeout=5)
    progress(0.88, Said("checking every hard rule", "vérification de chaque règle stricte"), stage="checking")
    require_valid_solution(problem, solution, f"batch job ({method})", f"traitement par lots ({method})")
    progress(0.93, Said("summarising", "synthèse"), stage="summarising")
    return {
        "method": solution.method,
        "objective": solution.objective,
        "bound": solution.bound,
        "gap": solution.gap,
        "wall_seconds": solution.wall_seconds,
        "summary": solution.summary(problem).to_dict(),
        "splits": [s.to_dict() for s in solution.splits],
        "bound_source": solution.bound_source,
        "warnings": list(solution.warnings),
        "assignment": dict(solution.unit_of_child),
    }


class JobService:
    """Runs batch jobs, up to ``workers`` at once, with at most ``max_queued`` waiting (beyond:
    :class:`JobQueueFull`); a job can be cancelled (queued: at once; running: at its next
    progress report). State and results live in the store (batch_jobs)."""

    def __init__(self, db: Database, systems: SystemService, weights: Weights, clock: Callable[[], datetime],
                 runner: JobRunner = solver_job, workers: int = 1, max_queued: int = 4):
        self.db = db
        self.systems = systems
        self.weights = weights
        self.clock = clock
        self.runner = runner
        self.workers = workers
        self.max_queued = max_queued
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="batch-job")
        self.futures: dict[str, Future] = {}
        self._lock = threading.Lock()
        self._active: set[str] = set()
        self._running: set[str] = set()
        self._cancel: dict[str, threading.Event] = {}
        self._durations: list[float] = []

    def retry_after(self) -> int:
        """Seconds after which a place in the queue is likely: the mean of the last jobs' run
        times (10 s before any), at least 1."""
        recent = self._durations[-10:]
        return max(1, math.ceil(sum(recent) / len(recent))) if recent else 10

    def start(self, method: str, time_limit_s: float, owner: str | None = None) -> str:
        with self._lock:
            queued = len(self._active) - len(self._running)
            if len(self._active) >= self.workers and queued >= self.max_queued:
                raise JobQueueFull(f"{len(self._running)} batch job(s) running and {queued} waiting, the most this "
                                   f"server queues: try again later", self.retry_after(),
                                   fr=f"{len(self._running)} travail(aux) en cours et {queued} en attente, le plus "
                                   "que ce serveur met en file : réessayez plus tard")
            with self.db.write() as session:
                job_id = repo.create_job(session, method, self.clock(), owner).id
            self._active.add(job_id)
            self._cancel[job_id] = threading.Event()
            future = self.executor.submit(self._run, job_id, method, time_limit_s)
            self.futures[job_id] = future
        future.add_done_callback(lambda _f, j=job_id: self._done(j))
        return job_id

    def _done(self, job_id: str) -> None:
        with self._lock:
            self._active.discard(job_id)
            self._running.discard(job_id)
            self._cancel.pop(job_id, None)

    def cancel(self, job_id: str) -> str:
        """Cancel a queued or running job; returns its status now (``cancelled``, or ``running``
        until its next progress report). ConflictError when it has already ended."""
        with self._lock:
            future = self.futures.get(job_id)
            event = self._cancel.get(job_id)
        with self.db.read() as session:
            row = repo.get_job(session, job_id)
            status = row.status
        if status in ("succeeded", "failed", "cancelled") or future is None or event is None:
            if status in ("queued", "running"):  # another server's job: only its server can stop it
                raise ConflictError(f"batch job {job_id} runs on another server process: cancel it there",
                                    fr=f"le travail {job_id} tourne dans un autre processus du serveur : "
                                    "annulez-le là-bas")
            raise ConflictError(f"batch job {job_id} has already {'been ' if status == 'cancelled' else ''}{status}",
                                fr=f"le travail {job_id} est déjà {job_status_fr(status)}")
        event.set()
        if future.cancel():
            with self.db.write() as session:
                repo.update_job(session, job_id, status="cancelled",
                                message=Said("cancelled before it started", "annulé avant de commencer"),
                                finished_at=self.clock())
            self._done(job_id)
            return "cancelled"
        with self.db.write() as session:
            repo.update_job(session, job_id, message=Said("cancelling: stops at its next stage",
                                                          "annulation : s'arrête à sa prochaine étape"))
        return "running"

    def _progress(self, job_id: str) -> Callable[..., None]:
        event = self._cancel.get(job_id)

        def report(fraction: float, message: str, stage: str | None = None) -> None:
            if event is not None and event.is_set():
                raise JobCancelled(f"batch job {job_id} was cancelled", fr=f"le traitement par lots {job_id} a été annulé")
            values: dict[str, Any] = {"progress": max(0.0, min(1.0, fraction)), "message": message}
            if stage is not None:
                values["stage"] = stage
            with self.db.write() as session:
                repo.update_job(session, job_id, **values)
        return report

    def _run(self, job_id: str, method: str, time_limit_s: float) -> None:
        began = time.monotonic()
        with self._lock:
            self._running.add(job_id)
        with self.db.write() as session:
            repo.update_job(session, job_id, status="running", started_at=self.clock(),
                            message=Said("loading the system", "chargement du système"),
                            stage="loading", progress=0.02)
        try:
            with self.db.read() as session:
                snap = self.systems.snapshot(session)
            report = self._progress(job_id)
            report(0.05, Said("system loaded", "système chargé"), stage="loading")
            result = self.runner(snap.system, snap.travel, self.weights, method, time_limit_s, report)
            report(0.99, Said("saving the result", "enregistrement du résultat"), stage="summarising")
            result = {"data_version": snap.version, **result}
            with self.db.write() as session:
                repo.update_job(session, job_id, status="succeeded", progress=1.0, message=Said("done", "terminé"),
                                finished_at=self.clock(), result=result)
        except JobCancelled:
            with self.db.write() as session:
                repo.update_job(session, job_id, status="cancelled", message=Said("cancelled", "annulé"),
                                finished_at=self.clock())
        except Exception as err:  # the job fails, the server does not
            log.error("batch job %s failed: %s", job_id, _safe(err))
            with self.db.write() as session:
                repo.update_job(session, job_id, status="failed", finished_at=self.clock(),
                                message=Said("failed", "en échec"), error=failure_words(err))
        finally:
            self._durations = [*self._durations[-9:], time.monotonic() - began]

    def wait(self, job_id: str, timeout: float | None = None) -> None:
        future = self.futures.get(job_id)
        if future is not None and not future.cancelled():
            future.result(timeout)

    def shutdown(self) -> None:
        for event in list(self._cancel.values()):
            event.set()
        self.executor.shutdown(wait=True, cancel_futures=True)


# --- everything together ----------------------------------------------------------------------


def fault_pause(settings: Settings, where: str) -> None:
    """Test hook (``PLACEMENT_FAULT_PAUSE_AT``, ``PLACEMENT_FAULT_PAUSE_S``): sleep inside a write
    transaction (a confirmation, a hold, a rebalancing plan being applied), so that a
    fault-injection test can kill the process between the writes and the commit."""
    if settings.fault_pause_at == where and settings.fault_pause_s > 0:
        log.warning("fault-injection pause in %s for %.1f s", where, settings.fault_pause_s)
        time.sleep(settings.fault_pause_s)


class Services:
    """Everything one app instance holds. Built by ``create_app``; closed on shutdown."""

    def __init__(self, settings: Settings, *, db: Database | None = None, travel: TravelSource | None = None,
                 prices: PriceFunction | None = None, runner: JobRunner | None = None,
                 clock: Callable[[], datetime] = repo.utcnow):
        self.settings = settings
        self.db = db or Database(settings.database_url)
        self.weights = Weights.load(settings.weights_file) if settings.weights_file else Weights.default()
        self.clock = clock
        self.systems = SystemService(travel or travel_source(settings), self.db.consistent_read)
        self.prices = PriceService(prices or solver_capacity_prices)
        self.jobs = JobService(self.db, self.systems, self.weights, lambda: self.clock(), runner or solver_job,
                               workers=settings.max_running_jobs, max_queued=settings.max_queued_jobs)
        self.scenarios = ScenarioJobService(settings.scenario_dir, self.db, self.systems, self.weights, lambda: self.clock(),
                                            scheduler=settings.scenario_scheduler, workers=settings.scenario_workers,
                                            processes=settings.scenario_processes)
        from api.security import Security

        self.security = Security(settings)
        from api.simulation_jobs import SimulationJobService

        self.simulations = SimulationJobService(self.db, self.systems, self.weights, lambda: self.clock())
        self.read_audit = audit.GroupCommit(lambda: self.db.write(), repo.utcnow)
        self._stop = threading.Event()
        self._sweeper: threading.Thread | None = None

    def now(self) -> datetime:
        return self.clock()

    def warm(self) -> bool:
        """Load the snapshot (system, travel matrix, index) and compute the capacity prices now,
        before the server accepts traffic. False when the store is empty; a failure of the
        prices is logged and left to the first request that needs them."""
        if self.db.is_empty():
            return False
        with self.db.read() as session:
            snap = self.systems.snapshot(session)
        try:
            self.prices.prices(snap, self.weights)
        except Exception:  # the own order still answers; order=system will say why
            log.exception("capacity prices could not be computed at start-up")
        return True

    def sweep(self) -> int:
        """Release every expired hold now (each recorded in the audit trail); returns how many."""
        released: list[str] = []
        with self.db.write() as session:
            n = repo.expire_holds(session, self.now(), released_ids=released)
            audit.record(session, [audit.Entry("server", "system", "expire", "reservation", rid, "server")
                                   for rid in released], repo.utcnow())
            return n

    def record(self, entries: list[audit.Entry], reading: Session | None = None) -> None:
        """Append reads to the audit trail (changes are recorded in their own transaction), by
        group commit with the reads of other requests; returns once they are committed.
        ``reading``: the request's read session, whose transaction is ended first so that the
        request never holds two pooled connections at once (see ``api.deps.writer_snapshot``)."""
        if reading is not None:
            reading.rollback()
        self.read_audit.append(entries)

    def fault_pause(self, where: str) -> None:
        fault_pause(self.settings, where)

    def start(self) -> None:
        if self.settings.sweep_seconds > 0 and self._sweeper is None:
            self._sweeper = threading.Thread(target=self._sweep_loop, name="hold-sweeper", daemon=True)
            self._sweeper.start()

    def _sweep_loop(self) -> None:
        while not self._stop.wait(self.settings.sweep_seconds):
            try:
                self.sweep()
            except Exception:  # keep sweeping; the next round retries
                log.error("sweep of expired holds failed: %s", _safe(sys.exc_info()[1]))

    def close(self) -> None:
        self._stop.set()
        if self._sweeper is not None:
            self._sweeper.join(timeout=5)
        self.read_audit.close()
        self.jobs.shutdown()
        self.scenarios.shutdown()
        self.simulations.shutdown()
        self.prices.shutdown()
