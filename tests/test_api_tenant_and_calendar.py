"""What the dashboard needs around the forecast: the restaurant's locale and currency, its public
holidays, when the forecast was made and how far off it usually is, and operation ids."""

from __future__ import annotations

import datetime as dt
import re

import sqlalchemy as sa
from api_fixtures import MakeMember, seed_tenant
from fastapi.testclient import TestClient

from flux_api.main import create_app
from flux_core.db.tables import model_versions, public_holidays, tenants
from flux_core.settings import FluxSettings


def test_the_tenant_profile_gives_its_countrys_locale_and_currency(
    client: TestClient, make_tenant, make_member: MakeMember
) -> None:  # type: ignore[no-untyped-def]
    expected = {"JP": ("ja-JP", "JPY"), "GB": ("en-GB", "GBP"), "CH": ("de-CH", "CHF")}
    for country, (locale, currency) in expected.items():
        tenant = make_tenant(f"Restaurant {country}", country=country)
        body = client.get("/v1/tenant", headers=make_member(tenant, "chef").headers).json()
        assert body == {
            "tenant_id": str(tenant),
            "name": f"Restaurant {country}",
            "country": country,
            "subdivision": None,
            "locale": locale,
            "currency": currency,
        }


def test_the_calendar_gives_the_tenants_countrys_holidays_in_the_range(
    client: TestClient, pipeline_engine: sa.Engine, make_tenant, make_member: MakeMember
) -> None:  # type: ignore[no-untyped-def]
    with pipeline_engine.begin() as conn:
        conn.execute(sa.delete(public_holidays).where(public_holidays.c.country.in_(["ZZ", "ZY"])))
        conn.execute(
            sa.insert(public_holidays),
            [
                {"country": "ZZ", "date": dt.date(2031, 1, 1), "name": "New Year"},
                {"country": "ZZ", "date": dt.date(2031, 3, 9), "name": "Spring Day"},
                {"country": "ZY", "date": dt.date(2031, 1, 2), "name": "Other Country's Day"},
            ],
        )
    member = make_member(make_tenant(country="ZZ"), "chef")
    response = client.get(
        "/v1/calendar", params={"start": "2031-01-01", "end": "2031-02-01"}, headers=member.headers
    )
    assert response.status_code == 200, response.text
    assert response.json() == [{"date": "2031-01-01", "kind": "public_holiday", "name": "New Year"}]


def test_a_tenant_in_a_region_gets_its_regions_holidays_and_school_holidays(
    client: TestClient, pipeline_engine: sa.Engine, make_tenant, make_member: MakeMember
) -> None:  # type: ignore[no-untyped-def]
    day = {"country": "ZX", "date": dt.date(2031, 5, 1)}
    with pipeline_engine.begin() as conn:
        conn.execute(sa.delete(public_holidays).where(public_holidays.c.country == "ZX"))
        conn.execute(
            sa.insert(public_holidays),
            [
                day | {"subdivision": "", "category": "public", "name": "Labour Day"},
                day | {"subdivision": "R1", "category": "public", "name": "Labour Day"},
                day | {"subdivision": "R1", "category": "school", "name": "Spring Break"},
                {"country": "ZX", "date": dt.date(2031, 5, 2)}
                | {"subdivision": "R1", "category": "public", "name": "Region Day"},
                {"country": "ZX", "date": dt.date(2031, 5, 3)}
                | {"subdivision": "R2", "category": "public", "name": "Other Region's Day"},
            ],
        )
        regional = make_tenant(country="ZX")
        conn.execute(
            sa.update(tenants).where(tenants.c.tenant_id == regional).values(subdivision="R1")
        )
    span = {"start": "2031-05-01", "end": "2031-05-31"}
    in_region = make_member(regional, "chef")
    nationwide = make_member(make_tenant(country="ZX"), "chef")
    assert client.get("/v1/calendar", params=span, headers=in_region.headers).json() == [
        {"date": "2031-05-01", "kind": "public_holiday", "name": "Labour Day"},
        {"date": "2031-05-01", "kind": "school_holiday", "name": "Spring Break"},
        {"date": "2031-05-02", "kind": "public_holiday", "name": "Region Day"},
    ]
    assert client.get("/v1/calendar", params=span, headers=nationwide.headers).json() == [
        {"date": "2031-05-01", "kind": "public_holiday", "name": "Labour Day"}
    ]
    profile = client.get("/v1/tenant", headers=in_region.headers).json()
    assert (profile["country"], profile["subdivision"]) == ("ZX", "R1")


def test_forecast_models_say_when_they_wrote_it_and_how_far_off_they_usually_are(
    client: TestClient, pipeline_engine: sa.Engine, make_tenant, make_member: MakeMember
) -> None:  # type: ignore[no-untyped-def]
    tenant = make_tenant()
    seeded = seed_tenant(pipeline_engine, tenant, make_member(tenant), 3000.0)
    with pipeline_engine.begin() as conn:
        conn.execute(
            sa.update(model_versions)
            .where(model_versions.c.tenant_id == tenant)
            .values(backtest={"accuracy": {"ape_p80": 0.09, "baseline_ape_p80": 0.15}})
        )
    forecast = client.get("/v1/forecasts", headers=seeded.owner.headers).json()
    [model] = forecast["models"]
    assert (model["typical_error"], model["baseline_typical_error"]) == (0.09, 0.15)
    generated = dt.datetime.fromisoformat(model["generated_at"])
    assert abs(generated - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=5)
    [current] = client.get("/v1/models/current", headers=seeded.owner.headers).json()
    assert (current["typical_error"], current["baseline_typical_error"]) == (0.09, 0.15)


def test_every_operation_has_a_stable_readable_id(settings: FluxSettings) -> None:
    schema = create_app(settings).openapi()
    ids = [op["operationId"] for ops in schema["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z]+(?:[A-Z][a-z0-9]*)*", i) for i in ids), ids
    by_path = {
        (method, path): op["operationId"]
        for path, ops in schema["paths"].items()
        for method, op in ops.items()
    }
    assert by_path[("get", "/v1/forecasts")] == "listForecasts"
    assert by_path[("post", "/v1/uploads")] == "createUpload"
    assert by_path[("post", "/v1/auth/token")] == "issueToken"
