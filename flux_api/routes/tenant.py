"""``GET /v1/tenant``: the caller's restaurant, with the locale and currency of its country.

Locale and currency come from the Unicode CLDR through Babel (likely subtags of ``und-<country>``,
the country's tender currency today), so the dashboard writes a Japanese restaurant's numbers,
money and dates as Japan does, without a table of our own.
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from typing import Annotated

import sqlalchemy as sa
from babel import Locale, UnknownLocaleError
from babel.numbers import get_territory_currencies
from fastapi import APIRouter, HTTPException, status

from flux_api.deps import Allowed, TenantConnection
from flux_api.schemas import TenantProfile, problem_responses
from flux_api.security import TokenClaims
from flux_core.db.tables import tenants

router = APIRouter(prefix="/v1/tenant", tags=["tenant"], responses=problem_responses(401, 403))

FALLBACK = ("en-US", "USD")


@cache
def locale_and_currency(country: str) -> tuple[str, str]:
    """The main locale (BCP 47) and the currency of a country; US English and dollars for a
    country the CLDR does not know."""
    try:
        locale = Locale.parse(f"und_{country}")
    except (UnknownLocaleError, ValueError):
        return FALLBACK
    currencies = get_territory_currencies(country, dt.date.today(), tender=True)
    tag = "-".join(part for part in (locale.language, locale.script, locale.territory) if part)
    return tag, currencies[0] if currencies else FALLBACK[1]


@router.get("", response_model=TenantProfile)
def current_tenant_profile(
    user: Annotated[TokenClaims, Allowed("tenant:read")], conn: TenantConnection
) -> TenantProfile:
    row = conn.execute(
        sa.select(tenants.c.tenant_id, tenants.c.name, tenants.c.country, tenants.c.subdivision)
    ).first()
    if row is None:  # RLS shows a token's own tenant only; gone, it was deleted meanwhile
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such restaurant")
    locale, currency = locale_and_currency(row.country)
    return TenantProfile(
        tenant_id=row.tenant_id,
        name=row.name,
        country=row.country,
        subdivision=row.subdivision,
        locale=locale,
        currency=currency,
    )
