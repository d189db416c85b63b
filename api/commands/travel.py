"""CLI commands (travel): `placement travel-time` and `placement isochrone`.

Both read the transit network of data/reference/transit/ (see docs/TRAVEL_TIMES.md): minutes are
door-to-door public-transport times averaged over a weekday 09:00-18:00 window.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from matcher import PlacementError


def parse_point(text: str, option: str) -> tuple[float, float]:
    """'LAT,LON' -> (lat, lon); a clear error naming the option otherwise."""
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 2:
        raise typer.BadParameter(f"{text!r} is not LAT,LON (two numbers separated by a comma)", param_hint=option)
    values = []
    for what, part in zip(("latitude", "longitude"), parts):
        try:
            values.append(float(part))
        except ValueError:
            raise typer.BadParameter(f"{text!r} is not LAT,LON: {what} {part!r} is not a number", param_hint=option) from None
    lat, lon = values
    if not (-90.0 <= lat <= 90.0) or not (-180.0 <= lon <= 180.0):
        raise typer.BadParameter(f"{text!r}: latitude must be within -90..90 and longitude within -180..180", param_hint=option)
    return lat, lon


def _swapped_notes(points) -> list[str]:
    """For each point outside the network's area whose swapped coordinates fall inside it: a
    sentence saying so (latitude and longitude were probably given the wrong way round)."""
    from data.transit.network import ROAD_MAX_KM, outside_service_area

    notes = []
    for (lat, lon), option in points:
        if not outside_service_area(lat, lon):
            continue
        if abs(lon) <= 90 and not outside_service_area(lon, lat):
            notes.append(f"{option} {lat},{lon} looks swapped: latitude first, then longitude "
                         f"(did you mean {lon},{lat}?)")
        else:
            notes.append(f"{option} {lat},{lon} is more than {ROAD_MAX_KM:,.0f} km from mainland France: "
                         "no journey by public transport or road")
    return notes


def _fail(err: Exception) -> None:
    typer.echo(f"error: {err}", err=True)
    raise typer.Exit(code=1)


def register(app: typer.Typer) -> None:
    """Add this area's commands to the app."""

    @app.command("travel-time")
    def travel_time(
        origin: Annotated[str, typer.Option("--from", help="Origin as LAT,LON (WGS84), e.g. 48.8617,2.3470.")],
        destination: Annotated[str, typer.Option("--to", help="Destination as LAT,LON (WGS84).")],
        as_json: Annotated[bool, typer.Option("--json", help="Print the journey as JSON.")] = False,
    ) -> None:
        """Door-to-door public-transport minutes between two points, with the legs (walk, wait, ride, transfer)."""
        a = parse_point(origin, "--from")
        b = parse_point(destination, "--to")
        from data.transit import TransitNetwork

        try:
            journey = TransitNetwork.load().journey(a, b)
        except PlacementError as err:
            _fail(err)
        legs = [
            {"kind": leg.kind, "line": leg.line, "from": leg.from_name, "to": leg.to_name, "minutes": round(leg.minutes, 1)}
            for leg in journey.legs
        ]
        if as_json:
            minutes = round(journey.minutes, 1) if journey.reachable else None
            payload = {"from": list(a), "to": list(b), "minutes": minutes, "reachable": journey.reachable, "legs": legs}
            if not journey.reachable:
                payload["notes"] = _swapped_notes(((a, "--from"), (b, "--to")))
            typer.echo(json.dumps(payload, ensure_ascii=False, indent=2))
            return
        if not journey.reachable:
            typer.echo("unreachable by public transport or road")
            for note in _swapped_notes(((a, "--from"), (b, "--to"))):
                typer.echo(note)
            return
        typer.echo(f"{journey.minutes:.0f} min door to door (weekday 09:00-18:00 average)")
        for leg in legs:
            what = {
                "walk": f"walk {leg['from']} -> {leg['to']}",
                "wait": f"wait for {leg['line']} at {leg['from']}",
                "ride": f"ride {leg['line']} {leg['from']} -> {leg['to']}",
                "transfer": f"transfer {leg['from']} -> {leg['to']}",
            }.get(leg["kind"], f"{leg['kind']} ({leg['line']}) {leg['from']} -> {leg['to']}")
            typer.echo(f"  {leg['minutes']:6.1f} min  {what}")

    @app.command("isochrone")
    def isochrone(
        origin: Annotated[str, typer.Option("--from", help="Origin as LAT,LON (WGS84).")],
        minutes: Annotated[float, typer.Option("--minutes", min=0.1, help="Largest door-to-door time, minutes.")],
        data: Annotated[Path | None, typer.Option("--data", help="Dataset directory; default: the generated Paris scenario.")] = None,
        seed: Annotated[int, typer.Option(help="Seed of the generated scenario (without --data).")] = 1,
        as_json: Annotated[bool, typer.Option("--json", help="Print the list as JSON.")] = False,
    ) -> None:
        """The structures within N minutes by public transport of a point, fastest first (secret ones never listed)."""
        point = parse_point(origin, "--from")
        from data.transit import TransitNetwork

        try:
            if data is not None:
                from data.io import read_dataset

                system = read_dataset(data)
            else:
                from data.generator import generate

                system = generate(scale=1.0, seed=seed)
            visible = [s for s in system.structures if not s.secret]  # secret addresses are never listed
            hits = TransitNetwork.load().isochrone(point, minutes, visible)
        except PlacementError as err:
            _fail(err)
        by_id = system.structure_by_id
        rows = [
            {
                "structure_id": sid,
                "name": by_id[sid].name,
                "type": str(by_id[sid].type),
                "commune": by_id[sid].location.commune,
                "minutes": round(t, 1),
            }
            for sid, t in hits
        ]
        if as_json:
            typer.echo(json.dumps({"from": list(point), "minutes": minutes, "structures": rows}, ensure_ascii=False, indent=2))
            return
        typer.echo(f"{len(rows)} structure(s) within {minutes:g} min of {point[0]},{point[1]}")
        for r in rows:
            typer.echo(f"  {r['minutes']:6.1f} min  {r['structure_id']}  {r['name']} ({r['type']}, {r['commune']})")
