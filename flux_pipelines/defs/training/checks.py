"""Asset checks on the models: the tenants the nightly has been leaving behind.

A tenant that keeps failing keeps its previous champion and forecast; after ``MAX_ATTEMPTS`` the
retry sensors give up on it. This check (and ``forecasts_current`` on the forecasts) is where it shows, run once a
day after the nightly by ``model_health`` (``jobs.py``): a WARN in the UI, and in any alert policy
on check results.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import dagster as dg
import sqlalchemy as sa

from flux_pipelines.db.tables import model_versions, staged_sales, tenants
from flux_pipelines.defs.resources import FluxDatabase
from flux_pipelines.defs.training.assets import demand_models

# The nightly retrains every 24 hours: one night missed, and the rest of a day to notice.
STALE_AFTER = dt.timedelta(hours=36)
SHOWN = 20


def overdue_result(
    rows: Sequence[sa.Row[Any]], overdue: list[sa.Row[Any]], column: str
) -> dg.AssetCheckResult:
    """WARN listing the first ``SHOWN`` overdue tenant-metrics, with when ``column`` last happened."""
    return dg.AssetCheckResult(
        passed=not overdue,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "series_checked": len(rows),
            "series_overdue": len(overdue),
            "overdue": dg.MetadataValue.json(
                [
                    {
                        "tenant": str(r.tenant_id),
                        "name": r.name,
                        "metric": r.metric,
                        column: getattr(r, column).isoformat() if getattr(r, column) else None,
                    }
                    for r in overdue[:SHOWN]
                ]
            ),
        },
    )


@dg.asset_check(
    asset=demand_models,
    description="Every tenant-metric with sales loaded more than 36 hours ago has a champion "
    "trained within the last 36 hours.",
)
def champions_current(database: FluxDatabase) -> dg.AssetCheckResult:
    cutoff = dt.datetime.now(dt.UTC) - STALE_AFTER
    series = (
        sa.select(
            staged_sales.c.tenant_id,
            staged_sales.c.metric,
            sa.func.min(staged_sales.c.loaded_at).label("first_loaded"),
        )
        .group_by(staged_sales.c.tenant_id, staged_sales.c.metric)
        .subquery()
    )
    champion = model_versions.alias("champion")
    query = (
        sa.select(series.c.tenant_id, tenants.c.name, series.c.metric, champion.c.trained_at)
        .join(tenants, tenants.c.tenant_id == series.c.tenant_id)
        .outerjoin(
            champion,
            (champion.c.tenant_id == series.c.tenant_id)
            & (champion.c.metric == series.c.metric)
            & champion.c.is_champion,
        )
        .where(series.c.first_loaded < cutoff)
        .order_by(champion.c.trained_at.asc().nulls_first())
    )
    with database.engine().connect() as conn:
        rows = conn.execute(query).all()
    overdue = [r for r in rows if r.trained_at is None or r.trained_at < cutoff]
    return overdue_result(rows, overdue, "trained_at")
