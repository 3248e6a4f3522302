"""Exact totals of the listings at a cost that does not grow with the records kept.

Writing: the counting function reads the log table's stream and adds each new
record to the day and the minute buckets of every scope it belongs to (the
listing, and the listing filtered by each of its attributes), aggregated per
batch, exactly once (dal/counters.py).

Reading: a total is the sum of the buckets that lie wholly inside the period
and are not expired: one query over the days, one over the minutes of each
day the period starts or ends inside, and, where ``from`` or ``to`` falls
inside a minute, a count of that part of the minute read from the log itself.
No filter or one filter: exact. Two filters or more cannot be counted from
one-filter buckets: the total is then the count of one of them, an upper bound,
and the page says ``"total_exact": false`` (docs/api.md). A user's activity
(already one filter: its author) is counted whole; filtered, it is an upper bound too.

Records expire at a UTC midnight (domain/shards.py ``expiry``), so a bucket's
records all expire at once: records whose TTL has passed are left out whether
or not DynamoDB has deleted them yet.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from audit_service.concurrency import side_by_side
from audit_service.dal.counters import CounterStore
from audit_service.dal.log_records import TIME_KEY_END, TIME_KEY_START, LogRecordStore, RecordQuery
from audit_service.domain.models import iso_utc

# The attributes a listing filters on, each counted on its own (services/*: the Filters classes).
COUNTED: dict[str, tuple[str, ...]] = {
    "audit": ("type", "author_id", "division_id", "environment_id", "deployment_id"),
    "access": ("actor_id", "subject_user_id"),
    "security": ("type", "actor_id"),
}
# A user's activity is counted whole, not per filter: its filters already combine with the author (two
# filters), and per-(user, value) buckets were most of the counters' cost (3.3x the rest: make bench, cost).
ACTIVITY_COUNTED: tuple[str, ...] = ()
# When filters are combined, the one whose count stands for the total (the most selective first).
_PRECEDENCE = ("author_id", "actor_id", "subject_user_id", "deployment_id", "environment_id", "division_id", "type")
_MS = timedelta(milliseconds=1)
_START = datetime(1970, 1, 1, tzinfo=UTC)
_END = datetime(9999, 12, 30, 23, 59, 59, 999000, tzinfo=UTC)


def listing_scope(owner: str, kind: str) -> str:
    return f"count#{owner}#{kind}"


def activity_scope(user_id: int | str) -> str:
    return f"count#user:{user_id}#activity"


def _filtered(scope: str, name: str, value: str | int) -> str:
    return f"{scope}#{name}={value}"


@dataclass(frozen=True, slots=True)
class Total:
    value: int
    exact: bool = True


# ---------------------------------------------------------------------- reading
def _parse_bound(key: str, *, low: bool) -> datetime:
    if key in (TIME_KEY_START, TIME_KEY_END):
        return _START if low else _END
    return datetime.fromisoformat(key.rstrip(TIME_KEY_END).replace("Z", "+00:00"))


def _minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def _day(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


@dataclass
class _Plan:
    """A period cut into whole days, runs of whole minutes within a day, and parts of a minute."""

    days: tuple[datetime, datetime] | None = None
    minute_runs: list[tuple[datetime, datetime]] = field(default_factory=list)
    parts: list[tuple[datetime, datetime]] = field(default_factory=list)


def _cut(start: datetime, end: datetime) -> _Plan:
    """``[start, end]`` (both inclusive, millisecond times) as whole days, whole minutes and parts."""
    plan = _Plan()
    if start > end:
        return plan
    first_whole = start if start == _minute(start) else _minute(start) + timedelta(minutes=1)
    last_whole = end if end == _minute(end) + timedelta(minutes=1) - _MS else _minute(end) - _MS
    if first_whole > last_whole:
        plan.parts.append((start, end))
        return plan
    if start < first_whole:
        plan.parts.append((start, first_whole - _MS))
    if last_whole < end:
        plan.parts.append((last_whole + _MS, end))
    day_first = first_whole if first_whole == _day(first_whole) else _day(first_whole) + timedelta(days=1)
    day_last = last_whole if last_whole == _day(last_whole) + timedelta(days=1) - _MS else _day(last_whole) - _MS
    if day_first > day_last:
        if _day(first_whole) == _day(last_whole):
            plan.minute_runs.append((first_whole, last_whole))
        else:
            plan.minute_runs.append((first_whole, _day(last_whole) - _MS))
            plan.minute_runs.append((_day(last_whole), last_whole))
        return plan
    plan.days = (day_first, day_last)
    if first_whole < day_first:
        plan.minute_runs.append((first_whole, day_first - _MS))
    if day_last < last_whole:
        plan.minute_runs.append((day_last + _MS, last_whole))
    return plan


class Totals:
    def __init__(self, counters: CounterStore, records: LogRecordStore) -> None:
        self._counters = counters
        self._records = records

    def count(self, scope: str, query: RecordQuery, *, counted: Iterable[str]) -> Total:
        """How many records ``query`` matches: its period, its filters, not expired at ``query.now_epoch``.

        ``scope`` is the listing's (``listing_scope``/``activity_scope``); ``counted`` the attributes
        with buckets of their own.
        """
        counted = tuple(counted)
        equals = dict(query.equals)
        countable = [name for name in equals if name in counted]
        exact = len(equals) <= 1 and len(countable) == len(equals)
        if countable:
            name = min(countable, key=lambda n: _PRECEDENCE.index(n) if n in _PRECEDENCE else len(_PRECEDENCE))
            scope, equals = _filtered(scope, name, equals[name]), {name: equals[name]}
        else:  # no filter, or none with buckets of its own: the whole scope's count (an upper bound if filtered)
            equals = {}
        query = RecordQuery(
            query.index,
            query.partition_name,
            query.partition_values,
            query.time_from,
            query.time_to,
            equals,
            query.now_epoch,
        )
        plan = _cut(_parse_bound(query.time_from, low=True), _parse_bound(query.time_to, low=False))
        now = query.now_epoch
        work: list[Callable[[], int]] = []
        if plan.days:
            first, last = plan.days
            work.append(partial(self._sum, scope, f"d#{first:%Y-%m-%d}", f"d#{last:%Y-%m-%d}~", now))
        for first, last in plan.minute_runs:
            work.append(partial(self._sum, scope, f"m#{first:%Y-%m-%dT%H:%M}", f"m#{last:%Y-%m-%dT%H:%M}~", now))
        for first, last in plan.parts:
            work.append(partial(self._records.count, query.narrowed(iso_utc(first), iso_utc(last) + TIME_KEY_END)))
        return Total(sum(side_by_side(work)), exact)

    def _sum(self, scope: str, low: str, high: str, now_epoch: int) -> int:
        return sum(b.count for b in self._counters.buckets(scope, low, high) if b.expires_at > now_epoch)


# ---------------------------------------------------------------------- writing
@dataclass(frozen=True, slots=True)
class Counted:
    """One new log record, as the counting function sees it in the stream."""

    source: str  # the record's partition in the log table: its records reach the stream in order
    sequence: str  # the stream's sequence number, zero-padded to sort as text
    time: datetime
    expires_at: int
    scopes: tuple[str, ...]


def counted_record(image: Mapping[str, Any], sequence_number: str) -> Counted | None:
    """The scopes a new item (a stream NewImage, DynamoDB-typed) counts in; None for an item of no listing."""

    def text(name: str) -> str | None:
        value = image.get(name)
        if value is None:
            return None
        return str(value.get("S", value.get("N")))

    pk, ts_key, expires = text("pk"), text("ts_key"), text("expires_at")
    if not pk or not ts_key or not expires:
        return None
    owner, _, rest = pk.partition("#")
    kind = rest.split("#", 1)[0]
    if kind not in COUNTED:
        return None
    base = listing_scope(owner, kind)
    scopes = [base]
    scopes += [_filtered(base, name, value) for name in COUNTED[kind] if (value := text(name)) is not None]
    author = text("author_key")
    if kind == "audit" and author:
        mine = activity_scope(author.split("#", 1)[0])
        scopes.append(mine)
    return Counted(
        source=pk,
        sequence=sequence_number.zfill(40),
        time=datetime.fromisoformat(ts_key.split("#", 1)[0].replace("Z", "+00:00")),
        expires_at=int(expires),
        scopes=tuple(scopes),
    )


@dataclass
class BucketGroup:
    """The records of one source partition that one bucket counts."""

    expires_at: int
    sequences: list[str] = field(default_factory=list)


def bucket_groups(records: Iterable[Counted]) -> dict[tuple[str, str, str], BucketGroup]:
    """The records grouped by (scope, bucket sk, source partition): one counter update each."""
    groups: dict[tuple[str, str, str], BucketGroup] = defaultdict(lambda: BucketGroup(0))
    for record in records:
        day = f"d#{record.time:%Y-%m-%d}#{record.expires_at}"
        minute = f"m#{record.time:%Y-%m-%dT%H:%M}#{record.expires_at}"
        for scope in record.scopes:
            for sk in (day, minute):
                group = groups[(scope, sk, record.source)]
                group.expires_at = record.expires_at
                group.sequences.append(record.sequence)
    return groups


@dataclass(frozen=True, slots=True)
class CountResult:
    records: int
    updates: int  # counter items written (write units, each item being under 1 KB)
    skipped: int  # records a redelivered batch had counted already


class Counter:
    """Adds a stream batch's new records to their buckets: one update per bucket and source partition."""

    def __init__(self, counters: CounterStore, *, workers: int = 8) -> None:
        self._counters = counters
        self._workers = workers

    def add(self, records: Iterable[Counted]) -> CountResult:
        records = list(records)
        total = len(records)
        groups = bucket_groups(records)
        if not groups:
            return CountResult(total, 0, 0)
        skipped = side_by_side(
            [partial(self._apply, key, group) for key, group in groups.items()], workers=self._workers
        )
        return CountResult(total, len(groups), sum(skipped))

    def _apply(self, key: tuple[str, str, str], group: BucketGroup) -> int:
        scope, sk, source = key
        sequences = sorted(group.sequences)
        if self._counters.add(
            scope,
            sk,
            count=len(sequences),
            expires_at=group.expires_at,
            source=source,
            first=sequences[0],
            last=sequences[-1],
        ):
            return 0
        # Redelivered: count only what is newer than the mark. One stream reader per partition, so the
        # mark cannot move between this read and the update below.
        mark = self._counters.mark(scope, sk, source)
        newer = [sequence for sequence in sequences if mark is None or sequence > mark]
        if newer and not self._counters.add(
            scope,
            sk,
            count=len(newer),
            expires_at=group.expires_at,
            source=source,
            first=newer[0],
            last=newer[-1],
            after=mark,
        ):
            raise RuntimeError(f"the count of {scope}/{sk} moved while it was being corrected")
        return len(sequences) - len(newer)
