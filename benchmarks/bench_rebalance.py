"""Benchmark of the batch rebalancing: `python -m benchmarks.bench_rebalance [--scale 1] [--seed 1]`.

Generates the Paris scenario at ``--scale`` (``data.generator.generate``), computes the travel
matrix (cached on disk, not timed), and runs on the same instance, in the same process, the
greedy rebalancer (the farthest child first, to the nearest free eligible place) and the optimal
plan (``planning.rebalance.plan_rebalancing``: MIP with chains, warm-started from the greedy
plan), for the reference date (school year) and, with ``--summer``, a July date too. For each it
prints the moves, the minutes of family travel saved (total and per move), the disruption, the
fratries reunited, the plan's value, the model's proven bound and the gap to it, the chains,
the share placed outside Île-de-France before and after, and the wall time; then the ratios
optimal / greedy and optimal / bound. Figures go to BENCHMARKS.md ("Batch rebalancing").
Target: the plan in under 10 s at Paris scale.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import time
from datetime import date
from typing import Any

TARGET_SECONDS = 10.0


def _progress(text: str) -> None:
    print(f"[bench_rebalance {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def _figures(plan: Any) -> dict[str, Any]:
    t = plan.totals
    return {
        "wall_s": round(plan.wall_seconds, 2),
        "status": plan.status,
        "moves": t["moves"],
        "minutes_saved": t["minutes_saved"],
        "minutes_saved_per_move": t["minutes_saved_per_move"],
        "disruption": t["disruption"],
        "fratries_reunited": t["fratries_reunited"],
        "chains": t["chains"],
        "longest_chain": t["longest_chain"],
        "moves_in_chains": sum(len(c) for c in plan.chains if len(c) > 1),
        "value": round(plan.objective, 1),
        "bound": None if plan.bound is None else round(plan.bound, 1),
        "gap": None if plan.gap is None else round(plan.gap, 5),
        "outside_idf_before": plan.before.share_by_zone["province"],
        "outside_idf_after": plan.after.share_by_zone["province"],
        "median_minutes_before": plan.before.travel.median_minutes,
        "median_minutes_after": plan.after.travel.median_minutes,
        "candidates": plan.candidates,
        "excluded": plan.excluded,
        "stats": plan.stats,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--time-limit", type=float, default=None, help="MIP budget (default: weights.toml)")
    parser.add_argument("--summer", action="store_true", help="also plan for 15 July of the next year")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    from data.generator import generate
    from data.transit import travel_matrix
    from matcher import Weights
    from planning.rebalance import RebalanceSettings, greedy_rebalancing, plan_rebalancing

    settings = RebalanceSettings.default()
    if args.time_limit is not None:
        settings = RebalanceSettings.from_mapping({"time_limit_s": args.time_limit}, base=settings)
    _progress(f"generating scale {args.scale}, seed {args.seed}")
    system = generate(args.scale, args.seed)
    _progress("travel matrix (cached on disk, not timed)")
    travel = travel_matrix(system.origins, system.structures)
    weights = Weights.default()
    dates = [system.reference_date] + ([date(system.reference_date.year + 1, 7, 15)] if args.summer else [])
    report: dict[str, Any] = {
        "scale": args.scale, "seed": args.seed, "children": len(system.children),
        "placed": sum(1 for c in system.children if c.current is not None),
        "free_places": sum(u.free for u in system.units),
        "machine": f"{platform.machine()}, {platform.python_implementation()} {platform.python_version()}, "
                   "shared with other jobs",
        "runs": {},
    }
    for on in dates:
        runs: dict[str, Any] = {}
        for name, run in (("greedy", greedy_rebalancing), ("optimal", plan_rebalancing)):
            _progress(f"{name} on {on.isoformat()}")
            start = time.perf_counter()
            plan = run(system, travel, weights, settings, on=on)
            figures = _figures(plan)
            figures["wall_s"] = round(time.perf_counter() - start, 2)
            runs[name] = figures
        g, o = runs["greedy"], runs["optimal"]
        runs["ratios"] = {
            "value_optimal_over_greedy": round(o["value"] / g["value"], 3) if g["value"] else None,
            "minutes_saved_optimal_over_greedy": round(o["minutes_saved"] / g["minutes_saved"], 3) if g["minutes_saved"] else None,
            "value_optimal_over_bound": round(o["value"] / o["bound"], 4) if o["bound"] else None,
            "value_greedy_over_bound": round(g["value"] / o["bound"], 4) if o["bound"] else None,
            "wall_optimal_over_greedy": round(o["wall_s"] / g["wall_s"], 2) if g["wall_s"] else None,
            "optimal_within_target": o["wall_s"] < TARGET_SECONDS,
        }
        report["runs"][on.isoformat()] = runs
    report["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
        return 0
    print(f"scale {args.scale} seed {args.seed}: {report['children']} children, {report['placed']} placed, "
          f"{report['free_places']} free places; {report['machine']}")
    for on, runs in report["runs"].items():
        print(f"\n{on}")
        print(f"{'':10} {'moves':>6} {'saved':>9} {'/move':>6} {'disrupt':>8} {'fratries':>8} {'chains>1':>8} "
              f"{'value':>9} {'bound':>9} {'gap':>7} {'>IdF after':>10} {'wall s':>7}")
        for name in ("greedy", "optimal"):
            f = runs[name]
            gap = "-" if f["gap"] is None else f"{100 * f['gap']:.2f}%"
            bound = "-" if f["bound"] is None else f"{f['bound']:.0f}"
            print(f"{name:10} {f['moves']:>6} {f['minutes_saved']:>9.0f} {f['minutes_saved_per_move']:>6.0f} "
                  f"{f['disruption']:>8.0f} {f['fratries_reunited']:>8} {f['moves_in_chains']:>8} {f['value']:>9.0f} "
                  f"{bound:>9} {gap:>7} {100 * f['outside_idf_after']:>9.1f}% {f['wall_s']:>7.2f}")
        print(f"ratios: {runs['ratios']}")
        print(f"optimal stats: {runs['optimal']['stats']}")
    print(f"\npeak RSS {report['peak_rss_mib']} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
