"""Reservations: hold places for a child or a fratrie (in one unit, or in several units at once,
all or nothing), confirm them into placements, cancel them, list them.

Only an officer (or protection officer) of the children's service holds; only the holder's
service, or an administrator, reads, confirms or cancels (``api.policy``). Each change and its
audit rows commit together; reading a reservation is recorded too.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query, status
from sqlalchemy import select

from api import policy
from api.deps import CallerDep, LangDep, ServicesDep, WriterSnapshotDep
from api.problems import ApiProblem, shown
from api.routers.children import live_holds_of
from api.schemas import ReservationIn, ReservationOut, ReservationPartOut, ReservationsOut
from data.db import audit
from data.db import repository as repo
from data.db.errors import NotFoundError
from data.db.models import ReservationRow
from matcher.model import Service
from matcher.rules import CAPACITY_RULE, GROUP_RULES, OPTION_RULES, Option, exclusions
from matcher.words import Lang, join, rule_label, rule_reason

router = APIRouter(prefix="/reservations", tags=["reservations"])


def _out(rows: list[ReservationRow], snap, caller) -> ReservationOut:
    """One reservation (or a bundle's, the first one first) as the caller may see it."""
    lead = rows[0]
    parts = [ReservationPartOut(reservation_id=r.id, unit_id=r.unit_id, structure_id=_structure_id(snap, r.unit_id),
                                child_ids=list(r.child_ids), places=r.places) for r in rows]
    return ReservationOut(
        id=lead.id, unit_id=lead.unit_id, structure_id=parts[0].structure_id,
        child_ids=[c for r in rows for c in r.child_ids], sibling_group_id=lead.sibling_group_id,
        places=sum(r.places for r in rows), status=lead.status, created_at=lead.created_at,
        expires_at=lead.expires_at, closed_at=lead.closed_at, bundle_id=lead.bundle_id,
        created_by=lead.created_by, confirmed_by=lead.confirmed_by, cancelled_by=lead.cancelled_by,
        parts=parts,
    )


def _structure_id(snap, unit_id: str) -> str:
    unit = snap.system.unit_by_id.get(unit_id)
    return unit.structure_id if unit else ""


@router.post("", response_model=ReservationOut, status_code=status.HTTP_201_CREATED,
             summary="Hold places for a child or a sibling group (in several units at once: all or nothing)",
             responses={404: {"description": "Unknown unit, child or sibling group"},
                        409: {"description": "Not enough free places, or a child already holds one"},
                        422: {"description": "Invalid body, a hard rule excludes the unit, or a child of a "
                                             "fratrie that stays together held alone while a sibling waits"}})
def hold(body: ReservationIn, services: ServicesDep, snap: WriterSnapshotDep, caller: CallerDep,
         lang: LangDep) -> ReservationOut:
    system = snap.system
    if body.child_id is not None:
        children = [policy.child(caller, system, body.child_id, "child_id", "body")]
    else:
        group = policy.sibling_group(caller, system, body.sibling_group_id or "", "sibling_group_id", "body")
        children = [system.child_by_id[c] for c in group.child_ids]
    if body.placements is None:
        unit = policy.unit(caller, system, body.unit_id or "", "unit_id", "body")
        plan = [(children, unit)]
        for child in children:
            if child.current is not None and child.current.unit_id == unit.id:
                raise ApiProblem(409, "Conflict", f"Child {child.id} is already placed in unit {unit.id}.",
                                 fr=f"L'enfant {child.id} est déjà placé dans l'unité {unit.id}.")
        if body.child_id is not None:
            _not_without_siblings(services, snap, caller, children[0], lang)
    else:
        plan = _bundle_plan(snap, caller, children, body)
    _eligible(snap, plan, "unit_id" if body.placements is None else "placements", lang)
    hours = body.hold_hours if body.hold_hours is not None else services.settings.hold_hours
    with services.db.write() as session:
        rows = repo.hold_bundle(session, parts=[(u.id, [c.id for c in kids]) for kids, u in plan],
                                sibling_group_id=body.sibling_group_id, ttl=timedelta(hours=hours),
                                now=services.now(), by=caller.name, service=caller.service)
        audit.record(session, caller.reservation_entries("hold", rows), repo.utcnow())
        services.fault_pause("hold")
    return _out(rows, snap, caller)


def _not_without_siblings(services, snap, caller, child, lang: Lang) -> None:
    """A child of a fratrie that must stay together is not held alone while a sibling is waiting
    too (without a place and without a hold): the fratrie is held in one step instead
    (``sibling_group_id``, with ``placements`` over several units, a sibling left without a place
    for now given ``unit_id: null``), which can hold every proposal the fratrie's proposals give.
    Not refused: a fratrie that may be split, siblings the judge ordered apart from the child,
    siblings placed or holding a place already, and a fratrie the caller does not act for whole
    (they could not hold it; its other children are never named to them)."""
    system = snap.system
    group = system.sibling_group_by_id.get(child.sibling_group_id or "")
    if group is None or not group.together or not policy.acts_for_group(caller, system, group):
        return
    others = [system.child_by_id[c] for c in group.child_ids if c != child.id]
    waiting = [o.id for o in others if o.is_waiting
               and o.id not in child.judge.separated_from and child.id not in o.judge.separated_from]
    if waiting:
        with services.db.read() as session:
            holding = live_holds_of(session, services.now(), waiting)
        waiting = [c for c in waiting if c not in holding]
    if not waiting:
        return
    fr = lang == "fr"
    who = join(waiting, lang)
    if fr:
        detail = (f"{child.id} fait partie de la fratrie {group.id}, qui doit rester réunie, et "
                  f"{who} {'attend' if len(waiting) == 1 else 'attendent'} aussi une place : réservez pour la "
                  f"fratrie (sibling_group_id {group.id}, avec placements si elle va dans plusieurs unités), "
                  "pas pour un seul enfant.")
        reason = f"la fratrie {group.id} doit rester réunie : {who} {'attend' if len(waiting) == 1 else 'attendent'} aussi"
    else:
        detail = (f"{child.id} belongs to sibling group {group.id}, which stays together, and {who} "
                  f"{'is' if len(waiting) == 1 else 'are'} waiting too: hold the places for the sibling group "
                  f"(sibling_group_id {group.id}, with placements for several units), not for one child.")
        reason = f"sibling group {group.id} stays together: {who} {'is' if len(waiting) == 1 else 'are'} waiting too"
    raise ApiProblem.in_lang(lang, 422, "Invalid request", detail,
                             [{"field": "child_id", "in": "body", "rule": "siblings_together", "reason": reason,
                               "sibling_group_id": group.id, "waiting_siblings": waiting}])


_RULE_LABELS = {r.name: r.label for r in (*OPTION_RULES, CAPACITY_RULE, *GROUP_RULES)}


def _rule_words(rule: str, child, structure, unit, travel_minutes, age: int, lang: Lang) -> str:
    """Why the hard rule ``rule`` excludes the unit, in words in ``lang`` (the rule's label where
    no sentence of its own exists): never the rule's machine name."""
    said = rule_reason(rule, child, structure, unit, travel_minutes, age, lang)
    if said == rule.replace("_", " "):
        label = rule_label(rule, _RULE_LABELS.get(rule, said), lang)
        said = f"règle « {label} »" if lang == "fr" else f"rule \u201c{label}\u201d"
    return said


def _eligible(snap, plan, field: str, lang: Lang) -> None:
    """422 when a hard rule excludes a unit of the plan for one of its children: the sentence
    says why in words in ``lang``; each ``errors`` entry names the child, the unit and the rule
    (its machine name, never in the sentence)."""
    system = snap.system
    on = system.reference_date
    fr = lang == "fr"
    sep, colon = (" ; ", " : ") if fr else ("; ", ": ")
    everyone = [c.id for kids, _ in plan for c in kids]
    errors: list[dict] = []
    clauses: list[str] = []
    for kids, unit in plan:
        structure = system.structure_of(unit)
        for child in kids:
            option = Option.of(child, structure, unit, snap.travel)
            found = exclusions(child, option, on)
            if not found:
                continue
            said = [_rule_words(e.rule, child, structure, unit, option.travel_minutes, child.age_on(on), lang)
                    for e in found]
            errors += [{"field": field, "in": "body", "child_id": child.id, "unit_id": unit.id, "rule": e.rule,
                        "reason": words} for e, words in zip(found, said)]
            who = child.id if len(plan) == 1 else f"{child.id} ({'unité' if fr else 'unit'} {unit.id})"
            clauses.append(sep.join(said) if len(everyone) == 1 else who + colon + sep.join(said))
    if not errors:
        return
    refused = {e["child_id"] for e in errors}
    hint = ""
    if field == "unit_id" and len(everyone) > 1 and len(refused) < len(everyone):
        # some of the fratrie fit this unit, some do not: a proposal over several units of one
        # structure is held with ``placements`` (the pages send them; a program holding the first unit may not know)
        hint = (" Si la proposition loge la fratrie dans plusieurs unités, réservez-les en une fois avec "
                "« placements » (l'unité de chaque enfant, comme dans la proposition)." if fr else
                " If the proposal puts the fratrie in several units, hold them at once with `placements` "
                "(each child's unit, as in the proposal).")
    units = ", ".join(u.id for _, u in plan)
    if fr:
        whom = "les accueillir" if len(everyone) > 1 else f"accueillir {everyone[0]}"
        head = f"L'unité {units} ne peut pas {whom}" if len(plan) == 1 else f"Les unités {units} ne peuvent pas {whom}"
    else:
        whom = "them" if len(everyone) > 1 else everyone[0]
        head = f"Unit {units} cannot take {whom}" if len(plan) == 1 else f"Units {units} cannot take {whom}"
    raise ApiProblem.in_lang(lang, 422, "Not eligible", head + colon + sep.join(clauses) + "." + hint, errors)


def _bundle_plan(snap, caller, children, body: ReservationIn):
    """The units of a fratrie's hold in several units, as a proposal gives them: every waiting
    sibling is listed once, with a unit or with none (``unit_id: null``: left without a place
    for now, nothing held for them); a sibling already placed is left out or listed with the
    unit they live in (they stay); no one else is listed, and at least one place is held."""
    system = snap.system
    ids = {c.id for c in children}
    listed: dict[str, str | None] = {}
    for p in body.placements or ():
        if p.child_id not in ids:
            raise ApiProblem(422, "Invalid request", f"Child {shown(p.child_id)} is not in sibling group "
                             f"{body.sibling_group_id}.", [{"field": "placements", "in": "body",
                                                            "reason": "child not in the sibling group"}],
                             fr=f"L'enfant {shown(p.child_id)} ne fait pas partie de la fratrie {body.sibling_group_id}.")
        if p.child_id in listed:
            raise ApiProblem(422, "Invalid request", f"Child {p.child_id} is listed twice.",
                             [{"field": "placements", "in": "body", "reason": "child listed twice"}],
                             fr=f"L'enfant {p.child_id} figure deux fois.")
        listed[p.child_id] = p.unit_id
    staying = {c.id for c in children if c.current is not None and c.id not in listed}
    missing = sorted(ids - set(listed) - staying)
    if missing:
        raise ApiProblem(422, "Invalid request", f"The hold leaves out {', '.join(missing)}: every waiting sibling "
                         "needs a unit, or unit_id null when left without a place for now (all or nothing).",
                         [{"field": "placements", "in": "body", "reason": f"missing {', '.join(missing)}"}],
                         fr=f"La réservation laisse de côté {', '.join(missing)} : chaque enfant de la fratrie en "
                         "attente a besoin d'une unité, ou de unit_id null s'il reste sans place pour l'instant "
                         "(tout ou rien).")
    by_unit: dict[str, list] = {}
    for child in children:
        if listed.get(child.id) is None:
            continue
        unit = policy.unit(caller, system, listed[child.id] or "", "placements", "body")
        if child.current is not None and child.current.unit_id == unit.id:
            continue  # listed where they live, as a proposal lists a sibling who stays: nothing to hold
        by_unit.setdefault(unit.id, []).append(child)
    if not by_unit:
        raise ApiProblem(422, "Invalid request", "The hold gives no sibling a new unit: there is nothing to hold.",
                         [{"field": "placements", "in": "body", "reason": "no unit to hold"}],
                         fr="La réservation ne donne de nouvelle unité à aucun enfant de la fratrie : il n'y a rien "
                         "à réserver.")
    return [(kids, system.unit_by_id[u]) for u, kids in by_unit.items()]


def _bundle(session, snap, caller, reservation_id: str) -> list[ReservationRow]:
    """Every reservation of the bundle of ``reservation_id``, each one the caller may see and act
    on; otherwise the same 404 as for an id that does not exist, naming only the id asked."""
    try:
        row = repo.get_reservation(session, reservation_id)
    except NotFoundError:
        raise policy.not_found("Reservation", reservation_id) from None
    rows = repo.bundle_of(session, row)
    for r in rows:
        policy.reservation(caller, snap.system, r, reservation_id)
    return rows


@router.get("", response_model=ReservationsOut, summary="List reservations (by holder, service, status)")
def list_reservations(
    services: ServicesDep, snap: WriterSnapshotDep, caller: CallerDep,
    holder: Annotated[str | None, Query(min_length=1, max_length=64, description="The account that made the hold.")] = None,
    service: Annotated[list[Service] | None, Query(description="The ASE service(s) following one of the children.")] = None,
    status_: Annotated[list[Literal["held", "confirmed", "cancelled", "expired"]] | None,
                       Query(alias="status", description="held, confirmed, cancelled or expired.")] = None,
    unit_id: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> ReservationsOut:
    """Newest first; a bundle (a fratrie held over several units) is one item. Holds past their
    expiry are released first, so that ``status=held`` lists only live ones."""
    now = services.now()
    with services.db.write() as session:
        repo.expire_holds(session, now)
    with services.db.read() as session:
        query = select(ReservationRow).order_by(ReservationRow.created_at.desc(), ReservationRow.id)
        if holder is not None:
            query = query.where(ReservationRow.created_by == holder)
        if status_:
            query = query.where(ReservationRow.status.in_(status_))
        if unit_id is not None:
            query = query.where(ReservationRow.unit_id == unit_id)
        rows = list(session.scalars(query))
        bundles: dict[str, list[ReservationRow]] = {}
        for r in rows:
            bundles.setdefault(r.bundle_id or r.id, []).append(r)
        wanted = set(service or ())
        items = []
        for key, members in bundles.items():
            if members[0].bundle_id is not None:
                members = repo.bundle_of(session, members[0])
            if not all(_may_see(snap, caller, r) for r in members):
                continue
            if wanted:
                kids = [snap.system.child_by_id.get(c) for r in members for c in r.child_ids]
                if not any(k is not None and k.service in wanted for k in kids):
                    continue
            items.append(members)
        page = [_out(m, snap, caller) for m in items[offset:offset + limit]]
    return ReservationsOut(total=len(items), items=page)


def _may_see(snap, caller, row: ReservationRow) -> bool:
    try:
        policy.reservation(caller, snap.system, row)
    except ApiProblem:
        return False
    return True


@router.get("/{reservation_id}", response_model=ReservationOut, summary="A reservation (expired holds are released on access)")
def get(reservation_id: str, services: ServicesDep, snap: WriterSnapshotDep, caller: CallerDep) -> ReservationOut:
    with services.db.write() as session:
        rows = _bundle(session, snap, caller, reservation_id)
        for r in rows:
            repo.refresh_expiry(session, r, services.now())
        audit.record(session, caller.entries("read", "reservation", [r.id for r in rows]), repo.utcnow())
    return _out(rows, snap, caller)


def _check_visible(services, snap, caller, reservation_id: str) -> None:
    with services.db.read() as session:
        _bundle(session, snap, caller, reservation_id)


@router.post("/{reservation_id}/confirm", response_model=ReservationOut,
             summary="Confirm a hold into placements (a bundle: all of it; one transaction with the capacity update)",
             responses={409: {"description": "The hold is no longer live (confirmed, cancelled or expired)"}})
def confirm(reservation_id: str, services: ServicesDep, snap: WriterSnapshotDep, caller: CallerDep) -> ReservationOut:
    _check_visible(services, snap, caller, reservation_id)
    now = services.now()
    with services.db.write() as session:
        row = repo.confirm(session, reservation_id, now, now.date(), by=caller.name)
        rows = repo.bundle_of(session, row)
        audit.record(session, caller.reservation_entries("confirm", rows), repo.utcnow())
        services.fault_pause("confirm")
    return _out(rows, snap, caller)


@router.post("/{reservation_id}/cancel", response_model=ReservationOut, summary="Cancel a hold (a bundle: all of it)",
             responses={409: {"description": "The hold is no longer live (confirmed, cancelled or expired)"}})
def cancel(reservation_id: str, services: ServicesDep, snap: WriterSnapshotDep, caller: CallerDep) -> ReservationOut:
    _check_visible(services, snap, caller, reservation_id)
    with services.db.write() as session:
        row = repo.cancel(session, reservation_id, services.now(), by=caller.name)
        rows = repo.bundle_of(session, row)
        audit.record(session, caller.reservation_entries("cancel", rows), repo.utcnow())
    return _out(rows, snap, caller)
