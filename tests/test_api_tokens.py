"""RS256 with configured public keys (an external identity provider), and HS/RS key confusion."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from api_fixtures import MakeMember, Member
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient
from pydantic import ValidationError

from flux_api.main import create_app
from flux_api.token_keys import verification_keys
from flux_core.settings import FluxSettings


def _rsa() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem(key: rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


IDP_KEY, ROTATED_KEY, STRANGER_KEY = _rsa(), _rsa(), _rsa()


def _claims(settings: FluxSettings, member: Member) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "sub": str(member.user_id),
        "tenant_id": str(member.tenant_id),
        "role": member.role,
        "iat": now,
        "exp": now + timedelta(minutes=5),
        "iss": settings.token_issuer,
        "aud": settings.token_audience,
    }


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _hs256_with(secret: bytes, claims: dict[str, Any]) -> str:
    """HS256 by hand: PyJWT itself refuses a PEM key as an HMAC secret, an attacker would not."""
    payload = {
        **claims,
        "iat": int(claims["iat"].timestamp()),
        "exp": int(claims["exp"].timestamp()),
    }
    signing_input = (
        _b64(json.dumps({"alg": "HS256", "typ": "at+jwt"}).encode())
        + "."
        + _b64(json.dumps(payload).encode())
    )
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def _rs256(settings: FluxSettings, public_keys: str) -> FluxSettings:
    return FluxSettings(
        **{**settings.model_dump(), "token_algorithm": "RS256", "token_public_keys": public_keys}
    )


@pytest.fixture(scope="module")
def rs_client(settings: FluxSettings) -> Iterator[TestClient]:
    keys = _pem(IDP_KEY) + "\n" + _pem(ROTATED_KEY)
    with TestClient(create_app(_rs256(settings, keys))) as client:
        yield client


def _status(client: TestClient, token: str) -> int:
    return client.get("/v1/forecasts", headers={"Authorization": f"Bearer {token}"}).status_code


def test_rs256_tokens_from_any_configured_key_are_accepted(
    rs_client: TestClient, settings: FluxSettings, make_tenant, make_member: MakeMember
) -> None:  # type: ignore[no-untyped-def]
    member = make_member(make_tenant(), "chef")
    claims = _claims(settings, member)
    for key in (IDP_KEY, ROTATED_KEY):
        token = jwt.encode(claims, key, algorithm="RS256", headers={"typ": "at+jwt"})
        assert _status(rs_client, token) == 200
    # Flux does not issue tokens when an identity provider does.
    assert (
        rs_client.post("/v1/auth/token", data={"username": "a", "password": "b"}).status_code == 404
    )


@pytest.mark.parametrize(
    "forge", ["hs256_secret", "hs256_public_key", "stranger_rsa", "alg_none", "expired", "no_typ"]
)
def test_rs256_mode_refuses_confusion_and_forgery(
    forge: str, rs_client: TestClient, settings: FluxSettings, make_tenant, make_member
) -> None:  # type: ignore[no-untyped-def]
    member = make_member(make_tenant(), "owner")
    claims = _claims(settings, member)
    good = jwt.encode(claims, IDP_KEY, algorithm="RS256", headers={"typ": "at+jwt"})
    assert _status(rs_client, good) == 200
    if forge == "hs256_secret":
        token = member.token  # a valid HS256 token of this very user
    elif forge == "hs256_public_key":
        token = _hs256_with(_pem(IDP_KEY).encode(), claims)
    elif forge == "stranger_rsa":
        token = jwt.encode(claims, STRANGER_KEY, algorithm="RS256", headers={"typ": "at+jwt"})
    elif forge == "alg_none":
        header = _b64(json.dumps({"alg": "none", "typ": "at+jwt"}).encode())
        token = f"{header}.{good.split('.')[1]}."
    elif forge == "expired":
        past = {**claims, "exp": datetime.now(UTC) - timedelta(hours=1)}
        token = jwt.encode(past, IDP_KEY, algorithm="RS256", headers={"typ": "at+jwt"})
    else:
        token = jwt.encode(claims, IDP_KEY, algorithm="RS256")
    assert _status(rs_client, token) == 401


def test_hs256_mode_refuses_rs256_even_from_the_idp_key(
    client: TestClient, settings: FluxSettings, make_tenant, make_member: MakeMember
) -> None:  # type: ignore[no-untyped-def]
    member = make_member(make_tenant(), "owner")
    assert settings.token_algorithm == "HS256"
    rs = jwt.encode(
        _claims(settings, member), IDP_KEY, algorithm="RS256", headers={"typ": "at+jwt"}
    )
    assert _status(client, rs) == 401
    assert _status(client, member.token) == 200


def test_jwks_keys_are_chosen_by_kid(
    settings: FluxSettings, make_tenant, make_member: MakeMember
) -> None:  # type: ignore[no-untyped-def]
    jwks = {
        "keys": [
            {**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(k.public_key())), "kid": kid}
            for kid, k in (("one", IDP_KEY), ("two", ROTATED_KEY))
        ]
    }
    member = make_member(make_tenant(), "manager")
    claims = _claims(settings, member)
    by_kid = jwt.encode(
        claims, ROTATED_KEY, algorithm="RS256", headers={"typ": "at+jwt", "kid": "two"}
    )
    wrong_kid = jwt.encode(
        claims, ROTATED_KEY, algorithm="RS256", headers={"typ": "at+jwt", "kid": "one"}
    )
    with TestClient(create_app(_rs256(settings, json.dumps(jwks)))) as client:
        assert _status(client, by_kid) == 200
        assert _status(client, wrong_kid) == 401


def test_rs256_without_keys_is_a_configuration_error() -> None:
    with pytest.raises(ValidationError, match="FLUX_TOKEN_PUBLIC_KEYS"):
        FluxSettings(token_algorithm="RS256")
    with pytest.raises(ValueError, match="no RSA public key"):
        verification_keys('{"keys": []}')
    # Keys are parsed when the app is made: a bad key stops it before it serves.
    with pytest.raises(ValueError, match="no RSA public key"):
        create_app(FluxSettings(token_algorithm="RS256", token_public_keys='{"keys": []}'))
