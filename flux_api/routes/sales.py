"""``GET /v1/sales/daily``: the actuals as loaded, to chart beside the forecast."""

from __future__ import annotations

from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter

from flux_api.deps import Allowed, TenantConnection
from flux_api.filters import DateRangeDep, MetricQuery, PageDep, paged
from flux_api.schemas import DailyActual, Page, problem_responses
from flux_api.security import TokenClaims
from flux_core.db.tables import staged_sales

router = APIRouter(prefix="/v1/sales", tags=["sales"], responses=problem_responses(401, 403, 422))


@router.get("/daily", response_model=Page[DailyActual])
def daily_sales(
    user: Annotated[TokenClaims, Allowed("actuals:read")],
    conn: TenantConnection,
    dates: DateRangeDep,
    page: PageDep,
    metric: MetricQuery = None,
) -> Page[DailyActual]:
    query = (
        sa.select(staged_sales.c.date, staged_sales.c.metric, staged_sales.c.value)
        .where(*dates.conditions(staged_sales.c.date))
        .order_by(staged_sales.c.metric, staged_sales.c.date)
    )
    if metric is not None:
        query = query.where(staged_sales.c.metric == metric)
    rows, total = paged(conn, query, page)
    return Page[DailyActual](
        items=[DailyActual.model_validate(dict(row)) for row in rows],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )
