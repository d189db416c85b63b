"""The simulation's section of the planners' report: one self-contained HTML page, in French.

Charts over time drawn with matplotlib's object API (``matplotlib.figure.Figure``, never pyplot:
no global state, safe in a server), written as SVG with a fixed hash salt so that the same result
gives the same page, and inlined; each chart sits in a ``<figure>`` with a caption, a text
alternative, and its numbers in a table beside it (colour is never the only encoding: each
policy also has its own line style and marker).
"""

from __future__ import annotations

import html
import io
from collections.abc import Mapping, Sequence
from typing import Any

from planning.simulation import POLICY_LABELS_FR

_STYLES = {"greedy": ("-", "o"), "own": ("--", "s"), "system": ("-.", "^"), "batch": (":", "D")}
FIGURE_LABELS_FR: dict[str, tuple[str, str]] = {
    "share_of_hindsight": ("Part de l'optimum a posteriori", "%"),
    "mean_days_waited": ("Jours d'attente (moyenne)", "jours"),
    "p90_days_waited": ("Jours d'attente (9e décile)", "jours"),
    "emergency_placements": ("Urgences non placées le jour même", "enfants"),
    "median_transit_minutes": ("Trajet vers le domicile familial (médiane)", "min"),
    "p90_transit_minutes": ("Trajet vers le domicile familial (9e décile)", "min"),
    "share_outside_ile_de_france": ("Placés hors Île-de-France", "%"),
    "fratries_split": ("Fratries séparées", "fratries"),
    "moves": ("Changements de lieu (âge)", "enfants"),
    "cost_eur": ("Coût des places pendant la période", "€"),
    "objective": ("Objectif de l'optimiseur (plus bas, mieux)", ""),
}
_PERCENT = {"share_of_hindsight", "share_outside_ile_de_france"}


def _fmt(value: float | None, figure: str) -> str:
    if value is None:
        return "–"
    if figure in _PERCENT or figure.startswith("objective_relative_to_"):
        return f"{100 * value:.1f}".replace(".", ",") + " %"
    if figure in ("cost_eur", "objective") or figure.endswith("_minutes"):  # minutes read as integers
        return f"{value:,.0f}".replace(",", "\u202f")
    return f"{value:.1f}".replace(".", ",")


def _svg(fig) -> str:
    import matplotlib

    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": "placement-simulation", "svg.fonttype": "none"}):
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    return text[text.index("<svg"):]


def _line_chart(weekly: Mapping[str, Any], key: str, ylabel: str, percent: bool = False) -> str:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.5, 3.4), layout="constrained")
    ax = fig.add_subplot()
    for name, series in weekly.items():
        style, marker = _STYLES.get(name, ("-", "x"))
        ys = [None if v is None else (100 * v if percent else v) for v in series[key]]
        xs = [w for w, y in zip(series["week"], ys) if y is not None]
        ax.plot(xs, [y for y in ys if y is not None], linestyle=style, marker=marker, markersize=3, markevery=4,
                label=POLICY_LABELS_FR.get(name, name))
    ax.set_xlabel("Semaine")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return _svg(fig)


