"""Access tokens, in one small place (passwords are ``flux_core.users``'s).

Access tokens are short-lived JWTs (RFC 8725): one algorithm,
pinned by configuration (HS256 with a secret by default, RS256 with configured public keys for an
external identity provider), explicitly typed ``at+jwt``, with expiry, issuer and audience checked
and every claim the API relies on required. A token that is unsigned, signed with the
other algorithm (HS/RS key confusion), expired, for another service or without a tenant is refused.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import jwt

from flux_api.token_keys import verification_keys
from flux_core.settings import FluxSettings, TokenAlgorithm
from flux_core.users import USER_ROLES, UserRole

ALGORITHM: TokenAlgorithm = "HS256"
TOKEN_TYPE = "at+jwt"  # noqa: S105 (the JWT "typ" header, RFC 9068)
REQUIRED_CLAIMS = ["sub", "tenant_id", "role", "exp", "iat", "iss", "aud"]
# Clocks of the issuing and the verifying process may differ a little.
CLOCK_LEEWAY = timedelta(seconds=30)
# Tokens already verified in this process (a dashboard sends the same token until it expires).
VERIFIED_TOKENS_KEPT = 10_000


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
    """An HS256 token (Flux issues tokens only when it holds the secret, never in RS256 mode)."""
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


@dataclass(frozen=True)
class TokenVerifier:
    """Verifies tokens with one pinned algorithm and its keys, parsed once per process.

    A token verified once is remembered, by its exact text (so its signature), until it expires or
    is pushed out: verifying it again would only repeat the same answer. Expiry is still checked on
    every use, and whether its user is still active is the database's answer on every request.
    """

    algorithm: TokenAlgorithm
    keys: tuple[tuple[str | None, Any], ...]  # (kid, key); HS256: one (None, secret)
    issuer: str
    audience: str
    _verified: OrderedDict[str, TokenClaims] = field(
        default_factory=OrderedDict, compare=False, repr=False
    )

    @classmethod
    def from_settings(cls, settings: FluxSettings) -> TokenVerifier:
        if settings.token_algorithm == "HS256":  # noqa: S105 (an algorithm name)
            keys: tuple[tuple[str | None, Any], ...] = (
                (None, settings.token_secret.get_secret_value()),
            )
        else:
            keys = tuple(
                (k.kid, k.key) for k in verification_keys(settings.token_public_keys or "")
            )
        return cls(settings.token_algorithm, keys, settings.token_issuer, settings.token_audience)

    @property
    def issues_tokens(self) -> bool:
        return self.algorithm == "HS256"

    def _candidates(self, header: dict[str, Any]) -> list[Any]:
        kid = header.get("kid")
        named = [key for key_id, key in self.keys if kid is not None and key_id == kid]
        return named or [key for _, key in self.keys]

    def decode(self, token: str) -> TokenClaims:
        """Verify a token and return its claims; raise ``InvalidToken`` for any defect."""
        claims = self._verified.get(token)
        if claims is None:
            claims = self._verify(token)
            if len(self._verified) >= VERIFIED_TOKENS_KEPT:
                self._verified.popitem(last=False)
            self._verified[token] = claims
        if datetime.now(UTC) >= claims.expires_at + CLOCK_LEEWAY:
            self._verified.pop(token, None)
            raise InvalidToken("the token has expired")
        return claims

    def _verify(self, token: str) -> TokenClaims:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as error:
            raise InvalidToken(str(error)) from error
        # Pinned before any key is touched: a token naming another algorithm is never verified.
        if header.get("alg") != self.algorithm:
            raise InvalidToken(f"algorithm {header.get('alg')!r} is not accepted")
        if header.get("typ") != TOKEN_TYPE:
            raise InvalidToken("not an access token")
        last: jwt.InvalidTokenError = jwt.InvalidSignatureError("no key")
        for key in self._candidates(header):
            try:
                claims = jwt.decode(
                    token,
                    key,
                    algorithms=[self.algorithm],
                    audience=self.audience,
                    issuer=self.issuer,
                    leeway=CLOCK_LEEWAY,
                    options={"require": REQUIRED_CLAIMS},
                )
            except jwt.InvalidSignatureError as bad_signature:
                last = bad_signature
                continue
            except jwt.InvalidTokenError as invalid:
                raise InvalidToken(str(invalid)) from invalid
            return _claims(claims)
        raise InvalidToken(str(last)) from last


def _claims(claims: dict[str, Any]) -> TokenClaims:
    role = claims["role"]
    if role not in USER_ROLES:
        raise InvalidToken("unknown role")
    try:
        user_id, tenant_id = UUID(str(claims["sub"])), UUID(str(claims["tenant_id"]))
        expires_at = datetime.fromtimestamp(claims["exp"], UTC)
    except (ValueError, TypeError) as error:
        raise InvalidToken("malformed subject, tenant or expiry") from error
    return TokenClaims(user_id=user_id, tenant_id=tenant_id, role=role, expires_at=expires_at)


def decode_access_token(token: str, settings: FluxSettings) -> TokenClaims:
    return TokenVerifier.from_settings(settings).decode(token)
