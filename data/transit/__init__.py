"""Transit travel times: door-to-door public-transport minutes from family homes to structures.

Public API (others call these):

* :meth:`TransitNetwork.load` -> the network, loaded once (cached per reference dir and parameters);
* :meth:`TransitNetwork.journey`, :meth:`TransitNetwork.minutes_matrix`, :meth:`TransitNetwork.isochrone`;
* :func:`travel_matrix` -> a :class:`matcher.travel.TravelMatrix` cached on disk as Parquet;
* :func:`load_external_matrix` -> a TravelMatrix from a matrix computed elsewhere (CSV/Parquet).

How the minutes are defined: docs/TRAVEL_TIMES.md.
"""

from data.transit.network import Journey, Leg, TransitNetwork
from data.transit.matrix import default_cache_dir, load_external_matrix, travel_matrix
from data.transit.parameters import DoorToDoor

__all__ = [
    "DoorToDoor",
    "Journey",
    "Leg",
    "TransitNetwork",
    "default_cache_dir",
    "load_external_matrix",
    "travel_matrix",
]
