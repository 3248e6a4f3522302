"""Writes per second per partition key under a burst: pure key computation, no AWS.

One tenant writing 10,000 events a second for 10 seconds, with the layout an
operator gives a busy tenant (16 shards), and the platform's access partition
under an authentication-failure flood at the same rate (its fixed layout,
services/tenants.py ``PLATFORM_LAYOUTS``). Every event's keys come from the
service's own ``RecordKeys.of``; ids are random uuids and times spread
uniformly within each second. For the table (``pk``) and each index of the log
table (``by_time``: ``pk``; ``by_author``: ``author_key``, audit records only)
the figure is the highest count of writes in one second on any one key, next
to the same burst with an unsharded layout. A key takes about 1,000 write
units a second.
"""

from __future__ import annotations

import random
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from bench.audit_paths import Row

RATE = 10_000  # events per second
SECONDS = 10
LIMIT = 1_000  # writes per second a partition key takes
TENANT = 7
SHARDS = 16


def _burst(rate: int, seconds: int, seed: int) -> list[tuple[str, datetime]]:
    rng = random.Random(seed)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    return [
        (str(uuid.UUID(int=rng.getrandbits(128), version=4)), start + timedelta(seconds=second + rng.random()))
        for second in range(seconds)
        for _ in range(rate)
    ]


def _highest(
    events: list[tuple[str, datetime]],
    owner: int | None,
    kind: str,
    layout: object,
    author_of: Callable[[int], int] | None,
) -> dict[str, int]:
    """The highest writes in one second on any key, per index ("table", "by_time", "by_author")."""
    from audit_service.dal.log_records import RecordKeys
    from audit_service.domain.shards import ShardLayout

    assert isinstance(layout, ShardLayout)
    tallies: dict[str, Counter[tuple[int, str]]] = {"table": Counter(), "by_time": Counter(), "by_author": Counter()}
    for n, (record_id, moment) in enumerate(events):
        keys = RecordKeys.of(owner, kind, record_id, moment, layout)
        second = int(moment.timestamp())
        tallies["table"][(second, keys.pk)] += 1
        tallies["by_time"][(second, keys.pk)] += 1  # by_time's partition key is pk
        if author_of is not None:
            tallies["by_author"][(second, keys.author_key(author_of(n)))] += 1
    return {index: max(tally.values()) for index, tally in tallies.items() if tally}


def measure(rate: int = RATE, seconds: int = SECONDS) -> list[Row]:
    from audit_service.domain.shards import ShardLayout
    from audit_service.services.tenants import PLATFORM_LAYOUTS

    events = _burst(rate, seconds, seed=1)
    authors = random.Random(2)
    many_authors = [authors.randrange(1, 1_001) for _ in events]
    scenarios: list[tuple[str, int | None, str, ShardLayout, Callable[[int], int] | None]] = [
        (f"tenant {rate:,}/s, 1,000 authors", TENANT, "audit", ShardLayout.of(SHARDS), many_authors.__getitem__),
        (f"tenant {rate:,}/s, one author", TENANT, "audit", ShardLayout.of(SHARDS), lambda _n: 1),
        (f"platform access flood {rate:,}/s", None, "access", PLATFORM_LAYOUTS["access"], None),
    ]
    rows: list[Row] = []
    for name, owner, kind, layout, author_of in scenarios:
        sharded = _highest(events, owner, kind, layout, author_of)
        unsharded = _highest(events, owner, kind, ShardLayout(), author_of)
        for index, value in sharded.items():
            rows.append(
                Row(
                    f"{name}: {index}, highest writes/s on one key ({layout.most} shards)",
                    f"{value:,}",
                    f"unsharded {unsharded[index]:,}/s; target <= {LIMIT:,}",
                    value <= LIMIT,
                )
            )
    return rows
