"""The sealer: turns new log records into signed, chained, anchored checkpoints.

Fed by the audit log table's stream, off the request path. For each owner (a
tenant, or the platform partition) in a batch it checks that each record was
written by this service (its sealed personal data opens under the owner's
context and names the record's own key), gives the new records the owner's next
sequence numbers in one block, signs a checkpoint over the block's Merkle root
and the previous checkpoint, stores both (conditional on the number being
free), and anchors the checkpoint in the Object Lock bucket.

Idempotent: a retried batch finds its records in the checkpoints sealed since
the batch's records were written, and only re-anchors those checkpoints.
Concurrent sealers (one per stream shard) for one owner race on the number;
the loser reads the new head and chains after it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from audit_service.crypto.signing import KmsSigner
from audit_service.dal.anchors import AnchorStore
from audit_service.dal.checkpoints import CheckpointStore
from audit_service.domain.models import iso_utc, utc_now
from audit_service.integrity import merkle
from audit_service.integrity.checkpoints import GENESIS, Checkpoint
from audit_service.integrity.records import Entry, Item, RecordKey, entry_for, owner_and_kind

MAX_BLOCK = 1000  # entries per block: ~150 bytes each, far below the 400 KB item limit
_MAX_ATTEMPTS = 20
# How much earlier than a stream record's creation time a checkpoint holding it
# may say it was sealed (clocks of DynamoDB and Lambda). Sealing a record twice
# is harmless (the verifier checks both entries), so this stays small and a
# steady stream reads at most a few recent blocks.
_CLOCK_SKEW = timedelta(seconds=5)


class SealConflict(Exception):
    """Other sealers kept taking the owner's next checkpoint number."""


@dataclass(frozen=True, slots=True)
class NewRecord:
    item: Item
    written_at: datetime  # the stream record's approximate creation time


@dataclass
class SealResult:
    sealed: int = 0
    already_sealed: int = 0
    rejected: list[RecordKey] = field(default_factory=list)
    checkpoints: list[Checkpoint] = field(default_factory=list)


class Sealer:
    def __init__(
        self,
        store: CheckpointStore,
        anchors: AnchorStore,
        signer: KmsSigner,
        *,
        authentic: Callable[[Item], bool],
        retention_days: int,
        block_size: int = MAX_BLOCK,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._store = store
        self._anchors = anchors
        self._signer = signer
        self._authentic = authentic
        self._retention = timedelta(days=retention_days)
        self._block_size = block_size
        self._clock = clock

    def seal(self, records: Sequence[NewRecord]) -> SealResult:
        result = SealResult()
        by_owner: dict[str, list[NewRecord]] = {}
        for record in records:
            owner, kind = owner_and_kind(record.item)
            if not self._authentic(record.item):
                result.rejected.append(RecordKey(kind, str(record.item["sk"]["S"])))
                continue
            by_owner.setdefault(owner, []).append(record)
        for owner, group in by_owner.items():
            self._seal_owner(owner, group, result)
        return result

    def _seal_owner(self, owner: str, group: list[NewRecord], result: SealResult) -> None:
        since = iso_utc(min(record.written_at for record in group) - _CLOCK_SKEW)
        pending: dict[RecordKey, Entry] = {}
        for record in group:
            entry = entry_for(record.item)
            pending.setdefault(entry.key, entry)
        skipped: set[RecordKey] = set()
        anchored: set[int] = set()
        for _attempt in range(_MAX_ATTEMPTS):
            head, recent = self._head_and_recent(owner, since)
            for key, checkpoint in recent.items():
                if pending.pop(key, None) is not None:
                    skipped.add(key)
                    if checkpoint.number not in anchored:  # a retried batch: make sure it was anchored
                        self._anchors.put(checkpoint)
                        anchored.add(checkpoint.number)
            if not pending:
                break
            block = list(pending.values())[: self._block_size]
            checkpoint = self._checkpoint(owner, head, block)
            if self._store.append(checkpoint, block):  # False: another sealer took the number; read again
                self._anchors.put(checkpoint)
                anchored.add(checkpoint.number)
                result.sealed += len(block)
                result.checkpoints.append(checkpoint)
                for entry in block:
                    del pending[entry.key]
                if not pending:
                    break
        else:
            raise SealConflict(f"could not take a checkpoint number for {owner} in {_MAX_ATTEMPTS} attempts")
        result.already_sealed += len(skipped)

    def _head_and_recent(self, owner: str, since: str) -> tuple[Checkpoint | None, dict[RecordKey, Checkpoint]]:
        """The owner's newest checkpoint, and which records the checkpoints sealed since ``since`` hold.

        One Query in the usual case (the head is older than the batch's records);
        blocks are read only for checkpoints sealed after the batch was written.
        """
        newest = self._store.newest(owner, limit=5)
        head = next(newest, None)
        if head is None or head.sealed_at < since:
            return head, {}
        recent = {c.number: c for c in [head, *_until(newest, since)]}
        blocks = self._store.blocks(owner, recent)
        return head, {entry.key: recent[number] for number, entries in blocks.items() for entry in entries}

    def _checkpoint(self, owner: str, head: Checkpoint | None, block: list[Entry]) -> Checkpoint:
        now = self._clock()
        first = head.last_seq + 1 if head else 1
        unsigned = Checkpoint(
            owner=owner,
            number=head.number + 1 if head else 1,
            first_seq=first,
            last_seq=first + len(block) - 1,
            root=merkle.root([entry.leaf() for entry in block]).hex(),
            previous=head.digest() if head else GENESIS,
            previous_expires_at=head.expires_at if head else 0,
            sealed_at=iso_utc(now),
            expires_at=int((now + self._retention).timestamp()),
            ts_min=min(entry.ts for entry in block),
            ts_max=max(entry.ts for entry in block),
            key_id=self._signer.key_id,
        )
        return unsigned.signed(self._signer.sign(unsigned.payload()))


def _until(checkpoints: Iterator[Checkpoint], sealed_at: str) -> Iterator[Checkpoint]:
    for checkpoint in checkpoints:
        if checkpoint.sealed_at < sealed_at:
            return
        yield checkpoint
