"""Explanations: for every child, the score of its place and why better-looking places were not chosen.

Better-looking means a lower score (:func:`matcher.scoring.score_option` total) than the place
given. For each of the best few such places the reason is one of: ineligible (the rule and its
reason, from :func:`matcher.rules.exclusions`), full (and who took it: a fratrie kept together, or
other children whose placement weighs more in the objective), or a group rule (the judge's
separation order, a unit that does not take siblings, the fratrie kept together elsewhere).
An unplaced child gets why: no eligible unit, or every eligible unit full. The reasons are machine
fields (:class:`solver.solution.BetterOption`); :func:`explanation_text` says them in French or
English.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from matcher.rules import Option, exclusions
from matcher.scoring import score_option
from matcher.words import ANCHOR_WORDS, COMPONENT_WORDS, ZONE_WORDS, Lang, join, minutes, of, plural, rule_reason, \
    separator, split_words, structure_name, unit_words
from solver.pricing import cheaper_units
from solver.problem import Problem
from solver.solution import BetterOption, Explanation, SplitReport

BETTER_SHOWN = 3
"""How many better-looking places each explanation discusses."""


def _option(problem: Problem, i: int, u: int) -> Option:
    unit = problem.units[u]
    s = problem.system.structure_by_id[unit.structure_id]
    return Option(s, unit, problem.minutes_of(i, u), problem.school_minutes_of(i, u))


def explain(problem: Problem, assigned: np.ndarray) -> dict:
    """An :class:`Explanation` per child of the problem, keyed by child id (machine fields; a
    split fratrie's cause is in the solution's ``splits``, said by :func:`explanation_text`)."""
    on = problem.system.reference_date
    load = np.bincount(assigned[assigned >= 0], minlength=problem.n_units)
    holders: dict[int, list[int]] = defaultdict(list)
    for i in np.flatnonzero(assigned >= 0):
        holders[int(assigned[i])].append(int(i))
    placed = np.flatnonzero(assigned >= 0)
    # the BETTER_SHOWN cheapest units (over every unit) below each placed child's own cost, in
    # one compiled pass (a NumPy block per child took 53 s at 10x Paris scale)
    own_cost, _ = problem.pair_costs(placed, assigned[placed])
    cheaper, cheaper_cost = cheaper_units(problem, placed, own_cost - 1e-9, BETTER_SHOWN)
    cheaper_eligible = problem.eligible_pairs(np.repeat(placed, BETTER_SHOWN), cheaper.reshape(-1)).reshape(cheaper.shape)
    row_of = {int(i): r for r, i in enumerate(placed)}
    out: dict[str, Explanation] = {}
    for i, child in enumerate(problem.children):
        block = problem.blocks[problem.block_of_child[i]] if problem.block_of_child[i] >= 0 else None
        u = int(assigned[i])
        if u < 0:
            e = Explanation(child.id, None, None, None, (), (), int(problem.eligible_units(i).size))
        else:
            option = _option(problem, i, u)
            score = score_option(child, option, problem.weights, on)
            r = row_of[i]
            shown = cheaper[r] >= 0
            better, better_cost, eligible = cheaper[r][shown], cheaper_cost[r][shown], cheaper_eligible[r][shown]
            options = []
            for b, b_cost, b_eligible in zip(better.tolist(), better_cost.tolist(), eligible.tolist()):
                unit_id, cost = problem.units[b].id, round(float(b_cost), 2)
                if not b_eligible:
                    rules = tuple(x.rule for x in exclusions(child, _option(problem, i, b), on))
                    options.append(BetterOption(unit_id, cost, "ineligible", rules=rules))
                elif load[b] >= problem.capacity[b]:
                    others = holders.get(b, [])
                    groups = sorted({problem.blocks[problem.block_of_child[o]].group_id for o in others
                                     if problem.block_of_child[o] >= 0})
                    options.append(BetterOption(unit_id, cost, "full", capacity=int(problem.capacity[b]),
                                                taken_by=tuple(problem.children[o].id for o in others),
                                                groups=tuple(groups)))
                else:
                    options.append(_group_reason(problem, assigned, i, b, block, unit_id, cost))
            e = Explanation(child.id, option.unit.id, option.unit.structure_id, option.travel_minutes,
                            score.components, tuple(options))
        out[child.id] = e
    return out


def _group_reason(problem: Problem, assigned: np.ndarray, i: int, b: int, block, unit_id: str,
                  cost: float) -> BetterOption:
    s = int(problem.unit_structure[b])
    if s in problem.forbidden_structures.get(i, ()):
        return BetterOption(unit_id, cost, "judge_structure")
    for other in problem.separation_partners.get(i, ()):
        if assigned[other] >= 0 and problem.unit_structure[assigned[other]] == s:
            return BetterOption(unit_id, cost, "judge_separation", other=problem.children[other].id)
    if block is not None:
        if not problem.unit_takes_siblings[b] and any(assigned[m] == b for m in block.members if m != i):
            return BetterOption(unit_id, cost, "unit_no_siblings")
        if block.together:
            return BetterOption(unit_id, cost, "fratrie_elsewhere", other=block.group_id,
                                structure_id=problem.structure_ids[problem.unit_structure[assigned[i]]])
    return BetterOption(unit_id, cost, "not_chosen")


def structure_names(problem: Problem) -> dict[str, str]:
    """Structure id -> "name (id)", as explanations name them."""
    return {s.id: structure_name(s) for s in problem.system.structures}


def explanation_text(problem: Problem, e: Explanation, split: SplitReport | None, lang: Lang,
                     names: dict[str, str] | None = None, method: str | None = None) -> str:
    """The explanation as sentences in ``lang``: the place, its travel and what its score is made of
    (rounded), why better-looking places were not chosen, and why the fratrie is split, if it is;
    structures by name and id, no internal term. The machine fields stay in ``e``. ``names``:
    :func:`structure_names` (computed when not given). ``method`` ("greedy" or "optimal", the
    solution's): who took the places a child without one could have had, in its terms."""
    fr = lang == "fr"
    system = problem.system
    child = system.child_by_id[e.child_id]
    names = names if names is not None else structure_names(problem)
    if e.unit_id is None:
        if not e.eligible_units:
            return ("Sans place : aucune unité ne lui convient selon les règles (âge, sexe, besoins, décisions du juge)."
                    if fr else "No place: no unit is eligible under the hard rules (age, sex, needs, judge's constraints).")
        who = {("fr", "greedy"): "des enfants arrivés avant (premier arrivé, premier servi)",
               ("fr", "optimal"): "des enfants dont le placement pèse plus (urgence, âge, besoins, fratrie, trajets)",
               ("en", "greedy"): "children who came first (first come, first served)",
               ("en", "optimal"): "children whose placement weighs more (urgency, age, needs, fratrie, travel)"}.get(
            (lang, method or ""), "des enfants dont le placement pèse plus (ou arrivés avant, pour la référence gloutonne)"
            if fr else "children whose placement weighs more in the objective (or who came first, for the greedy "
            "baseline)")
        return (f"Sans place : {plural(e.eligible_units, 'unité lui convient', 'unités lui conviennent')}, toutes "
                f"complètes, prises par {who}." if fr else
                f"No place: all {e.eligible_units} eligible units are full, taken by {who}.")
    unit = system.unit_by_id[e.unit_id]
    where = system.structure_by_id[unit.structure_id]
    place = unit_words(unit, lang)
    trip = (f"à {minutes(e.travel_minutes, lang)} {ANCHOR_WORDS['fr'][child.anchor.kind]}" if fr else
            f"{minutes(e.travel_minutes, lang)} {ANCHOR_WORDS['en'][child.anchor.kind]}") \
        if e.travel_minutes is not None else ("trajet inconnu" if fr else "travel time unknown")
    total = sum(c.cost for c in e.components)
    parts = ", ".join(f"{COMPONENT_WORDS[lang].get(c.name, c.name.replace('_', ' '))} {round(c.cost):.0f}"
                      for c in e.components if round(c.cost))
    detail = f" ({parts})" if parts else ""
    if fr:
        text = (f"{place[0].upper()}{place[1:]} {of(names[where.id])}, {ZONE_WORDS['fr'][where.zone]}, {trip} : "
                f"coût {round(total):.0f}{detail}.")
    else:
        text = (f"{place[0].upper()}{place[1:]} of {names[where.id]}, {ZONE_WORDS['en'][where.zone]}, {trip}: "
                f"cost {round(total):.0f}{detail}.")
    if split is not None:
        text += " " + split_words(split.to_dict(), names, lang)
        if not text.endswith("."):
            text += "."
    if e.better_options:
        said = [_why_not(problem, child, b, names, lang) for b in e.better_options]
        text += (" Places au coût plus bas non retenues : " if fr else " Better-looking places not chosen: ")
        text += separator(lang).join(said) + "."
    return text


def _why_not(problem: Problem, child, b: BetterOption, names: dict[str, str], lang: Lang) -> str:  # noqa: ANN001
    """One better-looking place and why it was not chosen, as a clause."""
    fr = lang == "fr"
    system = problem.system
    unit = system.unit_by_id[b.unit_id]
    structure = system.structure_by_id[unit.structure_id]
    head = (f"{unit_words(unit, lang)} {of(names[structure.id])} (coût {round(b.score):.0f})" if fr else
            f"{unit_words(unit, lang)} of {names[structure.id]} (cost {round(b.score):.0f})")
    if b.reason == "ineligible":
        age = system.age_of(child)
        minutes_there = (problem.minutes_of(problem.child_index[child.id], problem.unit_index[b.unit_id])
                         if "judge_max_travel" in b.rules else None)  # the only reason that says it
        why = join([rule_reason(r, child, structure, unit, minutes_there, age, lang) for r in b.rules], lang) or \
            ("ne lui convient pas" if fr else "not eligible")
    elif b.reason == "full":
        taken = ", ".join(b.taken_by[:4]) + (" …" if len(b.taken_by) > 4 else "")
        one = len(b.taken_by) == 1
        if not b.capacity:
            why = "aucune place libre pour ce calcul" if fr else "no free place for this run"
        elif fr:
            why = f"complète ({plural(b.capacity, 'place', 'places')} pour ce calcul"
            why += f", {'prise' if one else 'prises'} par {taken})" if b.taken_by else ")"
            if b.groups:
                why += (f", dont {'la fratrie' if len(b.groups) == 1 else 'les fratries'} "
                        f"{join(list(b.groups), lang)}")
        else:
            why = f"full ({plural(b.capacity, 'place', 'places')} for this run"
            why += f", taken by {taken})" if b.taken_by else ")"
            if b.groups:
                why += f", among them {'fratrie' if len(b.groups) == 1 else 'fratries'} {join(list(b.groups), lang)}"
    elif b.reason == "judge_structure":
        why = ("le juge a ordonné de le séparer d'un enfant qui vit dans cette structure" if fr else
               "the judge ordered this child kept apart from a child living in this structure")
    elif b.reason == "judge_separation":
        why = (f"le juge a ordonné de le séparer de {b.other}, placé là" if fr else
               f"the judge ordered this child kept apart from {b.other}, who is placed there")
    elif b.reason == "unit_no_siblings":
        why = ("l'unité n'accueille pas de fratrie et a déjà un enfant de la sienne" if fr else
               "the unit does not take siblings and already holds one of the fratrie")
    elif b.reason == "fratrie_elsewhere":
        there = names.get(b.structure_id or "", b.structure_id)
        why = (f"la fratrie {b.other} est gardée réunie dans {there}" if fr else
               f"it keeps fratrie {b.other} together at {there}")
    else:
        why = ("libre, mais la méthode ne l'a pas retenue (la référence gloutonne prend la place libre la plus proche, "
               "pas le coût le plus bas)" if fr else
               "free, but the method did not choose it (the greedy baseline takes the nearest free place, not the "
               "lowest cost)")
    return f"{head} : {why}" if fr else f"{head}: {why}"
