"""The landing zone failing: S3 (moto's server, behind a proxy that breaks on purpose) answering
500 or SlowDown or going away, during an upload and during the sensor's listing; and the local
folder's disk full (a small tmpfs). Transient errors are retried by botocore; past its retries
the upload is refused whole (503, nothing half-kept, nothing registered) and the next try works.
"""

from __future__ import annotations

import http.client
import socket
import subprocess
import threading
import typing
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlparse

import boto3
import dagster as dg
import pytest
import sqlalchemy as sa
from api_fixtures import MakeMember
from fastapi.testclient import TestClient
from moto_server import create_bucket
from sensor_requests import covering

from flux_api.main import create_app
from flux_core.db.tables import uploads
from flux_core.ingest.loader import load_uploads, pending_uploads_of
from flux_core.landing import (
    LandingZone,
    LandingZoneUnavailable,
    LocalLandingZone,
    S3LandingZone,
    landing_zone,
    upload_key,
)
from flux_core.settings import FluxSettings
from flux_pipelines.defs.ingest.sensors import build_landing_sensor, scan_landing_zone
from flux_pipelines.defs.orchestration.jobs import ingest_to_forecast_job
from flux_pipelines.defs.resources import FluxDatabase, LandingZoneResource

CSV = b"date,sales\n2025-04-01,120.50\n2025-04-02,98\n"
ERRORS = {
    500: b"<Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>",
    503: b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>",
}


@dataclass
class FaultRule:
    method: str  # PUT, GET, ...
    status: int
    times: int  # how many matching requests fail; a large number: until cleared
    listing: bool = False  # only ListObjects (GET with list-type=2)


@dataclass
class FaultyS3:
    """A real HTTP proxy on loopback in front of moto's server, failing chosen requests."""

    target: str
    rules: list[FaultRule] = field(default_factory=list)
    failed: int = 0
    server: ThreadingHTTPServer | None = None
    down: bool = False

    @property
    def endpoint(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self, port: int = 0) -> None:
        proxy = self
        upstream = urlparse(self.target)

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: typing.Any) -> None:
                pass

            def _handle(self) -> None:
                if proxy.down:  # a connection kept alive from before: it drops
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                rule = proxy._rule(self.command, self.path)
                if rule is not None:
                    proxy.failed += 1
                    payload = ERRORS[rule.status]
                    self.send_response(rule.status)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                connection = http.client.HTTPConnection(
                    upstream.hostname, upstream.port, timeout=30
                )
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                headers["Host"] = upstream.netloc
                connection.request(self.command, self.path, body=body, headers=headers)
                answer = connection.getresponse()
                data = answer.read()
                self.send_response(answer.status)
                for key, value in answer.getheaders():
                    if key.lower() not in ("transfer-encoding", "content-length", "connection"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                connection.close()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

        self.down = False
        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _rule(self, method: str, path: str) -> FaultRule | None:
        for rule in self.rules:
            listing = "list-type=2" in path
            if rule.method == method and rule.times > 0 and (listing or not rule.listing):
                if rule.listing and not listing:
                    continue
                rule.times -= 1
                return rule
        return None

    def stop(self) -> None:
        """S3 goes away: new connections are refused, open ones dropped."""
        assert self.server is not None
        self.down = True
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def faulty_s3(moto_endpoint: str) -> Iterator[FaultyS3]:
    proxy = FaultyS3(moto_endpoint)
    proxy.start()
    yield proxy
    if proxy.server is not None:
        try:
            proxy.stop()
        except OSError:
            pass


def _objects(moto_endpoint: str, bucket: str, tenant: uuid.UUID) -> list[str]:
    listed = boto3.client("s3", endpoint_url=moto_endpoint).list_objects_v2(
        Bucket=bucket, Prefix=f"uploads/tenant={tenant}/"
    )
    return [o["Key"] for o in listed.get("Contents", [])]


def _rows(engine: sa.Engine, tenant: uuid.UUID) -> list[typing.Any]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(uploads).where(uploads.c.tenant_id == tenant)).all())


