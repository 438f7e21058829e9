"""Asset checks on the models: the tenants the nightly has been leaving behind.

A tenant that keeps failing keeps its previous champion and forecast; after ``MAX_ATTEMPTS`` the
retry sensors give up on it. This check (and ``forecasts_current`` on the forecasts) is where it
shows, run once a day after the nightly by ``model_health`` (``jobs.py``): a WARN in the UI, and
in any alert policy on check results.
"""

from __future__ import annotations

import datetime as dt

import dagster as dg
import sqlalchemy as sa

from flux_core.db.tables import model_versions, staged_sales, tenants, uploads
from flux_pipelines.defs.resources import FluxDatabase
from flux_pipelines.defs.training.assets import demand_models

# The nightly retrains every 24 hours: one night missed, and the rest of a day to notice.
STALE_AFTER = dt.timedelta(hours=36)
SHOWN = 20


def overdue_series(
    database: FluxDatabase,
    watched: sa.Subquery,
    last: sa.FromClause,
    label: str,
    also: sa.ColumnElement[bool] | None = None,
) -> dg.AssetCheckResult:
    """WARN with the tenant-metrics ``watched`` since before the cutoff (its ``since`` column)
    whose ``last.<label>`` (joined by tenant and metric, and ``also``) is missing or before it."""
    cutoff = dt.datetime.now(dt.UTC) - STALE_AFTER
    when = last.c[label]
    joined = (last.c.tenant_id == watched.c.tenant_id) & (last.c.metric == watched.c.metric)
    query = (
        sa.select(watched.c.tenant_id, tenants.c.name, watched.c.metric, when.label("when"))
        .join(tenants, tenants.c.tenant_id == watched.c.tenant_id)
        .outerjoin(last, joined if also is None else joined & also)
        .where(watched.c.since < cutoff)
        .order_by(when.asc().nulls_first())
    )
    with database.engine().connect() as conn:
        rows = conn.execute(query).all()
    overdue = [r for r in rows if r.when is None or r.when < cutoff]
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
                        label: r.when.isoformat() if r.when else None,
                    }
                    for r in overdue[:SHOWN]
                ]
            ),
        },
    )


@dg.asset_check(
    asset=demand_models,
    description="Every tenant-metric with sales, of a tenant whose first upload is more than 36 "
    "hours old, has a champion trained within the last 36 hours.",
)
def champions_current(database: FluxDatabase) -> dg.AssetCheckResult:
    # Since the tenant's first upload: staged rows are reloaded by every upload that corrects them,
    # so their own load times say nothing of how long the tenant has had data.
    first_upload = (
        sa.select(uploads.c.tenant_id, sa.func.min(uploads.c.received_at).label("since"))
        .group_by(uploads.c.tenant_id)
        .subquery()
    )
    metrics = sa.select(staged_sales.c.tenant_id, staged_sales.c.metric).distinct().subquery()
    watched = (
        sa.select(metrics.c.tenant_id, metrics.c.metric, first_upload.c.since)
        .join(first_upload, first_upload.c.tenant_id == metrics.c.tenant_id)
        .subquery()
    )
    champion = model_versions.alias("champion")
    return overdue_series(
        database,
        watched,
        champion,
        "trained_at",
        also=champion.c.is_champion,
    )
