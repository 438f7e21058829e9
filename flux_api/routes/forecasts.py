"""Forecasts: P10/P50/P90 per day and metric with the model behind them, and actuals beside them.

A day the restaurant said it is closed reads as zero at once, before any model runs again; a
number an owner or a manager set for a day comes beside the model's P50, never instead of it.

The busiest routes: ``async``, on the read path (``flux_api.reads``), one compiled statement per
shape of the query, and JSON written straight from the rows (``response_model`` documents it).
"""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Request, Response

from flux_api.accuracy import BASELINE_TYPICAL_ERROR, TYPICAL_ERROR
from flux_api.caching import cached_json
from flux_api.deps import Allowed, TenantReader
from flux_api.filters import DateRangeDep, MetricQuery, PageDep, page_of
from flux_api.reads import Statement, compile_statement
from flux_api.schemas import ActualVersusForecast, ForecastPage, Page, problem_responses
from flux_api.security import TokenClaims
from flux_core.db.tables import (
    calendar_days,
    forecast_adjustments,
    forecasts,
    model_versions,
    staged_sales,
)

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
_POINT = (
    "date",
    "metric",
    "p10",
    "p50",
    "p90",
    "model_version",
    "closed",
    "adjusted_p50",
    "adjustment_reason",
)
_MODEL = (
    "metric",
    "model_kind",
    "wape",
    "baseline_wape",
    "typical_error",
    "baseline_typical_error",
    "trained_at",
    "generated_at",
)


def _bounds(column: sa.ColumnElement[Any], start: bool, end: bool) -> list[sa.ColumnElement[bool]]:
    bounds: list[sa.ColumnElement[bool]] = []
    if start:
        bounds.append(column >= sa.bindparam("start", type_=sa.Date))
    if end:
        bounds.append(column <= sa.bindparam("end", type_=sa.Date))
    return bounds


def _metric(column: sa.ColumnElement[Any], metric: bool) -> list[sa.ColumnElement[bool]]:
    return [column == sa.bindparam("metric", type_=sa.Text)] if metric else []


def _told(f: sa.FromClause) -> tuple[sa.FromClause, list[sa.ColumnElement[Any]]]:
    """``f`` (rows of ``forecasts``) with what the restaurant told about their days: its quantiles
    at zero on a closed day, and the number set for the day beside them."""
    closure = sa.and_(
        calendar_days.c.tenant_id == f.c.tenant_id,
        calendar_days.c.date == f.c.date,
        calendar_days.c.kind == "closed",
    )
    adjusted = sa.and_(
        forecast_adjustments.c.tenant_id == f.c.tenant_id,
        forecast_adjustments.c.metric == f.c.metric,
        forecast_adjustments.c.date == f.c.date,
    )
    closed = calendar_days.c.day_id.is_not(None)
    columns: list[sa.ColumnElement[Any]] = [
        *(sa.case((closed, 0.0), else_=f.c[q]).label(q) for q in ("p10", "p50", "p90")),
        closed.label("closed"),
        forecast_adjustments.c.value.label("adjusted_p50"),
        forecast_adjustments.c.reason.label("adjustment_reason"),
    ]
    return f.outerjoin(calendar_days, closure).outerjoin(forecast_adjustments, adjusted), columns


@cache
def _forecast_query(start: bool, end: bool, metric: bool) -> sa.Select[Any]:
    joined, told = _told(forecasts)
    return (
        sa.select(
            forecasts.c.date,
            forecasts.c.metric,
            forecasts.c.model_version,
            *told,
            model_versions.c.model_kind,
            model_versions.c.wape,
            model_versions.c.baseline_wape,
            TYPICAL_ERROR,
            BASELINE_TYPICAL_ERROR,
            model_versions.c.trained_at,
            forecasts.c.created_at.label("generated_at"),
        )
        .select_from(joined.outerjoin(model_versions, _model))
        .where(*_bounds(forecasts.c.date, start, end), *_metric(forecasts.c.metric, metric))
        .order_by(forecasts.c.metric, forecasts.c.date)
    )


