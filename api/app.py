"""The officers' service: ``create_app(settings)`` builds a FastAPI app with its own services."""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from api import privacy, problems, web
from api.deps import authorize
from api.routers import auth, health, jobs, maps, places, proposals, reservations, structures, units
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
        dependencies=[Depends(authorize)],  # the access policy (api.policy), on every route
    )
    app.state.services = held
    problems.install(app)
    for module in (maps, places, proposals, reservations, structures, units, jobs, health):
        app.include_router(module.router)
    app.include_router(auth.router)
    web.install(app)
    problems.document_problems(app)  # keep last: after every router
    return app
