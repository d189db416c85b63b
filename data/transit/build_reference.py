"""Build step: derive the compact transit network files of data/reference/transit/.

Run ``python -m data.transit.build_reference [--source /work/shared/data] [--out DIR]``. It reads
the raw open data (RATP metro GTFS 2019, IDFM stations and line traces, SNCF TER and TGV GTFS,
SNCF station lists, départements) and writes small CSV files that the engine reads at run time;
the raw files (16+ MB of GTFS) never enter the repository. See data/reference/transit/SOURCES.md.

What is derived, and how:

* ``stops.csv``: one stop per IDFM *zone de lieu* (``id_ref_zdl``: rows sharing it form one
  interchange), plus metro platforms of the 2019 GTFS that match no zone. WGS84 and Lambert-93.
* ``edges.csv``: directed in-vehicle edges between consecutive stops of a line, in minutes.
  Metro: mean running time (dwell included) of the trips of a weekday between 09:00 and 18:00.
  RER, Transilien, tramway, VAL: station order from a minimum spanning tree of the line's
  stations, distance along the line trace, time = fixed + distance / cruise speed (assumed,
  :data:`data.transit.parameters.MODE_ASSUMPTIONS`). TER inside Île-de-France: mean running time
  of the TER GTFS trips in the window between consecutive calls.
* ``line_stops.csv``: headway (minutes) of each line at each stop; GTFS departures in the window
  for metro and TER, assumed values for the others.
* ``province_stations.csv`` and ``rail_gateways.csv``: minutes by TER/TGV from each Île-de-France
  gateway station (a network stop) to each station outside the region: fastest path over the
  day's trips, median ride time per station pair, plus a boarding buffer per train boarded.
"""

from __future__ import annotations

import argparse
import io
import json
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from pyproj import Transformer
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import dijkstra, minimum_spanning_tree
from scipy.spatial import cKDTree
from shapely.geometry import Point
from shapely.ops import linemerge, unary_union

from data.transit import parameters as P

REFERENCE_DIR = Path(__file__).resolve().parent.parent / "reference" / "transit"
DEFAULT_SOURCE = Path("/work/shared/data")
IDF = frozenset({"75", "77", "78", "91", "92", "93", "94", "95"})
TO_L93 = Transformer.from_crs("EPSG:4326", "EPSG:2154", always_xy=True)
WINDOW = P.WINDOW_END_MIN - P.WINDOW_START_MIN


def _minutes(hhmmss: pd.Series) -> np.ndarray:
    parts = hhmmss.str.split(":", expand=True).astype(int)
    return (parts[0] * 60 + parts[1] + parts[2] / 60.0).to_numpy()


def _active_services(calendar: pd.DataFrame | None, dates: pd.DataFrame, day: str) -> set[str]:
    active: set[str] = set()
    if calendar is not None and len(calendar):
        weekday = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"][
            pd.Timestamp(day).weekday()
        ]
        c = calendar[(calendar[weekday] == 1) & (calendar.start_date <= day) & (calendar.end_date >= day)]
        active |= set(c.service_id)
    d = dates[dates.date == day]
    active |= set(d[d.exception_type == 1].service_id)
    active -= set(d[d.exception_type == 2].service_id)
    return active


# --- IDFM stations: the stops --------------------------------------------------------------------


def read_stations(source: Path) -> pd.DataFrame:
    s = pd.read_csv(source / "transit" / "emplacement-des-gares-idf.csv", sep=";", encoding="utf-8-sig")
    latlon = s["Geo Point"].str.split(",", expand=True).astype(float)
    s["lat"], s["lon"] = latlon[0], latlon[1]
    s["stop_id"] = "Z" + s["id_ref_zdl"].astype(int).astype(str)
    return s


def stops_from_stations(stations: pd.DataFrame) -> pd.DataFrame:
    g = stations.groupby("stop_id").agg(name=("nom_zdl", "first"), lat=("lat", "mean"), lon=("lon", "mean"))
    return g.reset_index()


# --- Metro from the RATP GTFS ------------------------------------------------------------------