@cache
def _forecast_statements(start: bool, end: bool, metric: bool) -> tuple[Statement, Statement]:
    return _paged_statements(_forecast_query(start, end, metric))


def _paged_statements(query: sa.Select[Any]) -> tuple[Statement, Statement]:
    """One page with the total in a window, and the count alone (for a page past the end)."""
    page = (
        query.add_columns(sa.func.count().over().label("_total"))
        .limit(sa.bindparam("limit", type_=sa.Integer))
        .offset(sa.bindparam("offset", type_=sa.Integer))
    )
    count = sa.select(sa.func.count().label("_total")).select_from(query.subquery())
    return compile_statement(page), compile_statement(count)


@router.get("", response_model=ForecastPage)
async def list_forecasts(
    request: Request,
    user: Annotated[TokenClaims, Allowed("forecasts:read")],
    conn: TenantReader,
    dates: DateRangeDep,
    page: PageDep,
    metric: MetricQuery = None,
) -> Response:
    rows, total = await page_of(
        conn,
        _forecast_statements(dates.start is not None, dates.end is not None, metric is not None),
        page,
        start=dates.start,
        end=dates.end,
        metric=metric,
    )
    models: dict[tuple[str, int], dict[str, Any]] = {}
    for row in rows:
        key = (row["metric"], row["model_version"])
        if row["model_kind"] is not None and key not in models:
            models[key] = {"version": row["model_version"]} | {k: row[k] for k in _MODEL}
    return cached_json(
        request,
        {
            "items": [{k: row[k] for k in _POINT} for row in rows],
            "total": total,
            "limit": page.limit,
            "offset": page.offset,
            "models": list(models.values()),
        },
    )


@cache
def _with_actuals_statements(start: bool, end: bool, metric: bool) -> tuple[Statement, Statement]:
    predicted = sa.select(forecasts).where(
        *_bounds(forecasts.c.date, start, end), *_metric(forecasts.c.metric, metric)
    )
    actual = sa.select(staged_sales).where(
        *_bounds(staged_sales.c.date, start, end), *_metric(staged_sales.c.metric, metric)
    )
    f, s = predicted.subquery("f"), actual.subquery("s")
    joined, told = _told(f)
    day, measure = sa.func.coalesce(f.c.date, s.c.date), sa.func.coalesce(f.c.metric, s.c.metric)
    query = (
        sa.select(
            day.label("date"),
            measure.label("metric"),
            sa.cast(s.c.value, sa.Float).label("actual"),
            *told[:3],
            f.c.model_version,
        )
        .select_from(
            joined.outerjoin(
                s,
                sa.and_(
                    s.c.tenant_id == f.c.tenant_id, s.c.metric == f.c.metric, s.c.date == f.c.date
                ),
                full=True,
            )
        )
        .order_by(measure, day)
    )
    return _paged_statements(query)


@router.get("/with-actuals", response_model=Page[ActualVersusForecast])
async def forecasts_with_actuals(
    request: Request,
    user: Annotated[TokenClaims, Allowed("actuals:read")],
    conn: TenantReader,
    dates: DateRangeDep,
    page: PageDep,
    metric: MetricQuery = None,
) -> Response:
    """Each day of the range that has an actual, a forecast, or both: the chart of actual versus
    forecast. A day without a loaded value has ``actual: null`` (unknown, never zero)."""
    rows, total = await page_of(
        conn,
        _with_actuals_statements(
            dates.start is not None, dates.end is not None, metric is not None
        ),
        page,
        start=dates.start,
        end=dates.end,
        metric=metric,
    )
    for row in rows:
        del row["_total"]
    return cached_json(
        request, {"items": rows, "total": total, "limit": page.limit, "offset": page.offset}
    )
