"""The RS256 public keys of an external identity provider, parsed from ``FLUX_TOKEN_PUBLIC_KEYS``.

The setting holds PEM text with one or more public keys, a JWKS document, or the path of a file
holding either. Keys are parsed once per process (``TokenVerifier.from_settings``), never per token.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from jwt import PyJWK

PEM_BEGIN = "-----BEGIN PUBLIC KEY-----"
PEM_END = "-----END PUBLIC KEY-----"


@dataclass(frozen=True)
class VerificationKey:
    key: RSAPublicKey
    kid: str | None = None


def verification_keys(public_keys: str) -> list[VerificationKey]:
    """Every RSA public key in ``public_keys``; ``ValueError`` if there is none."""
    text = public_keys.strip()
    if not text.startswith(("{", "-----")):
        text = Path(text).read_text().strip()
    keys = _from_jwks(text) if text.startswith("{") else _from_pem(text)
    if not keys:
        raise ValueError("FLUX_TOKEN_PUBLIC_KEYS holds no RSA public key")
    return keys


def _from_pem(text: str) -> list[VerificationKey]:
    keys = []
    for block in text.split(PEM_END)[:-1]:
        pem = block[block.index(PEM_BEGIN) :] + PEM_END
        key = load_pem_public_key(pem.encode())
        if not isinstance(key, RSAPublicKey):
            raise ValueError("FLUX_TOKEN_PUBLIC_KEYS: only RSA public keys are accepted")
        keys.append(VerificationKey(key))
    return keys


def _from_jwks(text: str) -> list[VerificationKey]:
    keys = []
    for jwk in json.loads(text).get("keys", []):
        if jwk.get("kty") != "RSA" or jwk.get("use", "sig") != "sig":
            continue
        key = PyJWK(jwk, algorithm="RS256").key
        if not isinstance(key, RSAPublicKey):
            raise ValueError("FLUX_TOKEN_PUBLIC_KEYS: only RSA public keys are accepted")
        keys.append(VerificationKey(key, jwk.get("kid")))
    return keys
