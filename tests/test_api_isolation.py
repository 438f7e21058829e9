"""Tenant A's token never reaches tenant B's rows, on any endpoint: RLS scopes every query."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from flux_api.main import create_app
from flux_api.security import create_access_token, hash_password
from flux_pipelines.db.tables import (
    forecasts,
    model_versions,
    rejected_rows,
    staged_sales,
    uploads,
    users,
)
from flux_pipelines.landing import upload_key
from flux_pipelines.settings import FluxSettings

START = date(2025, 3, 1)
DAYS = 7


@dataclass(frozen=True)
class Restaurant:
    tenant_id: uuid.UUID
    upload_id: uuid.UUID
    headers: dict[str, str]
    base: float  # every value of this tenant lies in [base, base + 1000): easy to tell apart


def _seed(
    engine: sa.Engine, settings: FluxSettings, tenant_id: uuid.UUID, base: float
) -> Restaurant:
    upload_id = uuid.uuid4()
    days = [START + timedelta(days=i) for i in range(DAYS)]
    with engine.begin() as conn:
        user_id: uuid.UUID = conn.execute(
            sa.insert(users)
            .values(
                tenant_id=tenant_id,
                email=f"owner-{uuid.uuid4().hex[:8]}@example.com",
                password_hash=hash_password("unused"),
                role="owner",
            )
            .returning(users.c.user_id)
        ).scalar_one()
        conn.execute(
            sa.insert(uploads).values(
                upload_id=upload_id,
                tenant_id=tenant_id,
                object_key=upload_key(tenant_id, upload_id),
                filename=f"sales-{base:.0f}.csv",
                status="loaded",
                rows_total=DAYS + 1,
                rows_loaded=DAYS,
                rows_rejected=1,
            )
        )
        conn.execute(
            sa.insert(rejected_rows).values(
                tenant_id=tenant_id,
                upload_id=upload_id,
                line_number=9,
                column_name="sales",
                value=f"bad-{base:.0f}",
                reason="not a number",
            )
        )
        conn.execute(
            sa.insert(staged_sales),
            [
                {
                    "tenant_id": tenant_id,
                    "metric": "sales",
                    "date": d,
                    "value": base + i,
                    "upload_id": upload_id,
                }
                for i, d in enumerate(days)
            ],
        )
        conn.execute(
            sa.insert(model_versions).values(
                tenant_id=tenant_id,
                metric="sales",
                version=int(base),
                model_name=f"flux-{tenant_id}-sales",
                model_kind="xgboost",
                is_champion=True,
                wape=0.1,
                baseline_wape=0.2,
            )
        )
        conn.execute(
            sa.insert(forecasts),
            [
                {
                    "tenant_id": tenant_id,
                    "metric": "sales",
                    "date": d + timedelta(days=DAYS),
                    "p10": base + i,
                    "p50": base + i + 1,
                    "p90": base + i + 2,
                    "model_version": int(base),
                }
                for i, d in enumerate(days)
            ],
        )
    token = create_access_token(user_id, tenant_id, "owner", settings)
    return Restaurant(tenant_id, upload_id, {"Authorization": f"Bearer {token}"}, base)


@pytest.fixture(scope="module")
def client(settings: FluxSettings) -> TestClient:
    return TestClient(create_app(settings))


@pytest.fixture
def pair(
    pipeline_engine: sa.Engine, settings: FluxSettings, make_tenant
) -> tuple[Restaurant, Restaurant]:  # type: ignore[no-untyped-def]
    a = _seed(pipeline_engine, settings, make_tenant("A"), 1000.0)
    b = _seed(pipeline_engine, settings, make_tenant("B"), 900000.0)
    return a, b


def _values(rows: list[dict[str, object]], *keys: str) -> set[float]:
    return {float(row[k]) for row in rows for k in keys}  # type: ignore[arg-type]


def test_forecasts_sales_and_models_are_the_callers_only(client: TestClient, pair) -> None:  # type: ignore[no-untyped-def]
    a, b = pair
    for caller, other in ((a, b), (b, a)):
        fc = client.get("/v1/forecasts", headers=caller.headers)
        sales = client.get("/v1/sales/daily", headers=caller.headers)
        models = client.get("/v1/models/current", headers=caller.headers)
        for response in (fc, sales, models):
            assert response.status_code == 200, response.text
            assert str(other.tenant_id) not in response.text
        assert len(fc.json()) == DAYS
        assert all(
            caller.base <= v < caller.base + 1000 for v in _values(fc.json(), "p10", "p50", "p90")
        )
        assert {row["model_version"] for row in fc.json()} == {int(caller.base)}
        assert len(sales.json()) == DAYS
        assert all(caller.base <= v < caller.base + 1000 for v in _values(sales.json(), "value"))
        assert [m["version"] for m in models.json()] == [int(caller.base)]


def test_uploads_are_the_callers_only_and_others_are_not_found(client: TestClient, pair) -> None:  # type: ignore[no-untyped-def]
    a, b = pair
    listed = client.get("/v1/uploads", headers=a.headers)
    assert listed.status_code == 200
    assert [u["upload_id"] for u in listed.json()["items"]] == [str(a.upload_id)]
    assert listed.json()["total"] == 1
    assert str(b.upload_id) not in listed.text

    own = client.get(f"/v1/uploads/{a.upload_id}", headers=a.headers)
    assert own.status_code == 200
    assert own.json()["rejected_rows"] == [
        {"line_number": 9, "column": "sales", "value": "bad-1000", "reason": "not a number"}
    ]

    theirs = client.get(f"/v1/uploads/{b.upload_id}", headers=a.headers)
    assert theirs.status_code == 404
    assert theirs.headers["content-type"].startswith("application/problem+json")
    assert str(b.upload_id) not in theirs.text and "bad-900000" not in theirs.text
    # Found by its own tenant: the 404 above is isolation, not a missing row.
    assert client.get(f"/v1/uploads/{b.upload_id}", headers=b.headers).status_code == 200


def test_forecasts_and_sales_filter_by_range_and_metric(client: TestClient, pair) -> None:  # type: ignore[no-untyped-def]
    a, _ = pair
    first_forecast_day = START + timedelta(days=DAYS)
    window = {
        "start": str(first_forecast_day + timedelta(days=2)),
        "end": str(first_forecast_day + timedelta(days=3)),
    }
    fc = client.get("/v1/forecasts", headers=a.headers, params={**window, "metric": "sales"})
    assert [row["date"] for row in fc.json()] == [window["start"], window["end"]]
    assert client.get("/v1/forecasts", headers=a.headers, params={"metric": "covers"}).json() == []
    sales = client.get(
        "/v1/sales/daily", headers=a.headers, params={"start": str(START), "end": str(START)}
    )
    assert sales.json() == [{"date": str(START), "metric": "sales", "value": a.base}]
    backwards = client.get(
        "/v1/forecasts", headers=a.headers, params={"start": window["end"], "end": window["start"]}
    )
    assert backwards.status_code == 422
    assert backwards.json()["status"] == 422
