"""planning: the planners' tools over the domain and the solver: capacity scenarios and their
comparison (``planning.scenarios``), batch rebalancing of far placements (``planning.rebalance``)
and the simulation of a period of arrivals and departures (``planning.simulation``).

Uses ``solver`` and ``matcher``; knows no HTTP; reads files only through ``data``."""
