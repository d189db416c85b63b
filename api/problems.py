"""RFC 9457 problem details: every 4xx/5xx the API sends is ``application/problem+json`` with
``type``, ``title``, ``status``, ``detail`` and, for validation errors, ``errors``: one entry per
field with its location and the reason."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.services import ServiceUnavailable
from data.db.errors import ConflictError, EmptyStoreError, NotFoundError, StoreUnavailableError
from matcher.errors import DomainError

PROBLEM_JSON = "application/problem+json"
_BASE = "https://placement-engine.example/problems/"


class ApiProblem(Exception):
    """An error the routers raise with its status, title and sentence."""

    def __init__(self, status: int, title: str, detail: str, errors: list[dict[str, Any]] | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.status, self.title, self.detail, self.errors = status, title, detail, errors
        self.headers = headers


def problem(status: int, title: str, detail: str, errors: list[dict[str, Any]] | None = None,
            instance: str | None = None, headers: dict[str, str] | None = None) -> JSONResponse:
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
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or str(loc[-1] if loc else "request")


class ProblemField(BaseModel):
    field: str
    reason: str


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[dict[str, Any]] | None = None


_DOCUMENTED = {
    401: "Not signed in, or the token is invalid or expired (WWW-Authenticate: Bearer)",
    403: "The caller's role may not call this route",
    404: "Unknown id, or one the caller may not see (the same answer)",
    422: "Invalid request: each field named with the reason",
    503: "The database is unreachable for a moment (Retry-After) or a capability is missing",
}


def document_problems(app: FastAPI) -> None:
    """Declare in the OpenAPI schema the problem answers every route may give (401, 403, 404,
    422, 503) and give every 4xx/5xx answer its true body: ``application/problem+json`` with
    the :class:`Problem` schema (FastAPI's default 422 body is not what this API sends). Done on
    the generated schema, so routes added by any router are covered."""
    generate = app.openapi
    ref = {"$ref": "#/components/schemas/Problem"}

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = generate()
        schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = \
            Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                for status, text in _DOCUMENTED.items():
                    responses.setdefault(str(status), {"description": text})
                for status, answer in responses.items():
                    if status[:1] in ("4", "5"):
                        answer["content"] = {PROBLEM_JSON: {"schema": ref}}
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into a problem-details body."""

    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    @app.exception_handler(PoolTimeoutError)
    @app.exception_handler(StoreUnavailableError)
    async def _store_down(request: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, DBAPIError) and not (exc.connection_invalidated or isinstance(exc, (OperationalError, InterfaceError))):
            raise exc
        retry = getattr(getattr(request.app.state, "services", None), "settings", None)
        seconds = str(getattr(retry, "retry_after_s", 5))
        return problem(503, "Service unavailable", "The database cannot be reached for a moment: try again shortly.",
                       None, str(request.url.path), {"Retry-After": seconds})

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # never echo the error: it may hold personal data
        return problem(500, "Internal error", "An unexpected error occurred; it has been logged.")

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
        return problem(exc.status, exc.title, _sentence(exc.detail), exc.errors, str(request.url.path), exc.headers)

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
