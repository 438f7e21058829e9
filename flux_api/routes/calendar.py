"""``GET /v1/calendar``: the days of a range that are not like the others, to mark on the
forecast: public and school holidays of the restaurant's region (or country), and the days it
told Flux about (``routes.days``)."""

from __future__ import annotations

from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter

from flux_api.deps import Allowed, TenantConnection
from flux_api.filters import DateRangeDep
from flux_api.schemas import CalendarDay, CalendarKind, problem_responses
from flux_api.security import TokenClaims
from flux_core.db.tables import calendar_days, public_holidays, tenants

router = APIRouter(
    prefix="/v1/calendar", tags=["calendar"], responses=problem_responses(401, 403, 422)
)

MAX_DAYS = 3 * 366
HOLIDAY_KINDS: dict[str, CalendarKind] = {"public": "public_holiday", "school": "school_holiday"}
TOLD_NAMES = {"closed": "Closed", "event": "Event", "promotion": "Promotion"}


@router.get("", response_model=list[CalendarDay])
def list_calendar_days(
    user: Annotated[TokenClaims, Allowed("forecasts:read")],
    conn: TenantConnection,
    dates: DateRangeDep,
) -> list[CalendarDay]:
    """Public and school holidays of the tenant's region (its country's when it has none) and the
    days it told Flux about, in the range, by date (at most three years of each)."""
    region = sa.and_(  # RLS: the caller's tenant; its region's calendar, or its country's
        tenants.c.country == public_holidays.c.country,
        sa.func.coalesce(tenants.c.subdivision, "") == public_holidays.c.subdivision,
    )
    holidays = conn.execute(
        sa.select(public_holidays.c.date, public_holidays.c.category, public_holidays.c.name)
        .join(tenants, region)
        .where(*dates.conditions(public_holidays.c.date))
        .order_by(public_holidays.c.date, public_holidays.c.category)
        .limit(2 * MAX_DAYS)
    )
    days = [CalendarDay(date=r.date, kind=HOLIDAY_KINDS[r.category], name=r.name) for r in holidays]
    told = conn.execute(
        sa.select(calendar_days.c.date, calendar_days.c.kind, calendar_days.c.note)
        .where(*dates.conditions(calendar_days.c.date))
        .order_by(calendar_days.c.date, calendar_days.c.kind)
        .limit(MAX_DAYS)
    )
    days += [CalendarDay(date=r.date, kind=r.kind, name=r.note or TOLD_NAMES[r.kind]) for r in told]
    return sorted(days, key=lambda day: day.date)
