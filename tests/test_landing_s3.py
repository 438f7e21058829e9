"""The S3 landing zone, against moto's server over HTTP: the same code path as the local folder,
a sensor that pages with a cursor (one LIST of a bounded page per tick), and uploads that load once
however many times their event arrives."""

from __future__ import annotations

import hashlib
import io
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import boto3
import dagster as dg
import pytest
import sqlalchemy as sa
from moto_server import create_bucket
from sensor_requests import covering

from flux_core.db.tables import staged_sales, uploads
from flux_core.ingest.loader import load_upload, load_uploads
from flux_core.ingest.uploads import receive_upload
from flux_core.landing import (
    LandingZone,
    LocalLandingZone,
    S3LandingZone,
    UploadTooLarge,
    landing_zone,
    upload_key,
)
from flux_core.settings import FluxSettings
from flux_pipelines.defs.ingest.assets import staged_sales as staged_sales_asset
from flux_pipelines.defs.ingest.sensors import build_landing_sensor, scan_landing_zone
from flux_pipelines.defs.resources import FluxDatabase, LandingZoneResource

PREFIX = "landing/v1"
LISTS: list[dict[str, Any]] = []  # the parameters of every ListObjectsV2 call the zones made


def _count_lists(params: dict[str, Any], **_: Any) -> None:
    LISTS.append(dict(params))


def _s3_zone(endpoint: str, bucket: str) -> S3LandingZone:
    zone = S3LandingZone(bucket, PREFIX, endpoint)
    zone.client.meta.events.register("provide-client-params.s3.ListObjectsV2", _count_lists)
    return zone


@pytest.fixture
def s3_zone(moto_endpoint: str) -> S3LandingZone:
    return _s3_zone(moto_endpoint, create_bucket(moto_endpoint))


@pytest.fixture(params=["local", "s3"])
def any_zone(request: pytest.FixtureRequest, tmp_path: Path) -> LandingZone:
    if request.param == "local":
        return LocalLandingZone(tmp_path)
    endpoint = request.getfixturevalue("moto_endpoint")
    return _s3_zone(endpoint, create_bucket(endpoint))


def test_put_open_and_list_keys_behave_alike(any_zone: LandingZone) -> None:
    body = b"date,sales\n2025-01-01,10\n" * 1000
    stored = any_zone.put("uploads/tenant=a/2.csv", io.BytesIO(body))
    any_zone.put("uploads/tenant=a/1.csv", io.BytesIO(b"x"))
    any_zone.put("uploads/tenant=b/3.csv", io.BytesIO(b"y"))
    any_zone.put("elsewhere/4.csv", io.BytesIO(b"z"))

    assert stored.size_bytes == len(body) and len(stored.sha256) == 64
    with any_zone.open("uploads/tenant=a/2.csv") as raw:
        assert raw.read() == body
    assert any_zone.list_keys("uploads/", None, 10) == [
        "uploads/tenant=a/1.csv",
        "uploads/tenant=a/2.csv",
        "uploads/tenant=b/3.csv",
    ]
    assert any_zone.list_keys("uploads/", "uploads/tenant=a/1.csv", 1) == ["uploads/tenant=a/2.csv"]
    assert any_zone.list_keys("uploads/", "uploads/tenant=b/3.csv", 10) == []
    with pytest.raises(UploadTooLarge):
        any_zone.put("uploads/tenant=a/big.csv", io.BytesIO(body), max_bytes=100)
    assert "uploads/tenant=a/big.csv" not in any_zone.list_keys("uploads/", None, 10)


def test_the_settings_choose_s3_with_its_endpoint(moto_endpoint: str) -> None:
    bucket = create_bucket(moto_endpoint)
    zone = landing_zone(
        FluxSettings(landing_url=f"s3://{bucket}/{PREFIX}", s3_endpoint_url=moto_endpoint)
    )
    assert isinstance(zone, S3LandingZone)
    zone.put("uploads/k.csv", io.BytesIO(b"abc"))
    raw = boto3.client("s3", endpoint_url=moto_endpoint)
    assert raw.get_object(Bucket=bucket, Key=f"{PREFIX}/uploads/k.csv")["Body"].read() == b"abc"


