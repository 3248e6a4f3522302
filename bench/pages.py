"""Page cost by tenant size: page 1, a deep page by cursor and a filtered page at N records.

One in-process stack (moto) and one tenant per size. A tenant's records are
built by the service's own ``AuditLog.build`` (keys, attributes, sealed
personal data exactly as stored) and loaded with ``batch_write_item``: this
loader is the bench's, not the service's (no role of the service may batch
write the log). Their counters are the items the counting code would leave
once every record is counted (``bucket_groups`` of ``counted_record``, with
increasing fake sequence numbers), written whole: moto's stream and its
``UpdateItem`` (~12 ms each) would take hours at 200,000 records. Every page's
``total`` is asserted against the records loaded, so a wrong counter fails the
bench.

Records span the last ~300 days; each day's fall within one minute of the
morning, by few authors and divisions (which keeps the counters' buckets, and
so the loading, small: moto's UpdateItem takes ~12 ms; pages read the same
either way). One type in ten records is
``deployment_created``: the filtered page's.

Each page is read through the route function (``ListTenantAuditEventsFunction``,
warm) five times; the figures are its AWS calls (the fewest of the five: another run may add a
cache's refresh, which comes by the clock, printed apart), and the median wall time and
"service" time: wall time less the time spent inside botocore's
``_make_api_call`` (intervals merged, as reads run side by side). moto's Query
costs time in proportion to the partition's size (and, for an index, to the
table's), whatever ``Limit`` says, while on AWS a key-range query's latency
does not grow with the partition: service time is the figure compared.
"""

from __future__ import annotations

import json
import statistics
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import botocore.client
from moto import mock_aws

from bench.audit_paths import REGION, Row, _env, in_process_aws
from bench.events import api_event
from localcloud.provision import provision
from localcloud.runtime import Runtime

SIZES = (1_000, 20_000, 200_000)
DAYS = 300
MINUTES_PER_DAY = 1
FILTERED_TYPE = "deployment_created"  # one record in ten
OTHER_TYPES = ("deployment_updated", "environment_updated", "member_added")
AUTHORS = 4
DIVISIONS = 2
RESULTS = "10"
REPEATS = 5
DEEP = 21  # the page measured by cursor
TIME_RATIO = 1.5


@dataclass
class _Calls:
    """AWS calls made inside ``timed`` and the intervals spent inside botocore's ``_make_api_call``."""

    count: int = 0
    operations: list[str] = field(default_factory=list)
    intervals: list[tuple[float, float]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def inside_ms(self) -> float:
        covered, end = 0.0, float("-inf")
        for start, stop in sorted(self.intervals):
            if stop > end:
                covered += stop - max(start, end)
                end = stop
        return covered * 1000


@contextmanager
def timed() -> Iterator[_Calls]:
    original = botocore.client.BaseClient._make_api_call
    calls = _Calls()

    def counted(client: Any, operation: str, params: Any) -> Any:
        began = time.perf_counter()
        try:
            return original(client, operation, params)
        finally:
            with calls.lock:
                calls.count += 1
                calls.operations.append(_operation(operation, params))
                calls.intervals.append((began, time.perf_counter()))

    botocore.client.BaseClient._make_api_call = counted
    try:
        yield calls
    finally:
        botocore.client.BaseClient._make_api_call = original


def _operation(operation: str, params: Any) -> str:
    """``Query`` of the counters or of an index, etc.: what the call read."""
    table = str(params.get("TableName", "")).removeprefix("bench-")
    index = params.get("IndexName")
    return f"{operation} {table}{'/' + index if index else ''}"


def _kinds(operations: Counter[str]) -> str:
    return ", ".join(f"{operation} x{n}" for operation, n in sorted(operations.items()))


def _clients(service: str) -> Any:
    return boto3.client(service, region_name=REGION)


def _type_of(n: int) -> str:
    return FILTERED_TYPE if n % 10 == 0 else OTHER_TYPES[n % len(OTHER_TYPES)]


def _batch_put(dynamodb: Any, table: str, items: list[dict[str, Any]]) -> None:
    for first in range(0, len(items), 25):
        request: dict[str, Any] = {table: [{"PutRequest": {"Item": item}} for item in items[first : first + 25]]}
        while request:
            request = dynamodb.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}


