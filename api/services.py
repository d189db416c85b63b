"""Services the app holds (one set per ``create_app``, never module-level): the loaded system
cached per data version, travel times, capacity prices cached per data version, the batch-job
runner and the sweep of expired holds. Routers reach them through :mod:`api.deps`, so tests can
swap any of them.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import numpy as np
from sqlalchemy.orm import Session

from api.settings import Settings
from data.db import Database
from data.db import repository as repo
from data.db.database import current_version, load_system
from matcher.errors import PlacementError
from matcher.model import Home, PlacementSystem, Structure
from matcher.proposals import SystemIndex
from matcher.scoring import Weights
from matcher.travel import TravelMatrix

log = logging.getLogger(__name__)


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

    version: int
    system: PlacementSystem
    travel: TravelMatrix
    index: SystemIndex
    memo: dict[str, Any] = field(default_factory=dict)
    """Derived arrays computed once per snapshot by the routers that need them."""


class SystemService:
    """Loads the system from the store once per data version (load once, compute many)."""

    def __init__(self, travel: TravelSource, consistent: Callable[[], AbstractContextManager[Session]] | None = None):
        self.travel_source = travel
        self.consistent = consistent
        """Opens a session that sees one snapshot of the store, to load the system from (the
        request's own session otherwise)."""
        self._snapshot: Snapshot | None = None
        self._travel_key: str | None = None
        self._travel: TravelMatrix | None = None
        self._lock = threading.Lock()

    def snapshot(self, session: Session) -> Snapshot:
        version = current_version(session)
        snap = self._snapshot
        if snap is not None and snap.version == version:
            return snap
        if self.consistent is not None:
            # End the request's read transaction first: its pooled connection goes back while this
            # request waits for the lock and loads on a connection of its own (otherwise requests
            # waiting here hold every connection and the loader cannot get one).
            session.rollback()
        with self._lock:
            snap = self._snapshot
            if snap is not None and snap.version == version:
                return snap
            if self.consistent is not None:
                with self.consistent() as whole:
                    version = current_version(whole)
                    system = load_system(whole)
            else:
                system = load_system(session)
            travel = self._matrix(system)
            snap = Snapshot(version, system, travel, SystemIndex.build(system, travel))
            self._snapshot = snap
            return snap

    def _matrix(self, system: PlacementSystem) -> TravelMatrix:
        digest = hashlib.sha256()
        for h in system.homes:
            digest.update(f"{h.id}|{h.location.lat}|{h.location.lon};".encode())
        for s in system.structures:
            digest.update(f"{s.id}|{s.location.lat}|{s.location.lon};".encode())
        key = digest.hexdigest()
        if key != self._travel_key or self._travel is None:
            self._travel = self.travel_source.matrix(system.homes, system.structures)
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
        raise ServiceUnavailable(f"the system-aware ordering needs solver.duals, which is not available: {err}") from None
    return capacity_prices(Problem.build(system, travel, weights, "waiting"))


class PriceService:
    """Capacity prices cached per data version: computed at most once per version, shared by
    every request; a change of capacity, occupancy or placements (a new version) invalidates."""

    def __init__(self, compute: PriceFunction = solver_capacity_prices):
        self.compute = compute
        self._cache: tuple[int, Mapping[str, float]] | None = None
        self._lock = threading.Lock()
        self.computations = 0

    def prices(self, snapshot: Snapshot, weights: Weights) -> Mapping[str, float]:
        cached = self._cache
        if cached is not None and cached[0] == snapshot.version:
            return cached[1]
        with self._lock:
            cached = self._cache
            if cached is not None and cached[0] == snapshot.version:
                return cached[1]
            prices = dict(self.compute(snapshot.system, snapshot.travel, weights))
            bad = [u for u, p in prices.items() if not math.isfinite(p)]
            if bad:
                raise ServiceUnavailable(f"capacity prices are not finite for unit(s) {', '.join(bad[:5])}")
            self._cache = (snapshot.version, prices)
            self.computations += 1
            return prices


# --- batch jobs -------------------------------------------------------------------------------

JobRunner = Callable[[PlacementSystem, TravelMatrix, Weights, str, float, Callable[[float, str], None]], dict[str, Any]]


def solver_job(system: PlacementSystem, travel: TravelMatrix, weights: Weights, method: str,
               time_limit_s: float, progress: Callable[[float, str], None]) -> dict[str, Any]:
    """Run the batch optimiser (solver.greedy or solver.optimal) over the children waiting."""
    from solver.problem import Problem

    progress(0.1, "building the problem")
    problem = Problem.build(system, travel, weights, "waiting")
    progress(0.3, f"solving ({method})")
    if method == "greedy":
        from solver.greedy import solve_greedy

        solution = solve_greedy(problem)
    else:
        try:
            from solver.optimal import SolverSettings, solve_optimal
        except ImportError as err:
            raise ServiceUnavailable(f"the optimal method is not available: {err}") from None
        solution = solve_optimal(problem, SolverSettings(time_limit_s=time_limit_s))
    progress(0.9, "summarising")
    return {
        "method": solution.method,
        "objective": solution.objective,
        "bound": solution.bound,
        "gap": solution.gap,
        "wall_seconds": solution.wall_seconds,
        "summary": solution.summary(problem).to_dict(),
        "splits": [str(s) for s in solution.splits],
        "assignment": dict(solution.unit_of_child),
    }


class JobService:
    """Runs batch jobs on its own executor; state and results live in the store (batch_jobs)."""

    def __init__(self, db: Database, systems: SystemService, weights: Weights, clock: Callable[[], datetime],
                 runner: JobRunner = solver_job, workers: int = 1):
        self.db = db
        self.systems = systems
        self.weights = weights
        self.clock = clock
        self.runner = runner
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="batch-job")
        self.futures: dict[str, Future] = {}

    def start(self, method: str, time_limit_s: float) -> str:
        with self.db.write() as session:
            job_id = repo.create_job(session, method, self.clock()).id
        self.futures[job_id] = self.executor.submit(self._run, job_id, method, time_limit_s)
        return job_id

    def _progress(self, job_id: str) -> Callable[[float, str], None]:
        def report(fraction: float, message: str) -> None:
            with self.db.write() as session:
                repo.update_job(session, job_id, progress=max(0.0, min(1.0, fraction)), message=message)
        return report

    def _run(self, job_id: str, method: str, time_limit_s: float) -> None:
        with self.db.write() as session:
            repo.update_job(session, job_id, status="running", started_at=self.clock(), message="loading")
        try:
            with self.db.read() as session:
                snap = self.systems.snapshot(session)
            result = self.runner(snap.system, snap.travel, self.weights, method, time_limit_s, self._progress(job_id))
            result = {"data_version": snap.version, **result}
            with self.db.write() as session:
                repo.update_job(session, job_id, status="succeeded", progress=1.0, message="done",
                                finished_at=self.clock(), result=result)
        except Exception as err:  # the job fails, the server does not
            log.exception("batch job %s failed", job_id)
            with self.db.write() as session:
                repo.update_job(session, job_id, status="failed", finished_at=self.clock(),
                                message="failed", error=f"{type(err).__name__}: {err}")

    def wait(self, job_id: str, timeout: float | None = None) -> None:
        future = self.futures.get(job_id)
        if future is not None:
            future.result(timeout)

    def shutdown(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)


# --- everything together ----------------------------------------------------------------------


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
        self.jobs = JobService(self.db, self.systems, self.weights, lambda: self.clock(), runner or solver_job)
        self._stop = threading.Event()
        self._sweeper: threading.Thread | None = None

    def now(self) -> datetime:
        return self.clock()

    def sweep(self) -> int:
        """Release every expired hold now; returns how many."""
        with self.db.write() as session:
            return repo.expire_holds(session, self.now())

    def start(self) -> None:
        if self.settings.sweep_seconds > 0 and self._sweeper is None:
            self._sweeper = threading.Thread(target=self._sweep_loop, name="hold-sweeper", daemon=True)
            self._sweeper.start()

    def _sweep_loop(self) -> None:
        while not self._stop.wait(self.settings.sweep_seconds):
            try:
                self.sweep()
            except Exception:  # keep sweeping; the next round retries
                log.exception("sweep of expired holds failed")

    def close(self) -> None:
        self._stop.set()
        if self._sweeper is not None:
            self._sweeper.join(timeout=5)
        self.jobs.shutdown()