def test_an_upload_received_into_s3_loads(
    s3_zone: S3LandingZone, pipeline_engine: sa.Engine, make_tenant
) -> None:
    tenant = make_tenant()
    body = b"date,sales,covers\n2025-02-01,100.50,10\n2025-02-02,oops,11\n2025-02-03,80,9\n"
    with pipeline_engine.begin() as conn:
        receipt = receive_upload(conn, s3_zone, tenant, "s.csv", io.BytesIO(body))
    head = s3_zone.client.head_object(Bucket=s3_zone.bucket, Key=f"{PREFIX}/{receipt.object_key}")
    assert head["ContentLength"] == len(body)
    assert head["Metadata"]["sha256"] == receipt.sha256

    outcome = load_upload(pipeline_engine, s3_zone, receipt.upload_id)

    assert (outcome.status, outcome.rows_loaded, outcome.rows_rejected) == ("loaded", 2, 1)
    with pipeline_engine.connect() as conn:
        staged = conn.execute(
            sa.select(staged_sales.c.metric, sa.func.sum(staged_sales.c.value))
            .where(staged_sales.c.tenant_id == tenant)
            .group_by(staged_sales.c.metric)
        ).all()
    assert {m: float(v) for m, v in staged} == {"sales": 180.5, "covers": 19.0}


def _drop(endpoint: str, bucket: str, tenant: UUID, upload_id: UUID, body: bytes) -> None:
    """A file put straight into the bucket, as another system (or a person) would."""
    boto3.client("s3", endpoint_url=endpoint).put_object(
        Bucket=bucket, Key=f"{PREFIX}/{upload_key(tenant, upload_id)}", Body=body
    )


def _registered(engine: sa.Engine, ids: list[UUID]) -> set[UUID]:
    with engine.connect() as conn:
        return set(
            conn.execute(
                sa.select(uploads.c.upload_id).where(uploads.c.upload_id.in_(ids))
            ).scalars()
        )


def test_the_scan_pages_with_a_cursor_and_never_lists_the_whole_bucket(
    moto_endpoint: str,
    s3_zone: S3LandingZone,
    pipeline_engine: sa.Engine,
    make_tenant,
) -> None:
    tenants = [make_tenant(), make_tenant()]
    dropped = [uuid4() for _ in range(7)]
    for i, upload_id in enumerate(dropped):
        _drop(
            moto_endpoint, s3_zone.bucket, tenants[i % 2], upload_id, b"date,sales\n2025-01-01,1\n"
        )
    stranger, stray = uuid4(), uuid4()  # a file of a tenant we do not know is left alone
    _drop(moto_endpoint, s3_zone.bucket, stranger, stray, b"date,sales\n")

    LISTS.clear()
    after: str | None = None
    pages: list[list[str]] = []
    for _ in range(3):
        scan = scan_landing_zone(pipeline_engine, s3_zone, after, page_size=3)
        pages.append(scan.keys)
        after = scan.next_after
    # One LIST per tick, each asking for one page from where the last one stopped.
    assert [call["MaxKeys"] for call in LISTS] == [3, 3, 3]
    assert "StartAfter" not in LISTS[0]
    assert [call["StartAfter"] for call in LISTS[1:]] == [
        f"{PREFIX}/{pages[0][-1]}",
        f"{PREFIX}/{pages[1][-1]}",
    ]
    assert [len(p) for p in pages] == [3, 3, 2] and after is None  # short page: back to the top
    assert sorted(k for p in pages for k in p) == sorted(
        [upload_key(tenants[i % 2], u) for i, u in enumerate(dropped)]
        + [upload_key(stranger, stray)]
    )
    assert _registered(pipeline_engine, [*dropped, stray]) == set(dropped)


class _S3Landing(LandingZoneResource):
    """The landing resource pointed at one moto bucket, its LIST calls counted."""

    endpoint: str
    bucket: str

    def zone(self) -> LandingZone:
        return _s3_zone(self.endpoint, self.bucket)


