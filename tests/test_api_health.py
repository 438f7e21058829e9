"""Liveness, readiness, the OpenAPI document, and the shape of errors."""

from __future__ import annotations

from api_fixtures import assert_problem
from fastapi.testclient import TestClient

from flux_api.main import create_app
from flux_core.settings import FluxSettings


def test_healthz_and_readyz(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ok"}


def test_readyz_is_503_when_the_database_is_unreachable(settings: FluxSettings) -> None:
    # Port 1 on loopback: nothing listens there, so the connection is refused at once.
    nowhere = settings.model_copy(
        update={"database_url": "postgresql://flux_owner@127.0.0.1:1/flux_nowhere"}
    )
    client = TestClient(create_app(nowhere))
    assert client.get("/healthz").status_code == 200
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/problem+json")
    assert set(response.json()) == {"type", "title", "status", "detail"}
    assert "127.0.0.1" not in response.text


def test_unknown_route_is_a_problem_document(client: TestClient) -> None:
    response = client.get("/v1/nothing-here")
    assert_problem(response, 404, "Not Found", "Not Found")


def test_openapi_lists_the_v1_endpoints(client: TestClient) -> None:
    schema = client.get("/v1/openapi.json").json()
    assert schema["openapi"].startswith("3.1")
    assert {
        "/v1/auth/token",
        "/v1/uploads",
        "/v1/uploads/{upload_id}",
        "/v1/forecasts",
        "/v1/sales/daily",
        "/v1/models/current",
    } <= set(schema["paths"])
