"""``/v1/calendar/days``: the days a restaurant tells Flux about.

A closure is forecast as zero (at once, on read: ``routes.forecasts``) and left out of every
score; events and promotions are flags that the models learn from at their next training
(``fct_demand_drivers``). Owners and managers write them, everyone reads them.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any
from uuid import UUID

import sqlalchemy as sa
from fastapi import APIRouter, HTTPException, Response, status

from flux_api.deps import Allowed, TenantConnection
from flux_api.filters import DateRangeDep
from flux_api.schemas import (
    TOLD_DAYS_FROM,
    TOLD_DAYS_YEARS_AHEAD,
    ToldDay,
    ToldDayCreate,
    ToldDayUpdate,
    problem_responses,
)
from flux_api.security import TokenClaims
from flux_core.db.tables import calendar_days

router = APIRouter(
    prefix="/v1/calendar/days", tags=["calendar"], responses=problem_responses(401, 403, 422)
)

MAX_DAYS = 3 * 366 * 3  # a day of each kind for three years
_public = [
    calendar_days.c.day_id,
    calendar_days.c.date,
    calendar_days.c.kind,
    calendar_days.c.note,
    calendar_days.c.created_at,
]


def _check_date(day: date) -> None:
    last = date.today() + timedelta(days=366 * TOLD_DAYS_YEARS_AHEAD)
    if not TOLD_DAYS_FROM <= day <= last:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"date {day.isoformat()} is outside {TOLD_DAYS_FROM.isoformat()} to {last.isoformat()}",
        )


def _one(conn: sa.Connection, day_id: UUID) -> ToldDay:
    row = conn.execute(sa.select(*_public).where(calendar_days.c.day_id == day_id)).first()
    if row is None:  # another tenant's day is invisible under RLS: not found, as a missing one
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such day")
    return ToldDay.model_validate(row._asdict())


def _taken(day: date, kind: str) -> HTTPException:
    return HTTPException(
        status.HTTP_409_CONFLICT, f"{day.isoformat()} is already marked as {kind}: change that one"
    )


@router.get("", response_model=list[ToldDay])
def list_told_days(
    user: Annotated[TokenClaims, Allowed("forecasts:read")],
    conn: TenantConnection,
    dates: DateRangeDep,
) -> list[ToldDay]:
    rows = conn.execute(
        sa.select(*_public)
        .where(*dates.conditions(calendar_days.c.date))
        .order_by(calendar_days.c.date, calendar_days.c.kind)
        .limit(MAX_DAYS)
    )
    return [ToldDay.model_validate(row._asdict()) for row in rows]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ToldDay,
    responses=problem_responses(409),
)
def tell_day(
    day: ToldDayCreate,
    user: Annotated[TokenClaims, Allowed("days:write")],
    conn: TenantConnection,
    response: Response,
) -> ToldDay:
    _check_date(day.date)
    try:
        with conn.begin_nested():  # a clash rolls back the insert alone, not the transaction
            day_id: UUID = conn.execute(
                sa.insert(calendar_days)
                .values(tenant_id=user.tenant_id, created_by=user.user_id, **day.model_dump())
                .returning(calendar_days.c.day_id)
            ).scalar_one()
    except sa.exc.IntegrityError as error:
        raise _taken(day.date, day.kind) from error
    response.headers["Location"] = f"{router.prefix}/{day_id}"
    return _one(conn, day_id)


@router.patch("/{day_id}", response_model=ToldDay, responses=problem_responses(404, 409))
def change_told_day(
    day_id: UUID,
    change: ToldDayUpdate,
    user: Annotated[TokenClaims, Allowed("days:write")],
    conn: TenantConnection,
) -> ToldDay:
    current = _one(conn, day_id)
    values: dict[str, Any] = change.model_dump(exclude_none=True)
    if not values:
        return current
    if change.date is not None:
        _check_date(change.date)
    try:
        with conn.begin_nested():
            conn.execute(
                sa.update(calendar_days).where(calendar_days.c.day_id == day_id).values(**values)
            )
    except sa.exc.IntegrityError as error:
        raise _taken(change.date or current.date, change.kind or current.kind) from error
    return _one(conn, day_id)


@router.delete(
    "/{day_id}", status_code=status.HTTP_204_NO_CONTENT, responses=problem_responses(404)
)
def forget_told_day(
    day_id: UUID, user: Annotated[TokenClaims, Allowed("days:write")], conn: TenantConnection
) -> Response:
    gone = conn.execute(sa.delete(calendar_days).where(calendar_days.c.day_id == day_id))
    if gone.rowcount == 0:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such day")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
