"""Maps for the pages, drawn as inline SVG from the bundled boundaries (data.geography): Paris
arrondissements, Île-de-France communes and metropolitan départements. No tiles, no network:
the pages work offline.

A map shows zones (shaded by a class: the family home's area, the transit isochrone bands of
that area, places missing...) and numbered markers (proposed places, free places). The family
home itself is never drawn as a point: only its arrondissement or commune is shaded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from html import escape
from typing import Iterable, Literal, Mapping

import shapely

from data import geography

Layer = Literal["paris", "idf", "france"]

IDF_DEPARTEMENTS = frozenset({"75", "77", "78", "91", "92", "93", "94", "95"})
ISOCHRONE_BANDS: tuple[tuple[float, str, str], ...] = (
    (30.0, "iso-30", "moins de 30 min"),
    (60.0, "iso-60", "30 à 60 min"),
    (90.0, "iso-90", "60 à 90 min"),
)
"""Bands of the transit isochrone drawn around a family home's area: (upper bound in minutes,
CSS class, French legend)."""

_TOLERANCE = {"paris": 0.0004, "idf": 0.002, "france": 0.02}
"""Simplification of the boundaries for drawing, in degrees (about 40 m, 200 m and 2 km)."""


@dataclass(frozen=True, slots=True)
class ZoneShape:
    """One drawable zone: INSEE code (arrondissement, commune or département), name,
    département, a point inside it and its simplified rings (lon, lat)."""

    code: str
    name: str
    departement: str
    inside: tuple[float, float]
    rings: tuple[tuple[tuple[float, float], ...], ...]


@dataclass(frozen=True, slots=True)
class Marker:
    """A numbered point on the map (a place), with the sentence read on hover and by screen readers."""

    lat: float
    lon: float
    label: str
    title: str
    kind: Literal["proposal", "place", "stale"] = "place"


@dataclass(slots=True)
class MapView:
    """What one map shows: the shading of zones by code, markers, a title and a legend."""

    title: str
    zone_classes: dict[str, str] = field(default_factory=dict)
    markers: list[Marker] = field(default_factory=list)
    legend: list[tuple[str, str]] = field(default_factory=list)


def _rings(geom) -> tuple[tuple[tuple[float, float], ...], ...]:
    polys = [geom] if geom.geom_type == "Polygon" else list(getattr(geom, "geoms", []))
    out = []
    for p in polys:
        if p.geom_type != "Polygon" or p.is_empty:
            continue
        coords = tuple((round(x, 5), round(y, 5)) for x, y in p.exterior.coords)
        if len(coords) >= 4:
            out.append(coords)
    return tuple(out)


@lru_cache(maxsize=3)
def zones(layer: Layer) -> tuple[ZoneShape, ...]:
    """The simplified zones of a layer, read once from the bundled boundaries."""
    tol = _TOLERANCE[layer]
    shapes: list[ZoneShape] = []
    frames = []
    if layer in ("paris", "idf"):
        frames.append((geography.arrondissements(), "75"))
    if layer == "idf":
        frames.append((geography.idf_communes(), None))
    if layer == "france":
        frames.append((geography.departements(), None))
    for gdf, dep in frames:
        for row in gdf.itertuples(index=False):
            geom = shapely.simplify(row.geometry, tol, preserve_topology=True)
            point = row.geometry.representative_point()
            shapes.append(ZoneShape(
                code=str(row.code), name=str(row.nom),
                departement=dep or str(getattr(row, "departement", None) or row.code),
                inside=(point.y, point.x), rings=_rings(geom),
            ))
    return tuple(shapes)


def layer_for(points: Iterable[tuple[float, float, str]]) -> Layer:
    """The smallest layer that holds every (lat, lon, département) given: Paris, Île-de-France
    or France."""
    deps = {d for _, _, d in points}
    if not deps or deps <= {"75"}:
        return "paris"
    if deps <= IDF_DEPARTEMENTS:
        return "idf"
    return "france"


def isochrone_classes(minutes_by_zone: Mapping[str, float]) -> dict[str, str]:
    """CSS class of each zone by the transit minutes from the family home's area to it."""
    out: dict[str, str] = {}
    for code, minutes in minutes_by_zone.items():
        if minutes is None or not math.isfinite(minutes):
            continue
        for bound, css, _ in ISOCHRONE_BANDS:
            if minutes <= bound:
                out[code] = css
                break
    return out


def render_svg(view: MapView, layer: Layer, width: int = 640) -> str:
    """The map as an accessible inline SVG (role img, a title and a description; each zone
    and marker carries a <title> read on hover)."""
    shapes = zones(layer)
    drawn = shapes if layer != "idf" else [s for s in shapes if s.departement in IDF_DEPARTEMENTS]
    # the frame is the layer's zones: markers outside it (a place in the provinces on the
    # Île-de-France map, overseas on the map of France) are left out rather than shrink the map
    lons = [x for s in drawn for r in s.rings for x, _ in r]
    lats = [y for s in drawn for r in s.rings for _, y in r]
    lon0, lon1, lat0, lat1 = min(lons), max(lons), min(lats), max(lats)
    kx = math.cos(math.radians((lat0 + lat1) / 2))
    span_x, span_y = (lon1 - lon0) * kx, lat1 - lat0
    scale = width / span_x
    height = int(round(span_y * scale)) + 1

    def xy(lon: float, lat: float) -> tuple[float, float]:
        return round((lon - lon0) * kx * scale, 1), round((lat1 - lat) * scale, 1)

    parts = [
        f'<svg class="map" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-labelledby="map-title map-desc" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="map-title">{escape(view.title)}</title>',
        f'<desc id="map-desc">{escape(_description(view))}</desc>',
    ]
    for s in drawn:
        d = " ".join("M" + " L".join(f"{x},{y}" for x, y in (xy(lon, lat) for lon, lat in ring)) + "Z" for ring in s.rings)
        css = view.zone_classes.get(s.code, "zone")
        parts.append(f'<path class="{css}" d="{d}"><title>{escape(s.name)}</title></path>')
    for m in view.markers:
        x, y = xy(m.lon, m.lat)
        if not (0 <= x <= width and 0 <= y <= height):
            continue
        parts.append(
            f'<g class="marker marker-{m.kind}"><title>{escape(m.title)}</title>'
            f'<circle cx="{x}" cy="{y}" r="9"/><text x="{x}" y="{y + 4}" text-anchor="middle">{escape(m.label)}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _description(view: MapView) -> str:
    shown = "; ".join(f"{m.label} : {m.title}" for m in view.markers[:20])
    legend = ", ".join(text for _, text in view.legend)
    return f"{len(view.markers)} repère(s). {shown}. Légende : {legend}." if view.markers else f"Légende : {legend}."
