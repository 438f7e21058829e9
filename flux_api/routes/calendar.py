"""``GET /v1/calendar``: the days of a range that are not like the others, to mark on the
forecast: public holidays of the restaurant's country, and the days it told Flux about
(``routes.days``)."""

from __future__ import annotations

from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter

from flux_api.deps import Allowed, TenantConnection
from flux_api.filters import DateRangeDep
from flux_api.schemas import CalendarDay, problem_responses
from flux_api.security import TokenClaims
from flux_pipelines.db.tables import calendar_days, public_holidays, tenants

router = APIRouter(
    prefix="/v1/calendar", tags=["calendar"], responses=problem_responses(401, 403, 422)
)

MAX_DAYS = 3 * 366
TOLD_NAMES = {"closed": "Closed", "event": "Event", "promotion": "Promotion"}


@router.get("", response_model=list[CalendarDay])
def list_calendar_days(
    user: Annotated[TokenClaims, Allowed("forecasts:read")],
    conn: TenantConnection,
    dates: DateRangeDep,
) -> list[CalendarDay]:
    """Public holidays of the tenant's country and the days it told Flux about, in the range, by
    date (at most three years of each)."""
    holidays = conn.execute(
        sa.select(public_holidays.c.date, public_holidays.c.name)
        .join(tenants, tenants.c.country == public_holidays.c.country)  # RLS: the caller's tenant
        .where(*dates.conditions(public_holidays.c.date))
        .order_by(public_holidays.c.date)
        .limit(MAX_DAYS)
    )
    days = [CalendarDay(date=r.date, kind="public_holiday", name=r.name) for r in holidays]
    told = conn.execute(
        sa.select(calendar_days.c.date, calendar_days.c.kind, calendar_days.c.note)
        .where(*dates.conditions(calendar_days.c.date))
        .order_by(calendar_days.c.date, calendar_days.c.kind)
        .limit(MAX_DAYS)
    )
    days += [CalendarDay(date=r.date, kind=r.kind, name=r.note or TOLD_NAMES[r.kind]) for r in told]
    return sorted(days, key=lambda day: day.date)
