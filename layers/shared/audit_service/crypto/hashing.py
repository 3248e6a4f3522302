"""One-way hashes used as lookup keys.

- API keys are 256-bit random secrets, so a plain SHA-256 is a sufficient
  one-way hash (a slow or keyed hash adds nothing against brute force).
- Emails have little entropy, so they are hashed with a key that never leaves
  KMS (an HMAC_256 key, ``GenerateMac``): without KMS access a stolen table
  cannot be matched against a list of known emails.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any


def api_key_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def one_time_secret() -> str:
    """A secret a person receives in a message (an invitation, an email confirmation): 256 random bits."""
    return secrets.token_urlsafe(32)


def secret_hash(secret: str) -> str:
    """What is stored of a one-time secret. Like API keys, 256 random bits need no slow or keyed hash."""
    return hashlib.sha256(b"one-time\x00" + secret.encode()).hexdigest()


def secret_matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(secret_hash(secret), stored_hash)


def normalise_email(email: str) -> str:
    return email.strip().lower()


class BlindIndex:
    def __init__(self, kms: Any, key_arn: str) -> None:
        self._kms = kms
        self._key_arn = key_arn

    def email(self, email: str) -> str:
        return self._mac(b"email\x00" + normalise_email(email).encode())

    def identity(self, provider: str, external_id: str) -> str:
        return self._mac(b"identity\x00" + provider.encode() + b"\x00" + external_id.encode())

    def _mac(self, message: bytes) -> str:
        response = self._kms.generate_mac(KeyId=self._key_arn, MacAlgorithm="HMAC_SHA_256", Message=message)
        return bytes(response["Mac"]).hex()
