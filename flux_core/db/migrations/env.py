"""Alembic environment: migrations run as the schema owner, on the URL Flux resolves."""

from alembic import context
from sqlalchemy import create_engine

from flux_core.db.connections import role_url
from flux_core.settings import get_settings

url = context.config.attributes.get("url") or role_url(get_settings(), "owner")
engine = create_engine(url)
with engine.connect() as connection:
    context.configure(
        connection=connection, version_table_schema="public", transaction_per_migration=True
    )
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
