"""``GET /v1/models/current``: the champion per metric, its accuracy beside the baseline's."""

from __future__ import annotations

from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter

from flux_api.accuracy import BASELINE_TYPICAL_ERROR, TYPICAL_ERROR
from flux_api.deps import Allowed, TenantConnection
from flux_api.schemas import CurrentModel, problem_responses
from flux_api.security import TokenClaims
from flux_core.db.tables import model_versions

router = APIRouter(prefix="/v1/models", tags=["models"], responses=problem_responses(401, 403))


@router.get("/current", response_model=list[CurrentModel])
def current_models(
    user: Annotated[TokenClaims, Allowed("models:read")], conn: TenantConnection
) -> list[CurrentModel]:
    """At most one model per metric, so the list is never paged."""
    rows = conn.execute(
        sa.select(
            model_versions.c.metric,
            model_versions.c.version,
            model_versions.c.model_kind,
            model_versions.c.wape,
            model_versions.c.baseline_wape,
            TYPICAL_ERROR,
            BASELINE_TYPICAL_ERROR,
            model_versions.c.trained_at,
        )
        .where(model_versions.c.is_champion)
        .order_by(model_versions.c.metric)
    ).mappings()
    return [CurrentModel.model_validate(dict(row)) for row in rows]
