"""Load test of the officers' service: uvicorn on loopback, requests from httpx threads.

    python -m benchmarks.bench_api [--scale 1] [--requests 300] [--postgres URL]

1. Seeds a store with the generated Paris scenario (``--scale``), starts
   ``uvicorn api.app:create_app --factory`` in a subprocess on it, and measures p50/p95 of
   ``GET /children/{id}/proposals`` (k=10) and ``GET /places?child_id=...&within_minutes=60``
   sent one at a time and by ``--clients`` threads (p50/p95/p99).
2. On PostgreSQL (``--postgres``, default the test server): 20 client threads hold, for each of
   ``--reserve`` children, the unit of its first proposal (children with the same first choice
   race for its last places), then confirm every hold; reports holds/s, confirms/s, conflicts,
   and the double bookings found afterwards by ``repository.double_bookings`` (must be zero).
3. After a change: ``--after-change`` times, a planner updates a unit's capacity (a new data
   version) and one proposal request follows at once; p50/p95 of that request (it brings the
   server's snapshot up to date first, and gets prices stale but labelled).

4. Under load (issue 13, ``--clients-list 1,4,16 --workers-list 1,2``): for each number of
   server processes (uvicorn workers), a fresh server on the same store; the time from start to
   the first answered proposal, then p50/p95 and requests/s of child proposals and of fratrie
   proposals sent by 1, 4 and 16 client threads. ``--with-job`` keeps a batch job (optimal,
   ``--job-seconds``) running beside the requests. ``--load-only`` skips parts 1-3.
   ``--generator wrk`` sends the load with ``wrk`` (C) for ``--seconds`` per level instead of
   Python threads: on a machine with few cores the load generator then takes little of the CPU
   the server is measured on. Each level also reports the CPU milliseconds a request cost the
   server, PostgreSQL and the load generator.

Progress goes to stderr; the JSON report (with the load average before and after) to stdout.
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


class Auth:
    """Accounts for the run (docs/SECURITY.md): a protection officer per service (an officer acts
    for the children of their service and sees secret places) and a structure manager of every
    structure; tokens fetched once each."""

    def __init__(self, db, system):
        from data.db import accounts
        from data.db.repository import utcnow
        from tests.servers import CHEAP_ARGON2_ENV  # noqa: F401 (the server runs with the same cheap hashing)

        from api.security import hash_new_password
        from api.settings import Settings

        settings = Settings(argon2_time_cost=1, argon2_memory_kib=8, argon2_parallelism=1)
        self.service_of = {c.id: c.service.value for c in system.children}
        self.group_service = {g.id: self.service_of[g.child_ids[0]] for g in system.sibling_groups}
        self.password = "bench-" + uuid_hex()
        digest = hash_new_password(settings, self.password)
        with db.write() as session:
            for service in sorted(set(self.service_of.values())):
                accounts.add_user(session, name=f"po-{service}", role="protection_officer", service=service,
                                  password_hash=digest, now=utcnow())
            accounts.add_user(session, name="planner", role="planner", password_hash=digest, now=utcnow())
            accounts.add_user(session, name="manager", role="structure_manager",
                              structure_ids=[s.id for s in system.structures], password_hash=digest, now=utcnow())
        self.base = ""
        self._tokens: dict[str, dict[str, str]] = {}

    def as_user(self, name: str) -> dict[str, str]:
        if name not in self._tokens:
            r = httpx.post(self.base + "/auth/token", data={"username": name, "password": self.password}, timeout=120)
            r.raise_for_status()
            self._tokens[name] = {"Authorization": f"Bearer {r.json()['access_token']}"}
        return self._tokens[name]

    def for_child(self, child_id: str) -> dict[str, str]:
        return self.as_user(f"po-{self.service_of[child_id]}")


def uuid_hex() -> str:
    import uuid

    return uuid.uuid4().hex


AUTH: Auth | None = None
"""The run's accounts (set by main)."""
DATA_DIR: str | None = None
"""One signing-key folder for every server of the run (their tokens then hold across restarts)."""


