"""Forecasts with their model's accuracy, actuals beside them, pages, and HTTP caching."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from api_fixtures import DAYS, START, MakeMember, SeededTenant, seed_tenant
from fastapi.testclient import TestClient

from flux_core.db.tables import forecasts


@pytest.fixture
def restaurant(pipeline_engine: sa.Engine, make_tenant, make_member: MakeMember) -> SeededTenant:  # type: ignore[no-untyped-def]
    tenant = make_tenant()
    return seed_tenant(pipeline_engine, tenant, make_member(tenant, "manager"), 5000.0)


def test_forecasts_carry_the_model_and_its_backtest_accuracy(
    client: TestClient, restaurant: SeededTenant
) -> None:
    body = client.get("/v1/forecasts", headers=restaurant.owner.headers).json()
    assert body["total"] == DAYS
    assert [p["date"] for p in body["items"]] == [
        str(START + timedelta(days=DAYS - 3 + i)) for i in range(DAYS)
    ]
    assert all(p["p10"] <= p["p50"] <= p["p90"] for p in body["items"])
    [model] = body["models"]
    assert model["version"] == 5000 and model["metric"] == "sales"
    assert (model["model_kind"], model["wape"], model["baseline_wape"]) == ("xgboost", 0.1, 0.2)


def test_forecast_pages(client: TestClient, restaurant: SeededTenant) -> None:
    headers = restaurant.owner.headers
    first = client.get("/v1/forecasts", headers=headers, params={"limit": 4}).json()
    rest = client.get("/v1/forecasts", headers=headers, params={"limit": 4, "offset": 4}).json()
    beyond = client.get("/v1/forecasts", headers=headers, params={"offset": 100}).json()
    assert (first["total"], rest["total"], beyond["total"]) == (DAYS, DAYS, DAYS)
    assert len(first["items"]) == 4 and len(rest["items"]) == DAYS - 4 and beyond["items"] == []
    assert {p["date"] for p in first["items"]}.isdisjoint(p["date"] for p in rest["items"])
    too_big = client.get("/v1/forecasts", headers=headers, params={"limit": 100000})
    assert too_big.status_code == 422


def test_actuals_beside_forecasts(client: TestClient, restaurant: SeededTenant) -> None:
    body = client.get("/v1/forecasts/with-actuals", headers=restaurant.owner.headers).json()
    days = {row["date"]: row for row in body["items"]}
    # Seven days of actuals and seven of forecast, overlapping on three: ten days in all.
    assert body["total"] == len(days) == DAYS + DAYS - 3
    first, overlap, last = (
        days[str(START)],
        days[str(START + timedelta(days=DAYS - 1))],
        days[str(START + timedelta(days=2 * DAYS - 4))],
    )
    assert first["actual"] == restaurant.base and first["p50"] is None
    assert overlap["actual"] == restaurant.base + DAYS - 1
    assert overlap["p50"] == restaurant.base + 3 and overlap["model_version"] == 5000
    assert last["actual"] is None and last["p90"] == restaurant.base + DAYS + 1
    window = client.get(
        "/v1/forecasts/with-actuals",
        headers=restaurant.owner.headers,
        params={"start": str(START), "end": str(START + timedelta(days=1)), "metric": "sales"},
    ).json()
    assert [row["date"] for row in window["items"]] == [
        str(START),
        str(START + timedelta(days=1)),
    ]


def test_etag_and_cache_control(
    client: TestClient, pipeline_engine: sa.Engine, restaurant: SeededTenant
) -> None:
    headers = restaurant.owner.headers
    first = client.get("/v1/forecasts", headers=headers)
    etag = first.headers["etag"]
    assert first.headers["cache-control"].startswith("private, max-age=")
    assert "authorization" in first.headers["vary"].lower()
    again = client.get("/v1/forecasts", headers={**headers, "If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag
    weak = client.get("/v1/forecasts", headers={**headers, "If-None-Match": f'"x", W/{etag}'})
    assert weak.status_code == 304
    # Another query is another answer, with another tag.
    other = client.get(
        "/v1/forecasts", headers={**headers, "If-None-Match": etag}, params={"limit": 2}
    )
    assert other.status_code == 200 and other.headers["etag"] != etag
    # A new nightly forecast changes the answer and its tag.
    with pipeline_engine.begin() as conn:
        conn.execute(
            sa.update(forecasts)
            .where(forecasts.c.tenant_id == restaurant.tenant_id)
            .values(p90=forecasts.c.p90 + 1)
        )
    changed = client.get("/v1/forecasts", headers={**headers, "If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
