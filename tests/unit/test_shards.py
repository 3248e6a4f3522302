"""Write shards of the log's partition keys (domain/shards.py, dal/log_records.py)."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from audit_service.dal.log_records import RecordKeys, partitions
from audit_service.domain.shards import ShardLayout, shard_of

MOMENT = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def test_shard_of_is_stable_for_an_id_a_time_and_a_layout() -> None:
    layout = ShardLayout.of(16)
    record_id = str(uuid.uuid4())
    assert len({shard_of(record_id, MOMENT, layout) for _ in range(10)}) == 1
    assert shard_of(record_id, MOMENT, ShardLayout.of(16)) == shard_of(record_id, MOMENT, layout)


def test_a_layout_only_grows() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    layout = ShardLayout.of(4)
    assert layout.grown(2, now=now) == layout
    assert layout.grown(4, now=now) == layout
    grown = layout.grown(8, now=now)
    assert grown.most == 8
    assert grown.count_at(now.timestamp()) == 4  # not before the growth delay
    assert grown.count_at((now + timedelta(days=1)).timestamp()) == 8
    with pytest.raises(ValueError):
        ShardLayout(((0, 8), (100, 4)))
    with pytest.raises(ValueError):
        ShardLayout.of(17)


def test_shard_0_keeps_todays_keys() -> None:
    one = RecordKeys.of(7, "audit", "e-1", MOMENT, ShardLayout())
    assert one.pk == "7#audit"
    assert one.author_key(3) == "3"
    assert partitions(7, "audit", ShardLayout()) == ("7#audit",)
    sharded = ShardLayout.of(16)
    record_id = next(i for i in (str(uuid.uuid4()) for _ in range(1000)) if shard_of(i, MOMENT, sharded) == 0)
    keys = RecordKeys.of(7, "audit", record_id, MOMENT, sharded)
    assert keys.pk == "7#audit"
    assert keys.author_key(3) == "3"
    assert partitions(7, "audit", sharded)[0] == "7#audit"
    assert partitions(7, "audit", sharded)[5] == "7#audit#5"


def test_ids_spread_evenly_over_16_shards() -> None:
    layout = ShardLayout.of(16)
    ids = 100_000
    counts = Counter(shard_of(str(uuid.uuid4()), MOMENT, layout) for _ in range(ids))
    assert set(counts) == set(range(16))
    assert max(counts.values()) <= 1.1 * ids / 16
