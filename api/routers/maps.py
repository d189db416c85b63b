"""Maps (SVG) of a child's or a fratrie's proposals and of the free places, for the pages.

Drawn from the bundled boundaries (api.web.maps): the family home's area is shaded, never the
home itself, with the transit isochrone bands of the home around it; proposed or free places are
numbered markers. The same roles and checks as the proposals and free places they draw.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from api.deps import CallerDep, ServicesDep, SessionDep, SnapshotDep
from api.routers import places as places_router
from api.routers import proposals as proposals_router
from api.web import maps
from matcher.model import Location, Need, Sex, StructureType

router = APIRouter(tags=["maps"])

ISOCHRONES_KEPT = 256
"""Isochrones kept per snapshot (the first homes asked about; each about 1,300 zones): a bound on memory."""

SVG = {200: {"content": {"image/svg+xml": {}}, "description": "An SVG map"}}


@dataclass(frozen=True, slots=True)
class _Point:
    location: Location


def _svg(svg: str) -> Response:
    return Response(content=svg, media_type="image/svg+xml", headers={"Cache-Control": "no-store"})


def _proposals_map(services, snap, home_location: Location | None, proposals, title: str,
                   area: maps.Layer | None = None) -> str:
    system = snap.system
    markers = []
    for p in proposals:
        s = system.structure_by_id.get(p.structure_id)
        if s is None:
            continue
        minutes = [x.travel_minutes for x in p.placements if x.travel_minutes is not None]
        said = f"{p.own_rank}. {s.name} ({s.location.commune})" + (f", {round(min(minutes))} min" if minutes else "")
        markers.append(maps.Marker(s.location.lat, s.location.lon, str(p.own_rank), said, "proposal"))
    points = [(m.lat, m.lon, system.structure_by_id[p.structure_id].location.departement)
              for m, p in zip(markers, proposals)]
    if home_location is not None:
        points.append((home_location.lat, home_location.lon, home_location.departement))
    layer = area or maps.layer_for(points)
    view = maps.MapView(title=title, markers=markers, legend=[("proposal", "places proposées, numérotées par rang")])
    if home_location is not None:
        view.zone_classes.update(_isochrone(services, snap, home_location, layer))
        home_code = home_location.departement if layer == "france" else home_location.commune
        view.zone_classes[home_code] = "home"
        view.legend = [("home", "quartier du domicile familial")] + \
            [(css, f"{text} en transports") for _, css, text in maps.ISOCHRONE_BANDS] + view.legend
    return maps.render_svg(view, layer)


def _isochrone(services, snap, home: Location, layer: maps.Layer) -> dict[str, str]:
    """The isochrone bands of a home's zone on a layer, computed once per home and layer for a
    snapshot (the transit minutes to every zone of the layer: the costly part of a map)."""
    key = ("isochrone", layer, home.lat, home.lon)
    found = snap.memo.get(key)
    if found is None:
        zones = [z for z in maps.zones(layer) if layer != "idf" or z.departement in maps.IDF_DEPARTEMENTS]
        pts = tuple(_Point(Location(z.inside[0], z.inside[1], z.code, z.departement)) for z in zones)
        minutes = services.systems.travel_source.minutes_from(home.lat, home.lon, pts)
        found = maps.isochrone_classes({z.code: float(m) for z, m in zip(zones, minutes)})
        if sum(1 for k in snap.memo if isinstance(k, tuple) and k[0] == "isochrone") < ISOCHRONES_KEPT:
            snap.memo[key] = found
    return found


def _home_of(child) -> Location | None:
    home = getattr(child, "home", None)
    return home.location if home is not None else None


K = Annotated[int, Query(ge=1, le=50, description="How many proposals.")]
Area = Annotated[maps.Layer | None, Query(description="paris, idf or france (default: the smallest that holds every point)")]


@router.get("/children/{child_id}/map", response_class=Response, responses=SVG,
            summary="Map of a child's proposals (SVG)")
def child_map(child_id: str, services: ServicesDep, session: SessionDep, snap: SnapshotDep, caller: CallerDep,
              k: K = 10, order: proposals_router.Order = "own", area: Area = None) -> Response:
    found = proposals_router.answer_for_child(child_id, services, session, snap, caller, "fr", k=k, order=order)
    child = snap.system.child_by_id[child_id]
    return _svg(_proposals_map(services, snap, _home_of(child), found.proposals, f"Propositions pour l'enfant {child_id}", area))


@router.get("/sibling-groups/{group_id}/map", response_class=Response, responses=SVG,
            summary="Map of a fratrie's proposals (SVG)")
def group_map(group_id: str, services: ServicesDep, session: SessionDep, snap: SnapshotDep, caller: CallerDep,
              k: K = 10, order: proposals_router.Order = "own", area: Area = None) -> Response:
    found = proposals_router.answer_for_group(group_id, services, session, snap, caller, "fr", k=k, order=order)
    group = snap.system.sibling_group_by_id[group_id]
    first = snap.system.child_by_id[group.child_ids[0]]
    return _svg(_proposals_map(services, snap, _home_of(first), found.proposals, f"Propositions pour la fratrie {group_id}",
                               area))


@router.get("/places/map", response_class=Response, responses=SVG, summary="Map of the free places (SVG)")
def places_map(
    services: ServicesDep, session: SessionDep, snap: SnapshotDep, caller: CallerDep,
    structure_type: Annotated[list[StructureType] | None, Query()] = None,
    age: Annotated[int | None, Query(ge=0, le=21)] = None,
    sex: Annotated[Sex | None, Query()] = None,
    needs: Annotated[list[Need] | None, Query()] = None,
    zone: Annotated[str | None, Query(pattern=r"^[0-9]{2,3}[0-9AB]?[0-9]{0,2}$")] = None,
    area: Annotated[maps.Layer | None, Query(description="paris, idf or france (default: the smallest that holds every place)")] = None,
) -> Response:
    found = places_router.free_places(services, session, snap, caller, structure_type=structure_type, age=age,
                                      sex=sex, needs=needs, zone=zone, within_minutes=None, lat=None, lon=None,
                                      child_id=None, limit=1000, offset=0)
    by_structure: dict[str, list] = {}
    for item in found.items:
        by_structure.setdefault(item.structure_id, []).append(item)
    markers, points = [], []
    for sid, items in by_structure.items():
        s = snap.system.structure_by_id[sid]
        free = sum(i.free for i in items)
        stale = any(i.vacancies_stale for i in items)
        said = f"{s.name} ({s.location.commune}) : {free} place(s) libre(s)" + (", déclaration ancienne" if stale else "")
        markers.append(maps.Marker(s.location.lat, s.location.lon, str(free), said, "stale" if stale else "place"))
        points.append((s.location.lat, s.location.lon, s.location.departement))
    layer = area or maps.layer_for(points)
    view = maps.MapView(title="Places libres", markers=markers,
                        legend=[("place", "structures avec des places libres (nombre de places)"),
                                ("stale", "places déclarées il y a longtemps")])
    return _svg(maps.render_svg(view, layer))
