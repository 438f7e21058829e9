"""Retrying the tenants a batched run could not finish.

A run covers up to 100 tenants and never fails for one of them: the assets report the tenants
that failed in their ``tenants_failed`` metadata and carry on (the tenant keeps its previous data
and forecast). These sensors read that metadata from new materializations and request a run of
each failed tenant again, up to ``MAX_ATTEMPTS`` runs in all, spaced by the sensor's interval.
The run key names the failed run and the tenant, so a tenant is retried once per failure however
often the sensor sees it, and retries never pile up: a tenant is asked for once per tick, and not
at all while a run of the job covers it (that run does the work a retry would). A run that fails as a whole is retried by Dagster's run retries
(``run_retries`` in dagster.yaml). A tenant given up on keeps its old champion and forecasts, which
the daily checks (``champions_current``, ``forecasts_current``) report.
"""

from __future__ import annotations

from collections.abc import Collection

import dagster as dg

from flux_pipelines.defs.batches import TENANTS_FAILED, TenantBatch, attempt_of, failed_tenants
from flux_pipelines.defs.tenants import TENANTS, tenants_in_flight

MAX_ATTEMPTS = 3
# Materializations read per tick: a 100-tenant run records one per tenant partition.
PAGE = 1000
RETRY_INTERVAL_SECONDS = 300


def retry_requests(
    instance: dg.DagsterInstance,
    asset_key: dg.AssetKey,
    cursor: str | None,
    busy: Collection[str] = (),
) -> tuple[list[dg.RunRequest], list[str], str | None]:
    """Run requests for the failed tenants of materializations after ``cursor``, one per tenant
    and none for the ``busy`` ones (an unfinished run covers them); the tenants given up on
    (attempts exhausted); and the cursor to start from next time."""
    page = instance.fetch_materializations(asset_key, limit=PAGE, cursor=cursor, ascending=True)
    wanted: dict[str, dg.RunRequest] = {}
    given_up: list[str] = []
    seen: set[str] = set()
    for record in page.records:
        materialization = record.asset_materialization
        if record.run_id in seen or materialization is None:
            continue
        seen.add(record.run_id)
        tenants = failed_tenants(materialization.metadata)
        if not tenants:
            continue
        run = instance.get_run_by_id(record.run_id)
        attempt = attempt_of(run.tags if run else {})
        if attempt >= MAX_ATTEMPTS:
            given_up.extend(tenants)
            continue
        for tenant in tenants:
            if tenant in busy:
                continue
            # The latest failure of a tenant stands for the earlier ones of the same page.
            wanted[tenant] = dg.RunRequest(
                partition_key=tenant,
                run_key=f"retry-{record.run_id}-{tenant}",
                tags=TenantBatch(
                    tenant, tenant, "retry", attempt=attempt + 1, retry_of=record.run_id
                ).tags(with_range=False),
            )
    return list(wanted.values()), given_up, page.cursor if page.records else cursor


def build_retry_sensor(
    name: str, asset_key: dg.AssetKey, job: dg.UnresolvedAssetJobDefinition
) -> dg.SensorDefinition:
    @dg.sensor(
        name=name,
        job=job,
        minimum_interval_seconds=RETRY_INTERVAL_SECONDS,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Runs again, up to {MAX_ATTEMPTS} times in all, each tenant that "
        f"{asset_key.to_user_string()} reports in its {TENANTS_FAILED} metadata.",
    )
    def retry_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        keys = list(context.instance.get_dynamic_partitions(TENANTS))
        busy = tenants_in_flight(context.instance, job.name, keys)
        requests, given_up, cursor = retry_requests(
            context.instance, asset_key, context.cursor, busy
        )
        if given_up:
            context.log.warning(
                f"{asset_key.to_user_string()}: gave up on {len(given_up)} tenant(s) after "
                f"{MAX_ATTEMPTS} attempts: {', '.join(given_up[:20])}"
            )
        return dg.SensorResult(run_requests=requests, cursor=cursor)

    return retry_sensor