def metro_from_gtfs(source: Path, stations: pd.DataFrame, stops: pd.DataFrame):
    """Edges and headways of the 16 metro lines from the 2019 GTFS; new stops for unmatched platforms."""
    metro_rows = stations[stations["mode"] == "METRO"].reset_index(drop=True)
    mx, my = TO_L93.transform(metro_rows.lon.to_numpy(), metro_rows.lat.to_numpy())
    tree = cKDTree(np.c_[mx, my])
    extra_stops: dict[str, tuple[str, float, float]] = {}
    edges, heads = [], []
    for path in sorted((source / "transit" / "gtfs-ratp-metro-2019").glob("RATP_GTFS_METRO_*.zip")):
        if path.stem.endswith("_Fun"):
            continue  # the funicular comes from the stations file, with the VAL lines
        with zipfile.ZipFile(path) as z:
            read = lambda name, **kw: pd.read_csv(io.BytesIO(z.read(name)), dtype=str, **kw)  # noqa: E731
            routes, trips = read("routes.txt"), read("trips.txt")
            gstops = read("stops.txt")
            dates = read("calendar_dates.txt").astype({"exception_type": int})
            cal = read("calendar.txt")
            for col in ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]:
                cal[col] = cal[col].astype(int)
            st = read("stop_times.txt", usecols=["trip_id", "arrival_time", "departure_time", "stop_id", "stop_sequence"])
        line = "METRO " + routes.route_short_name.iloc[0].replace("B", "bis")
        active = _active_services(cal, dates, P.METRO_SERVICE_DATE)
        trips = trips[trips.service_id.isin(active)]
        st = st[st.trip_id.isin(trips.trip_id)].copy()
        # platform -> stop (zone de lieu) by nearest metro row of the same line, else any metro row
        gx, gy = TO_L93.transform(gstops.stop_lon.astype(float).to_numpy(), gstops.stop_lat.astype(float).to_numpy())
        dist, idx = tree.query(np.c_[gx, gy], k=8)
        stop_of: dict[str, str] = {}
        for i, row in enumerate(gstops.itertuples()):
            cands = [(d, j) for d, j in zip(dist[i], idx[i]) if d < 250]
            same = [(d, j) for d, j in cands if metro_rows.res_com[j] == line]
            pick = (same or cands or [None])[0]
            if pick is None:
                key = "M" + row.stop_name.upper()
                extra_stops.setdefault(key, (row.stop_name, float(row.stop_lat), float(row.stop_lon)))
                stop_of[row.stop_id] = key
            else:
                stop_of[row.stop_id] = metro_rows.stop_id[pick[1]]
        st["stop"] = st.stop_id.map(stop_of)
        st["arr"] = _minutes(st.arrival_time)
        st["dep"] = _minutes(st.departure_time)
        st["seq"] = st.stop_sequence.astype(int)
        st = st.sort_values(["trip_id", "seq"])
        nxt = st.groupby("trip_id").shift(-1)
        pairs = pd.DataFrame({"from_stop": st.stop, "to_stop": nxt.stop, "dep": st.dep, "minutes": nxt.arr - st.dep})
        pairs = pairs.dropna()
        pairs = pairs[(pairs.dep >= P.WINDOW_START_MIN) & (pairs.dep < P.WINDOW_END_MIN) & (pairs.from_stop != pairs.to_stop)]
        e = pairs.groupby(["from_stop", "to_stop"], as_index=False).minutes.mean()
        e["line"], e["mode"] = line, "METRO"
        edges.append(e)
        # headway at a stop: window / departures per direction, averaged over its directions
        dep = st[(st.dep >= P.WINDOW_START_MIN) & (st.dep < P.WINDOW_END_MIN)].merge(trips[["trip_id", "direction_id"]], on="trip_id")
        dep = dep[dep.groupby("trip_id").seq.transform("max") != dep.seq]  # a terminus arrival is no departure
        counts = dep.groupby(["stop", "direction_id"]).size().reset_index(name="n")
        counts["headway"] = WINDOW / counts.n
        h = counts.groupby("stop", as_index=False).headway.mean().rename(columns={"stop": "stop_id", "headway": "headway_min"})
        h["line"], h["mode"], h["source"] = line, "METRO", "gtfs"
        heads.append(h)
    extra = pd.DataFrame(
        [(k, v[0], v[1], v[2]) for k, v in extra_stops.items()], columns=["stop_id", "name", "lat", "lon"]
    )
    return pd.concat(edges, ignore_index=True), pd.concat(heads, ignore_index=True), extra


