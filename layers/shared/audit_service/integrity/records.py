"""The canonical stored form of a log record, its hash, and its entry in a block.

A record's hash covers the item exactly as stored: every attribute, typed, with
the personal data as the Encryption SDK ciphertext it is stored as. Nothing is
decrypted to hash it, so erasing a person's profile or rotating keys never
changes a record's hash, and a verifier needs no key to recompute it.

Items come in DynamoDB's typed form, either from boto3 (binary as ``bytes``) or
from a stream event's JSON (binary as base64 text); both canonicalise the same.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from audit_service.integrity.merkle import leaf_hash

Item = Mapping[str, Mapping[str, Any]]


def _binary(value: bytes | bytearray | str) -> str:
    return value if isinstance(value, str) else base64.b64encode(bytes(value)).decode()


def _value(typed: Mapping[str, Any]) -> dict[str, Any]:
    ((kind, value),) = typed.items()
    if kind == "B":
        return {"B": _binary(value)}
    if kind == "BS":
        return {"BS": sorted(_binary(v) for v in value)}
    if kind in ("SS", "NS"):
        return {kind: sorted(value)}
    if kind == "L":
        return {"L": [_value(v) for v in value]}
    if kind == "M":
        return {"M": {name: _value(v) for name, v in value.items()}}
    return {kind: value}


def canonical_item(item: Item) -> dict[str, Any]:
    """The JSON-safe typed form of ``item`` (binary as base64), the form bundles carry."""
    return {name: _value(value) for name, value in item.items()}


def _canonical_bytes(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def record_hash(item: Item) -> str:
    return hashlib.sha256(_canonical_bytes(canonical_item(item))).hexdigest()


def _text(item: Item, name: str) -> str:
    return str(item[name]["S"])


@dataclass(frozen=True, slots=True)
class RecordKey:
    kind: str
    id: str


@dataclass(frozen=True, slots=True)
class Entry:
    """One record in a block: its key, position in time, expiry and hash, all covered by the root."""

    kind: str
    id: str
    ts: str
    expires_at: int
    record_hash: str

    @property
    def key(self) -> RecordKey:
        return RecordKey(self.kind, self.id)

    def leaf(self) -> bytes:
        return leaf_hash(_canonical_bytes([self.kind, self.id, self.ts, self.expires_at, self.record_hash]))

    def as_list(self) -> list[Any]:
        return [self.kind, self.id, self.ts, self.expires_at, self.record_hash]

    @classmethod
    def from_list(cls, values: list[Any]) -> Entry:
        kind, record_id, ts, expires_at, digest = values
        return cls(str(kind), str(record_id), str(ts), int(expires_at), str(digest))


def owner_and_kind(item: Item) -> tuple[str, str]:
    """``("7", "audit")`` for ``pk = "7#audit"`` (or a shard of it, ``"7#audit#3"``); the owner is a tenant
    id or ``platform``."""
    owner, _, rest = _text(item, "pk").partition("#")
    return owner, rest.split("#", 1)[0]


def record_key(item: Item) -> RecordKey:
    _owner, kind = owner_and_kind(item)
    return RecordKey(kind, _text(item, "sk"))


def record_time(item: Item) -> str:
    return _text(item, "ts_key").split("#", 1)[0]


def record_expiry(item: Item) -> int:
    return int(item["expires_at"]["N"]) if "expires_at" in item else 0


def entry_for(item: Item) -> Entry:
    _owner, kind = owner_and_kind(item)
    return Entry(kind, _text(item, "sk"), record_time(item), record_expiry(item), record_hash(item))


def with_position(item: Item, entry: Entry) -> dict[str, Any]:
    """``item`` moved back to the time and expiry its entry recorded (tells reordering from editing)."""
    restored = dict(item)
    restored["ts_key"] = {"S": f"{entry.ts}#{entry.id}"}
    if entry.expires_at:
        restored["expires_at"] = {"N": str(entry.expires_at)}
    return restored
