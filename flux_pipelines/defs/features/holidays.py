"""``public_holidays``: the holidays of every tenant's country, from the ``holidays`` package.

Holidays are reference data (not tenant-owned); dbt joins them to each tenant's days by country.
"""

import datetime as dt

import dagster as dg
import holidays as holiday_calendars
import sqlalchemy as sa

from flux_pipelines.db.tables import public_holidays as public_holidays_table
from flux_pipelines.db.tables import tenants
from flux_pipelines.defs.features.translator import FEATURES_GROUP
from flux_pipelines.defs.resources import FluxDatabase

FIRST_YEAR = 2015


def holiday_years(today: dt.date) -> range:
    # Through the year after next, so a forecast horizon crossing new year always has its holidays.
    return range(FIRST_YEAR, today.year + 3)


def country_holidays(country: str, years: range) -> list[dict[str, object]]:
    """One row per day; several holidays on one day come joined as 'A; B' by the package."""
    calendar = holiday_calendars.country_holidays(country, years=years)
    return [
        {"country": country, "date": day, "name": name} for day, name in sorted(calendar.items())
    ]


@dg.asset(
    group_name=FEATURES_GROUP,
    kinds={"postgres", "python"},
    description="Public holidays (country, date, name) of every tenant's country in "
    f"flux.public_holidays, {FIRST_YEAR} through the year after next.",
)
def public_holidays(
    context: dg.AssetExecutionContext, database: FluxDatabase
) -> dg.MaterializeResult:
    engine = database.engine()
    years = holiday_years(dt.date.today())
    with engine.connect() as conn:
        countries: list[str] = sorted(
            conn.execute(sa.select(tenants.c.country).distinct()).scalars()
        )

    rows_by_country: dict[str, int] = {}
    unsupported: list[str] = []
    # One transaction: readers see the old calendar or the new one, never a country half-written.
    with engine.begin() as conn:
        for country in countries:
            try:
                rows = country_holidays(country, years)
            except NotImplementedError:
                unsupported.append(country)
                context.log.warning(f"the holidays package has no calendar for {country!r}")
                continue
            conn.execute(
                sa.delete(public_holidays_table).where(public_holidays_table.c.country == country)
            )
            if rows:
                conn.execute(sa.insert(public_holidays_table), rows)
            rows_by_country[country] = len(rows)

    return dg.MaterializeResult(
        metadata={
            "countries": dg.MetadataValue.json(rows_by_country),
            "unsupported_countries": dg.MetadataValue.json(unsupported),
            "rows": sum(rows_by_country.values()),
            "years": f"{years.start}-{years.stop - 1}",
        }
    )