def test_s3_failing_during_an_api_upload(
    faulty_s3: FaultyS3,
    moto_endpoint: str,
    settings: FluxSettings,
    pipeline_engine: sa.Engine,
    make_tenant,
    make_member: MakeMember,
) -> None:  # type: ignore[no-untyped-def]
    bucket = create_bucket(moto_endpoint)
    s3 = settings.model_copy(
        update={"landing_url": f"s3://{bucket}", "s3_endpoint_url": faulty_s3.endpoint}
    )
    tenant = make_tenant()
    headers = make_member(tenant, "manager").headers
    files = {"file": ("sales.csv", CSV, "text/csv")}
    with TestClient(create_app(s3)) as client:
        # Two 500s, then the store answers: botocore's retries carry the upload through.
        faulty_s3.rules = [FaultRule("PUT", 500, times=2)]
        first = client.post("/v1/uploads", headers=headers, files=files)
        assert first.status_code == 201, first.text
        assert faulty_s3.failed == 2

        # Throttled past every retry: refused whole, nothing kept, nothing registered.
        faulty_s3.rules = [FaultRule("PUT", 503, times=1000)]
        throttled = client.post("/v1/uploads", headers=headers, files=files)
        assert throttled.status_code == 503, throttled.text
        assert throttled.headers["retry-after"] == "30"
        assert "the file store is not reachable" in throttled.json()["detail"]

        # S3 gone altogether: the same.
        faulty_s3.rules = []
        port = faulty_s3.server.server_address[1]  # type: ignore[union-attr]
        faulty_s3.stop()
        gone = client.post("/v1/uploads", headers=headers, files=files)
        assert gone.status_code == 503, gone.text
        faulty_s3.start(port)  # back, on the same address
        again = client.post("/v1/uploads", headers=headers, files=files)
        assert again.status_code == 201, again.text

    rows = _rows(pipeline_engine, tenant)
    assert len(rows) == 2  # the two that were accepted; none of the refused ones
    assert sorted(_objects(moto_endpoint, bucket, tenant)) == sorted(r.object_key for r in rows)
    outcomes = load_uploads(pipeline_engine, landing_zone(s3), [r.upload_id for r in rows])
    assert sorted(o.status for o in outcomes) == ["duplicate", "loaded"]


class _Landing(LandingZoneResource):
    endpoint: str
    bucket: str

    def zone(self) -> LandingZone:
        return S3LandingZone(self.bucket, "", self.endpoint)


def test_s3_failing_during_the_sensors_listing(
    faulty_s3: FaultyS3,
    moto_endpoint: str,
    settings: FluxSettings,
    pipeline_engine: sa.Engine,
    make_tenant,
) -> None:  # type: ignore[no-untyped-def]
    bucket = create_bucket(moto_endpoint)
    s3 = settings.model_copy(
        update={"landing_url": f"s3://{bucket}", "s3_endpoint_url": moto_endpoint}
    )
    registered, stray = make_tenant(), make_tenant()
    with pipeline_engine.begin() as conn:
        import io

        from flux_core.ingest.uploads import receive_upload

        pending = receive_upload(conn, landing_zone(s3), registered, "a.csv", io.BytesIO(CSV))
    dropped = uuid.uuid4()
    boto3.client("s3", endpoint_url=moto_endpoint).put_object(
        Bucket=bucket, Key=upload_key(stray, dropped), Body=CSV
    )
    zone = S3LandingZone(bucket, "", faulty_s3.endpoint)
    faulty_s3.rules = [FaultRule("GET", 500, times=1000, listing=True)]
    with pytest.raises(LandingZoneUnavailable, match="could not list its files"):
        scan_landing_zone(pipeline_engine, zone, None)

    sensor = build_landing_sensor(ingest_to_forecast_job)
    resources = {
        "database": FluxDatabase(),
        "landing": _Landing(endpoint=faulty_s3.endpoint, bucket=bucket),
    }
    with dg.instance_for_test() as instance:
        with dg.build_sensor_context(
            instance=instance, resources=resources, cursor='{"after": "uploads/x"}'
        ) as context:
            result = sensor(context)
        # The registered upload still gets its run; the listing waits, from the same place.
        assert len(covering(result, registered, instance)) == 1
        assert result.cursor == '{"after": "uploads/x"}'
        faulty_s3.rules = []
        with dg.build_sensor_context(instance=instance, resources=resources) as context:
            result = sensor(context)
        assert len(covering(result, stray, instance)) == 1
    with pipeline_engine.connect() as conn:
        assert pending_uploads_of(conn, [stray]) == [dropped]
        assert pending_uploads_of(conn, [registered]) == [pending.upload_id]


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 256 KB tmpfs: a disk that fills up."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=False)


def test_a_full_disk_refuses_the_upload_whole_and_the_next_one_goes_in(
    small_disk: Path,
    settings: FluxSettings,
    pipeline_engine: sa.Engine,
    make_tenant,
    make_member: MakeMember,
) -> None:  # type: ignore[no-untyped-def]
    local = settings.model_copy(update={"landing_url": small_disk.as_uri()})
    tenant = make_tenant()
    headers = make_member(tenant, "owner").headers
    lines = "".join(f"2024-{1 + i % 12:02d}-{1 + i % 28:02d},{i}.5\n" for i in range(40_000))
    big = b"date,sales\n" + lines.encode()
    assert len(big) > 300 * 1024
    with TestClient(create_app(local)) as client:
        full = client.post(
            "/v1/uploads", headers=headers, files={"file": ("big.csv", big, "text/csv")}
        )
        assert full.status_code == 503, full.text
        assert "the file store is not reachable" in full.json()["detail"]
        assert _rows(pipeline_engine, tenant) == []
        leftovers = [p for p in small_disk.rglob("*") if p.is_file()]
        assert leftovers == []  # not even the half-written temporary file
        small = client.post(
            "/v1/uploads", headers=headers, files={"file": ("sales.csv", CSV, "text/csv")}
        )
        assert small.status_code == 201, small.text
    [row] = _rows(pipeline_engine, tenant)
    [outcome] = load_uploads(pipeline_engine, LocalLandingZone(small_disk), [row.upload_id])
    assert (outcome.status, outcome.rows_loaded) == ("loaded", 2)
