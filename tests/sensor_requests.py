"""Reading the landing sensor's answer as the daemon would act on it."""

from uuid import UUID

import dagster as dg

from flux_pipelines.defs.tenants import TENANTS, run_tenants


def covering(
    result: dg.SensorResult, tenant: UUID, instance: dg.DagsterInstance
) -> list[dg.RunRequest]:
    """The requested runs whose tenants include ``tenant``, once the sensor's new partitions are
    added to ``instance`` (the daemon adds them before it creates the runs)."""
    for request in result.dynamic_partitions_requests:
        instance.add_dynamic_partitions(TENANTS, list(request.partition_keys))
    return [
        r for r in result.run_requests or [] if str(tenant) in (run_tenants(r.tags, instance) or [])
    ]
