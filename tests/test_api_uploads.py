"""Uploads through the API: who may send, where the file lands, and what is too large."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from flux_api.main import create_app
from flux_api.security import create_access_token, hash_password
from flux_pipelines.db.tables import users
from flux_pipelines.landing import landing_zone, upload_key
from flux_pipelines.settings import FluxSettings

CSV = b"date,sales,covers\n2025-01-01,1234.50,87\n2025-01-02,998.00,65\n"


@pytest.fixture(scope="module")
def client(settings: FluxSettings) -> TestClient:
    return TestClient(create_app(settings))


@pytest.fixture
def auth_headers(
    pipeline_engine: sa.Engine, settings: FluxSettings
) -> Callable[[uuid.UUID, str], dict[str, str]]:
    def _headers(tenant_id: uuid.UUID, role: str) -> dict[str, str]:
        with pipeline_engine.begin() as conn:
            user_id: uuid.UUID = conn.execute(
                sa.insert(users)
                .values(
                    tenant_id=tenant_id,
                    email=f"{role}-{uuid.uuid4().hex[:8]}@example.com",
                    password_hash=hash_password("unused"),
                    role=role,
                )
                .returning(users.c.user_id)
            ).scalar_one()
        token = create_access_token(user_id, tenant_id, role, settings)  # type: ignore[arg-type]
        return {"Authorization": f"Bearer {token}"}

    return _headers


def _send(client: TestClient, headers: dict[str, str], content: bytes = CSV) -> httpx.Response:
    return client.post(
        "/v1/uploads", headers=headers, files={"file": ("sales.csv", content, "text/csv")}
    )


@pytest.mark.parametrize("role", ["owner", "manager"])
def test_owner_and_manager_upload_into_the_landing_zone(
    role: str, client: TestClient, settings: FluxSettings, make_tenant, auth_headers
) -> None:  # type: ignore[no-untyped-def]
    tenant = make_tenant()
    headers = auth_headers(tenant, role)
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
    client: TestClient, settings: FluxSettings, make_tenant, auth_headers
) -> None:  # type: ignore[no-untyped-def]
    tenant = make_tenant()
    chef = auth_headers(tenant, "chef")
    response = _send(client, chef)
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("application/problem+json")
    assert client.get("/v1/uploads", headers=chef).json()["total"] == 0
    # The chef still reads.
    assert client.get("/v1/forecasts", headers=chef).status_code == 200


def test_uploads_list_newest_first_in_pages(client: TestClient, make_tenant, auth_headers) -> None:  # type: ignore[no-untyped-def]
    headers = auth_headers(make_tenant(), "owner")
    sent = [_send(client, headers, CSV + f"# {i}\n".encode()).json()["upload_id"] for i in range(3)]
    first = client.get("/v1/uploads", headers=headers, params={"limit": 2}).json()
    second = client.get("/v1/uploads", headers=headers, params={"limit": 2, "offset": 2}).json()
    assert first["total"] == second["total"] == 3
    assert [u["upload_id"] for u in first["items"] + second["items"]] == sent[::-1]
    assert client.get("/v1/uploads", headers=headers, params={"limit": 0}).status_code == 422


def test_over_limit_upload_is_413_and_leaves_nothing(
    settings: FluxSettings, make_tenant, auth_headers
) -> None:  # type: ignore[no-untyped-def]
    small = TestClient(create_app(settings.model_copy(update={"upload_max_bytes": 16})))
    tenant = make_tenant()
    headers = auth_headers(tenant, "manager")
    response = _send(small, headers)
    assert response.status_code == 413, response.text
    assert response.json()["status"] == 413
    assert small.get("/v1/uploads", headers=headers).json()["total"] == 0
    assert landing_zone(settings).list_keys(f"uploads/tenant={tenant}/", None, 10) == []
    # A file within the limit goes through the same app.
    assert _send(small, headers, b"date,sales\n").status_code == 201


def test_unknown_and_malformed_upload_ids(client: TestClient, make_tenant, auth_headers) -> None:  # type: ignore[no-untyped-def]
    headers = auth_headers(make_tenant(), "owner")
    assert client.get(f"/v1/uploads/{uuid.uuid4()}", headers=headers).status_code == 404
    malformed = client.get("/v1/uploads/not-a-uuid", headers=headers)
    assert malformed.status_code == 422
    assert malformed.headers["content-type"].startswith("application/problem+json")


def test_a_server_fault_is_a_problem_without_a_trace(
    settings: FluxSettings, make_tenant, auth_headers
) -> None:  # type: ignore[no-untyped-def]
    # A landing zone that cannot exist: the upload fails inside the server, not in the request.
    broken = create_app(settings.model_copy(update={"landing_url": "ftp://nowhere/landing"}))
    client = TestClient(broken, raise_server_exceptions=False)
    response = _send(client, auth_headers(make_tenant(), "owner"))
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json() == {
        "type": "about:blank",
        "title": "Internal Server Error",
        "status": 500,
        "detail": "an unexpected error occurred",
    }
