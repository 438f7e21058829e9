"""``public_holidays``: the holidays of every tenant's country and region, from the ``holidays``
package: public holidays country-wide and for each tenant's subdivision (a US state, a German
Land), and school holidays where the package has them.

Holidays are reference data (not tenant-owned); dbt joins them to each tenant's days by country
and subdivision.
"""

import datetime as dt

import dagster as dg
import sqlalchemy as sa

from flux_core.calendars import calendar, place_code
from flux_core.db.tables import public_holidays as public_holidays_table
from flux_core.db.tables import tenants
from flux_pipelines.defs.features.translator import FEATURES_GROUP
from flux_pipelines.defs.resources import FluxDatabase

FIRST_YEAR = 2015


CALENDAR_WRITE_LOCK = 0x466C7578_484F  # "FluxHO"


def holiday_years(today: dt.date) -> range:
    # Through the year after next, so a forecast horizon crossing new year always has its holidays.
    return range(FIRST_YEAR, today.year + 3)


def country_holidays(
    country: str, years: range, subdivision: str | None = None
) -> list[dict[str, object]]:
    """The public calendar of the country (or of one of its regions, national days included),
    and its school holidays where the package has them: one row per day and category."""
    # Raises NotImplementedError for a country or a region the package does not know.
    by_category = calendar(place_code(country, subdivision), years)
    return [
        {"country": country, "subdivision": subdivision or "", "category": category}
        | {"date": day, "name": name}
        for category, days in by_category.items()
        for day, name in sorted(days.items())
    ]


@dg.asset(
    group_name=FEATURES_GROUP,
    kinds={"postgres", "python"},
    description="Public and school holidays (country, subdivision, category, date, name) of every "
    f"tenant's country and region in flux.public_holidays, {FIRST_YEAR} through the year after "
    "next.",
)
def public_holidays(
    context: dg.AssetExecutionContext, database: FluxDatabase
) -> dg.MaterializeResult:
    engine = database.engine()
    years = holiday_years(dt.date.today())
    with engine.connect() as conn:
        places: list[tuple[str, str | None]] = [
            (row.country, row.subdivision)
            for row in conn.execute(sa.select(tenants.c.country, tenants.c.subdivision).distinct())
        ]
    # Every tenant's country-wide calendar, and its region's where it has one.
    regions: list[tuple[str, str]] = sorted(
        {(country, "") for country, _ in places}
        | {(country, subdivision) for country, subdivision in places if subdivision}
    )

    rows_by_region: dict[str, int] = {}
    unsupported: list[str] = []
    # One transaction: readers see the old calendar or the new one, never a region half-written.
    # One writer at a time: two runs at once both deleted, then both inserted the same days, and
    # the second failed on the key (1 of 10 runs of a benchmark's first night).
    with engine.begin() as conn:
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(CALENDAR_WRITE_LOCK)))
        for country, subdivision in regions:
            name = place_code(country, subdivision)
            try:
                rows = country_holidays(country, years, subdivision or None)
            except NotImplementedError:
                unsupported.append(name)
                context.log.warning(f"the holidays package has no calendar for {name!r}")
                continue
            conn.execute(
                sa.delete(public_holidays_table).where(
                    public_holidays_table.c.country == country,
                    public_holidays_table.c.subdivision == subdivision,
                )
            )
            if rows:
                conn.execute(sa.insert(public_holidays_table), rows)
            rows_by_region[name] = len(rows)

    return dg.MaterializeResult(
        metadata={
            "countries": dg.MetadataValue.json(rows_by_region),
            "unsupported_countries": dg.MetadataValue.json(unsupported),
            "rows": sum(rows_by_region.values()),
            "years": f"{years.start}-{years.stop - 1}",
        }
    )
