"""``POST /v1/auth/token``: the OAuth2 password flow (username is the e-mail address).

Mounted only when Flux signs its own tokens (HS256); with RS256 an external identity provider
issues them and Flux only verifies.
"""

from __future__ import annotations

from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Depends, HTTPException, status
from fastapi.security import OAuth2PasswordRequestForm

from flux_api.deps import ApiEngine, SettingsDep
from flux_api.schemas import Token, problem_responses
from flux_api.security import create_access_token
from flux_core.users import burn_password_check, verify_password

router = APIRouter(prefix="/v1/auth", tags=["auth"])

# One message for every failure, so the answer does not tell which e-mail addresses exist.
BAD_CREDENTIALS = "incorrect e-mail or password"

_login_lookup = sa.func.flux.login_lookup


def _credentials(conn: sa.Connection, email: str) -> sa.Row | None:
    """Read through the SECURITY DEFINER function: no tenant is known before login."""
    found = _login_lookup(email).table_valued(
        "user_id", "tenant_id", "password_hash", "role", "disabled"
    )
    return conn.execute(sa.select(found)).first()


@router.post("/token", response_model=Token, responses=problem_responses(401, 422))
def issue_token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    engine: ApiEngine,
    settings: SettingsDep,
) -> Token:
    user = None
    if "\x00" not in form.username:  # PostgreSQL text cannot hold NUL: no such address exists
        with engine.connect() as conn:
            user = _credentials(conn, form.username)
    if user is None:
        burn_password_check(form.password)
    if user is None or not verify_password(form.password, user.password_hash) or user.disabled:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, BAD_CREDENTIALS, headers={"WWW-Authenticate": "Bearer"}
        )
    token = create_access_token(user.user_id, user.tenant_id, user.role, settings)
    return Token(access_token=token, expires_in=settings.token_ttl_minutes * 60)
