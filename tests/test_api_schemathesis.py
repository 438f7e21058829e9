"""schemathesis against the OpenAPI document: no server error, no answer that breaks the schema."""

from __future__ import annotations

import pytest
import schemathesis
from api_fixtures import MakeMember
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from flux_api.main import create_app
from flux_core.settings import FluxSettings

ACCOUNT_ROLE = "owner"  # the role that may call every endpoint
EXAMPLES = 15
# Every check but "schema-valid input is accepted": some rules cannot be said in OpenAPI (start
# after end, a PNG sent as the CSV file) and are refused with a 4xx problem, as they should be.
NOT_EXPRESSIBLE = [positive_data_acceptance]


@pytest.fixture
def owner_headers(make_tenant, make_member: MakeMember) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return make_member(make_tenant("schemathesis"), ACCOUNT_ROLE).headers


def test_every_operation_conforms_to_its_schema(
    settings: FluxSettings, owner_headers: dict[str, str]
) -> None:
    # Driven by hand, operation by operation: schemathesis' pytest plugin does not load on pytest 9.
    app_schema = schemathesis.openapi.from_asgi("/v1/openapi.json", create_app(settings))
    tested = []
    for result in app_schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @hypothesis_settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def conforms(case) -> None:  # type: ignore[no-untyped-def]
            case.call_and_validate(headers=owner_headers, excluded_checks=NOT_EXPRESSIBLE)

        conforms()
        tested.append(operation.label)
    assert len(tested) >= 14, tested


def test_the_schema_is_openapi_3_1_under_v1(settings: FluxSettings) -> None:
    document = TestClient(create_app(settings)).get("/v1/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    assert all(
        path.startswith("/v1/") or path in ("/healthz", "/readyz") for path in document["paths"]
    )
