"""``flux``: the operators' command line.

flux db up | db stop | db migrate | db url [--role ROLE]
flux tenants create NAME [--country CC] [--subdivision CODE]
flux users create --tenant ID --email E --role owner|manager|chef   (password on stdin)
flux upload --tenant ID FILE
flux uploads list --tenant ID | uploads retry UPLOAD
flux run [--tenant ID]        materialize the whole graph for every tenant with data
flux demo                     three demo restaurants, end to end
flux ui | daemon | api | web | mlflow [--background]   the servers (web: the dashboard)
flux dbt-docs [--generate-only] dbt's documentation site for analysts (port 8580)
flux stop                     stop every server Flux started, and then its database
"""

from __future__ import annotations

import argparse
import getpass
import sys
from dataclasses import replace
from pathlib import Path
from typing import NoReturn
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from flux_core import users as user_service
from flux_core.db.cluster import LocalCluster, PostgresNotFound
from flux_core.db.connections import ensure_database, get_engine, plain_url, role_url
from flux_core.db.migrate import migrate
from flux_core.db.tables import store_codes, tenants, uploads
from flux_core.ingest.uploads import (
    InvalidColumnMapping,
    column_mapping_from_pairs,
    receive_upload,
)
from flux_core.landing import landing_zone
from flux_core.settings import PROJECT_ROOT, FluxSettings, get_settings
from flux_pipelines import services
from flux_pipelines.services import Service


def _fail(message: str) -> NoReturn:
    print(f"flux: {message}", file=sys.stderr)
    raise SystemExit(1)


# -- database -------------------------------------------------------------------------------------


def cmd_db(args: argparse.Namespace, settings: FluxSettings) -> None:
    if args.action == "up":
        url = ensure_database(settings)
        where = (
            "configured by FLUX_DATABASE_URL"
            if settings.database_url
            else f"local cluster under {settings.home / 'pg'}"
        )
        print(f"PostgreSQL is up ({where}): {url.render_as_string(hide_password=True)}")
    elif args.action == "stop":
        if settings.database_url:
            print("FLUX_DATABASE_URL is configured: that server is not Flux's to stop.")
        else:
            stopped = LocalCluster.from_settings(settings).down()
            print(
                "stopped the local PostgreSQL cluster"
                if stopped
                else "the local cluster was not running"
            )
    elif args.action == "migrate":
        migrate(settings)
        print(
            "migrations applied (schema flux, roles, row-level security; Dagster and MLflow databases)"
        )
    elif args.action == "url":
        print(plain_url(role_url(settings, args.role)))


# -- tenants and users ----------------------------------------------------------------------------


def create_tenant(
    settings: FluxSettings, name: str, country: str = "US", subdivision: str | None = None
) -> UUID:
    from flux_core.calendars import subdivisions

    country = country.upper()
    if subdivision is not None:
        subdivision = subdivision.upper()
        known = subdivisions(country)
        if subdivision not in known:
            _fail(
                f"{country} has no subdivision {subdivision!r} in the holidays package; "
                f"known: {', '.join(known) or 'none'}"
            )
    with get_engine("pipeline", settings).begin() as conn:
        return conn.execute(
            sa.insert(tenants)
            .values(name=name, country=country, subdivision=subdivision)
            .returning(tenants.c.tenant_id)
        ).scalar_one()


def create_user(
    settings: FluxSettings, tenant_id: UUID, email: str, role: user_service.UserRole, password: str
) -> UUID:
    try:
        with get_engine("pipeline", settings).begin() as conn:
            return user_service.create_user(
                conn, tenant_id=tenant_id, email=email, role=role, password=password
            )
    except (user_service.WeakPassword, user_service.EmailTaken) as error:
        _fail(str(error))


def _read_password() -> str:
    if sys.stdin.isatty():
        return getpass.getpass("password: ")
    return sys.stdin.readline().rstrip("\n")


def cmd_tenants(args: argparse.Namespace, settings: FluxSettings) -> None:
    print(create_tenant(settings, args.name, args.country, args.subdivision))


def cmd_users(args: argparse.Namespace, settings: FluxSettings) -> None:
    print(create_user(settings, args.tenant, args.email, args.role, _read_password()))


# -- data and runs ----------------------------------------------------------------------------------


def cmd_upload(args: argparse.Namespace, settings: FluxSettings) -> None:
    path = Path(args.file)
    if not path.is_file():
        _fail(f"{path}: no such file")
    try:
        column_mapping = column_mapping_from_pairs(args.map)
    except InvalidColumnMapping as exc:
        _fail(f"--map: {exc}")
    with get_engine("pipeline", settings).begin() as conn, path.open("rb") as stream:
        if (
            conn.execute(
                sa.select(tenants.c.tenant_id).where(tenants.c.tenant_id == args.tenant)
            ).first()
            is None
        ):
            _fail(f"no tenant {args.tenant}")
        receipt = receive_upload(
            conn,
            landing_zone(settings),
            args.tenant,
            path.name,
            stream,
            max_bytes=settings.upload_max_bytes,
            column_mapping=column_mapping,
        )
    print(receipt.upload_id)