def _counter_items(records: list[Any]) -> list[dict[str, Any]]:
    """The counters' items once every record is counted, as ``CounterStore.add`` leaves them (the pages'
    totals, asserted below, read them): one ``batch_write_item`` per 25 buckets instead of one
    ``UpdateItem`` (~12 ms in moto) per bucket and chunk of records."""
    from audit_service.services.totals import bucket_groups

    items: dict[tuple[str, str], dict[str, Any]] = {}
    for (scope, sk, source), group in bucket_groups(records).items():
        item = items.setdefault(
            (scope, sk),
            {"pk": {"S": scope}, "sk": {"S": sk}, "n": {"N": "0"}, "expires_at": {"N": str(group.expires_at)}},
        )
        item["n"] = {"N": str(int(item["n"]["N"]) + len(group.sequences))}
        item[f"s#{source}"] = {"S": max(group.sequences)}
    return list(items.values())


def _load(stack: Any, tenant_id: int, size: int, retention_days: int, sequence: int) -> tuple[int, int]:
    """Write ``size`` records of the tenant and their counters; (records of FILTERED_TYPE, next sequence)."""
    from audit_service import container
    from audit_service.domain.audit import AuditEvent
    from audit_service.services.totals import counted_record

    audit_log = container.audit_log()
    dynamodb = _clients("dynamodb")
    today = datetime.now(UTC).replace(hour=9, minute=0, second=0, microsecond=0) - timedelta(days=1)
    filtered = 0
    counted = []
    items: list[dict[str, Any]] = []
    for n in range(size):
        day, place = divmod(n * DAYS, size)  # n-th record: its day, and its place within that day's records
        within = timedelta(milliseconds=place * MINUTES_PER_DAY * 60_000 // DAYS)
        moment = today - timedelta(days=DAYS - 1 - day) + within
        kind = _type_of(n)
        filtered += kind == FILTERED_TYPE
        author = 1 + n % AUTHORS
        division = 1 + n % DIVISIONS
        event = AuditEvent(
            event_id=str(uuid.uuid4()),
            type=kind,
            tenant_id=tenant_id,
            author={"id": author, "name": f"Author {author}"},
            division={"id": division, "name": f"Division {division}"},
            occurred_at=moment,
        )
        item = audit_log.build(event, retention_days).item()
        items.append(item)
        sequence += 1
        record = counted_record(item, str(sequence))
        assert record is not None
        counted.append(record)
        if len(items) == 1_000:
            _batch_put(dynamodb, stack.ref("AuditLogTable"), items)
            items.clear()
    _batch_put(dynamodb, stack.ref("AuditLogTable"), items)
    _batch_put(dynamodb, stack.ref("CountersTable"), _counter_items(counted))
    return filtered, sequence


@dataclass(frozen=True)
class _Figure:
    calls: int
    operations: str  # the page's calls by kind, and what a cache refresh added in another run
    service_ms: float
    wall_ms: float


def _measure_tenant(runtime: Runtime, tenant_id: int, size: int, filtered: int) -> dict[str, _Figure]:
    def page(query: dict[str, str]) -> tuple[dict[str, Any], _Calls, float, float]:
        event = api_event(
            "GET",
            f"/audit/tenants/{tenant_id}",
            user_id=1,
            roles={str(tenant_id): "auditor"},
            resource="/audit/tenants/{tenant_id}",
            path_parameters={"tenant_id": str(tenant_id)},
            query=query,
        )
        with timed() as calls:
            began = time.perf_counter()
            response = runtime.invoke("ListTenantAuditEventsFunction", event)
            wall = (time.perf_counter() - began) * 1000
        assert response["statusCode"] == 200, response
        return json.loads(response["body"]), calls, wall, wall - calls.inside_ms()

    def figure(name: str, query: dict[str, str], total: int) -> _Figure:
        runs = [page(query) for _ in range(REPEATS)]
        # A page's own reads are the fewest of the five; the others add a cache's refresh (the tenant's
        # plan and layout, the event types), which comes by the clock, once a minute or so, whatever N is.
        fewest = min((calls for _body, calls, _wall, _service in runs), key=lambda calls: calls.count)
        most = max((calls for _body, calls, _wall, _service in runs), key=lambda calls: calls.count)
        for body, *_rest in runs:
            assert body["total"] == total, f"{name} at N={size:,}: total {body['total']} != {total}"
            assert len(body["data"]) == int(RESULTS), f"{name} at N={size:,}: {len(body['data'])} records"
        refreshes = Counter(most.operations) - Counter(fewest.operations)
        return _Figure(
            fewest.count,
            _kinds(Counter(fewest.operations)) + (f"; a refresh added {_kinds(refreshes)}" if refreshes else ""),
            statistics.median(service for *_rest, service in runs),
            statistics.median(wall for _body, _count, wall, _service in runs),
        )

    page({"results": RESULTS})  # warm: imports, clients, data keys, the tenant's plan and layout
    first = page({"results": RESULTS})[0]
    cursor = first["next"]
    for _ in range(DEEP - 2):  # pages 2 .. DEEP-1
        cursor = page({"results": RESULTS, "cursor": cursor})[0]["next"]
    return {
        "page 1": figure("page 1", {"results": RESULTS}, size),
        f"page {DEEP} by cursor": figure("deep page", {"results": RESULTS, "cursor": cursor, "page": str(DEEP)}, size),
        f"type={FILTERED_TYPE}": figure("filtered page", {"results": RESULTS, "type": FILTERED_TYPE}, filtered),
    }


def measure(sizes: list[int] | tuple[int, ...] = SIZES) -> list[Row]:
    sizes = sorted(sizes)
    in_process_aws()
    rows: list[Row] = []
    with mock_aws():
        from audit_service import container
        from audit_service.domain.models import Plan

        stack = provision(_clients, stack_name="bench", region=REGION)
        restore = _env(stack)
        container.reset()
        try:
            runtime = Runtime(stack)
            tenants: list[tuple[int, int, int]] = []  # (size, tenant id, records of FILTERED_TYPE)
            sequence = 0
            for size in sizes:
                tenant = container.accounts().create_tenant(f"Bench {size}", Plan.ENTERPRISE)
                began = time.perf_counter()
                filtered, sequence = _load(stack, tenant.id, size, Plan.ENTERPRISE.retention_days, sequence)
                seconds = time.perf_counter() - began
                rows.append(
                    Row(
                        f"load: {size:,} records and their counters (build, batch_write_item)",
                        f"{seconds:.1f} s",
                        "bench set-up: minutes, where moto's stream and UpdateItem took ~40 s per 1,000",
                        True,
                    )
                )
                tenants.append((size, tenant.id, filtered))
            figures = {
                size: _measure_tenant(runtime, tenant_id, size, filtered) for size, tenant_id, filtered in tenants
            }
        finally:
            restore()
            container.reset()

    for name in figures[sizes[0]]:
        for size in sizes:
            f = figures[size][name]
            rows.append(
                Row(
                    f"{name}, N={size:,}: AWS calls / service ms / wall ms",
                    f"{f.calls} / {f.service_ms:.1f} / {f.wall_ms:.1f}",
                    f"median of {REPEATS}; total checked; {f.operations}",
                    True,
                )
            )
    low, high = sizes[0], sizes[-1]
    if high != low:
        for name in figures[low]:
            a, b = figures[low][name], figures[high][name]
            rows.append(
                Row(
                    f"{name}: AWS calls {high:,} / {low:,}",
                    f"{b.calls} / {a.calls}",
                    "target: equal",
                    b.calls == a.calls,
                )
            )
            ratio = b.service_ms / a.service_ms
            rows.append(
                Row(
                    f"{name}: service ms {high:,} / {low:,}",
                    f"{ratio:.2f}x",
                    f"target <= {TIME_RATIO}x (wall, moto's Query included: {b.wall_ms / a.wall_ms:.2f}x)",
                    ratio <= TIME_RATIO,
                )
            )
    return rows