def test_the_sensor_registers_dropped_files_a_page_per_tick(
    moto_endpoint: str,
    pipeline_engine: sa.Engine,
    make_tenant: Callable[..., UUID],
) -> None:
    bucket = create_bucket(moto_endpoint)
    tenant = make_tenant()
    dropped = sorted(uuid4() for _ in range(5))
    for upload_id in dropped:
        _drop(
            moto_endpoint,
            bucket,
            tenant,
            upload_id,
            f"date,sales\n2025-01-01,{upload_id.int % 97}\n".encode(),
        )
    job = dg.define_asset_job("ingest_only", selection=[staged_sales_asset])
    sensor = build_landing_sensor(job, page_size=2)
    resources = {
        "database": FluxDatabase(),
        "landing": _S3Landing(endpoint=moto_endpoint, bucket=bucket),
    }
    LISTS.clear()
    cursor: str | None = None
    seen: list[set[UUID]] = []
    run_keys: list[str] = []
    with dg.instance_for_test() as instance:
        for _ in range(3):
            with dg.build_sensor_context(
                instance=instance, resources=resources, cursor=cursor
            ) as context:
                result = sensor(context)
            cursor = result.cursor
            seen.append(_registered(pipeline_engine, dropped))
            run_keys += [r.run_key for r in covering(result, tenant, instance)]
    assert [call["MaxKeys"] for call in LISTS] == [2, 2, 2]
    assert [len(s) for s in seen] == [2, 4, 5]
    assert json.loads(cursor or "{}") == {"after": None}
    # Each tick asks for a run of the tenant's pending uploads; the run key names them, so a
    # repeated tick with nothing new repeats the key (Dagster starts one run per key).
    assert len(run_keys) == 3 and len(set(run_keys)) == 3
    with (
        dg.instance_for_test() as instance,
        dg.build_sensor_context(instance=instance, resources=resources, cursor=cursor) as context,
    ):
        again = sensor(context)
        assert [r.run_key for r in covering(again, tenant, instance)] == run_keys[-1:]


def test_duplicate_events_never_load_an_upload_twice(
    s3_zone: S3LandingZone, pipeline_engine: sa.Engine, make_tenant
) -> None:
    tenant = make_tenant()
    body = b"date,sales\n" + b"".join(
        f"2024-{m:02d}-{d:02d},{m * d}\n".encode() for m in range(1, 13) for d in range(1, 29)
    )
    with pipeline_engine.begin() as conn:
        upload_id = receive_upload(conn, s3_zone, tenant, "s.csv", io.BytesIO(body)).upload_id

    barrier = threading.Barrier(4)
    outcomes = []

    def load() -> None:
        barrier.wait()
        outcomes.append(load_upload(pipeline_engine, s3_zone, upload_id))

    threads = [threading.Thread(target=load) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(o.skipped for o in outcomes) == [False, True, True, True]
    assert {o.status for o in outcomes} == {"loaded"}
    with pipeline_engine.connect() as conn:
        count, total = conn.execute(
            sa.select(sa.func.count(), sa.func.sum(staged_sales.c.value)).where(
                staged_sales.c.tenant_id == tenant
            )
        ).one()
    assert (count, float(total)) == (
        12 * 28,
        float(sum(m * d for m in range(1, 13) for d in range(1, 29))),
    )


def test_a_dropped_copy_of_a_loaded_file_is_recognised_by_its_content(
    moto_endpoint: str,
    s3_zone: S3LandingZone,
    pipeline_engine: sa.Engine,
    make_tenant,
) -> None:
    tenant = make_tenant()
    body = b"date,sales\n2025-02-01,10.50\n2025-02-02,12\n"
    first, copy = uuid4(), uuid4()
    for upload_id in (first, copy):  # the same bytes dropped twice, under two keys
        _drop(moto_endpoint, s3_zone.bucket, tenant, upload_id, body)
    scan_landing_zone(pipeline_engine, s3_zone, None)

    outcomes = load_uploads(pipeline_engine, s3_zone, [first, copy])
    assert [o.status for o in outcomes] == ["loaded", "duplicate"]
    with pipeline_engine.connect() as conn:
        stored = conn.execute(
            sa.select(uploads.c.content_sha256, uploads.c.size_bytes).where(
                uploads.c.upload_id.in_([first, copy])
            )
        ).all()
        rows = conn.execute(
            sa.select(sa.func.count()).where(staged_sales.c.tenant_id == tenant)
        ).scalar_one()
    assert set(stored) == {(hashlib.sha256(body).hexdigest(), len(body))}
    assert rows == 2  # loaded once
