"""Pages: page/results/cursor, exact totals, time ranges.

Shared by every listing (the audit log, the access log, the security events,
members and invitations), so that all page, count and refuse bad input the
same way. An offset (``page`` without ``cursor``) is read and thrown away, so
it is capped at ``MAX_OFFSET`` records; beyond that, follow ``next``.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from audit_service.dal.log_records import TIME_KEY_END, TIME_KEY_START, LogRecordStore, RecordQuery, StoredRecord
from audit_service.domain.errors import InvalidInput
from audit_service.domain.models import iso_utc, utc_now
from audit_service.services.totals import Totals

MAX_RESULTS = 100
MAX_OFFSET = 1_000  # records a page without a cursor may skip


@dataclass(frozen=True)
class PageRequest:
    page: int = 1
    results: int = 10
    cursor: str | None = None

    def __post_init__(self) -> None:
        if self.page < 1:
            raise InvalidInput("'page' starts at 1")
        if not 1 <= self.results <= MAX_RESULTS:
            raise InvalidInput(f"'results' must be between 1 and {MAX_RESULTS}")
        if self.cursor is None and self.skip > MAX_OFFSET:
            raise InvalidInput(
                f"page {self.page} would skip {self.skip} records, more than {MAX_OFFSET:,}: "
                "follow the 'next' cursor of the previous page instead"
            )

    @property
    def skip(self) -> int:
        """Records before this page when it is reached by number (none with a cursor)."""
        return 0 if self.cursor else (self.page - 1) * self.results


@dataclass(frozen=True)
class TimeRange:
    time_from: datetime | None = None
    time_to: datetime | None = None

    def __post_init__(self) -> None:
        if self.time_from and self.time_to and self.time_from > self.time_to:
            raise InvalidInput("'from' is after 'to'")

    def key_bounds(self) -> tuple[str, str]:
        """Bounds on ``ts_key`` (``<ISO time>#<id>``), both inclusive."""
        low = iso_utc(self.time_from) if self.time_from else TIME_KEY_START
        high = iso_utc(self.time_to) + TIME_KEY_END if self.time_to else TIME_KEY_END
        return low, high

    @classmethod
    def parse(cls, query: Mapping[str, str | None]) -> TimeRange:
        """From the ``from`` and ``to`` values of a query (absent or None: open)."""
        return cls(parse_time(query.get("from"), "from"), parse_time(query.get("to"), "to"))


@dataclass(frozen=True)
class Page:
    data: list[dict[str, Any]]
    page: int
    results: int
    total: int
    next: str | None
    total_exact: bool = True

    def body(self) -> dict[str, Any]:
        body = {"data": self.data, "page": self.page, "results": self.results, "total": self.total, "next": self.next}
        if not self.total_exact:
            body["total_exact"] = False  # two filters or more: ``total`` is an upper bound (docs/api.md)
        return body


@dataclass(frozen=True)
class Counting:
    """Where a listing's total comes from: its counters' scope and the attributes counted on their own."""

    totals: Totals
    scope: str
    counted: tuple[str, ...]


def retained(
    index: str, partition_name: str, partition_values: tuple[str, ...], period: TimeRange, equals: dict[str, str | int]
) -> RecordQuery:
    """The unexpired records of an index partition's shards within ``period`` that match ``equals``."""
    low, high = period.key_bounds()
    return RecordQuery(
        index=index,
        partition_name=partition_name,
        partition_values=partition_values,
        time_from=low,
        time_to=high,
        equals=equals,
        now_epoch=int(utc_now().timestamp()),
    )


def read_page(
    store: LogRecordStore,
    query: RecordQuery,
    request: PageRequest,
    *,
    scope: str,
    counting: Counting,
    view: Callable[[StoredRecord], dict[str, Any]],
) -> Page:
    """One page of ``query``, its total from the counters, and the cursor of the next page.

    ``scope`` names the listing (a tenant's or a user's); a cursor only works in
    the scope that issued it. It carries a position in time (a ``ts_key``, the
    same in every shard) and never a partition, so it cannot lead outside the
    partitions the listing reads.
    """
    before, skip = _decode_cursor(request.cursor, scope) if request.cursor else (None, request.skip)
    found = store.page(query, limit=request.results, skip=skip, before=before)
    total = counting.totals.count(counting.scope, query, counted=counting.counted)
    return Page(
        data=[view(record) for record in found.records],
        page=request.page,
        results=request.results,
        total=total.value,
        next=_encode_cursor(scope, found.next_before, found.next_skip) if found.next_before else None,
        total_exact=total.exact,
    )


def encode_key_cursor(scope: str, key: Mapping[str, str]) -> str:
    """The cursor of a listing read by key (members, invitations): where the next page starts."""
    payload = json.dumps({"scope": scope, "key": dict(key)}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(payload).decode().rstrip("=")


def decode_key_cursor(cursor: str, scope: str, *, pk: str, sk_prefix: str) -> dict[str, str]:
    """The start key a cursor names, only if it lies in the partition and key range being read."""
    try:
        payload = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        key = payload["key"]
        valid = isinstance(key, dict) and all(isinstance(key.get(k), str) for k in ("pk", "sk"))
    except (binascii.Error, ValueError, TypeError, KeyError, UnicodeDecodeError):
        valid = False
    if not valid:
        raise InvalidInput("'cursor' is not a cursor this API returned")
    if payload.get("scope") != scope or key["pk"] != pk or not key["sk"].startswith(sk_prefix):
        raise InvalidInput("'cursor' belongs to another listing")
    return {"pk": key["pk"], "sk": key["sk"]}


_MAX_POSITION = 200  # a ts_key is ~60 characters; DynamoDB refuses key values over 1 KB


def _encode_cursor(scope: str, before: str, skip: int) -> str:
    payload: dict[str, Any] = {"scope": scope, "before": before}
    if skip:
        payload["skip"] = skip
    return base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, scope: str) -> tuple[str, int]:
    try:
        payload = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        before, skip = payload["before"], payload.get("skip", 0)
        before.encode()  # no lone surrogates
        valid = (
            isinstance(before, str)
            and 0 < len(before) <= _MAX_POSITION
            and type(skip) is int
            and 0 <= skip <= MAX_OFFSET
        )
    except (binascii.Error, ValueError, TypeError, KeyError, UnicodeDecodeError):
        valid = False
    if not valid:
        raise InvalidInput("'cursor' is not a cursor this API returned")
    if payload.get("scope") != scope:
        raise InvalidInput("'cursor' belongs to another listing")
    return before, skip


EARLIEST_TIME = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_TIME = datetime(9999, 12, 30, tzinfo=UTC)


def parse_time(value: str | None, name: str) -> datetime | None:
    """An ISO 8601 query value, in UTC; a time without offset is taken as UTC. Between 1970 and 9999."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        moment = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
    except (ValueError, OverflowError) as error:
        raise InvalidInput(f"'{name}' is not an ISO 8601 time between 1970 and 9999") from error
    if not EARLIEST_TIME <= moment <= LATEST_TIME:
        raise InvalidInput(f"'{name}' is not an ISO 8601 time between 1970 and 9999")
    return moment
