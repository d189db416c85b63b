"""Children: the list of children waiting for a place (the officers' work list) and a child's
file summary. A family home is given by its arrondissement or commune, never its address."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select

from api import policy
from api.deps import Caller, CallerDep, ServicesDep, SessionDep, SnapshotDep
from api.problems import ApiProblem
from api.schemas import (
    ChildFileOut,
    CurrentPlacementOut,
    FamilyHomeOut,
    JudgeOut,
    SiblingOut,
    WaitingChildOut,
    WaitingChildrenOut,
)
from api.services import Snapshot
from data.db.models import ReservationChildRow, ReservationRow
from data.db.repository import HELD
from matcher.model import AgeBand, Child, LegalBasis, Need, Service, Urgency

router = APIRouter(prefix="/children", tags=["children"])


def _waiting_order(snap: Snapshot) -> list[Child]:
    """The waiting children, urgent first, then by the date of the request (oldest first), then
    id (memoised on the snapshot)."""
    memo = snap.memo.get("waiting_order")
    if memo is None:
        urgent_first = {Urgency.URGENT: 0, Urgency.NORMAL: 1}
        memo = sorted(snap.system.waiting_children(),
                      key=lambda c: (urgent_first.get(c.urgency, 2), c.waiting_since, c.id))
        snap.memo["waiting_order"] = memo
    return memo


def _home(child: Child) -> FamilyHomeOut | None:
    """The family home's area, or None when the child has none (``home_absence`` says why)."""
    if child.home is None:
        return None
    loc = child.home.location
    arrondissement = int(loc.commune[-3:]) - 100 if loc.commune.startswith("751") and loc.commune[-3:].isdigit() else None
    return FamilyHomeOut(commune=loc.commune, departement=loc.departement, arrondissement=arrondissement)


def live_holds_of(session, now, child_ids: list[str] | None = None) -> dict[str, str]:
    """The live hold (reservation id) of each of these children who holds a place."""
    query = (select(ReservationChildRow.child_id, ReservationRow.id)
             .join(ReservationRow, ReservationRow.id == ReservationChildRow.reservation_id)
             .where(ReservationRow.status == HELD, ReservationRow.expires_at > now))
    if child_ids is not None:
        query = query.where(ReservationChildRow.child_id.in_(child_ids))
    return {c: r for c, r in session.execute(query)}


