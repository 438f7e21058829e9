"""``GET /v1/forecasts``: the current forecast, P10/P50/P90 per day and metric."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import APIRouter

from flux_api.deps import CurrentUser, TenantConnection
from flux_api.filters import DateRangeDep, MetricQuery
from flux_api.schemas import ForecastPoint
from flux_pipelines.db.tables import forecasts

router = APIRouter(prefix="/v1/forecasts", tags=["forecasts"])


@router.get("", response_model=list[ForecastPoint])
def list_forecasts(
    user: CurrentUser, conn: TenantConnection, dates: DateRangeDep, metric: MetricQuery = None
) -> list[ForecastPoint]:
    query = (
        sa.select(
            forecasts.c.date,
            forecasts.c.metric,
            forecasts.c.p10,
            forecasts.c.p50,
            forecasts.c.p90,
            forecasts.c.model_version,
        )
        .where(*dates.conditions(forecasts.c.date))
        .order_by(forecasts.c.metric, forecasts.c.date)
    )
    if metric is not None:
        query = query.where(forecasts.c.metric == metric)
    return [ForecastPoint.model_validate(dict(row)) for row in conn.execute(query).mappings()]
