"""Verification of an owner's log against its signed checkpoint chain.

The same function serves the online route and the offline bundle check. What it
can tell apart:

- per record: ``modified`` (its stored form no longer has its sealed hash),
  ``reordered`` (only its place in time changed), ``missing`` (absent before
  its sealed expiry; absence after it is expiry, counted, not a problem),
  ``inserted`` (in the table, in no block, and not sealed by this service);
- per checkpoint: ``bad_signature``, ``modified_block`` (a block no longer
  matches its signed root), ``broken_chain`` (a checkpoint that does not link
  to its predecessor, a sequence gap, or a checkpoint removed before expiry),
  ``truncated`` (the table ends before the newest checkpoint anchored in the
  Object Lock bucket) and ``modified_checkpoint`` (differs from its anchor);
- ``unanchored``: no anchored checkpoint to compare the newest end of the log
  with, so a log cut short after its last checkpoint cannot be told from a
  complete one. Never "verified": an export without its anchor may be a
  truncated one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from audit_service.integrity import merkle
from audit_service.integrity.checkpoints import GENESIS, Checkpoint
from audit_service.integrity.records import (
    Entry,
    Item,
    RecordKey,
    owner_and_kind,
    record_expiry,
    record_hash,
    record_key,
    record_time,
    with_position,
)

EARLIEST = ""
LATEST = "~"


class Problem(StrEnum):
    MODIFIED = "modified"
    REORDERED = "reordered"
    MISSING = "missing"
    INSERTED = "inserted"
    BAD_SIGNATURE = "bad_signature"
    MODIFIED_BLOCK = "modified_block"
    BROKEN_CHAIN = "broken_chain"
    TRUNCATED = "truncated"
    MODIFIED_CHECKPOINT = "modified_checkpoint"
    UNANCHORED = "unanchored"


@dataclass(frozen=True, slots=True)
class Finding:
    problem: Problem
    detail: str
    checkpoint: int | None = None
    sequence: int | None = None
    record_kind: str | None = None
    record_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        values = {
            "problem": self.problem.value,
            "checkpoint": self.checkpoint,
            "sequence": self.sequence,
            "record_kind": self.record_kind,
            "record_id": self.record_id,
            "detail": self.detail,
        }
        return {name: value for name, value in values.items() if value is not None}


@dataclass(frozen=True)
class Evidence:
    """What a verifier looked at.

    ``checkpoints``: every checkpoint of the owner still stored. ``blocks``: the
    entries of the checkpoints that overlap the period. ``records``: the owner's
    stored records in the period, plus those looked up by key for entries.
    ``anchor``: the newest checkpoint found in the Object Lock bucket.
    ``chain_from``: for a period, the chain is checked from the checkpoint
    before the first one sealed after the period began (its own link backwards
    is not checked; its signature is).
    """

    owner: str
    checkpoints: Sequence[Checkpoint]
    blocks: Mapping[int, Sequence[Entry]]
    records: Sequence[Item]
    anchor: Checkpoint | None
    public_key: bytes
    now: int
    time_from: str = EARLIEST
    time_to: str = LATEST
    chain_from: int = 1  # the first checkpoint number looked at: 1, or where a period's segment starts
    # Offline, an anchor must come with the evidence; online, only once something was sealed.
    anchor_required: bool = False

    def in_period(self, ts: str) -> bool:
        return self.time_from <= ts <= self.time_to

    def sealed_keys(self) -> set[RecordKey]:
        """The records some loaded block holds."""
        return {entry.key for entries in self.blocks.values() for entry in entries}


def overlaps(checkpoint: Checkpoint, time_from: str, time_to: str) -> bool:
    return checkpoint.ts_min <= time_to and checkpoint.ts_max >= time_from


@dataclass
class Report:
    owner: str
    time_from: str
    time_to: str
    findings: list[Finding] = field(default_factory=list)
    checkpoints_stored: int = 0
    checkpoints_checked: int = 0
    checkpoints_expired: int = 0
    newest_checkpoint: int | None = None
    anchored_checkpoint: int | None = None
    anchored_sealed_at: str | None = None
    records_checked: int = 0
    records_expired: int = 0
    records_unsealed: int = 0
    first_sequence: int | None = None
    last_sequence: int | None = None

    @property
    def verified(self) -> bool:
        return not self.findings

    def add(self, problem: Problem, detail: str, **where: Any) -> None:
        self.findings.append(Finding(problem, detail, **where))

    def as_dict(self) -> dict[str, Any]:
        return {
            "verified": self.verified,
            "from": self.time_from or None,
            "to": None if self.time_to == LATEST else self.time_to,
            "checkpoints": {
                "stored": self.checkpoints_stored,
                "checked": self.checkpoints_checked,
                "expired": self.checkpoints_expired,
                "newest": self.newest_checkpoint,
                "anchored": self.anchored_checkpoint,
                # completeness is proven up to this checkpoint: how fresh it is, is for the reader to judge
                "anchored_sealed_at": self.anchored_sealed_at,
            },
            "records": {
                "checked": self.records_checked,
                "expired": self.records_expired,
                "unsealed": self.records_unsealed,
                "first_sequence": self.first_sequence,
                "last_sequence": self.last_sequence,
            },
            "problems": [finding.as_dict() for finding in self.findings],
        }


Authenticity = Callable[[Item], bool]


def verify(evidence: Evidence, authentic: Authenticity | None = None) -> Report:
    """Check ``evidence``. ``authentic`` tells a record this service wrote but has not sealed yet
    from a forgery; without it (offline), every record outside the blocks counts as inserted."""
    report = Report(evidence.owner, evidence.time_from, evidence.time_to)
    chain = _check_chain(evidence, report)
    _check_anchor(evidence, chain, report)
    sealed = _check_blocks(evidence, chain, report)
    _check_unsealed(evidence, sealed, authentic, report)
    return report


def _check_chain(evidence: Evidence, report: Report) -> dict[int, Checkpoint]:
    chain = {checkpoint.number: checkpoint for checkpoint in evidence.checkpoints}
    report.checkpoints_stored = len(chain)
    report.newest_checkpoint = max(chain, default=None)
    before: Checkpoint | None = None
    for number in sorted(chain):
        checkpoint = chain[number]
        if not checkpoint.signature_valid(evidence.public_key):
            report.add(Problem.BAD_SIGNATURE, "the checkpoint's signature does not verify", checkpoint=number)
        if checkpoint.owner != evidence.owner:
            report.add(Problem.BROKEN_CHAIN, f"the checkpoint belongs to {checkpoint.owner!r}", checkpoint=number)
        expected = evidence.chain_from if before is None else before.number + 1
        if number != expected:
            if checkpoint.previous_expires_at > evidence.now:
                report.add(
                    Problem.BROKEN_CHAIN,
                    f"checkpoints {expected}..{number - 1} were removed before they expired",
                    checkpoint=number,
                )
            else:
                report.checkpoints_expired += number - expected
        elif before is None and number == 1 and checkpoint.previous != GENESIS:
            report.add(Problem.BROKEN_CHAIN, "the first checkpoint does not start the chain", checkpoint=number)
        elif before is not None and checkpoint.previous != before.digest():
            report.add(Problem.BROKEN_CHAIN, f"does not link to checkpoint {before.number}", checkpoint=number)
        elif before is not None and checkpoint.first_seq != before.last_seq + 1:
            report.add(
                Problem.BROKEN_CHAIN,
                f"starts at sequence {checkpoint.first_seq}, checkpoint {before.number} ended at {before.last_seq}",
                checkpoint=number,
            )
        before = checkpoint
    return chain


def _check_anchor(evidence: Evidence, chain: Mapping[int, Checkpoint], report: Report) -> None:
    anchor = evidence.anchor
    if anchor is None:
        if evidence.anchor_required or chain:
            report.add(
                Problem.UNANCHORED,
                "no anchored checkpoint: a log cut short after its last checkpoint cannot be ruled out",
            )
        return
    report.anchored_checkpoint = anchor.number
    report.anchored_sealed_at = anchor.sealed_at
    if not anchor.signature_valid(evidence.public_key) or anchor.owner != evidence.owner:
        report.add(
            Problem.BAD_SIGNATURE, "the anchored checkpoint's signature does not verify", checkpoint=anchor.number
        )
        return
    stored = chain.get(anchor.number)
    newest = report.newest_checkpoint or 0
    if stored is None and anchor.number > newest:
        report.add(
            Problem.TRUNCATED,
            f"the log ends at checkpoint {newest or 'none'}, but checkpoint {anchor.number} "
            f"(sequence {anchor.last_seq}) was anchored",
            checkpoint=anchor.number,
        )
    elif stored is not None and stored.digest() != anchor.digest():
        report.add(
            Problem.MODIFIED_CHECKPOINT, "the checkpoint differs from its anchored copy", checkpoint=anchor.number
        )


def _check_blocks(evidence: Evidence, chain: Mapping[int, Checkpoint], report: Report) -> set[RecordKey]:
    stored: dict[RecordKey, Item] = {}
    for item in evidence.records:
        if owner_and_kind(item)[0] == evidence.owner:
            stored[record_key(item)] = item
    sealed: set[RecordKey] = set()
    for number in sorted(evidence.blocks):
        checkpoint = chain.get(number)
        if checkpoint is None:
            continue
        entries = evidence.blocks[number]
        report.checkpoints_checked += 1
        if len(entries) != checkpoint.count or merkle.root([e.leaf() for e in entries]).hex() != checkpoint.root:
            report.add(Problem.MODIFIED_BLOCK, "the block does not match its signed root", checkpoint=number)
        for offset, entry in enumerate(entries):
            sealed.add(entry.key)
            if not evidence.in_period(entry.ts):
                continue
            sequence = checkpoint.first_seq + offset
            report.first_sequence = min(report.first_sequence or sequence, sequence)
            report.last_sequence = max(report.last_sequence or sequence, sequence)
            _check_entry(entry, stored.get(entry.key), evidence.now, report, checkpoint=number, sequence=sequence)
    return sealed


def _check_entry(entry: Entry, item: Item | None, now: int, report: Report, **where: Any) -> None:
    where.update(record_kind=entry.kind, record_id=entry.id)
    if item is None:
        if 0 < entry.expires_at <= now:
            report.records_expired += 1
        else:
            report.add(Problem.MISSING, "the record is gone before its retention ended", **where)
        return
    report.records_checked += 1
    if record_hash(item) == entry.record_hash:
        return
    if record_hash(with_position(item, entry)) == entry.record_hash:
        report.add(Problem.REORDERED, f"moved from {entry.ts} to {record_time(item)}", **where)
    else:
        report.add(Problem.MODIFIED, "the stored record differs from the sealed one", **where)


def _check_unsealed(evidence: Evidence, sealed: set[RecordKey], authentic: Authenticity | None, report: Report) -> None:
    for item in evidence.records:
        owner, kind = owner_and_kind(item)
        key = record_key(item)
        if key in sealed and owner == evidence.owner:
            continue
        if not evidence.in_period(record_time(item)) or 0 < record_expiry(item) <= evidence.now:
            continue
        if owner == evidence.owner and authentic is not None and authentic(item):
            report.records_unsealed += 1
        else:
            report.add(
                Problem.INSERTED,
                "the record is in no block and was not written by this service",
                record_kind=kind,
                record_id=key.id,
            )
