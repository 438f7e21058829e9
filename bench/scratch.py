"""A benchmark's own database, made anew on each run (with its Dagster and MLflow databases)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import psycopg

from flux_core.db.connections import ensure_database, plain_url, service_database
from flux_core.db.migrate import migrate
from flux_core.settings import FluxSettings, get_settings


def scratch_settings(database: str, home: Path | None = None) -> FluxSettings:
    """Settings for ``database``, dropped and migrated afresh; FLUX_DATABASE_URL points to it for
    the resources and child processes that read the environment. ``home``: FLUX_HOME from then on
    (MLflow's artifacts, the landing zone), emptied first; the cluster stays where it was."""
    admin = ensure_database(FluxSettings())
    if home is not None:
        shutil.rmtree(home, ignore_errors=True)
        os.environ["FLUX_HOME"] = str(home)
    # The server's maintenance database: the URL may already be a scratch database's (a second
    # call in the same process), which cannot drop itself.
    with psycopg.connect(plain_url(admin.set(database="postgres")), autocommit=True) as conn:
        for name in (database, f"{database}_dagster", f"{database}_mlflow"):
            conn.execute(f'drop database if exists "{name}" with (force)')
        conn.execute(f'create database "{database}" owner flux_owner')
    os.environ["FLUX_DATABASE_URL"] = plain_url(admin.set(database=database))
    get_settings.cache_clear()
    settings = get_settings()
    assert service_database(settings, "mlflow") == f"{database}_mlflow"
    migrate(settings)
    return settings
