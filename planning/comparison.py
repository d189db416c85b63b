"""The figures of one scenario's solution, and the comparison of scenarios against the first.

:func:`scenario_figures` measures one solved scenario with exact numbers (JSON-ready): where the
children are placed (Paris / elsewhere in Île-de-France / provinces), transit minutes to the
family home (median, p90, share within 45 and 90 minutes, a histogram), fratries kept together,
split or without a place, children without a place by age band and need, daily cost, children
moved, and the same transit and without-a-place figures for each group of children (age band,
need, unaccompanied minors, arrondissement of origin), so that a change that helps on average
but hurts one group shows it. :func:`compare` puts scenarios side by side with the signed
difference of every figure against the first one. :data:`FIGURES` names the figures a sweep can
be ranked by.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any, Iterable, Literal, Mapping

import numpy as np

from matcher import AgeBand, DomainError, Need, PlacementSystem, Zone
from matcher.outcome import summarize
from matcher.travel import TravelMatrix

HISTOGRAM_BIN_MINUTES = 10
HISTOGRAM_MAX_MINUTES = 600
"""Transit minutes are counted in bins of 10 minutes up to 600; the last bin holds anything longer."""

WITHIN = (45, 90)
"""The thresholds of the 'share within N minutes' figures."""

UnitOfChild = Mapping[str, str | None]


def _transit(minutes: list[float]) -> dict[str, Any]:
    arr = np.asarray(minutes, dtype=float)
    if not arr.size:
        return {"children_with_minutes": 0, "median_minutes": None, "p90_minutes": None,
                **{f"within_{w}_share": None for w in WITHIN}}
    return {
        "children_with_minutes": int(arr.size),
        "median_minutes": round(float(np.median(arr)), 1),
        "p90_minutes": round(float(np.percentile(arr, 90)), 1),
        **{f"within_{w}_share": round(float((arr <= w).mean()), 4) for w in WITHIN},
    }


def _histogram(minutes: list[float]) -> dict[str, Any]:
    edges = np.arange(0, HISTOGRAM_MAX_MINUTES + HISTOGRAM_BIN_MINUTES, HISTOGRAM_BIN_MINUTES)
    arr = np.minimum(np.asarray(minutes, dtype=float), HISTOGRAM_MAX_MINUTES - 1e-9)
    counts, _ = np.histogram(arr, bins=edges)
    return {"bin_minutes": HISTOGRAM_BIN_MINUTES, "counts": [int(c) for c in counts]}


def scenario_figures(
    base: PlacementSystem,
    system: PlacementSystem,
    unit_of_child: UnitOfChild,
    travel: TravelMatrix,
) -> dict[str, Any]:
    """The exact figures of one assignment of ``system`` (the scenario's system, solved);
    ``base`` is the system before the scenario's changes (to count the children moved)."""
    summary = summarize(system, unit_of_child, travel)
    on = system.reference_date
    minutes_all: list[float] = []
    groups: dict[str, dict[str, dict[str, list]]] = {
        "age_band": {b.value: {"minutes": [], "children": [0], "without_place": [0]} for b in AgeBand},
        "need": {n: {"minutes": [], "children": [0], "without_place": [0]} for n in [*(x.value for x in Need), "none"]},
        "unaccompanied_minor": {k: {"minutes": [], "children": [0], "without_place": [0]} for k in ("yes", "no")},
        "arrondissement": {f"751{i:02d}": {"minutes": [], "children": [0], "without_place": [0]} for i in range(1, 21)},
    }
    placed_by_departement: Counter[str] = Counter()
    origin: dict[str, Counter[str]] = defaultdict(Counter)
    moved = 0
    for child_id, unit_id in unit_of_child.items():
        child = system.child_by_id[child_id]
        before = base.child_by_id.get(child_id)
        if before is not None and before.current is not None and before.current.unit_id != unit_id:
            moved += 1
        keys = [("age_band", child.age_band_on(on).value)]
        keys += [("need", n.value) for n in sorted(child.needs)] or [("need", "none")]
        keys.append(("unaccompanied_minor", "yes" if Need.UNACCOMPANIED_MINOR in child.needs else "no"))
        # where the child comes from: the family home's area, else the anchor's (Child.anchor)
        home = child.home.location if child.home is not None else child.anchor.location
        if child.home is not None and home.commune in groups["arrondissement"]:
            keys.append(("arrondissement", home.commune))
        o = origin[home.commune]
        o["children"] += 1
        minutes = None
        if unit_id is not None:
            structure = system.structure_of(system.unit_by_id[unit_id])
            placed_by_departement[structure.location.departement] += 1
            o[f"placed_{structure.zone.value}"] += 1
            minutes = travel.between(child.anchor.id, structure.id)
        else:
            o["without_place"] += 1
        if minutes is not None:
            minutes_all.append(minutes)
        for dim, key in keys:
            g = groups[dim][key]
            g["children"][0] += 1
            if unit_id is None:
                g["without_place"][0] += 1
            elif minutes is not None:
                g["minutes"].append(minutes)

    sib = summary.siblings
    without_any = 0
    for group in system.sibling_groups:
        members = [c for c in group.child_ids if c in unit_of_child]
        if len(members) >= 2 and all(unit_of_child[c] is None for c in members):
            without_any += 1
    return {
        "children": summary.children,
        "placed": summary.placed,
        "without_place": summary.unplaced,
        "placed_by_zone": summary.placed_by_zone,
        "share_by_zone": summary.share_by_zone,
        "transit": {**_transit(minutes_all), "unreachable": summary.travel.unreachable,
                    "histogram": _histogram(minutes_all)},
        "fratries": {
            "groups": sib.groups,
            "together": sib.kept_together,
            "split": sib.split,
            "split_allowed": sib.split_allowed,
            "partly_placed": sib.not_all_placed - without_any,
            "without_place": without_any,
        },
        "without_place_by_age_band": summary.unplaced_by_age_band,
        "without_place_by_need": {**{n.value: 0 for n in Need}, "none": 0, **summary.unplaced_by_need},
        "daily_cost_eur": summary.daily_cost_eur,
        "children_moved": moved,
        "places": sum(u.capacity for u in system.units),
        "groups": {
            dim: {
                key: {"children": g["children"][0], "without_place": g["without_place"][0], **_transit(g["minutes"])}
                for key, g in by_key.items()
            }
            for dim, by_key in groups.items()
        },
        "placed_by_departement": dict(sorted(placed_by_departement.items())),
        "origin": {commune: dict(sorted(c.items())) for commune, c in sorted(origin.items())},
    }


# --- comparison -----------------------------------------------------------------------------------

NOT_COMPARED = frozenset({"histogram", "origin", "placed_by_departement", "solver"})
"""Parts of the figures that are inputs for pictures, not figures to subtract."""


def difference(value: Any, base: Any) -> Any:
    """``value - base`` leaf by leaf over nested figures (None where either is missing)."""
    if isinstance(value, Mapping) and isinstance(base, Mapping):
        return {k: difference(value.get(k), base.get(k)) for k in value if k not in NOT_COMPARED}
    if isinstance(value, bool) or isinstance(base, bool):
        return None
    if isinstance(value, (int, float)) and isinstance(base, (int, float)):
        d = value - base
        return round(d, 4) if isinstance(d, float) else d
    return None


def compare(results: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The comparison of scenario results against the first one that succeeded.

    Each result is what :func:`planning.runner.run_scenarios` returns for one scenario: its
    ``name``, ``description``, ``source`` and either ``figures`` or an ``error``. The output keeps
    the figures and adds ``difference`` (signed, scenario minus base) to each scenario.
    """
    results = list(results)
    ok = [r for r in results if r.get("figures") is not None]
    if not ok:
        raise DomainError("no scenario could be solved: nothing to compare",
                          fr="aucun scénario n'a pu être résolu : rien à comparer")
    base = ok[0]
    scenarios = []
    for r in results:
        entry = dict(r)
        if r.get("figures") is not None:
            entry["difference"] = difference(r["figures"], base["figures"])
        scenarios.append(entry)
    return {
        "base": base["name"],
        "scenarios": scenarios,
        "failed": [{"name": r["name"], "source": r.get("source"), "error": r["error"]} for r in results if r.get("error")],
    }


# --- figures to rank by ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Figure:
    """A headline figure: where it is in the figures, which way is better, its French label."""

    name: str
    path: tuple[str, ...]
    better: Literal["lower", "higher"]
    label_fr: str
    unit: Literal["share", "minutes", "children", "eur", "groups"]

    def of(self, figures: Mapping[str, Any]) -> float | None:
        value: Any = figures
        for part in self.path:
            if not isinstance(value, Mapping) or part not in value:
                return None
            value = value[part]
        return None if value is None else float(value)


FIGURES: dict[str, Figure] = {f.name: f for f in (
    Figure("share_paris", ("share_by_zone", Zone.PARIS.value), "higher", "Part accueillie à Paris", "share"),
    Figure("share_ile_de_france", ("share_by_zone", Zone.ILE_DE_FRANCE.value), "higher",
           "Part accueillie ailleurs en Île-de-France", "share"),
    Figure("share_province", ("share_by_zone", Zone.PROVINCE.value), "lower", "Part accueillie en province", "share"),
    Figure("median_minutes", ("transit", "median_minutes"), "lower", "Trajet médian vers le domicile familial", "minutes"),
    Figure("p90_minutes", ("transit", "p90_minutes"), "lower", "Trajet au 9e décile (p90)", "minutes"),
    Figure("within_45_share", ("transit", "within_45_share"), "higher", "Part à 45 minutes ou moins", "share"),
    Figure("within_90_share", ("transit", "within_90_share"), "higher", "Part à 90 minutes ou moins", "share"),
    Figure("without_place", ("without_place",), "lower", "Enfants sans place", "children"),
    Figure("fratries_together", ("fratries", "together"), "higher", "Fratries réunies", "groups"),
    Figure("fratries_split", ("fratries", "split"), "lower", "Fratries séparées", "groups"),
    Figure("daily_cost_eur", ("daily_cost_eur",), "lower", "Coût journalier", "eur"),
    Figure("children_moved", ("children_moved",), "lower", "Enfants déplacés", "children"),
)}
"""The figures a sweep can be ranked by (``--rank-by NAME``), in the order of the reports."""


def figure(name: str) -> Figure:
    if name not in FIGURES:
        raise DomainError(f"unknown figure {name!r} to rank by; known: {', '.join(FIGURES)}",
                          fr=f"indicateur de classement {name!r} inconnu ; connus : {', '.join(FIGURES)}")
    return FIGURES[name]


def rank(results: Iterable[Mapping[str, Any]], by: str) -> list[dict[str, Any]]:
    """Scenarios that succeeded, best first by the figure ``by`` (ties: in the order given), each
    with ``rank`` and ``value``; failed ones are left out (they are listed by :func:`compare`)."""
    fig = figure(by)
    scored = [(fig.of(r["figures"]), i, r) for i, r in enumerate(results) if r.get("figures") is not None]
    sign = 1.0 if fig.better == "lower" else -1.0
    ordered = sorted(scored, key=lambda t: (t[0] is None, sign * (t[0] or 0.0), t[1]))
    return [{"rank": k + 1, "name": r["name"], "value": v, "figure": fig.name} for k, (v, _, r) in enumerate(ordered)]