def _share_chart(summary: Mapping[str, Any], policies: Sequence[str]) -> str:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.5, 3.0), layout="constrained")
    ax = fig.add_subplot()
    means, lows, highs = [], [], []
    for name in policies:
        s = summary[name]["share_of_hindsight"]
        means.append(100 * (s["mean"] or 0))
        lows.append(100 * ((s["mean"] or 0) - (s["low"] or 0)))
        highs.append(100 * ((s["high"] or 0) - (s["mean"] or 0)))
    labels = [POLICY_LABELS_FR.get(p, p) for p in policies]
    bars = ax.barh(range(len(policies)), means, xerr=[lows, highs], capsize=4, color="#4a78a8")
    for bar, hatch in zip(bars, ["", "//", "..", "xx"]):
        bar.set_hatch(hatch)
    ax.set_yticks(range(len(policies)), labels, fontsize=8)
    ax.set_xlabel("% de l'optimum a posteriori (borne prouvée ; 100 % = rien ne pouvait faire mieux)")
    ax.set_xlim(0, 100)
    ax.grid(axis="x", alpha=0.3)
    return _svg(fig)


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], caption: str) -> str:
    head = "".join(f'<th scope="col">{html.escape(h)}</th>' for h in headers)
    body = "".join("<tr>" + "".join((f'<th scope="row">{html.escape(c)}</th>' if k == 0 else f"<td>{html.escape(c)}</td>")
                                    for k, c in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><caption>{html.escape(caption)}</caption><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _figure(svg: str, caption: str, alt: str, table: str) -> str:
    return (f'<figure><div role="img" aria-label="{html.escape(alt)}">{svg}</div>'
            f"<figcaption>{html.escape(caption)}</figcaption>{table}</figure>")


def _weekly_table(weekly: Mapping[str, Any], key: str, caption: str, percent: bool = False, every: int = 4) -> str:
    policies = list(weekly)
    weeks = weekly[policies[0]]["week"] if policies else []
    rows = []
    for k in range(0, len(weeks), every):
        row = [f"S{weeks[k] + 1}"]
        for p in policies:
            v = weekly[p][key][k]
            row.append("–" if v is None else (f"{100 * v:.0f} %" if percent else f"{v:.0f}"))
        rows.append(row)
    return _table(["Semaine", *(POLICY_LABELS_FR.get(p, p) for p in policies)], rows, caption)


def summary_table(result: Mapping[str, Any]) -> tuple[list[str], list[list[str]], str]:
    """The table of results by policy, in French words and numbers: the headers (``Indicateur``,
    then each policy's label), one row per figure (its label and unit, then each policy's mean,
    with its 95% interval when there are several replications), and the caption. The HTML
    report and the command line show this same table."""
    policies = result["policies"]
    summary = result["summary"]["policies"]
    n = len(result["replications"])
    paired = f"objective_relative_to_{policies[0]}"
    labels = {**FIGURE_LABELS_FR, paired: (f"Objectif rapporté à « {POLICY_LABELS_FR.get(policies[0], policies[0])} » "
                                           "(mêmes arrivées)", "%")}
    figures = [f for f in FIGURE_LABELS_FR]
    figures.insert(1, paired)
    rows = []
    for f in figures:
        label, unit = labels[f]
        row = [f"{label}" + (f" ({unit})" if unit and unit != "%" else "")]
        for p in policies:
            s = summary[p][f]
            if s["mean"] is None:
                row.append("–")
            elif n > 1:
                row.append(f"{_fmt(s['mean'], f)} [{_fmt(s['low'], f)} ; {_fmt(s['high'], f)}]")
            else:
                row.append(_fmt(s["mean"], f))
        rows.append(row)
    caption = (f"Résultats par politique : moyenne sur {n} réplication(s)"
               + (", intervalle de confiance à 95 % (loi de Student) entre crochets" if n > 1 else ""))
    return ["Indicateur", *(POLICY_LABELS_FR.get(p, p) for p in policies)], rows, caption


def render_report(result: Mapping[str, Any], title: str = "Simulation d'une année d'arrivées et de départs") -> str:
    """The HTML page of a :func:`planning.simulation.replicate` result (self-contained)."""
    policies = result["policies"]
    summary = result["summary"]["policies"]
    weekly = result["summary"]["weekly"]
    population = result["summary"]["population"]
    n = len(result["replications"])
    headers, rows, caption = summary_table(result)
    main_table = _table(headers, rows, caption)
    share_rows = [[POLICY_LABELS_FR.get(p, p), _fmt(summary[p]["share_of_hindsight"]["mean"], "share_of_hindsight"),
                   _fmt(summary[p]["share_of_hindsight"]["low"], "share_of_hindsight"),
                   _fmt(summary[p]["share_of_hindsight"]["high"], "share_of_hindsight")] for p in policies]
    parts = [
        _figure(_share_chart(summary, policies), "Chaque politique en part de l'optimum a posteriori (borne inférieure prouvée de l'objectif).",
                "Barres horizontales : part de l'optimum a posteriori atteinte par chaque politique, avec son intervalle de confiance.",
                _table(["Politique", "Part", "Borne basse", "Borne haute"], share_rows, "Part de l'optimum a posteriori")),
        _figure(_line_chart(weekly, "queue", "Enfants en attente"), "File d'attente en fin de semaine (moyenne des réplications).",
                "Courbes : nombre d'enfants en attente d'une place chaque semaine, une courbe par politique.",
                _weekly_table(weekly, "queue", "Enfants en attente, toutes les 4 semaines")),
        _figure(_line_chart(weekly, "median_transit_minutes", "Minutes (médiane)"),
                "Trajet en transports en commun du domicile familial au lieu d'accueil, placements de la semaine (médiane).",
                "Courbes : temps de trajet médian des enfants placés chaque semaine, une courbe par politique.",
                _weekly_table(weekly, "median_transit_minutes", "Trajet médian (min), toutes les 4 semaines")),
        _figure(_line_chart(weekly, "share_outside_ile_de_france", "% hors Île-de-France", percent=True),
                "Part des placements de la semaine hors Île-de-France.",
                "Courbes : part des enfants placés chaque semaine hors Île-de-France, une courbe par politique.",
                _weekly_table(weekly, "share_outside_ile_de_france", "Placés hors Île-de-France, toutes les 4 semaines", percent=True)),
        _figure(_line_chart(weekly, "emergencies", "Urgences non placées le jour même"),
                "Enfants urgents sans place le jour de leur arrivée, par semaine.",
                "Courbes : nombre d'urgences non placées le jour même chaque semaine, une courbe par politique.",
                _weekly_table(weekly, "emergencies", "Urgences non placées le jour même, toutes les 4 semaines")),
    ]
    pop_rows = [[label, f"{population[key]['mean']:.0f}"]
                for key, label in (("stock_start", "Enfants confiés au début"), ("stock_end", "Enfants confiés à la fin"),
                                   ("entrants", "Entrées"), ("leavers", "Sorties"))]
    pop_rows += [["Part des 12-15 ans parmi les entrées", _fmt(population["entrant_share_12_15"]["mean"], "share_of_hindsight")],
                 ["Part des 12-15 ans parmi les sorties", _fmt(population["leaver_share_12_15"]["mean"], "share_of_hindsight")]]
    changes = result.get("capacity_changes") or []
    change_rows = [[c["on"], f"{c['places']:+d}", c.get("unit") or c.get("structure") or
                    " / ".join(x for x in (c.get("zone"), c.get("type")) if x)] for c in changes]
    style = ("body{font-family:system-ui,sans-serif;max-width:60rem;margin:auto;padding:1rem;color:#1a1a1a}"
             "table{border-collapse:collapse;margin:.5rem 0;font-size:.85rem}th,td{border:1px solid #999;padding:.2rem .4rem;text-align:right}"
             "th[scope=row]{text-align:left}caption{text-align:left;font-weight:600}figure{margin:1.5rem 0}svg{max-width:100%;height:auto}")
    days = result["days"]
    return f"""<!DOCTYPE html>
<html lang="fr"><head><meta charset="utf-8"><title>{html.escape(title)}</title><style>{style}</style></head>
<body><main>
<h1>{html.escape(title)}</h1>
<p>Période simulée : {days} jours à partir du {html.escape(result['start'])}, pas quotidien ; {n} réplication(s)
(graines {html.escape(', '.join(str(s) for s in result['seeds'][:5]))}{'…' if len(result['seeds']) > 5 else ''}). Les mêmes arrivées
et les mêmes départs sont soumis à chaque politique. Tous les enfants sont fictifs.</p>
<p>L'« optimum a posteriori » est une borne inférieure prouvée de l'objectif de toute politique qui connaîtrait
à l'avance toutes les arrivées et tous les départs : une politique à 100 % ne pourrait pas être battue ; la part
réelle de l'optimum est au moins celle affichée.</p>
<h2>Résultats</h2>
{main_table}
{''.join(parts)}
<h2>Population simulée</h2>
{_table(['Indicateur', 'Moyenne'], pop_rows, 'Entrées et sorties (calibrage : 12-15 ans = 34 % des entrées et 19 % des sorties)')}
<h2>Changements de capacité du scénario</h2>
{_table(['Date', 'Places', 'Où'], change_rows, 'Ouvertures (+) et fermetures (-) datées') if change_rows else '<p>Aucun changement de capacité.</p>'}
</main></body></html>
"""
