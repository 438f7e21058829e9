"""How access tokens are verified: HS256 with FLUX_TOKEN_SECRET (default), or RS256 and public keys.

RS256 is for tokens issued by an external identity provider: Flux then holds only the public keys
(``FLUX_TOKEN_PUBLIC_KEYS``: PEM text with one or more public keys, a JWKS document, or the path of
a file holding either) and does not issue tokens itself. The two settings live here until they join
``FluxSettings``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from jwt import PyJWK
from pydantic import model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

TokenAlgorithm = Literal["HS256", "RS256"]
PEM_BEGIN = "-----BEGIN PUBLIC KEY-----"
PEM_END = "-----END PUBLIC KEY-----"


class TokenSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FLUX_TOKEN_", extra="ignore")

    algorithm: TokenAlgorithm = "HS256"
    public_keys: str | None = None

    @model_validator(mode="after")
    def _rs256_needs_keys(self) -> TokenSettings:
        if self.algorithm == "RS256" and not self.public_keys:
            raise ValueError("FLUX_TOKEN_ALGORITHM=RS256 needs FLUX_TOKEN_PUBLIC_KEYS")
        return self

    def verification_keys(self) -> list[VerificationKey]:
        """The RS256 public keys, parsed once; empty for HS256 (the secret is in FluxSettings)."""
        if self.algorithm != "RS256" or not self.public_keys:
            return []
        text = self.public_keys.strip()
        if not text.startswith(("{", "-----")):
            text = Path(text).read_text().strip()
        keys = _from_jwks(text) if text.startswith("{") else _from_pem(text)
        if not keys:
            raise ValueError("FLUX_TOKEN_PUBLIC_KEYS holds no RSA public key")
        return keys


@dataclass(frozen=True)
class VerificationKey:
    key: RSAPublicKey
    kid: str | None = None


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
