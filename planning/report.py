"""The report of a scenario comparison: exact JSON, a French text, pictures and one HTML page.

:func:`write_report` writes, in one directory (each file written whole, then renamed into place):

* ``comparison.json``: :func:`planning.comparison.compare`'s output (exact figures and signed
  differences against the first scenario), and the ranking of a sweep;
* ``rapport.md``: the same in French sentences for people, with rounded numbers, including the
  groups of children a scenario makes worse off;
* ``transit-times.png``: the transit-time distributions of the scenarios, overlaid;
* ``headline.png``: a bar chart of the headline figures;
* ``map-NN-<scenario>.png``: per scenario, maps from the bundled boundaries: where the children of
  each Paris arrondissement are placed (share placed in Paris, median minutes), children placed
  per département, children without a place by the commune or arrondissement of their home;
* ``rapport.html``: one self-contained page (every picture inlined as base64, no external asset)
  with the tables of figures beside the pictures, in French.

Pictures are drawn with ``matplotlib.figure.Figure`` (no pyplot: safe in a server), one figure
per call, on the Agg backend. :func:`picture_names` lists the pictures of a comparison.
"""

from __future__ import annotations

import base64
import io
import json
import os
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display, ever (before anything draws)

from matplotlib.figure import Figure  # noqa: E402

from planning.comparison import FIGURES, HISTOGRAM_BIN_MINUTES, Figure as Headline  # noqa: E402
from planning.scenarios import slug  # noqa: E402

LINE_STYLES = ("-", "--", ":", "-.", (0, (5, 1)), (0, (3, 1, 1, 1)), (0, (1, 1)), (0, (5, 3, 1, 3)))
"""Scenarios differ by line style as well as colour (colour is never the only encoding)."""
HATCHES = ("", "//", "..", "xx", "\\\\", "++", "oo", "--")

AGE_BAND_FR = {"0-3": "0-3 ans", "4-11": "4-11 ans", "12-15": "12-15 ans", "16-17": "16-17 ans", "18-21": "18-21 ans"}
NEED_FR = {"disability": "handicap", "psychic_care": "soins psychiques", "mother_child": "mère-enfant",
           "protection": "protection (place secrète)", "unaccompanied_minor": "mineur non accompagné", "none": "sans besoin spécifique"}
DIMENSION_FR = {"age_band": "Tranche d'âge", "need": "Besoin", "unaccompanied_minor": "Mineurs non accompagnés",
                "arrondissement": "Arrondissement du domicile"}
ZONE_FR = {"paris": "Paris", "ile_de_france": "ailleurs en Île-de-France", "province": "en province"}
HEADLINE_CHART = ("share_paris", "median_minutes", "p90_minutes", "within_90_share", "without_place", "daily_cost_eur")

COMPARISON_JSON = "comparison.json"
REPORT_MD = "rapport.md"
REPORT_HTML = "rapport.html"
TRANSIT_PNG = "transit-times.png"
HEADLINE_PNG = "headline.png"


# --- French numbers -------------------------------------------------------------------------------


def _num(x: float, digits: int = 0) -> str:
    text = f"{x:,.{digits}f}".replace(",", "\u202f").replace(".", ",")
    return text.replace("-", "−")


def fr_value(fig: Headline, value: float | None) -> str:
    """A figure's value in French, rounded: 41 %, 63 min, 12 345 €, 7 enfants."""
    if value is None:
        return "–"
    if fig.unit == "share":
        return f"{_num(100 * value)} %"
    if fig.unit == "minutes":
        return f"{_num(value)} min"
    if fig.unit == "eur":
        return f"{_num(value)} €"
    return _num(value)


def fr_difference(fig: Headline, diff: float | None) -> str:
    """A signed difference in French: +3 points, −8 min, +1 200 €, 0."""
    if diff is None:
        return "–"
    scaled = 100 * diff if fig.unit == "share" else diff
    digits = 1 if fig.unit == "share" else 0  # shares in points to one decimal, the rest whole
    rounded = round(scaled, digits)
    if rounded == 0:
        return "="
    sign = "+" if rounded > 0 else "−"
    body = _num(abs(rounded), digits)
    suffix = {"share": " pt", "minutes": " min", "eur": " €"}.get(fig.unit, "")
    return f"{sign}{body}{suffix}"


