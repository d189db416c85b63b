"""The officers' service: ``create_app(settings)`` builds a FastAPI app with its own services."""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import problems
from api import web
from api.routers import health, jobs, maps, places, proposals, reservations, structures, units
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
        try:
            yield
        finally:
            held.close()

    app = FastAPI(
        title="Placement engine: placement officers' service",
        version="0.1.0",
        description="Free places, ranked proposals (own and system-aware), reservations and batch "
        "optimiser runs for child-protection placements (ASE Paris). Errors are RFC 9457 problem details.",
        lifespan=lifespan,
    )
    app.state.services = held
    problems.install(app)
    for module in (maps, places, proposals, reservations, structures, units, jobs, health):
        app.include_router(module.router)
    web.install(app)
    return app
