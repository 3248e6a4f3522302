"""Checkpoints: signed heads of a tenant's chain of record blocks.

Checkpoint ``n`` of an owner (a tenant id, or ``platform``) covers sequence
numbers ``first_seq..last_seq``. Its ``root`` is the Merkle root of its block's
entries, ``previous`` is the digest of checkpoint ``n - 1`` (``GENESIS`` for
the first), and the signature covers every other field. Removing, editing,
inserting or reordering checkpoints therefore breaks a signature or the chain.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key

GENESIS = "0" * 64
SIGNING_ALGORITHM = "ECDSA_SHA_256"  # KMS name; ECDSA over P-256 with SHA-256, DER signatures


@dataclass(frozen=True, slots=True)
class Checkpoint:
    owner: str
    number: int
    first_seq: int
    last_seq: int
    root: str
    previous: str
    previous_expires_at: int
    sealed_at: str
    expires_at: int
    ts_min: str
    ts_max: str
    key_id: str
    signature: str = ""

    @property
    def count(self) -> int:
        return self.last_seq - self.first_seq + 1

    def payload(self) -> bytes:
        """The signed bytes: every field but the signature, canonical JSON."""
        fields = asdict(self)
        fields.pop("signature")
        return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()

    def digest(self) -> str:
        return hashlib.sha256(self.payload()).hexdigest()

    def signed(self, signature: bytes) -> Checkpoint:
        return replace(self, signature=base64.b64encode(signature).decode())

    def signature_valid(self, public_key_der: bytes) -> bool:
        try:
            key = load_der_public_key(public_key_der)
            if not isinstance(key, ec.EllipticCurvePublicKey):
                return False
            key.verify(base64.b64decode(self.signature), self.payload(), ec.ECDSA(hashes.SHA256()))
        except (InvalidSignature, ValueError, TypeError):
            return False
        return True

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Checkpoint:
        """Parse a stored or exported checkpoint; a damaged one parses too, and then fails its signature."""
        ints = {"number", "first_seq", "last_seq", "previous_expires_at", "expires_at"}
        fields: dict[str, Any] = {
            name: _int(values.get(name)) if name in ints else str(values.get(name, "")) for name in _FIELDS
        }
        return cls(**fields)


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1


_FIELDS = tuple(Checkpoint.__dataclass_fields__)
