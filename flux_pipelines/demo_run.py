"""``flux demo`` (what ``make run`` does): three demo restaurants, from CSV to forecasts."""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from uuid import UUID

import sqlalchemy as sa

from flux_core.db.connections import get_engine
from flux_core.db.migrate import migrate
from flux_core.db.tables import forecasts, model_versions, tenants, uploads, users
from flux_core.demo import RESTAURANTS, DemoRestaurant, write_demo_csv
from flux_core.ingest.uploads import receive_upload
from flux_core.landing import landing_zone
from flux_core.settings import FluxSettings
from flux_core.users import UserRole, create_user
from flux_pipelines import services

DEMO_PASSWORD = "flux-demo-password"  # noqa: S105 - the documented login of the demo data


def demo_email(restaurant: DemoRestaurant, role: str = "owner") -> str:
    return f"{role}@{restaurant.slug}.example"


def demo_roles(restaurant: DemoRestaurant) -> tuple[UserRole, ...]:
    """Every demo restaurant has its owner; the first has a whole team, to show each role."""
    return ("owner", "manager", "chef") if restaurant == RESTAURANTS[0] else ("owner",)


def _tenant_for(conn: sa.Connection, restaurant: DemoRestaurant) -> UUID:
    found = conn.execute(
        sa.select(tenants.c.tenant_id).where(tenants.c.name == restaurant.name)
    ).scalar()
    if found:
        return found
    return conn.execute(
        sa.insert(tenants)
        .values(name=restaurant.name, country=restaurant.country)
        .returning(tenants.c.tenant_id)
    ).scalar_one()


def _ensure_users(conn: sa.Connection, tenant_id: UUID, restaurant: DemoRestaurant) -> None:
    for role in demo_roles(restaurant):
        email = demo_email(restaurant, role)
        if conn.execute(sa.select(users.c.user_id).where(users.c.email == email)).first() is None:
            create_user(conn, tenant_id=tenant_id, email=email, role=role, password=DEMO_PASSWORD)


def _upload_once(
    conn: sa.Connection, settings: FluxSettings, tenant_id: UUID, restaurant: DemoRestaurant
) -> None:
    path = write_demo_csv(
        restaurant, dt.date.today() - dt.timedelta(days=1), settings.home / "demo"
    )
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    already = conn.execute(
        sa.select(uploads.c.upload_id).where(
            uploads.c.tenant_id == tenant_id, uploads.c.content_sha256 == digest
        )
    ).first()
    if already is None:
        with path.open("rb") as stream:
            receive_upload(conn, landing_zone(settings), tenant_id, path.name, stream)


def run_demo(settings: FluxSettings) -> None:
    started = time.monotonic()
    migrate(settings)
    engine = get_engine("pipeline", settings)
    demo_tenants: dict[UUID, DemoRestaurant] = {}
    with engine.begin() as conn:
        for restaurant in RESTAURANTS:
            tenant_id = _tenant_for(conn, restaurant)
            _ensure_users(conn, tenant_id, restaurant)
            _upload_once(conn, settings, tenant_id, restaurant)
            demo_tenants[tenant_id] = restaurant
    print(
        f"uploaded the sales of {len(demo_tenants)} demo restaurants; running the graph ...",
        flush=True,
    )

    from flux_pipelines.runner import run_graph

    results = run_graph(
        settings,
        on_batch=lambda i, n, a, b: print(f"  run {i}/{n} (tenants {a} .. {b})", flush=True),
    )
    print_summary(settings, demo_tenants)
    failed = [r.run_id for r in results if not r.success]
    print(
        f"\nfinished in {time.monotonic() - started:.0f} s"
        + (f"; FAILED runs: {failed}" if failed else "")
    )
    first = RESTAURANTS[0]
    try:
        served = services.start_dashboard(settings)
    except services.DashboardNotReady as why:
        served = f"the dashboard is not served: {why}"
    print(
        "\nElsewhere: `make ui` (the Dagster UI on http://127.0.0.1:3000), the API's docs at "
        f"{settings.api_url}/v1/docs, `make stop` to stop what runs.\n{served}.\n"
        f"\nThe dashboard: {settings.web_url}\n"
        f"  sign in as {demo_email(first)} / {DEMO_PASSWORD}\n"
        f"  (or {demo_email(first, 'manager')}, {demo_email(first, 'chef')}, "
        f"{demo_email(RESTAURANTS[1])}: the same password)"
    )
    if failed:
        raise SystemExit(1)


def print_summary(settings: FluxSettings, demo_tenants: dict[UUID, DemoRestaurant]) -> None:
    engine = get_engine("pipeline", settings)
    with engine.connect() as conn:
        for tenant_id, restaurant in demo_tenants.items():
            latest = conn.execute(
                sa.select(uploads)
                .where(uploads.c.tenant_id == tenant_id)
                .order_by(uploads.c.received_at.desc())
                .limit(1)
            ).one()
            print(f"\n{restaurant.name} ({restaurant.country}) — tenant {tenant_id}")
            print(
                f"  upload {latest.filename}: {latest.status}, {latest.rows_loaded} rows loaded, "
                f"{latest.rows_rejected} rejected" + (f" ({latest.error})" if latest.error else "")
            )
            champions = conn.execute(
                sa.select(model_versions)
                .where(model_versions.c.tenant_id == tenant_id, model_versions.c.is_champion)
                .order_by(model_versions.c.metric)
            ).all()
            for model in champions:
                print(
                    f"  {model.metric}: champion {model.model_kind} (version {model.version}), backtest WAPE "
                    f"{model.wape:.1%} vs seasonal-naive baseline {model.baseline_wape:.1%}"
                )
            rows = conn.execute(
                sa.select(
                    forecasts.c.date,
                    forecasts.c.metric,
                    forecasts.c.p10,
                    forecasts.c.p50,
                    forecasts.c.p90,
                )
                .where(forecasts.c.tenant_id == tenant_id, forecasts.c.metric == "sales")
                .order_by(forecasts.c.date)
                .limit(7)
            ).all()
            print("  next 7 days, sales P50 [P10 – P90]:")
            for row in rows:
                print(
                    f"    {row.date:%a %Y-%m-%d}  {row.p50:>10,.0f}  [{row.p10:,.0f} – {row.p90:,.0f}]"
                )
            if not rows:
                print("    (no forecast)")
