"""The whole path, for real: definitions, a tenant's upload through every asset to forecasts."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from uuid import UUID

import dagster as dg
import pytest
import sqlalchemy as sa
from api_fixtures import MakeMember
from dagster import DagsterRunStatus
from dagster._core.storage.tags import WILL_RETRY_TAG
from dagster._core.test_utils import create_run_for_test
from fastapi.testclient import TestClient
from sensor_requests import covering

from flux_api.main import create_app
from flux_core.db.tables import forecasts, model_versions, uploads
from flux_core.demo import RESTAURANTS, demo_sales
from flux_core.landing import landing_zone
from flux_core.settings import FluxSettings
from flux_core.training.freshness import tenants_to_work_on
from flux_pipelines.defs.batches import TenantBatch, current_window, keys_in_range, nightly_batches
from flux_pipelines.defs.ingest.sensors import upload_run_requests
from flux_pipelines.defs.orchestration.jobs import nightly_retrain
from flux_pipelines.defs.resources import FluxDatabase, LandingZoneResource
from flux_pipelines.defs.tenants import TENANTS, run_tenants, tenants_partitions

HISTORY_DAYS = 160


@pytest.fixture(scope="module")
def defs() -> dg.Definitions:
    from flux_pipelines.definitions import defs

    return defs


@pytest.fixture
def client(settings: FluxSettings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client


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
    # A launched run executes its chain of steps in its own process: no process start (and
    # import of the code location) per step.
    for name in ("ingest_to_forecast", "retrain_and_forecast"):
        assert defs.resolve_job_def(name).executor_def is dg.in_process_executor

    # The checks over every tenant run once a day, after the nightly, not in each batched run.
    def checks(job: str) -> set[str]:
        graph = defs.resolve_job_def(job).asset_layer.asset_graph
        return {key.name for key in graph.asset_check_keys}

    health = {"champions_current", "forecasts_current"}
    assert checks("model_health") == health
    assert not health & (checks("ingest_to_forecast") | checks("retrain_and_forecast"))
    assert defs.resolve_schedule_def("daily_model_health").cron_schedule == "0 6 * * *"


def nightly_requests(instance: dg.DagsterInstance, at: dt.datetime) -> list[dg.RunRequest]:
    # As a context manager: its resources are torn down here, not whenever the collector comes by
    # (which reset Dagster's current instance to this test's long after it was gone).
    with dg.build_schedule_context(
        instance=instance, scheduled_execution_time=at, resources={"database": FluxDatabase()}
    ) as context:
        return list(nightly_retrain(context))


def nightly_tenants(instance: dg.DagsterInstance, at: dt.datetime) -> set[str]:
    """The tenants the nightly scheduled ``at`` would retrain: in its runs' ranges, and not passed
    over by their assets as current."""
    engine = FluxDatabase().engine()
    return {
        tenant
        for request in nightly_requests(instance, at)
        for tenant in tenants_to_work_on(
            current_window(request.tags), engine, run_tenants(request.tags, instance) or []
        )[0]
    }


def test_nightly_schedule_batches_every_tenant(instance: dg.DagsterInstance) -> None:
    keys = [f"{i:08d}-0000-0000-0000-000000000000" for i in range(250)]
    instance.add_dynamic_partitions(TENANTS, keys)
    requests = nightly_requests(instance, dt.datetime(2026, 1, 2, 2, tzinfo=dt.UTC))
    ranges = [
        (r.tags["dagster/asset_partition_range_start"], r.tags["dagster/asset_partition_range_end"])
        for r in requests
    ]
    assert ranges == [(keys[0], keys[99]), (keys[100], keys[199]), (keys[200], keys[249])]
    assert len({r.run_key for r in requests}) == 3


def test_nightly_ranges_never_take_more_runs_than_every_tenant_would() -> None:
    keys = [f"{i:08d}-0000-0000-0000-000000000000" for i in range(1000)]
    # Few tenants to leave out, together: exact ranges, none of them retrained.
    wanted = set(keys) - set(keys[100:400])
    ranges = nightly_batches(keys, wanted)
    assert ranges == [
        (keys[0], keys[99]),
        (keys[400], keys[499]),
        *[(keys[i], keys[i + 99]) for i in range(500, 1000, 100)],
    ]
    # Every other tenant left out: exact ranges would be 500 runs of one tenant. Instead at most
    # the 10 runs of every tenant, each from a wanted tenant, covering every wanted tenant.
    wanted = set(keys[::2])
    ranges = nightly_batches(keys, wanted)
    assert len(ranges) <= 10
    covered = [k for first, last in ranges for k in keys_in_range(keys, first, last)]
    assert wanted <= set(covered) and len(covered) == len(set(covered))
    assert all(first in wanted and last in wanted for first, last in ranges)
    assert all(len(keys_in_range(keys, first, last)) <= 100 for first, last in ranges)
    # Scattered but few: exact ranges while they take no more runs than every tenant would.
    wanted = {keys[5], keys[50], keys[150], keys[990]}
    assert nightly_batches(keys, wanted) == [(k, k) for k in sorted(wanted)]


def test_an_upload_through_the_api_ends_in_forecasts_only_its_tenant_reads(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    settings: FluxSettings,
    pipeline_engine: sa.Engine,
    make_tenant,
    make_member: MakeMember,
    client: TestClient,
) -> None:
    tenant, other = make_tenant("E2E Bistro", country="GB"), make_tenant()
    owner, stranger = make_member(tenant, "owner"), make_member(other, "owner")
    sent = client.post(
        "/v1/uploads", headers=owner.headers, files={"file": ("sales.csv", small_csv(), "text/csv")}
    )
    assert sent.status_code == 201, sent.text
    upload_id = sent.json()["upload_id"]

    # The sensor turns the upload into a run of the tenant's partition; the run does the rest.
    resources = {"database": FluxDatabase(), "landing": LandingZoneResource()}
    with dg.build_sensor_context(instance=instance, resources=resources) as context:
        evaluation = defs.resolve_sensor_def("landing_zone_sensor")(context)
    assert len(covering(evaluation, tenant, instance)) == 1
    # Run for this tenant alone: the sensor's batch may hold other tests' tenants.
    job = defs.resolve_job_def("ingest_to_forecast")
    assert job.execute_in_process(instance=instance, partition_key=str(tenant)).success

    upload = client.get(f"/v1/uploads/{upload_id}", headers=owner.headers).json()
    assert upload["status"] == "loaded" and upload["rows_loaded"] == HISTORY_DAYS
    page = client.get("/v1/forecasts", params={"limit": 500}, headers=owner.headers).json()
    rows = page["items"]
    assert {r["metric"] for r in rows} == {"sales", "covers"}
    assert len(rows) == 2 * settings.forecast_horizon_days
    assert all(0 <= r["p10"] <= r["p50"] <= r["p90"] for r in rows)
    assert min(r["date"] for r in rows) > upload["date_max"]
    assert client.get("/v1/forecasts", headers=stranger.headers).json()["items"] == []
    assert client.get(f"/v1/uploads/{upload_id}", headers=stranger.headers).status_code == 404

    with pipeline_engine.connect() as conn:
        champions = conn.execute(
            sa.select(model_versions).where(
                model_versions.c.tenant_id == tenant, model_versions.c.is_champion
            )
        ).all()
    assert {c.metric for c in champions} == {"sales", "covers"}
    assert {r["model_version"] for r in rows if r["metric"] == "sales"} == {
        c.version for c in champions if c.metric == "sales"
    }
    # The Dagster UI shows each tenant's backtest accuracy on its own partition.
    [record] = instance.fetch_materializations(
        dg.AssetRecordsFilter(
            asset_key=dg.AssetKey("demand_models"), asset_partitions=[str(tenant)]
        ),
        limit=1,
    ).records
    shown = record.asset_materialization.metadata
    for champion in champions:
        assert shown[f"{champion.metric}/champion"].value == (
            f"{champion.model_kind} v{champion.version}"
        )
        assert shown[f"{champion.metric}/wape"].value == pytest.approx(champion.wape, abs=1e-4)
        assert 0 <= shown[f"{champion.metric}/coverage_p10_p90"].value <= 1
    # A second run replaces the forecast rather than adding to it.
    assert job.execute_in_process(instance=instance, partition_key=str(tenant)).success
    with pipeline_engine.connect() as conn:
        again = conn.execute(
            sa.select(sa.func.count()).select_from(forecasts).where(forecasts.c.tenant_id == tenant)
        )
        assert again.scalar_one() == len(rows)

    # The nightly leaves the tenant alone: the upload run trained it on its latest data, hours
    # before. Every other condition brings it back.
    champion = (model_versions.c.tenant_id == tenant) & model_versions.c.is_champion
    late_upload = uploads.c.upload_id == UUID(upload_id)
    with pipeline_engine.connect() as conn:
        trained_at = conn.execute(
            sa.select(sa.func.min(model_versions.c.trained_at)).where(champion)
        ).scalar_one()
        received_at = conn.execute(sa.select(uploads.c.received_at).where(late_upload)).scalar_one()
    instance.add_dynamic_partitions(TENANTS, [str(other)])
    tonight = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    assert str(tenant) not in nightly_tenants(instance, tonight)
    # A tenant without sales has no champion to check; one that an upload run is training waits.
    assert str(other) in nightly_tenants(instance, tonight)
    in_upload_run = create_run_for_test(
        instance,
        job_name="ingest_to_forecast",
        tags={"dagster/partition": str(other)},
        status=DagsterRunStatus.STARTED,
    )
    assert str(other) not in nightly_tenants(instance, tonight)
    instance.delete_run(in_upload_run.run_id)
    # Trained longer ago than FLUX_NIGHTLY_SKIP_HOURS (12) before the nightly: retrained.
    assert str(tenant) in nightly_tenants(instance, trained_at + dt.timedelta(hours=12.1))
    # A series without a champion (its training failed): retrained.
    with pipeline_engine.begin() as conn:
        covers = champion & (model_versions.c.metric == "covers")
        version = conn.execute(
            sa.update(model_versions)
            .where(covers)
            .values(is_champion=False)
            .returning(model_versions.c.version)
        ).scalar_one()
    assert str(tenant) in nightly_tenants(instance, tonight)
    with pipeline_engine.begin() as conn:
        conn.execute(
            sa.update(model_versions)
            .where(model_versions.c.tenant_id == tenant, model_versions.c.metric == "covers")
            .where(model_versions.c.version == version)
            .values(is_champion=True)
        )
    # An upload received after the training, even one loaded already: retrained.
    with pipeline_engine.begin() as conn:
        conn.execute(
            sa.update(uploads)
            .where(late_upload)
            .values(received_at=trained_at + dt.timedelta(seconds=1))
        )
    assert str(tenant) in nightly_tenants(instance, tonight)
    with pipeline_engine.begin() as conn:
        conn.execute(sa.update(uploads).where(late_upload).values(received_at=received_at))
    assert str(tenant) not in nightly_tenants(instance, tonight)
    # A nightly run whose range still holds the tenant (nightly_batches) passes over it in both
    # steps, by the window the schedule tagged it with: no new version, the same forecasts.
    nightly = defs.resolve_job_def("retrain_and_forecast")

    def trained_and_forecast() -> tuple[int, dt.datetime]:
        with pipeline_engine.connect() as conn:
            versions = conn.execute(
                sa.select(sa.func.count())
                .select_from(model_versions)
                .where(model_versions.c.tenant_id == tenant)
            ).scalar_one()
            written = conn.execute(
                sa.select(sa.func.max(forecasts.c.created_at)).where(
                    forecasts.c.tenant_id == tenant
                )
            ).scalar_one()
        return versions, written

    before = trained_and_forecast()
    window = TenantBatch(
        str(tenant), str(tenant), current_window=(tonight - dt.timedelta(hours=12), tonight)
    ).tags(with_range=False)
    run = nightly.execute_in_process(instance=instance, partition_key=str(tenant), tags=window)
    assert run.success
    assert trained_and_forecast() == before
    for asset in ("demand_models", "demand_forecasts"):
        [materialization] = run.asset_materializations_for_node(asset)
        assert materialization.metadata["tenants_current"].value == [str(tenant)]

    # The nightly's run of a tenant with no sales yet succeeds; the tenant is skipped, not failed,
    # and no retry sensor asks for it again.
    assert nightly.execute_in_process(instance=instance, partition_key=str(other)).success
    for asset, skipped in (
        ("demand_models", "without_data"),
        ("demand_forecasts", "without_model"),
    ):
        [record] = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[str(other)]),
            limit=1,
        ).records
        metadata = record.asset_materialization.metadata
        assert metadata[f"tenants_{skipped}"].value == [str(other)]
        assert metadata["tenants_failed"].value == {}
    for sensor in ("retry_failed_training", "retry_failed_forecasts"):
        with dg.build_sensor_context(instance=instance) as context:
            requests = defs.resolve_sensor_def(sensor)(context).run_requests or []
        assert str(other) not in {r.partition_key for r in requests}


def test_sensor_turns_a_landed_file_into_a_run_of_its_tenant(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    settings: FluxSettings,
    pipeline_engine: sa.Engine,
    make_tenant,
) -> None:
    tenant: UUID = make_tenant()
    # A file dropped straight into the landing zone, without an uploads row.
    from flux_core.landing import upload_key

    zone = landing_zone(settings)
    upload_id = UUID(int=tenant.int ^ 1)
    zone.put(upload_key(tenant, upload_id), io.BytesIO(b"date,sales\n2025-01-01,10\n"))

    sensor = defs.resolve_sensor_def("landing_zone_sensor")
    resources = {"database": FluxDatabase(), "landing": LandingZoneResource()}
    with dg.build_sensor_context(instance=instance, resources=resources) as context:
        first = sensor(context)
    requests = covering(first, tenant, instance)
    assert len(requests) == 1
    assert any(str(tenant) in req.partition_keys for req in first.dynamic_partitions_requests)
    with pipeline_engine.connect() as conn:
        assert (
            conn.execute(
                sa.select(uploads.c.status).where(uploads.c.upload_id == upload_id)
            ).scalar_one()
            == "received"
        )

    def tick() -> list[dg.RunRequest]:
        with dg.build_sensor_context(
            instance=instance, resources=resources, cursor=first.cursor
        ) as context:
            return covering(sensor(context), tenant, instance)

    # The same event again: the same run key, which Dagster runs only once.
    assert [r.run_key for r in tick()] == [requests[0].run_key]
    # While a run covering the tenant is under way, the tenant waits for it: no second run.
    running = create_run_for_test(
        instance,
        job_name="ingest_to_forecast",
        tags=requests[0].tags,
        status=DagsterRunStatus.STARTED,
    )
    assert tick() == []
    # A failed run that Dagster will run again (run_retries) holds the tenant back too.
    instance.delete_run(running.run_id)
    retried = create_run_for_test(
        instance,
        job_name="ingest_to_forecast",
        tags={**requests[0].tags, WILL_RETRY_TAG: "true"},
        status=DagsterRunStatus.FAILURE,
    )
    assert tick() == []
    # A run that ended for good without loading the upload leaves it pending: asked for again.
    instance.delete_run(retried.run_id)
    create_run_for_test(
        instance,
        job_name="ingest_to_forecast",
        tags=requests[0].tags,
        status=DagsterRunStatus.FAILURE,
    )
    assert [r.run_key for r in tick()] == [requests[0].run_key]


def test_uploads_of_many_tenants_start_batched_runs() -> None:
    keys = [f"{i:08d}-0000-0000-0000-000000000000" for i in range(250)]
    pending = {key: [f"upload-{i}"] for i, key in enumerate(keys) if i != 120}
    requests = upload_run_requests(pending, keys, busy={keys[5]})
    ranges = [
        (r.tags["dagster/asset_partition_range_start"], r.tags["dagster/asset_partition_range_end"])
        for r in requests
    ]
    # At most 100 tenants a run; no run covers the tenant without uploads nor the busy one.
    assert ranges == [
        (keys[0], keys[4]),
        (keys[6], keys[105]),
        (keys[106], keys[119]),
        (keys[121], keys[220]),
        (keys[221], keys[249]),
    ]
    assert [r.tags["flux/uploads"] for r in requests] == ["5", "100", "14", "100", "29"]
    assert len({r.run_key for r in requests}) == len(requests)
    # The same uploads ask for the same runs; one more upload changes its run's key only.
    again = upload_run_requests({**pending, keys[0]: ["upload-0", "later"]}, keys, {keys[5]})
    changed = [a.run_key != b.run_key for a, b in zip(requests, again, strict=True)]
    assert changed == [True, False, False, False, False]
