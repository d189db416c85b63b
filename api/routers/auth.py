"""Sign-in (OAuth2 password flow), token refresh and the signed-in account."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm

from api.deps import CallerDep, ServicesDep
from api.problems import ApiProblem
from api.schemas import AccountOut, RefreshIn, TokenOut
from api.services import Services
from data.db import accounts, audit
from data.db import repository as repo

router = APIRouter(prefix="/auth", tags=["accounts"])

_REFUSED = "Wrong user name or password, or the account is locked or disabled."
_REFUSED_FR = "Nom d'utilisateur ou mot de passe erroné, ou compte verrouillé ou désactivé."


def _refused() -> ApiProblem:
    return ApiProblem(401, "Unauthorized", _REFUSED, headers={"WWW-Authenticate": "Bearer"}, fr=_REFUSED_FR)


def _tokens(services: Services, session, account: accounts.Account) -> TokenOut:
    access, lifetime = services.security.access_token(account.id, account.token_version)
    refresh = services.security.refresh_token()
    accounts.store_refresh_token(session, account.id, refresh, repo.utcnow() + services.security.refresh_lifetime())
    return TokenOut(access_token=access, token_type="bearer", expires_in=lifetime, refresh_token=refresh)


@router.post("/token", response_model=TokenOut, summary="Sign in (OAuth2 password flow)",
             responses={401: {"description": "Wrong user name or password, or the account is locked or disabled"}})
def token(form: Annotated[OAuth2PasswordRequestForm, Depends()], services: ServicesDep, request: Request) -> TokenOut:
    return sign_in(services, form.username, form.password, request.client.host if request.client else "unknown")


def sign_in(services: Services, username: str, password: str, remote: str) -> TokenOut:
    """Tokens for a user name and password (the API's and the pages' one way to sign in); 401
    when they do not match or the account is locked or disabled; every attempt is audited and
    repeated failures lock the account."""
    settings = services.settings
    now = repo.utcnow()
    with services.db.read() as session:
        found = accounts.credentials(session, username)
    # the hash is checked outside any transaction (it takes a while), against a dummy one for an unknown user
    ok, renewed = services.security.verify_password(found[1] if found else None, password)
    if found is None:
        raise _refused()
    with services.db.write() as session:
        current = accounts.credentials(session, username, lock=True)
        if current is None:
            raise _refused()
        account = current[0]
        locked = account.locked_until is not None and account.locked_until > now
        if not account.active or locked or current[1] != found[1]:  # (a password reset in between)
            ok = False
        if not ok:
            if account.active and not locked:
                accounts.failed_sign_in(session, account.id, now, settings.max_failed_logins,
                                        timedelta(minutes=settings.lockout_minutes))
            audit.record(session, [audit.Entry(account.name, account.role, "sign-in-refused", "user", account.name,
                                               remote)], now)
        else:
            accounts.signed_in(session, account.id, renewed)
            audit.record(session, [audit.Entry(account.name, account.role, "sign-in", "user", account.name, remote)],
                         now)
            return _tokens(services, session, account)
    raise _refused()


@router.post("/refresh", response_model=TokenOut, summary="New tokens for a refresh token (used once)",
             responses={401: {"description": "Unknown, used or expired refresh token"}})
def refresh(body: RefreshIn, services: ServicesDep) -> TokenOut:
    return renew(services, body.refresh_token)


def renew(services: Services, refresh_token: str) -> TokenOut:
    """New tokens for a refresh token, which is used up; 401 when unknown, used or expired."""
    with services.db.write() as session:
        user_id = accounts.use_refresh_token(session, refresh_token, repo.utcnow())
        account = None if user_id is None else accounts.get_account(session, user_id)
        if account is None or not account.active:
            raise ApiProblem(401, "Unauthorized", "The refresh token is unknown, used or expired: sign in again.",
                             headers={"WWW-Authenticate": "Bearer"},
                             fr="Le jeton de renouvellement est inconnu, déjà utilisé ou expiré : reconnectez-vous.")
        return _tokens(services, session, account)


@router.get("/me", response_model=AccountOut, summary="The signed-in account")
def me(caller: CallerDep) -> AccountOut:
    return AccountOut(name=caller.name, role=caller.role, service=caller.service,
                      structure_ids=sorted(caller.structure_ids))
