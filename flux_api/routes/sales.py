"""``GET /v1/sales/daily``: the actuals as loaded, to chart beside the forecast."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import APIRouter

from flux_api.deps import CurrentUser, TenantConnection
from flux_api.filters import DateRangeDep, MetricQuery
from flux_api.schemas import DailyActual
from flux_pipelines.db.tables import staged_sales

router = APIRouter(prefix="/v1/sales", tags=["sales"])


@router.get("/daily", response_model=list[DailyActual])
def daily_sales(
    user: CurrentUser, conn: TenantConnection, dates: DateRangeDep, metric: MetricQuery = None
) -> list[DailyActual]:
    query = (
        sa.select(staged_sales.c.date, staged_sales.c.metric, staged_sales.c.value)
        .where(*dates.conditions(staged_sales.c.date))
        .order_by(staged_sales.c.metric, staged_sales.c.date)
    )
    if metric is not None:
        query = query.where(staged_sales.c.metric == metric)
    return [DailyActual.model_validate(dict(row)) for row in conn.execute(query).mappings()]
