"""Typed dependencies: the app's services, settings, a read session, the signed-in caller (the
access policy is applied here, once for the whole app) and the system snapshot of the current
data version."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Literal

from fastapi import Depends, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.orm import Session

from api.policy import POLICY, Caller, forbidden
from api.problems import ApiProblem
from api.security import InvalidToken
from api.services import Services, Snapshot
from api.settings import Settings
from data.db import accounts
from matcher.words import Lang, pick_lang


# Dependencies that do no I/O are ``async def``: they run on the event loop, where a plain
# ``def`` would cost each request a hand-off to a worker thread and back (issue 13: the service
# is CPU-bound, and each hand-off costs CPU in the kernel and in anyio).


async def get_services(request: Request) -> Services:
    return _services(request)


ServicesDep = Annotated[Services, Depends(get_services)]


def _services(request: Request) -> Services:
    """The services, for the dependencies below: read from the request rather than declared as a
    sub-dependency, which FastAPI would resolve again under each of them (each resolution costs
    CPU on every request: the dependencies of the proposal routes are resolved 25 times)."""
    return request.app.state.services


async def get_settings(services: ServicesDep) -> Settings:
    return services.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


async def read_session(request: Request) -> AsyncIterator[Session]:
    """The request's read session. Opening it does no I/O (the connection is taken at the first
    query); at the end it is closed on a worker thread only when it still holds a transaction
    (most requests end theirs earlier, :meth:`Services.record`)."""
    session = _services(request).db.read_session()
    try:
        yield session
    finally:
        if session.in_transaction():
            await run_in_threadpool(session.close)
        else:
            session.close()


SessionDep = Annotated[Session, Depends(read_session)]


bearer = OAuth2PasswordBearer(tokenUrl="/auth/token", auto_error=False)


def _unauthorized(detail: str, fr: str) -> ApiProblem:
    return ApiProblem(401, "Unauthorized", detail, headers={"WWW-Authenticate": "Bearer"}, fr=fr)


_SIGN_IN_FIRST = ("Sign in first: this route needs a bearer token (POST /auth/token).",
                  "Connectez-vous d'abord : cette route demande un jeton (POST /auth/token).")


ACCESS_COOKIE = "placement_access"
"""The cookie that carries the access token of a signed-in page (api.web.session)."""


def authorize(request: Request, session: SessionDep, token: Annotated[str | None, Depends(bearer)]) -> Caller | None:
    """The access policy, applied to every route of the app (``api.policy.POLICY``): deny by
    default, a token of one of the route's roles otherwise. The token comes from the
    ``Authorization: Bearer`` header, or for the pages and their script from the session cookie.
    The account is reloaded from the store on each request (a disabled account or a reset
    password ends its tokens at once). A page's rule resolves the caller but never refuses: the
    page answers the sign-in page or a refusal in French, by the same roles."""
    route = request.scope.get("route")
    rule = POLICY.get((request.method, getattr(route, "path", "")))
    if rule is None:
        path = getattr(route, 'path', request.url.path)
        raise forbidden(f"{request.method} {path} has no entry in the access policy: refused.",
                        f"{request.method} {path} n'a pas d'entrée dans la politique d'accès : refusé.")
    if rule.public:
        return None
    token = token or request.cookies.get(ACCESS_COOKIE)
    services = _services(request)
    if rule.page:
        try:
            caller = caller_of_token(request, services, token, session) if token else None
        except ApiProblem:
            caller = None
        request.state.caller = caller
        return caller
    if not token:
        raise _unauthorized(*_SIGN_IN_FIRST)
    caller = caller_of_token(request, services, token, session)
    if caller.role not in rule.roles:
        raise forbidden(f"Role {caller.role!r} may not call {request.method} {route.path}.",
                        f"Le rôle {caller.role!r} ne peut pas appeler {request.method} {route.path}.")
    return caller


def caller_of_token(request: Request, services: Services, token: str, session: Session) -> Caller:
    """The account an access token stands for, reloaded from the store; 401 when the token is
    invalid, expired or no longer valid.

    ``session``: the request's read session (the one its reads go on, so that a read costs one
    pooled connection, not two). A request that changes something ends this transaction here:
    it writes on a session of its own and must not hold two connections at once (see
    :func:`writer_snapshot`)."""
    try:
        claims = services.security.decode_access(token)
    except InvalidToken:
        raise _unauthorized("The access token is invalid or expired: sign in again or refresh it.",
                            "Le jeton d'accès est invalide ou expiré : reconnectez-vous ou renouvelez-le.") from None
    try:
        account, version = accounts.account_and_version(session, claims.user_id)
        request.state.data_version = version  # read with the account: see current_snapshot
    finally:
        if request.method not in ("GET", "HEAD"):
            session.rollback()
    if account is None or not account.active or account.token_version != claims.token_version:
        raise _unauthorized("The access token is no longer valid: sign in again.",
                            "Le jeton d'accès n'est plus valide : reconnectez-vous.")
    return Caller(account.id, account.name, account.role, account.service, frozenset(account.structure_ids),
                  request.client.host if request.client else "")


async def current_caller(caller: Annotated[Caller | None, Depends(authorize)]) -> Caller:
    if caller is None:  # a public route asking for a caller: a mistake in the policy table
        raise _unauthorized(*_SIGN_IN_FIRST)
    return caller


CallerDep = Annotated[Caller, Depends(current_caller)]


async def request_lang(
    accept_language: Annotated[str | None, Header(description="fr (default) or en: the language of the sentences.")] = None,
    lang: Annotated[Literal["fr", "en"] | None, Query(description="Overrides Accept-Language (fr or en).")] = None,
) -> Lang:
    """The language of the sentences of the answer: ``lang`` if given, else the first of
    ``Accept-Language`` we speak, else French."""
    return lang or pick_lang(accept_language)


LangDep = Annotated[Lang, Depends(request_lang)]


async def current_snapshot(request: Request, session: SessionDep,
                           _caller: Annotated[Caller | None, Depends(authorize)]) -> Snapshot:
    """The snapshot at the data version the request's store reads saw. A signed-in request read
    that version with its account (:func:`caller_of_token`): when the snapshot held is that
    recent, it is returned on the event loop, with no query and no hand-off to a worker thread;
    otherwise the version is read (or the snapshot brought up to date) on a worker thread."""
    services = _services(request)
    version = getattr(request.state, "data_version", None)
    if version is not None:
        snap = services.systems.at_least(version)
        if snap is not None:
            return snap
    return await run_in_threadpool(services.systems.snapshot, session)


SnapshotDep = Annotated[Snapshot, Depends(current_snapshot)]


def writer_snapshot(request: Request, session: SessionDep) -> Snapshot:
    """The snapshot for endpoints that write (a GET among them when it releases expired holds or
    records a read itself): read on the request's read session, whose transaction then ends
    before the endpoint opens its write session, so that a request never holds two pooled
    connections at once (otherwise concurrent holds and confirmations, each of which may wait
    for the snapshot to be brought up to date, exhaust the pool waiting for each other)."""
    try:
        return _services(request).systems.snapshot(session)
    finally:
        session.rollback()


WriterSnapshotDep = Annotated[Snapshot, Depends(writer_snapshot)]