def start_server(database_url: str, schema: str | None = None, workers: int = 1,
                 extra_env: dict[str, str] | None = None, root: str | None = None) -> tuple[subprocess.Popen, str]:
    """A uvicorn server of ``api.app`` (from the checkout at ``root`` when given: another commit's
    code, to compare within one run) on a free port, once it answers ``/health``."""
    import tempfile

    from tests.servers import CHEAP_ARGON2_ENV

    port = _free_port()
    env = dict(os.environ, DATABASE_URL=database_url, PLACEMENT_SWEEP_SECONDS="0",
               PLACEMENT_DATA_DIR=DATA_DIR or tempfile.mkdtemp(prefix="bench-api-"), **CHEAP_ARGON2_ENV,
               **(extra_env or {}))
    if schema:
        env["PGOPTIONS"] = f"-csearch_path={schema}"
    command = [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory", "--host", "127.0.0.1",
               "--port", str(port), "--log-level", "warning", "--workers", str(workers)]
    if workers > 1 and os.path.exists(os.path.join(root or ".", "api", "workers.py")):
        # what `placement serve --workers N` runs: a listening socket per worker (api.workers)
        command = [sys.executable, "-c", "import uvicorn; from api.workers import run_balanced; run_balanced("
                   f"uvicorn.Config('api.app:create_app', factory=True, host='127.0.0.1', port={port}, "
                   f"workers={workers}, log_level='warning'))"]
    proc = subprocess.Popen(command, env=env, cwd=root)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 600
    while time.time() < deadline:
        try:
            if httpx.get(base + "/health", timeout=2).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with {proc.returncode}")
        time.sleep(0.5)
    proc.kill()
    raise SystemExit("the server did not answer /health within 600 s")


def _cpu_seconds(server_pid: int) -> dict[str, float]:
    """CPU seconds used so far by the server (its processes), PostgreSQL's processes on this
    machine and this client: what a request costs each, whatever the machine's speed."""
    import psutil

    def used(p: psutil.Process) -> float:
        try:
            t = p.cpu_times()
            return t.user + t.system
        except psutil.Error:
            return 0.0

    server = psutil.Process(server_pid)
    postgres = {p.pid: used(p) for p in psutil.process_iter(["name"]) if (p.info["name"] or "").startswith("postgres")}
    return {"server": used(server) + sum(used(c) for c in server.children(recursive=True)),
            "postgres": postgres, "client": _client_cpu()}


def _client_cpu() -> float:
    """This process and the load generators it ran and waited for (wrk)."""
    import psutil

    t = psutil.Process().cpu_times()
    return t.user + t.system + t.children_user + t.children_system


def _cpu_ms_per_request(before: dict, after: dict, n: int) -> dict[str, float]:
    """Per request, from two :func:`_cpu_seconds`: PostgreSQL's backends that ended in between
    are not counted (a new one is counted whole)."""
    pg = sum(t - before["postgres"].get(pid, 0.0) for pid, t in after["postgres"].items())
    return {"cpu_ms_per_request_server": round((after["server"] - before["server"]) * 1000 / n, 2),
            "cpu_ms_per_request_postgres": round(pg * 1000 / n, 2),
            "cpu_ms_per_request_client": round((after["client"] - before["client"]) * 1000 / n, 2)}


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _headers_for(url: str) -> dict[str, str]:
    """The token of an officer who may ask ``url`` (the child's or the fratrie's service)."""
    import re

    assert AUTH is not None
    found = re.search(r"(?:/children/|child_id=)([^/?&]+)", url)
    group = re.search(r"/sibling-groups/([^/?&]+)", url)
    return (AUTH.for_child(found.group(1)) if found
            else AUTH.as_user(f"po-{AUTH.group_service[group.group(1)]}") if group
            else AUTH.as_user("manager"))


def timed(client: httpx.Client, url: str, headers: dict[str, str] | None = None) -> float:
    if headers is None and AUTH is not None:
        headers = _headers_for(url)
    t = time.perf_counter()
    r = client.get(url, headers=headers)
    elapsed = (time.perf_counter() - t) * 1000
    if r.status_code != 200:
        raise SystemExit(f"GET {url}: {r.status_code} {r.text[:300]}")
    return elapsed


