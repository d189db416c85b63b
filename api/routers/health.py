"""Health: the store answers, and which data version it holds."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import ServicesDep, SessionDep
from api.schemas import HealthOut
from data.db.database import current_version

router = APIRouter(tags=["health"])


@router.get("/health", response_model=HealthOut, summary="Is the service up")
def health(services: ServicesDep, session: SessionDep) -> HealthOut:
    return HealthOut(status="ok", database=services.db.url_for_display, data_version=current_version(session))
