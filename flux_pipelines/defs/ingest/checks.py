"""Asset checks on staged data: what a data engineer wants flagged before the models see it."""

from __future__ import annotations

import datetime as dt
from uuid import UUID

import dagster as dg
import sqlalchemy as sa

from flux_core.db.tables import staged_sales, tenants, uploads
from flux_core.ingest.loader import SETTLED
from flux_pipelines.defs.ingest.assets import staged_sales as staged_sales_asset
from flux_pipelines.defs.resources import FluxDatabase

MAX_REJECTION_RATE = 0.05
STALE_AFTER_DAYS = 7
SHOWN = 20


@dg.asset_check(
    asset=staged_sales_asset,
    description=f"Each tenant's latest loaded upload rejects at most {MAX_REJECTION_RATE:.0%} of its lines.",
)
def rejection_rate(database: FluxDatabase) -> dg.AssetCheckResult:
    latest = (
        sa.select(
            uploads.c.tenant_id,
            uploads.c.upload_id,
            uploads.c.rows_total,
            uploads.c.rows_rejected,
            sa.func.row_number()
            .over(partition_by=uploads.c.tenant_id, order_by=uploads.c.processed_at.desc())
            .label("recency"),
        )
        .where(uploads.c.status == "loaded", uploads.c.rows_total > 0)
        .subquery()
    )
    rate = (sa.cast(latest.c.rows_rejected, sa.Float) / latest.c.rows_total).label("rate")
    with database.engine().connect() as conn:
        rows = conn.execute(
            sa.select(latest.c.tenant_id, latest.c.upload_id, rate)
            .where(latest.c.recency == 1)
            .order_by(rate.desc())
        ).all()
    offenders = [r for r in rows if r.rate > MAX_REJECTION_RATE]
    return dg.AssetCheckResult(
        passed=not offenders,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "tenants_checked": len(rows),
            "tenants_over_limit": len(offenders),
            "worst_rate": float(rows[0].rate) if rows else 0.0,
            "over_limit": dg.MetadataValue.json(
                [
                    {
                        "tenant": str(r.tenant_id),
                        "upload": str(r.upload_id),
                        "rate": round(r.rate, 4),
                    }
                    for r in offenders[:SHOWN]
                ]
            ),
        },
    )


@dg.asset_check(
    asset=staged_sales_asset,
    description=f"Every tenant with data has a day within the last {STALE_AFTER_DAYS} days.",
)
def freshness(database: FluxDatabase) -> dg.AssetCheckResult:
    cutoff = dt.date.today() - dt.timedelta(days=STALE_AFTER_DAYS)
    last_day = sa.func.max(staged_sales.c.date).label("last_day")
    with database.engine().connect() as conn:
        rows = conn.execute(
            sa.select(staged_sales.c.tenant_id, tenants.c.name, last_day)
            .join(tenants, tenants.c.tenant_id == staged_sales.c.tenant_id)
            .group_by(staged_sales.c.tenant_id, tenants.c.name)
            .order_by(last_day)
        ).all()
    stale = [r for r in rows if r.last_day < cutoff]
    return dg.AssetCheckResult(
        passed=not stale,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "tenants_checked": len(rows),
            "tenants_stale": len(stale),
            "stale": dg.MetadataValue.json(
                [
                    {"tenant": str(r.tenant_id), "name": r.name, "last_day": r.last_day.isoformat()}
                    for r in stale[:SHOWN]
                ]
            ),
        },
    )


@dg.asset_check(
    asset=staged_sales_asset,
    description="Every loaded upload that accepted rows still owns staged days, or was corrected by a later one.",
)
def row_counts(database: FluxDatabase) -> dg.AssetCheckResult:
    owned = sa.select(staged_sales.c.upload_id).where(
        staged_sales.c.upload_id == uploads.c.upload_id
    )
    # A tenant's newest loaded upload must own rows; older ones may have been wholly corrected
    # (newest as received: the later upload of a day wins, whichever was loaded last).
    other = uploads.alias("other")
    newest = (
        sa.select(sa.func.max(other.c.received_at))
        .where(other.c.tenant_id == uploads.c.tenant_id, other.c.status == "loaded")
        .scalar_subquery()
    )
    with database.engine().connect() as conn:
        counts = conn.execute(
            sa.select(staged_sales.c.metric, sa.func.count().label("rows")).group_by(
                staged_sales.c.metric
            )
        ).all()
        orphaned: list[UUID] = list(
            conn.execute(
                sa.select(uploads.c.upload_id).where(
                    uploads.c.status == "loaded",
                    uploads.c.rows_loaded > 0,
                    uploads.c.received_at == newest,
                    ~sa.exists(owned),
                )
            ).scalars()
        )
    per_metric: dict[str, int] = {row.metric: row.rows for row in counts}
    return dg.AssetCheckResult(
        passed=not orphaned,
        metadata={
            "rows_by_metric": dg.MetadataValue.json(per_metric),
            "rows_total": sum(per_metric.values()),
            "uploads_without_rows": dg.MetadataValue.json([str(u) for u in orphaned[:SHOWN]]),
        },
    )


UNSETTLED_AFTER = dt.timedelta(hours=1)


def unsettled_uploads(conn: sa.Connection, older_than: dt.timedelta) -> list[sa.Row]:
    """Uploads received more than ``older_than`` ago that no load has settled, oldest first."""
    return list(
        conn.execute(
            sa.select(
                uploads.c.tenant_id,
                uploads.c.upload_id,
                uploads.c.received_at,
                uploads.c.attempts,
                uploads.c.error,
            )
            .where(
                uploads.c.status.not_in(SETTLED),
                uploads.c.received_at < sa.func.now() - older_than,
            )
            .order_by(uploads.c.received_at)
        ).all()
    )


@dg.asset_check(
    asset=staged_sales_asset,
    description="No upload waits more than an hour to be settled (loaded, rejected, duplicate or "
    "failed); failed uploads of the last day are listed for an operator (`flux uploads retry`).",
)
def uploads_settled(database: FluxDatabase) -> dg.AssetCheckResult:
    with database.engine().connect() as conn:
        stuck = unsettled_uploads(conn, UNSETTLED_AFTER)
        failed = conn.execute(
            sa.select(uploads.c.tenant_id, uploads.c.upload_id, uploads.c.attempts, uploads.c.error)
            .where(
                uploads.c.status == "failed",
                uploads.c.processed_at > sa.func.now() - dt.timedelta(days=1),
            )
            .order_by(uploads.c.processed_at.desc())
        ).all()
    return dg.AssetCheckResult(
        passed=not stuck,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "uploads_unsettled": len(stuck),
            "tenants_unsettled": len({r.tenant_id for r in stuck}),
            "oldest_received_at": stuck[0].received_at.isoformat() if stuck else "",
            "unsettled": dg.MetadataValue.json(
                [
                    {
                        "tenant": str(r.tenant_id),
                        "upload": str(r.upload_id),
                        "received_at": r.received_at.isoformat(),
                        "attempts": r.attempts,
                        "last_error": r.error,
                    }
                    for r in stuck[:SHOWN]
                ]
            ),
            "failed_last_day": dg.MetadataValue.json(
                [
                    {
                        "tenant": str(r.tenant_id),
                        "upload": str(r.upload_id),
                        "attempts": r.attempts,
                        "error": r.error,
                    }
                    for r in failed[:SHOWN]
                ]
            ),
        },
    )