# --- RER, Transilien, tramway, VAL from stations + traces ----------------------------------------


def assumed_lines(source: Path, stations: pd.DataFrame):
    """Edges and headways of the lines without a timetable: MST order, trace distances, assumed speeds."""
    traces = gpd.read_file(source / "transit" / "traces-du-reseau-ferre-idf.geojson").to_crs(2154)
    traces["res_com"] = traces.res_com.replace({"FUNICULAIRE MONTMART": "FUNICULAIRE MONTMARTRE"})
    edges, heads = [], []
    rows = stations[stations["mode"].isin(list(P.MODE_ASSUMPTIONS)) & (stations.res_com != "GL")]
    for line, grp in rows.groupby("res_com"):
        mode = grp["mode"].iloc[0]
        a = P.MODE_ASSUMPTIONS[mode]
        grp = grp.drop_duplicates("stop_id").reset_index(drop=True)
        x, y = TO_L93.transform(grp.lon.to_numpy(), grp.lat.to_numpy())
        xy = np.c_[x, y]
        n = len(grp)
        if n < 2:
            continue
        d = np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1])
        mst = minimum_spanning_tree(d + 1e-3).tocoo()
        geoms = traces[traces.res_com == line].geometry
        union = unary_union(list(geoms)) if len(geoms) else None
        merged = linemerge(union) if union is not None and union.geom_type == "MultiLineString" else union
        parts = list(getattr(merged, "geoms", [merged])) if merged is not None else []
        for i, j in zip(mst.row, mst.col):
            crow = float(d[i, j])
            dist = crow * 1.15
            pi, pj = Point(xy[i]), Point(xy[j])
            for part in parts:
                if part.distance(pi) < 150 and part.distance(pj) < 150:
                    along = abs(part.project(pi) - part.project(pj))
                    if crow * 0.98 <= along <= crow * 2.0:
                        dist = along
                    break
            minutes = a.fixed_min + dist / 1000.0 / a.cruise_kmh * 60.0
            for f, t in ((i, j), (j, i)):
                edges.append((grp.stop_id[f], grp.stop_id[t], minutes, line, mode))
        hw = P.LINE_HEADWAY_MIN.get(line, a.headway_min)
        for sid in grp.stop_id:
            heads.append((sid, hw, line, mode, "assumed"))
    e = pd.DataFrame(edges, columns=["from_stop", "to_stop", "minutes", "line", "mode"])
    h = pd.DataFrame(heads, columns=["stop_id", "headway_min", "line", "mode", "source"])
    return e, h


# --- SNCF: TER inside the region, TER and TGV to the provinces ----------------------------------


