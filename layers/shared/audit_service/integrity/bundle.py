"""Export bundles: a tenant's sealed records with everything needed to verify them offline.

``{"format", "owner", "from", "to", "exported_at", "key_id", "public_key",
"checkpoints", "blocks", "records", "anchor", "unsealed_not_exported"}``;
records are items in DynamoDB's typed JSON with binary values in base64
(docs/api.md). Verifying needs no AWS access, and never trusts the bundle's own
copy of the public key: the auditor pins the key they trust, as the key itself
(``aws kms get-public-key``) or its fingerprint (``key_fingerprint``, which
``GET /audit/tenants/{id}/verify`` and every export show). A bundle without its
anchor is never "verified": its newest part may have been cut off.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from audit_service.integrity.checkpoints import Checkpoint
from audit_service.integrity.records import Entry
from audit_service.integrity.verifier import EARLIEST, LATEST, Evidence, Report, verify

BUNDLE_FORMAT = "ld-audit-bundle/1"


class BadBundle(ValueError):
    """The file is not an export bundle this verifier understands."""


def key_fingerprint(public_key_der: bytes) -> str:
    """``SHA256:<hex>`` of the DER SubjectPublicKeyInfo: short enough to compare by eye, or to pin."""
    return "SHA256:" + hashlib.sha256(public_key_der).hexdigest()


def pinned_key(document: Mapping[str, Any], fingerprint: str) -> bytes:
    """The document's own copy of the public key, if and only if it is the key with ``fingerprint``."""
    try:
        embedded = base64.b64decode(document["public_key"], validate=True)
    except (KeyError, TypeError, ValueError) as error:
        raise BadBundle("the file carries no public key to compare with the pinned fingerprint") from error
    if key_fingerprint(embedded) != fingerprint.strip():
        raise BadBundle(f"the file's public key ({key_fingerprint(embedded)}) is not the pinned one ({fingerprint})")
    return embedded


def verify_bundle(bundle: Mapping[str, Any], *, public_key: bytes, now: datetime | None = None) -> Report:
    """Check a bundle against ``public_key``, the signing key the auditor trusts (never the bundle's own copy)."""
    if bundle.get("format") != BUNDLE_FORMAT:
        raise BadBundle(f"not a {BUNDLE_FORMAT} bundle (format {bundle.get('format')!r})")
    try:
        evidence = Evidence(
            owner=str(bundle["owner"]),
            checkpoints=[Checkpoint.from_dict(values) for values in bundle["checkpoints"]],
            blocks={int(n): [Entry.from_list(v) for v in entries] for n, entries in bundle["blocks"].items()},
            records=list(bundle["records"]),
            anchor=Checkpoint.from_dict(bundle["anchor"]) if bundle.get("anchor") else None,
            public_key=public_key,
            now=int((now or datetime.now(UTC)).timestamp()),
            time_from=bundle.get("from") or EARLIEST,
            time_to=bundle.get("to") or LATEST,
            chain_from=int(bundle.get("chain_from", 1)),
            anchor_required=True,
        )
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise BadBundle(f"malformed bundle: {error}") from error
    return verify(evidence)


def verify_proof(proof: Mapping[str, Any], *, public_key: bytes) -> dict[str, Any]:
    """Check an inclusion proof from ``GET /audit/tenants/{id}/proof``: the stored record hashes to its
    entry, the entry's leaf and path lead to the checkpoint's root, and the checkpoint is signed."""
    from audit_service.integrity import merkle
    from audit_service.integrity.records import record_hash

    try:
        record, path, checkpoint = proof["record"], proof["proof"], Checkpoint.from_dict(proof["checkpoint"])
        entry = Entry.from_list(record["entry"])
        key = public_key
        index = int(path["leaf_index"])
        checks = {
            "record_matches_entry": record_hash(record["stored"]) == entry.record_hash
            and (entry.kind, entry.id) == (record["kind"], record["id"]),
            # the tree's size and the leaf's place come from the signed checkpoint, not the proof
            "entry_in_checkpoint": int(record["sequence"]) == checkpoint.first_seq + index
            and merkle.verify_inclusion(
                entry.leaf(),
                index,
                checkpoint.count,
                [bytes.fromhex(node) for node in path["path"]],
                bytes.fromhex(checkpoint.root),
            ),
            "checkpoint_signed": checkpoint.signature_valid(key),
        }
    except (KeyError, TypeError, ValueError) as error:
        raise BadBundle(f"malformed proof: {error}") from error
    return {"verified": all(checks.values()), "checks": checks, "sequence": record.get("sequence")}
