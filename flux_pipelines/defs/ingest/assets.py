"""``staged_sales``: every pending upload of the run's tenants, parsed, validated and loaded."""

from collections import defaultdict
from uuid import UUID

import dagster as dg

from flux_core.ingest.loader import LoadOutcome, load_uploads, pending_uploads_of
from flux_pipelines.defs.batches import TENANTS_FAILED
from flux_pipelines.defs.resources import FluxDatabase, LandingZoneResource
from flux_pipelines.defs.tenants import tenants_partitions


def _describe(outcome: LoadOutcome) -> str:
    return (
        f"tenant {outcome.tenant_id} upload {outcome.upload_id}: {outcome.status}, "
        f"{outcome.rows_loaded} rows loaded, {outcome.rows_rejected} rejected"
        + (f" ({outcome.error})" if outcome.error else "")
    )


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
    tenants = context.partition_keys
    with engine.connect() as conn:
        upload_ids = pending_uploads_of(conn, [UUID(t) for t in tenants])
    # All the run's uploads at once: small ones load in batches (one transaction each), and one
    # upload's failure leaves the others' outcomes as they would be alone.
    outcomes = load_uploads(engine, zone, upload_ids)
    failures: dict[str, list[str]] = defaultdict(list)
    for outcome in outcomes:
        if outcome.status == "retry":
            # Not the file's fault: its tenant is run again (retry_failed_loads).
            failures[str(outcome.tenant_id)].append(f"upload {outcome.upload_id}: {outcome.error}")
            context.log.error(f"load failed, to be tried again: {_describe(outcome)}")
        elif outcome.status == "failed":
            context.log.error(
                f"load given up after {outcome.attempts} attempts: {_describe(outcome)}"
            )
        elif outcome.status != "loaded" or outcome.rows_rejected:
            context.log.warning(_describe(outcome))
    failed = {tenant: "; ".join(errors) for tenant, errors in failures.items()}
    loaded = [o for o in outcomes if o.status not in ("retry", "failed")]
    context.log.info(
        f"{len(tenants)} tenant(s), {len(outcomes)} upload(s): "
        f"{sum(o.status == 'loaded' and not o.skipped for o in loaded)} loaded, "
        f"{sum(o.rows_loaded for o in loaded)} rows; {len(failed)} tenant(s) failed"
    )
    if failed and len(failed) == len(tenants):
        raise dg.Failure(f"every tenant of the run failed to load: {failed}")
    return dg.MaterializeResult(
        metadata={
            "tenants": len(tenants),
            "uploads_processed": sum(not o.skipped for o in loaded),
            "rows_loaded": sum(o.rows_loaded for o in loaded),
            "rows_rejected": sum(o.rows_rejected for o in loaded),
            "days_replaced": sum(o.days_replaced for o in loaded),
            "uploads_rejected": sum(o.status == "rejected" for o in loaded),
            "uploads_duplicate": sum(o.status == "duplicate" for o in loaded),
            "uploads_failed": sum(o.status == "failed" for o in outcomes),
            "uploads_to_retry": sum(o.status == "retry" for o in outcomes),
            TENANTS_FAILED: dg.MetadataValue.json(failed),
        }
    )


# Written by staged_sales' loads (line-item exports, in the same transaction): shown in the graph,
# with its lineage, for the dbt model that reads it; never materialized on its own.
staged_item_sales = dg.AssetSpec(
    "staged_item_sales",
    deps=[staged_sales],
    group_name="ingest",
    kinds={"postgres"},
    description="What line-item exports sold, one row per tenant and day (items, quantities and "
    "revenues in arrays), in flux.staged_item_sales; written by staged_sales.",
)


# The same, for booking exports: written by staged_sales' loads, read by the drivers' dbt model.
staged_bookings = dg.AssetSpec(
    "staged_bookings",
    deps=[staged_sales],
    group_name="ingest",
    kinds={"postgres"},
    description="Booking exports summed per tenant, visit day and day booked, in "
    "flux.staged_bookings (a multi-store export loads each tenant's stores, through "
    "flux.store_codes); written by staged_sales.",
)