def _read_sncf(source: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stop times of the service date (both feeds) with station UIC codes, and station coordinates."""
    frames, stop_frames = [], []
    ter = zipfile.ZipFile(source / "transit" / "gtfs-sncf-ter-20250122.zip")
    tgv_dir = source / "transit" / "gtfs-sncf-tgv-20241220"
    for feed, read in (
        ("TER", lambda n, **kw: pd.read_csv(io.BytesIO(ter.read(n)), dtype=str, **kw)),
        ("TGV", lambda n, **kw: pd.read_csv(tgv_dir / n, dtype=str, **kw)),
    ):
        dates = read("calendar_dates.txt").astype({"exception_type": int})
        trips = read("trips.txt")
        active = _active_services(None, dates, P.SNCF_SERVICE_DATE)
        trips = trips[trips.service_id.isin(active)]
        st = read("stop_times.txt", usecols=["trip_id", "arrival_time", "departure_time", "stop_id", "stop_sequence"])
        st = st[st.trip_id.isin(trips.trip_id)].copy()
        st["uic"] = st.stop_id.str.extract(r"(\d{8})$")[0]
        st["arr"], st["dep"] = _minutes(st.arrival_time), _minutes(st.departure_time)
        st["seq"] = st.stop_sequence.astype(int)
        st["trip_id"] = feed + ":" + st.trip_id
        frames.append(st[["trip_id", "uic", "arr", "dep", "seq"]])
        s = read("stops.txt")
        s = s[s.stop_id.str.startswith("StopArea")].copy()
        s["uic"] = s.stop_id.str.extract(r"(\d{8})$")[0]
        stop_frames.append(s[["uic", "stop_name", "stop_lat", "stop_lon"]])
    st = pd.concat(frames, ignore_index=True).dropna(subset=["uic"]).sort_values(["trip_id", "seq"])
    stops = pd.concat(stop_frames).dropna().drop_duplicates("uic").astype({"stop_lat": float, "stop_lon": float})
    return st, stops


def sncf_lines(source: Path, stops: pd.DataFrame):
    """TER edges inside Île-de-France, and rail minutes from IDF gateways to province stations."""
    st, sstops = _read_sncf(source)
    deps = gpd.read_file(source / "geography" / "departements-france.geojson")[["code", "geometry"]]
    pts = gpd.GeoDataFrame(sstops, geometry=gpd.points_from_xy(sstops.stop_lon, sstops.stop_lat), crs=4326)
    pts = gpd.sjoin(pts, deps.to_crs(4326), how="inner", predicate="within").drop(columns="index_right")
    sstops = pd.DataFrame(pts.drop(columns="geometry")).rename(columns={"code": "departement"})
    sstops = sstops.drop_duplicates("uic").set_index("uic")
    st = st[st.uic.isin(sstops.index)]
    sx, sy = TO_L93.transform(sstops.stop_lon.to_numpy(), sstops.stop_lat.to_numpy())
    sstops["x"], sstops["y"] = sx, sy
    # SNCF stations of the region -> network stops
    hx, hy = TO_L93.transform(stops.lon.to_numpy(), stops.lat.to_numpy())
    tree = cKDTree(np.c_[hx, hy])
    idf = sstops[sstops.departement.isin(IDF)]
    dist, idx = tree.query(idf[["x", "y"]].to_numpy())
    hub_of = {u: stops.stop_id.iloc[i] for u, dd, i in zip(idf.index, dist, idx) if dd <= P.GATEWAY_MATCH_RADIUS_M}

    # TER between consecutive calls inside the region: a line "TER" of the network
    nxt = st.groupby("trip_id").shift(-1)
    cons = pd.DataFrame({"trip_id": st.trip_id, "a": st.uic, "b": nxt.uic, "dep": st.dep, "minutes": nxt.arr - st.dep}).dropna()
    cons = cons[cons.trip_id.str.startswith("TER:") & cons.a.isin(hub_of) & cons.b.isin(hub_of)]
    cons = cons[(cons.dep >= P.WINDOW_START_MIN) & (cons.dep < P.WINDOW_END_MIN)]
    cons["from_stop"], cons["to_stop"] = cons.a.map(hub_of), cons.b.map(hub_of)
    cons = cons[cons.from_stop != cons.to_stop]
    ter_edges = cons.groupby(["from_stop", "to_stop"], as_index=False).minutes.mean()
    ter_edges["line"], ter_edges["mode"] = "TER", "TER"
    n_dep = cons.groupby("from_stop").size()
    ter_heads = pd.DataFrame({"stop_id": n_dep.index, "headway_min": 2 * WINDOW / n_dep.to_numpy()})
    ter_heads["line"], ter_heads["mode"], ter_heads["source"] = "TER", "TER", "gtfs"

    # Rail graph over every station: an edge per (call i, later call j) of a trip, median ride
    s2 = st[["trip_id", "uic", "arr", "dep", "seq"]]
    pairs = s2.merge(s2, on="trip_id", suffixes=("_a", "_b"))
    pairs = pairs[(pairs.seq_b > pairs.seq_a) & (pairs.uic_a != pairs.uic_b)]
    pairs["ride"] = pairs.arr_b - pairs.dep_a
    ride = pairs.groupby(["uic_a", "uic_b"]).ride.median().reset_index()
    codes = pd.Index(sorted(sstops.index))
    ia, ib = codes.get_indexer(ride.uic_a), codes.get_indexer(ride.uic_b)
    graph = coo_matrix((ride.ride.to_numpy() + P.RAIL_BOARDING_BUFFER_MIN, (ia, ib)), shape=(len(codes),) * 2).tocsr()
    # gateways: IDF stations linked to the network with trains leaving the region
    leaving = pairs[pairs.uic_a.isin(hub_of) & ~pairs.uic_b.map(sstops.departement).isin(IDF)]
    n_trips = leaving.groupby("uic_a").trip_id.nunique()
    gateways = [u for u in n_trips.index if n_trips[u] >= 4]
    dist = dijkstra(graph, indices=codes.get_indexer(gateways))
    province = ~sstops.loc[codes].departement.isin(IDF).to_numpy()
    rows = []
    best = np.min(dist, axis=0)  # inf where no gateway reaches the station (then no row is kept)
    for gi, g in enumerate(gateways):
        keep = province & np.isfinite(dist[gi]) & (dist[gi] <= best + P.RAIL_GATEWAY_SLACK_MIN)
        for j in np.flatnonzero(keep):
            rows.append((hub_of[g], g, codes[j], round(float(dist[gi, j]), 1)))
    gw = pd.DataFrame(rows, columns=["gateway_stop", "gateway_uic", "uic", "minutes"])
    gw = gw.sort_values("minutes").drop_duplicates(["gateway_stop", "uic"]).sort_values(["gateway_stop", "uic"])
    prov = sstops.loc[sorted(set(gw.uic))].reset_index()[["uic", "stop_name", "stop_lat", "stop_lon", "x", "y", "departement"]]
    prov.columns = ["uic", "name", "lat", "lon", "x", "y", "departement"]
    return ter_edges, ter_heads, prov, gw.drop(columns="gateway_uic")


def build(source: Path = DEFAULT_SOURCE, out: Path = REFERENCE_DIR) -> dict[str, int]:
    stations = read_stations(source)
    stops = stops_from_stations(stations)
    metro_e, metro_h, extra = metro_from_gtfs(source, stations, stops)
    stops = pd.concat([stops, extra], ignore_index=True)
    other_e, other_h = assumed_lines(source, stations)
    ter_e, ter_h, prov, gw = sncf_lines(source, stops)
    edges = pd.concat([metro_e, other_e, ter_e], ignore_index=True)
    heads = pd.concat([metro_h, other_h, ter_h], ignore_index=True)
    used = set(edges.from_stop) | set(edges.to_stop)
    stops = stops[stops.stop_id.isin(used)].copy()
    x, y = TO_L93.transform(stops.lon.to_numpy(), stops.lat.to_numpy())
    stops["x"], stops["y"] = np.round(x, 1), np.round(y, 1)
    stops["lat"], stops["lon"] = stops.lat.round(6), stops.lon.round(6)
    edges["minutes"] = edges.minutes.round(2)
    heads["headway_min"] = heads.headway_min.round(2)
    prov["lat"], prov["lon"], prov["x"], prov["y"] = prov.lat.round(6), prov.lon.round(6), prov.x.round(1), prov.y.round(1)
    out.mkdir(parents=True, exist_ok=True)
    stops.sort_values("stop_id")[["stop_id", "name", "lat", "lon", "x", "y"]].to_csv(out / "stops.csv", index=False)
    edges.sort_values(["line", "from_stop", "to_stop"])[["line", "mode", "from_stop", "to_stop", "minutes"]].to_csv(
        out / "edges.csv", index=False
    )
    heads.sort_values(["line", "stop_id"])[["line", "mode", "stop_id", "headway_min", "source"]].to_csv(
        out / "line_stops.csv", index=False
    )
    prov.to_csv(out / "province_stations.csv", index=False)
    gw.to_csv(out / "rail_gateways.csv", index=False)
    counts = {
        "stops": len(stops),
        "edges": len(edges),
        "line_stops": len(heads),
        "province_stations": len(prov),
        "rail_gateway_rows": len(gw),
        "gateways": gw.gateway_stop.nunique(),
    }
    manifest = {"assumptions_digest": P.network_assumptions_digest(), "counts": counts}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return counts


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="folder holding transit/ and geography/")
    parser.add_argument("--out", type=Path, default=REFERENCE_DIR)
    args = parser.parse_args(argv)
    print(json.dumps(build(args.source, args.out), indent=2))


if __name__ == "__main__":
    main()
