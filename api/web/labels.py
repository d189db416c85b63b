"""French names of the domain's values, as officers and planners say them (docs/GLOSSARY.md)."""

from __future__ import annotations

from enum import StrEnum

import json

from matcher.model import Need, Service, StructureType, UnitSex

NEED = {
    Need.DISABILITY: "handicap",
    Need.PSYCHIC_CARE: "soins psychiques",
    Need.MOTHER_CHILD: "mère-enfant",
    Need.PROTECTION: "protection (lieu secret)",
    Need.UNACCOMPANIED_MINOR: "mineur non accompagné",
}
STRUCTURE_TYPE = {
    StructureType.FOYER_ENFANCE: "foyer de l'enfance",
    StructureType.MECS: "MECS",
    StructureType.POUPONNIERE: "pouponnière",
    StructureType.ASSISTANT_FAMILIAL: "assistant familial",
    StructureType.LIEU_DE_VIE: "lieu de vie",
    StructureType.SEMI_AUTONOMIE: "semi-autonomie",
    StructureType.CENTRE_MATERNEL: "centre maternel",
    StructureType.ACCUEIL_URGENCE: "accueil d'urgence",
}
SERVICE = {s: f"secteur {s.value.split('-')[1]}" for s in Service if s.is_sector} | {
    Service.UNACCOMPANIED_MINORS: "service des mineurs non accompagnés",
    Service.YOUNG_ADULTS: "service des jeunes majeurs",
    Service.MOTHER_CHILD: "service mère-enfant",
}
UNIT_SEX = {UnitSex.MIXED: "mixte", UnitSex.GIRLS: "filles", UnitSex.BOYS: "garçons"}
ROLE = {
    "officer": "agent de placement",
    "protection_officer": "agent de placement (protection)",
    "planner": "planificateur",
    "structure_manager": "responsable de structure",
    "administrator": "administrateur",
}


def label(value: StrEnum | str) -> str:
    """The French name of a value, or the value itself when it has none yet."""
    for table in (NEED, STRUCTURE_TYPE, SERVICE, UNIT_SEX, ROLE):
        if value in table:
            return table[value]  # type: ignore[index]
    return str(value)


def choices(enum: type[StrEnum]) -> list[tuple[str, str]]:
    """(value, French name) of every member, for a select list."""
    return [(m.value, label(m)) for m in enum]


def as_json() -> str:
    """Every French name, for the pages' script (values to names), safe inside a <script> element."""
    table = {str(k): v for t in (NEED, STRUCTURE_TYPE, SERVICE, UNIT_SEX, ROLE) for k, v in t.items()}
    return json.dumps(table, ensure_ascii=False).replace("<", "\\u003c")
