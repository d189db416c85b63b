"""Every assumed value of the travel-time model, in one place (minutes, metres, km/h).

The build step (:mod:`data.transit.build_reference`) uses the *network* assumptions (speeds and
headways of the lines that have no timetable here); the engine (:mod:`data.transit.network`)
uses the *door-to-door* assumptions (walking, waiting, transfers, feeders beyond walking
distance). Both are part of the digest that keys the cached matrices, so changing a value here
rebuilds them. docs/TRAVEL_TIMES.md explains each value and where it comes from.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
import hashlib
import json

# --- Timetable window --------------------------------------------------------------------------
WINDOW_START_MIN = 9 * 60
"""Start of the weekday daytime window over which running times and headways are averaged (09:00)."""
WINDOW_END_MIN = 18 * 60
"""End of that window (18:00): the hours parents visit in."""
METRO_SERVICE_DATE = "20190312"
"""A Tuesday inside the 2019 RATP GTFS validity (5 Feb - 4 Aug 2019), outside school holidays."""
SNCF_SERVICE_DATE = "20250211"
"""A Tuesday inside both SNCF feeds (TER 22 Jan - 22 Apr 2025, TGV 20 Dec 2024 - 19 May 2025)."""


@dataclass(frozen=True, slots=True)
class ModeAssumption:
    """Running-time model of a line without a timetable: t = fixed_min + distance / cruise_kmh.

    ``fixed_min`` covers dwell, acceleration and braking at each stop (minutes per inter-station
    segment); ``cruise_kmh`` is the speed between stations; ``headway_min`` the weekday
    off-peak interval between trains at a station.
    """

    fixed_min: float
    cruise_kmh: float
    headway_min: float


# Calibrated so that the commercial speeds come out as published by IDFM / RATP / SNCF
# (RER A about 49 km/h over the whole line, RER B about 40-45 km/h, Transilien 45-60 km/h,
# tramway 18-20 km/h) and so that the reference journeys of tests/test_transit_journeys.py
# fall within their tolerance. Headways are the weekday off-peak intervals of the published
# timetables (fiches horaires) as of 2024, rounded: see docs/TRAVEL_TIMES.md.
MODE_ASSUMPTIONS: dict[str, ModeAssumption] = {
    "RER": ModeAssumption(fixed_min=1.0, cruise_kmh=75.0, headway_min=10.0),
    "TRAIN": ModeAssumption(fixed_min=1.2, cruise_kmh=85.0, headway_min=15.0),
    "TRAMWAY": ModeAssumption(fixed_min=0.6, cruise_kmh=26.0, headway_min=7.0),
    "VAL": ModeAssumption(fixed_min=0.8, cruise_kmh=50.0, headway_min=6.0),
}
LINE_HEADWAY_MIN: dict[str, float] = {
    # Central trunks run more often than the per-line default (weekday off-peak, 2024 timetables).
    "RER A": 5.0,
    "RER B": 6.0,
    "RER C": 15.0,
    "RER D": 10.0,
    "RER E": 10.0,
    "TRAIN H": 15.0,
    "TRAIN J": 15.0,
    "TRAIN K": 30.0,
    "TRAIN L": 15.0,
    "TRAIN N": 15.0,
    "TRAIN P": 20.0,
    "TRAIN R": 30.0,
    "TRAIN U": 15.0,
    "FUNICULAIRE MONTMARTRE": 3.0,
    "CDGVAL": 4.0,
    "ORLYVAL": 7.0,
}

# --- Rail to the provinces ---------------------------------------------------------------------
RAIL_BOARDING_BUFFER_MIN = 15.0
"""Minutes added for each long-distance train boarded (at the Paris terminus and at each change):
arriving before a planned departure and changing platforms. A stated assumption."""
RAIL_GATEWAY_SLACK_MIN = 90.0
"""Build step: for each province station, keep the gateways within this many minutes of the best."""
GATEWAY_MATCH_RADIUS_M = 700.0
"""An SNCF station in Île-de-France is linked to the nearest network stop within this radius."""


@dataclass(frozen=True, slots=True)
class DoorToDoor:
    """Door-to-door assumptions of the engine; all of them key the matrix cache.

    Access and egress cost ``min(walk, feeder)`` for a straight-line distance d:
    walk = d * detour / walk_kmh; feeder (a bus, or a car or taxi in the provinces, none in the
    data) = feeder_wait_min + d * detour / feeder_kmh.
    """

    walk_kmh: float = 4.8
    """Walking speed (km/h): 4.5 to 5 km/h is the usual planner default (IDFM uses 4.5 to 5)."""
    detour_factor: float = 1.3
    """Street distance / straight-line distance in a city (1.2 to 1.4 in the literature)."""
    access_k: int = 6
    """Nearest stops (IDF stops and province stations) considered for access and for egress."""
    max_wait_min: float = 15.0
    """Waiting is half the headway, capped at this (riders time a rare train)."""
    transfer_min: float = 3.0
    """Changing lines at one interchange (corridors, stairs), on top of waiting for the next train."""
    transfer_walk_radius_m: float = 400.0
    """Stops this close are linked by a walking transfer (walk time + transfer_min)."""
    feeder_kmh_idf: float = 18.0
    """Bus speed used beyond walking distance in Île-de-France (RATP buses average 12-18 km/h)."""
    feeder_wait_idf_min: float = 8.0
    feeder_kmh_province: float = 40.0
    """Local bus, car or taxi from a province station to the place (no buses in the data)."""
    feeder_wait_province_min: float = 15.0
    road_kmh: float = 70.0
    """Road fallback when no station is within ``max_feeder_m``: door-to-door by road."""
    road_fixed_min: float = 20.0
    max_feeder_m: float = 60_000.0
    snap_m: float = 150.0
    """travel_matrix: homes are snapped to a grid of this size (metres, Lambert-93) to share rows."""

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:16]


def network_assumptions_digest() -> str:
    """Digest of the build-step assumptions (written into the reference files' manifest)."""
    payload = {
        "window": [WINDOW_START_MIN, WINDOW_END_MIN, METRO_SERVICE_DATE, SNCF_SERVICE_DATE],
        "modes": {k: asdict(v) for k, v in MODE_ASSUMPTIONS.items()},
        "lines": LINE_HEADWAY_MIN,
        "rail": [RAIL_BOARDING_BUFFER_MIN, RAIL_GATEWAY_SLACK_MIN, GATEWAY_MATCH_RADIUS_M],
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]
