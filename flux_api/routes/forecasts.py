"""Forecasts: P10/P50/P90 per day and metric with the model behind them, and actuals beside them."""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Request, Response

from flux_api.caching import cached_json
from flux_api.deps import Allowed, TenantConnection
from flux_api.filters import DateRangeDep, MetricQuery, PageDep, paged
from flux_api.schemas import (
    ActualVersusForecast,
    ForecastPage,
    ForecastPoint,
    ModelAccuracy,
    Page,
    problem_responses,
)
from flux_api.security import TokenClaims
from flux_pipelines.db.tables import forecasts, model_versions, staged_sales

router = APIRouter(
    prefix="/v1/forecasts",
    tags=["forecasts"],
    responses={
        304: {"description": "Not Modified: the answer still has the ETag sent in If-None-Match"},
        **problem_responses(401, 403, 422),
    },
)

_model = sa.and_(
    model_versions.c.tenant_id == forecasts.c.tenant_id,
    model_versions.c.metric == forecasts.c.metric,
    model_versions.c.version == forecasts.c.model_version,
)


@router.get("", response_model=ForecastPage)
def list_forecasts(
    request: Request,
    user: Annotated[TokenClaims, Allowed("forecasts:read")],
    conn: TenantConnection,
    dates: DateRangeDep,
    page: PageDep,
    metric: MetricQuery = None,
) -> Response:
    query = (
        sa.select(
            forecasts.c.date,
            forecasts.c.metric,
            forecasts.c.p10,
            forecasts.c.p50,
            forecasts.c.p90,
            forecasts.c.model_version,
            model_versions.c.model_kind,
            model_versions.c.wape,
            model_versions.c.baseline_wape,
            model_versions.c.trained_at,
        )
        .select_from(forecasts.outerjoin(model_versions, _model))
        .where(*dates.conditions(forecasts.c.date))
        .order_by(forecasts.c.metric, forecasts.c.date)
    )
    if metric is not None:
        query = query.where(forecasts.c.metric == metric)
    rows, total = paged(conn, query, page)
    models: dict[tuple[str, int], ModelAccuracy] = {}
    for row in rows:
        key = (row["metric"], row["model_version"])
        if row["model_kind"] is not None and key not in models:
            models[key] = ModelAccuracy(version=row["model_version"], **_model_fields(row))
    payload = ForecastPage(
        items=[ForecastPoint.model_validate(dict(row)) for row in rows],
        models=list(models.values()),
        total=total,
        limit=page.limit,
        offset=page.offset,
    )
    return cached_json(request, payload)


def _model_fields(row: Any) -> dict[str, Any]:
    keys = ("metric", "model_kind", "wape", "baseline_wape", "trained_at")
    return {key: row[key] for key in keys}


@router.get("/with-actuals", response_model=Page[ActualVersusForecast])
def forecasts_with_actuals(
    request: Request,
    user: Annotated[TokenClaims, Allowed("actuals:read")],
    conn: TenantConnection,
    dates: DateRangeDep,
    page: PageDep,
    metric: MetricQuery = None,
) -> Response:
    """Each day of the range that has an actual, a forecast, or both: the chart of actual versus
    forecast. A day without a loaded value has ``actual: null`` (unknown, never zero)."""
    predicted = sa.select(forecasts).where(*dates.conditions(forecasts.c.date))
    actual = sa.select(staged_sales).where(*dates.conditions(staged_sales.c.date))
    if metric is not None:
        predicted = predicted.where(forecasts.c.metric == metric)
        actual = actual.where(staged_sales.c.metric == metric)
    f, s = predicted.subquery("f"), actual.subquery("s")
    day, measure = sa.func.coalesce(f.c.date, s.c.date), sa.func.coalesce(f.c.metric, s.c.metric)
    query = (
        sa.select(
            day.label("date"),
            measure.label("metric"),
            s.c.value.label("actual"),
            f.c.p10,
            f.c.p50,
            f.c.p90,
            f.c.model_version,
        )
        .select_from(
            f.outerjoin(
                s,
                sa.and_(
                    s.c.tenant_id == f.c.tenant_id, s.c.metric == f.c.metric, s.c.date == f.c.date
                ),
                full=True,
            )
        )
        .order_by(measure, day)
    )
    rows, total = paged(conn, query, page)
    payload = Page[ActualVersusForecast](
        items=[ActualVersusForecast.model_validate(dict(row)) for row in rows],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )
    return cached_json(request, payload)
