"""``flux``: the operators' command line.

flux db up | db stop | db migrate | db url [--role ROLE]
flux tenants create NAME [--country CC]
flux users create --tenant ID --email E --role owner|manager|chef   (password on stdin)
flux upload --tenant ID FILE
flux uploads list --tenant ID | uploads retry UPLOAD
flux run [--tenant ID]        materialize the whole graph for every tenant with data
flux demo                     three demo restaurants, end to end
flux ui | api | stop          the Dagster UI, the API server, stop what Flux started
"""

from __future__ import annotations

import argparse
import getpass
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import NoReturn
from uuid import UUID

import sqlalchemy as sa

from flux_pipelines.db.cluster import LocalCluster, PostgresNotFound
from flux_pipelines.db.connections import ensure_database, get_engine, plain_url, role_url
from flux_pipelines.db.migrate import migrate
from flux_pipelines.db.tables import tenants, uploads, users
from flux_pipelines.defs.ingest.uploads import (
    InvalidColumnMapping,
    column_mapping_from_pairs,
    receive_upload,
)
from flux_pipelines.landing import landing_zone
from flux_pipelines.settings import PROJECT_ROOT, FluxSettings, get_settings


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


def create_tenant(settings: FluxSettings, name: str, country: str = "US") -> UUID:
    with get_engine("pipeline", settings).begin() as conn:
        return conn.execute(
            sa.insert(tenants)
            .values(name=name, country=country.upper())
            .returning(tenants.c.tenant_id)
        ).scalar_one()


def create_user(
    settings: FluxSettings, tenant_id: UUID, email: str, role: str, password: str
) -> UUID:
    from flux_api.security import hash_password

    if len(password) < 8:
        _fail("the password must have at least 8 characters")
    with get_engine("pipeline", settings).begin() as conn:
        return conn.execute(
            sa.insert(users)
            .values(
                tenant_id=tenant_id,
                email=email.strip().lower(),
                role=role,
                password_hash=hash_password(password),
            )
            .returning(users.c.user_id)
        ).scalar_one()


def _read_password() -> str:
    if sys.stdin.isatty():
        return getpass.getpass("password: ")
    return sys.stdin.readline().rstrip("\n")


def cmd_tenants(args: argparse.Namespace, settings: FluxSettings) -> None:
    print(create_tenant(settings, args.name, args.country))


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
    from flux_pipelines.defs.forecasts.export import export_forecasts

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


def _pid_file(settings: FluxSettings, name: str) -> Path:
    folder = settings.home / "run"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{name}.pid"


def _serve(
    settings: FluxSettings,
    name: str,
    command: list[str],
    env: dict[str, str],
    cwd: Path = PROJECT_ROOT,
) -> None:
    process = subprocess.Popen(command, cwd=cwd, env={**os.environ, **env})
    _pid_file(settings, name).write_text(str(process.pid))
    try:
        raise SystemExit(process.wait())
    except KeyboardInterrupt:
        process.send_signal(signal.SIGINT)
        raise SystemExit(process.wait()) from None
    finally:
        _pid_file(settings, name).unlink(missing_ok=True)


def cmd_ui(args: argparse.Namespace, settings: FluxSettings) -> None:
    from flux_pipelines.instance import dagster_environment

    print(
        f"Dagster UI on http://{args.host}:{args.port} (Ctrl-C or `make stop` to stop)", flush=True
    )
    dagster = str(Path(sys.executable).with_name("dagster"))
    command = [
        dagster,
        "dev",
        "-w",
        str(PROJECT_ROOT / "workspace.yaml"),
        "-h",
        args.host,
        "-p",
        str(args.port),
    ]
    environment = dagster_environment(settings)
    # From DAGSTER_HOME, where our dagster.yaml is copied, so Dagster finds no second one.
    _serve(settings, "ui", command, environment, cwd=Path(environment["DAGSTER_HOME"]))


def cmd_api(args: argparse.Namespace, settings: FluxSettings) -> None:
    print(
        f"Flux API on http://{args.host}:{args.port} (docs at /docs; Ctrl-C or `make stop` to stop)",
        flush=True,
    )
    uvicorn = str(Path(sys.executable).with_name("uvicorn"))
    _serve(
        settings,
        "api",
        [uvicorn, "flux_api.main:app", "--host", args.host, "--port", str(args.port)],
        {},
    )


def cmd_mlflow(args: argparse.Namespace, settings: FluxSettings) -> None:
    from flux_pipelines.defs.training.registry import ensure_store, tracking_uri

    ensure_store(settings)
    print(
        f"MLflow UI on http://{args.host}:{args.port} (Ctrl-C or `make stop` to stop)", flush=True
    )
    mlflow = str(Path(sys.executable).with_name("mlflow"))
    command = [
        mlflow,
        "ui",
        "--backend-store-uri",
        tracking_uri(settings),
        "--host",
        args.host,
        "--port",
        str(args.port),
    ]
    _serve(settings, "mlflow", command, {})


def cmd_stop(args: argparse.Namespace, settings: FluxSettings) -> None:
    for name in ("ui", "api", "mlflow"):
        pid_file = _pid_file(settings, name)
        if pid_file.exists():
            try:
                os.kill(int(pid_file.read_text()), signal.SIGTERM)
                print(f"stopped the {name} server")
            except ProcessLookupError:
                pass
            pid_file.unlink(missing_ok=True)
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
    tenants_parser.set_defaults(func=cmd_tenants)

    users_parser = sub.add_parser("users", help="create a user (password on stdin)")
    users_sub = users_parser.add_subparsers(dest="action", required=True)
    user = users_sub.add_parser("create")
    user.add_argument("--tenant", type=UUID, required=True)
    user.add_argument("--email", required=True)
    user.add_argument("--role", choices=["owner", "manager", "chef"], required=True)
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

    ui = sub.add_parser("ui", help="the Dagster UI (with its daemon: sensor and schedule)")
    ui.add_argument("--host", default="127.0.0.1")
    ui.add_argument("--port", type=int, default=3000)
    ui.set_defaults(func=cmd_ui)
    api = sub.add_parser("api", help="the API server")
    api.add_argument("--host", default="127.0.0.1")
    api.add_argument("--port", type=int, default=8000)
    api.set_defaults(func=cmd_api)
    mlflow = sub.add_parser("mlflow", help="the MLflow UI on the model registry")
    mlflow.add_argument("--host", default="127.0.0.1")
    mlflow.add_argument("--port", type=int, default=5000)
    mlflow.set_defaults(func=cmd_mlflow)
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
