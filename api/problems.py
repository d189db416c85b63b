"""RFC 9457 problem details: every 4xx/5xx the API sends is ``application/problem+json`` with
``type``, ``title``, ``status``, ``detail`` and, for validation errors, ``errors``: one entry per
field with its location and the reason."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from api import privacy
from api.services import ServiceUnavailable
from data.db.errors import ConflictError, EmptyStoreError, NotFoundError, StoreUnavailableError
from data.errors import pydantic_reason
from matcher.errors import DomainError, HardRuleViolation, PlacementError
from matcher.words import LANGS, Lang, pick_lang

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger(__name__)
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
    """An error the routers raise with its status, title and sentence: ``detail`` in English,
    ``fr`` the same in French (the answer's language picks one, :func:`lang_of`)."""

    def __init__(self, status: int, title: str, detail: str, errors: list[dict[str, Any]] | None = None,
                 headers: dict[str, str] | None = None, *, fr: str | None = None):
        super().__init__(detail)
        self.status, self.title, self.detail, self.errors = status, title, detail, errors
        self.headers = headers
        self.fr = fr

    def said(self, lang: str) -> str:
        return self.fr if lang == "fr" and self.fr else self.detail

    @classmethod
    def in_lang(cls, lang: Lang, status: int, title: str, detail: str,
                errors: list[dict[str, Any]] | None = None) -> ApiProblem:
        """A problem whose sentence is already in the caller's language ``lang`` (a route that
        has it from :data:`api.deps.LangDep` and words it itself)."""
        return cls(status, title, detail, errors, fr=detail if lang == "fr" else None)


def lang_of(request: Request) -> Lang:
    """The language of an answer's sentences, errors included: the ``lang`` query parameter if it
    names one we speak, else the first of ``Accept-Language`` we speak, else French (the same
    choice as :func:`api.deps.request_lang`, for answers that do not reach a route)."""
    asked = request.query_params.get("lang")
    if asked in LANGS:
        return asked  # type: ignore[return-value]
    return pick_lang(request.headers.get("accept-language"))


NOT_FOUND_REASON = "not found"
"""The reason of every 404's ``errors`` entry: the same for an id that does not exist and for one
the caller may not see (docs/SECURITY.md), whichever part of the code refuses it."""


_WHAT_FR = {"Child": "L'enfant", "Sibling group": "La fratrie", "Structure": "La structure", "Unit": "L'unité",
            "Reservation": "La réservation", "Batch job": "Le travail", "Scenario job": "Le travail de scénarios",
            "Simulation": "La simulation"}


def not_found(what: str, value: object, field: str, where: str = "path") -> ApiProblem:
    """The one 404 naming the parameter: ``Child 'C-404' does not exist.`` (in French ``L'enfant
    'C-404' n'existe pas.``) with an ``errors`` entry (the parameter ``field``, sent ``in`` path,
    query or body). Only the id asked is named, clipped; the generic handler of the store's
    ``NotFoundError`` gives the same body."""
    return ApiProblem(404, "Not found", f"{what} {shown(value)} does not exist.",
                      [{"field": field, "in": where, "reason": NOT_FOUND_REASON}],
                      fr=f"{_WHAT_FR[what]} {shown(value)} n'existe pas.")


def problem(status: int, title: str, detail: str, errors: list[dict[str, Any]] | None = None,
            instance: str | None = None, headers: dict[str, str] | None = None) -> JSONResponse:
    body: dict[str, Any] = {
        "type": _BASE + title.lower().replace(" ", "-"),
        "title": title,
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = clip(instance)
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
        detail = ("La base de données est momentanément injoignable : réessayez dans un instant."
                  if lang_of(request) == "fr" else "The database cannot be reached for a moment: try again shortly.")
        return problem(503, "Service unavailable", detail, None, str(request.url.path), {"Retry-After": seconds})

    app.add_middleware(UnexpectedErrors)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        lang = lang_of(request)
        raw = exc.errors()
        errors = [_validation_error(e, lang) for e in raw]
        malformed = [mine for mine, e in zip(errors, raw) if e.get("type") == "json_invalid"]
        if malformed:
            reason = malformed[0]["reason"]
            return problem(422, "Invalid request", reason[0].upper() + reason[1:] + ".",
                           malformed[:1], str(request.url.path))
        if lang == "fr":
            said = " ; ".join(f"{e['field']} : {e['reason']}" for e in errors)
            detail = f"La requête a {len(errors)} champ(s) invalide(s) : {said}"
        else:
            said = "; ".join(f"{e['field']}: {e['reason']}" for e in errors)
            detail = f"The request has {len(errors)} invalid field(s): {said}"
        return problem(422, "Invalid request", detail, errors, str(request.url.path))

    @app.exception_handler(ApiProblem)
    async def _api(request: Request, exc: ApiProblem) -> JSONResponse:
        return problem(exc.status, exc.title, _sentence(exc.said(lang_of(request))), exc.errors,
                       str(request.url.path), exc.headers)

    def _plain(status: int, title: str):
        async def handler(request: Request, exc: Exception) -> JSONResponse:
            errors = None
            if status == 404:  # name the path parameter(s) the store did not find
                errors = [{"field": name, "in": "path", "reason": NOT_FOUND_REASON} for name in request.path_params] or \
                    [{"field": "path", "in": "path", "reason": NOT_FOUND_REASON}]
            said = exc.said(lang_of(request)) if isinstance(exc, PlacementError) else str(exc)
            return problem(status, title, _sentence(said), errors, str(request.url.path))
        return handler

    for error, status, title in _PLAIN_ERRORS:
        app.add_exception_handler(error, _plain(status, title))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        fr = lang_of(request) == "fr"
        errors = None
        path = clip(request.url.path)
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"Il n'y a rien à l'adresse {path}." if fr else f"There is no resource at {path}."
            errors = [{"field": "path", "in": "path", "reason": "no such resource"}]
        if exc.status_code == 405:
            detail = (f"{request.method} n'est pas permis sur {path}." if fr
                      else f"{request.method} is not allowed on {path}.")
        if exc.status_code == 400 and detail == "There was an error parsing the body":
            # a body that cannot even be decoded (not UTF-8): the same answer as malformed JSON
            reason = ("le corps de la requête n'est pas du JSON valide (pas en UTF-8)" if fr
                      else "the body is not valid JSON (not UTF-8)")
            return problem(422, "Invalid request",
                           ("Le corps de la requête n'est pas du JSON valide : il ne se lit pas comme du texte UTF-8."
                            if fr else "The body is not valid JSON: it cannot be read as UTF-8 text."),
                           [{"field": "body", "in": "body", "reason": reason}], str(request.url.path))
        title = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, "Error")
        return problem(exc.status_code, title, detail, errors, str(request.url.path))


def _validation_error(e: dict[str, Any], lang: Lang = "en") -> dict[str, Any]:
    """One entry of ``errors`` from a pydantic error: the field, where it was, the reason in
    ``lang`` (the input itself is never echoed whole)."""
    loc = tuple(e.get("loc", ()))
    if e.get("type") == "json_invalid":
        said = clip((e.get("ctx") or {}).get("error", ""))
        reason = (f"le corps de la requête n'est pas du JSON valide ({said})" if lang == "fr"
                  else f"the body is not valid JSON ({said})")
        return {"field": "body", "in": "body", "reason": reason}
    return {"field": clip(_field(loc)), "in": str(loc[0]) if loc else "body",
            "reason": clip(pydantic_reason(e, lang), 200)}


class BodyLimit:
    """ASGI middleware: a body over ``limit`` bytes is a 413 problem, checked on Content-Length
    and, for a body sent without it (chunked), while it is read: the app's own answer to a body
    it could not read whole (FastAPI turns the interrupted read into a 400) is then replaced by
    the 413."""

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
        too_large = False

        async def limited():
            nonlocal seen, too_large
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    too_large = True
                    raise _TooLarge()
            return message

        async def watched(message):
            nonlocal started
            if too_large and not started:
                return  # the app's answer to a body cut short: the 413 is sent instead
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited, watched)
        except _TooLarge:
            pass
        if too_large and not started:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope, receive, send) -> None:
        mb = self.limit // 1_000_000
        detail = (f"Le corps de la requête dépasse {mb} Mo : envoyez moins." if lang_of(Request(scope)) == "fr"
                  else f"The body is larger than {mb} MB; send less.")
        response = problem(413, "Content too large", detail,
                           [{"field": "body", "in": "body", "reason": f"over {self.limit} bytes"}],
                           scope.get("path"))
        await response(scope, receive, send)


class _TooLarge(Exception):
    pass


class UnexpectedErrors:
    """ASGI middleware: an unexpected error is a 500 with a fixed sentence, and is logged by its
    type and frames only (``api.privacy.safe_traceback``): neither the answer nor the log quotes
    its message, which may hold personal data. Nothing reaches the server's own error log."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking(message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking)
        except Exception as exc:
            route = getattr(scope.get("route"), "path", "an unmatched path")
            log.error("unexpected error on %s %s: %s", scope.get("method"), route, privacy.safe_traceback(exc))
            if not started:
                detail = ("Une erreur inattendue s'est produite ; elle a été consignée." if lang_of(Request(scope)) == "fr"
                          else "An unexpected error occurred; it has been logged.")
                await problem(500, "Internal error", detail)(scope, receive, send)


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
