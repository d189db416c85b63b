"""Benchmark of the synthetic population and of dataset import/export.

Run: ``python -m benchmarks.generator [--with-100x]``. Prints wall times, the 10x/1x ratio
(target: 1x in a few seconds, 10x well under a minute) and CSV/Parquet write/read times at 1x.
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path

from data.generator import generate
from data.io import read_dataset, write_dataset


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def main() -> None:
    generate(0.05, seed=1)  # warm the reference geography caches
    scales = [1.0, 10.0] + ([100.0] if "--with-100x" in sys.argv else [])
    times = {}
    systems = {}
    for scale in scales:
        systems[scale], times[scale] = timed(lambda: generate(scale, seed=1))
        print(f"generate {scale:>5g}x: {len(systems[scale].children):>7} children, "
              f"{len(systems[scale].structures):>6} structures, {times[scale]:6.2f} s")
    print(f"ratio 10x / 1x: {times[10.0] / times[1.0]:.1f} (linear would be 10)")
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in ("csv", "parquet"):
            path, w = timed(lambda: write_dataset(systems[1.0], Path(tmp) / fmt, fmt))
            back, r = timed(lambda: read_dataset(path))
            assert back == systems[1.0]
            print(f"1x {fmt:>7}: write {w:5.2f} s, read+validate {r:5.2f} s")
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
