"""Replacing tenants' forecasts in one transaction: readers never see half.

In that transaction, before a tenant's previous forecasts go, those for days whose actuals have
arrived are kept in ``flux.forecast_outcomes`` (the forecast as it was shown, beside the actual:
live accuracy, ``accuracy.py``). The new rows go in with COPY: a run writes 100 tenants' 56 rows
each. PostgreSQL refuses COPY into a table with row-level security, so the rows are copied into a
temporary table and moved with one INSERT ... SELECT.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from uuid import UUID

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from flux_core.db.tables import forecast_outcomes, forecasts, staged_sales

COPIED = ("tenant_id", "metric", "date", "p10", "p50", "p90", "model_version", "origin")
Row = tuple[UUID, str, dt.date, float, float, float, int, dt.date]


@dataclass(frozen=True)
class MetricForecast:
    metric: str
    model_version: int
    frame: pd.DataFrame  # date, p10, p50, p90


def forecast_rows(tenant_id: UUID, forecast: MetricForecast) -> list[Row]:
    """The rows of one metric's forecast, checked (quantiles in order, none negative)."""
    frame = forecast.frame
    if not ((frame["p10"] <= frame["p50"]) & (frame["p50"] <= frame["p90"])).all():
        raise ValueError(f"{forecast.metric}: quantiles out of order")
    if (frame["p10"] < 0).any():
        raise ValueError(f"{forecast.metric}: negative forecast")
    if frame.empty:
        return []
    origin = pd.Timestamp(frame["date"].min()).date() - dt.timedelta(days=1)
    return [
        (
            tenant_id,
            forecast.metric,
            pd.Timestamp(row.date).date(),
            float(row.p10),
            float(row.p50),
            float(row.p90),
            forecast.model_version,
            origin,
        )
        for row in frame.itertuples(index=False)
    ]


# The transaction's own copy of the incoming rows (dropped at commit).
_incoming = sa.Table(
    "forecasts_incoming",
    sa.MetaData(),
    *(sa.Column(c.name, c.type) for c in forecasts.columns if c.name in COPIED),
    prefixes=["TEMPORARY"],
    postgresql_on_commit="DROP",
)


def _archive_shown(tenant_ids: Sequence[UUID]) -> sa.Insert:
    """The tenants' forecasts for days that now have an actual, into ``forecast_outcomes``; the
    first kept for a day stays (it is the one shown before the actual came)."""
    f, a = forecasts.c, staged_sales.c
    shown = (
        sa.select(
            f.tenant_id,
            f.metric,
            f.date,
            f.origin,
            f.p10,
            f.p50,
            f.p90,
            sa.cast(a.value, sa.Float),
            f.model_version,
            f.created_at,
        )
        .join(
            staged_sales,
            (a.tenant_id == f.tenant_id) & (a.metric == f.metric) & (a.date == f.date),
        )
        .where(f.tenant_id.in_(tenant_ids), f.origin.is_not(None), f.date > f.origin)
    )
    columns = ["tenant_id", "metric", "date", "origin", "p10", "p50", "p90", "actual"]
    return (
        insert(forecast_outcomes)
        .from_select([*columns, "model_version", "issued_at"], shown)
        .on_conflict_do_nothing()
    )


def write_forecasts(engine: sa.Engine, rows: Mapping[UUID, Sequence[Row]]) -> int:
    """Each tenant's forecasts become exactly its ``rows`` (from ``forecast_rows``), all in one
    transaction; returns the rows written."""
    tenant_ids = list(rows)
    if not tenant_ids:
        return 0
    written = 0
    with engine.begin() as conn:
        conn.execute(_archive_shown(tenant_ids))
        conn.execute(sa.delete(forecasts).where(forecasts.c.tenant_id.in_(tenant_ids)))
        _incoming.create(conn)
        raw = conn.connection.driver_connection
        assert raw is not None
        with (
            raw.cursor() as cursor,
            cursor.copy(f"COPY {_incoming.name} ({', '.join(COPIED)}) FROM STDIN") as copy,
        ):
            for tenant_rows in rows.values():
                for row in tenant_rows:
                    copy.write_row(row)
                written += len(tenant_rows)
        conn.execute(
            sa.insert(forecasts).from_select(
                list(COPIED), sa.select(*(_incoming.c[name] for name in COPIED))
            )
        )
    return written


def replace_forecasts(
    engine: sa.Engine, tenant_id: UUID, metric_forecasts: Sequence[MetricForecast]
) -> int:
    """The tenant's forecasts become exactly these; returns the rows written."""
    rows = [row for f in metric_forecasts for row in forecast_rows(tenant_id, f)]
    return write_forecasts(engine, {tenant_id: rows})