def cmd_stores(args: argparse.Namespace, settings: FluxSettings) -> None:
    """Which tenant a store of a multi-store booking export is: its lines load for that tenant."""
    with get_engine("pipeline", settings).begin() as conn:
        if args.action == "map":
            for code in args.codes:
                statement = pg_insert(store_codes).values(store_code=code, tenant_id=args.tenant)
                conn.execute(
                    statement.on_conflict_do_update(
                        index_elements=[store_codes.c.store_code],
                        set_={"tenant_id": statement.excluded.tenant_id},
                    )
                )
        for row in conn.execute(sa.select(store_codes).order_by(store_codes.c.store_code)):
            print(f"{row.store_code}\t{row.tenant_id}")


def _upload_rows(conn: sa.Connection, tenant_id: UUID) -> list[sa.Row]:
    return list(
        conn.execute(
            sa.select(uploads)
            .where(uploads.c.tenant_id == tenant_id)
            .order_by(uploads.c.received_at.desc())
        ).all()
    )


def cmd_uploads(args: argparse.Namespace, settings: FluxSettings) -> None:
    if args.action == "list":
        with get_engine("pipeline", settings).connect() as conn:
            rows = _upload_rows(conn, args.tenant)
        if not rows:
            print(f"tenant {args.tenant} has no uploads")
            return
        print(
            f"{'upload':36}  {'received (UTC)':16}  {'status':9}  tries  loaded  rejected  reason"
        )
        for r in rows:
            loaded = "" if r.rows_loaded is None else str(r.rows_loaded)
            rejected = "" if r.rows_rejected is None else str(r.rows_rejected)
            print(
                f"{r.upload_id!s:36}  {r.received_at:%Y-%m-%d %H:%M}  {r.status:9}  "
                f"{r.attempts:5}  {loaded:>6}  {rejected:>8}  {(r.error or '')[:100]}"
            )
        return
    retry_upload(settings, args.upload)


def retry_upload(settings: FluxSettings, upload_id: UUID) -> None:
    """Send an upload through its tenant's pipeline again: one that failed (its attempts spent),
    was refused, or waits; never one already loaded (its rows are in staging once already)."""
    with get_engine("pipeline", settings).begin() as conn:
        row = conn.execute(
            sa.select(uploads.c.tenant_id, uploads.c.status)
            .where(uploads.c.upload_id == upload_id)
            .with_for_update()
        ).first()
        if row is None:
            _fail(f"no upload {upload_id}")
        if row.status in ("loaded", "duplicate"):
            _fail(f"upload {upload_id} is {row.status}: there is nothing to load again")
        conn.execute(
            sa.update(uploads)
            .where(uploads.c.upload_id == upload_id)
            .values(status="received", attempts=0, error=None, processed_at=None)
        )
    print(f"upload {upload_id} ({row.status}) sent again; running its tenant {row.tenant_id} ...")
    from flux_pipelines.runner import run_graph

    results = run_graph(settings, only=[row.tenant_id], trigger="operator-retry")
    with get_engine("pipeline", settings).connect() as conn:
        after = conn.execute(
            sa.select(uploads.c.status, uploads.c.attempts, uploads.c.error).where(
                uploads.c.upload_id == upload_id
            )
        ).one()
    print(f"upload {upload_id}: {after.status}" + (f" ({after.error})" if after.error else ""))
    if not all(r.success for r in results) or after.status not in ("loaded", "duplicate"):
        raise SystemExit(1)


def cmd_forecasts(args: argparse.Namespace, settings: FluxSettings) -> None:
    from flux_core.forecasts.export import export_forecasts

    rows = export_forecasts(settings, Path(args.file), args.tenant)
    print(f"wrote {rows} forecast rows to {args.file}")


def cmd_run(args: argparse.Namespace, settings: FluxSettings) -> None:
    from flux_pipelines.runner import run_graph

    results = run_graph(
        settings,
        on_batch=lambda i, n, a, b: print(f"run {i}/{n}: tenants {a} .. {b}", flush=True),
        only=args.tenant or None,
    )
    failed = [r.run_id for r in results if not r.success]
    print(f"{len(results)} run(s), {len(failed)} failed" + (f": {failed}" if failed else ""))
    if failed:
        raise SystemExit(1)


def cmd_demo(args: argparse.Namespace, settings: FluxSettings) -> None:
    from flux_pipelines.demo_run import run_demo

    run_demo(settings)


# -- servers ----------------------------------------------------------------------------------------


