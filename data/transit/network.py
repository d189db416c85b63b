"""The transit engine: door-to-door public-transport minutes over the stop graph.

Load once, compute many (the r5py habit): :meth:`TransitNetwork.load` reads the compact files of
data/reference/transit/, builds the stop graph and computes every stop-to-stop time once with
``scipy.sparse.csgraph.dijkstra``; then :meth:`journey`, :meth:`minutes_matrix` and
:meth:`isochrone` are cheap min-plus products over nearest stops (a KD-tree on Lambert-93).

The graph has three kinds of node: for every stop a *departure* node (you stand in the station,
ready to board) and an *arrival* node (you just got off), and for every line calling at a stop a
*line-stop* node (you are on that line's train at that stop). Edges:

* departure -> line-stop: waiting, half the line's headway at that stop, capped (minutes);
* line-stop -> line-stop: in-vehicle time of the line between consecutive stops;
* line-stop -> arrival: getting off (no cost);
* arrival -> departure of the same stop: a transfer (``transfer_min``);
* arrival -> departure of another stop within ``transfer_walk_radius_m``: walk + ``transfer_min``.

A journey is access (walk, or a feeder bus beyond walking distance) to the departure node of one
of the k nearest stops, the shortest path to the arrival node of one of the k nearest stops of
the destination, and egress; walking all the way only below 5 km. Only points in mainland
metropolitan France are served (:func:`served`): at sea, abroad, in Corsica or overseas a point
is unreachable (NaN). Province stations are arrival points reached from Île-de-France
gateway stations by TER/TGV (rail minutes precomputed by the build step). The figure is the
average over a weekday 09:00-18:00 window: see docs/TRAVEL_TIMES.md.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable, Sequence

import networkx as nx
import numpy as np
import pandas as pd
from pyproj import Transformer
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from data.errors import DataIssue, MissingFileError, PlacementDataError
from data.transit.parameters import DoorToDoor

REFERENCE_DIR = Path(__file__).resolve().parent.parent / "reference" / "transit"
REFERENCE_FILES = ("stops.csv", "edges.csv", "line_stops.csv", "province_stations.csv", "rail_gateways.csv")
_TO_L93 = Transformer.from_crs("EPSG:4326", "EPSG:2154", always_xy=True)
_EPS = 1e-4
"""A zero-cost edge is stored as this many minutes (csgraph drops explicit zeros)."""
ROAD_MAX_KM = 1000.0
"""A point farther than this from :data:`SERVICE_AREA_CENTRE` is called overseas (or 0,0) in the
reason given for it; the test of what the network serves is :func:`served`."""
SERVICE_AREA_CENTRE = (46.6, 2.5)
"""Centre of mainland France (lat, lon)."""
CORSICA_DEPARTEMENTS = ("2A", "2B")
"""Corsica: no ferry or plane is modelled, so no journey reaches it."""
DIRECT_FEEDER_MAX_M = 5000.0
"""A direct feeder (bus) from origin to destination is considered only below this distance."""
DIRECT_WALK_MAX_M = 15000.0
"""Walking all the way is considered only below this distance (about 4 h on foot): beyond it a
walk is never an answer (the network, the road fallback or unreachable; before issue 13 a pair
the network did not join came out as a walk of days). It was 5 km for a while: then 623 pairs of
the generated Paris instance 5-7 km apart in the provinces (an 81-minute walk) went by train
through Paris, up to 378 minutes more, and in Île-de-France a 7.5 km walk (112 min) became a
118-minute journey."""


@dataclass(frozen=True, slots=True)
class Leg:
    """One step of a journey. ``kind`` is walk, wait, ride, transfer, feeder or road; minutes."""

    kind: str
    minutes: float
    line: str | None = None
    from_name: str | None = None
    to_name: str | None = None


@dataclass(frozen=True, slots=True)
class Journey:
    """Door-to-door public-transport minutes and the steps that make them up."""

    minutes: float
    legs: list[Leg] = field(default_factory=list)

    @property
    def reachable(self) -> bool:
        return bool(np.isfinite(self.minutes))


@lru_cache(maxsize=1)
def _land() -> tuple[object, object]:
    """(mainland, Corsica) as prepared shapely geometries (lon/lat degrees): the metropolitan
    départements of data/reference/geography/, each widened by the tolerance that
    :func:`data.geography.locate` gives a simplified coastline or border
    (``NEAREST_DEPARTEMENT_MAX_DEGREES``): a point it places in a mainland département is served."""
    import shapely

    from data.geography import NEAREST_DEPARTEMENT_MAX_DEGREES, departements

    deps = departements()
    corsica = deps.code.isin(CORSICA_DEPARTEMENTS).to_numpy()
    areas = []
    for part in (~corsica, corsica):
        area = shapely.union_all(deps.geometry.to_numpy()[part]).buffer(NEAREST_DEPARTEMENT_MAX_DEGREES)
        shapely.prepare(area)
        areas.append(area)
    return areas[0], areas[1]


def served(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Whether each point lies in the area the network serves: mainland metropolitan France
    (the départements, Corsica excepted, within about 10 km for simplified coastlines and
    borders). Vectorised: a few milliseconds for thousands of points."""
    import shapely

    lat = np.asarray(lat, dtype=float)
    lon = np.asarray(lon, dtype=float)
    return np.asarray(shapely.contains_xy(_land()[0], lon, lat), dtype=bool).reshape(lat.shape)


