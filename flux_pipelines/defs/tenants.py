"""The tenant partition set every per-restaurant asset shares: one partition per tenant id."""

import datetime as dt
from collections.abc import Mapping, Sequence

import dagster as dg

from flux_pipelines.defs.batches import TenantBatch

TENANTS = "tenants"
tenants_partitions = dg.DynamicPartitionsDefinition(name=TENANTS)


def run_tenants(
    tags: Mapping[str, str], instance: dg.DagsterInstance, keys: Sequence[str] | None = None
) -> list[str] | None:
    """The tenants a run covers, from its partition tags (one key, or a range in the partition
    set's order), for the unpartitioned steps of a tenant run; None for a run of no partition.
    ``keys``: the partition set's keys, if the caller has them already."""
    batch = TenantBatch.from_tags(tags)
    if batch is None:
        return None
    return batch.tenants(instance.get_dynamic_partitions(TENANTS) if keys is None else keys)


# Runs that will still do their tenants' work.
UNFINISHED = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


# How far back to look for failed runs that Dagster has yet to retry (run_retries in dagster.yaml).
RETRY_LOOKBACK = dt.timedelta(hours=1)


def tenants_in_flight(instance: dg.DagsterInstance, job_name: str, keys: list[str]) -> set[str]:
    """The tenants that the job's unfinished runs cover, or its failed runs that Dagster is about
    to run again; ``keys``: the partition set's."""
    unfinished = instance.get_run_records(dg.RunsFilter(job_name=job_name, statuses=UNFINISHED))
    failed = instance.get_run_records(
        dg.RunsFilter(
            job_name=job_name,
            statuses=[dg.DagsterRunStatus.FAILURE],
            updated_after=dt.datetime.now(dt.UTC) - RETRY_LOOKBACK,
        )
    )
    covered: set[str] = set()
    for record in [*unfinished, *failed]:
        run = record.dagster_run
        if run.status != dg.DagsterRunStatus.FAILURE or run.is_complete_and_waiting_to_retry:
            covered.update(run_tenants(run.tags, instance, keys) or [])
    return covered
