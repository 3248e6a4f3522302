"""A block's entries are stored compressed; damaged or oversized blocks read as empty (and then fail their root)."""

from __future__ import annotations

import json
import zlib

from audit_service.dal.checkpoints import _entries, decode_entries, encode_entries
from audit_service.integrity.records import Entry

ENTRIES = [
    Entry("audit", f"00000000-0000-4000-8000-{n:012d}", f"2026-11-26T22:{n % 60:02d}:00.000Z", 1827273600, f"{n:064x}")
    for n in range(1000)
]


def test_entries_round_trip_and_take_less_than_half_the_bytes_of_their_json() -> None:
    stored = encode_entries(ENTRIES)
    as_json = json.dumps([entry.as_list() for entry in ENTRIES], separators=(",", ":")).encode()
    assert len(stored) < len(as_json) / 2
    assert _entries({"entries": {"B": stored}}) == ENTRIES
    assert zlib.decompress(stored) == as_json  # any zlib library reads a block


def test_a_block_written_before_compression_still_reads() -> None:
    legacy = json.dumps([entry.as_list() for entry in ENTRIES[:3]])
    assert _entries({"entries": {"S": legacy}}) == ENTRIES[:3]


def test_damaged_or_oversized_blocks_read_as_empty() -> None:
    assert _entries({"entries": {"B": b"not zlib"}}) == []
    assert _entries({"entries": {"B": encode_entries(ENTRIES)[:-10]}}) == []  # cut short
    bomb = zlib.compress(b"[" + b" " * (4 << 20) + b"]", 9)  # 4 MB of spaces in a few KB
    assert len(bomb) < 10_000
    assert _entries({"entries": {"B": bomb}}) == []
    assert _entries({}) == []
    assert decode_entries({"S": "[]"}) == []
