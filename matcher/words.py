"""Sentences for placement officers, in French or English: the words of proposals, "why not"
and split reasons. Pure (no I/O).

Rules of the wording: whole sentences, rounded numbers (minutes as integers, euros without
decimals), a structure's name beside its id, no internal term (component names, enum values).
The machine fields stay in the JSON next to the sentence; this module only says them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from matcher.errors import PlacementError
from matcher.model import AnchorKind, Child, Need, Sex, Structure, Unit, UnitSex, Zone

Lang = Literal["fr", "en"]
LANGS: tuple[str, ...] = ("fr", "en")
DEFAULT_LANG: Lang = "fr"


def pick_lang(accept_language: str | None, default: Lang = DEFAULT_LANG) -> Lang:
    """The first language of an ``Accept-Language`` header we speak (by quality), else ``default``.

    ``"en-GB,en;q=0.9,fr;q=0.8"`` -> ``"en"``; ``"de"`` -> the default; ``None`` -> the default.
    """
    if not accept_language:
        return default
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept_language.split(",")):
        bits = [b.strip() for b in part.split(";")]
        tag = bits[0].lower()
        quality = 1.0
        for b in bits[1:]:
            if b.startswith("q="):
                try:
                    quality = float(b[2:])
                except ValueError:
                    quality = 0.0
        primary = tag.split("-")[0]
        if primary in LANGS and quality > 0:
            ranked.append((-quality, position, primary))
    return min(ranked)[2] if ranked else default  # type: ignore[return-value]


def minutes(value: float, lang: Lang) -> str:
    """``12.6`` -> "13 min" (integers: officers read minutes, not tenths)."""
    return f"{round(value):.0f} min"


def number(value: float, lang: Lang, digits: int = 0) -> str:
    """``2155.4`` -> "2 155" in French (a narrow no-break space between thousands, a decimal
    comma), "2,155" in English."""
    text = f"{value:,.{digits}f}"
    return text.replace(",", "\u202f").replace(".", ",") if lang == "fr" else text


def percent(share: float, lang: Lang, digits: int = 1) -> str:
    """``0.494`` -> "49,4 %" in French (a no-break space before the sign), "49.4%" in English."""
    return f"{number(100 * share, 'fr', digits)}\u00a0%" if lang == "fr" else f"{100 * share:.{digits}f}%"


def euros(value: float, lang: Lang) -> str:
    n = f"{round(value):,.0f}"
    return (n.replace(",", "\u202f") + " €") if lang == "fr" else ("€" + n)


def structure_name(s: Structure) -> str:
    """"MECS Vaugirard (S-near)": the name officers know, the id they can look up."""
    return f"{s.name} ({s.id})"


_UNIT_SEX = {
    "fr": {UnitSex.MIXED: "", UnitSex.GIRLS: " (filles)", UnitSex.BOYS: " (garçons)"},
    "en": {UnitSex.MIXED: "", UnitSex.GIRLS: " (girls)", UnitSex.BOYS: " (boys)"},
}


def unit_words(u: Unit, lang: Lang) -> str:
    """"the 4-11 unit U-near-4" / "l'unité 4-11 ans U-near-4"."""
    if lang == "fr":
        return f"l'unité {u.age_min}-{u.age_max} ans{_UNIT_SEX['fr'][u.sex]} {u.id}"
    return f"the {u.age_min}-{u.age_max} unit{_UNIT_SEX['en'][u.sex]} {u.id}"


def sibling_words(child: Child, lang: Lang) -> str:
    """"her sister E-001026" reads better from the group's side: "sa sœur" / "the sister"."""
    if lang == "fr":
        return f"{'sa sœur' if child.sex is Sex.FEMALE else 'son frère'} {child.id}"
    return f"{'the sister' if child.sex is Sex.FEMALE else 'the brother'} {child.id}"


