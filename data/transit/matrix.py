"""The origin x structure travel-time matrix: computed by the engine and cached, or imported.

Origins are the points a child's travel is read from (:attr:`matcher.model.PlacementSystem.origins`):
family homes, schools, supervised-visit sites and the places of the services that are some
child's anchor; pass ``system.origins``, not only ``system.homes``. Each is a
:class:`matcher.model.Place` (an id and a location); below, "home" means any such origin.

:func:`travel_matrix` snaps family homes to a grid (``DoorToDoor.snap_m``, 150 m by default,
Lambert-93) so that homes in one cell share one origin row: at 10x scale this bounds the rows to
the number of occupied cells. The row's origin is the mean position of the homes in the cell, so
the error is a fraction of the cell: measured on 3,000 random homes in central Paris (674 rows),
mean 0.4 min, 95% under 1.1 min, worst 5 min (where moving 100 m changes the nearest stops). The matrix is written to Parquet in the cache dir, named by a digest of the
network files, the model parameters and every home and structure coordinate, and read back
whenever the same inputs come again.

:func:`load_external_matrix` imports a matrix computed elsewhere (r5py, OpenTripPlanner, a
journey-planner API) as CSV or Parquet with columns origin (home, school, visit site or service
place id), destination (structure id),
minutes; a missing pair is unreachable. A malformed file is refused whole.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from data.errors import DataIssue, MissingFileError, PlacementDataError, SchemaError, UnknownReferenceError
from data.transit.network import TransitNetwork, to_l93
from matcher.model import Place, Structure
from matcher.travel import TravelMatrix

CACHE_ENV = "PLACEMENT_CACHE_DIR"
MATRIX_FORMAT = "travel-matrix-v3"
"""v3: points outside mainland France are NaN and no pair is a walk beyond 15 km (issue 13; v2: 5 km)."""
Home = Place
"""Any origin of the matrix (family home, school, visit site, service place)."""


def default_cache_dir() -> Path:
    """``$PLACEMENT_CACHE_DIR``, else ``~/.cache/placement-engine``."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "placement-engine")


def _inputs_digest(network: TransitNetwork, homes: Sequence[Home], structures: Sequence[Structure]) -> str:
    h = hashlib.sha256()
    h.update(f"{MATRIX_FORMAT}:{network.digest}\n".encode())
    for home in homes:
        h.update(f"H{home.id}:{home.location.lat:.7f}:{home.location.lon:.7f}\n".encode())
    for s in structures:
        h.update(f"S{s.id}:{s.location.lat:.7f}:{s.location.lon:.7f}\n".encode())
    return h.hexdigest()[:24]


