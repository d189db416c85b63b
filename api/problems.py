"""RFC 9457 problem details: every 4xx/5xx the API sends is ``application/problem+json`` with
``type``, ``title``, ``status``, ``detail`` and, for validation errors, ``errors``: one entry per
field with its location and the reason."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.services import ServiceUnavailable
from data.db.errors import ConflictError, EmptyStoreError, NotFoundError
from matcher.errors import DomainError

PROBLEM_JSON = "application/problem+json"
_BASE = "https://placement-engine.example/problems/"
ECHO_MAX = 64
"""An error never echoes back more than this many characters of what the caller sent."""
MAX_BODY_BYTES = 1_000_000
"""Bodies larger than this (1 MB) are refused with 413 before they are read whole."""


def clip(value: object, limit: int = ECHO_MAX) -> str:
    """What the caller sent, as it may be echoed in an error: at most ``limit`` characters."""
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def shown(value: object) -> str:
    """``repr`` of a caller's value, clipped: ``'C-404'``."""
    return repr(clip(value))


class ApiProblem(Exception):
    """An error the routers raise with its status, title and sentence."""

    def __init__(self, status: int, title: str, detail: str, errors: list[dict[str, Any]] | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.status, self.title, self.detail, self.errors = status, title, detail, errors
        self.headers = headers


def not_found(what: str, value: object, field: str, where: str = "path") -> ApiProblem:
    """A 404 naming the parameter: ``Child 'C-404' does not exist.`` with an ``errors`` entry."""
    return ApiProblem(404, "Not found", f"{what} {shown(value)} does not exist.",
                      [{"field": field, "in": where, "reason": f"no {what.lower()} has this id"}])


def problem(status: int, title: str, detail: str, errors: list[dict[str, Any]] | None = None,
            instance: str | None = None, headers: dict[str, str] | None = None) -> JSONResponse:
    body: dict[str, Any] = {
        "type": _BASE + title.lower().replace(" ", "-"),
        "title": title,
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = clip(instance, 200)
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or str(loc[-1] if loc else "request")


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into a problem-details body."""

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [_validation_error(e) for e in exc.errors()]
        if any(e["field"] == "body" and e["reason"].startswith("the body is not valid JSON") for e in errors):
            return problem(422, "Invalid request", "T" + errors[0]["reason"][1:] + ".",
                           errors[:1], str(request.url.path))
        said = "; ".join(f"{e['field']}: {e['reason']}" for e in errors)
        return problem(422, "Invalid request", f"The request has {len(errors)} invalid field(s): {said}",
                       errors, str(request.url.path))

    @app.exception_handler(ApiProblem)
    async def _api(request: Request, exc: ApiProblem) -> JSONResponse:
        return problem(exc.status, exc.title, _sentence(exc.detail), exc.errors, str(request.url.path), exc.headers)

    def _plain(status: int, title: str):
        async def handler(request: Request, exc: Exception) -> JSONResponse:
            errors = None
            if status == 404:  # name the path parameter(s) the store did not find
                errors = [{"field": name, "in": "path", "reason": "not found"} for name in request.path_params] or \
                    [{"field": "path", "in": "path", "reason": "not found"}]
            return problem(status, title, _sentence(str(exc)), errors, str(request.url.path))
        return handler

    for error, status, title in _PLAIN_ERRORS:
        app.add_exception_handler(error, _plain(status, title))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        errors = None
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"There is no resource at {clip(request.url.path)}."
            errors = [{"field": "path", "in": "path", "reason": "no such resource"}]
        if exc.status_code == 405:
            detail = f"{request.method} is not allowed on {clip(request.url.path)}."
        title = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, "Error")
        return problem(exc.status_code, title, detail, errors, str(request.url.path))


def _validation_error(e: dict[str, Any]) -> dict[str, Any]:
    """One entry of ``errors`` from a pydantic error: the field, where it was, the reason (the
    input itself is never echoed whole)."""
    loc = tuple(e.get("loc", ()))
    if e.get("type") == "json_invalid":
        said = (e.get("ctx") or {}).get("error", "")
        return {"field": "body", "in": "body", "reason": f"the body is not valid JSON ({clip(said)})"}
    return {"field": clip(_field(loc)), "in": str(loc[0]) if loc else "body", "reason": clip(e.get("msg", ""), 200)}


class BodyLimit:
    """ASGI middleware: a body over ``limit`` bytes is a 413 problem (checked on Content-Length,
    and while reading a body sent without it)."""

    def __init__(self, app, limit: int = MAX_BODY_BYTES):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or ()).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            await self._refuse(scope, receive, send)
            return
        seen = 0
        started = False

        async def limited():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge()
            return message

        async def watched(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited, watched)
        except _TooLarge:
            if not started:
                await self._refuse(scope, receive, send)

    async def _refuse(self, scope, receive, send) -> None:
        response = problem(413, "Content too large",
                           f"The body is larger than {self.limit // 1_000_000} MB; send less.",
                           [{"field": "body", "in": "body", "reason": f"over {self.limit} bytes"}],
                           scope.get("path"))
        await response(scope, receive, send)


class _TooLarge(Exception):
    pass


_PLAIN_ERRORS: tuple[tuple[type[Exception], int, str], ...] = (
    (NotFoundError, 404, "Not found"),
    (ConflictError, 409, "Conflict"),
    (DomainError, 422, "Invalid request"),
    (EmptyStoreError, 503, "No data"),
    (ServiceUnavailable, 503, "Service unavailable"),
)
"""Errors whose message is the whole detail: (error, HTTP status, title)."""


def _sentence(text: str) -> str:
    text = text.strip()
    if not text:
        return text
    first = text.split(" ", 1)[0]
    if "_" not in first:  # an identifier (within_minutes) keeps its case
        text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."
