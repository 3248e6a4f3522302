"""Checkpoint signatures with an asymmetric KMS key (ECC_NIST_P256, SIGN_VERIFY).

The private key never leaves KMS. Verification needs only the public key,
fetched once per container and shipped in export bundles, so auditors verify
without AWS access (integrity/checkpoints.py checks signatures locally).
"""

from __future__ import annotations

from typing import Any

from audit_service.integrity.checkpoints import SIGNING_ALGORITHM


class KmsSigner:
    def __init__(self, kms: Any, key_arn: str) -> None:
        self._kms = kms
        self.key_id = key_arn
        self._public_key: bytes | None = None

    def sign(self, payload: bytes) -> bytes:
        response = self._kms.sign(
            KeyId=self.key_id, Message=payload, MessageType="RAW", SigningAlgorithm=SIGNING_ALGORITHM
        )
        return bytes(response["Signature"])

    def public_key(self) -> bytes:
        """The DER-encoded SubjectPublicKeyInfo of the signing key."""
        if self._public_key is None:
            self._public_key = bytes(self._kms.get_public_key(KeyId=self.key_id)["PublicKey"])
        return self._public_key
