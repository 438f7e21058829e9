"""``/healthz`` (the process answers) and ``/readyz`` (the database answers, its schema current)."""

from __future__ import annotations

import sqlalchemy as sa
import structlog
from fastapi import APIRouter, HTTPException, Request, status

from flux_api.deps import ApiEngine, SettingsDep
from flux_api.schemas import Health, problem_responses
from flux_core.db.migrate import current_revision, head_revision

router = APIRouter(tags=["health"])

log = structlog.get_logger(__name__)


@router.get("/healthz", response_model=Health)
def healthz() -> Health:
    return Health()


@router.get("/readyz", response_model=Health, responses=problem_responses(503))
def readyz(request: Request, engine: ApiEngine, settings: SettingsDep) -> Health:
    head: str | None = getattr(request.app.state, "migrations_head", None)
    if head is None:
        head = request.app.state.migrations_head = head_revision(settings)
    try:
        with engine.connect() as conn:
            current = current_revision(conn)
    except sa.exc.SQLAlchemyError as error:
        log.warning("database_unreachable", error=type(error).__name__)
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "the database is not reachable"
        ) from error
    if current != head:
        log.warning("migrations_not_current", database=current, code=head)
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            f"the database schema is at {current}, the code expects {head}: run `flux db migrate`",
        )
    return Health()
