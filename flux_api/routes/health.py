"""``/healthz`` (the process answers) and ``/readyz`` (the database answers too)."""

from __future__ import annotations

import logging

import sqlalchemy as sa
from fastapi import APIRouter, HTTPException, status

from flux_api.deps import ApiEngine
from flux_api.schemas import Health

router = APIRouter(tags=["health"])

logger = logging.getLogger(__name__)


@router.get("/healthz", response_model=Health)
def healthz() -> Health:
    return Health()


@router.get("/readyz", response_model=Health)
def readyz(engine: ApiEngine) -> Health:
    try:
        with engine.connect() as conn:
            conn.execute(sa.select(1))
    except sa.exc.SQLAlchemyError as error:
        logger.warning("database unreachable: %s", error)
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "the database is not reachable"
        ) from error
    return Health()
