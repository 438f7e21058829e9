"""Tokens: issued for the right password only, and refused whenever anything about them is off."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
import sqlalchemy as sa
from api_fixtures import PASSWORD, MakeMember
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from flux_api.security import decode_access_token
from flux_core.db.tables import users
from flux_core.settings import FluxSettings


def _login(client: TestClient, email: str, password: str = PASSWORD) -> Any:
    return client.post("/v1/auth/token", data={"username": email, "password": password})


def _claims(settings: FluxSettings, user_id: uuid.UUID, tenant_id: uuid.UUID) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "sub": str(user_id),
        "tenant_id": str(tenant_id),
        "role": "owner",
        "iat": now,
        "nbf": now,
        "exp": now + timedelta(minutes=5),
        "iss": settings.token_issuer,
        "aud": settings.token_audience,
    }


def _sign(settings: FluxSettings, claims: dict[str, Any], **kwargs: Any) -> str:
    key = kwargs.pop("key", settings.token_secret.get_secret_value())
    headers = {"typ": "at+jwt", **kwargs.pop("headers", {})}
    return jwt.encode(claims, key, algorithm=kwargs.pop("algorithm", "HS256"), headers=headers)


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _get_uploads(client: TestClient, token: str) -> Any:
    return client.get("/v1/uploads", headers={"Authorization": f"Bearer {token}"})


def test_token_is_issued_and_accepted(
    client: TestClient, settings: FluxSettings, make_tenant, make_member: MakeMember
) -> None:  # type: ignore[no-untyped-def]
    tenant = make_tenant()
    member = make_member(tenant, "manager")
    # E-mail addresses are matched without regard to case.
    response = _login(client, member.email.upper())
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == settings.token_ttl_minutes * 60
    claims = decode_access_token(body["access_token"], settings)
    assert (claims.user_id, claims.tenant_id, claims.role) == (member.user_id, tenant, "manager")
    assert _get_uploads(client, body["access_token"]).status_code == 200


def test_wrong_password_and_unknown_email_get_the_same_401(
    client: TestClient, make_tenant, make_member: MakeMember
) -> None:  # type: ignore[no-untyped-def]
    member = make_member(make_tenant())
    wrong = _login(client, member.email, "not the password")
    unknown = _login(client, f"nobody-{uuid.uuid4().hex}@example.com")
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert response.headers["content-type"].startswith("application/problem+json")
        assert "access_token" not in response.json()
    assert wrong.json() == unknown.json()


def test_disabled_user_can_neither_log_in_nor_use_an_earlier_token(
    client: TestClient, pipeline_engine: sa.Engine, make_tenant, make_member: MakeMember
) -> None:  # type: ignore[no-untyped-def]
    member = make_member(make_tenant())
    token = _login(client, member.email).json()["access_token"]
    assert _get_uploads(client, token).status_code == 200
    with pipeline_engine.begin() as conn:
        conn.execute(
            sa.update(users)
            .where(users.c.user_id == member.user_id)
            .values(disabled_at=sa.func.now())
        )
    assert _login(client, member.email).status_code == 401
    assert _get_uploads(client, token).status_code == 401


def test_request_without_token_is_401(client: TestClient) -> None:
    response = client.get("/v1/forecasts")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "forge",
    [
        "other_secret",
        "expired",
        "not_yet_valid",
        "alg_none",
        "rs256_key",
        "wrong_issuer",
        "wrong_audience",
        "missing_tenant",
        "unknown_role",
        "tampered_tenant",
        "not_a_jwt",
    ],
)
def test_bad_tokens_are_refused_with_401(
    forge: str, client: TestClient, settings: FluxSettings, make_tenant, make_member: MakeMember
) -> None:  # type: ignore[no-untyped-def]
    tenant, other_tenant = make_tenant(), make_tenant()
    member = make_member(tenant)
    good = _login(client, member.email).json()["access_token"]
    assert _get_uploads(client, good).status_code == 200
    claims = _claims(settings, member.user_id, tenant)
    now = datetime.now(UTC)
    if forge == "other_secret":
        token = _sign(settings, claims, key="another-secret-that-is-long-enough-for-hs256!")
    elif forge == "expired":
        token = _sign(
            settings, {**claims, "iat": now - timedelta(hours=2), "exp": now - timedelta(hours=1)}
        )
    elif forge == "not_yet_valid":
        token = _sign(settings, {**claims, "nbf": now + timedelta(hours=1)})
    elif forge == "alg_none":
        token = f"{_b64({'alg': 'none', 'typ': 'at+jwt'})}.{good.split('.')[1]}."
    elif forge == "rs256_key":
        rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        token = _sign(settings, claims, key=rsa_key, algorithm="RS256")
    elif forge == "wrong_issuer":
        token = _sign(settings, {**claims, "iss": "someone-else"})
    elif forge == "wrong_audience":
        token = _sign(settings, {**claims, "aud": "another-api"})
    elif forge == "missing_tenant":
        token = _sign(settings, {k: v for k, v in claims.items() if k != "tenant_id"})
    elif forge == "unknown_role":
        token = _sign(settings, {**claims, "role": "admin"})
    elif forge == "tampered_tenant":
        header, payload, signature = good.split(".")
        body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        token = ".".join([header, _b64({**body, "tenant_id": str(other_tenant)}), signature])
    else:
        token = "not-a-jwt"
    response = _get_uploads(client, token)
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.headers["content-type"].startswith("application/problem+json")


def test_a_validly_signed_token_for_a_user_outside_its_tenant_is_refused(
    client: TestClient, settings: FluxSettings, make_tenant, make_member: MakeMember
) -> None:  # type: ignore[no-untyped-def]
    # Even with the signing key, a token must name a user of its own tenant (checked through RLS).
    tenant, other_tenant = make_tenant(), make_tenant()
    user_id = make_member(tenant).user_id
    token = _sign(settings, _claims(settings, user_id, other_tenant))
    assert _get_uploads(client, token).status_code == 401
    assert (
        _get_uploads(client, _sign(settings, _claims(settings, user_id, tenant))).status_code == 200
    )
