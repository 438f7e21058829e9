"""Uploads through the API: who may send, where the file lands, and what is too large."""

from __future__ import annotations

import asyncio
import codecs
import gzip
import io
import tarfile
import uuid
import zipfile
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from api_fixtures import MakeMember, assert_problem
from fastapi.testclient import TestClient

from flux_api.main import create_app
from flux_core.landing import landing_zone, upload_key
from flux_core.settings import FluxSettings
from flux_core.users import UserRole

CSV = b"date,sales,covers\n2025-01-01,1234.50,87\n2025-01-02,998.00,65\n"


def _send(client: TestClient, headers: dict[str, str], content: bytes = CSV) -> httpx.Response:
    return client.post(
        "/v1/uploads", headers=headers, files={"file": ("sales.csv", content, "text/csv")}
    )


@pytest.mark.parametrize("role", ["owner", "manager"])
def test_owner_and_manager_upload_into_the_landing_zone(
    role: UserRole, client: TestClient, settings: FluxSettings, make_tenant, make_member: MakeMember
) -> None:  # type: ignore[no-untyped-def]
    tenant = make_tenant()
    headers = make_member(tenant, role).headers
    response = _send(client, headers)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "received"
    upload_id = uuid.UUID(body["upload_id"])
    assert response.headers["location"] == f"/v1/uploads/{upload_id}"

    with landing_zone(settings).open(upload_key(tenant, upload_id)) as stored:
        assert stored.read() == CSV

    detail = client.get(f"/v1/uploads/{upload_id}", headers=headers)
    assert detail.status_code == 200
    assert detail.json()["status"] == "received"
    assert detail.json()["filename"] == "sales.csv"
    assert detail.json()["size_bytes"] == len(CSV)
    assert detail.json()["rejected_rows"] == []
    listed = client.get("/v1/uploads", headers=headers).json()
    assert [u["upload_id"] for u in listed["items"]] == [str(upload_id)]


def test_chef_cannot_upload(
    client: TestClient, settings: FluxSettings, make_tenant, make_member: MakeMember
) -> None:  # type: ignore[no-untyped-def]
    tenant = make_tenant()
    chef = make_member(tenant, "chef").headers
    response = _send(client, chef)
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("application/problem+json")
    assert client.get("/v1/uploads", headers=chef).status_code == 403
    # The chef still reads forecasts.
    assert client.get("/v1/forecasts", headers=chef).status_code == 200


def test_uploads_list_newest_first_in_pages(
    client: TestClient, make_tenant, make_member: MakeMember
) -> None:  # type: ignore[no-untyped-def]
    headers = make_member(make_tenant(), "owner").headers
    sent = [_send(client, headers, CSV + f"# {i}\n".encode()).json()["upload_id"] for i in range(3)]
    first = client.get("/v1/uploads", headers=headers, params={"limit": 2}).json()
    second = client.get("/v1/uploads", headers=headers, params={"limit": 2, "offset": 2}).json()
    assert first["total"] == second["total"] == 3
    assert [u["upload_id"] for u in first["items"] + second["items"]] == sent[::-1]
    assert client.get("/v1/uploads", headers=headers, params={"limit": 0}).status_code == 422


def test_over_limit_upload_is_413_and_leaves_nothing(
    settings: FluxSettings, make_tenant, make_member: MakeMember
) -> None:  # type: ignore[no-untyped-def]
    small = TestClient(create_app(settings.model_copy(update={"upload_max_bytes": 16})))
    tenant = make_tenant()
    headers = make_member(tenant, "manager").headers
    response = _send(small, headers)
    assert response.status_code == 413, response.text
    assert response.json()["status"] == 413
    assert small.get("/v1/uploads", headers=headers).json()["total"] == 0
    assert landing_zone(settings).list_keys(f"uploads/tenant={tenant}/", None, 10) == []
    # A file within the limit goes through the same app.
    assert _send(small, headers, b"date,sales\n").status_code == 201


def test_unknown_and_malformed_upload_ids(
    client: TestClient, make_tenant, make_member: MakeMember
) -> None:  # type: ignore[no-untyped-def]
    headers = make_member(make_tenant(), "owner").headers
    assert client.get(f"/v1/uploads/{uuid.uuid4()}", headers=headers).status_code == 404
    malformed = client.get("/v1/uploads/not-a-uuid", headers=headers)
    assert malformed.status_code == 422
    assert malformed.headers["content-type"].startswith("application/problem+json")


def test_a_server_fault_is_a_problem_without_a_trace(
    settings: FluxSettings, make_tenant, make_member: MakeMember
) -> None:  # type: ignore[no-untyped-def]
    # A landing zone that cannot exist: the upload fails inside the server, not in the request.
    broken = create_app(settings.model_copy(update={"landing_url": "ftp://nowhere/landing"}))
    client = TestClient(broken, raise_server_exceptions=False)
    response = _send(client, make_member(make_tenant(), "owner").headers)
    assert_problem(response, 500, "Internal Server Error", "an unexpected error occurred")


def _zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
    return buffer.getvalue()


