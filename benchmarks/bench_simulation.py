"""Benchmark of the simulation: `python -m benchmarks.bench_simulation [--year-scale 1] [--scale 0.2] [--replications 20]`.

Three parts, each printed as JSON lines and summarised for BENCHMARKS.md ("Simulation"):

1. **A year at Paris scale with the batch policy** (``--year-scale``, default 1: the generated
   Paris instance, 5,106 children, travel minutes from the engine's cached matrix unless
   ``--travel crowfly``) on one process: wall time of the policy's year, against issue 17's
   target of 2 minutes, and the greedy policy's year in the same run as the baseline ratio.
2. **Replications of the policies** at ``--scale`` (default 0.2: the Paris calibration on a
   fifth of the children, so that many seeds fit on a shared 2-core machine) on 1 and then 2
   Dask workers (LocalCluster, one thread each): wall time of each, and the speed-up.
3. **The headline table**: each policy's share of the hindsight optimum (a proven lower bound,
   docs/SIMULATION.md) with its 95% Student-t interval over the replications, and the other
   figures' means.

The machine is shared: read absolute times as orders of magnitude and the ratios (speed-up,
batch against greedy) as the result.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from typing import Any


def _progress(text: str) -> None:
    print(f"[bench_simulation {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def _travel(system: Any, source: str) -> Any:
    if source == "crowfly":
        from api.services import CrowFlyTravel

        return CrowFlyTravel().matrix(system.origins, system.structures)
    from data.transit import travel_matrix

    return travel_matrix(system.origins, system.structures)


def year(scale: float, travel_source: str, seed: int) -> dict[str, Any]:
    """The batch policy's year (and greedy's, the baseline) at ``scale``, one process."""
    from data.generator import generate
    from matcher import Weights
    from planning.simulation import Simulation, draw_population, make_policy
    from planning.simulation_parameters import SimulationParameters

    system = generate(scale, seed=1)
    travel = _travel(system, travel_source)
    params = SimulationParameters(months=12)
    population = draw_population(system, params, seed)
    out: dict[str, Any] = {"part": "year", "scale": scale, "children": len(system.children), "units": len(system.units),
                           "arrivals": len(population.arrivals), "days": params.days, "travel": travel_source}
    for name in ("greedy", "batch"):
        _progress(f"year at scale {scale}: policy {name}")
        run = Simulation(system, travel, Weights.default(), population, params).run(make_policy(name))
        out[f"{name}_wall_s"] = round(run.wall_seconds, 1)
        out[f"{name}_placed"] = sum(r.placed for r in run.days)
    out["batch_over_greedy"] = round(out["batch_wall_s"] / max(out["greedy_wall_s"], 1e-9), 2)
    out["batch_under_2_minutes"] = out["batch_wall_s"] < 120
    return out


def replications(scale: float, n: int, travel_source: str, months: int, policies: list[str]) -> dict[str, Any]:
    """``n`` replications of the policies on 1 and 2 Dask workers; the summary of the 2-worker run."""
    from data.generator import generate
    from matcher import Weights
    from planning.simulation import replicate
    from planning.simulation_parameters import SimulationParameters

    system = generate(scale, seed=1)
    travel = _travel(system, travel_source)
    params = SimulationParameters(months=months)
    walls = {}
    results = {}
    for workers in (1, 2):
        _progress(f"{n} replications at scale {scale}, {workers} worker(s)")
        start = time.perf_counter()
        results[workers] = replicate(system, travel, Weights.default(), params, n, 1, policies, workers=workers)
        walls[workers] = round(time.perf_counter() - start, 1)
    def figures(result: dict[str, Any]) -> list:
        return [{p: {k: v for k, v in f.items() if k != "wall_seconds"} for p, f in r["policies"].items()}
                for r in result["replications"]]

    same = figures(results[1]) == figures(results[2])
    summary = results[2]["summary"]["policies"]
    table = {name: {fig: {k: (None if v is None else round(v, 4)) for k, v in summary[name][fig].items()}
                    for fig in ("share_of_hindsight", "mean_days_waited", "emergency_placements", "median_transit_minutes",
                                "p90_transit_minutes", "share_outside_ile_de_france", "fratries_split", "moves", "cost_eur",
                                "objective", f"objective_relative_to_{policies[0]}")}
             for name in policies}
    return {"part": "replications", "scale": scale, "children": len(system.children), "months": months,
            "replications": n, "policies": policies, "wall_s_1_worker": walls[1], "wall_s_2_workers": walls[2],
            "speed_up": round(walls[1] / max(walls[2], 1e-9), 2), "same_results_on_1_and_2_workers": same,
            "failures": results[2]["failures"], "population": results[2]["summary"]["population"], "table": table}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--year-scale", type=float, default=1.0)
    parser.add_argument("--scale", type=float, default=0.2)
    parser.add_argument("--replications", type=int, default=20)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--travel", choices=("transit", "crowfly"), default="transit")
    parser.add_argument("--skip-year", action="store_true")
    parser.add_argument("--skip-replications", action="store_true")
    args = parser.parse_args(argv)
    print(json.dumps({"part": "machine", "python": platform.python_version(), "cpus": os.cpu_count(),
                      "load_average": os.getloadavg(), "note": "shared machine: ratios, not absolute times"}), flush=True)
    if not args.skip_year:
        print(json.dumps(year(args.year_scale, args.travel, args.seed)), flush=True)
    if not args.skip_replications:
        out = replications(args.scale, args.replications, args.travel, args.months, ["greedy", "own", "system", "batch"])
        print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
