"""Typed dependencies: the app's services, settings, a read session, the caller's role and the
system snapshot of the current data version."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, Header, Query, Request
from sqlalchemy.orm import Session

from api.problems import ApiProblem, shown
from api.services import Services, Snapshot
from api.settings import ROLES, SECRET_ROLES, UNIT_MANAGER_ROLES, Settings
from matcher.words import Lang, pick_lang


def get_services(request: Request) -> Services:
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]


def get_settings(services: ServicesDep) -> Settings:
    return services.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


def read_session(services: ServicesDep) -> Iterator[Session]:
    with services.db.read() as session:
        yield session


SessionDep = Annotated[Session, Depends(read_session)]


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is asking. For now the role comes from the X-Role header (or the settings' default);
    authentication proper is a later piece of work."""

    role: str

    @property
    def sees_secret(self) -> bool:
        return self.role in SECRET_ROLES

    @property
    def manages_units(self) -> bool:
        return self.role in UNIT_MANAGER_ROLES


def current_caller(
    settings: SettingsDep,
    x_role: Annotated[str | None, Header(description=f"Caller's role: one of {', '.join(ROLES)}.")] = None,
) -> Caller:
    role = settings.default_role if x_role is None else x_role.strip()
    if role not in ROLES:
        raise ApiProblem(403, "Forbidden", f"Unknown role {shown(role)}: the X-Role header must be one of {', '.join(ROLES)}.",
                         [{"field": "X-Role", "in": "header", "reason": f"unknown role {shown(role)}"}])
    return Caller(role)


CallerDep = Annotated[Caller, Depends(current_caller)]


def holder_of(caller: Caller) -> str:
    """Who a reservation is held by: the caller's account name once the service has accounts
    (an ``account``, ``username`` or ``name`` attribute of the caller), else the caller's role."""
    for attribute in ("account", "username", "name"):
        value = getattr(caller, attribute, None)
        if isinstance(value, str) and value:
            return value[:64]
    return caller.role


def request_lang(
    accept_language: Annotated[str | None, Header(description="fr (default) or en: the language of the sentences.")] = None,
    lang: Annotated[Literal["fr", "en"] | None, Query(description="Overrides Accept-Language (fr or en).")] = None,
) -> Lang:
    """The language of the sentences of the answer: ``lang`` if given, else the first of
    ``Accept-Language`` we speak, else French."""
    return lang or pick_lang(accept_language)


LangDep = Annotated[Lang, Depends(request_lang)]


def current_snapshot(services: ServicesDep, session: SessionDep) -> Snapshot:
    return services.systems.snapshot(session)


SnapshotDep = Annotated[Snapshot, Depends(current_snapshot)]


def writer_snapshot(services: ServicesDep) -> Snapshot:
    """The snapshot for endpoints that write: read on its own short session, closed before the
    endpoint opens its write session, so that a request never holds two pooled connections at
    once (otherwise concurrent holds and confirmations, each of which may wait for the snapshot
    to be brought up to date, exhaust the pool waiting for each other)."""
    with services.db.read() as session:
        return services.systems.snapshot(session)


WriterSnapshotDep = Annotated[Snapshot, Depends(writer_snapshot)]
