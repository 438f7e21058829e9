"""The whole path, for real: definitions, a tenant's upload through every asset to forecasts."""

from __future__ import annotations

import datetime as dt
import io
from uuid import UUID

import dagster as dg
import pytest
import sqlalchemy as sa

from flux_pipelines.db.tables import forecasts, model_versions, uploads
from flux_pipelines.defs.ingest.uploads import receive_upload
from flux_pipelines.defs.jobs import nightly_retrain
from flux_pipelines.defs.resources import FluxDatabase, LandingZoneResource
from flux_pipelines.defs.tenants import TENANTS, tenants_partitions
from flux_pipelines.demo import RESTAURANTS, demo_sales
from flux_pipelines.landing import landing_zone
from flux_pipelines.settings import FluxSettings

HISTORY_DAYS = 160


@pytest.fixture(scope="module")
def defs() -> dg.Definitions:
    from flux_pipelines.definitions import defs

    return defs


@pytest.fixture
def instance() -> dg.DagsterInstance:
    with dg.instance_for_test() as instance:
        yield instance


def small_csv(days: int = HISTORY_DAYS) -> bytes:
    frame = demo_sales(RESTAURANTS[1], dt.date.today() - dt.timedelta(days=1)).tail(days)
    return frame.to_csv(index=False).encode()


def test_definitions_load_with_the_whole_graph(defs: dg.Definitions) -> None:
    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert {
        "staged_sales",
        "public_holidays",
        "features_daily",
        "demand_models",
        "demand_forecasts",
    } <= keys
    for name in ("staged_sales", "demand_models", "demand_forecasts"):
        assert graph.get(dg.AssetKey(name)).partitions_def == tenants_partitions
    # features_daily is built from staged_sales, and the models from the features.
    assert dg.AssetKey("demand_models") in graph.get(dg.AssetKey("features_daily")).child_keys
    assert defs.resolve_schedule_def("nightly_retrain").cron_schedule == "0 2 * * *"
    assert defs.resolve_sensor_def("landing_zone_sensor") is not None
    assert defs.resolve_job_def("ingest_to_forecast") is not None


def test_nightly_schedule_batches_every_tenant(instance: dg.DagsterInstance) -> None:
    keys = [f"{i:08d}-0000-0000-0000-000000000000" for i in range(250)]
    instance.add_dynamic_partitions(TENANTS, keys)
    context = dg.build_schedule_context(
        instance=instance, scheduled_execution_time=dt.datetime(2026, 1, 2, 2)
    )
    requests = nightly_retrain(context)
    ranges = [
        (r.tags["dagster/asset_partition_range_start"], r.tags["dagster/asset_partition_range_end"])
        for r in requests
    ]
    assert ranges == [(keys[0], keys[99]), (keys[100], keys[199]), (keys[200], keys[249])]
    assert len({r.run_key for r in requests}) == 3


def _materialize_tenant(
    defs: dg.Definitions, instance: dg.DagsterInstance, tenant: str
) -> dg.ExecuteInProcessResult:
    if not instance.has_dynamic_partition(TENANTS, tenant):
        instance.add_dynamic_partitions(TENANTS, [tenant])
    return defs.resolve_job_def("ingest_to_forecast").execute_in_process(
        instance=instance, partition_key=tenant
    )


def test_an_upload_ends_in_forecasts(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    settings: FluxSettings,
    pipeline_engine: sa.Engine,
    make_tenant,
) -> None:
    tenant = make_tenant("E2E Bistro", country="GB")
    with pipeline_engine.begin() as conn:
        receipt = receive_upload(
            conn, landing_zone(settings), tenant, "sales.csv", io.BytesIO(small_csv())
        )

    result = _materialize_tenant(defs, instance, str(tenant))
    assert result.success

    with pipeline_engine.connect() as conn:
        upload = conn.execute(
            sa.select(uploads).where(uploads.c.upload_id == receipt.upload_id)
        ).one()
        rows = conn.execute(sa.select(forecasts).where(forecasts.c.tenant_id == tenant)).all()
        champions = conn.execute(
            sa.select(model_versions).where(
                model_versions.c.tenant_id == tenant, model_versions.c.is_champion
            )
        ).all()
    assert upload.status == "loaded" and upload.rows_loaded > 0 and upload.rows_rejected == 0
    assert {r.metric for r in rows} == {"sales", "covers"}
    assert len(rows) == 2 * settings.forecast_horizon_days
    assert all(0 <= r.p10 <= r.p50 <= r.p90 for r in rows)
    assert min(r.date for r in rows) > upload.date_max
    assert {c.metric for c in champions} == {"sales", "covers"}
    assert {r.model_version for r in rows if r.metric == "sales"} == {
        c.version for c in champions if c.metric == "sales"
    }
    # A second run replaces the forecast rather than adding to it.
    assert _materialize_tenant(defs, instance, str(tenant)).success
    with pipeline_engine.connect() as conn:
        again = conn.execute(
            sa.select(sa.func.count()).select_from(forecasts).where(forecasts.c.tenant_id == tenant)
        )
        assert again.scalar_one() == len(rows)


def test_sensor_turns_a_landed_file_into_one_run_per_tenant(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    settings: FluxSettings,
    pipeline_engine: sa.Engine,
    make_tenant,
) -> None:
    tenant: UUID = make_tenant()
    # A file dropped straight into the landing zone, without an uploads row.
    from flux_pipelines.landing import upload_key

    zone = landing_zone(settings)
    upload_id = UUID(int=tenant.int ^ 1)
    zone.put(upload_key(tenant, upload_id), io.BytesIO(b"date,sales\n2025-01-01,10\n"))

    sensor = defs.resolve_sensor_def("landing_zone_sensor")
    resources = {"database": FluxDatabase(), "landing": LandingZoneResource()}
    with dg.build_sensor_context(instance=instance, resources=resources) as context:
        first = sensor(context)
    requests = [r for r in first.run_requests if r.partition_key == str(tenant)]
    assert len(requests) == 1
    assert any(str(tenant) in req.partition_keys for req in first.dynamic_partitions_requests)
    with pipeline_engine.connect() as conn:
        assert (
            conn.execute(
                sa.select(uploads.c.status).where(uploads.c.upload_id == upload_id)
            ).scalar_one()
            == "received"
        )
    # The same event again: the same run key, which Dagster runs only once.
    with dg.build_sensor_context(
        instance=instance, resources=resources, cursor=first.cursor
    ) as context:
        second = sensor(context)
    assert [r.run_key for r in second.run_requests if r.partition_key == str(tenant)] == [
        requests[0].run_key
    ]
