"""Typed dependencies: settings, the verified user and tenant, and a tenant-scoped connection.

Every route that reads tenant data takes ``TenantConnection``: a transaction as ``flux_api`` in
which ``app.tenant_id`` is the tenant of the verified token, so row-level security scopes every
statement and route code never filters by tenant itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated
from uuid import UUID

import sqlalchemy as sa
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordBearer

from flux_api.security import InvalidToken, TokenClaims, UserRole, decode_access_token
from flux_pipelines.db.connections import get_engine
from flux_pipelines.db.tables import users
from flux_pipelines.landing import LandingZone, landing_zone
from flux_pipelines.settings import FluxSettings, get_settings

TOKEN_URL = "/v1/auth/token"  # noqa: S105 (a path, not a secret)

_bearer = OAuth2PasswordBearer(tokenUrl=TOKEN_URL, auto_error=False)


def _unauthorized(detail: str = "missing, invalid or expired token") -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": "Bearer"}
    )


def app_settings(request: Request) -> FluxSettings:
    settings: FluxSettings | None = request.app.state.settings
    return settings if settings is not None else get_settings()


SettingsDep = Annotated[FluxSettings, Depends(app_settings)]


def api_engine(request: Request, settings: SettingsDep) -> sa.Engine:
    engine: sa.Engine | None = getattr(request.app.state, "api_engine", None)
    if engine is None:
        engine = request.app.state.api_engine = get_engine("api", settings)
    return engine


ApiEngine = Annotated[sa.Engine, Depends(api_engine)]


def landing(request: Request, settings: SettingsDep) -> LandingZone:
    zone: LandingZone | None = getattr(request.app.state, "landing_zone", None)
    if zone is None:
        zone = request.app.state.landing_zone = landing_zone(settings)
    return zone


LandingZoneDep = Annotated[LandingZone, Depends(landing)]


def current_user(
    token: Annotated[str | None, Depends(_bearer)], settings: SettingsDep
) -> TokenClaims:
    if not token:
        raise _unauthorized("not authenticated")
    try:
        return decode_access_token(token, settings)
    except InvalidToken as error:
        raise _unauthorized() from error


CurrentUser = Annotated[TokenClaims, Depends(current_user)]


def current_tenant(user: CurrentUser) -> UUID:
    return user.tenant_id


CurrentTenant = Annotated[UUID, Depends(current_tenant)]


def tenant_scoped_connection(user: CurrentUser, engine: ApiEngine) -> Iterator[sa.Connection]:
    """One transaction per request, scoped to the token's tenant, committed when the route ends.

    The user is looked up through RLS as well: a disabled user, a changed role, or a user who is not
    in the token's tenant ends the token's validity at once, not when it expires.
    """
    with engine.begin() as conn:
        conn.execute(sa.select(sa.func.set_config("app.tenant_id", str(user.tenant_id), True)))
        active = conn.execute(
            sa.select(users.c.user_id).where(
                users.c.user_id == user.user_id,
                users.c.role == user.role,
                users.c.disabled_at.is_(None),
            )
        ).first()
        if active is None:
            raise _unauthorized()
        yield conn


# scope="function": the transaction commits before the response is sent, so a failed commit is an
# error response, never a 2xx for work that was rolled back.
TenantConnection = Annotated[sa.Connection, Depends(tenant_scoped_connection, scope="function")]


def require_roles(*roles: UserRole) -> Callable[[TokenClaims], TokenClaims]:
    allowed = frozenset(roles)

    def role_guard(user: CurrentUser) -> TokenClaims:
        if user.role not in allowed:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "your role may not do this")
        return user

    return role_guard


UploaderUser = Annotated[TokenClaims, Depends(require_roles("owner", "manager"))]