def snap_homes(homes: Sequence[Home], cell_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Row of each home and the (lat, lon) origin of each row (mean of its homes), cells of ``cell_m``."""
    lat = np.array([h.location.lat for h in homes], dtype=float)
    lon = np.array([h.location.lon for h in homes], dtype=float)
    if not len(homes):
        return np.zeros(0, dtype=np.int64), np.zeros((0, 2))
    x, y = to_l93(lat, lon)
    cells = np.c_[np.floor(x / cell_m), np.floor(y / cell_m)].astype(np.int64)
    _, row, counts = np.unique(cells, axis=0, return_inverse=True, return_counts=True)
    row = row.reshape(-1)
    origins = np.c_[np.bincount(row, lat) / counts, np.bincount(row, lon) / counts]
    return row, origins


def travel_matrix(
    homes: Sequence[Home],
    structures: Sequence[Structure],
    cache_dir: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
    network: TransitNetwork | None = None,
) -> TravelMatrix:
    """Door-to-door minutes from every distinct origin to every structure (cached on disk, Parquet).

    ``homes``: the origins (``system.origins``: family homes, schools, visit sites, service
    places). Origins with the same id must be the same point (siblings share one home); rows
    are snapped origins.
    ``progress(done, total)`` is called after each chunk of origins when the matrix is computed.
    """
    unique: dict[str, Home] = {}
    for h in homes:
        if h.id in unique and unique[h.id].location != h.location:
            raise PlacementDataError(f"origin {h.id} is given twice with different locations",
                                     fr=f"l'origine {h.id} est donnée deux fois à des endroits différents")
        unique.setdefault(h.id, h)
    homes = list(unique.values())
    structures = list(structures)
    net = network or TransitNetwork.load()
    digest = _inputs_digest(net, homes, structures)
    directory = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    path = directory / f"travel-matrix-{digest}.parquet"
    structure_ids = tuple(s.id for s in structures)
    if path.is_file():
        cached = _read_cached(path, digest)
        if cached is not None:
            return cached
    row, origins = snap_homes(homes, net.params.snap_m)
    dest = np.array([(s.location.lat, s.location.lon) for s in structures], dtype=float).reshape(-1, 2)
    if len(origins) and len(dest):
        minutes = net.minutes_matrix(origins, dest, progress=progress)
    else:
        minutes = np.full((len(origins), len(dest)), np.nan, dtype=np.float32)
    matrix = TravelMatrix({h.id: int(r) for h, r in zip(homes, row)}, structure_ids, minutes)
    _write_cached(path, digest, matrix)
    return matrix


def _write_cached(path: Path, digest: str, matrix: TravelMatrix) -> None:
    """Write atomically: a half-written cache file never appears under its final name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    m = matrix.minutes.shape[1]
    flat = pa.array(matrix.minutes.astype(np.float32).reshape(-1), type=pa.float32())
    column = pa.FixedSizeListArray.from_arrays(flat, m) if m else pa.array([[]] * len(matrix.minutes), pa.list_(pa.float32()))
    meta = {
        "format": MATRIX_FORMAT,
        "digest": digest,
        "structure_ids": list(matrix.structure_ids),
        "row_of_home": dict(matrix.row_of_home),
    }
    table = pa.table({"travel_minutes": column}).replace_schema_metadata({"placement": json.dumps(meta)})
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    pq.write_table(table, tmp)
    os.replace(tmp, path)


def _read_cached(path: Path, digest: str) -> TravelMatrix | None:
    try:
        table = pq.read_table(path)
        meta = json.loads(table.schema.metadata[b"placement"])
    except Exception:  # a corrupt cache file is recomputed, never trusted
        return None
    if meta.get("format") != MATRIX_FORMAT or meta.get("digest") != digest:
        return None
    ids = tuple(meta["structure_ids"])
    col = table.column("travel_minutes").combine_chunks()
    rows = len(col)
    values = col.flatten().to_numpy(zero_copy_only=False) if rows else np.zeros(0, np.float32)
    minutes = np.asarray(values, dtype=np.float32).reshape(rows, len(ids))
    return TravelMatrix({k: int(v) for k, v in meta["row_of_home"].items()}, ids, minutes)


# --- imported matrices ---------------------------------------------------------------------------


def load_external_matrix(path: Path, homes: Sequence[Home], structures: Sequence[Structure]) -> TravelMatrix:
    """A matrix computed elsewhere: CSV or Parquet with columns origin, destination, minutes.

    origin is an origin id (``system.origins``: a family home, school, visit site or service
    place), destination a structure id, minutes a non-negative number; a pair left
    out is unreachable. Every problem (missing columns, empty, non-numeric or negative minutes,
    unknown ids, duplicated pairs) is reported at once, naming file, row and column, and the
    file is refused whole (PlacementDataError).
    """
    path = Path(path)
    name = str(path)
    if not path.is_file():
        raise MissingFileError([DataIssue(name, None, None, "file not found", "fichier introuvable")])
    try:
        if path.suffix.lower() == ".parquet":
            df = pd.read_parquet(path)
            df = df.astype({c: "string" for c in df.columns if c in ("origin", "destination")})
        else:
            df = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except Exception as err:  # unreadable: not CSV/Parquet at all
        raise SchemaError([DataIssue(name, None, None, f"cannot be read as {path.suffix or 'CSV'}: {err}",
                                     f"illisible en {path.suffix or 'CSV'} : {err}")]) from err
    required = ("origin", "destination", "minutes")
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise SchemaError(
            [DataIssue(name, 1, c, f"missing column (columns are {', '.join(map(str, df.columns)) or 'none'})",
                       f"colonne absente (les colonnes sont {', '.join(map(str, df.columns)) or 'aucune'})") for c in missing]
        )
    issues: list[DataIssue] = []
    home_ids = tuple(dict.fromkeys(h.id for h in homes))
    structure_ids = tuple(s.id for s in structures)
    home_row = {h: i for i, h in enumerate(home_ids)}
    col_of = {s: j for j, s in enumerate(structure_ids)}
    raw = df["minutes"]
    as_text = raw.astype("string").str.strip()
    minutes = pd.to_numeric(as_text, errors="coerce")
    rownum = np.arange(len(df)) + 2  # header is row 1
    for r, text, value in zip(rownum, as_text, minutes):
        if text is pd.NA or text == "" or text.lower() == "nan":
            issues.append(DataIssue(name, int(r), "minutes", "empty: leave the pair out for unreachable",
                                    "vide : omettez la paire si elle est injoignable"))
        elif pd.isna(value):
            issues.append(DataIssue(name, int(r), "minutes", f"{text!r} is not a number", f"{text!r} n'est pas un nombre"))
        elif not np.isfinite(value) or value < 0:
            issues.append(DataIssue(name, int(r), "minutes", f"{text} is not a non-negative finite number of minutes",
                                    f"{text} n'est pas un nombre fini de minutes positif ou nul"))
    origins = df["origin"].astype("string").str.strip()
    dests = df["destination"].astype("string").str.strip()
    for r, o in zip(rownum, origins):
        if o is pd.NA or o not in home_row:
            issues.append(DataIssue(name, int(r), "origin", f"unknown origin id {o!r} (home, school, visit site or service)",
                                    f"origine {o!r} inconnue (domicile, école, lieu de visite ou service)"))
    for r, d in zip(rownum, dests):
        if d is pd.NA or d not in col_of:
            issues.append(DataIssue(name, int(r), "destination", f"unknown structure id {d!r}", f"structure {d!r} inconnue"))
    dup = pd.DataFrame({"o": origins, "d": dests}).duplicated(keep="first").to_numpy()
    for r, o, d in zip(rownum[dup], origins[dup], dests[dup]):
        issues.append(DataIssue(name, int(r), "origin,destination", f"pair ({o}, {d}) appears twice",
                                f"la paire ({o}, {d}) figure deux fois"))
    if issues:
        issues.sort(key=lambda i: (i.row or 0, i.column or ""))
        cls = UnknownReferenceError if all("unknown" in i.reason for i in issues) else SchemaError
        raise cls(issues)
    matrix = np.full((len(home_ids), len(structure_ids)), np.nan, dtype=np.float32)
    matrix[origins.map(home_row).to_numpy(dtype=int), dests.map(col_of).to_numpy(dtype=int)] = minutes.to_numpy(dtype=np.float32)
    return TravelMatrix.from_homes(home_ids, structure_ids, matrix)