NEED_WORDS: Mapping[str, Mapping[Need, str]] = {
    "fr": {Need.DISABILITY: "un handicap", Need.PSYCHIC_CARE: "des soins psychiques",
           Need.MOTHER_CHILD: "un accueil mère-enfant", Need.PROTECTION: "une protection (place secrète)",
           Need.UNACCOMPANIED_MINOR: "un accompagnement de mineur non accompagné"},
    "en": {Need.DISABILITY: "disability care", Need.PSYCHIC_CARE: "psychological care",
           Need.MOTHER_CHILD: "a mother-child place", Need.PROTECTION: "protection (a secret place)",
           Need.UNACCOMPANIED_MINOR: "support for an unaccompanied minor"},
}
ZONE_WORDS = {
    "fr": {Zone.PARIS: "à Paris", Zone.ILE_DE_FRANCE: "en Île-de-France hors Paris", Zone.PROVINCE: "hors Île-de-France"},
    "en": {Zone.PARIS: "in Paris", Zone.ILE_DE_FRANCE: "in Île-de-France outside Paris",
           Zone.PROVINCE: "outside Île-de-France"},
}


COMPONENT_WORDS = {
    "fr": {"transit_time": "trajet", "outside_paris": "hors de Paris", "outside_ile_de_france": "hors d'Île-de-France",
           "daily_price": "prix de journée", "stability": "changement de lieu de vie",
           "school_continuity": "changement d'école", "hotel_stay": "séjour à l'hôtel"},
    "en": {"transit_time": "travel", "outside_paris": "outside Paris", "outside_ile_de_france": "outside Île-de-France",
           "daily_price": "daily price", "stability": "change of home", "school_continuity": "change of school",
           "hotel_stay": "hotel stay"},
}
"""The score's parts in words (``matcher.scoring.score_option``'s component names)."""

ANCHOR_WORDS = {
    "fr": {AnchorKind.VISIT_SITE: "du lieu de visite médiatisée", AnchorKind.FAMILY_HOME: "du domicile familial",
           AnchorKind.SCHOOL: "de l'école ou du lieu de formation", AnchorKind.SERVICE: "du service de l'ASE qui le suit"},
    "en": {AnchorKind.VISIT_SITE: "from the supervised-visit site", AnchorKind.FAMILY_HOME: "from the family home",
           AnchorKind.SCHOOL: "from the school or training place",
           AnchorKind.SERVICE: "from the ASE service that follows the child"},
}
"""Where a child's travel is measured from (``Child.anchor``), after "35 min"."""


MISSING_NEED_WORDS: Mapping[Need, str] = {
    Need.DISABILITY: "ne prend pas en charge le handicap", Need.PSYCHIC_CARE: "n'offre pas de soins psychiques",
    Need.MOTHER_CHILD: "n'offre pas d'accueil mère-enfant", Need.PROTECTION: "n'offre pas de place secrète de protection",
    Need.UNACCOMPANIED_MINOR: "n'offre pas d'accompagnement de mineur non accompagné",
}
"""French: what a structure lacking a need does not do, as a verb phrase ("la structure ...")."""


def need_words(need: Need, lang: Lang) -> str:
    return NEED_WORDS[lang].get(need, need.value.replace("_", " "))


def of(name: str) -> str:
    """French "de X", elided before a vowel or a mute h: "d'Assistant familial", "de MECS"."""
    return f"d'{name}" if name[:1].lower() in "aàâeéèêëiîïoôuùûyh" else f"de {name}"


def years(age: int) -> str:
    """An age in French: "1 an", "5 ans", "moins d'un an"."""
    return "moins d'un an" if age <= 0 else plural(age, "an", "ans")


def separator(lang: Lang) -> str:
    """Between clauses: " ; " in French (a space before it), "; " in English."""
    return " ; " if lang == "fr" else "; "


def plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def join(items: list[str], lang: Lang) -> str:
    """"a, b and c" / "a, b et c"."""
    if len(items) <= 1:
        return "".join(items)
    last = " et " if lang == "fr" else " and "
    return ", ".join(items[:-1]) + last + items[-1]


