"""Asset check on the forecasts: tenants whose forecasts the nightly has stopped replacing."""

from __future__ import annotations

from typing import Any

import dagster as dg
import sqlalchemy as sa

from flux_core.db.tables import forecasts, model_versions
from flux_pipelines.defs.forecasts.assets import demand_forecasts
from flux_pipelines.defs.resources import FluxDatabase
from flux_pipelines.defs.training.checks import overdue_series


def _series_times(
    table: sa.Table, column: sa.Column[Any], aggregate: Any, label: str
) -> sa.Subquery:
    """``aggregate(column)`` per tenant-metric of ``table``, as ``label``."""
    return (
        sa.select(table.c.tenant_id, table.c.metric, aggregate(column).label(label))
        .group_by(table.c.tenant_id, table.c.metric)
        .subquery()
    )


@dg.asset_check(
    asset=demand_forecasts,
    description="Every tenant-metric with a champion trained more than 36 hours ago has forecasts "
    "written within the last 36 hours.",
)
def forecasts_current(database: FluxDatabase) -> dg.AssetCheckResult:
    return overdue_series(
        database,
        _series_times(model_versions, model_versions.c.trained_at, sa.func.min, "since"),
        _series_times(forecasts, forecasts.c.created_at, sa.func.max, "written_at"),
        "written_at",
    )
