"""Ranked proposals for a child or a sibling group, with "why not" a named structure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool

from api import policy
from api.deps import CallerDep, LangDep, ServicesDep, SessionDep, SnapshotDep
from api.policy import Caller
from api.problems import ApiProblem
from api.schemas import (
    AheadOut,
    ComponentOut,
    ExclusionOut,
    PlacementOut,
    ProposalOut,
    ProposalsOut,
    UnitCheckOut,
    WhyNotOut,
)
from api.services import Prices, ServiceUnavailable, Services, Snapshot
from data.db import repository as repo
from matcher.proposals import Proposal, WhyNot, propose, why_not
from matcher.rules import CAPACITY_RULE, OPTION_RULES
from matcher.words import Lang, never_declared_words, rule_label, stale_words

router = APIRouter(tags=["proposals"])

_RULES_MET = [*OPTION_RULES, CAPACITY_RULE]
"""The hard rules every proposal passes (each is checked, and ``require_valid_proposals`` guards them)."""
_RULES_MET_NAMES = [r.name for r in _RULES_MET]
_RULES_MET_WORDS = {lang: [rule_label(r.name, r.label, lang) for r in _RULES_MET] for lang in ("fr", "en")}
"""Computed once: every proposal of every answer carries them."""

K = Annotated[int, Query(ge=1, le=50, description="How many proposals.")]
Order = Annotated[Literal["own", "system"], Query(description="own: the children's own score; system: own score + capacity prices.")]
WhyNotQ = Annotated[str | None, Query(min_length=1, max_length=64, description="Also explain why this structure is not first.")]
AllowMoves = Annotated[bool, Query(description="For a fratrie: may a sibling already placed be moved? Off by default; "
                                   "every move is then named in the proposal's `moves`.")]


def _taken(services: Services, session, snap: Snapshot, caller: Caller) -> dict[str, int]:
    """Places taken on top of the snapshot: live holds, and every place of a secret structure
    for a caller not entitled to see them (they are then never proposed)."""
    held = repo.live_holds(session, services.now())
    if not caller.sees_secret:
        secret = snap.memo.get("secret_units")
        if secret is None:
            secret = [(u.id, u.free) for u in snap.system.units if snap.system.structure_of(u).secret]
            snap.memo["secret_units"] = secret
        for unit_id, free in secret:
            if not policy.sees_structure(caller, snap.system.structure_of(snap.system.unit_by_id[unit_id])):
                held[unit_id] = held.get(unit_id, 0) + free
    return held


def _proposals(services: Services, session, snap: Snapshot, caller: Caller, child_ids: Sequence[str],
               group_id: str | None, k: int, order: str, why: str | None, allow_moves: bool = False,
               lang: Lang = "fr") -> ProposalsOut:
    if k > services.settings.max_k:
        raise ApiProblem(422, "Invalid request", f"k is at most {services.settings.max_k} on this server.",
                         [{"field": "k", "in": "query", "reason": f"at most {services.settings.max_k}"}],
                         fr=f"k vaut au plus {services.settings.max_k} sur ce serveur.")
    priced: Prices | None
    try:
        priced = services.prices.prices(snap, services.weights)
    except ServiceUnavailable:
        if order == "system":
            raise
        priced = None
    prices: Mapping[str, float] | None = None if priced is None else priced.values
    held = _taken(services, session, snap, caller)
    now = services.now()
    max_age = timedelta(days=services.settings.stale_after_days)
    stale = snap.stale_units(now, max_age)
    found = propose(snap.system, child_ids, snap.travel, services.weights, k, prices, order=order,
                    held=held, index=snap.index, allow_moves=allow_moves, lang=lang, stale_units=stale)
    answer = None
    if why is not None:
        policy.structure(caller, snap.system, why, "why_not", "query")
        answer = _why_not_out(why_not(snap.system, child_ids, why, snap.travel, services.weights,
                                      held=held, index=snap.index, allow_moves=allow_moves, lang=lang,
                                      stale_units=stale))
    return ProposalsOut(
        child_ids=list(child_ids), sibling_group_id=group_id, order=order, data_version=snap.version,
        prices_available=priced is not None, prices_version=None if priced is None else priced.version,
        proposals=[_proposal_out(snap, p, prices is not None, stale, now, lang) for p in found], why_not=answer,
    )


def _stale_warnings(snap: Snapshot, unit_ids: Sequence[str], now: datetime, lang: Lang) -> list[str]:
    out = []
    for unit_id in dict.fromkeys(unit_ids):
        structure = snap.system.structure_of(snap.system.unit_by_id[unit_id])
        at = snap.declared.get(unit_id)
        out.append(never_declared_words(unit_id, structure, lang) if at is None
                   else stale_words(unit_id, structure, (now - at).total_seconds() / 86400, lang))
    return out


def _proposal_out(snap: Snapshot, p: Proposal, priced: bool, stale: frozenset[str] = frozenset(),
                  now: datetime | None = None, lang: Lang = "fr") -> ProposalOut:
    stale_used = [x.unit_id for x in p.placements if x.unit_id is not None and x.unit_id in stale]
    return ProposalOut(
        own_rank=p.own_rank, system_rank=p.system_rank if priced else None, structure_id=p.structure_id,
        structure_name=snap.system.structure_by_id[p.structure_id].name if p.structure_id else "",
        siblings_together=p.siblings_together, structures_used=p.structures_used,
        own_score=round(p.own_score, 3), capacity_price=round(p.capacity_price, 3) if priced else None,
        system_score=round(p.system_score, 3) if priced else None,
        components=[ComponentOut(name=c.name, quantity=c.quantity, unit=c.unit, cost=round(c.cost, 3)) for c in p.components],
        rules_met=_RULES_MET_NAMES,
        rules_met_words=_RULES_MET_WORDS[lang],
        placements=[
            PlacementOut(child_id=x.child_id, structure_id=x.structure_id, unit_id=x.unit_id,
                         travel_minutes=None if x.travel_minutes is None else round(x.travel_minutes, 1),
                         anchor=x.anchor,
                         score=None if x.score is None else round(x.score.total, 3),
                         capacity_price=round(x.unit_price, 3) if priced else None, moved_from=x.moved_from,
                         vacancies_stale=x.unit_id in stale)
            for x in p.placements
        ],
        explanation=p.explanation, moves=list(p.moves), vacancies_stale=bool(stale_used), split_reason=p.split_reason,
        warnings=_stale_warnings(snap, stale_used, now, lang) if stale_used and now is not None else [],
    )


def _why_not_out(w: WhyNot) -> WhyNotOut:
    return WhyNotOut(
        structure_id=w.structure_id, verdict=w.verdict, sentence=w.sentence, rank=w.rank,
        checks=[UnitCheckOut(child_id=c.child_id, unit_id=c.unit_id,
                             exclusions=[ExclusionOut(rule=e.rule, reason=e.reason) for e in c.exclusions])
                for c in w.checks],
        ahead=[AheadOut(structure_id=a.structure_id, own_score=round(a.own_score, 3)) for a in w.ahead],
    )


def answer_for_child(child_id: str, services: Services, session, snap: Snapshot, caller: Caller, lang: Lang,
                     k: int = 10, order: str = "own", why_not: str | None = None) -> ProposalsOut:
    """A child's proposals, their read audited (the route's work; the map draws the same)."""
    policy.child(caller, snap.system, child_id)
    answer = _proposals(services, session, snap, caller, [child_id], None, k, order, why_not, lang=lang)
    services.record(caller.entries("read-proposals", "child", [child_id]), reading=session)
    return answer


def answer_for_group(group_id: str, services: Services, session, snap: Snapshot, caller: Caller, lang: Lang,
                     k: int = 10, order: str = "own", why_not: str | None = None,
                     allow_moves: bool = False) -> ProposalsOut:
    """A fratrie's proposals, the reads of its children audited."""
    group = policy.sibling_group(caller, snap.system, group_id)
    answer = _proposals(services, session, snap, caller, list(group.child_ids), group_id, k, order, why_not,
                        allow_moves, lang)
    services.record(caller.entries("read-proposals", "child", group.child_ids), reading=session)
    return answer


