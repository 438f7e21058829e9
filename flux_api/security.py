"""Password hashing and access tokens, in one small place.

Passwords are hashed with argon2id. Access tokens are short-lived JWTs (RFC 8725): HS256 only,
explicitly typed ``at+jwt``, with expiry, issuer and audience checked and every claim the API relies
on required, so a token that is unsigned, re-signed with another algorithm, expired, meant for
another service or missing its tenant is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Literal, get_args
from uuid import UUID

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from flux_pipelines.settings import FluxSettings

UserRole = Literal["owner", "manager", "chef"]
USER_ROLES: frozenset[str] = frozenset(get_args(UserRole))

ALGORITHM = "HS256"
TOKEN_TYPE = "at+jwt"  # noqa: S105 (the JWT "typ" header, RFC 9068)
REQUIRED_CLAIMS = ["sub", "tenant_id", "role", "exp", "iat", "iss", "aud"]
# Clocks of the issuing and the verifying process may differ a little.
CLOCK_LEEWAY = timedelta(seconds=30)

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@cache
def _dummy_hash() -> str:
    return hash_password("flux: no such user")


def burn_password_check(password: str) -> None:
    """Spend the time of a real check when there is no user, so timing does not reveal emails."""
    verify_password(password, _dummy_hash())


class InvalidToken(Exception):
    """Any reason a token is not accepted; the reason is for logs, never for the client."""


@dataclass(frozen=True)
class TokenClaims:
    user_id: UUID
    tenant_id: UUID
    role: UserRole
    expires_at: datetime


def create_access_token(
    user_id: UUID, tenant_id: UUID, role: UserRole, settings: FluxSettings
) -> str:
    if role not in USER_ROLES:
        raise ValueError(f"unknown role {role!r}")
    now = datetime.now(UTC)
    payload = {
        "sub": str(user_id),
        "tenant_id": str(tenant_id),
        "role": role,
        "iat": now,
        "nbf": now,
        "exp": now + timedelta(minutes=settings.token_ttl_minutes),
        "iss": settings.token_issuer,
        "aud": settings.token_audience,
    }
    return jwt.encode(
        payload,
        settings.token_secret.get_secret_value(),
        algorithm=ALGORITHM,
        headers={"typ": TOKEN_TYPE},
    )


def decode_access_token(token: str, settings: FluxSettings) -> TokenClaims:
    """Verify a token and return its claims; raise ``InvalidToken`` for any defect."""
    try:
        decoded = jwt.decode_complete(
            token,
            settings.token_secret.get_secret_value(),
            algorithms=[ALGORITHM],
            audience=settings.token_audience,
            issuer=settings.token_issuer,
            leeway=CLOCK_LEEWAY,
            options={"require": REQUIRED_CLAIMS},
        )
    except jwt.InvalidTokenError as error:
        raise InvalidToken(str(error)) from error
    if decoded["header"].get("typ") != TOKEN_TYPE:
        raise InvalidToken("not an access token")
    claims = decoded["payload"]
    role = claims["role"]
    if role not in USER_ROLES:
        raise InvalidToken("unknown role")
    try:
        user_id, tenant_id = UUID(str(claims["sub"])), UUID(str(claims["tenant_id"]))
    except ValueError as error:
        raise InvalidToken("malformed subject or tenant") from error
    return TokenClaims(
        user_id=user_id,
        tenant_id=tenant_id,
        role=role,
        expires_at=datetime.fromtimestamp(claims["exp"], UTC),
    )
