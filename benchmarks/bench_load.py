"""Load on PostgreSQL, bounded and on loopback: 50 concurrent officers for 60 s, plus a
structure manager updating units.

    python -m benchmarks.bench_load [--officers 50] [--seconds 60] [--scale 0.5] [--postgres URL]

1. Starts a throwaway PostgreSQL cluster of its own (``tests.servers.private_postgres``; or the
   server named by ``--postgres``), seeds it with the generated Paris scenario (``--scale``,
   seed 1), creates one officer account per simulated officer (spread over the services, each
   acting for the children of their service) and one structure manager, and starts
   ``placement serve`` (one uvicorn process, crowfly travel) on a free loopback port.
2. Each officer, in a loop until ``--seconds`` have passed (and at most ``--max-requests`` each):
   picks a child of their service among those waiting at the start (a child placed during the
   run is asked for again: a move), asks the free places within 90 minutes of the family home,
   the proposals (k=5), holds the unit of the first proposal, then confirms the hold (two times
   in three) or cancels it. The structure manager reads a unit and changes its
   capacity by one place, up and down, all along.
   Before that, one officer alone for ``--baseline-seconds`` (10): the per-endpoint p50 under load
   is also given as a ratio to it (the machine is shared: the ratio is the figure to read).
3. Afterwards, in the store: 0 double bookings (``repository.double_bookings``); 0 lost
   confirmations (every confirmation answered 200 is a confirmed reservation with its children
   placed there and one placement row per place); 0 doubled (no reservation with more placement
   rows than places). Server errors (5xx) are counted.

Prints a JSON report (p50/p95/p99 per endpoint, counts per status) to stdout; progress to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from contextlib import ExitStack
from pathlib import Path

import httpx


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


class Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ms: dict[str, list[float]] = defaultdict(list)
        self.codes: dict[str, Counter] = defaultdict(Counter)
        self.confirmed: list[dict] = []
        self.errors: list[str] = []

    def call(self, client: httpx.Client, name: str, method: str, url: str, **kw) -> httpx.Response | None:
        t = time.perf_counter()
        try:
            r = client.request(method, url, **kw)
        except httpx.HTTPError as err:
            with self.lock:
                self.codes[name]["transport-error"] += 1
                self.errors.append(f"{name}: {type(err).__name__}")
            return None
        ms = (time.perf_counter() - t) * 1000
        with self.lock:
            self.ms[name].append(ms)
            self.codes[name][r.status_code] += 1
            if r.status_code >= 500:
                self.errors.append(f"{name}: {r.status_code} {r.text[:200]}")
        return r


def officer_loop(base: str, headers: dict, children: list[str], rec: Recorder, until: float, max_requests: int,
                 seed: int) -> None:
    rng = random.Random(seed)
    sent = 0
    with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
        while time.monotonic() < until and sent < max_requests and children:
            child = rng.choice(children)
            rec.call(client, "GET /places?child_id", "GET", f"/places?child_id={child}&within_minutes=90&limit=20")
            r = rec.call(client, "GET /children/{id}/proposals", "GET", f"/children/{child}/proposals?k=5")
            sent += 2
            if r is None or r.status_code != 200 or not r.json()["proposals"]:
                continue
            unit_id = r.json()["proposals"][0]["placements"][0]["unit_id"]
            r = rec.call(client, "POST /reservations", "POST", "/reservations", json={"unit_id": unit_id, "child_id": child})
            sent += 1
            if r is None or r.status_code != 201:
                continue
            rid = r.json()["id"]
            if rng.random() < 2 / 3:
                r = rec.call(client, "POST /reservations/{id}/confirm", "POST", f"/reservations/{rid}/confirm")
                if r is not None and r.status_code == 200:  # placed; asked again later, it is a move
                    with rec.lock:
                        rec.confirmed.append({"id": rid, "unit_id": unit_id, "child_ids": r.json()["child_ids"]})
            else:
                rec.call(client, "POST /reservations/{id}/cancel", "POST", f"/reservations/{rid}/cancel")
            sent += 1


def manager_loop(base: str, headers: dict, units: list[str], rec: Recorder, until: float, seed: int) -> None:
    rng = random.Random(seed)
    with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
        while time.monotonic() < until:
            unit_id = rng.choice(units)
            r = rec.call(client, "GET /units/{id}", "GET", f"/units/{unit_id}")
            if r is None or r.status_code != 200:
                continue
            capacity = r.json()["capacity"] + rng.choice((1, -1))
            rec.call(client, "PATCH /units/{id}", "PATCH", f"/units/{unit_id}", json={"capacity": max(capacity, 0)})
            time.sleep(0.2)


def check_store(url: str, confirmed: list[dict]) -> dict:
    from sqlalchemy import func, select

    from data.db import Database
    from data.db.models import ChildRow, PlacementRow, ReservationRow
    from data.db.repository import double_bookings

    db = Database(url)
    try:
        with db.read() as s:
            problems = double_bookings(s)
            per_reservation = dict(s.execute(select(PlacementRow.reservation_id, func.count())
                                             .group_by(PlacementRow.reservation_id)).all())
            places = dict(s.execute(select(ReservationRow.id, ReservationRow.places)).all())
            status = dict(s.execute(select(ReservationRow.id, ReservationRow.status)).all())
            current = dict(s.execute(select(ChildRow.id, ChildRow.current_unit_id)).all())
    finally:
        db.dispose()
    last_unit = {child: c["unit_id"] for c in confirmed for child in c["child_ids"]}  # one officer per child: in order
    lost = [c["id"] for c in confirmed
            if status.get(c["id"]) != "confirmed" or per_reservation.get(c["id"], 0) != places.get(c["id"])]
    lost += [child for child, unit_id in last_unit.items() if current.get(child) != unit_id]
    doubled = [rid for rid, n in per_reservation.items() if rid is not None and n > places.get(rid, 0)]
    return {"double_bookings": len(problems), "double_booking_examples": problems[:3],
            "lost_confirmations": len(lost), "doubled_confirmations": len(doubled),
            "confirmed_in_store": sum(1 for v in status.values() if v == "confirmed")}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--officers", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--max-requests", type=int, default=5000, help="Most requests one officer sends.")
    ap.add_argument("--scale", type=float, default=0.5)
    ap.add_argument("--baseline-seconds", type=float, default=10.0,
                    help="First, one officer alone for this long: the baseline of the ratios.")
    ap.add_argument("--postgres", default=None, help="SQLAlchemy URL of an empty PostgreSQL database "
                    "(default: a throwaway cluster of our own on loopback).")
    args = ap.parse_args(argv)
    if not 1 <= args.officers <= 200 or not 1 <= args.seconds <= 600:
        raise SystemExit("--officers 1..200 and --seconds 1..600: the run is bounded")

    from data.db import Database
    from data.generator import generate
    from tests.servers import add_accounts, private_postgres, served, sign_in

    load_before = [round(x, 2) for x in os.getloadavg()]
    with ExitStack() as stack:
        url = args.postgres or stack.enter_context(private_postgres()).url
        progress(f"generating scale {args.scale} (seed 1)")
        system = generate(scale=args.scale, seed=1)
        db = Database(url)
        db.migrate()
        db.save_system(system)
        db.dispose()
        by_service: dict[str, list[str]] = defaultdict(list)
        for c in system.children:
            if c.is_waiting:
                by_service[c.service.value].append(c.id)
        services = sorted(by_service, key=lambda s: -len(by_service[s]))
        officers = {f"officer-{i:02d}": {"role": "officer", "service": services[i % len(services)]}
                    for i in range(args.officers)}
        managed = [s.id for s in system.structures if not s.secret][:40]
        profiles = {**officers, "manager": {"role": "structure_manager", "structure_ids": managed}}
        progress(f"{len(system.children)} children, {sum(map(len, by_service.values()))} waiting; "
                 f"{args.officers} officers over {min(len(services), args.officers)} services")
        passwords = add_accounts(url, profiles)
        data_dir = Path(tempfile.mkdtemp(prefix="bench-load-"))
        server = stack.enter_context(served(url, data_dir, timeout_s=600))
        progress("warming up (first load, travel matrix, capacity prices)")
        tokens = {name: sign_in(server.base, name, pw) for name, pw in passwords.items()}
        for service in {p["service"] for p in officers.values()}:
            httpx.get(f"{server.base}/children/{by_service[service][0]}/proposals?k=1",
                      headers=tokens[next(n for n, p in officers.items() if p["service"] == service)], timeout=600)
        # each officer takes a share of the children of their service
        shares: dict[str, list[str]] = {}
        for service in services:
            names = [n for n, p in officers.items() if p["service"] == service]
            for k, name in enumerate(names):
                shares[name] = by_service[service][k::len(names)]
        units = [u.id for u in system.units if u.structure_id in set(managed)]
        baseline = Recorder()
        if args.baseline_seconds > 0:
            progress(f"baseline: one officer alone for {args.baseline_seconds:g} s")
            first = next(iter(officers))
            officer_loop(server.base, tokens[first], list(shares[first]), baseline,
                         time.monotonic() + args.baseline_seconds, args.max_requests, 1000)
        rec = Recorder()
        progress(f"{args.officers} officers and a structure manager for {args.seconds:g} s")
        until = time.monotonic() + args.seconds
        started = time.monotonic()
        threads = [threading.Thread(target=officer_loop, args=(server.base, tokens[name], shares[name], rec, until,
                                                               args.max_requests, i))
                   for i, name in enumerate(officers)]
        threads.append(threading.Thread(target=manager_loop, args=(server.base, tokens["manager"], units, rec, until, 99)))
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.monotonic() - started
        progress("checking the store")
        checked = check_store(url, baseline.confirmed + rec.confirmed)
    endpoints = {
        name: {"n": len(ms), "p50_ms": round(statistics.median(ms), 1), "p95_ms": round(_pct(ms, 0.95), 1),
               "p99_ms": round(_pct(ms, 0.99), 1), "status": {str(k): v for k, v in sorted(rec.codes[name].items(), key=str)}}
        for name, ms in sorted(rec.ms.items())
    }
    for name, stats in endpoints.items():
        alone = baseline.ms.get(name)
        if alone:
            stats["p50_ms_one_officer_alone"] = round(statistics.median(alone), 1)
            stats["p50_ratio_to_one_officer"] = round(stats["p50_ms"] / statistics.median(alone), 1)
    requests = sum(len(ms) for ms in rec.ms.values())
    report = {
        "database": "postgresql (throwaway cluster)" if not args.postgres else "postgresql",
        "scale": args.scale, "seed": 1, "children": len(system.children), "officers": args.officers,
        "seconds": round(wall, 1), "requests": requests, "requests_per_s": round(requests / wall, 1),
        "server_errors": sum(v for r in (rec, baseline) for c in r.codes.values() for k, v in c.items()
                             if isinstance(k, int) and k >= 500),
        "transport_errors": sum(c.get("transport-error", 0) for c in rec.codes.values()),
        "confirmed_answers": len(rec.confirmed), **checked, "endpoints": endpoints,
        "error_examples": rec.errors[:5], "cores": os.cpu_count(), "load_average_before": load_before,
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
