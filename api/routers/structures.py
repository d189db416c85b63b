"""Structures (lieux d'accueil) the caller may see: to pick one for "why not", or to look one up.
Secret structures are listed only for those entitled to see them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from api import policy
from api.deps import CallerDep, SnapshotDep
from matcher.model import StructureType

router = APIRouter(prefix="/structures", tags=["structures"])


class StructureOut(BaseModel):
    id: str
    name: str
    type: str
    operator: str
    commune: str
    departement: str
    zone: str


class StructuresOut(BaseModel):
    total: int
    items: list[StructureOut]


@router.get("", response_model=StructuresOut, summary="Structures the caller may see, by name")
def structures(snap: SnapshotDep, caller: CallerDep,
               structure_type: Annotated[list[StructureType] | None, Query(description="One or more types.")] = None,
               departement: Annotated[str | None, Query(pattern=r"^[0-9]{2}[0-9AB]?$")] = None) -> StructuresOut:
    types = set(structure_type or ())
    items = [
        StructureOut(id=s.id, name=s.name, type=s.type.value, operator=s.operator.value, commune=s.location.commune,
                     departement=s.location.departement, zone=s.zone.value)
        for s in sorted(snap.system.structures, key=lambda s: (s.name, s.id))
        if policy.sees_structure(caller, s) and (not types or s.type in types)
        and (departement is None or s.location.departement == departement)
    ]
    return StructuresOut(total=len(items), items=items)
