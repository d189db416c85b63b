"""Sweeps: many variants of a scenario generated from a template, solved and ranked by a figure.

A template is a scenario file with a ``vary`` mapping: each key names a placeholder and lists its
values; the variants are every combination (a grid), in the order written. ``${key}`` in any
string of the template is replaced by the value (a string that is only ``${key}`` takes the
value with its type: ``places: ${places}`` gives a number). For example "100 places in each
département of the petite couronne in turn"::

    name: 100 places dans la petite couronne
    description: ...
    vary:
      departement: ["92", "93", "94"]
    changes:
      - open: {places: 100, type: mecs, zone: {departement: "${departement}"}, ages: [12, 15]}

The reference every variant is compared with is the template without its changes (the base
dataset); :func:`variants` returns it first. Every variant is validated like a scenario file,
with errors naming the template's file, line and key.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from planning.scenarios import Scenario, ScenarioError, ScenarioIssue, read_yaml, scenario_from_data

PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
MAX_VARIANTS = 1000
"""A template may not generate more variants than this (a typo in a grid is not a week of solves)."""


@dataclass(frozen=True)
class Sweep:
    """A template's reference and variants, and the figure the template asks to rank by (if any)."""

    name: str
    reference: Scenario
    variants: tuple[Scenario, ...]
    rank_by: str | None = None

    @property
    def scenarios(self) -> tuple[Scenario, ...]:
        """The reference first, then the variants (what is solved)."""
        return (self.reference, *self.variants)


def _substitute(value: Any, values: dict[str, Any], path: tuple, used: set[str], unknown: list[tuple[tuple, str]]) -> Any:
    if isinstance(value, dict):
        return {k: _substitute(v, values, path + (k,), used, unknown) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, values, path + (i,), used, unknown) for i, v in enumerate(value)]
    if isinstance(value, str):
        names = PLACEHOLDER.findall(value)
        for n in names:
            if n not in values:
                unknown.append((path, n))
            else:
                used.add(n)
        whole = PLACEHOLDER.fullmatch(value)
        if whole and whole.group(1) in values:
            return values[whole.group(1)]
        return PLACEHOLDER.sub(lambda m: str(values.get(m.group(1), m.group(0))), value)
    return value


def load_sweep(path: Path | str) -> Sweep:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError([ScenarioIssue(str(path), None, "", "no such template file",
                                           "fichier de modèle introuvable")]) from None
    except (OSError, UnicodeDecodeError) as err:
        raise ScenarioError([ScenarioIssue(str(path), None, "", f"cannot be read: {err}", f"illisible : {err}")]) from None
    return parse_sweep(text, str(path))


def parse_sweep(text: str, source: str = "<template>") -> Sweep:
    """The reference and the variants of a sweep template (ScenarioError with every problem)."""
    data, lines = read_yaml(text, source)
    if not isinstance(data, dict):
        raise ScenarioError([lines.issue((), "a sweep template is a mapping of keys (name, description, vary, changes...)",
                                         "un modèle de variantes est un ensemble de clés (name, description, vary, "
                                         "changes...)")])
    issues: list[ScenarioIssue] = []
    vary = data.get("vary")
    rank_by = data.get("rank_by")
    if rank_by is not None:
        from planning.comparison import FIGURES

        if rank_by not in FIGURES:
            issues.append(lines.issue(("rank_by",), f"unknown figure {rank_by!r}; known: {', '.join(FIGURES)}",
                                      f"indicateur {rank_by!r} inconnu ; connus : {', '.join(FIGURES)}"))
    if not isinstance(vary, dict) or not vary:
        issues.append(lines.issue(("vary",), "a sweep needs 'vary': a mapping of placeholder names to lists of values",
                                  "un modèle de variantes demande 'vary' : des noms de variables et leurs listes de "
                                  "valeurs"))
        vary = {}
    for key, values in vary.items():
        if not isinstance(key, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            issues.append(lines.issue(("vary", key), "a placeholder name is letters, digits and _",
                                      "un nom de variable s'écrit en lettres, chiffres et _"))
        if not isinstance(values, list) or not values:
            issues.append(lines.issue(("vary", key), "expected a non-empty list of values",
                                      "une liste de valeurs non vide est attendue"))
    size = 1
    for values in vary.values():
        size *= len(values) if isinstance(values, list) else 1
    if size > MAX_VARIANTS:
        issues.append(lines.issue(("vary",), f"{size} variants; at most {MAX_VARIANTS}",
                                  f"{size} variantes ; au plus {MAX_VARIANTS}"))
    if issues:
        raise ScenarioError(issues)
    body = {k: v for k, v in data.items() if k not in ("vary", "rank_by")}
    reference = scenario_from_data({**{k: v for k, v in body.items() if k not in ("changes", "weights")}, "changes": []}, lines)
    reference = Scenario(f"{reference.name} : référence", "Le jeu de données sans les changements du modèle de variantes.",
                         reference.seed, (), {}, reference.source)
    keys = list(vary)
    variants: list[Scenario] = []
    unused: set[str] = set(keys)
    for combo in itertools.product(*(vary[k] for k in keys)):
        values = dict(zip(keys, combo))
        used: set[str] = set()
        unknown: list[tuple[tuple, str]] = []
        filled = _substitute({k: v for k, v in body.items() if k != "name"}, values, (), used, unknown)
        unused -= used
        for where, name in unknown:
            issues.append(lines.issue(where, f"unknown placeholder ${{{name}}}; vary defines {', '.join(keys)}",
                                      f"variable ${{{name}}} inconnue ; vary définit {', '.join(keys)}"))
        if unknown:
            break
        label = ", ".join(f"{k}={v}" for k, v in values.items())
        filled["name"] = f"{data.get('name', 'variante')} ({label})"
        try:
            variants.append(scenario_from_data(filled, lines))
        except ScenarioError as err:
            issues += [ScenarioIssue(i.file, i.line, i.key, f"{i.message} (variant {label})",
                                     f"{i.reason('fr')} (variante {label})") for i in err.issues]
            if len(issues) > 50:
                break
    if not issues and unused:
        issues.append(lines.issue(("vary",), f"placeholder(s) {', '.join(sorted(unused))} appear nowhere in the template",
                                  f"variable(s) {', '.join(sorted(unused))} absente(s) du modèle"))
    if issues:
        raise ScenarioError(issues)
    return Sweep(str(data.get("name")), reference, tuple(variants), rank_by)
