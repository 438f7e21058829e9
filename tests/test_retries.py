"""A tenant that fails inside a batched run is run again, once per failure, and not forever."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

import dagster as dg
import pytest
import sqlalchemy as sa

from flux_core.db.tables import uploads
from flux_core.ingest.uploads import receive_upload
from flux_core.landing import LocalLandingZone, landing_zone
from flux_core.settings import FluxSettings
from flux_pipelines.defs.batches import ATTEMPT_TAG, TenantBatch
from flux_pipelines.defs.ingest.assets import staged_sales
from flux_pipelines.defs.orchestration.retries import MAX_ATTEMPTS
from flux_pipelines.defs.resources import FluxDatabase, LandingZoneResource
from flux_pipelines.defs.tenants import TENANTS

CSV = b"date,sales\n2025-03-01,120.50\n2025-03-02,98\n2025-03-03,143.25\n"
RESOURCES = {"database": FluxDatabase(), "landing": LandingZoneResource()}


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as instance:
        yield instance


@pytest.fixture(scope="module")
def retry_sensor() -> dg.SensorDefinition:
    from flux_pipelines.definitions import defs

    return defs.resolve_sensor_def("retry_failed_loads")


def _receive(settings: FluxSettings, engine: sa.Engine, tenant: UUID) -> tuple[UUID, Path]:
    zone = landing_zone(settings)
    assert isinstance(zone, LocalLandingZone)  # the tests' landing zone is a local folder
    with engine.begin() as conn:
        receipt = receive_upload(conn, zone, tenant, "sales.csv", io.BytesIO(CSV))
    return receipt.upload_id, zone.root / receipt.object_key


def _status(engine: sa.Engine, upload_id: UUID) -> str:
    with engine.connect() as conn:
        return conn.execute(
            sa.select(uploads.c.status).where(uploads.c.upload_id == upload_id)
        ).scalar_one()


def _load_both(instance: dg.DagsterInstance, first: UUID, last: UUID, attempt: int) -> None:
    result = dg.materialize(
        [staged_sales],
        instance=instance,
        resources=RESOURCES,
        tags=TenantBatch(str(first), str(last), attempt=attempt).tags(),
    )
    assert result.success  # one tenant's failure does not fail the run


def _evaluate(
    sensor: dg.SensorDefinition, instance: dg.DagsterInstance, cursor: str | None
) -> tuple[list[dg.RunRequest], str | None]:
    with dg.build_sensor_context(instance=instance, cursor=cursor) as context:
        result = sensor(context)
    assert isinstance(result, dg.SensorResult)
    return list(result.run_requests or []), result.cursor


@dataclass(frozen=True)
class TwoTenants:
    healthy: UUID
    broken: UUID
    good_upload: UUID
    broken_upload: UUID
    stored: Path  # the broken tenant's raw file


@pytest.fixture
def two(
    settings: FluxSettings,
    pipeline_engine: sa.Engine,
    make_tenant,
    instance: dg.DagsterInstance,
) -> TwoTenants:
    """Two tenants, each with one upload, as partitions of one batched run."""
    healthy, broken = make_tenant(), make_tenant()
    instance.add_dynamic_partitions(TENANTS, [str(healthy), str(broken)])
    good_upload, _ = _receive(settings, pipeline_engine, healthy)
    broken_upload, stored = _receive(settings, pipeline_engine, broken)
    return TwoTenants(healthy, broken, good_upload, broken_upload, stored)


def test_a_tenant_whose_load_failed_is_retried_once_per_failure_until_it_loads(
    two: TwoTenants,
    pipeline_engine: sa.Engine,
    instance: dg.DagsterInstance,
    retry_sensor: dg.SensorDefinition,
) -> None:
    healthy, broken, good_upload, broken_upload, stored = (
        two.healthy,
        two.broken,
        two.good_upload,
        two.broken_upload,
        two.stored,
    )
    # The broken tenant's raw file is unreachable while its run loads: not a rejection, a failure.
    hidden = stored.rename(stored.with_suffix(".away"))

    _load_both(instance, healthy, broken, attempt=1)
    assert _status(pipeline_engine, good_upload) == "loaded"
    assert _status(pipeline_engine, broken_upload) == "received"

    requests, cursor = _evaluate(retry_sensor, instance, None)
    assert [(r.partition_key, r.tags[ATTEMPT_TAG]) for r in requests] == [(str(broken), "2")]
    # Seen again (the next tick): nothing new is requested.
    assert _evaluate(retry_sensor, instance, cursor)[0] == []

    # The retry, once the file is reachable again, loads it.
    hidden.rename(stored)
    (request,) = requests
    retried = dg.materialize(
        [staged_sales],
        instance=instance,
        resources=RESOURCES,
        partition_key=request.partition_key,
        tags=request.tags,
    )
    assert retried.success
    assert _status(pipeline_engine, broken_upload) == "loaded"
    assert _evaluate(retry_sensor, instance, cursor)[0] == []


def test_a_tenant_that_keeps_failing_is_given_up_after_the_last_attempt(
    two: TwoTenants,
    pipeline_engine: sa.Engine,
    instance: dg.DagsterInstance,
    retry_sensor: dg.SensorDefinition,
) -> None:
    healthy, broken, broken_upload = two.healthy, two.broken, two.broken_upload
    two.stored.unlink()

    _load_both(instance, healthy, broken, attempt=MAX_ATTEMPTS - 1)
    requests, cursor = _evaluate(retry_sensor, instance, None)
    assert [r.tags[ATTEMPT_TAG] for r in requests] == [str(MAX_ATTEMPTS)]

    _load_both(instance, healthy, broken, attempt=MAX_ATTEMPTS)
    assert _evaluate(retry_sensor, instance, cursor)[0] == []
    assert _status(pipeline_engine, broken_upload) == "received"


def test_retries_never_pile_up_for_one_tenant(
    two: TwoTenants,
    pipeline_engine: sa.Engine,
    instance: dg.DagsterInstance,
    retry_sensor: dg.SensorDefinition,
) -> None:
    """Two runs failed the same tenant (the third gave its upload up): one retry, not two; and
    none while a run of the job already covers the tenant."""
    from dagster._core.test_utils import create_run_for_test

    healthy, broken = two.healthy, two.broken
    two.stored.rename(two.stored.with_suffix(".away"))
    for _ in range(3):
        _load_both(instance, healthy, broken, attempt=1)

    requests, _ = _evaluate(retry_sensor, instance, None)
    assert [r.partition_key for r in requests] == [str(broken)]

    running = create_run_for_test(
        instance,
        job_name="ingest_to_forecast",
        tags={"dagster/partition": str(broken)},
        status=dg.DagsterRunStatus.STARTED,
    )
    assert _evaluate(retry_sensor, instance, None)[0] == []
    instance.delete_run(running.run_id)
    assert len(_evaluate(retry_sensor, instance, None)[0]) == 1
