"""The pages' session: the signed-in account's API tokens kept in two cookies (HttpOnly,
SameSite=Strict; Secure unless the page was asked over plain HTTP, as on loopback), so that the
pages and their script call the API as that account. Signing in, refreshing and checking a token
are the API's own (``api.routers.auth``, ``api.deps``): nothing here decides who may do what.
"""

from __future__ import annotations

from fastapi import Request, Response

from api.deps import ACCESS_COOKIE
from api.problems import ApiProblem
from api.schemas import TokenOut

REFRESH_COOKIE = "placement_refresh"
REFRESH_PATH = "/web/"


def current_user(request: Request):
    """The signed-in account of this page request (resolved by the access policy), or None."""
    return getattr(request.state, "caller", None)


def sign_in(request: Request, username: str, password: str):
    """(account, tokens) for a user name and password, or None when refused (audited, and
    repeated failures lock the account, exactly as ``POST /auth/token``)."""
    from api.deps import caller_of_token
    from api.routers.auth import sign_in as api_sign_in

    services = request.app.state.services
    try:
        tokens = api_sign_in(services, username, password, request.client.host if request.client else "unknown")
    except ApiProblem:
        return None
    with services.db.read() as session:
        return caller_of_token(request, services, tokens.access_token, session), tokens


def refresh(request: Request) -> TokenOut | None:
    from api.routers.auth import renew

    token = request.cookies.get(REFRESH_COOKIE)
    if not token:
        return None
    try:
        return renew(request.app.state.services, token)
    except ApiProblem:
        return None


def sign_out(request: Request) -> None:
    """Use up the session's refresh token, so that it cannot be replayed."""
    refresh(request)


def set_cookies(request: Request, response: Response, tokens: TokenOut) -> None:
    secure = request.url.scheme == "https"
    response.set_cookie(ACCESS_COOKIE, tokens.access_token, max_age=tokens.expires_in, path="/",
                        httponly=True, samesite="strict", secure=secure)
    if tokens.refresh_token:
        response.set_cookie(REFRESH_COOKIE, tokens.refresh_token, path=REFRESH_PATH,
                            httponly=True, samesite="strict", secure=secure)


def clear_cookies(response: Response) -> None:
    response.delete_cookie(ACCESS_COOKIE, path="/")
    response.delete_cookie(REFRESH_COOKIE, path=REFRESH_PATH)
