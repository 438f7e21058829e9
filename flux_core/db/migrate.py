"""Apply Alembic migrations, then the service databases (Dagster, MLflow) that live beside ours."""

from __future__ import annotations

from pathlib import Path

import psycopg
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from psycopg import sql

from flux_core.db.connections import (
    ROLE_NAMES,
    ensure_database,
    plain_url,
    role_url,
    service_database,
)
from flux_core.settings import FluxSettings

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(settings: FluxSettings) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["url"] = role_url(settings, "owner")
    return config


def head_revision(settings: FluxSettings) -> str | None:
    return ScriptDirectory.from_config(alembic_config(settings)).get_current_head()


def current_revision(connection) -> str | None:  # type: ignore[no-untyped-def]
    return MigrationContext.configure(
        connection, opts={"version_table_schema": "public"}
    ).get_current_revision()


def migrate(settings: FluxSettings) -> None:
    ensure_database(settings)
    command.upgrade(alembic_config(settings), "head")
    ensure_service_databases(settings)
    set_role_passwords(settings)


def ensure_service_databases(settings: FluxSettings) -> None:
    """Dagster's and MLflow's storage: databases of their own, owned by the pipeline role."""
    with psycopg.connect(plain_url(role_url(settings, "owner")), autocommit=True) as conn:
        for name in (service_database(settings, "dagster"), service_database(settings, "mlflow")):
            if not conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone():
                conn.execute(f'create database "{name}" owner flux_pipeline')


def set_role_passwords(settings: FluxSettings) -> None:
    """Give the roles the passwords configured for them (a managed server needs them; the local
    cluster trusts loopback connections, so there they are optional)."""
    with psycopg.connect(plain_url(role_url(settings, "owner")), autocommit=True) as conn:
        for role, name in ROLE_NAMES.items():
            secret = getattr(settings, f"database_password_{role}", None)
            if secret is not None:
                conn.execute(
                    sql.SQL("alter role {} password {}").format(
                        sql.Identifier(name), sql.Literal(secret.get_secret_value())
                    )
                )
