"""Load test of the officers' service: uvicorn on loopback, requests from httpx threads.

    python -m benchmarks.bench_api [--scale 1] [--requests 300] [--postgres URL]

1. Seeds a store with the generated Paris scenario (``--scale``), starts
   ``uvicorn api.app:create_app --factory`` in a subprocess on it, and measures p50/p95 of
   ``GET /children/{id}/proposals`` (k=10) and ``GET /places?child_id=...&within_minutes=60``
   sent by ``--clients`` threads.
2. On PostgreSQL (``--postgres``, default the test server): 20 client threads reserve places
   of the same few units at once; reports reservations/s, conflicts, and the double bookings
   found afterwards by ``repository.double_bookings`` (must be zero).
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


def start_server(database_url: str, schema: str | None = None) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = dict(os.environ, DATABASE_URL=database_url, PLACEMENT_SWEEP_SECONDS="0")
    if schema:
        env["PGOPTIONS"] = f"-csearch_path={schema}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning"], env=env)
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


def timed(client: httpx.Client, url: str) -> float:
    t = time.perf_counter()
    r = client.get(url)
    elapsed = (time.perf_counter() - t) * 1000
    if r.status_code != 200:
        raise SystemExit(f"GET {url}: {r.status_code} {r.text[:300]}")
    return elapsed


def latency(base: str, child_ids: list[str], n: int, clients: int) -> dict[str, dict[str, float]]:
    rng = random.Random(1)
    picks = [rng.choice(child_ids) for _ in range(n)]
    out = {}
    with httpx.Client(base_url=base, timeout=60, limits=httpx.Limits(max_connections=clients)) as client:
        timed(client, f"/children/{picks[0]}/proposals?k=10")  # warm caches (snapshot, prices)
        timed(client, f"/places?child_id={picks[0]}&within_minutes=60")
        for name, pattern in (("proposals", "/children/{}/proposals?k=10"),
                              ("free_places", "/places?child_id={}&within_minutes=60")):
            with ThreadPoolExecutor(clients) as pool:
                ms = list(pool.map(lambda c: timed(client, pattern.format(c)), picks))
            out[name] = {"n": n, "p50_ms": round(statistics.median(ms), 1), "p95_ms": round(_pct(ms, 0.95), 1)}
    return out


def reservations(base: str, db, child_ids: list[str], clients: int = 20) -> dict[str, float]:
    from data.db import repository

    with db.read() as s:
        from sqlalchemy import select

        from data.db.models import UnitRow
        units = [u.id for u in s.scalars(select(UnitRow).where(UnitRow.capacity - UnitRow.occupied > 0)
                                          .order_by(UnitRow.id).limit(5))]
    results: list[int] = []

    def one(i: int) -> int:
        with httpx.Client(base_url=base, timeout=60) as c:
            return c.post("/reservations", json={"unit_id": units[i % len(units)], "child_id": child_ids[i]},
                          headers={"X-Role": "protection_officer"}).status_code

    t = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(one, range(len(child_ids))))
    wall = time.perf_counter() - t
    with db.read() as s:
        problems = repository.double_bookings(s)
    return {"clients": clients, "requests": len(results), "held": results.count(201),
            "refused_409_422": sum(1 for r in results if r in (409, 422)),
            "other": sum(1 for r in results if r not in (201, 409, 422)),
            "reservations_per_s": round(len(results) / wall, 1), "double_bookings": len(problems)}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--postgres", default=PG_URL)
    args = ap.parse_args(argv)

    import uuid

    from data.db import Database
    from data.generator import generate

    system = generate(scale=args.scale, seed=1)
    waiting = [c.id for c in system.children if c.is_waiting]
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    db = Database(args.postgres, schema=schema)
    db.migrate()
    db.save_system(system)
    proc, base = start_server(args.postgres, schema)
    try:
        report = {"scale": args.scale, "children": len(system.children), "database": "postgresql",
                  **latency(base, waiting, args.requests, args.clients),
                  "reservations": reservations(base, db, waiting[:400])}
    finally:
        proc.terminate()
        proc.wait(30)
        db.drop_schema()
        db.dispose()
    import json
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
