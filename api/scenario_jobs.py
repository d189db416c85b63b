"""Planners' scenario runs and sweeps as background jobs of the service.

A job solves scenarios (planning.runner, on Dask) over the store's current placement system and
writes its report (planning.report) into its own directory under ``settings.scenario_dir``:
``job.json`` (kind, status, progress, the scenarios done out of how many, error) and, once it
has succeeded, ``comparison.json``, ``rapport.html``, ``rapport.md`` and the pictures. The
state lives in those files (written whole, then renamed), not in memory: nothing is lost when
the service restarts, and no job table is needed. Everything a job returns is aggregated figures
(no child is named), which is all a planner sees.
"""

from __future__ import annotations

import json
import logging
import os
import re
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

from data.db import Database
from data.db.errors import NotFoundError
from data.db.repository import with_french
from matcher.scoring import Weights
from matcher.words import Said, failure_words

log = logging.getLogger(__name__)

JOB_FILE = "job.json"
_ID = re.compile(r"^SJ-[0-9a-f]{16}$")


class ScenarioJobService:
    """Starts scenario jobs on its own executor and reads their state and files back."""

    def __init__(self, directory: Path | str, db: Database, systems: Any, weights: Weights,
                 clock: Callable[[], datetime], *, scheduler: str | None = None, workers: int = 1,
                 processes: bool = True):
        self.directory = Path(directory)
        self.db = db
        self.systems = systems
        self.weights = weights
        self.clock = clock
        self.scheduler = scheduler
        self.workers = workers
        self.processes = processes
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="scenario-job")
        self.futures: dict[str, Future] = {}

    # --- state on disk -----------------------------------------------------------------------

    def path(self, job_id: str) -> Path:
        if not _ID.match(job_id) or not (self.directory / job_id / JOB_FILE).is_file():
            raise NotFoundError(f"scenario job {job_id!r} does not exist",
                                fr=f"le travail de scénarios {job_id!r} n'existe pas")
        return self.directory / job_id

    def states(self) -> list[dict[str, Any]]:
        """Every job's state (the folders under the scenario directory)."""
        if not self.directory.is_dir():
            return []
        out = []
        for path in self.directory.glob(f"*/{JOB_FILE}"):
            try:
                out.append(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError):  # a job being written: seen next time
                continue
        return out

    def state(self, job_id: str) -> dict[str, Any]:
        return json.loads((self.path(job_id) / JOB_FILE).read_text(encoding="utf-8"))

    def _save(self, job_id: str, **values: Any) -> dict[str, Any]:
        directory = self.directory / job_id
        current = {}
        if (directory / JOB_FILE).is_file():
            current = json.loads((directory / JOB_FILE).read_text(encoding="utf-8"))
        current.update(with_french(values))
        tmp = directory / f".{JOB_FILE}.{uuid.uuid4().hex[:8]}"
        tmp.write_text(json.dumps(current, ensure_ascii=False, default=str), encoding="utf-8")
        os.replace(tmp, directory / JOB_FILE)
        return current

    # --- running -----------------------------------------------------------------------------

    def start(self, kind: str, scenarios: list, settings: Any, rank_by: str | None = None,
              owner: str | None = None) -> str:
        """Start solving ``scenarios`` (the first is the reference); returns the job id."""
        job_id = f"SJ-{uuid.uuid4().hex[:16]}"
        (self.directory / job_id).mkdir(parents=True, exist_ok=False)
        self._save(job_id, id=job_id, kind=kind, status="queued", progress=0.0, done=0, total=len(scenarios),
                   message="queued", message_fr="en file d'attente", created_at=self.clock().isoformat(),
                   started_at=None, finished_at=None,
                   error=None, error_fr=None, rank_by=rank_by, scope=settings.scope, time_limit_s=settings.time_limit_s, owner=owner)
        self.futures[job_id] = self.executor.submit(self._run, job_id, scenarios, settings, rank_by)
        return job_id

    def _run(self, job_id: str, scenarios: list, settings: Any, rank_by: str | None) -> None:
        from planning.comparison import compare, rank
        from planning.report import write_report
        from planning.runner import BaseInstance, run_scenarios

        self._save(job_id, status="running", started_at=self.clock().isoformat(),
                   message=Said("loading the placement system", "chargement du système de placement"))
        try:
            with self.db.read() as session:
                snap = self.systems.snapshot(session)
            base = BaseInstance(snap.system, snap.travel, self.weights)
            source = self.systems.travel_source

            def minutes_for(homes, structures):
                return source.matrix(tuple(homes), tuple(structures))

            def progress(done: int, total: int, name: str) -> None:
                self._save(job_id, done=done, progress=round(0.9 * done / total, 4),
                           message=Said(f"solved {done} of {total}", f"{done} résolu(s) sur {total}"))

            results = run_scenarios(base, scenarios, settings, minutes_for=minutes_for, scheduler=self.scheduler,
                                    workers=self.workers, processes=self.processes, progress=progress)
            self._save(job_id, message=Said("writing the report", "écriture du rapport"), progress=0.95)
            comparison = compare(results)
            comparison["data_version"] = snap.version
            ranking = rank(results[1:], rank_by) if rank_by else None
            write_report(comparison, self.directory / job_id, ranking)
            failed = len(comparison["failed"])
            self._save(job_id, status="succeeded", progress=1.0, finished_at=self.clock().isoformat(),
                       message=Said("done" + (f" ({failed} scenario(s) failed: see the comparison)" if failed else ""),
                                    "terminé" + (f" ({failed} scénario(s) en échec : voir la comparaison)" if failed
                                                 else "")))
        except Exception as err:  # the job fails, the server does not
            log.exception("scenario job %s failed", job_id)
            self._save(job_id, status="failed", finished_at=self.clock().isoformat(),
                       message=Said("failed", "en échec"),
                       error=failure_words(err))

    def wait(self, job_id: str, timeout: float | None = None) -> None:
        future = self.futures.get(job_id)
        if future is not None:
            future.result(timeout)

    def shutdown(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)
