"""Benchmark of the travel-time layer: `python -m benchmarks.bench_travel [--scale 1|10]`.

Builds the home x structure matrix of the generated scenario (``data.generator.generate``) with
a cold network load and an empty cache, then reads it back from the cache, then times isochrone
queries. Prints wall times, the ratio to a crow-fly distance matrix of the same shape computed
in the same run (a baseline for the machine's speed), and peak memory (tracemalloc peak of the
matrix step, and the process maximum resident size). Figures go to BENCHMARKS.md ("Travel times").
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np


def _crowfly(o: np.ndarray, d: np.ndarray) -> np.ndarray:
    lat1, lon1 = np.radians(o[:, 0])[:, None], np.radians(o[:, 1])[:, None]
    lat2, lon2 = np.radians(d[:, 0])[None, :], np.radians(d[:, 1])[None, :]
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return (6371.0 * 2 * np.arcsin(np.sqrt(a))).astype(np.float32)


def run(scale: float, seed: int, queries: int) -> dict[str, float]:
    from data.generator import generate
    from data.transit import TransitNetwork, travel_matrix
    from data.transit.matrix import snap_homes
    from data.transit.network import _load_cached

    t0 = time.perf_counter()
    system = generate(scale=scale, seed=seed)
    t_gen = time.perf_counter() - t0
    homes, structures = system.origins, system.structures

    _load_cached.cache_clear()
    t0 = time.perf_counter()
    network = TransitNetwork.load()
    t_load = time.perf_counter() - t0

    with tempfile.TemporaryDirectory() as cache:
        tracemalloc.start()
        t0 = time.perf_counter()
        matrix = travel_matrix(homes, structures, cache_dir=Path(cache), network=network)
        t_matrix = time.perf_counter() - t0
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        t0 = time.perf_counter()
        again = travel_matrix(homes, structures, cache_dir=Path(cache), network=network)
        t_cached = time.perf_counter() - t0
        assert np.array_equal(matrix.minutes, again.minutes, equal_nan=True)
        cache_bytes = sum(p.stat().st_size for p in Path(cache).iterdir())
    rss_after_matrix = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # before the baseline

    _, origins = snap_homes(homes, network.params.snap_m)
    dest = np.array([(s.location.lat, s.location.lon) for s in structures])
    t0 = time.perf_counter()
    _crowfly(origins, dest)
    t_crow = time.perf_counter() - t0

    rng = np.random.default_rng(seed)
    picks = rng.choice(len(homes), size=min(queries, len(homes)), replace=False)
    t0 = time.perf_counter()
    for i in picks:
        loc = homes[int(i)].location
        network.isochrone((loc.lat, loc.lon), 45.0, structures)
    t_iso = (time.perf_counter() - t0) / len(picks)

    v = matrix.minutes
    return {
        "scale": scale,
        "homes": len(homes),
        "structures": len(structures),
        "rows": v.shape[0],
        "generate_s": t_gen,
        "network_load_s": t_load,
        "matrix_s": t_matrix,
        "matrix_cached_s": t_cached,
        "crowfly_baseline_s": t_crow,
        "ratio_matrix_to_crowfly": t_matrix / max(t_crow, 1e-9),
        "matrix_mb": v.nbytes / 1e6,
        "cache_file_mb": cache_bytes / 1e6,
        "tracemalloc_peak_mb": peak / 1e6,
        "max_rss_mb_generate_and_matrix": rss_after_matrix,
        "isochrone_ms": t_iso * 1000,
        "median_minutes": float(np.nanmedian(v)),
        "unreachable": int(np.isnan(v).sum()),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--queries", type=int, default=20, help="isochrone queries to average")
    args = parser.parse_args(argv)
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs visible, Python {platform.python_version()}")
    result = run(args.scale, args.seed, args.queries)
    for key, value in result.items():
        print(f"{key:>26}: {value:.3f}" if isinstance(value, float) else f"{key:>26}: {value}")
    print("target: matrix_s < 60 at scale 1 on 2 cores:", "met" if result["matrix_s"] < 60 else "NOT met")


if __name__ == "__main__":
    main()
