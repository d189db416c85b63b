"""Simulation jobs of the service: a simulation submitted, followed and fetched like a batch job.

Rows live in the store's ``batch_jobs`` table with ``method = "simulation"`` (no migration of
its own); the work runs on this service's own executor, over the system and travel matrix of the
data version current when the job starts. Replications run one after the other in the job's
thread (``workers=0``): a service does not start a Dask cluster per request; run
``placement simulate --workers N`` or ``--scheduler`` for large sweeps.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from typing import Any

from data.db import Database
from data.db import repository as repo
from matcher.words import Said, failure_words
from matcher.scoring import Weights

log = logging.getLogger("placement.simulations")
METHOD = "simulation"


class SimulationJobService:
    """Runs simulation jobs; state and results live in the store (batch_jobs)."""

    def __init__(self, db: Database, systems: Any, weights: Weights, clock: Callable[[], datetime], workers: int = 1):
        self.db = db
        self.systems = systems
        self.weights = weights
        self.clock = clock
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="simulation-job")
        self.futures: dict[str, Future] = {}

    def start(self, request: dict[str, Any], owner: str | None = None) -> str:
        """Queue a simulation (``request``: months, policies, replications, seed, capacity_changes,
        parameters; already checked by the router)."""
        with self.db.write() as session:
            job_id = repo.create_job(session, METHOD, self.clock(), owner).id
        self.futures[job_id] = self.executor.submit(self._run, job_id, request)
        return job_id

    def _progress(self, job_id: str, fraction: float, message: str) -> None:
        with self.db.write() as session:
            repo.update_job(session, job_id, progress=max(0.0, min(1.0, fraction)), message=message)

    def _run(self, job_id: str, request: dict[str, Any]) -> None:
        from planning.simulation import replicate, scenario_from_document
        from planning.simulation_report import render_report

        with self.db.write() as session:
            repo.update_job(session, job_id, status="running", started_at=self.clock(),
                            message=Said("loading", "chargement"))
        try:
            with self.db.read() as session:
                snap = self.systems.snapshot(session)
            params, changes = scenario_from_document(
                {"capacity_changes": request.get("capacity_changes") or [], "simulation": request.get("parameters") or {}},
                request.get("months"))
            n = request["replications"]
            result = replicate(snap.system, snap.travel, self.weights, params, n, request["seed"], request["policies"],
                               changes, workers=0,
                               progress=lambda done, total: self._progress(
                                   job_id, done / total,
                                   Said(f"{done}/{total} replication(s)", f"{done}/{total} réplication(s)")))
            result = {"data_version": snap.version, **result, "report_html": render_report(result)}
            with self.db.write() as session:
                repo.update_job(session, job_id, status="succeeded", progress=1.0, message=Said("done", "terminé"),
                                finished_at=self.clock(), result=result)
        except Exception as err:  # the job fails, the server does not
            log.exception("simulation job %s failed", job_id)
            with self.db.write() as session:
                repo.update_job(session, job_id, status="failed", finished_at=self.clock(),
                                message=Said("failed", "en échec"), error=failure_words(err))

    def wait(self, job_id: str, timeout: float | None = None) -> None:
        future = self.futures.get(job_id)
        if future is not None:
            future.result(timeout)

    def shutdown(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)
