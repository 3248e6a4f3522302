"""Tamper evidence for a tenant's log: verify a period, prove one record, export a bundle.

Reads the owner's checkpoint chain (small items, read whole), the blocks of the
checkpoints that overlap the period, the stored records of the period (expired
ones included), and the newest anchor from the Object Lock bucket, then hands
them to the pure verifier (integrity/verifier.py), the same code the offline
verifier runs on an exported bundle.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from audit_service.crypto.envelope import DecryptionFailed, KeyUnavailable
from audit_service.dal.log_records import KINDS, PLATFORM, LogRecordStore, RecordKeys, partitions
from audit_service.domain.audit import MAX_CLOCK_SKEW
from audit_service.domain.errors import Conflict, InvalidInput, NotFound
from audit_service.domain.models import iso_utc, utc_now
from audit_service.domain.shards import ShardLayout
from audit_service.integrity import merkle
from audit_service.integrity.bundle import BUNDLE_FORMAT, key_fingerprint
from audit_service.integrity.checkpoints import Checkpoint
from audit_service.integrity.records import (
    Entry,
    Item,
    RecordKey,
    canonical_item,
    owner_and_kind,
    record_expiry,
    record_key,
    record_time,
)
from audit_service.integrity.verifier import EARLIEST, LATEST, Evidence, Report, overlaps, verify
from audit_service.services.pagination import TimeRange
from audit_service.services.security import owner_context

if TYPE_CHECKING:
    from audit_service.crypto.envelope import Envelope
    from audit_service.crypto.signing import KmsSigner
    from audit_service.dal.anchors import AnchorStore
    from audit_service.dal.checkpoints import CheckpointStore

# A record is sealed after it is written, and written at most MAX_CLOCK_SKEW
# before the time it carries (producers' clocks); one more minute for ours.
SEALED_AFTER_EVENT_SKEW = MAX_CLOCK_SKEW + timedelta(minutes=1)

# Bundles up to INLINE_BYTES are answered in the body (Lambda answers at most
# 6 MB); larger ones are stored in the exports bucket (1-day lifecycle) and the
# answer redirects to a presigned URL. A record is ~1.2 KB in a bundle.
INLINE_BYTES = 5_000_000
# Verify and export hold a period's records in memory: at most this many (read in order, refused as soon as
# the count passes it, before the rest is read). docs/api.md has each route's worst case at this limit.
MAX_PERIOD_RECORDS = 100_000


class PeriodTooLarge(InvalidInput):
    code = "period_too_large"


LINK_SECONDS = 60  # the reader follows the 303 at once; a leaked link dies within a minute


@dataclass(frozen=True)
class Delivery:
    """A bundle answered inline (``body``), or stored and linked (``location``, the stored export's ``export_id``)."""

    body: bytes | None = None
    location: str | None = None
    export_id: str | None = None


class BundleDelivery:
    def __init__(self, s3: Any, *, bucket: str, inline_bytes: int = INLINE_BYTES) -> None:
        self._s3 = s3
        self._bucket = bucket
        self._inline_bytes = inline_bytes

    def deliver(self, tenant_id: int, bundle: dict[str, Any], *, reader_id: int) -> Delivery:
        """Inline, or stored under the reader's id and linked for ``LINK_SECONDS``: the link is handed only to
        the reader who asked (an authenticated, ``audit:read``, access-logged request), names the export the
        access log records, and dies within a minute."""
        body = json.dumps(bundle, separators=(",", ":")).encode()
        return self.deliver_bytes(tenant_id, body, reader_id=reader_id, content_type="application/json", suffix="json")

    def deliver_bytes(self, tenant_id: int, body: bytes, *, reader_id: int, content_type: str, suffix: str) -> Delivery:
        """The same for any document (a CSV export): inline up to 5 MB, else stored and linked."""
        if len(body) <= self._inline_bytes:
            return Delivery(body=body)
        export_id = uuid.uuid4().hex
        key = f"audit-exports/{tenant_id}/{reader_id}/{export_id}.{suffix}"
        self._s3.put_object(Bucket=self._bucket, Key=key, Body=body, ContentType=content_type)
        url = self._s3.generate_presigned_url(
            "get_object", Params={"Bucket": self._bucket, "Key": key}, ExpiresIn=LINK_SECONDS
        )
        return Delivery(location=str(url), export_id=export_id)


class NotSealedYet(Conflict):
    code = "not_sealed_yet"


def authenticity(envelope: Envelope, *, key_faults_raise: bool) -> Callable[[Item], bool]:
    """Was ``item`` written by this service? Its sealed data must open for its owner and name its own key.

    When KMS will not give the message's data key, the SDK cannot say whether
    KMS failed or the message names a key it never issued. The sealer
    (``key_faults_raise``) fails its batch then, so a KMS fault is retried and a
    forged key ends in its dead-letter queue; the verifier answers False, so the
    record is reported (with that doubt in the detail) instead of failing the route.
    """

    def authentic(item: Item) -> bool:
        owner, _kind = owner_and_kind(item)
        try:
            context = owner_context(None if owner == PLATFORM else int(owner))  # a made-up owner: ValueError
            raw = item["pii"]["B"]
            sealed = raw if isinstance(raw, bytes | bytearray) else base64.b64decode(raw, validate=True)
            envelope.open(bytes(sealed), context=context, bind=f"{item['pk']['S']}|{item['sk']['S']}")
        except (DecryptionFailed, KeyError, TypeError, ValueError, binascii.Error):
            return False
        except KeyUnavailable:
            if key_faults_raise:
                raise
            return False
        return True

    return authentic


def _bounds(period: TimeRange) -> tuple[str, str]:
    return (
        iso_utc(period.time_from) if period.time_from else EARLIEST,
        iso_utc(period.time_to) if period.time_to else LATEST,
    )


class Integrity:
    def __init__(
        self,
        records: LogRecordStore,
        checkpoints: CheckpointStore,
        anchors: AnchorStore,
        signer: KmsSigner,
        envelope: Envelope,
        *,
        layout_of: Callable[[int | None, str], ShardLayout],
    ) -> None:
        self._records = records
        self._layout_of = layout_of
        self._checkpoints = checkpoints
        self._anchors = anchors
        self._signer = signer
        self._authentic = authenticity(envelope, key_faults_raise=False)
        self.max_records = MAX_PERIOD_RECORDS

    def key_fingerprint(self) -> str:
        """The signing key's fingerprint, for auditors to pin (``ld-audit-admin bundle verify --fingerprint``)."""
        return key_fingerprint(self._signer.public_key())

    def verify(self, owner: int | str, period: TimeRange, *, now: datetime | None = None) -> Report:
        """Verify a tenant's log (or the platform partition's, ``owner="platform"``) over ``period``."""
        return verify(self.evidence(owner, period, now=now), self._authentic)

    def export(self, tenant_id: int, period: TimeRange, *, now: datetime | None = None) -> dict[str, Any]:
        """A bundle an auditor verifies offline: the sealed records of the period, the chain, the blocks, the key."""
        moment = now or utc_now()
        evidence = self.evidence(tenant_id, period, now=moment)
        sealed = evidence.sealed_keys()
        records = [item for item in evidence.records if record_key(item) in sealed]
        return {
            "format": BUNDLE_FORMAT,
            "owner": evidence.owner,
            "from": evidence.time_from or None,
            "to": None if evidence.time_to == LATEST else evidence.time_to,
            "exported_at": iso_utc(moment),
            "key_id": self._signer.key_id,
            "public_key": base64.b64encode(evidence.public_key).decode(),
            "key_fingerprint": key_fingerprint(evidence.public_key),
            "chain_from": evidence.chain_from,
            "checkpoints": [checkpoint.as_dict() for checkpoint in evidence.checkpoints],
            "blocks": {str(n): [entry.as_list() for entry in entries] for n, entries in evidence.blocks.items()},
            "records": [canonical_item(item) for item in records],
            "anchor": evidence.anchor.as_dict() if evidence.anchor else None,
            "unsealed_not_exported": len(evidence.records) - len(records),
        }

    def proof(self, tenant_id: int, kind: str, record_id: str) -> dict[str, Any]:
        """The Merkle path from one record to the signed root of the checkpoint that sealed it."""
        if kind not in KINDS:
            raise InvalidInput(f"'kind' must be one of {', '.join(KINDS)}")
        owner = str(tenant_id)
        # The shard depends on the record's time, not known yet: one read over every shard.
        shards = partitions(tenant_id, kind, self._layout_of(tenant_id, kind))
        found = self._records.stored_items_by_key([(pk, record_id) for pk in shards])
        item = found[0] if found else None
        if item is None:
            raise NotFound(f"no {kind} record {record_id!r} in tenant {tenant_id}")
        ts = record_time(item)
        # The record was sealed after it happened: start near there rather than at checkpoint 1.
        sealed_from = iso_utc(datetime.fromisoformat(ts) - SEALED_AFTER_EVENT_SKEW)
        start = self._checkpoints.first_sealed_since(owner, sealed_from) or 1
        for checkpoint in self._checkpoints.oldest_first(owner, start=start):
            if not checkpoint.ts_min <= ts <= checkpoint.ts_max:
                continue
            entries = self._checkpoints.blocks(owner, [checkpoint.number]).get(checkpoint.number, [])
            for index, entry in enumerate(entries):
                if entry.key == RecordKey(kind, record_id):
                    return self._proof(checkpoint, entries, index, item)
        raise NotSealedYet(f"{kind} record {record_id!r} is not sealed yet; try again in a minute")

    def _proof(self, checkpoint: Checkpoint, entries: list[Entry], index: int, item: Item) -> dict[str, Any]:
        entry = entries[index]
        leaves = [e.leaf() for e in entries]
        return {
            "record": {
                "kind": entry.kind,
                "id": entry.id,
                "sequence": checkpoint.first_seq + index,
                "entry": entry.as_list(),
                "stored": canonical_item(item),
            },
            "checkpoint": checkpoint.as_dict(),
            "proof": {
                "leaf_index": index,
                "tree_size": len(entries),
                "leaf_hash": leaves[index].hex(),
                "path": [node.hex() for node in merkle.inclusion_path(leaves, index)],
            },
            "public_key": base64.b64encode(self._signer.public_key()).decode(),
            "key_fingerprint": self.key_fingerprint(),
        }

    def unsealed(self, owner: int | str) -> list[Item]:
        """The owner's stored, unexpired records that are in no block but were written by this service, oldest first.

        Records written before the sealer existed (or while its stream batches
        were lost past the stream's 24 hours); ``ld-audit-admin seal backfill``
        seals them.
        """
        evidence = self.evidence(owner, TimeRange())
        sealed = evidence.sealed_keys()
        return sorted(
            (
                item
                for item in evidence.records
                if record_key(item) not in sealed
                and not 0 < record_expiry(item) <= evidence.now
                and self._authentic(item)
            ),
            key=lambda item: str(item["ts_key"]["S"]),
        )

    def evidence(self, owner: int | str, period: TimeRange, *, now: datetime | None = None) -> Evidence:
        """Everything the verifier needs for the owner's ``period``, read from the tables, S3 and KMS."""
        owner = str(owner)
        time_from, time_to = _bounds(period)
        # The anchor first: the sealer stores a checkpoint before anchoring it, so every checkpoint anchored
        # now is in the chain read next. Read after the chain, an anchor sealed in between would look like
        # a log cut short.
        anchor = self._anchors.newest(owner)
        start, chain = self._segment(owner, period)
        blocks = self._checkpoints.blocks(owner, [c.number for c in chain if overlaps(c, time_from, time_to)])
        low = time_from or "0"
        high = time_to if time_to == LATEST else time_to + LATEST
        found: dict[RecordKey, Item] = {}
        for kind in KINDS:
            shards = partitions(self._tenant(owner), kind, self._layout_of(self._tenant(owner), kind))
            for item in self._records.stored_items(shards, time_from=low, time_to=high):
                found[record_key(item)] = item
                if len(found) > self.max_records:  # refused before the rest is read
                    raise PeriodTooLarge(
                        f"the period holds more than {self.max_records:,} records: "
                        "take it in shorter periods ('from' and 'to')"
                    )
        # Entries of the period whose records the time index did not return: moved in time, or gone.
        wanted = [
            (self._partition_of(owner, entry), entry.id)
            for entries in blocks.values()
            for entry in entries
            if time_from <= entry.ts <= time_to and entry.key not in found
        ]
        for item in self._records.stored_items_by_key(wanted):
            found[record_key(item)] = item
        return Evidence(
            owner=owner,
            checkpoints=chain,
            blocks=blocks,
            records=list(found.values()),
            anchor=anchor,
            public_key=self._signer.public_key(),
            now=int((now or utc_now()).timestamp()),
            time_from=time_from,
            time_to=time_to,
            chain_from=start,
        )

    @staticmethod
    def _tenant(owner: str) -> int | None:
        return None if owner == PLATFORM else int(owner)

    def _partition_of(self, owner: str, entry: Entry) -> str:
        """The partition an entry's record was written to (its shard follows from its id and time)."""
        tenant = self._tenant(owner)
        moment = datetime.fromisoformat(entry.ts.replace("Z", "+00:00"))
        return RecordKeys.of(tenant, entry.kind, entry.id, moment, self._layout_of(tenant, entry.kind)).pk

    def _segment(self, owner: str, period: TimeRange) -> tuple[int, list[Checkpoint]]:
        """The part of the chain a period needs: from the checkpoint before the first one sealed
        after the period began, to the newest (records are sealed after they happen).

        The search reads seal times before their signatures are checked, so the
        result is checked against the signed times once loaded: if the checkpoint
        the segment starts from was not sealed before the period began (a search
        steered by edited items), the whole chain is read instead.
        """
        if period.time_from is None:
            return 1, self._checkpoints.chain(owner)
        threshold = iso_utc(period.time_from - SEALED_AFTER_EVENT_SKEW)
        first = self._checkpoints.first_sealed_since(owner, threshold)
        if first is None:
            head = next(self._checkpoints.newest(owner), None)
            start = head.number if head else 1
        else:
            start = max(first - 1, 1)
        chain = self._checkpoints.chain(owner, start=start)
        entry_point = chain[0] if chain else None
        if start > 1 and (
            entry_point is None
            or entry_point.number != start
            or entry_point.sealed_at >= threshold
            or not entry_point.signature_valid(self._signer.public_key())
        ):
            return 1, self._checkpoints.chain(owner)
        return start, chain


def _key(item: Item) -> RecordKey:
    _owner, kind = owner_and_kind(item)
    return RecordKey(kind, str(item["sk"]["S"]))