def _stats(ms: list[float]) -> dict[str, float]:
    return {"n": len(ms), "p50_ms": round(statistics.median(ms), 1), "p95_ms": round(_pct(ms, 0.95), 1),
            "p99_ms": round(_pct(ms, 0.99), 1)}


def latency(base: str, child_ids: list[str], n: int, clients: int, timeout: float) -> dict[str, dict[str, dict[str, float]]]:
    """p50/p95/p99 of each request, sent one at a time (the latency of a request) and by
    ``clients`` threads at once (under load). Each run asks about its own random children."""
    rng = random.Random(1)
    out: dict[str, dict[str, dict[str, float]]] = {}
    with httpx.Client(base_url=base, timeout=timeout, limits=httpx.Limits(max_connections=clients)) as client:
        progress("warming the caches (load of the system, travel matrix, capacity prices)")
        warm = timed(client, f"/children/{child_ids[0]}/proposals?k=10")
        timed(client, f"/places?child_id={child_ids[0]}&within_minutes=60")
        out["first_request_ms"] = round(warm, 1)
        for name, pattern in (("proposals", "/children/{}/proposals?k=10"),
                              ("free_places", "/places?child_id={}&within_minutes=60")):
            out[name] = {}
            for threads in (1, clients):
                progress(f"{name}: {n} requests, {threads} client(s)")
                picks = [rng.choice(child_ids) for _ in range(n)]
                with ThreadPoolExecutor(threads) as pool:
                    ms = list(pool.map(lambda c: timed(client, pattern.format(c)), picks))
                out[name][f"{threads}_client{'s' if threads > 1 else ''}"] = _stats(ms)
    return out


def after_change(base: str, child_ids: list[str], n: int, timeout: float) -> dict[str, dict[str, float]]:
    """``n`` times: a planner adds a place to a unit (a new data version), then one proposal
    request for a random child follows at once; p50/p95/p99 of each (the proposal request
    brings the server's snapshot up to date before answering)."""
    rng = random.Random(2)
    with httpx.Client(base_url=base, timeout=timeout) as client:
        first = client.get(f"/children/{child_ids[0]}/proposals?k=1",
                           headers=AUTH.for_child(child_ids[0])).json()["proposals"]
        unit_id = first[0]["placements"][0]["unit_id"]
        capacity = client.get(f"/units/{unit_id}", headers=AUTH.as_user("manager")).json()["capacity"]
        patch_ms, proposal_ms = [], []
        for i in range(n):
            t = time.perf_counter()
            r = client.patch(f"/units/{unit_id}", json={"capacity": capacity + i + 1}, headers=AUTH.as_user("manager"))
            patch_ms.append((time.perf_counter() - t) * 1000)
            if r.status_code != 200:
                raise SystemExit(f"PATCH /units/{unit_id}: {r.status_code} {r.text[:300]}")
            proposal_ms.append(timed(client, f"/children/{rng.choice(child_ids)}/proposals?k=10"))
    return {"unit_update": _stats(patch_ms), "proposal": _stats(proposal_ms)}