def _bin(name: str) -> str:
    return services.bin_path(name)


def _run_service(args: argparse.Namespace, settings: FluxSettings, service: Service) -> None:
    if getattr(args, "background", False):
        services.start_background(settings, service)
        print(f"the {service.name} server runs in the background; `make stop` stops it")
        return
    raise SystemExit(services.run_foreground(settings, service))


def dagster_service(settings: FluxSettings, name: str, command: list[str]) -> Service:
    from flux_pipelines.instance import dagster_environment

    environment = dagster_environment(settings)
    # From DAGSTER_HOME, where our dagster.yaml is copied, so Dagster finds no second one.
    return Service(name, command, environment, cwd=Path(environment["DAGSTER_HOME"]))


def cmd_ui(args: argparse.Namespace, settings: FluxSettings) -> None:
    print(
        f"Dagster UI on http://{args.host}:{args.port} (Ctrl-C or `make stop` to stop)", flush=True
    )
    workspace = str(PROJECT_ROOT / "workspace.yaml")
    command = [_bin("dagster"), "dev", "-w", workspace, "-h", args.host, "-p", str(args.port)]
    service = dagster_service(settings, "ui", command)
    _run_service(
        args, settings, replace(service, ready_url=f"http://{args.host}:{args.port}/server_info")
    )


def cmd_daemon(args: argparse.Namespace, settings: FluxSettings) -> None:
    print("Dagster daemon: sensors, schedules and queued runs (`make stop` to stop)", flush=True)
    workspace = str(PROJECT_ROOT / "workspace.yaml")
    _run_service(
        args,
        settings,
        dagster_service(settings, "daemon", [_bin("dagster-daemon"), "run", "-w", workspace]),
    )


def cmd_api(args: argparse.Namespace, settings: FluxSettings) -> None:
    service = services.api_service(settings, args.host, args.port)
    print(
        f"Flux API on http://{args.host}:{args.port or settings.api_port} "
        "(docs at /v1/docs; Ctrl-C or `make stop` to stop)",
        flush=True,
    )
    _run_service(args, settings, service)


def cmd_web(args: argparse.Namespace, settings: FluxSettings) -> None:
    """The dashboard's production build, served in the background, and the API it calls."""
    try:
        print(services.start_dashboard(settings))
    except services.DashboardNotReady as why:
        _fail(str(why))


def cmd_mlflow(args: argparse.Namespace, settings: FluxSettings) -> None:
    from flux_core.training.registry import ensure_store, tracking_uri

    ensure_store(settings)
    print(
        f"MLflow UI on http://{args.host}:{args.port} (Ctrl-C or `make stop` to stop)", flush=True
    )
    command = [
        _bin("mlflow"),
        "ui",
        "--backend-store-uri",
        tracking_uri(settings),
        "--host",
        args.host,
        "--port",
        str(args.port),
    ]
    _run_service(
        args,
        settings,
        Service("mlflow", command, {}, ready_url=f"http://{args.host}:{args.port}/health"),
    )


def cmd_dbt_docs(args: argparse.Namespace, settings: FluxSettings) -> None:
    from flux_pipelines.defs.features.docs import generate_docs, serve_docs

    site = generate_docs(settings)
    print(f"dbt's documentation site: {site / 'index.html'}", flush=True)
    if not args.generate_only:
        print(f"served on http://{args.host}:{args.port} (Ctrl-C to stop)", flush=True)
        try:
            serve_docs(settings, args.host, args.port)
        except KeyboardInterrupt:
            pass


