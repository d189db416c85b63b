"""Run every benchmark in turn (`make bench`): each prints its own ratios and figures.

Each benchmark is a module with ``main(argv)``; they run in separate processes so that one
benchmark's peak memory is not counted in the next. Figures go into BENCHMARKS.md by hand, with
the machine and the date.
"""

from __future__ import annotations

import subprocess
import sys
import time

BENCHMARKS: list[tuple[str, list[str]]] = [
    ("benchmarks.generator", []),
    ("benchmarks.bench_travel", ["--scale", "1"]),
    ("benchmarks.bench_solver", ["--scale", "1", "--scope", "all"]),
    ("benchmarks.bench_api", ["--scale", "1"]),
    ("benchmarks.bench_scenarios", []),
    ("benchmarks.bench_rebalance", ["--scale", "1", "--summer"]),
]


def main() -> int:
    failed = []
    for module, args in BENCHMARKS:
        print(f"\n=== {module} {' '.join(args)}", flush=True)
        start = time.perf_counter()
        code = subprocess.call([sys.executable, "-m", module, *args])
        print(f"=== {module}: exit {code}, {time.perf_counter() - start:.1f} s", flush=True)
        if code:
            failed.append(module)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