def stale_words(unit_id: str, structure: Structure, days: float, lang: Lang) -> str:
    """A sentence warning that a unit's vacancies were declared long ago."""
    n = int(days)
    if lang == "fr":
        return (f"Les places de l'unité {unit_id} ({structure_name(structure)}) ont été déclarées il y a "
                f"{plural(n, 'jour', 'jours')} : à confirmer auprès de la structure.")
    return (f"The places of unit {unit_id} ({structure_name(structure)}) were declared {plural(n, 'day', 'days')} ago: "
            "check with the structure.")


def never_declared_words(unit_id: str, structure: Structure, lang: Lang) -> str:
    if lang == "fr":
        return f"Les places de l'unité {unit_id} ({structure_name(structure)}) n'ont jamais été déclarées."
    return f"The places of unit {unit_id} ({structure_name(structure)}) were never declared."


# --- hard rules, in words --------------------------------------------------------------------


def rule_reason(rule: str, child: Child, structure: Structure, unit: Unit, travel_minutes: float | None,
                age: int, lang: Lang) -> str:
    """Why the hard rule ``rule`` (a name of :data:`matcher.rules.OPTION_RULES`, or
    ``free_place``) excludes the unit for the child, as a clause in ``lang``."""
    fr = lang == "fr"
    j = child.judge
    if rule == "age_range":
        return (f"à {years(age)}, {child.id} est hors de la tranche {unit.age_min}-{unit.age_max} ans de l'unité"
                if fr else f"at {age}, {child.id} is outside the unit's {unit.age_min}-{unit.age_max} age range")
    if rule == "unit_sex":
        return (f"l'unité n'accueille que des {'filles' if unit.sex is UnitSex.GIRLS else 'garçons'}" if fr
                else f"the unit takes {'girls' if unit.sex is UnitSex.GIRLS else 'boys'} only")
    if rule == "needs_met":
        missing = sorted(child.needs - structure.capabilities)
        if fr:
            return "la structure " + join([MISSING_NEED_WORDS[n] for n in missing], lang)
        return f"the structure does not provide {join([need_words(n, lang) for n in missing], lang)}"
    if rule == "young_adult_units":
        if age >= 18:
            return (f"à {age} ans, il faut une unité pour jeunes majeurs (18-21 ans)" if fr
                    else f"at {age}, a young adult needs a unit for 18-21")
        return ("un mineur ne peut pas vivre dans une unité réservée aux jeunes majeurs" if fr
                else "a minor cannot live in a unit for young adults only")
    if rule == "mother_child_units":
        return ("les places mère-enfant sont réservées à une jeune femme enceinte ou mère d'un enfant de moins de 3 ans"
                if fr else "mother-child places are only for a pregnant young woman or a mother of a child under 3")
    if rule == "hotel_age":
        return (f"un hôtel n'accueille que des jeunes de 16 à 21 ans, et {child.id} a {years(age)}" if fr
                else f"a hotel only takes young people aged 16 to 21, and {child.id} is {age}")
    if rule == "secret_places":
        return ("place secrète réservée aux enfants sous protection" if fr
                else "a secret place, reserved for children under protection")
    if rule == "judge_excluded_structure":
        return "le juge a exclu cette structure" if fr else "the judge excluded this structure"
    if rule == "judge_excluded_departement":
        dep = structure.location.departement
        return f"le juge a exclu le département {dep}" if fr else f"the judge excluded département {dep}"
    if rule == "judge_max_travel":
        limit = j.max_travel_minutes or 0.0
        if travel_minutes is None:
            return (f"trajet inconnu, or le juge a fixé un maximum de {minutes(limit, lang)}" if fr
                    else f"the travel time is unknown and the judge set a maximum of {minutes(limit, lang)}")
        return (f"{minutes(travel_minutes, lang)} du domicile familial, au-delà du maximum de "
                f"{minutes(limit, lang)} fixé par le juge" if fr else
                f"{minutes(travel_minutes, lang)} from the family home, over the judge's maximum of {minutes(limit, lang)}")
    if rule == "free_place":
        return (f"complète ({plural(unit.occupied, 'place prise', 'places prises')} sur {unit.capacity})" if fr
                else f"full ({unit.occupied} of {unit.capacity} places taken)")
    return rule.replace("_", " ")