def cmd_stop(args: argparse.Namespace, settings: FluxSettings) -> None:
    """Every server Flux started, with all it started, waited for; the database last."""
    for name in services.SERVICES:
        if services.stop(settings, name):
            print(f"stopped the {name} server")
    if not settings.database_url:
        stopped = LocalCluster.from_settings(settings).down()
        print(
            "stopped the local PostgreSQL cluster"
            if stopped
            else "the local PostgreSQL cluster was not running"
        )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="flux", description="Flux: demand forecasts for restaurants."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    db = sub.add_parser("db", help="the database: up, stop, migrate, url")
    db.add_argument("action", choices=["up", "stop", "migrate", "url"])
    db.add_argument("--role", choices=["owner", "pipeline", "api", "analyst"], default="owner")
    db.set_defaults(func=cmd_db)

    tenants_parser = sub.add_parser("tenants", help="create a tenant (prints its id)")
    tenants_sub = tenants_parser.add_subparsers(dest="action", required=True)
    create = tenants_sub.add_parser("create")
    create.add_argument("name")
    create.add_argument("--country", default="US", help="ISO 3166 code, for public holidays")
    create.add_argument(
        "--subdivision", help="its region (a US state, a German Land), for regional holidays"
    )
    tenants_parser.set_defaults(func=cmd_tenants)

    users_parser = sub.add_parser("users", help="create a user (password on stdin)")
    users_sub = users_parser.add_subparsers(dest="action", required=True)
    user = users_sub.add_parser("create")
    user.add_argument("--tenant", type=UUID, required=True)
    user.add_argument("--email", required=True)
    user.add_argument("--role", choices=sorted(user_service.USER_ROLES), required=True)
    users_parser.set_defaults(func=cmd_users)

    upload = sub.add_parser(
        "upload", help="upload a sales file for a tenant (prints the upload id)"
    )
    upload.add_argument("--tenant", type=UUID, required=True)
    upload.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="NAME=HEADER",
        help="use this header of the file for our column NAME (date, sales, covers, ...), instead of detection",
    )
    upload.add_argument("file")
    upload.set_defaults(func=cmd_upload)

    stores_parser = sub.add_parser(
        "stores", help="map the stores of multi-store booking exports to tenants"
    )
    stores_sub = stores_parser.add_subparsers(dest="action", required=True)
    store_map = stores_sub.add_parser("map", help="these store codes are this tenant's")
    store_map.add_argument("--tenant", type=UUID, required=True)
    store_map.add_argument("codes", nargs="+")
    stores_sub.add_parser("list", help="every store code and its tenant")
    stores_parser.set_defaults(func=cmd_stores)

    forecasts_parser = sub.add_parser("forecasts", help="export the current forecasts as CSV")
    forecasts_sub = forecasts_parser.add_subparsers(dest="action", required=True)
    export = forecasts_sub.add_parser("export")
    export.add_argument("--tenant", type=UUID, help="one tenant; every tenant when left out")
    export.add_argument("file")
    forecasts_parser.set_defaults(func=cmd_forecasts)

    uploads_parser = sub.add_parser(
        "uploads", help="a tenant's uploads and their outcome; send one through again"
    )
    uploads_sub = uploads_parser.add_subparsers(dest="action", required=True)
    listing = uploads_sub.add_parser("list", help="status, tries, counts and reason of each")
    listing.add_argument("--tenant", type=UUID, required=True)
    again = uploads_sub.add_parser(
        "retry", help="load a failed, refused or waiting upload again, now"
    )
    again.add_argument("upload", type=UUID)
    uploads_parser.set_defaults(func=cmd_uploads)

    run = sub.add_parser("run", help="materialize the whole graph for every tenant with data")
    run.add_argument(
        "--tenant", type=UUID, action="append", help="only this tenant (repeat for more)"
    )
    run.set_defaults(func=cmd_run)
    sub.add_parser("demo", help="three demo restaurants, end to end").set_defaults(func=cmd_demo)

    background = {"action": "store_true", "help": "start it detached and return once it answers"}
    ui = sub.add_parser("ui", help="the Dagster UI (with its daemon: sensor and schedule)")
    ui.add_argument("--host", default="127.0.0.1")
    ui.add_argument("--port", type=int, default=3000)
    ui.add_argument("--background", **background)  # type: ignore[arg-type]
    ui.set_defaults(func=cmd_ui)
    daemon = sub.add_parser("daemon", help="the Dagster daemon alone (sensors, schedules, runs)")
    daemon.add_argument("--background", **background)  # type: ignore[arg-type]
    daemon.set_defaults(func=cmd_daemon)
    api = sub.add_parser("api", help="the API server")
    api.add_argument("--host", default="127.0.0.1")
    api.add_argument("--port", type=int, default=None, help="default: FLUX_API_URL's port")
    api.add_argument("--background", **background)  # type: ignore[arg-type]
    api.set_defaults(func=cmd_api)
    sub.add_parser(
        "web", help="serve the dashboard's build on FLUX_WEB_PORT, and the API when it is down"
    ).set_defaults(func=cmd_web)
    mlflow = sub.add_parser("mlflow", help="the MLflow UI on the model registry")
    mlflow.add_argument("--host", default="127.0.0.1")
    mlflow.add_argument("--port", type=int, default=5000)
    mlflow.add_argument("--background", **background)  # type: ignore[arg-type]
    mlflow.set_defaults(func=cmd_mlflow)
    docs = sub.add_parser(
        "dbt-docs", help="generate and serve dbt's documentation: every model, column and lineage"
    )
    docs.add_argument("--host", default="127.0.0.1")
    docs.add_argument("--port", type=int, default=8580)
    docs.add_argument("--generate-only", action="store_true", help="write the site, do not serve")
    docs.set_defaults(func=cmd_dbt_docs)
    sub.add_parser(
        "stop", help="stop the servers and the local database Flux started"
    ).set_defaults(func=cmd_stop)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        args.func(args, get_settings())
    except PostgresNotFound as exc:
        _fail(str(exc))
