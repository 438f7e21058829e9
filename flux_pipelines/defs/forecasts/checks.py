"""Asset check on the forecasts: tenants whose forecasts the nightly has stopped replacing."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import sqlalchemy as sa

from flux_pipelines.db.tables import forecasts, model_versions, tenants
from flux_pipelines.defs.forecasts.assets import demand_forecasts
from flux_pipelines.defs.resources import FluxDatabase
from flux_pipelines.defs.training.checks import STALE_AFTER, overdue_result


@dg.asset_check(
    asset=demand_forecasts,
    description="Every tenant-metric with a champion trained more than 36 hours ago has forecasts "
    "written within the last 36 hours.",
)
def forecasts_current(database: FluxDatabase) -> dg.AssetCheckResult:
    cutoff = dt.datetime.now(dt.UTC) - STALE_AFTER
    latest = (
        sa.select(
            forecasts.c.tenant_id,
            forecasts.c.metric,
            sa.func.max(forecasts.c.created_at).label("written_at"),
        )
        .group_by(forecasts.c.tenant_id, forecasts.c.metric)
        .subquery()
    )
    first_trained = (
        sa.select(
            model_versions.c.tenant_id,
            model_versions.c.metric,
            sa.func.min(model_versions.c.trained_at).label("first_trained"),
        )
        .group_by(model_versions.c.tenant_id, model_versions.c.metric)
        .subquery()
    )
    query = (
        sa.select(
            first_trained.c.tenant_id, tenants.c.name, first_trained.c.metric, latest.c.written_at
        )
        .join(tenants, tenants.c.tenant_id == first_trained.c.tenant_id)
        .outerjoin(
            latest,
            (latest.c.tenant_id == first_trained.c.tenant_id)
            & (latest.c.metric == first_trained.c.metric),
        )
        .where(first_trained.c.first_trained < cutoff)
        .order_by(latest.c.written_at.asc().nulls_first())
    )
    with database.engine().connect() as conn:
        rows = conn.execute(query).all()
    overdue = [r for r in rows if r.written_at is None or r.written_at < cutoff]
    return overdue_result(rows, overdue, "written_at")
