"""``staged_sales``: every pending upload of the run's tenants, parsed, validated and loaded."""

from uuid import UUID

import dagster as dg

from flux_pipelines.defs.ingest.loader import LoadOutcome, load_upload, pending_uploads
from flux_pipelines.defs.resources import FluxDatabase, LandingZoneResource
from flux_pipelines.defs.tenants import tenants_partitions


@dg.asset(
    partitions_def=tenants_partitions,
    backfill_policy=dg.BackfillPolicy.multi_run(max_partitions_per_run=100),
    group_name="ingest",
    kinds={"postgres", "pandas"},
    description="Valid rows of each tenant's uploads in flux.staged_sales (tenant, metric, date, value); "
    "rejected rows in flux.rejected_rows with line, column, value and reason.",
)
def staged_sales(
    context: dg.AssetExecutionContext, database: FluxDatabase, landing: LandingZoneResource
) -> dg.MaterializeResult:
    engine, zone = database.engine(), landing.zone()
    outcomes: list[LoadOutcome] = []
    failed: dict[str, str] = {}
    tenants = context.partition_keys
    for position, tenant in enumerate(tenants, start=1):
        try:
            with engine.connect() as conn:
                upload_ids = pending_uploads(conn, UUID(tenant))
            for upload_id in upload_ids:
                outcome = load_upload(engine, zone, upload_id)
                outcomes.append(outcome)
                context.log.info(
                    f"[{position}/{len(tenants)}] tenant {tenant} upload {upload_id}: {outcome.status}, "
                    f"{outcome.rows_loaded} rows loaded, {outcome.rows_rejected} rejected"
                    + (f" ({outcome.error})" if outcome.error else "")
                )
        except Exception as exc:  # noqa: BLE001 - one tenant's failure must not stop the batch
            failed[tenant] = f"{type(exc).__name__}: {exc}"
            context.log.error(f"tenant {tenant}: load failed: {failed[tenant]}")
    if failed and len(failed) == len(tenants):
        raise dg.Failure(f"every tenant of the run failed to load: {failed}")
    return dg.MaterializeResult(
        metadata={
            "tenants": len(tenants),
            "uploads_processed": sum(not o.skipped for o in outcomes),
            "rows_loaded": sum(o.rows_loaded for o in outcomes),
            "rows_rejected": sum(o.rows_rejected for o in outcomes),
            "days_replaced": sum(o.days_replaced for o in outcomes),
            "uploads_rejected": sum(o.status == "rejected" for o in outcomes),
            "uploads_duplicate": sum(o.status == "duplicate" for o in outcomes),
            "tenants_failed": dg.MetadataValue.json(failed),
        }
    )
