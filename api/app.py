"""The officers' service: ``create_app(settings)`` builds a FastAPI app with its own services."""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from api import privacy, problems, web
from api.deps import authorize
from api.routers import (
    auth, children, health, jobs, maps, places, proposals, rebalancing, reservations, scenarios, simulations, structures,
    units,
)
from api.services import Services
from api.settings import Settings


def create_app(settings: Settings | None = None, services: Services | None = None) -> FastAPI:
    """A new app. ``services`` (tests) replaces what ``settings`` would build; the database is
    migrated on start-up."""
    settings = settings or (services.settings if services else Settings())
    held = services or Services(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        held.db.migrate()
        if settings.warm_on_start:
            held.warm()
        held.start()
        pseudonymise = privacy.install_log_filter(held.security.pseudonym)
        try:
            yield
        finally:
            privacy.remove_log_filter(pseudonymise)
            held.close()

    app = FastAPI(
        title="Placement engine: placement officers' service",
        version="0.1.0",
        description="Free places, ranked proposals (own and system-aware), reservations and batch "
        "optimiser runs for child-protection placements (ASE Paris). Errors are RFC 9457 problem details.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        dependencies=[Depends(authorize)],  # the access policy (api.policy), on every route
    )
    app.state.services = held
    problems.install(app)
    app.add_middleware(problems.BodyLimit)
    _offline_docs(app)
    for module in (maps, places, proposals, reservations, structures, units, jobs, health, children, scenarios, rebalancing):
        app.include_router(module.router)
    app.include_router(simulations.router)
    app.include_router(auth.router)
    web.install(app)
    problems.document_problems(app)  # keep last: after every router
    return app


def _offline_docs(app: FastAPI) -> None:
    """``/docs``: Swagger UI served from the package ``swagger-ui-bundle-v2`` (pinned), never
    from a CDN, so that it works on a machine with no Internet access."""
    from swagger_ui_bundle import swagger_ui_path

    app.mount("/docs-assets", StaticFiles(directory=swagger_ui_path), name="docs-assets")

    @app.get("/docs", include_in_schema=False, response_class=HTMLResponse)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json", title=f"{app.title} - API",
            swagger_js_url="/docs-assets/swagger-ui-bundle.js", swagger_css_url="/docs-assets/swagger-ui.css",
            swagger_favicon_url="/docs-assets/favicon-32x32.png",
        )