def km_from_service_area(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Great-circle kilometres from :data:`SERVICE_AREA_CENTRE` (the Lambert-93 projection is
    meaningless far from France, so this check does not use it)."""
    p1, l1 = np.radians(SERVICE_AREA_CENTRE[0]), np.radians(SERVICE_AREA_CENTRE[1])
    p2, l2 = np.radians(np.asarray(lat, dtype=float)), np.radians(np.asarray(lon, dtype=float))
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin((l2 - l1) / 2) ** 2
    return 2 * 6371.0 * np.arcsin(np.sqrt(np.clip(a, 0, 1)))


def outside_service_area(lat: float, lon: float) -> bool:
    """True for a point the network cannot reach at all (see :func:`served`)."""
    return not bool(served(np.array([lat]), np.array([lon]))[0])


UNSERVED_REASONS = ("swapped", "overseas", "corsica", "outside")
"""Why a point is not served: latitude and longitude swapped (the point swapped back is served);
more than :data:`ROAD_MAX_KM` from mainland France (overseas, 0,0); in Corsica (no ferry or plane
modelled); elsewhere outside mainland France (at sea, or abroad beyond the border)."""


def unserved_reason(lat: float, lon: float) -> str | None:
    """None for a served point, else one of :data:`UNSERVED_REASONS`."""
    import shapely

    if not outside_service_area(lat, lon):
        return None
    if abs(lon) <= 90 and not outside_service_area(lon, lat):
        return "swapped"
    if float(km_from_service_area(np.array([lat]), np.array([lon]))[0]) > ROAD_MAX_KM:
        return "overseas"
    if bool(shapely.contains_xy(_land()[1], lon, lat)):
        return "corsica"
    return "outside"


def to_l93(lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 latitude/longitude to Lambert-93 metres."""
    x, y = _TO_L93.transform(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    return np.asarray(x), np.asarray(y)


def _files_digest(directory: Path) -> str:
    h = hashlib.sha256()
    for name in REFERENCE_FILES:
        h.update(name.encode())
        h.update((directory / name).read_bytes())
    return h.hexdigest()[:16]


class TransitNetwork:
    """The stop graph with every stop-to-stop time computed. Build with :meth:`load`."""

    def __init__(self, directory: Path, params: DoorToDoor):
        missing = [n for n in REFERENCE_FILES if not (directory / n).is_file()]
        if missing:
            raise MissingFileError(
                [
                    DataIssue(str(directory / n), None, None,
                              "transit reference file missing: run python -m data.transit.build_reference",
                              "fichier de référence des transports absent : lancez python -m data.transit.build_reference")
                    for n in missing
                ]
            )
        self.params = params
        self.directory = directory
        self.files_digest = _files_digest(directory)
        self.digest = hashlib.sha256(f"{self.files_digest}:{params.digest()}".encode()).hexdigest()[:16]
        stops = pd.read_csv(directory / "stops.csv", dtype={"stop_id": str})
        edges = pd.read_csv(directory / "edges.csv", dtype={"from_stop": str, "to_stop": str})
        heads = pd.read_csv(directory / "line_stops.csv", dtype={"stop_id": str})
        prov = pd.read_csv(directory / "province_stations.csv", dtype={"uic": str, "departement": str})
        gw = pd.read_csv(directory / "rail_gateways.csv", dtype={"gateway_stop": str, "uic": str})
        self.stop_ids = stops.stop_id.to_numpy()
        self.stop_names = stops.name.to_numpy()
        n = len(stops)
        self.n_stops = n
        stop_index = {s: i for i, s in enumerate(self.stop_ids)}
        self.stop_index = stop_index
        # line-stop nodes: every (line, stop) an edge touches or a headway names
        ls = pd.concat(
            [
                edges[["line", "from_stop"]].rename(columns={"from_stop": "stop_id"}),
                edges[["line", "to_stop"]].rename(columns={"to_stop": "stop_id"}),
            ]
        ).drop_duplicates()
        ls = ls.merge(heads[["line", "stop_id", "headway_min"]], on=["line", "stop_id"], how="left")
        ls["headway_min"] = ls.headway_min.fillna(ls.groupby("line").headway_min.transform("median")).fillna(15.0)
        ls = ls.reset_index(drop=True)
        self.line_of_node = ls.line.to_numpy()
        self.stop_of_node = ls.stop_id.map(stop_index).to_numpy()
        ls_index = {(l, s): 2 * n + i for i, (l, s) in enumerate(zip(ls.line, ls.stop_id))}
        n_nodes = 2 * n + len(ls)
        self.n_nodes = n_nodes
        rows, cols, w = [], [], []

        def add(r, c, x):
            rows.extend(r)
            cols.extend(c)
            w.extend(x)

        s_idx = ls.stop_id.map(stop_index).to_numpy()
        ls_nodes = np.arange(2 * n, n_nodes)
        add(s_idx, ls_nodes, np.minimum(ls.headway_min.to_numpy() / 2.0, params.max_wait_min))  # wait
        add(ls_nodes, n + s_idx, np.full(len(ls), _EPS))  # get off
        add(
            [ls_index[(l, s)] for l, s in zip(edges.line, edges.from_stop)],
            [ls_index[(l, s)] for l, s in zip(edges.line, edges.to_stop)],
            np.maximum(edges.minutes.to_numpy(), _EPS),
        )
        add(np.arange(n) + n, np.arange(n), np.full(n, params.transfer_min))  # transfer in place
        self.x, self.y = stops.x.to_numpy(), stops.y.to_numpy()
        tree = cKDTree(np.c_[self.x, self.y])
        pairs = tree.query_pairs(params.transfer_walk_radius_m, output_type="ndarray")
        if len(pairs):
            d = np.hypot(self.x[pairs[:, 0]] - self.x[pairs[:, 1]], self.y[pairs[:, 0]] - self.y[pairs[:, 1]])
            t = self._walk(d) + params.transfer_min
            add(n + pairs[:, 0], pairs[:, 1], t)
            add(n + pairs[:, 1], pairs[:, 0], t)
        g = pd.DataFrame({"r": rows, "c": cols, "w": w}).groupby(["r", "c"], as_index=False).w.min()
        self.graph = csr_matrix((g.w.to_numpy(), (g.r.to_numpy(), g.c.to_numpy())), shape=(n_nodes, n_nodes))
        all_pairs = dijkstra(self.graph, indices=np.arange(n))
        self.stop_to_stop = all_pairs[:, n : 2 * n].astype(np.float32)
        """Minutes from the departure node of stop i to the arrival node of stop j (inf: none)."""
        # province stations: arrival points reached from gateway stops by rail
        self.prov_uic = prov.uic.to_numpy()
        self.prov_names = prov.name.to_numpy()
        self.n_prov = len(prov)
        prov_index = {u: i for i, u in enumerate(self.prov_uic)}
        gateways = sorted(set(gw.gateway_stop) & set(stop_index))
        self.gateway_stops = np.array([stop_index[g] for g in gateways], dtype=int)
        gpos = {g: i for i, g in enumerate(gateways)}
        gw = gw[gw.gateway_stop.isin(gpos) & gw.uic.isin(prov_index)]
        rail = np.full((len(gateways), len(prov)), np.inf, dtype=np.float32)
        rail[gw.gateway_stop.map(gpos).to_numpy(), gw.uic.map(prov_index).to_numpy()] = gw.minutes.to_numpy()
        self.rail = rail
        """Minutes by TER/TGV from gateway g (boarding buffers included) to province station p."""
        to_prov = np.full((n, len(prov)), np.inf, dtype=np.float32)
        self._best_gateway = np.zeros((n, len(prov)), dtype=np.int16)
        for gi, s in enumerate(self.gateway_stops):
            via = self.stop_to_stop[:, s][:, None] + rail[gi][None, :]
            via[s] = rail[gi]  # already standing at the gateway
            better = via < to_prov
            to_prov[better] = via[better]
            self._best_gateway[better] = gi
        self.to_province = to_prov
        self.px = np.r_[self.x, prov.x.to_numpy()]
        self.py = np.r_[self.y, prov.y.to_numpy()]
        self.point_is_province = np.r_[np.zeros(n, bool), np.ones(len(prov), bool)]
        self.point_tree = cKDTree(np.c_[self.px, self.py])
        self.arrival_rows = np.c_[self.stop_to_stop, to_prov]
        """(stops, stops + province stations): minutes from each stop to each arrival point."""

    # --- loading -------------------------------------------------------------------------------

    @classmethod
    def load(cls, directory: Path | None = None, params: DoorToDoor | None = None) -> TransitNetwork:
        """The network from data/reference/transit/ (cached: built once per directory and parameters)."""
        return _load_cached(Path(directory or REFERENCE_DIR).resolve(), params or DoorToDoor())

    # --- door-to-door pieces -------------------------------------------------------------------

    def _walk(self, metres: np.ndarray) -> np.ndarray:
        p = self.params
        return np.asarray(metres) * p.detour_factor / (p.walk_kmh * 1000.0 / 60.0)

    def _feeder(self, metres: np.ndarray, province: np.ndarray) -> np.ndarray:
        p = self.params
        kmh = np.where(province, p.feeder_kmh_province, p.feeder_kmh_idf)
        wait = np.where(province, p.feeder_wait_province_min, p.feeder_wait_idf_min)
        return wait + np.asarray(metres) * p.detour_factor / (kmh * 1000.0 / 60.0)

    def _access(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """k nearest points (stops and province stations): indices, minutes, and whether walked."""
        k = min(self.params.access_k, len(self.px))
        dist, idx = self.point_tree.query(np.c_[x, y], k=k)
        dist, idx = dist.reshape(len(x), k), idx.reshape(len(x), k)
        walk = self._walk(dist)
        feeder = self._feeder(dist, self.point_is_province[idx])
        minutes = np.minimum(walk, feeder)
        minutes[dist > self.params.max_feeder_m] = np.inf
        return idx, minutes.astype(np.float32), walk <= feeder

    def _departure_rows(self, points: np.ndarray) -> np.ndarray:
        """Minutes from departure points (stops, or province stations by symmetry) to arrival points."""
        n = self.n_stops
        out = np.empty((len(points), n + self.n_prov), dtype=np.float32)
        idf = points < n
        out[idf] = self.arrival_rows[points[idf]]
        for r in np.flatnonzero(~idf):
            p = points[r] - n
            # from a province station: the reverse of the trip into it (same minutes both ways),
            # and to another province station through a gateway
            out[r, :n] = self.to_province[:, p]
            out[r, n:] = np.min(self.rail[:, p][:, None] + self.rail, axis=0)
            out[r, n + p] = np.inf
        return out

    def _road(self, d_m: np.ndarray) -> np.ndarray:
        p = self.params
        return p.road_fixed_min + d_m * p.detour_factor / (p.road_kmh * 1000.0 / 60.0)

    def minutes_matrix(
        self,
        origins: np.ndarray,
        destinations: np.ndarray,
        chunk: int = 256,
        progress: Callable[[int, int], None] | None = None,
    ) -> np.ndarray:
        """Door-to-door minutes (float32, NaN = unreachable), origins (n, 2) x destinations (m, 2) lat/lon.

        min over access stop i and egress point j of access + stop-to-point + egress, computed as
        min-plus products in chunks of origins; direct walking or a direct bus (below 5 km) when
        shorter; road when the data gives no public-transport path. A point outside the served
        area (:func:`served`: at sea, abroad, in Corsica, overseas) is unreachable: NaN.
        """
        origins = _as_points(origins, "origins")
        destinations = _as_points(destinations, "destinations")
        ox, oy = to_l93(origins[:, 0], origins[:, 1])
        dx, dy = to_l93(destinations[:, 0], destinations[:, 1])
        a_idx, a_min, _ = self._access(ox, oy)
        e_idx, e_min, _ = self._access(dx, dy)
        o_out = ~served(origins[:, 0], origins[:, 1])
        d_out = ~served(destinations[:, 0], destinations[:, 1])
        n_o, m = len(origins), len(destinations)
        out = np.empty((n_o, m), dtype=np.float32)
        k = a_idx.shape[1]
        for start in range(0, n_o, chunk):
            stop = min(start + chunk, n_o)
            uniq, inv = np.unique(a_idx[start:stop], return_inverse=True)
            rows = self._departure_rows(uniq)
            inv = inv.reshape(stop - start, k)
            best = np.full((stop - start, rows.shape[1]), np.inf, dtype=np.float32)
            for kk in range(k):
                np.minimum(best, a_min[start:stop, kk, None] + rows[inv[:, kk]], out=best)
            t = np.full((stop - start, m), np.inf, dtype=np.float32)
            for kk in range(e_idx.shape[1]):
                np.minimum(t, best[:, e_idx[:, kk]] + e_min[None, :, kk], out=t)
            d = np.hypot(ox[start:stop, None] - dx[None, :], oy[start:stop, None] - dy[None, :])
            direct = np.where(d <= DIRECT_WALK_MAX_M, self._walk(d), np.inf)
            bus = np.where(d <= DIRECT_FEEDER_MAX_M, self._feeder(d, np.zeros_like(d, bool)), np.inf)
            np.minimum(t, np.minimum(direct, bus).astype(np.float32), out=t)
            t = np.where(np.isfinite(t), t, self._road(d)).astype(np.float32)
            t[o_out[start:stop]] = np.nan
            t[:, d_out] = np.nan
            out[start:stop] = t
            if progress is not None:
                progress(stop, n_o)
        return out

    # --- one journey, with its legs ------------------------------------------------------------

    def journey(self, origin: tuple[float, float], destination: tuple[float, float]) -> Journey:
        """Door-to-door minutes between two (lat, lon) points, with the legs of the fastest way."""
        o = _as_points(np.array([origin], dtype=float), "origin")
        d = _as_points(np.array([destination], dtype=float), "destination")
        total = float(self.minutes_matrix(o, d)[0, 0])
        ox, oy = to_l93(o[:, 0], o[:, 1])
        dx, dy = to_l93(d[:, 0], d[:, 1])
        dist = float(np.hypot(ox - dx, oy - dy)[0])
        if not np.isfinite(total):
            return Journey(float("nan"), [])
        if dist <= DIRECT_WALK_MAX_M and abs(total - float(self._walk(dist))) < 1e-3:
            return Journey(total, [Leg("walk", total, None, "origin", "destination")])
        a_idx, a_min, a_walk = self._access(ox, oy)
        e_idx, e_min, e_walk = self._access(dx, dy)
        rows = self._departure_rows(a_idx[0])
        cand = a_min[0][:, None] + rows[:, e_idx[0]] + e_min[0][None, :]
        i, j = np.unravel_index(int(np.argmin(cand)), cand.shape)
        best = float(cand[i, j])
        if not np.isfinite(best) or best > total + 1e-3:
            bus = float(self._feeder(np.array(dist), np.array(False)))
            if abs(total - bus) < 1e-3:
                return Journey(total, [Leg("feeder", total, "bus (assumed)", "origin", "destination")])
            return Journey(total, [Leg("road", total, "road (assumed)", "origin", "destination")])
        dep, arr = int(a_idx[0, i]), int(e_idx[0, j])
        legs = [self._access_leg(float(a_min[0, i]), bool(a_walk[0, i]), "origin", self._point_name(dep), dep)]
        legs += self._network_legs(dep, arr)
        legs.append(self._access_leg(float(e_min[0, j]), bool(e_walk[0, j]), self._point_name(arr), "destination", arr))
        return Journey(best, [leg for leg in legs if leg.minutes > 0.005 or leg.kind == "ride"])

    def _point_name(self, point: int) -> str:
        n = self.n_stops
        return str(self.stop_names[point]) if point < n else str(self.prov_names[point - n])

    def _access_leg(self, minutes: float, walked: bool, a: str, b: str, point: int) -> Leg:
        if walked:
            return Leg("walk", minutes, None, a, b)
        mode = "local bus or taxi (assumed)" if point >= self.n_stops else "bus (assumed)"
        return Leg("feeder", minutes, mode, a, b)

    def _network_legs(self, dep: int, arr: int) -> list[Leg]:
        n = self.n_stops
        if dep >= n:  # from a province station: rail to the gateway, then the network (reverse)
            p = dep - n
            if arr < n:
                gi = int(self._best_gateway[arr, p])
                g = int(self.gateway_stops[gi])
                back = self._stop_path_legs(g, arr) if g != arr else []
                return [Leg("ride", float(self.rail[gi, p]), "TER/TGV", self._point_name(dep), self._point_name(g))] + back
            gi = int(np.argmin(self.rail[:, p] + self.rail[:, arr - n]))
            g = int(self.gateway_stops[gi])
            return [
                Leg("ride", float(self.rail[gi, p]), "TER/TGV", self._point_name(dep), self._point_name(g)),
                Leg("ride", float(self.rail[gi, arr - n]), "TER/TGV", self._point_name(g), self._point_name(arr)),
            ]
        if arr < n:
            return self._stop_path_legs(dep, arr)
        p = arr - n
        gi = int(self._best_gateway[dep, p])
        g = int(self.gateway_stops[gi])
        legs = self._stop_path_legs(dep, g) if g != dep else []
        if legs:
            legs.append(Leg("transfer", 0.0, None, self._point_name(g), self._point_name(g)))
        legs.append(Leg("ride", float(self.rail[gi, p]), "TER/TGV (incl. boarding buffers)", self._point_name(g), self._point_name(arr)))
        return legs

    def _stop_path_legs(self, dep: int, arr: int) -> list[Leg]:
        """Legs from the departure node of stop ``dep`` to the arrival node of stop ``arr``."""
        n = self.n_stops
        _, pred = dijkstra(self.graph, indices=dep, return_predecessors=True)
        path = [n + arr]
        while path[-1] != dep:
            prev = int(pred[path[-1]])
            if prev < 0:
                return []
            path.append(prev)
        path.reverse()
        legs: list[Leg] = []
        for u, v in zip(path[:-1], path[1:]):
            w = float(self.graph[u, v])
            if u < n and v >= 2 * n:  # board
                line = str(self.line_of_node[v - 2 * n])
                legs.append(Leg("wait", w, line, str(self.stop_names[u]), str(self.stop_names[u])))
            elif u >= 2 * n and v >= 2 * n:  # ride
                line = str(self.line_of_node[u - 2 * n])
                a, b = int(self.stop_of_node[u - 2 * n]), int(self.stop_of_node[v - 2 * n])
                last = legs[-1] if legs else None
                if last is not None and last.kind == "ride" and last.line == line:
                    legs[-1] = Leg("ride", last.minutes + w, line, last.from_name, str(self.stop_names[b]))
                else:
                    legs.append(Leg("ride", w, line, str(self.stop_names[a]), str(self.stop_names[b])))
            elif n <= u < 2 * n and v < n:  # transfer
                legs.append(Leg("transfer", w, None, str(self.stop_names[u - n]), str(self.stop_names[v])))
        return legs

    # --- isochrone -----------------------------------------------------------------------------

    def isochrone(self, origin: tuple[float, float], minutes: float, structures: Sequence) -> list[tuple[str, float]]:
        """Structures reachable within ``minutes`` of ``origin`` (lat, lon): (id, minutes), fastest first."""
        if not minutes > 0:
            raise PlacementDataError(f"isochrone: minutes must be positive, got {minutes}",
                                     fr=f"isochrone : les minutes doivent être positives, reçu {minutes}")
        if not structures:
            return []
        dest = np.array([(s.location.lat, s.location.lon) for s in structures], dtype=float)
        t = self.minutes_matrix(np.array([origin], dtype=float), dest)[0]
        hits = [(s.id, float(v)) for s, v in zip(structures, t) if np.isfinite(v) and v <= minutes]
        return sorted(hits, key=lambda h: (h[1], h[0]))

    # --- inspection ----------------------------------------------------------------------------

    def stop_graph(self) -> nx.DiGraph:
        """The stop graph as networkx (nodes: departure/arrival/line-stop), for inspection."""
        g = nx.DiGraph()
        coo = self.graph.tocoo()
        g.add_weighted_edges_from(zip(coo.row.tolist(), coo.col.tolist(), coo.data.tolist()), weight="minutes")
        return g


def _as_points(points: np.ndarray, what: str) -> np.ndarray:
    arr = np.asarray(points, dtype=float)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise PlacementDataError(f"{what}: expected an (n, 2) array of latitude, longitude; got shape {arr.shape}",
                                 fr=f"{what} : un tableau (n, 2) de latitudes et longitudes est attendu, reçu la forme {arr.shape}")
    bad = ~np.isfinite(arr).all(axis=1) | (np.abs(arr[:, 0]) > 90) | (np.abs(arr[:, 1]) > 180)
    if bad.any():
        r = int(np.flatnonzero(bad)[0])
        raise PlacementDataError(f"{what}: point {r} {tuple(arr[r])} is not a latitude, longitude",
                                 fr=f"{what} : le point {r} {tuple(arr[r])} n'est pas une latitude, longitude")
    return arr


@lru_cache(maxsize=4)
def _load_cached(directory: Path, params: DoorToDoor) -> TransitNetwork:
    return TransitNetwork(directory, params)
