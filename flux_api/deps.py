"""Typed dependencies: settings, the verified user and tenant, and tenant-scoped connections.

Every route that touches tenant data takes ``TenantReader`` (``async`` read routes: a read-only
transaction on the event loop, ``flux_api.reads``) or ``TenantConnection`` (routes that write or
hash passwords: a SQLAlchemy transaction in the thread pool). In both, ``app.tenant_id`` is the
tenant of the verified token and the token's user is re-checked, so row-level security scopes every
statement and route code never filters by tenant itself. Every route states what it needs with
``Allowed(permission)`` (the table is in ``flux_api.permissions``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Annotated, Any
from uuid import UUID

import sqlalchemy as sa
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordBearer
from psycopg_pool import AsyncConnectionPool

from flux_api.permissions import Permission, allows
from flux_api.reads import InactiveUser, ReadConnection, tenant_read
from flux_api.security import InvalidToken, TokenClaims, TokenVerifier
from flux_core.db.connections import role_url
from flux_core.landing import LandingZone, landing_zone
from flux_core.settings import FluxSettings, get_settings

TOKEN_URL = "/v1/auth/token"  # noqa: S105 (a path, not a secret)

_bearer = OAuth2PasswordBearer(tokenUrl=TOKEN_URL, auto_error=False)


def unauthorized(detail: str = "missing, invalid or expired token") -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": "Bearer"}
    )


# Dependencies that do not block are ``async def``: FastAPI runs a plain ``def`` dependency in the
# thread pool, and a thread hop per dependency costs more than the work of most of them.


async def app_settings(request: Request) -> FluxSettings:
    settings: FluxSettings | None = request.app.state.settings
    return settings if settings is not None else get_settings()


SettingsDep = Annotated[FluxSettings, Depends(app_settings)]


# Enough connections for the thread pool's concurrent requests; no pre-ping (a round trip per
# request): a dropped connection fails one request and SQLAlchemy then refreshes the pool.
POOL_SIZE = 20


def make_api_engine(settings: FluxSettings) -> sa.Engine:
    return sa.create_engine(
        role_url(settings, "api"),
        pool_size=POOL_SIZE,
        max_overflow=0,
        pool_timeout=10,
        pool_recycle=3600,
        # Never echo statement parameters into errors and logs: they can hold password hashes.
        hide_parameters=True,
    )


async def api_engine(request: Request, settings: SettingsDep) -> sa.Engine:
    engine: sa.Engine | None = getattr(request.app.state, "api_engine", None)
    if engine is None:
        engine = request.app.state.api_engine = make_api_engine(settings)
    return engine


ApiEngine = Annotated[sa.Engine, Depends(api_engine)]


def landing(request: Request, settings: SettingsDep) -> LandingZone:
    zone: LandingZone | None = getattr(request.app.state, "landing_zone", None)
    if zone is None:
        zone = request.app.state.landing_zone = landing_zone(settings)
    return zone


LandingZoneDep = Annotated[LandingZone, Depends(landing)]


def token_verifier(request: Request) -> TokenVerifier:
    # Made with the app (``create_app``): keys are parsed once, and a bad key fails at startup.
    verifier: TokenVerifier = request.app.state.token_verifier
    return verifier


async def current_user(
    request: Request, token: Annotated[str | None, Depends(_bearer)]
) -> TokenClaims:
    if not token:
        raise unauthorized("not authenticated")
    try:
        claims = token_verifier(request).decode(token)
    except InvalidToken as error:
        raise unauthorized() from error
    # For the request log (flux_api.logs); the scope's state is shared with the middleware.
    request.state.tenant_id = str(claims.tenant_id)
    return claims


CurrentUser = Annotated[TokenClaims, Depends(current_user)]


async def current_tenant(user: CurrentUser) -> UUID:
    return user.tenant_id


CurrentTenant = Annotated[UUID, Depends(current_tenant)]


@contextmanager
def tenant_transaction(engine: sa.Engine, user: TokenClaims) -> Iterator[sa.Connection]:
    """A transaction scoped to the token's tenant, in which the token's user is still active.

    The user is looked up through RLS (one primary-key read): a disabled user, a changed role, or a
    user who is not in the token's tenant ends the token's validity at once, not when it expires.
    ``set_config(..., true)`` is local to the transaction, so a pooled connection never carries
    one request's tenant into the next.
    """
    with engine.begin() as conn:
        # One round trip: flux.enter_tenant sets app.tenant_id and re-checks the user under RLS,
        # raising SQLSTATE 28000 (invalid authorization) when the user is no longer active.
        try:
            conn.execute(
                sa.select(sa.func.flux.enter_tenant(user.tenant_id, user.user_id, user.role))
            )
        except sa.exc.DBAPIError as exc:
            if getattr(exc.orig, "sqlstate", None) == "28000":
                raise unauthorized() from None
            raise
        yield conn


def tenant_scoped_connection(user: CurrentUser, engine: ApiEngine) -> Iterator[sa.Connection]:
    with tenant_transaction(engine, user) as conn:
        yield conn


# scope="function": the transaction commits before the response is sent, so a failed commit is an
# error response, never a 2xx for work that was rolled back.
TenantConnection = Annotated[sa.Connection, Depends(tenant_scoped_connection, scope="function")]


def read_pool(request: Request) -> AsyncConnectionPool[ReadConnection]:
    pool: AsyncConnectionPool[ReadConnection] | None = request.app.state.read_pool
    if pool is None:
        raise RuntimeError(
            "the read pool opens with the app's lifespan: use `with TestClient(app)`"
        )
    return pool


# Plain functions, not dependencies of their own, on the busiest path: each dependency that
# FastAPI resolves costs more than reading ``app.state``.
async def tenant_reader(request: Request, user: CurrentUser) -> AsyncIterator[ReadConnection]:
    try:
        async with tenant_read(read_pool(request), user.tenant_id, user.user_id, user.role) as conn:
            yield conn
    except InactiveUser as error:
        raise unauthorized() from error


# As TenantConnection: the transaction ends before the response is sent.
TenantReader = Annotated[ReadConnection, Depends(tenant_reader, scope="function")]


def Allowed(permission: Permission) -> Any:  # capitalised: it reads as a type in signatures
    """``user: Annotated[TokenClaims, Allowed("uploads:write")]``: 403 for a role without it."""

    async def role_guard(user: CurrentUser) -> TokenClaims:
        if not allows(user.role, permission):
            raise HTTPException(status.HTTP_403_FORBIDDEN, "your role may not do this")
        return user

    role_guard.permission = permission  # type: ignore[attr-defined]
    return Depends(role_guard)
