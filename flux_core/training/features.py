"""Reading ``analytics.features_daily`` (the dbt model) for a batch of tenants."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import UUID as PG_UUID

FEATURES_SCHEMA = "analytics"

features_daily = sa.table(
    "features_daily",
    sa.column("tenant_id", PG_UUID(as_uuid=True)),
    sa.column("metric", sa.Text),
    sa.column("date", sa.Date),
    sa.column("value", sa.Numeric),
    sa.column("country", sa.Text),
    sa.column("subdivision", sa.Text),
    schema=FEATURES_SCHEMA,
)

TRAINING_COLUMNS = ("tenant_id", "metric", "date", "value", "country", "subdivision")

demand_drivers = sa.table(
    "fct_demand_drivers",
    sa.column("tenant_id", PG_UUID(as_uuid=True)),
    sa.column("kind", sa.Text),
    sa.column("date", sa.Date),
    sa.column("booked_on", sa.Date),
    sa.column("covers", sa.Numeric),
    schema=FEATURES_SCHEMA,
)
DRIVER_COLUMNS = ("tenant_id", "kind", "date", "booked_on", "covers")


def read_training_frame(conn: sa.Connection, tenant_ids: Sequence[UUID]) -> pd.DataFrame:
    """Every day of the tenants' series: tenant_id (str), metric, date, value (NaN=unknown)."""
    c = features_daily.c
    rows = conn.execute(
        sa.select(c.tenant_id, c.metric, c.date, c.value, c.country, c.subdivision)
        .where(c.tenant_id.in_(list(tenant_ids)))
        .order_by(c.tenant_id, c.metric, c.date)
    ).all()
    frame = pd.DataFrame(rows, columns=list(TRAINING_COLUMNS))
    frame["tenant_id"] = frame["tenant_id"].astype(str)
    frame["value"] = pd.to_numeric(frame["value"], errors="coerce").astype("float64")
    return frame


def read_drivers_frame(conn: sa.Connection, tenant_ids: Sequence[UUID]) -> pd.DataFrame:
    """The tenants' bookings and told days (``fct_demand_drivers``): tenant_id (str), kind,
    date, booked_on, covers."""
    c = demand_drivers.c
    rows = conn.execute(
        sa.select(*(c[name] for name in DRIVER_COLUMNS))
        .where(c.tenant_id.in_(list(tenant_ids)))
        .order_by(c.tenant_id, c.date)
    ).all()
    frame = pd.DataFrame(rows, columns=list(DRIVER_COLUMNS))
    frame["tenant_id"] = frame["tenant_id"].astype(str)
    frame["covers"] = pd.to_numeric(frame["covers"], errors="coerce").astype("float64")
    return frame


def last_observed_dates(conn: sa.Connection, tenant_id: UUID) -> dict[str, pd.Timestamp]:
    """Per metric, the tenant's last day with a known value."""
    c = features_daily.c
    rows = conn.execute(
        sa.select(c.metric, sa.func.max(c.date))
        .where(c.tenant_id == tenant_id, c.value.is_not(None))
        .group_by(c.metric)
    ).all()
    return {str(metric): pd.Timestamp(day) for metric, day in rows}