def reservations(base: str, db, child_ids: list[str], clients: int = 20, timeout: float = 60) -> dict[str, float]:
    """Each child reserves the unit of its first proposal (so that it is eligible and had a free
    place a moment before), 20 clients at once; children whose first choices coincide race for
    the same last places. Then every successful hold is confirmed, 20 clients at once.

    Checks: exactly sum over units of min(free places, children sent there) holds succeed (no
    place promised twice, none lost), every failure is a 409, and
    ``repository.double_bookings`` finds nothing afterwards."""
    from collections import Counter

    from sqlalchemy import select

    from data.db import repository
    from data.db.models import UnitRow

    progress(f"reservations: first proposal of {len(child_ids)} children")
    with httpx.Client(base_url=base, timeout=timeout) as c:
        target = {}
        for child in child_ids:
            found = c.get(f"/children/{child}/proposals?k=1", headers=AUTH.for_child(child)).json()["proposals"]
            if found:
                target[child] = found[0]["placements"][0]["unit_id"]
    with db.read() as s:
        free = {u.id: u.capacity - u.occupied - u.held for u in s.scalars(select(UnitRow))}
    sent = Counter(target.values())
    expected = sum(min(free[u], n) for u, n in sent.items())
    contested = sum(max(0, n - free[u]) for u, n in sent.items())

    def hold(item: tuple[str, str]) -> httpx.Response:
        with httpx.Client(base_url=base, timeout=timeout, headers=AUTH.for_child(item[0])) as c:
            return c.post("/reservations", json={"unit_id": item[1], "child_id": item[0]})

    progress(f"reservations: {len(target)} holds, {clients} clients")
    t = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        answers = list(pool.map(hold, target.items()))
    hold_wall = time.perf_counter() - t
    held = [r.json()["id"] for r in answers if r.status_code == 201]
    holder = {r.json()["id"]: r.json()["child_ids"][0] for r in answers if r.status_code == 201}

    failures: list[str] = []

    def confirm(rid: str) -> int:
        with httpx.Client(base_url=base, timeout=timeout, headers=AUTH.for_child(holder[rid])) as c:
            r = c.post(f"/reservations/{rid}/confirm", json={})
            if r.status_code != 200:
                failures.append(f"{r.status_code} {r.text[:200]}")
            return r.status_code

    progress(f"reservations: {len(held)} confirmations, {clients} clients")
    t = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        confirmed = list(pool.map(confirm, held))
    confirm_wall = time.perf_counter() - t
    with db.read() as s:
        problems = repository.double_bookings(s)
    codes = Counter(r.status_code for r in answers)
    return {"clients": clients, "hold_requests": len(answers), "units_asked": len(sent),
            "requests_beyond_free_places": contested, "holds_expected": expected, "held": len(held), "held_as_expected": len(held) == expected,
            "conflicts_409": codes.get(409, 0), "other": sum(n for code, n in codes.items() if code not in (201, 409)),
            "holds_per_s": round(len(held) / hold_wall, 1), "hold_requests_per_s": round(len(answers) / hold_wall, 1),
            "confirmed": confirmed.count(200), "confirm_failures": sum(1 for x in confirmed if x != 200), "confirm_failure_examples": failures[:3],
            "confirms_per_s": round(len(confirmed) / confirm_wall, 1) if confirmed else 0.0,
            "double_bookings": len(problems)}


_WRK_SCRIPT = """
local reqs = {%s}
local i = 0
request = function()
  i = i + 1
  local r = reqs[(i %% #reqs) + 1]
  return wrk.format("GET", r[1], {["Authorization"] = r[2]})
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT %%d %%d %%.3f %%.3f %%.3f %%d\\n", summary.requests, summary.duration,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
"""


def wrk_load(base: str, paths: list[str], clients: int, seconds: float, timeout: float) -> dict[str, float]:
    """``clients`` connections of ``wrk`` (a load generator in C: it costs the shared cores far
    less than Python threads) sending ``paths`` in turn, each with its officer's token, for
    ``seconds``: p50/p95/p99 and requests/s. Any answer other than 200 fails the benchmark."""
    import re
    import shutil
    import tempfile

    if shutil.which("wrk") is None:
        raise SystemExit("--generator wrk needs wrk (apt-get install wrk)")
    entries = []
    for path in paths:
        headers = _headers_for(path)
        entries.append('{"%s", "%s"}' % (path, headers["Authorization"]))
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(_WRK_SCRIPT % ",\n".join(entries))
    try:
        done = subprocess.run(["wrk", "-t1", f"-c{clients}", f"-d{seconds:g}s", f"--timeout={timeout:g}s", "-s", f.name,
                               base], capture_output=True, text=True, check=True)
    finally:
        os.unlink(f.name)
    found = re.search(r"RESULT (\d+) (\d+) ([\d.]+) ([\d.]+) ([\d.]+) (\d+)", done.stdout)
    if found is None:
        raise SystemExit(f"wrk gave no result: {done.stdout[-300:]} {done.stderr[-300:]}")
    n, micros, p50, p95, p99, errors = found.groups()
    non_200 = re.search(r"Non-2xx or 3xx responses: (\d+)", done.stdout)
    if int(errors) or non_200:
        raise SystemExit(f"wrk: {errors} errors, {non_200.group(1) if non_200 else 0} answers other than 200")
    return {"n": int(n), "p50_ms": round(float(p50), 1), "p95_ms": round(float(p95), 1), "p99_ms": round(float(p99), 1),
            "requests_per_s": round(int(n) / (int(micros) / 1e6), 1)}