# The two routes officers call most are ``async def`` and run their work on a worker thread
# themselves: FastAPI then checks the answer against ``ProposalsOut`` on the event loop, where for a
# plain ``def`` route it hands that check to a worker thread too (one hand-off more per request:
# 4-5% more requests/s, BENCHMARKS.md).


@router.get("/children/{child_id}/proposals", response_model=ProposalsOut, summary="Proposals for a child")
async def child_proposals(child_id: str, services: ServicesDep, session: SessionDep, snap: SnapshotDep,
                          caller: CallerDep, lang: LangDep, k: K = 10, order: Order = "own",
                          why_not: WhyNotQ = None) -> ProposalsOut:
    return await run_in_threadpool(answer_for_child, child_id, services, session, snap, caller, lang, k, order, why_not)


@router.get("/sibling-groups/{group_id}/proposals", response_model=ProposalsOut,
            summary="Proposals for a sibling group (fratrie)")
async def group_proposals(group_id: str, services: ServicesDep, session: SessionDep, snap: SnapshotDep,
                          caller: CallerDep, lang: LangDep, k: K = 10, order: Order = "own", why_not: WhyNotQ = None,
                          allow_moves: AllowMoves = False) -> ProposalsOut:
    return await run_in_threadpool(answer_for_group, group_id, services, session, snap, caller, lang, k, order,
                                   why_not, allow_moves)