def _group_label(dim: str, key: str) -> str:
    if dim == "age_band":
        return AGE_BAND_FR.get(key, key)
    if dim == "need":
        return NEED_FR.get(key, key)
    if dim == "unaccompanied_minor":
        return "MNA" if key == "yes" else "autres enfants"
    if dim == "arrondissement":
        n = int(key[-2:])
        return "1er" if n == 1 else f"{n}e"
    return key


# --- what got worse, for whom ---------------------------------------------------------------------


def worse_groups(entry: Mapping[str, Any], minutes: float = 5.0) -> list[str]:
    """Sentences naming each group of children a scenario leaves worse off than the base: more
    children without a place, or a median trip longer by more than ``minutes``."""
    diff = entry.get("difference") or {}
    figures = entry.get("figures") or {}
    out = []
    for dim, by_key in (diff.get("groups") or {}).items():
        for key, d in by_key.items():
            g = figures["groups"][dim][key]
            label = f"{DIMENSION_FR[dim].lower()} {_group_label(dim, key)}"
            if (d.get("without_place") or 0) > 0:
                out.append(f"{label} : {_num(d['without_place'])} enfant(s) de plus sans place "
                           f"({_num(g['without_place'])} au total)")
            if d.get("median_minutes") is not None and d["median_minutes"] > minutes:
                out.append(f"{label} : trajet médian plus long de {_num(d['median_minutes'])} min "
                           f"({_num(g['median_minutes'])} min)")
    return out


# --- pictures -------------------------------------------------------------------------------------


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    return buf.getvalue()


