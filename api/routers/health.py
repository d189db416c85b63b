"""Health: the store answers, and which data version it holds (no connection string)."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import SessionDep
from api.schemas import HealthOut
from data.db.database import current_version

router = APIRouter(tags=["health"])


@router.get("/health", response_model=HealthOut, summary="Is the service up")
def health(session: SessionDep) -> HealthOut:
    return HealthOut(status="ok", data_version=current_version(session))
