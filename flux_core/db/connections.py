"""Connection URLs and engines, one per database role of DESIGN.md.

``flux_owner`` runs migrations, ``flux_pipeline`` writes (Dagster, dbt, the CLI), ``flux_api``
reads and writes only through row-level security, ``flux_analyst`` reads the marts.
"""

from __future__ import annotations

from functools import lru_cache

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

from flux_core.db.cluster import LocalCluster
from flux_core.settings import FluxSettings, Role, get_settings

ROLE_NAMES: dict[Role, str] = {
    "owner": "flux_owner",
    "pipeline": "flux_pipeline",
    "api": "flux_api",
    "analyst": "flux_analyst",
}


def owner_url(settings: FluxSettings) -> URL:
    if settings.database_url:
        return make_url(settings.database_url)
    return make_url(LocalCluster.from_settings(settings).owner_url())


def role_url(
    settings: FluxSettings,
    role: Role,
    *,
    database: str | None = None,
    driver: str | None = "psycopg",
) -> URL:
    url = owner_url(settings)
    if role != "owner":
        secret = getattr(settings, f"database_password_{role}")
        url = url.set(
            username=ROLE_NAMES[role], password=secret.get_secret_value() if secret else None
        )
    if database:
        url = url.set(database=database)
    return url.set(drivername=f"postgresql+{driver}" if driver else "postgresql")


def service_database(settings: FluxSettings, service: str) -> str:
    """Dagster's and MLflow's storage live in databases named after ours (flux -> flux_dagster)."""
    return f"{owner_url(settings).database}_{service}"


def plain_url(url: URL) -> str:
    """A libpq URL (for psycopg, dbt, Dagster), with the password."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


@lru_cache(maxsize=16)
def _engine(url: str, pool_size: int) -> sa.Engine:
    return sa.create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


def get_engine(role: Role, settings: FluxSettings | None = None, pool_size: int = 5) -> sa.Engine:
    settings = settings or get_settings()
    return _engine(role_url(settings, role).render_as_string(hide_password=False), pool_size)


def ensure_database(settings: FluxSettings) -> URL:
    """Start the local cluster when no database URL is configured; return the owner URL."""
    if not settings.database_url:
        LocalCluster.from_settings(settings).up()
    return owner_url(settings)
