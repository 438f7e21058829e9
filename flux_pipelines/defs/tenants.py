"""The tenant partition set every per-restaurant asset shares: one partition per tenant id."""

import datetime as dt
from collections.abc import Mapping, Sequence

import dagster as dg
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    PARTITION_NAME_TAG,
)

TENANTS = "tenants"
tenants_partitions = dg.DynamicPartitionsDefinition(name=TENANTS)


def partition_range_tags(first: str, last: str) -> dict[str, str]:
    """A run's tags for the tenants from ``first`` to ``last`` in the partition set's order."""
    return {ASSET_PARTITION_RANGE_START_TAG: first, ASSET_PARTITION_RANGE_END_TAG: last}


def run_tenants(
    tags: Mapping[str, str], instance: dg.DagsterInstance, keys: Sequence[str] | None = None
) -> list[str] | None:
    """The tenants a run covers, from its partition tags (one key, or a range in the partition
    set's order), for the unpartitioned steps of a tenant run; None for a run of no partition.
    ``keys``: the partition set's keys, if the caller has them already."""
    if (key := tags.get(PARTITION_NAME_TAG)) is not None:
        return [key]
    first, last = tags.get(ASSET_PARTITION_RANGE_START_TAG), tags.get(ASSET_PARTITION_RANGE_END_TAG)
    if first is None or last is None:
        return None
    return keys_in_range(
        instance.get_dynamic_partitions(TENANTS) if keys is None else keys, first, last
    )


def keys_in_range(keys: Sequence[str], first: str, last: str) -> list[str]:
    """The keys from ``first`` to ``last``, both included, in the order of ``keys``."""
    keys = list(keys)
    return keys[keys.index(first) : keys.index(last) + 1]


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