def _ok(comparison: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [s for s in comparison["scenarios"] if s.get("figures") is not None]


def transit_chart(comparison: Mapping[str, Any]) -> bytes:
    """The transit-time distributions of the scenarios overlaid (share of placed children per
    10-minute bin, up to 5 hours), with the 45 and 90 minute marks."""
    fig = Figure(figsize=(9, 4.8))
    ax = fig.add_subplot()
    for k, s in enumerate(_ok(comparison)):
        counts = s["figures"]["transit"]["histogram"]["counts"]
        total = sum(counts) or 1
        shown = 300 // HISTOGRAM_BIN_MINUTES
        xs = [i * HISTOGRAM_BIN_MINUTES for i in range(shown + 1)]
        ys = [100 * c / total for c in counts[:shown]]
        ax.stairs(ys, xs, label=s["name"], linestyle=LINE_STYLES[k % len(LINE_STYLES)], linewidth=1.8)
    for mark in (45, 90):
        ax.axvline(mark, color="0.4", linewidth=0.8)
        ax.text(mark + 2, ax.get_ylim()[1] * 0.95, f"{mark} min", fontsize=8, color="0.3")
    ax.set_xlabel("Trajet en transports en commun vers le domicile familial (minutes)")
    ax.set_ylabel("Part des enfants accueillis (%)")
    ax.set_title("Temps de trajet vers le domicile familial, par scénario")
    ax.legend(fontsize=8, loc="upper right")
    ax.grid(alpha=0.3)
    return _png(fig)


def headline_chart(comparison: Mapping[str, Any]) -> bytes:
    """Bar chart of the headline figures, one panel per figure, one bar per scenario."""
    scenarios = _ok(comparison)
    fig = Figure(figsize=(11, 6.5 + 0.25 * len(scenarios)))
    axes = fig.subplots(2, 3)
    handles: list[Any] = []
    names = [s["name"] for s in scenarios]
    for ax, key in zip(axes.flat, HEADLINE_CHART):
        f = FIGURES[key]
        values = [f.of(s["figures"]) for s in scenarios]
        shown = [0.0 if v is None else (100 * v if f.unit == "share" else v) for v in values]
        bars = ax.bar(range(len(shown)), shown, color=[f"C{k % 10}" for k in range(len(shown))], edgecolor="black",
                      linewidth=0.6)
        for k, (bar, v) in enumerate(zip(bars, values)):
            bar.set_hatch(HATCHES[k % len(HATCHES)])
            text = "–" if v is None else (f"{_num(v / 1000)} k€" if f.unit == "eur" else fr_value(f, v))
            ax.annotate(text, (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center", va="bottom", fontsize=7)
        ax.set_title(f.label_fr + (" (%)" if f.unit == "share" else ""), fontsize=9)
        ax.set_xticks(range(len(shown)), [str(k + 1) for k in range(len(shown))], fontsize=8)
        ax.margins(y=0.15)
        if ax is axes.flat[0]:
            handles = list(bars)
    fig.suptitle("Chiffres clés par scénario", fontsize=11)
    rows = (len(names) + 1) // 2
    fig.legend(handles, [f"{k + 1}. {n}" for k, n in enumerate(names)], loc="lower center", ncol=2, fontsize=8,
               frameon=False)
    fig.tight_layout(rect=(0, min(0.45, 0.035 * rows + 0.02), 1, 0.96))
    return _png(fig)


def map_chart(entry: Mapping[str, Any], scales: Mapping[str, float]) -> bytes:
    """Three maps for one scenario (Lambert-93): the share of each arrondissement's children placed
    in Paris, children placed per département, and children without a place by home commune."""
    from data import geography

    figures = entry["figures"]
    fig = Figure(figsize=(15, 5.6))
    ax1, ax2, ax3 = fig.subplots(1, 3)
    missing = {"color": "0.92", "edgecolor": "0.6", "hatch": "///", "label": "aucun enfant"}

    arr = geography.arrondissements().to_crs(2154)
    groups = figures["groups"]["arrondissement"]
    origin = figures["origin"]
    share, labels = [], []
    for code in arr["code"]:
        o = origin.get(code, {})
        placed = sum(v for k, v in o.items() if k.startswith("placed_"))
        share.append(100 * o.get("placed_paris", 0) / placed if placed else None)
        labels.append(groups.get(code, {}).get("median_minutes"))
    arr = arr.assign(share_paris=share)
    arr.plot(column="share_paris", ax=ax1, cmap="Greens", vmin=0, vmax=100, legend=True, edgecolor="0.3", linewidth=0.5,
             missing_kwds=missing, legend_kwds={"label": "% accueillis à Paris", "shrink": 0.6})
    for geom, minutes in zip(arr.geometry, labels):
        if minutes is not None:
            p = geom.representative_point()
            ax1.annotate(f"{minutes:.0f}'", (p.x, p.y), ha="center", va="center", fontsize=7)
    ax1.set_title("Part des enfants de chaque arrondissement\naccueillis à Paris (chiffre : trajet médian, min)", fontsize=9)

    deps = geography.departements().to_crs(2154)
    placed = figures["placed_by_departement"]
    deps = deps.assign(placed=[placed.get(c) for c in deps["code"]])
    from matplotlib.colors import LogNorm

    deps.plot(column="placed", ax=ax2, cmap="Blues", norm=LogNorm(vmin=1, vmax=max(2.0, scales["placed"])), legend=True,
              edgecolor="0.5", linewidth=0.3, missing_kwds=missing,
              legend_kwds={"label": "enfants accueillis (échelle log)", "shrink": 0.6})
    ax2.set_title("Enfants accueillis, par département", fontsize=9)

    com = geography.idf_communes().to_crs(2154)
    without = {k: v.get("without_place", 0) for k, v in origin.items()}
    com = com.assign(without=[without.get(c, without.get(c2)) for c, c2 in zip(com["code"], com["code_cog2026"])])
    arr2 = arr.assign(without=[without.get(c) for c in arr["code"]])
    vmax = max(1.0, scales["without"])
    com.plot(column="without", ax=ax3, cmap="Reds", vmin=0, vmax=vmax, edgecolor="0.85", linewidth=0.1,
             missing_kwds={"color": "0.97", "edgecolor": "0.9", "linewidth": 0.1})
    arr2.plot(column="without", ax=ax3, cmap="Reds", vmin=0, vmax=vmax, legend=True, edgecolor="0.4", linewidth=0.4,
              missing_kwds={"color": "0.97", "edgecolor": "0.6"}, legend_kwds={"label": "enfants sans place", "shrink": 0.6})
    xmin, ymin, xmax, ymax = arr.total_bounds
    pad = 25_000
    ax3.set_xlim(xmin - pad, xmax + pad)
    ax3.set_ylim(ymin - pad, ymax + pad)
    ax3.set_title("Enfants sans place, selon le domicile familial\n(Paris et petite couronne)", fontsize=9)
    for ax in (ax1, ax2, ax3):
        ax.set_axis_off()
    fig.suptitle(entry["name"], fontsize=11, y=0.93)
    return _png(fig)


def map_scales(comparison: Mapping[str, Any]) -> dict[str, float]:
    """Colour scales shared by every scenario's maps, so that they compare side by side."""
    placed = [v for s in _ok(comparison) for v in s["figures"]["placed_by_departement"].values()]
    without = [o.get("without_place", 0) for s in _ok(comparison) for o in s["figures"]["origin"].values()]
    return {"placed": float(max(placed, default=1)), "without": float(max(without, default=1))}


def picture_names(comparison: Mapping[str, Any]) -> list[str]:
    """The PNG files :func:`write_report` writes for this comparison."""
    names = [TRANSIT_PNG, HEADLINE_PNG]
    for k, s in enumerate(comparison["scenarios"]):
        if s.get("figures") is not None:
            names.append(f"map-{k + 1:02d}-{slug(s['name'])}.png")
    return names


# --- text and page --------------------------------------------------------------------------------


def headline_rows(comparison: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per headline figure: its label and, per scenario, the value and signed difference."""
    rows = []
    for f in FIGURES.values():
        cells = []
        for s in _ok(comparison):
            diff = f.of(s["difference"]) if s.get("difference") else None
            cells.append({"value": fr_value(f, f.of(s["figures"])),
                          "difference": fr_difference(f, diff) if s["name"] != comparison["base"] else ""})
        rows.append({"label": f.label_fr, "cells": cells})
    return rows


def group_rows(comparison: Mapping[str, Any], dim: str) -> list[dict[str, Any]]:
    """Per group of ``dim``: children without a place and median trip, per scenario, with differences."""
    minutes = FIGURES["median_minutes"]
    count = FIGURES["without_place"]
    scenarios = _ok(comparison)
    keys = list(scenarios[0]["figures"]["groups"][dim]) if scenarios else []
    rows = []
    for key in keys:
        cells = []
        for s in scenarios:
            g = s["figures"]["groups"][dim][key]
            d = (s.get("difference") or {}).get("groups", {}).get(dim, {}).get(key, {})
            base = s["name"] == comparison["base"]
            cells.append({
                "children": _num(g["children"]),
                "without": fr_value(count, g["without_place"]),
                "without_diff": "" if base else fr_difference(count, d.get("without_place")),
                "minutes": fr_value(minutes, g["median_minutes"]),
                "minutes_diff": "" if base else fr_difference(minutes, d.get("median_minutes")),
            })
        if any(c["children"] != "0" for c in cells):
            rows.append({"label": _group_label(dim, key), "cells": cells})
    return rows


def summary_sentences(entry: Mapping[str, Any], base_name: str) -> list[str]:
    """The effect of one scenario against the base, in French sentences with rounded numbers."""
    f = entry["figures"]
    d = entry.get("difference") or {}
    out = []
    shares = ", ".join(f"{fr_value(FIGURES['share_paris'], f['share_by_zone'][z])} {ZONE_FR[z]}" for z in ZONE_FR)
    out.append(f"{_num(f['placed'])} enfants accueillis sur {_num(f['children'])} : {shares}.")
    t = f["transit"]
    within = FIGURES["within_90_share"]
    out.append(f"Trajet vers le domicile familial : médiane {fr_value(FIGURES['median_minutes'], t['median_minutes'])}, "
               f"9e décile {fr_value(FIGURES['p90_minutes'], t['p90_minutes'])}, "
               f"{fr_value(within, t['within_45_share'])} à 45 minutes ou moins, "
               f"{fr_value(within, t['within_90_share'])} à 90 minutes ou moins.")
    fr = f["fratries"]
    out.append(f"Fratries : {_num(fr['together'])} réunies, {_num(fr['split'])} séparées, "
               f"{_num(fr['without_place'])} sans place, sur {_num(fr['groups'])}.")
    out.append(f"Sans place : {_num(f['without_place'])} enfant(s). Coût journalier {fr_value(FIGURES['daily_cost_eur'], f['daily_cost_eur'])}"
               f" ; {_num(f['children_moved'])} enfant(s) changent de lieu d'accueil.")
    if entry["name"] != base_name and d:
        diffs = [f"{x.label_fr[0].lower() + x.label_fr[1:]} {fr_difference(x, x.of(d))}" for x in FIGURES.values()
                 if x.of(d) is not None and fr_difference(x, x.of(d)) != "="]
        out.append(f"Par rapport à « {base_name} » : " + ("; ".join(diffs) if diffs else "aucun changement notable") + ".")
        worse = worse_groups(entry)
        if worse:
            out.append("Groupes moins bien servis : " + " ; ".join(worse) + ".")
    return out


def markdown(comparison: Mapping[str, Any], ranking: Sequence[Mapping[str, Any]] | None = None) -> str:
    """The French report as text (Markdown), rounded numbers."""
    lines = [f"# Comparaison de scénarios de capacité", "",
             f"Référence : « {comparison['base']} ». Les écarts sont signés (scénario moins référence). "
             "Les enfants sont fictifs (jeu de données synthétique).", ""]
    if ranking:
        f = FIGURES[ranking[0]["figure"]]
        lines += [f"## Classement selon : {f.label_fr[0].lower() + f.label_fr[1:]} ({'le plus bas' if f.better == 'lower' else 'le plus haut'} d'abord)", ""]
        lines += [f"{r['rank']}. {r['name']} : {fr_value(f, r['value'])}" for r in ranking] + [""]
    for s in comparison["scenarios"]:
        lines += [f"## {s['name']}", "", s.get("description", ""), ""]
        if s.get("error"):
            lines += [f"**Échec** : ce scénario n'a pas pu être calculé ({s['error']}).", ""]
            continue
        lines += [f"- {x}" for x in summary_sentences(s, comparison["base"])] + [""]
    return "\n".join(lines)


def html(comparison: Mapping[str, Any], pictures: Mapping[str, bytes],
         ranking: Sequence[Mapping[str, Any]] | None = None) -> str:
    """The self-contained HTML page (Jinja2 template ``templates/report.html.j2``)."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(loader=PackageLoader("planning", "templates"), autoescape=select_autoescape(["html", "j2"]))
    template = env.get_template("report.html.j2")
    scenarios = comparison["scenarios"]
    ok = _ok(comparison)
    maps = {}
    for k, s in enumerate(scenarios):
        if s.get("figures") is not None:
            maps[s["name"]] = f"map-{k + 1:02d}-{slug(s['name'])}.png"
    uri = {name: "data:image/png;base64," + base64.b64encode(data).decode("ascii") for name, data in pictures.items()}
    rank_figure = FIGURES[ranking[0]["figure"]] if ranking else None
    return template.render(
        comparison=comparison,
        scenarios=scenarios,
        ok=ok,
        headline=headline_rows(comparison),
        groups=[(DIMENSION_FR[d], group_rows(comparison, d)) for d in DIMENSION_FR],
        sentences={s["name"]: summary_sentences(s, comparison["base"]) for s in ok},
        transit_png=uri.get(TRANSIT_PNG),
        headline_png=uri.get(HEADLINE_PNG),
        maps=[(s["name"], uri[maps[s["name"]]]) for s in ok if maps.get(s["name"]) in uri],
        ranking=ranking or [],
        rank_figure=rank_figure,
        fr_value=fr_value,
    )


def _write(path: Path, data: bytes) -> None:
    tmp = path.parent / f".{path.name}.tmp-{uuid.uuid4().hex[:8]}"
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_report(comparison: Mapping[str, Any], out: Path, ranking: Sequence[Mapping[str, Any]] | None = None) -> list[Path]:
    """Write the JSON, the French text, the pictures and the HTML page into ``out`` (created if
    needed); every file is drawn first and written whole. Returns the paths written."""
    pictures: dict[str, bytes] = {}
    if _ok(comparison):
        pictures[TRANSIT_PNG] = transit_chart(comparison)
        pictures[HEADLINE_PNG] = headline_chart(comparison)
        scales = map_scales(comparison)
        for k, s in enumerate(comparison["scenarios"]):
            if s.get("figures") is not None:
                pictures[f"map-{k + 1:02d}-{slug(s['name'])}.png"] = map_chart(s, scales)
    document = dict(comparison)
    if ranking is not None:
        document["ranking"] = list(ranking)
    files = {
        COMPARISON_JSON: json.dumps(document, indent=2, ensure_ascii=False).encode("utf-8"),
        REPORT_MD: markdown(comparison, ranking).encode("utf-8"),
        REPORT_HTML: html(comparison, pictures, ranking).encode("utf-8"),
        **pictures,
    }
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, data in files.items():
        _write(out / name, data)
        written.append(out / name)
    return written
