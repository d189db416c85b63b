"""The pages' maps: drawn from the bundled boundaries, the right layer, isochrone bands, markers,
and never the family home as a point."""

from __future__ import annotations

import re

from api.web import maps


def test_layer_is_the_smallest_that_holds_every_point():
    assert maps.layer_for([(48.85, 2.35, "75")]) == "paris"
    assert maps.layer_for([(48.85, 2.35, "75"), (48.93, 2.36, "93")]) == "idf"
    assert maps.layer_for([(48.85, 2.35, "75"), (46.99, 3.16, "58")]) == "france"
    assert maps.layer_for([]) == "paris"


def test_layers_hold_the_bundled_zones():
    assert len(maps.zones("paris")) == 20
    assert len(maps.zones("france")) == 96
    idf = maps.zones("idf")
    assert {z.departement for z in idf} == set(maps.IDF_DEPARTEMENTS)
    assert all(z.rings for z in idf)


def test_isochrone_bands_by_minutes_and_none_beyond_or_unreachable():
    got = maps.isochrone_classes({"a": 12.0, "b": 30.0, "c": 45.0, "d": 89.9, "e": 120.0, "f": float("nan")})
    assert got == {"a": "iso-30", "b": "iso-30", "c": "iso-60", "d": "iso-90"}


def test_svg_has_a_title_a_description_each_marker_and_escapes_names():
    view = maps.MapView("Places <libres>", {"75118": "home"},
                        [maps.Marker(48.8412, 2.3003, "1", "MECS \"Vaugirard\" & co", "proposal")], [("home", "domicile")])
    svg = maps.render_svg(view, "paris")
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert 'role="img"' in svg and "Places &lt;libres&gt;" in svg
    assert svg.count('class="marker marker-proposal"') == 1
    assert "MECS &quot;Vaugirard&quot; &amp; co" in svg
    assert svg.count('class="home"') == 1


def test_markers_outside_the_frame_are_left_out():
    view = maps.MapView("x", markers=[maps.Marker(46.99, 3.16, "2", "Nevers"), maps.Marker(48.85, 2.35, "1", "Paris")])
    svg = maps.render_svg(view, "paris")
    assert svg.count("<g class=\"marker") == 1 and "Nevers</title>" not in svg


def test_child_map_shades_the_home_area_never_the_home_point(db):
    from tests.api_support import running_api

    with running_api(db) as api:
        r = api.get("/children/C-1/map", role="officer")
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
    svg = r.text
    assert 'class="home"' in svg
    # one marker per proposal, each a structure: none at the family home
    assert len(re.findall(r'class="marker marker-proposal"', svg)) >= 1
    assert "H-1" not in svg


def test_free_places_map_hides_secret_places_from_an_officer(db):
    from tests.api_support import running_api

    with running_api(db) as api:
        officer = api.get("/places/map?area=paris", role="officer").text
        protection = api.get("/places/map?area=paris", role="protection_officer").text
    assert "Secret home" not in officer
    assert "Secret home" in protection


def test_bad_map_and_list_queries_name_the_field_and_write_nothing(db):
    from tests.api_support import running_api

    with running_api(db) as api:
        for url, role, field in (("/places/map?area=moon", "officer", "area"),
                                 ("/children/C-1/map?k=0", "officer", "k"),
                                 ("/structures?departement=7x5", "officer", "departement"),
                                 ("/units?limit=0", "structure_manager", "limit")):
            r = api.get(url, role=role)
            assert r.status_code == 422, (url, r.text)
            assert field in [e["field"] for e in r.json()["errors"]], (url, r.text)
        unknown = api.get("/children/C-404/map", role="officer")
        assert unknown.status_code == 404 and unknown.json()["errors"][0]["field"] == "child_id"
        assert api.get("/units/U-nev", role="structure_manager").json()["capacity"] == 10  # nothing written
