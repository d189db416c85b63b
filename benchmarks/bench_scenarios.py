"""Benchmark: a 32-scenario sweep on Dask, on 1 and on 2 workers (speed-up and efficiency).

The sweep: 8 sizes x 4 zones (Paris, Hauts-de-Seine, Seine-Saint-Denis, Val-de-Marne) of MECS
places for the 12-15, over the generated instance at ``--scale`` (default 0.05, about 255
children, so that the whole run takes a few minutes), scope ``all``, a short optimiser time limit.
Each run starts its own LocalCluster (single-threaded worker processes) and scatters the base
instance once. Printed: wall time per worker count (cluster start-up included, and without it),
speed-up = T(1) / T(2), efficiency = speed-up / 2, and a check that both runs give the same
figures (the solves are deterministic).

    python -m benchmarks.bench_scenarios [--scale 0.05] [--seed 1] [--time-limit 2] [--workers 1 2]
"""

from __future__ import annotations

import argparse
import json
import os
import time

TEMPLATE = """
name: Banc d'essai
description: ${places} places pour les 12-15 ans en ${zone}.
seed: 1
vary:
  zone: ["75", "92", "93", "94"]
  places: [2, 4, 6, 8, 10, 12, 14, 16]
changes:
  - open: {places: "${places}", type: mecs, zone: {departement: "${zone}"}, ages: [12, 15]}
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--time-limit", type=float, default=2.0)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args(argv)

    from data.generator import generate
    from data.transit import travel_matrix
    from matcher import Weights
    from planning.runner import BaseInstance, RunSettings, run_scenarios
    from planning.sweep import parse_sweep

    system = generate(args.scale, args.seed)
    travel = travel_matrix(system.origins, system.structures)
    base = BaseInstance(system, travel, Weights.default())
    sweep = parse_sweep(TEMPLATE, "bench")
    scenarios = list(sweep.variants)
    assert len(scenarios) == 32
    settings = RunSettings(scope="all", time_limit_s=args.time_limit)
    print(f"instance: scale {args.scale:g}, seed {args.seed}: {len(system.children)} children, "
          f"{len(system.structures)} structures; {len(scenarios)} scenarios, scope all, time limit {args.time_limit:g} s; "
          f"{os.cpu_count()} CPUs (shared machine)")
    walls: dict[int, float] = {}
    figures: dict[int, list] = {}
    for workers in args.workers:
        first: list[float] = []

        def progress(done, total, name, first=first):
            if not first:
                first.append(time.perf_counter())

        start = time.perf_counter()
        results = run_scenarios(base, scenarios, settings, minutes_for=travel_matrix, workers=workers, progress=progress)
        wall = time.perf_counter() - start
        failed = [r["name"] for r in results if r["error"]]
        solve_sum = sum(r["figures"]["solver"]["wall_seconds"] for r in results if r["figures"])
        walls[workers] = wall
        figures[workers] = [json.dumps({k: v for k, v in (r["figures"] or {}).items() if k != "solver"}, sort_keys=True)
                            for r in results]
        print(f"{workers} worker(s): wall {wall:.1f} s (first result after {first[0] - start:.1f} s), "
              f"sum of per-scenario task times {solve_sum:.1f} s, failed {len(failed)}")
    if 1 in walls:
        for workers, wall in walls.items():
            if workers == 1:
                continue
            speedup = walls[1] / wall
            print(f"speed-up {workers} vs 1 worker: {speedup:.2f}x, efficiency {speedup / workers:.0%}")
            same = figures[workers] == figures[1]
            print(f"same figures on {workers} and 1 worker(s): {same}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
