"""Tenant A's token never reaches tenant B's rows, on any endpoint: RLS scopes every query."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import psycopg
import pytest
import sqlalchemy as sa
from api_fixtures import DAYS, PASSWORD, START, MakeMember, SeededTenant, operations, seed_tenant
from fastapi.testclient import TestClient

from flux_api.main import create_app
from flux_api.reads import READ_POOL_SIZE
from flux_core.db.tables import (
    forecasts,
    uploads,
    users,
)
from flux_core.settings import FluxSettings


@pytest.fixture
def pair(
    pipeline_engine: sa.Engine, make_tenant, make_member: MakeMember
) -> tuple[SeededTenant, SeededTenant]:  # type: ignore[no-untyped-def]
    a_tenant, b_tenant = make_tenant("A"), make_tenant("B")
    a = seed_tenant(pipeline_engine, a_tenant, make_member(a_tenant, "owner"), 1000.0)
    b = seed_tenant(pipeline_engine, b_tenant, make_member(b_tenant, "owner"), 987654.0)
    return a, b


def _values(rows: list[dict[str, object]], *keys: str) -> set[float]:
    return {float(row[k]) for row in rows for k in keys}  # type: ignore[arg-type]


def test_forecasts_sales_and_models_are_the_callers_only(client: TestClient, pair) -> None:  # type: ignore[no-untyped-def]
    a, b = pair
    for caller, other in ((a, b), (b, a)):
        fc = client.get("/v1/forecasts", headers=caller.owner.headers)
        sales = client.get("/v1/sales/daily", headers=caller.owner.headers)
        models = client.get("/v1/models/current", headers=caller.owner.headers)
        for response in (fc, sales, models):
            assert response.status_code == 200, response.text
            assert str(other.tenant_id) not in response.text
        points, actuals = fc.json()["items"], sales.json()["items"]
        assert len(points) == fc.json()["total"] == DAYS
        assert all(
            caller.base <= v < caller.base + 1000 for v in _values(points, "p10", "p50", "p90")
        )
        assert {row["model_version"] for row in points} == {int(caller.base)}
        assert [m["version"] for m in fc.json()["models"]] == [int(caller.base)]
        assert len(actuals) == DAYS
        assert all(caller.base <= v < caller.base + 1000 for v in _values(actuals, "value"))
        assert [m["version"] for m in models.json()] == [int(caller.base)]


def test_uploads_are_the_callers_only_and_others_are_not_found(client: TestClient, pair) -> None:  # type: ignore[no-untyped-def]
    a, b = pair
    listed = client.get("/v1/uploads", headers=a.owner.headers)
    assert listed.status_code == 200
    assert [u["upload_id"] for u in listed.json()["items"]] == [str(a.upload_id)]
    assert listed.json()["total"] == 1
    assert str(b.upload_id) not in listed.text

    own = client.get(f"/v1/uploads/{a.upload_id}", headers=a.owner.headers)
    assert own.status_code == 200
    assert own.json()["rejected_rows"] == [
        {"line_number": 9, "column": "sales", "value": "bad-1000", "reason": "not a number"}
    ]

    theirs = client.get(f"/v1/uploads/{b.upload_id}", headers=a.owner.headers)
    assert theirs.status_code == 404
    assert theirs.headers["content-type"].startswith("application/problem+json")
    assert str(b.upload_id) not in theirs.text and "bad-987654" not in theirs.text
    # Found by its own tenant: the 404 above is isolation, not a missing row.
    assert client.get(f"/v1/uploads/{b.upload_id}", headers=b.owner.headers).status_code == 200


def test_forecasts_and_sales_filter_by_range_and_metric(client: TestClient, pair) -> None:  # type: ignore[no-untyped-def]
    a, _ = pair
    first_forecast_day = START + timedelta(days=DAYS - 3)  # overlaps the last actuals
    window = {
        "start": str(first_forecast_day + timedelta(days=2)),
        "end": str(first_forecast_day + timedelta(days=3)),
    }
    fc = client.get("/v1/forecasts", headers=a.owner.headers, params={**window, "metric": "sales"})
    assert [row["date"] for row in fc.json()["items"]] == [window["start"], window["end"]]
    covers = client.get(
        "/v1/forecasts", headers=a.owner.headers, params={"metric": "covers"}
    ).json()
    assert covers["items"] == [] and covers["total"] == 0
    sales = client.get(
        "/v1/sales/daily", headers=a.owner.headers, params={"start": str(START), "end": str(START)}
    )
    assert sales.json()["items"] == [{"date": str(START), "metric": "sales", "value": a.base}]
    backwards = client.get(
        "/v1/forecasts",
        headers=a.owner.headers,
        params={"start": window["end"], "end": window["start"]},
    )
    assert backwards.status_code == 422
    assert backwards.json()["status"] == 422


# --- Isolation, proven by trying to break it ------------------------------------------------------


def test_catalog_every_tenant_table_has_forced_rls_and_flux_api_is_unprivileged(
    owner_url: str,
) -> None:
    with psycopg.connect(owner_url) as conn:
        tables = conn.execute(
            """
            select n.nspname, c.relname, c.relrowsecurity, c.relforcerowsecurity
            from pg_class c
            join pg_namespace n on n.oid = c.relnamespace
            join pg_attribute a on a.attrelid = c.oid and a.attname = 'tenant_id' and not a.attisdropped
            where c.relkind in ('r', 'p')
              and n.nspname not in ('pg_catalog', 'information_schema')
              and n.nspname not like 'pg_toast%'
            """
        ).fetchall()
        assert ("flux", "forecasts", True, True) in tables
        unprotected = [(s, t) for s, t, enabled, forced in tables if not (enabled and forced)]
        assert unprotected == []

        role = conn.execute(
            "select rolsuper, rolbypassrls, rolcreaterole, rolcreatedb, oid"
            " from pg_roles where rolname = 'flux_api'"
        ).fetchone()
        assert role is not None
        assert role[:4] == (False, False, False, False)
        api_oid = role[4]
        owned = conn.execute(
            """
            select 'class', relname from pg_class where relowner = %(r)s
            union all select 'schema', nspname from pg_namespace where nspowner = %(r)s
            union all select 'function', proname from pg_proc where proowner = %(r)s
            union all select 'type', typname from pg_type where typowner = %(r)s
            union all select 'database', datname from pg_database where datdba = %(r)s
            """,
            {"r": api_oid},
        ).fetchall()
        assert owned == []
        # Nor does it inherit any of that through a role it is a member of.
        memberships = conn.execute(
            "select roleid::regrole::text from pg_auth_members where member = %s", (api_oid,)
        ).fetchall()
        assert memberships == []


# How A's owner asks, for each operation, about B's objects: path ids are B's, query ids are B's.
BOLA_BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/v1/users"): {
        "json": {
            "email": "intruder@example.com",
            "role": "owner",
            "password": "long enough password",
            "tenant_id": "{tenant_id}",
        }
    },
    ("PATCH", "/v1/users/{user_id}"): {"json": {"disabled": True, "role": "chef"}},
    ("POST", "/v1/uploads"): {"files": {"file": ("x.csv", b"date,sales\n2025-01-01,1\n")}},
    ("POST", "/v1/users/me/password"): {
        "json": {"current_password": PASSWORD, "new_password": "another long password"}
    },
    ("POST", "/v1/auth/token"): {"data": {"username": "{email}", "password": "wrong password"}},
    ("PATCH", "/v1/calendar/days/{day_id}"): {"json": {"note": "taken over", "kind": "event"}},
    ("POST", "/v1/calendar/days"): {
        "json": {"date": "2025-03-12", "kind": "closed", "tenant_id": "{tenant_id}"}
    },
    ("PUT", "/v1/forecasts/adjustments/{metric}/{day}"): {
        "json": {"value": 1, "reason": "taken over"}
    },
}


def _fill(value: Any, b: SeededTenant) -> Any:
    if isinstance(value, str):
        return (
            value.replace("{tenant_id}", str(b.tenant_id))
            .replace("{user_id}", str(b.owner.user_id))
            .replace("{upload_id}", str(b.upload_id))
            .replace("{day_id}", str(b.day_id))
            .replace("{metric}/{day}", f"sales/{b.adjusted}")
            .replace("{email}", b.owner.email)
        )
    if isinstance(value, dict):
        return {k: _fill(v, b) for k, v in value.items()}
    return value


def test_bola_matrix_a_never_reaches_b(
    client: TestClient,
    settings: FluxSettings,
    pipeline_engine: sa.Engine,
    pair: tuple[SeededTenant, SeededTenant],
) -> None:
    a, b = pair
    app = create_app(settings)
    schema = app.openapi()
    for method, path in sorted(operations(app)):
        parameters = schema["paths"][path][method.lower()].get("parameters", [])
        query = {
            p["name"]: str(b.tenant_id if p["name"] == "tenant_id" else b.upload_id)
            for p in parameters
            if p["in"] == "query" and p["name"].endswith("_id")
        }
        kwargs = _fill(BOLA_BODIES.get((method, path), {}), b)
        response = client.request(
            method, _fill(path, b), headers=a.owner.headers, params=query, **kwargs
        )
        where = (method, path, response.status_code)
        assert response.status_code < 500, where
        if "_id}" in path:  # an object of B's, named by its id: as if it did not exist
            assert response.status_code == 404, where
        for marker in b.markers():
            assert marker not in response.text, (*where, marker)
    # And nothing of B's changed: its owner still works, its upload is still its own.
    assert client.get(f"/v1/users/{b.owner.user_id}", headers=b.owner.headers).json() == {
        **client.get("/v1/users/me", headers=b.owner.headers).json(),
        "disabled": False,
        "role": "owner",
    }
    assert client.get(f"/v1/uploads/{b.upload_id}", headers=b.owner.headers).status_code == 200
    told = client.get("/v1/calendar/days", headers=b.owner.headers).json()
    assert [(d["day_id"], d["kind"], d["note"]) for d in told] == [
        (str(b.day_id), "closed", f"closed-{b.base:.0f}")
    ]
    adjusted = client.get("/v1/forecasts/adjustments", headers=b.owner.headers).json()
    assert [(x["date"], x["value"], x["reason"]) for x in adjusted] == [
        (str(b.adjusted), b.base + 500, f"reason-{b.base:.0f}")
    ]
    with pipeline_engine.connect() as conn:
        users_of_b = conn.execute(
            sa.select(sa.func.count()).select_from(users).where(users.c.tenant_id == b.tenant_id)
        ).scalar_one()
        uploads_of_b = conn.execute(
            sa.select(sa.func.count())
            .select_from(uploads)
            .where(uploads.c.tenant_id == b.tenant_id)
        ).scalar_one()
    assert (users_of_b, uploads_of_b) == (1, 1)


INTERLEAVED_REQUESTS = 10_000
TENANTS = 16


def test_10000_interleaved_requests_over_the_pool_leak_nothing(
    settings: FluxSettings, pipeline_engine: sa.Engine, make_tenant, make_member: MakeMember
) -> None:  # type: ignore[no-untyped-def]
    app = create_app(settings)
    restaurants = []
    for i in range(TENANTS):
        tenant = make_tenant()
        restaurants.append(
            seed_tenant(pipeline_engine, tenant, make_member(tenant, "owner"), 10_000.0 * (i + 1))
        )
    # A token whose user is disabled: its requests fail inside the tenant transaction.
    locked_out = make_member(restaurants[0].tenant_id, "manager")
    with pipeline_engine.begin() as conn:
        conn.execute(
            sa.update(users)
            .where(users.c.user_id == locked_out.user_id)
            .values(disabled_at=sa.func.now())
        )

    def check(r: SeededTenant, route: str, response: httpx.Response) -> None:
        assert response.status_code == 200, response.text
        body = response.json()
        if route == "/v1/uploads":
            assert [u["upload_id"] for u in body["items"]] == [str(r.upload_id)]
        elif route == "/v1/uploads/{id}":
            assert body["upload_id"] == str(r.upload_id)
        else:
            values = [
                float(v)
                for row in body["items"]
                for k, v in row.items()
                if k in ("p10", "p50", "p90", "value", "actual") and v is not None
            ]
            assert values and all(r.base <= v < r.base + 1000 for v in values), route

    routes = ["/v1/forecasts", "/v1/sales/daily", "/v1/uploads", "/v1/uploads/{id}"]
    routes.append("/v1/forecasts/with-actuals")

    async def run() -> int:
        transport = httpx.ASGITransport(app=app)
        gate = asyncio.Semaphore(32)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://flux") as http,
        ):

            async def one(n: int) -> None:
                async with gate:
                    if n % 50 == 49:
                        denied = await http.get("/v1/forecasts", headers=locked_out.headers)
                        assert denied.status_code == 401
                        return
                    r = restaurants[(n * 7) % TENANTS]  # consecutive requests change tenant
                    route = routes[n % len(routes)]
                    url = route.replace("{id}", str(r.upload_id))
                    check(r, route, await http.get(url, headers=r.owner.headers))

            await asyncio.gather(*(one(n) for n in range(INTERLEAVED_REQUESTS)))
            # The read path's connections, back in its pool, carry no tenant either.
            pool = app.state.read_pool
            held_reads = [await pool.getconn() for _ in range(READ_POOL_SIZE)]
            try:
                for conn in held_reads:
                    cursor = await conn.execute(
                        "select current_setting('app.tenant_id', true) as tenant,"
                        " (select count(*) from flux.forecasts) as visible"
                    )
                    row = await cursor.fetchone()
                    assert row is not None and row["tenant"] in (None, "") and row["visible"] == 0
            finally:
                for conn in held_reads:
                    await pool.putconn(conn)
        return INTERLEAVED_REQUESTS

    assert asyncio.run(run()) == INTERLEAVED_REQUESTS
    # Connections back in the pool carry no tenant: outside a transaction, nothing is set.
    engine: sa.Engine = app.state.api_engine
    held = [engine.connect() for _ in range(5)]
    try:
        for conn in held:
            tenant = conn.execute(
                sa.select(sa.func.current_setting("app.tenant_id", True))
            ).scalar()
            assert tenant in (None, "")
            assert conn.execute(sa.select(sa.func.count()).select_from(forecasts)).scalar() == 0
    finally:
        for conn in held:
            conn.close()
