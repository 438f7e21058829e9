"""The operators' command line, run as a newcomer would: the `flux` script in a subprocess."""

from __future__ import annotations

import csv
import datetime as dt
import os
import subprocess
import sys
from pathlib import Path
from uuid import UUID

import sqlalchemy as sa

from flux_core.db.tables import forecasts, tenants, uploads, users
from flux_core.settings import FluxSettings

FLUX = str(Path(sys.executable).with_name("flux"))


def flux(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [FLUX, *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=120,
    )


def test_tenants_users_and_uploads(
    settings: FluxSettings, pipeline_engine: sa.Engine, tmp_path: Path
) -> None:
    created = flux("tenants", "create", "Chez CLI", "--country", "fr")
    assert created.returncode == 0, created.stderr
    tenant = UUID(created.stdout.strip())

    short = flux(
        "users",
        "create",
        "--tenant",
        str(tenant),
        "--email",
        "a@cli.example",
        "--role",
        "chef",
        stdin="short\n",
    )
    assert short.returncode == 1 and "at least 12" in short.stderr
    made = flux(
        "users",
        "create",
        "--tenant",
        str(tenant),
        "--email",
        "Chef@CLI.example",
        "--role",
        "chef",
        stdin="long enough secret\n",
    )
    assert made.returncode == 0, made.stderr
    with pipeline_engine.connect() as conn:
        user = conn.execute(
            sa.select(users).where(users.c.user_id == UUID(made.stdout.strip()))
        ).one()
    assert (user.tenant_id, user.email, user.role) == (tenant, "Chef@CLI.example", "chef")
    assert "long enough secret" not in user.password_hash

    sales = tmp_path / "export.csv"
    sales.write_text("Day;Net Total\n2025-02-01;120,50\n")
    sent = flux(
        "upload",
        "--tenant",
        str(tenant),
        "--map",
        "date=Day",
        "--map",
        "sales=Net Total",
        str(sales),
    )
    assert sent.returncode == 0, sent.stderr
    with pipeline_engine.connect() as conn:
        upload = conn.execute(
            sa.select(uploads).where(uploads.c.upload_id == UUID(sent.stdout.strip()))
        ).one()
    assert (upload.tenant_id, upload.status, upload.column_mapping) == (
        tenant,
        "received",
        {"date": "Day", "sales": "Net Total"},
    )
    bad_map = flux("upload", "--tenant", str(tenant), "--map", "sales", str(sales))
    assert bad_map.returncode == 1 and "is not name=header" in bad_map.stderr


def test_a_tenant_in_a_region_needs_a_region_the_holidays_package_knows(
    pipeline_engine: sa.Engine,
) -> None:
    wrong = flux("tenants", "create", "Zum Löwen", "--country", "DE", "--subdivision", "XX")
    assert wrong.returncode == 1
    assert "DE has no subdivision 'XX'" in wrong.stderr and "BY" in wrong.stderr
    made = flux("tenants", "create", "Zum Löwen", "--country", "de", "--subdivision", "by")
    assert made.returncode == 0, made.stderr
    with pipeline_engine.connect() as conn:
        place = conn.execute(
            sa.select(tenants.c.country, tenants.c.subdivision).where(
                tenants.c.tenant_id == UUID(made.stdout.strip())
            )
        ).one()
    assert tuple(place) == ("DE", "BY")


def test_forecasts_export_writes_one_tenants_rows(
    settings: FluxSettings, pipeline_engine: sa.Engine, make_tenant, tmp_path: Path
) -> None:
    mine, theirs = make_tenant(), make_tenant()
    start = dt.date(2026, 1, 1)
    with pipeline_engine.begin() as conn:
        for tenant, level in ((mine, 100.0), (theirs, 900.0)):
            conn.execute(
                sa.insert(forecasts),
                [
                    {
                        "tenant_id": tenant,
                        "metric": "sales",
                        "date": start + dt.timedelta(days=i),
                        "p10": level - 10,
                        "p50": level + i,
                        "p90": level + 50,
                        "model_version": 3,
                    }
                    for i in range(5)
                ],
            )
    out = tmp_path / "forecasts.csv"
    result = flux("forecasts", "export", "--tenant", str(mine), str(out))
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(out.open()))
    assert [r["tenant"] for r in rows] == [str(mine)] * 5
    assert [float(r["p50"]) for r in rows] == [100.0 + i for i in range(5)]
    assert set(rows[0]) == {"tenant", "date", "metric", "p10", "p50", "p90", "model_version"}


def test_db_url_names_the_role(settings: FluxSettings) -> None:
    result = flux("db", "url", "--role", "api")
    assert result.returncode == 0
    assert result.stdout.startswith("postgresql://flux_api@") and settings.database_url


def test_uploads_list_shows_a_failed_upload_and_retry_loads_it(
    settings: FluxSettings, pipeline_engine: sa.Engine, tmp_path: Path
) -> None:
    from flux_core.ingest.loader import MAX_LOAD_ATTEMPTS, load_uploads
    from flux_core.landing import LocalLandingZone, landing_zone

    tenant = UUID(flux("tenants", "create", "Retry Bistro").stdout.strip())
    sales = tmp_path / "sales.csv"
    sales.write_text("date,sales\n2025-02-01,120.50\n2025-02-02,99\n")
    upload = UUID(flux("upload", "--tenant", str(tenant), str(sales)).stdout.strip())
    zone = landing_zone(settings)
    assert isinstance(zone, LocalLandingZone)
    with pipeline_engine.connect() as conn:
        key = conn.execute(
            sa.select(uploads.c.object_key).where(uploads.c.upload_id == upload)
        ).scalar_one()
    stored = zone.root / key
    away = stored.rename(stored.with_suffix(".away"))  # the store loses it for a while
    for _ in range(MAX_LOAD_ATTEMPTS):
        load_uploads(pipeline_engine, zone, [upload])

    listed = flux("uploads", "list", "--tenant", str(tenant))
    assert listed.returncode == 0, listed.stderr
    line = next(row for row in listed.stdout.splitlines() if str(upload) in row)
    assert "failed" in line and f"{MAX_LOAD_ATTEMPTS:5}" in line and "FileNotFoundError" in line

    away.rename(stored)
    retried = flux("uploads", "retry", str(upload))
    assert retried.returncode == 0, retried.stdout + retried.stderr
    assert f"upload {upload}: loaded" in retried.stdout
    with pipeline_engine.connect() as conn:
        row = conn.execute(sa.select(uploads).where(uploads.c.upload_id == upload)).one()
    assert (row.status, row.attempts, row.rows_loaded) == ("loaded", 0, 2)

    again = flux("uploads", "retry", str(upload))
    assert again.returncode == 1 and "is loaded" in again.stderr
