"""Reference geography: Paris arrondissements, Île-de-France communes, French départements.

Everything is read once from the files bundled in ``data/reference/`` (see its SOURCES.md for
provenance and licences) and cached. Coordinates are WGS84 longitude/latitude in degrees.

:func:`locate` turns a point into a :class:`matcher.Location`: inside Île-de-France by
point-in-polygon (the arrondissement inside Paris, the commune elsewhere, with 2018 boundaries
and the code of the commune that holds it today); elsewhere in metropolitan France by the
département polygon that contains the point (or the nearest one within a few kilometres, for
points on a simplified coastline or border), with the nearest commune that has a passenger
station in that département standing for the commune (no commune polygons outside
Île-de-France are bundled).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from matcher import DomainError, Location
from matcher.model import ILE_DE_FRANCE_DEPARTEMENTS, PARIS_DEPARTEMENT

REFERENCE_DIR = Path(__file__).parent / "reference"
GEOGRAPHY_DIR = REFERENCE_DIR / "geography"
POPULATION_DIR = REFERENCE_DIR / "population"

METROPOLITAN_BOUNDS = (-5.3, 41.2, 9.7, 51.2)
"""(min lon, min lat, max lon, max lat) of metropolitan France, Corsica included, in degrees."""

NEAREST_DEPARTEMENT_MAX_DEGREES = 0.1
"""A point outside every département polygon (simplified coastline) is attached to the nearest
one when it lies within this distance (about 8 to 11 km); farther, it is not in France."""

_CODE = {"code_insee": str, "departement": str, "code_insee_cog2026": str, "code": str,
         "chef_lieu_insee": str, "region": str}


@lru_cache(maxsize=1)
def idf_zones() -> pd.DataFrame:
    """The 20 arrondissements and 1,276 communes of Île-de-France (2018 boundaries).

    Columns: ``code_insee``, ``nom``, ``departement``, ``kind`` (arrondissement / commune),
    ``centroid_lon/lat``, ``inside_lon/lat`` (a point inside the polygon), ``area_km2``,
    ``code_insee_cog2026``, ``population_municipale`` (empty for the ten merged communes; the
    Paris 75056 row carries all of Paris).
    """
    return pd.read_csv(GEOGRAPHY_DIR / "zones-idf-centroids.csv", dtype=_CODE)


@lru_cache(maxsize=1)
def arrondissements() -> gpd.GeoDataFrame:
    """The 20 Paris arrondissements: ``code`` (75101..75120), ``nom``, ``population``, ``geometry``."""
    gdf = gpd.read_file(GEOGRAPHY_DIR / "arrondissements-paris.geojson")
    gdf = gdf.assign(code=gdf["c_arinsee"].astype(int).astype(str))
    zones = idf_zones().set_index("code_insee")
    gdf = gdf.assign(
        nom=gdf["code"].map(zones["nom"]),
        population=gdf["code"].map(zones["population_municipale"]).astype(int),
    )
    return gdf[["code", "nom", "population", "geometry"]].sort_values("code").reset_index(drop=True)


@lru_cache(maxsize=1)
def idf_communes() -> gpd.GeoDataFrame:
    """Communes of Île-de-France outside Paris (2018 boundaries).

    Columns: ``code``, ``nom``, ``departement``, ``code_cog2026`` (commune holding it today),
    ``population`` (0 for the ten communes merged since 2018), ``geometry``.
    """
    gdf = gpd.read_file(GEOGRAPHY_DIR / "communes-ile-de-france.geojson")
    gdf = gdf[gdf["code"] != "75056"]
    zones = idf_zones().set_index("code_insee")
    gdf = gdf.assign(
        departement=gdf["code"].map(zones["departement"]),
        code_cog2026=gdf["code"].map(zones["code_insee_cog2026"]),
        population=gdf["code"].map(zones["population_municipale"]).fillna(0).astype(int),
    )
    cols = ["code", "nom", "departement", "code_cog2026", "population", "geometry"]
    return gdf[cols].sort_values("code").reset_index(drop=True)


@lru_cache(maxsize=1)
def departements() -> gpd.GeoDataFrame:
    """The 96 metropolitan départements: ``code``, ``nom``, ``inside_lon/lat``,
    ``chef_lieu_insee``, ``population``, ``geometry``."""
    gdf = gpd.read_file(GEOGRAPHY_DIR / "departements-france.geojson")
    cent = pd.read_csv(GEOGRAPHY_DIR / "departements-centroids.csv", dtype=_CODE).set_index("code")
    gdf = gdf.assign(
        inside_lon=gdf["code"].map(cent["inside_lon"]),
        inside_lat=gdf["code"].map(cent["inside_lat"]),
        chef_lieu_insee=gdf["code"].map(cent["chef_lieu_insee"]),
        population=gdf["code"].map(cent["population_municipale"]).astype(int),
    )
    cols = ["code", "nom", "inside_lon", "inside_lat", "chef_lieu_insee", "population", "geometry"]
    return gdf[cols].sort_values("code").reset_index(drop=True)


@lru_cache(maxsize=1)
def province_station_communes() -> pd.DataFrame:
    """Communes outside Île-de-France that have an SNCF passenger station.

    Columns: ``code_insee``, ``nom``, ``departement``, ``population_municipale``, ``gare``
    (station name), ``lon``, ``lat`` (the station's position). One row per commune.
    """
    return pd.read_csv(POPULATION_DIR / "communes-gares-province.csv", dtype=_CODE)


def sample_points(
    geometry: BaseGeometry, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points drawn uniformly inside a polygon (rejection sampling in its bounding box).

    Deterministic for a given generator state. Returns (lon, lat) arrays.
    """
    if n <= 0:
        return np.empty(0), np.empty(0)
    minx, miny, maxx, maxy = geometry.bounds
    shapely.prepare(geometry)
    lons: list[np.ndarray] = []
    lats: list[np.ndarray] = []
    got = 0
    while got < n:
        batch = max(16, 2 * (n - got))
        x = rng.uniform(minx, maxx, batch)
        y = rng.uniform(miny, maxy, batch)
        ok = shapely.contains_xy(geometry, x, y)
        lons.append(x[ok])
        lats.append(y[ok])
        got += int(ok.sum())
    return np.concatenate(lons)[:n], np.concatenate(lats)[:n]


def _first_containing(gdf: gpd.GeoDataFrame, point: shapely.Point) -> int | None:
    hits = gdf.sindex.query(point, predicate="intersects")
    if len(hits) == 0:
        return None
    return int(sorted(hits)[0])


def _outside_france(lat: float, lon: float) -> DomainError:
    return DomainError(f"point ({lat:.5f}, {lon:.5f}) is outside metropolitan France",
                       fr=f"le point ({lat:.5f}, {lon:.5f}) est hors de la France métropolitaine")


def locate(lat: float, lon: float) -> Location:
    """The Location of a point: commune (or Paris arrondissement) and département.

    Raises DomainError for a point that is not a coordinate or lies outside metropolitan France.
    """
    if not (np.isfinite(lat) and np.isfinite(lon)):
        raise DomainError(f"({lat}, {lon}) is not a latitude/longitude", fr=f"({lat}, {lon}) n'est pas une latitude/longitude")
    min_lon, min_lat, max_lon, max_lat = METROPOLITAN_BOUNDS
    if not (min_lat <= lat <= max_lat and min_lon <= lon <= max_lon):
        raise _outside_france(lat, lon)
    point = shapely.Point(lon, lat)
    arr = arrondissements()
    i = _first_containing(arr, point)
    if i is not None:
        return Location(lat, lon, arr.at[i, "code"], PARIS_DEPARTEMENT)
    communes = idf_communes()
    i = _first_containing(communes, point)
    if i is not None:
        return Location(lat, lon, communes.at[i, "code_cog2026"], communes.at[i, "departement"])
    deps = departements()
    i = _first_containing(deps, point)
    if i is None:
        j, dist = deps.sindex.nearest(point, return_distance=True)
        if dist[0] > NEAREST_DEPARTEMENT_MAX_DEGREES:
            raise _outside_france(lat, lon)
        i = int(j[1][0])
    dep = deps.at[i, "code"]
    if dep in ILE_DE_FRANCE_DEPARTEMENTS:
        # Between simplified IDF commune polygons: take the nearest commune of Île-de-France.
        j = communes.sindex.nearest(point)
        k = int(j[1][0])
        return Location(lat, lon, communes.at[k, "code_cog2026"], communes.at[k, "departement"])
    return Location(lat, lon, _nearest_station_commune(dep, lat, lon, deps.at[i, "chef_lieu_insee"]), dep)


def _nearest_station_commune(dep: str, lat: float, lon: float, fallback: str) -> str:
    """The commune with a passenger station nearest to the point in that département."""
    st = province_station_communes()
    st = st[st["departement"] == dep]
    if st.empty:
        return fallback
    coslat = np.cos(np.radians(lat))
    d2 = ((st["lon"].to_numpy() - lon) * coslat) ** 2 + (st["lat"].to_numpy() - lat) ** 2
    return str(st["code_insee"].iloc[int(np.argmin(d2))])
