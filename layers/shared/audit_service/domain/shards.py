"""Write sharding of the log's partition keys, and when a record expires.

A partition key of DynamoDB takes about 1,000 write units a second. A busy
owner's records are therefore spread over ``n`` shards: the record's base
partition ``<owner>#<kind>`` for shard 0 (so an owner with one shard keeps
today's keys) and ``<owner>#<kind>#<n>`` for the others; the ``by_author``
key the same way. Readers query every shard an owner ever had and merge.

Which shard a record lands in depends only on its id, its time and the owner's
*layout* (the shard count in force at that time), so a redelivered event meets
its earlier copy in the same partition whenever it comes back. A layout only
grows, and a new shard count takes effect ``GROWTH_DELAY`` after it is
decided, longer than any container caches a tenant: every writer knows a
count before the first record it applies to.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

MAX_SHARDS = 16  # 16 x ~1,000 writes/s per key; the activity index is read across this many
GROWTH_DELAY = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class ShardLayout:
    """``steps``: (epoch second from which it applies, shard count), oldest first; counts only grow."""

    steps: tuple[tuple[int, int], ...] = ((0, 1),)

    def __post_init__(self) -> None:
        counts = [count for _since, count in self.steps]
        if not counts or counts != sorted(counts) or not counts[0] >= 1 or counts[-1] > MAX_SHARDS:
            raise ValueError(f"a layout's shard counts grow from 1 to at most {MAX_SHARDS}: {self.steps}")

    @classmethod
    def of(cls, count: int) -> ShardLayout:
        return cls(((0, count),))

    def count_at(self, epoch: float) -> int:
        current = self.steps[0][1]
        for since, count in self.steps:
            if since <= epoch:
                current = count
        return current

    @property
    def most(self) -> int:
        """Every shard a record of this owner can be in: 0 .. most-1."""
        return self.steps[-1][1]

    def grown(self, count: int, *, now: datetime) -> ShardLayout:
        """This layout with ``count`` shards from ``GROWTH_DELAY`` after ``now`` (itself if not larger)."""
        if count <= self.most:
            return self
        return ShardLayout((*self.steps, (int((now + GROWTH_DELAY).timestamp()), count)))

    def as_list(self) -> list[list[int]]:
        return [[since, count] for since, count in self.steps]

    @classmethod
    def from_list(cls, values: object) -> ShardLayout:
        if not values:
            return cls()
        return cls(tuple((int(since), int(count)) for since, count in values))  # type: ignore[attr-defined]


def shard_of(record_id: str, moment: datetime, layout: ShardLayout) -> int:
    count = layout.count_at(moment.timestamp())
    if count == 1:
        return 0
    return int.from_bytes(hashlib.sha256(record_id.encode()).digest()[:4], "big") % count


def shard_key(base: str, shard: int) -> str:
    return base if shard == 0 else f"{base}#{shard}"


def shard_keys(base: str, count: int) -> tuple[str, ...]:
    return tuple(shard_key(base, n) for n in range(count))


def expiry(moment: datetime, days: int) -> int:
    """When a record of ``moment`` kept ``days`` days expires: the UTC midnight after ``moment + days``.

    Whole days (like S3's lifecycle rules), so every record of one day and one
    retention expires together: counters can then drop whole days at once, and
    a record is kept at least ``days`` days.
    """
    end = (moment.astimezone(UTC) + timedelta(days=days)).date() + timedelta(days=1)
    return int(datetime(end.year, end.month, end.day, tzinfo=UTC).timestamp())