def difference_words(component: str, quantity: float, lang: Lang) -> str:
    """What makes most of the gap between two options (a soft component), as a clause."""
    fr = lang == "fr"
    if component == "transit_time":
        return (f"surtout le trajet : {round(quantity):+d} min depuis le domicile familial" if fr
                else f"mostly the journey: {round(quantity):+d} min from the family home")
    if component == "outside_paris":
        return "surtout l'éloignement : hors de Paris" if fr else "mostly the distance: outside Paris"
    if component == "outside_ile_de_france":
        return "surtout l'éloignement : hors d'Île-de-France" if fr else "mostly the distance: outside Île-de-France"
    if component == "daily_price":
        return (f"surtout le prix : {euros(quantity, lang)} de plus par jour" if fr
                else f"mostly the price: {euros(quantity, lang)} more a day")
    if component == "stability":
        return "surtout le déménagement d'un enfant déjà placé" if fr else "mostly moving a child already placed"
    if component == "siblings_split":
        return "surtout la séparation de la fratrie" if fr else "mostly splitting the siblings"
    if component == "unplaced":
        return "surtout des enfants laissés sans place" if fr else "mostly children left without a place"
    return "un score total plus bas" if fr else "a lower total score"


# --- a fratrie split by the batch optimiser, in words ------------------------------------------


def split_words(split: Mapping[str, Any], names: Mapping[str, str], lang: Lang) -> str:
    """Why the batch run split a fratrie, as a sentence in ``lang``, from the machine fields of
    ``solver.solution.SplitReport.to_dict`` (``kind`` one of ``solver.siblings.SPLIT_KINDS``);
    ``names``: structure id -> "name (id)"."""
    fr = lang == "fr"
    gid = split.get("group_id", "?")
    where = join([names.get(s, s) for s in split.get("structures", [])], lang)
    head = (f"La fratrie {gid} est répartie entre {where}" if fr else f"Fratrie {gid} is split over {where}")
    kind = split.get("kind")
    if kind == "separable":
        return head + (" : le juge a permis de séparer ses enfants, ou ordonné d'en séparer deux." if fr
                       else ": the judge allowed its children to be placed apart, or ordered two of them apart.")
    n, lo, hi = int(split.get("members", 0)), split.get("age_min", 0), split.get("age_max", 0)
    known = {n.value: n for n in Need}
    needs = [need_words(known[v], lang) for v in split.get("needs", []) if v in known]
    ages = (f"de {lo} ans" if lo == hi else f"de {lo} à {hi} ans") if fr else (f"aged {lo}" if lo == hi else f"aged {lo} to {hi}")
    who = f"ses {n} enfants {ages}" if fr else f"its {n} children {ages}"
    if needs:
        who += f" (besoins : {join(needs, lang)})" if fr else f" (needs: {join(needs, lang)})"
    eligible, able = int(split.get("eligible_structures", 0)), int(split.get("able_structures", 0))
    nearest = split.get("nearest_structure")
    near = ""
    if nearest:
        at = split.get("nearest_minutes")
        trip = f", {minutes(at, lang)}" if at is not None else ""
        near = (f" ; la plus proche : {names.get(nearest, nearest)}{trip}" if fr
                else f"; the nearest: {names.get(nearest, nearest)}{trip}")
    if kind == "no_common_structure":
        return head + (f" : aucune structure n'a d'unités qui conviennent à {who}." if fr
                       else f": no structure has units that suit all {who}.")
    if kind == "too_few_places":
        return head + (f" : aucune structure n'a {n} places qui conviennent à {who} ; "
                       f"{plural(eligible, 'structure leur convient', 'structures leur conviennent')} à tous mais "
                       "avec trop peu de places, ou trop peu dans des unités qui accueillent les fratries." if fr else
                       f": no structure has {n} places that suit {who}; {eligible} "
                       f"structure{'s' if eligible != 1 else ''} suit them all but with too few places, or too few "
                       "in units that take siblings.")
    if kind == "full_at_its_turn":
        return head + (f" : {plural(able, 'structure pouvait', 'structures pouvaient')} accueillir {who} ensemble, "
                       f"mais {'elle était complète' if able == 1 else 'elles étaient complètes'} quand son tour est "
                       f"venu (premier arrivé, premier servi{near})." if fr else
                       f": {able} structure{'s' if able != 1 else ''} could take {who} together but "
                       f"{'was' if able == 1 else 'were'} full when its turn came (first come, first served{near}).")
    if kind == "needed_by_others":
        return head + (f" : les garder ensemble aurait laissé d'autres enfants sans place ou bien plus loin de chez "
                       f"eux ; {plural(able, 'structure pouvait', 'structures pouvaient')} accueillir {who}, "
                       f"mais leurs places servent à d'autres enfants{near}." if fr else
                       f": keeping them together would leave other children without a place or much farther from "
                       f"home; {able} structure{'s' if able != 1 else ''} could take {who}, but their places serve "
                       f"other children{near}.")
    return head + "."


