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
from matcher.errors import DomainError, HardRuleViolation

PROBLEM_JSON = "application/problem+json"
_BASE = "https://placement-engine.example/problems/"


class ApiProblem(Exception):
    """An error the routers raise with its status, title and sentence."""

    def __init__(self, status: int, title: str, detail: str, errors: list[dict[str, Any]] | None = None):
        super().__init__(detail)
        self.status, self.title, self.detail, self.errors = status, title, detail, errors


def problem(status: int, title: str, detail: str, errors: list[dict[str, Any]] | None = None,
            instance: str | None = None) -> JSONResponse:
    body: dict[str, Any] = {
        "type": _BASE + title.lower().replace(" ", "-"),
        "title": title,
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or str(loc[-1] if loc else "request")


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into a problem-details body."""

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"field": _field(tuple(e.get("loc", ()))), "in": str(e.get("loc", ("body",))[0]), "reason": e.get("msg", "")}
            for e in exc.errors()
        ]
        said = "; ".join(f"{e['field']}: {e['reason']}" for e in errors)
        return problem(422, "Invalid request", f"The request has {len(errors)} invalid field(s): {said}",
                       errors, str(request.url.path))

    @app.exception_handler(ApiProblem)
    async def _api(request: Request, exc: ApiProblem) -> JSONResponse:
        return problem(exc.status, exc.title, _sentence(exc.detail), exc.errors, str(request.url.path))

    def _plain(status: int, title: str):
        async def handler(request: Request, exc: Exception) -> JSONResponse:
            return problem(status, title, _sentence(str(exc)), None, str(request.url.path))
        return handler

    for error, status, title in _PLAIN_ERRORS:
        app.add_exception_handler(error, _plain(status, title))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"There is no resource at {request.url.path}."
        if exc.status_code == 405:
            detail = f"{request.method} is not allowed on {request.url.path}."
        title = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, "Error")
        return problem(exc.status_code, title, detail, None, str(request.url.path))


_PLAIN_ERRORS: tuple[tuple[type[Exception], int, str], ...] = (
    (NotFoundError, 404, "Not found"),
    (ConflictError, 409, "Conflict"),
    (DomainError, 422, "Invalid request"),
    (EmptyStoreError, 503, "No data"),
    (ServiceUnavailable, 503, "Service unavailable"),
    (HardRuleViolation, 500, "Hard rule broken"),
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