def under_load(db_url: str, schema: str, child_ids: list[str], group_ids: list[str], workers_list: list[int],
               clients_list: list[int], n: int, timeout: float, with_job: bool, job_seconds: float,
               warm: bool = True, root: str | None = None, label: str = "", generator: str = "httpx",
               seconds: float = 10.0) -> dict:
    """Part 4: for each number of server processes, a fresh server: start-up and first request,
    then child and fratrie proposals by 1, 4, 16... clients (p50/p95, requests/s)."""
    out: dict = {}
    for workers in workers_list:
        key = f"{label}{workers}_process{'es' if workers > 1 else ''}" + ("" if warm else "_cold")
        progress(f"under load: starting a server with {workers} process(es){'' if warm else ', no warm-up'}")
        t0 = time.perf_counter()
        proc, base = start_server(db_url, schema, workers, {"PLACEMENT_WARM_ON_START": "1" if warm else "0",
                                                            "PLACEMENT_MAX_RUNNING_JOBS": "1"}, root)
        if AUTH is not None:
            AUTH.base, AUTH._tokens = base, {}
        ready = time.perf_counter() - t0
        rng = random.Random(4)
        row: dict = {"workers": workers, "start_to_ready_s": round(ready, 1)}
        try:
            with httpx.Client(base_url=base, timeout=timeout, limits=httpx.Limits(max_connections=max(clients_list))) as client:
                firsts = [timed(client, f"/children/{child_ids[i]}/proposals?k=10") for i in range(max(workers, 1) * 2)]
                row["first_requests_ms"] = [round(x, 1) for x in firsts]
                job_id = None
                if with_job:
                    job_id = client.post("/jobs", json={"method": "optimal", "time_limit_s": job_seconds},
                                         headers=AUTH.as_user("planner") if AUTH else None).json()["id"]
                for name, pattern, ids in (("proposals", "/children/{}/proposals?k=10", child_ids),
                                           ("fratrie_proposals", "/sibling-groups/{}/proposals?k=10", group_ids)):
                    row[name] = {}
                    for threads in clients_list:
                        picks = [rng.choice(ids) for _ in range(n)]
                        cpu0 = _cpu_seconds(proc.pid)
                        if generator == "wrk":
                            progress(f"  {name}: wrk, {seconds:g} s, {threads} connection(s)")
                            measured = wrk_load(base, [pattern.format(c) for c in picks], threads, seconds, timeout)
                        else:
                            progress(f"  {name}: {n} requests, {threads} client(s)")
                            t = time.perf_counter()
                            with ThreadPoolExecutor(threads) as pool:
                                ms = list(pool.map(lambda c: timed(client, pattern.format(c)), picks))
                            measured = {**_stats(ms), "requests_per_s": round(n / (time.perf_counter() - t), 1)}
                        cpu1 = _cpu_seconds(proc.pid)
                        row[name][f"{threads}_clients"] = {**measured,
                                                           **_cpu_ms_per_request(cpu0, cpu1, measured["n"])}
                if job_id is not None:
                    row["job_status_after"] = client.get(f"/jobs/{job_id}",
                                                        headers=AUTH.as_user("planner") if AUTH else None).json()["status"]
        finally:
            proc.terminate()
            proc.wait(60)
        out[key] = row
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=1, help="Seed of the generated population.")
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--reserve", type=int, default=400, help="Children that reserve a place.")
    ap.add_argument("--after-change", type=int, default=30, help="Capacity updates each followed by a proposal.")
    ap.add_argument("--timeout", type=float, default=120.0, help="Client timeout of one request, seconds.")
    ap.add_argument("--postgres", default=PG_URL)
    ap.add_argument("--load-only", action="store_true", help="Only part 4 (under load).")
    ap.add_argument("--workers-list", default="1,2", help="Server processes to try in part 4.")
    ap.add_argument("--clients-list", default="1,4,16", help="Client threads in part 4.")
    ap.add_argument("--load-requests", type=int, default=200, help="Requests per level in part 4.")
    ap.add_argument("--with-job", action="store_true", help="Part 4 with a batch job running beside.")
    ap.add_argument("--job-seconds", type=float, default=60.0)
    ap.add_argument("--cold", action="store_true", help="Part 4 also without the warm-up, for the first request.")
    ap.add_argument("--baseline-root", default=None,
                    help="Part 4 also with the server of this checkout (e.g. a `git worktree` of an older "
                         "commit), each row right before the current code's: ratios within one run.")
    ap.add_argument("--generator", choices=("httpx", "wrk"), default="httpx",
                    help="Part 4's load: httpx threads (--load-requests each level) or wrk (C, --seconds each level).")
    ap.add_argument("--seconds", type=float, default=10.0, help="Length of each level with --generator wrk.")
    args = ap.parse_args(argv)

    import uuid

    from data.db import Database
    from data.generator import generate

    load_before = [round(x, 2) for x in os.getloadavg()]
    progress(f"generating scale {args.scale}")
    system = generate(scale=args.scale, seed=args.seed)
    waiting = [c.id for c in system.children if c.is_waiting]
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    db = Database(args.postgres, schema=schema)
    db.migrate()
    progress(f"saving {len(system.children)} children in PostgreSQL schema {schema}")
    db.save_system(system)
    global AUTH, DATA_DIR
    import tempfile

    AUTH = Auth(db, system)
    DATA_DIR = tempfile.mkdtemp(prefix="bench-api-")
    if args.load_only:
        groups = [g.id for g in system.sibling_groups
                  if all(system.child_by_id[c].is_waiting for c in g.child_ids)]
        try:
            workers = [int(x) for x in args.workers_list.split(",")]
            clients = [int(x) for x in args.clients_list.split(",")]
            report = {"scale": args.scale, "seed": args.seed, "children": len(system.children), "waiting": len(waiting),
                      "fratries_waiting": len(groups), "database": "postgresql", "cores": os.cpu_count(),
                      "load_average_before": load_before, "with_job": args.with_job,
                      "generator": args.generator}
            if args.cold:
                report.update(under_load(args.postgres, schema, waiting, groups, workers[:1], clients[:1], 20,
                                         args.timeout, False, args.job_seconds, warm=False))
            for w in workers:
                if args.baseline_root:
                    report.update(under_load(args.postgres, schema, waiting, groups, [w], clients, args.load_requests,
                                             args.timeout, args.with_job, args.job_seconds, root=args.baseline_root,
                                             label="baseline_", generator=args.generator, seconds=args.seconds))
                report.update(under_load(args.postgres, schema, waiting, groups, [w], clients, args.load_requests,
                                         args.timeout, args.with_job, args.job_seconds, generator=args.generator,
                                         seconds=args.seconds))
            report["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
        finally:
            db.drop_schema()
            db.dispose()
        import json
        print(json.dumps(report, indent=2))
        return
    progress("starting the server")
    proc, base = start_server(args.postgres, schema)
    AUTH.base = base
    try:
        report = {"scale": args.scale, "children": len(system.children), "database": "postgresql",
                  "cores": os.cpu_count(), "load_average_before": load_before,
                  **latency(base, waiting, args.requests, args.clients, args.timeout)}
        report["reservations"] = reservations(base, db, waiting[:args.reserve], timeout=args.timeout)
        progress(f"after a change: {args.after_change} capacity updates, each followed by a proposal")
        report["proposal_after_a_change"] = after_change(base, waiting, args.after_change, args.timeout)
        report["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    finally:
        progress("stopping the server, dropping the schema")
        proc.terminate()
        proc.wait(60)
        db.drop_schema()
        db.dispose()
    import json
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