def _tar_bytes() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        info = tarfile.TarInfo("sales.csv")
        info.size = len(CSV)
        archive.addfile(info, io.BytesIO(CSV))
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (_zip_bytes(), "ZIP archive"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "PDF"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64, "Excel 97-2003"),
        (_tar_bytes(), "tar archive"),
        (b"date,sales\n2025-01-01,\x00\x00\x01\x02\n", "NUL bytes"),
        (gzip.compress(_zip_bytes()), "inside gzip"),
        (b"\x1f\x8b\x08\x00garbage-not-deflate", "damaged gzip"),
    ],
)
def test_files_that_are_not_delimited_text_are_415(
    content: bytes,
    says: str,
    client: TestClient,
    settings: FluxSettings,
    make_tenant,
    make_member: MakeMember,
) -> None:  # type: ignore[no-untyped-def]
    tenant = make_tenant()
    headers = make_member(tenant, "manager").headers
    response = _send(client, headers, content)
    assert response.status_code == 415, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert says in response.json()["detail"] and "CSV" in response.json()["detail"]
    assert client.get("/v1/uploads", headers=headers).json()["total"] == 0
    assert landing_zone(settings).list_keys(f"uploads/tenant={tenant}/", None, 10) == []


@pytest.mark.parametrize(
    "content",
    [
        "date\tsales\r\n2025-01-01\t12.5\r\n".encode("utf-16"),  # "Unicode text": a BOM, tabs
        codecs.BOM_UTF16_LE + "date,sales\n2025-01-01,12.5\n".encode("utf-16-le"),
        codecs.BOM_UTF16_BE + "date,sales\n2025-01-01,12.5\n".encode("utf-16-be"),
        gzip.compress("date,sales\n2025-01-01,12.5\n".encode("utf-16")),
    ],
    ids=["utf16-bom-tabs", "utf16le", "utf16be", "gzip-utf16"],
)
def test_utf16_text_is_accepted_as_sent(
    content: bytes, client: TestClient, settings: FluxSettings, make_tenant, make_member: MakeMember
) -> None:  # type: ignore[no-untyped-def]
    tenant = make_tenant()
    response = _send(client, make_member(tenant, "manager").headers, content)
    assert response.status_code == 201, response.text
    key = upload_key(tenant, uuid.UUID(response.json()["upload_id"]))
    with landing_zone(settings).open(key) as stored:
        assert stored.read() == content


def test_gzip_compressed_csv_is_accepted_as_sent(
    client: TestClient, settings: FluxSettings, make_tenant, make_member: MakeMember
) -> None:  # type: ignore[no-untyped-def]
    tenant = make_tenant()
    compressed = gzip.compress(CSV)
    response = _send(client, make_member(tenant, "owner").headers, compressed)
    assert response.status_code == 201, response.text
    key = upload_key(tenant, uuid.UUID(response.json()["upload_id"]))
    with landing_zone(settings).open(key) as stored:
        assert stored.read() == compressed


def test_a_body_that_is_not_multipart_is_415(
    client: TestClient, make_tenant, make_member: MakeMember
) -> None:  # type: ignore[no-untyped-def]
    headers = {**make_member(make_tenant(), "owner").headers, "Content-Type": "text/csv"}
    response = client.post("/v1/uploads", headers=headers, content=CSV)
    assert response.status_code == 415
    assert "multipart/form-data" in response.json()["detail"]


BOUNDARY = "flux-test-boundary"


def _raw_upload(
    app: Any, headers: dict[str, str], chunks: Iterator[bytes]
) -> tuple[int | None, int]:
    """POST /v1/uploads straight through ASGI, counting how many body chunks the app pulled."""
    pulled = 0
    status: int | None = None

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        chunk = next(chunks, None)
        if chunk is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        pulled += 1
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/uploads",
        "raw_path": b"/v1/uploads",
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    asyncio.run(app(scope, receive, send))
    return status, pulled


def _endless_csv() -> Iterator[bytes]:
    yield (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n'
        "Content-Type: text/csv\r\n\r\ndate,sales\r\n"
    ).encode()
    row = b"2025-01-01,1234.50\n" * 3449  # about 64 KiB
    while True:
        yield row


def test_a_declared_oversize_body_is_413_before_any_byte_is_read(
    settings: FluxSettings, make_tenant, make_member: MakeMember
) -> None:  # type: ignore[no-untyped-def]
    app = create_app(settings.model_copy(update={"upload_max_bytes": 1024 * 1024}))
    headers = {
        **make_member(make_tenant(), "manager").headers,
        "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
        "Content-Length": str(10 * 1024**3),
    }
    assert _raw_upload(app, headers, _endless_csv()) == (413, 0)


def test_an_undeclared_oversize_body_is_cut_off_at_the_limit(
    settings: FluxSettings, make_tenant, make_member: MakeMember
) -> None:  # type: ignore[no-untyped-def]
    limit = 1024 * 1024
    app = create_app(settings.model_copy(update={"upload_max_bytes": limit}))
    tenant = make_tenant()
    headers = {
        **make_member(tenant, "manager").headers,
        "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
    }
    status, pulled = _raw_upload(app, headers, _endless_csv())
    assert status == 413
    # 1 MiB and the multipart margin in 64 KiB chunks, and not one chunk more than needed.
    assert pulled <= (limit + 64 * 1024) // (64 * 1024) + 2
    assert landing_zone(settings).list_keys(f"uploads/tenant={tenant}/", None, 10) == []
