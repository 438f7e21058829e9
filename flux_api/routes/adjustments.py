"""``/v1/forecasts/adjustments``: an owner's or a manager's own number for a day and metric.

The model's P50 of the moment is kept beside the number, so that once the day's actual is loaded
both are scored (``/accuracy``): the restaurant sees whether its adjustments help. A number is
for a day to come: one for a day whose actual is known would only flatter the score.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, HTTPException, Path, Response, status
from sqlalchemy.dialects.postgresql import insert

from flux_api.deps import Allowed, TenantConnection
from flux_api.filters import DateRange, DateRangeDep, MetricQuery
from flux_api.schemas import (
    Adjustment,
    AdjustmentAccuracy,
    AdjustmentSet,
    Metric,
    problem_responses,
)
from flux_api.security import TokenClaims
from flux_core.db.tables import (
    calendar_days,
    forecast_adjustments,
    forecasts,
    staged_sales,
    users,
)

router = APIRouter(
    prefix="/v1/forecasts/adjustments",
    tags=["forecasts"],
    responses=problem_responses(401, 403, 422),
)

MAX_ADJUSTMENTS = 5000
# "Today" differs by a day across time zones; a day that has begun anywhere may still be set.
GRACE = timedelta(days=1)

_a = forecast_adjustments
_actual = sa.and_(
    staged_sales.c.tenant_id == _a.c.tenant_id,
    staged_sales.c.metric == _a.c.metric,
    staged_sales.c.date == _a.c.date,
)
_closed = sa.and_(
    calendar_days.c.tenant_id == _a.c.tenant_id,
    calendar_days.c.date == _a.c.date,
    calendar_days.c.kind == "closed",
)
_listed = (
    sa.select(
        _a.c.date,
        _a.c.metric,
        _a.c.value,
        _a.c.model_p50,
        _a.c.reason,
        users.c.email.label("set_by"),
        _a.c.set_at,
        sa.cast(staged_sales.c.value, sa.Float).label("actual"),
        calendar_days.c.day_id.is_not(None).label("closed"),
    )
    .select_from(
        _a.outerjoin(users, users.c.user_id == _a.c.set_by)
        .outerjoin(staged_sales, _actual)
        .outerjoin(calendar_days, _closed)
    )
    .order_by(_a.c.metric, _a.c.date)
)

DayPath = Annotated[date, Path(description="the day, as YYYY-MM-DD")]


def _where(dates: DateRange, metric: Metric | None) -> list[sa.ColumnElement[bool]]:
    return [*dates.conditions(_a.c.date), *([_a.c.metric == metric] if metric else [])]


@router.get("", response_model=list[Adjustment])
def list_adjustments(
    user: Annotated[TokenClaims, Allowed("actuals:read")],
    conn: TenantConnection,
    dates: DateRangeDep,
    metric: MetricQuery = None,
) -> list[Adjustment]:
    """The numbers set for the days of the range, with the model's and the actual beside them."""
    rows = conn.execute(_listed.where(*_where(dates, metric)).limit(MAX_ADJUSTMENTS))
    return [Adjustment.model_validate(row._asdict()) for row in rows]


@router.get("/accuracy", response_model=list[AdjustmentAccuracy])
def adjustment_accuracy(
    user: Annotated[TokenClaims, Allowed("actuals:read")],
    conn: TenantConnection,
    dates: DateRangeDep,
) -> list[AdjustmentAccuracy]:
    """Per metric, the model's WAPE and the WAPE of the numbers set, on the same days: those
    with an actual and a model value, closed days left out (as from every score)."""
    rows = conn.execute(
        _listed.where(
            *_where(dates, None),
            staged_sales.c.value.is_not(None),
            _a.c.model_p50.is_not(None),
            calendar_days.c.day_id.is_(None),
        )
    )
    scored: dict[str, list[Any]] = {}
    for row in rows:
        scored.setdefault(row.metric, []).append(row)
    return [_score(metric, days) for metric, days in sorted(scored.items())]


def _score(metric: str, days: list[Any]) -> AdjustmentAccuracy:
    total = sum(day.actual for day in days)
    model = sum(abs(day.model_p50 - day.actual) for day in days)
    adjusted = sum(abs(day.value - day.actual) for day in days)
    return AdjustmentAccuracy.model_validate(
        {
            "metric": metric,
            "days": len(days),
            "model_wape": model / total if total > 0 else None,
            "adjusted_wape": adjusted / total if total > 0 else None,
            "days_closer": sum(
                abs(day.value - day.actual) < abs(day.model_p50 - day.actual) for day in days
            ),
        }
    )


@router.put("/{metric}/{day}", response_model=Adjustment, responses=problem_responses(409))
def set_adjustment(
    metric: Metric,
    day: DayPath,
    change: AdjustmentSet,
    user: Annotated[TokenClaims, Allowed("forecasts:adjust")],
    conn: TenantConnection,
) -> Adjustment:
    """Set (or change) the number for a day to come; the model's P50 of now is kept beside it."""
    if day < date.today() - GRACE:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"{day.isoformat()} is past: a number of your own is for a day to come",
        )
    known = conn.execute(
        sa.select(staged_sales.c.value).where(
            staged_sales.c.metric == metric, staged_sales.c.date == day
        )
    ).first()
    if known is not None:
        raise HTTPException(
            status.HTTP_409_CONFLICT, f"the actual {metric} of {day.isoformat()} is already loaded"
        )
    model_p50 = (
        sa.select(forecasts.c.p50)
        .where(forecasts.c.metric == metric, forecasts.c.date == day)
        .scalar_subquery()
    )
    upsert = insert(_a).values(
        tenant_id=user.tenant_id,
        metric=metric,
        date=day,
        value=change.value,
        reason=change.reason,
        model_p50=model_p50,
        set_by=user.user_id,
    )
    changed = ("value", "reason", "model_p50", "set_by")
    conn.execute(
        upsert.on_conflict_do_update(
            index_elements=[_a.c.tenant_id, _a.c.metric, _a.c.date],
            set_={name: upsert.excluded[name] for name in changed} | {"set_at": sa.func.now()},
        )
    )
    return _one(conn, metric, day)


@router.delete(
    "/{metric}/{day}", status_code=status.HTTP_204_NO_CONTENT, responses=problem_responses(404)
)
def remove_adjustment(
    metric: Metric,
    day: DayPath,
    user: Annotated[TokenClaims, Allowed("forecasts:adjust")],
    conn: TenantConnection,
) -> Response:
    """Back to the model's number for the day."""
    gone = conn.execute(sa.delete(_a).where(_a.c.metric == metric, _a.c.date == day))
    if gone.rowcount == 0:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no number was set for this day")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _one(conn: sa.Connection, metric: str, day: date) -> Adjustment:
    row = conn.execute(_listed.where(_a.c.metric == metric, _a.c.date == day)).one()
    return Adjustment.model_validate(row._asdict())
