"""Tests run against a real PostgreSQL: the project's own cluster (or FLUX_DATABASE_URL's server),
in databases of their own (``flux_test_<pid>`` and its ``_dagster``/``_mlflow`` companions) made
fresh for each session, so a developer's demo data is never touched and two sessions never share."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

from flux_core.db.connections import ensure_database, get_engine, plain_url, role_url
from flux_core.db.migrate import migrate
from flux_core.db.tables import tenants
from flux_core.settings import FluxSettings, get_settings

# Fixtures other test modules share, available everywhere without importing them.
pytest_plugins = ["api_fixtures", "moto_server", "private_stack"]

TEST_PREFIX = "flux_test_"
TEST_DATABASE = f"{TEST_PREFIX}{os.getpid()}"
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def _stale_test_databases(conn: psycopg.Connection) -> list[str]:
    """This session's databases and those of test sessions whose process is gone."""
    names = conn.execute(
        "select datname from pg_database where datname like %s", (f"{TEST_PREFIX}%",)
    ).fetchall()
    stale = []
    for (name,) in names:
        pid = name.removeprefix(TEST_PREFIX).split("_")[0]
        if pid.isdigit() and (int(pid) == os.getpid() or not Path(f"/proc/{pid}").exists()):
            stale.append(name)
    return stale


def _fresh_test_database() -> FluxSettings:
    base = FluxSettings()
    admin_url = ensure_database(base)
    with psycopg.connect(plain_url(admin_url), autocommit=True) as conn:
        for name in _stale_test_databases(conn):
            conn.execute(f'drop database if exists "{name}" with (force)')
        conn.execute(f'create database "{TEST_DATABASE}" owner flux_owner')
    os.environ["FLUX_DATABASE_URL"] = plain_url(admin_url.set(database=TEST_DATABASE))
    os.environ["FLUX_ENVIRONMENT"] = "test"
    os.environ.setdefault(
        "FLUX_LANDING_URL", Path(tempfile.mkdtemp(prefix="flux-landing-")).as_uri()
    )
    get_settings.cache_clear()
    settings = get_settings()
    migrate(settings)
    return settings


@pytest.fixture(scope="session")
def settings() -> FluxSettings:
    return _fresh_test_database()


@pytest.fixture(scope="session")
def pipeline_engine(settings: FluxSettings) -> sa.Engine:
    return get_engine("pipeline", settings)


@pytest.fixture(scope="session")
def api_engine(settings: FluxSettings) -> sa.Engine:
    return get_engine("api", settings)


@pytest.fixture(scope="session")
def owner_url(settings: FluxSettings) -> str:
    return plain_url(role_url(settings, "owner"))


@pytest.fixture
def make_tenant(pipeline_engine: sa.Engine) -> Iterator[Callable[..., uuid.UUID]]:
    def _make(name: str | None = None, country: str = "US") -> uuid.UUID:
        with pipeline_engine.begin() as conn:
            return conn.execute(
                sa.insert(tenants)
                .values(name=name or f"tenant-{uuid.uuid4().hex[:8]}", country=country)
                .returning(tenants.c.tenant_id)
            ).scalar_one()

    yield _make