RULE_LABELS: Mapping[Lang, Mapping[str, str]] = {
    "fr": {"age_range": "Tranche d'âge", "unit_sex": "Sexe accueilli par l'unité",
           "young_adult_units": "Jeunes majeurs dans des unités pour eux", "mother_child_units": "Places mère-enfant",
           "needs_met": "Besoins couverts", "secret_places": "Places secrètes", "hotel_age": "Hôtel seulement de 16 à 21 ans",
           "judge_excluded_structure": "Juge : structure exclue", "judge_excluded_departement": "Juge : département exclu",
           "judge_max_travel": "Juge : trajet maximum", "free_place": "Place libre",
           "siblings_together": "Fratrie réunie", "judge_separation": "Juge : séparation ordonnée",
           "unit_takes_siblings": "Un seul de la fratrie par unité qui n'accueille pas de fratrie"},
}
"""French labels of the hard rules (``matcher.rules``); English: the rules' own labels."""


class Said(str):
    """A sentence for people that is not an error (a solver's warning...): the string is its
    English words, as the logs and the JSON carry them; ``fr`` its French ones, for a French
    reader (:meth:`said`, as :meth:`matcher.errors.PlacementError.said`)."""

    fr: str

    def __new__(cls, english: str, fr: str) -> Said:
        said = super().__new__(cls, english)
        said.fr = fr
        return said

    def __getnewargs__(self) -> tuple[str, str]:  # type: ignore[override]  # pickled with its French (Dask)
        return str(self), self.fr

    def said(self, lang: str) -> str:
        return self.fr if lang == "fr" else str(self)


def failure_words(err: BaseException) -> Said:
    """Why a background job failed: the English as the logs say it (the error's type and
    message), the French from the error's own French words where it has them."""
    english = f"{type(err).__name__}: {err}"
    return Said(english, err.said("fr") if isinstance(err, PlacementError) else f"erreur inattendue ({english})")


def said(sentence: str, lang: str) -> str:
    """``sentence`` in ``lang`` when it carries its French words (:class:`Said`), else as it is."""
    return sentence.said(lang) if isinstance(sentence, Said) else sentence


def rule_label(name: str, english: str, lang: Lang) -> str:
    """The label of the hard rule ``name`` in ``lang`` (``english``: its label in English)."""
    return RULE_LABELS.get(lang, {}).get(name, english)


_JOB_STATUS_FR = {"queued": "en file", "running": "en cours", "cancelling": "en cours d'annulation",
                  "succeeded": "terminé", "failed": "en échec", "cancelled": "annulé"}


def job_status_fr(status: str) -> str:
    """A background job's status (``running``...) in French words, for sentences."""
    return _JOB_STATUS_FR.get(status, status)


_RESERVATION_STATUS_FR = {"held": "réservée", "confirmed": "confirmée", "cancelled": "annulée", "expired": "expirée"}


def reservation_status_fr(status: str) -> str:
    """A reservation's status (``confirmed``...) in French words: ``confirmée``."""
    return _RESERVATION_STATUS_FR.get(status, status)