@router.get("", response_model=WaitingChildrenOut, summary="Children waiting for a place (the work list)")
def waiting(
    services: ServicesDep,
    session: SessionDep,
    snap: SnapshotDep,
    caller: CallerDep,
    urgency: Annotated[Urgency | None, Query(description="Only urgent or only normal requests.")] = None,
    age_band: Annotated[list[AgeBand] | None, Query(description="One or more age bands (0-3, 4-11, 12-15, 16-17, 18-21).")] = None,
    needs: Annotated[list[Need] | None, Query(description="Children with all of these needs.")] = None,
    legal_basis: Annotated[LegalBasis | None, Query(description="judicial or administrative.")] = None,
    service: Annotated[list[Service] | None, Query(description="The ASE service(s) following the child (sector-1..sector-9, unaccompanied-minors, young-adults, mother-child).")] = None,
    waiting_since_before: Annotated[date | None, Query(description="Requests made on or before this date.")] = None,
    waiting_since_after: Annotated[date | None, Query(description="Requests made on or after this date.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> WaitingChildrenOut:
    """The waiting children of the caller's service (``api.policy``), sorted by urgency (urgent
    first), then by waiting time (longest first)."""
    if waiting_since_before and waiting_since_after and waiting_since_after > waiting_since_before:
        raise ApiProblem(422, "Invalid request", "waiting_since_after is later than waiting_since_before.",
                         [{"field": "waiting_since_after", "in": "query", "reason": "after waiting_since_before"}],
                         fr="waiting_since_after est postérieur à waiting_since_before.")
    on = snap.system.reference_date
    bands, wanted, services_ = set(age_band or ()), frozenset(needs or ()), set(service or ())
    chosen = [
        c for c in _waiting_order(snap)
        if policy.acts_for_child(caller, c)
        and (urgency is None or c.urgency is urgency)
        and (not bands or c.age_band_on(on) in bands)
        and wanted <= c.needs
        and (legal_basis is None or c.legal_basis is legal_basis)
        and (not services_ or c.service in services_)
        and (waiting_since_before is None or c.waiting_since <= waiting_since_before)
        and (waiting_since_after is None or c.waiting_since >= waiting_since_after)
    ]
    page = chosen[offset:offset + limit]
    holds = live_holds_of(session, services.now(), [c.id for c in page]) if page else {}
    today = services.now().date()
    items = [
        WaitingChildOut(
            id=c.id, age=c.age_on(on), age_band=c.age_band_on(on).value, sex=c.sex.value, urgency=c.urgency.value,
            legal_basis=c.legal_basis.value, needs=sorted(n.value for n in c.needs),
            service=c.service.value if c.service else None, waiting_since=c.waiting_since,
            waiting_days=max((today - c.waiting_since).days, 0), sibling_group_id=c.sibling_group_id,
            family_home=_home(c), home_absence=c.home_absence.value if c.home_absence else None, held_by_reservation=holds.get(c.id),
        )
        for c in page
    ]
    return WaitingChildrenOut(total=len(chosen), data_version=snap.version, items=items)


def _placement(snap: Snapshot, caller: Caller, child: Child) -> CurrentPlacementOut | None:
    if child.current is None:
        return None
    unit = snap.system.unit_by_id[child.current.unit_id]
    structure = snap.system.structure_of(unit)
    if not policy.sees_structure(caller, structure):
        return CurrentPlacementOut(secret=True, since=child.current.since)
    return CurrentPlacementOut(unit_id=unit.id, structure_id=structure.id, structure_name=structure.name,
                               commune=structure.location.commune, since=child.current.since)


@router.get("/{child_id}", response_model=ChildFileOut, summary="A child's file summary (never the address)")
def file(child_id: str, services: ServicesDep, session: SessionDep, snap: SnapshotDep, caller: CallerDep) -> ChildFileOut:
    system = snap.system
    child = policy.child(caller, system, child_id)
    on = system.reference_date
    siblings = []
    together = None
    if child.sibling_group_id is not None:
        group = system.sibling_group_by_id.get(child.sibling_group_id)
        together = group.together if group else None
        for s in system.siblings_of(child):
            if s.id == child.id:
                continue
            siblings.append(SiblingOut(id=s.id, age=s.age_on(on), sex=s.sex.value, waiting=s.is_waiting,
                                       current_placement=_placement(snap, caller, s)))
    judge = child.judge
    visible = [sid for sid in sorted(judge.excluded_structures)
               if sid in system.structure_by_id and policy.sees_structure(caller, system.structure_by_id[sid])]
    hold = live_holds_of(session, services.now(), [child.id]).get(child.id)
    answer = ChildFileOut(
        id=child.id, age=child.age_on(on), age_band=child.age_band_on(on).value, sex=child.sex.value,
        urgency=child.urgency.value, legal_basis=child.legal_basis.value, needs=sorted(n.value for n in child.needs),
        service=child.service.value if child.service else None, waiting=child.is_waiting,
        waiting_since=child.waiting_since, pregnant=child.pregnant,
        mother_of_young_child=child.own_child_birth_date is not None and child.is_mother_of_infant_on(on),
        sibling_group_id=child.sibling_group_id, siblings_together_required=together, siblings=siblings,
        judge=JudgeOut(
            excluded_structures=[{"id": sid, "name": system.structure_by_id[sid].name} for sid in visible],
            excluded_departements=sorted(judge.excluded_departements),
            max_travel_minutes=None if judge.max_travel_minutes is None else round(judge.max_travel_minutes),
            separated_from=sorted(judge.separated_from),
        ),
        current_placement=_placement(snap, caller, child), family_home=_home(child), home_absence=child.home_absence.value if child.home_absence else None,
        anchor=child.anchor.kind.value,
        school_commune=child.school.location.commune if child.school is not None else None,
        visit_site_commune=child.visit_site.location.commune if child.visit_site is not None else None,
        held_by_reservation=hold, data_version=snap.version,
    )
    services.record(caller.entries("read", "child", [child.id]), reading=session)
    return answer
