"""CLI commands (travel): `placement travel-time` and `placement isochrone`.

Both read the transit network of data/reference/transit/ (see docs/TRAVEL_TIMES.md): minutes are
door-to-door public-transport times averaged over a weekday 09:00-18:00 window.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from api.commands import error_line
from matcher import PlacementError


def parse_point(text: str, option: str, lang: str = "en") -> tuple[float, float]:
    """'LAT,LON' -> (lat, lon); a clear error naming the option otherwise (in French, ``erreur :``
    and exit code 2, as click's own usage errors)."""

    def refuse(english: str, french: str) -> NoReturn:
        if lang == "fr":
            typer.echo(f"erreur : {option} {french}", err=True)
            raise typer.Exit(code=2)
        raise typer.BadParameter(english, param_hint=option)

    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 2:
        refuse(f"{text!r} is not LAT,LON (two numbers separated by a comma)",
               f"{text!r} n'est pas LAT,LON (deux nombres séparés par une virgule)")
    values = []
    for (what, quoi), part in zip((("latitude", "la latitude"), ("longitude", "la longitude")), parts):
        try:
            values.append(float(part))
        except ValueError:
            refuse(f"{text!r} is not LAT,LON: {what} {part!r} is not a number",
                   f"{text!r} n'est pas LAT,LON : {quoi} {part!r} n'est pas un nombre")
    lat, lon = values
    if not (-90.0 <= lat <= 90.0) or not (-180.0 <= lon <= 180.0):
        refuse(f"{text!r}: latitude must be within -90..90 and longitude within -180..180",
               f"{text!r} : la latitude doit être entre -90 et 90 et la longitude entre -180 et 180")
    return lat, lon


_REASONS = {
    "en": {
        "swapped": "{opt} {lat},{lon} looks swapped: latitude first, then longitude (did you mean {lon},{lat}?)",
        "overseas": "{opt} {lat},{lon} is more than {km} km from mainland France: no journey by public transport or road",
        "corsica": "{opt} {lat},{lon} is in Corsica: no ferry or plane link is modelled",
        "outside": "{opt} {lat},{lon} is outside mainland metropolitan France (at sea or abroad): the network does not serve it",
    },
    "fr": {
        "swapped": "{opt} {lat},{lon} semble inversé : la latitude d'abord, puis la longitude ({lon},{lat} ?)",
        "overseas": "{opt} {lat},{lon} est à plus de {km} km de la France métropolitaine : aucun trajet en transports en commun ni par la route",
        "corsica": "{opt} {lat},{lon} est en Corse : pas de liaison modélisée (ni ferry ni avion)",
        "outside": "{opt} {lat},{lon} est hors de France métropolitaine continentale (au large ou à l'étranger) : le réseau ne le dessert pas",
    },
}
"""Why a point is not served (data.transit.network.UNSERVED_REASONS), in each language."""

_WORDS = {
    "en": {
        "unreachable": "unreachable by public transport or road",
        "minutes": "{m:.0f} min door to door (weekday 09:00-18:00 average)",
        "walk": "walk {a} -> {b}", "wait": "wait for {line} at {a}", "ride": "ride {line} {a} -> {b}",
        "transfer": "transfer {a} -> {b}", "other": "{kind} ({line}) {a} -> {b}",
    },
    "fr": {
        "unreachable": "inaccessible en transports en commun comme par la route",
        "minutes": "{m:.0f} min porte à porte (moyenne en semaine, 9 h-18 h)",
        "walk": "à pied {a} -> {b}", "wait": "attente de {line} à {a}", "ride": "{line} {a} -> {b}",
        "transfer": "correspondance {a} -> {b}", "other": "{kind} ({line}) {a} -> {b}",
        "origin": "départ", "destination": "arrivée", "feeder": "rabattement", "road": "route",
        "bus (assumed)": "bus (supposé)", "local bus or taxi (assumed)": "bus local ou taxi (supposé)",
        "road (assumed)": "route (supposée)",
        "TER/TGV (incl. boarding buffers)": "TER/TGV (marges d'embarquement comprises)",
    },
}
"""The human answer in each language (the JSON's machine fields are English either way)."""


def _unserved(points) -> list[tuple[str, str, float, float]]:
    """(option, reason, lat, lon) for each point the network does not serve."""
    from data.transit.network import unserved_reason

    out = []
    for (lat, lon), option in points:
        reason = unserved_reason(lat, lon)
        if reason is not None:
            out.append((option, reason, lat, lon))
    return out


def _reason_notes(unserved, lang: str) -> list[str]:
    """A sentence per point not served, saying why (swapped coordinates, overseas, Corsica, at
    sea or abroad)."""
    from data.transit.network import ROAD_MAX_KM

    km = f"{ROAD_MAX_KM:,.0f}" if lang == "en" else f"{ROAD_MAX_KM:,.0f}".replace(",", "\u202f")
    return [_REASONS[lang][reason].format(opt=opt, lat=lat, lon=lon, km=km) for opt, reason, lat, lon in unserved]


def _check_lang(lang: str) -> None:
    if lang not in ("fr", "en"):
        typer.echo(f"error: --lang must be fr or en, not {lang[:16]!r}", err=True)
        raise typer.Exit(code=2)


def _fail(err: Exception, lang: str = "en") -> None:
    typer.echo(error_line(err, lang), err=True)
    raise typer.Exit(code=1)


def register(app: typer.Typer) -> None:
    """Add this area's commands to the app."""

    @app.command("travel-time")
    def travel_time(
        origin: Annotated[str, typer.Option("--from", help="Origin as LAT,LON (WGS84), e.g. 48.8617,2.3470.")],
        destination: Annotated[str, typer.Option("--to", help="Destination as LAT,LON (WGS84).")],
        as_json: Annotated[bool, typer.Option("--json", help="Print the journey as JSON.")] = False,
        lang: Annotated[str, typer.Option("--lang", help="Language of the answer: fr (default) or en; "
                                          "the JSON's machine fields are English either way.")] = "fr",
    ) -> None:
        """Door-to-door public-transport minutes between two points, with the legs (walk, wait, ride, transfer).

        A point outside mainland metropolitan France (at sea, abroad, in Corsica, overseas) is
        unreachable, and the answer says why."""
        _check_lang(lang)
        a = parse_point(origin, "--from", lang)
        b = parse_point(destination, "--to", lang)
        from data.transit import TransitNetwork

        try:
            journey = TransitNetwork.load().journey(a, b)
        except PlacementError as err:
            _fail(err, lang)
        legs = [
            {"kind": leg.kind, "line": leg.line, "from": leg.from_name, "to": leg.to_name, "minutes": round(leg.minutes, 1)}
            for leg in journey.legs
        ]
        unserved = _unserved(((a, "--from"), (b, "--to"))) if not journey.reachable else []
        if as_json:
            minutes = round(journey.minutes, 1) if journey.reachable else None
            payload = {"from": list(a), "to": list(b), "minutes": minutes, "reachable": journey.reachable, "legs": legs}
            if not journey.reachable:
                payload["unserved"] = [{"point": opt, "reason": reason} for opt, reason, _, _ in unserved]
                payload["notes"] = _reason_notes(unserved, lang)
            typer.echo(json.dumps(payload, ensure_ascii=False, indent=2))
            return
        w = _WORDS[lang]
        if not journey.reachable:
            typer.echo(w["unreachable"])
            for note in _reason_notes(unserved, lang):
                typer.echo(note)
            return
        typer.echo(w["minutes"].format(m=journey.minutes))
        for leg in legs:
            names = {k: w.get(str(leg[k]), leg[k]) for k in ("from", "to", "line", "kind")}
            what = w.get(leg["kind"], w["other"]) if leg["kind"] in ("walk", "wait", "ride", "transfer") else w["other"]
            text = what.format(a=names["from"], b=names["to"], line=names["line"], kind=names["kind"])
            typer.echo(f"  {leg['minutes']:6.1f} min  {text}")

    @app.command("isochrone")
    def isochrone(
        origin: Annotated[str, typer.Option("--from", help="Origin as LAT,LON (WGS84).")],
        minutes: Annotated[float, typer.Option("--minutes", min=0.1, help="Largest door-to-door time, minutes.")],
        data: Annotated[Path | None, typer.Option("--data", help="Dataset directory; default: the generated Paris scenario.")] = None,
        seed: Annotated[int, typer.Option(help="Seed of the generated scenario (without --data).")] = 1,
        as_json: Annotated[bool, typer.Option("--json", help="Print the list as JSON.")] = False,
        lang: Annotated[str, typer.Option("--lang", help="Language of the answer: fr (default) or en; "
                                          "the JSON's machine fields are English either way.")] = "fr",
    ) -> None:
        """The structures within N minutes by public transport of a point, fastest first (secret ones never listed)."""
        _check_lang(lang)
        point = parse_point(origin, "--from", lang)
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
            _fail(err, lang)
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
        if lang == "en":
            typer.echo(f"{len(rows)} structure(s) within {minutes:g} min of {point[0]},{point[1]}")
            for r in rows:
                typer.echo(f"  {r['minutes']:6.1f} min  {r['structure_id']}  {r['name']} ({r['type']}, {r['commune']})")
            return
        from api.web.labels import STRUCTURE_TYPE

        def fr(x: float) -> str:
            return f"{x:g}".replace(".", ",")

        typer.echo(f"{len(rows)} structure(s) à {fr(minutes)} min ou moins de {fr(point[0])}, {fr(point[1])}")
        for (sid, t), r in zip(hits, rows):
            kind = STRUCTURE_TYPE.get(by_id[sid].type, r["type"])
            typer.echo(f"  {round(t):4d} min  {r['structure_id']}  {r['name']} ({kind}, {r['commune']})")
