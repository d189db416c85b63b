"""The pages' session: the signed-in account's tokens kept in two cookies (HttpOnly,
SameSite=Strict, Secure unless served on loopback), so that the pages and their script call the
API as that account. The tokens are the API's own (``/auth/token``); nothing here decides who may
do what: the one access policy does.

Wired to the accounts of :mod:`api.security` at merge time.
"""

from __future__ import annotations

from fastapi import Request, Response

ACCESS_COOKIE = "placement_access"
REFRESH_COOKIE = "placement_refresh"


def current_user(request: Request):
    raise NotImplementedError("wired to api.security at merge")


def sign_in(request: Request, username: str, password: str):
    raise NotImplementedError("wired to api.security at merge")


def refresh(request: Request):
    raise NotImplementedError("wired to api.security at merge")


def sign_out(request: Request) -> None:
    raise NotImplementedError("wired to api.security at merge")


def set_cookies(response: Response, tokens) -> None:
    raise NotImplementedError("wired to api.security at merge")


def clear_cookies(response: Response) -> None:
    response.delete_cookie(ACCESS_COOKIE, path="/")
    response.delete_cookie(REFRESH_COOKIE, path="/web/refresh")
