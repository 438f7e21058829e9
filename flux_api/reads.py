"""The read path: tenant-scoped queries on the event loop, without a thread hop.

Read routes are ``async`` and run their queries on asynchronous psycopg connections from a pool of
fixed size per worker process (opened with the app's lifespan, so no request pays for a connect).
A request takes one connection, opens a read-only transaction and calls ``flux.enter_tenant``
(migration 0005), which sets ``app.tenant_id`` for that transaction and re-checks the token's user
in the same round trip; row-level security then scopes every statement, as on the write path.

Queries are still built with SQLAlchemy Core from ``flux_core.db.tables``, with bound
parameters for every value, and compiled once per shape: a request only binds values and executes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import psycopg
import sqlalchemy as sa
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg

from flux_core.db.connections import plain_url, role_url
from flux_core.settings import FluxSettings

# Per worker process. Two cores gain nothing from more queries in flight than this; requests beyond
# it wait their turn in the pool's queue (first come, first served). With the write path's engine
# (20) a worker holds at most 30 of PostgreSQL's connections (max_connections 300 on the cluster).
READ_POOL_SIZE = 10
READ_POOL_TIMEOUT_SECONDS = 10.0

ReadConnection = psycopg.AsyncConnection[dict[str, Any]]

_dialect = PGDialect_psycopg()


@dataclass(frozen=True)
class Statement:
    """A compiled query: its SQL text and the values of the parameters it binds itself."""

    sql: str
    fixed: Mapping[str, Any]

    async def fetch(self, conn: ReadConnection, **values: Any) -> Sequence[dict[str, Any]]:
        cursor = await conn.execute(self.sql, {**self.fixed, **values})  # type: ignore[arg-type]
        return await cursor.fetchall()


def compile_statement(query: sa.ClauseElement) -> Statement:
    compiled = query.compile(dialect=_dialect)
    return Statement(str(compiled), dict(compiled.params))


ENTER_TENANT = compile_statement(
    sa.select(
        sa.func.flux.enter_tenant(
            sa.bindparam("tenant_id", type_=sa.Uuid),
            sa.bindparam("user_id", type_=sa.Uuid),
            sa.bindparam("role", type_=sa.Text),
        )
    )
)


class InactiveUser(Exception):
    """The token's user is disabled, has another role now, or is not in the token's tenant."""


def open_read_pool(settings: FluxSettings) -> AsyncConnectionPool[ReadConnection]:
    """A pool that is not yet open: the lifespan opens and closes it."""
    return AsyncConnectionPool(
        plain_url(role_url(settings, "api")),
        connection_class=psycopg.AsyncConnection[dict[str, Any]],
        kwargs={
            "autocommit": True,  # transactions are explicit: ``tenant_read`` opens one
            "row_factory": dict_row,
            # Timestamps leave in UTC whatever the server's zone is.
            "options": "-c TimeZone=UTC",
        },
        configure=_read_only,
        min_size=READ_POOL_SIZE,
        max_size=READ_POOL_SIZE,
        timeout=READ_POOL_TIMEOUT_SECONDS,
        open=False,
        name="flux-api-reads",
    )


async def _read_only(conn: ReadConnection) -> None:
    # Every transaction on these connections starts with BEGIN READ ONLY: defence in depth.
    await conn.set_read_only(True)


@asynccontextmanager
async def tenant_read(
    pool: AsyncConnectionPool[ReadConnection], tenant_id: UUID, user_id: UUID, role: str
) -> AsyncIterator[ReadConnection]:
    """A read-only transaction in ``tenant_id``, provided ``user_id`` is still active in it.

    ``app.tenant_id`` is local to the transaction, so a pooled connection never carries one
    request's tenant into the next; a connection comes back to the pool only outside a transaction.
    """
    async with pool.connection() as conn, conn.transaction():
        try:
            await conn.execute(
                ENTER_TENANT.sql,  # type: ignore[arg-type]
                {"tenant_id": tenant_id, "user_id": user_id, "role": role},
            )
        except psycopg.errors.InvalidAuthorizationSpecification as error:
            raise InactiveUser from error
        yield conn
