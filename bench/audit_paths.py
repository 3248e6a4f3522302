"""Write and read paths of the audit log, on the embedded AWS (moto, in-process).

Every figure is measured in this run, next to its baseline or target:

- write path: one warm ingest container takes 10,000 events of one tenant in
  SQS batches of 100, through its real handler. AWS calls and KMS calls are
  counted at botocore's ``_make_api_call`` (every SDK call, the Encryption
  SDK's included); time per event is compared with a bare boto3 conditional
  ``put_item`` of an item of the same size on the same embedded AWS.
- item size and write units follow DynamoDB's rules (attribute names plus
  values; 1 WCU per started KB, for the base item and for each index the item
  appears in).
- read path: one warm page of 10 through the route function, and a deep page
  reached by cursor.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import boto3
import botocore.client
from moto import mock_aws

from bench.events import api_event
from localcloud.provision import Stack, provision
from localcloud.runtime import Runtime

REGION = "us-east-1"
PRODUCT_PAGE_EXAMPLE = {
    "type": "deployment_created",
    "author": {"id": 1, "name": "Jane Smith"},
    "division": {"id": 1, "name": "Platform Engineering"},
    "environment": {"id": 1, "name": "production"},
    "deployment": {"id": 42, "name": "prod-cluster"},
}


@dataclass(frozen=True)
class Row:
    figure: str
    value: str
    compared_with: str
    ok: bool

    def cells(self) -> tuple[str, str, str, str]:
        return self.figure, self.value, self.compared_with, "yes" if self.ok else "NO"


class CallCounter:
    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    @contextmanager
    def counting(self) -> Iterator[Counter[str]]:
        original = botocore.client.BaseClient._make_api_call
        calls: Counter[str] = Counter()

        def counted(client: Any, operation: str, params: Any) -> Any:
            calls[f"{client.meta.service_model.service_name}:{operation}"] += 1
            return original(client, operation, params)

        botocore.client.BaseClient._make_api_call = counted
        try:
            yield calls
        finally:
            botocore.client.BaseClient._make_api_call = original


def _clients(service: str) -> Any:
    return boto3.client(service, region_name=REGION)


def _event(tenant_id: int, n: int, moment: datetime) -> dict[str, Any]:
    return {
        **PRODUCT_PAGE_EXAMPLE,
        # Random-looking (as producers' UUIDv4s are), yet the same in every run: sizes and compression are real.
        "event_id": str(uuid.UUID(bytes=hashlib.sha256(n.to_bytes(8, "big")).digest()[:16], version=4)),
        "tenant_id": tenant_id,
        "occurred_at": (moment + timedelta(milliseconds=n)).isoformat(),
    }


def _sqs_batch(events: list[dict[str, Any]]) -> dict[str, Any]:
    envelope = {
        "version": "0",
        "detail-type": "Audit Event",
        "source": "bench",
        "account": "123456789012",
        "time": "2026-01-01T00:00:00Z",
        "region": REGION,
        "resources": [],
    }
    return {
        "Records": [
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": "r",
                "body": json.dumps({**envelope, "id": e["event_id"], "detail": e}),
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:bench",
                "awsRegion": REGION,
            }
            for e in events
        ]
    }


def _attribute_size(value: dict[str, Any]) -> int:
    ((kind, raw),) = value.items()
    if kind == "S":
        return len(raw.encode())
    if kind == "N":
        digits = str(Decimal(raw)).lstrip("-").replace(".", "").lstrip("0") or "0"
        return math.ceil(len(digits) / 2) + 1
    if kind == "B":
        return len(raw)
    raise ValueError(kind)


def item_size(item: dict[str, Any]) -> int:
    return sum(len(name.encode()) + _attribute_size(value) for name, value in item.items())


def _gsis(stack: Stack) -> list[dict[str, Any]]:
    table = _clients("dynamodb").describe_table(TableName=stack.ref("AuditLogTable"))["Table"]
    return list(table.get("GlobalSecondaryIndexes", []))


def write_units(item: dict[str, Any], gsis: list[dict[str, Any]]) -> int:
    size = item_size(item)
    units = math.ceil(size / 1024)
    for index in gsis:
        keys = [k["AttributeName"] for k in index["KeySchema"]]
        if all(k in item for k in keys):  # sparse: only items with the index's keys are written to it
            units += math.ceil(size / 1024)  # projection ALL: the index item is the whole item
    return units


def _env(stack: Stack) -> Callable[[], None]:
    saved = dict(os.environ)
    os.environ.update(stack.environment())

    def restore() -> None:
        os.environ.clear()
        os.environ.update(saved)

    return restore


def in_process_aws() -> None:
    """Every client of this process talks to moto in-process (mock_aws), quietly."""
    os.environ.update(
        {
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "POWERTOOLS_LOG_LEVEL": "WARNING",
            "POWERTOOLS_METRICS_DISABLED": "true",
        }
    )
    os.environ.pop("AWS_ENDPOINT_URL", None)


def measure(events: int = 10_000, batch: int = 100, baseline_puts: int = 2_000) -> list[Row]:
    in_process_aws()
    rows: list[Row] = []
    counter = CallCounter()
    with mock_aws():
        from audit_service import container
        from audit_service.domain.models import Plan

        stack = provision(_clients, stack_name="bench", region=REGION)
        restore = _env(stack)
        container.reset()
        try:
            tenant = container.accounts().create_tenant("Bench", Plan.ENTERPRISE)
            runtime = Runtime(stack)
            start = datetime.now(UTC) - timedelta(hours=1)
            all_events = [_event(tenant.id, n, start) for n in range(events)]

            # Calls are counted from a cold container (its first batch fetches the data
            # key and the tenant's plan); time is taken over the warm batches only.
            container.reset()
            with counter.counting() as calls:
                runtime.invoke("IngestAuditEventsFunction", _sqs_batch(all_events[:batch]))
                began = time.perf_counter()
                for offset in range(batch, events, batch):
                    result = runtime.invoke(
                        "IngestAuditEventsFunction", _sqs_batch(all_events[offset : offset + batch])
                    )
                    assert result == {"batchItemFailures": []}, result
                per_event_ms = (time.perf_counter() - began) * 1000 / (events - batch)
            total_calls = sum(calls.values())
            puts = calls["dynamodb:PutItem"]
            one_off = {name: n for name, n in calls.items() if name != "dynamodb:PutItem"}
            kms_calls = sum(n for name, n in calls.items() if name.startswith("kms:"))
            rows.append(
                Row(
                    "write: AWS calls per stored event",
                    f"{total_calls / events:.4f}",
                    f"target 1.0 amortised: {puts:,} PutItem + once per container "
                    + ", ".join(f"{name} x{n}" for name, n in sorted(one_off.items())),
                    puts == events and sum(one_off.values()) <= 3,
                )
            )
            rows.append(Row(f"write: KMS calls per {events:,} events", str(kms_calls), "target <= 2", kms_calls <= 2))

            # The product page's example, as stored.
            dynamodb = _clients("dynamodb")
            example = dynamodb.get_item(
                TableName=stack.ref("AuditLogTable"),
                Key={"pk": {"S": f"{tenant.id}#audit"}, "sk": {"S": all_events[0]["event_id"]}},
            )
            item = example["Item"]
            size = item_size(item)
            units = write_units(item, _gsis(stack))
            rows.append(
                Row("write: bytes per stored record (product page example)", str(size), "target <= 1024", size <= 1024)
            )
            rows.append(
                Row(
                    "write: write units per record, indexes included",
                    str(units),
                    "target <= 2 (base + by_time + by_author)",
                    units <= 2,
                )
            )

            from bench import sealing

            rows += sealing.measure(
                runtime, stack, tenant.id, counter.counting, ingest_ms_per_event=per_event_ms, region=REGION
            )

            # Baseline: a bare conditional put of the same stored item (same size, same
            # indexes) under new keys, in another partition, on the same embedded AWS.
            began = time.perf_counter()
            for n in range(baseline_puts):
                dynamodb.put_item(
                    TableName=stack.ref("AuditLogTable"),
                    Item={
                        **item,
                        "pk": {"S": "baseline#audit"},
                        "sk": {"S": f"{n:08d}"},
                        "ts_key": {"S": f"2026-01-01T00:00:00.000Z#{n:08d}"},
                    },
                    ConditionExpression="attribute_not_exists(pk)",
                )
            baseline_ms = (time.perf_counter() - began) * 1000 / baseline_puts
            rows.append(
                Row(
                    "write: ms per event in the ingest handler",
                    f"{per_event_ms:.3f}",
                    f"bare put_item {baseline_ms:.3f} ms: {per_event_ms / baseline_ms:.2f}x (target <= 1.5x)",
                    per_event_ms / baseline_ms <= 1.5,
                )
            )

            rows += _read_path(runtime, tenant.id, counter)
        finally:
            restore()
            container.reset()
    return rows


def _read_path(runtime: Runtime, tenant_id: int, counter: CallCounter) -> list[Row]:
    def page(query: dict[str, str]) -> tuple[dict[str, Any], Counter[str]]:
        event = api_event(
            "GET",
            f"/audit/tenants/{tenant_id}",
            user_id=1,
            roles={str(tenant_id): "auditor"},
            resource="/audit/tenants/{tenant_id}",
            path_parameters={"tenant_id": str(tenant_id)},
            query=query,
        )
        with counter.counting() as calls:
            response = runtime.invoke("ListTenantAuditEventsFunction", event)
        assert response["statusCode"] == 200, response
        return json.loads(response["body"]), calls

    page({"results": "10"})  # warm the container: imports, clients, data keys
    first, first_calls = page({"results": "10"})
    deep_cursor = first["next"]
    for _ in range(20):  # walk 20 pages down, then measure the next one
        deep_cursor = page({"results": "10", "cursor": deep_cursor})[0]["next"]
    _deep, deep_calls = page({"results": "10", "cursor": deep_cursor, "page": "22"})

    def total(calls: Counter[str]) -> int:
        return sum(calls.values())

    def kms(calls: Counter[str]) -> int:
        return sum(n for name, n in calls.items() if name.startswith("kms:"))

    def detail(calls: Counter[str]) -> str:
        return ", ".join(f"{name} x{n}" for name, n in sorted(calls.items()))

    records = first["total"]
    return [
        Row(
            f"read: AWS calls, warm page of 10 ({records:,} records)",
            str(total(first_calls)),
            f"target <= 3 [{detail(first_calls)}]",
            total(first_calls) <= 3,
        ),
        Row("read: KMS calls, warm page of 10", str(kms(first_calls)), "target <= 1", kms(first_calls) <= 1),
        Row(
            "read: AWS calls, deep page (22) by cursor",
            str(total(deep_calls)),
            f"page 1: {total(first_calls)} (target: the same)",
            total(deep_calls) <= total(first_calls),
        ),
    ]


def report(
    rows: list[Row], title: str = "Audit log write and read paths (moto in-process, one warm container)"
) -> tuple[str, bool]:
    widths = [max(len(row.cells()[i]) for row in rows) for i in range(3)]
    header = ("figure", "measured", "compared with", "ok")
    widths = [max(w, len(h)) for w, h in zip(widths, header, strict=False)]
    lines = [title]
    for cells in [header, *(row.cells() for row in rows)]:
        lines.append(
            "  ".join(cell.ljust(width) for cell, width in zip(cells[:3], widths, strict=True)) + "  " + cells[3]
        )
    return "\n".join(lines), all(row.ok for row in rows)
