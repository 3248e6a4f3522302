"""What a million events cost: ingested, and kept a year, at list prices.

Every quantity is measured in this run, on the embedded AWS (moto, in-process):

- ingest: ``events`` events of one tenant go through the real ingest handler in
  SQS batches of the template's ``BatchSize``; then the table's stream, read
  back from moto, goes through the real sealer in batches of its ``BatchSize``.
  Every AWS call is counted at botocore's ``_make_api_call`` and DynamoDB's
  write and read units are computed from each call's request and response by
  DynamoDB's rules (1 write unit per started KB, doubled in a transaction; 1
  read unit per started 4 KB, half when eventually consistent), for the base
  table and for each index the item lands in, as the template projects it.
- one year kept: the items those calls stored, scanned back, sized by DynamoDB's
  rules plus its 100 bytes per item, in the table and in each index (as
  projected: ALL, KEYS_ONLY or INCLUDE), at the table's class, for twelve
  months; point-in-time recovery on each table that has it (table data only:
  indexes are not backed up).

Moto stores a 96-byte KMS ciphertext where AWS KMS stores 184 bytes for a
32-byte data key (the Encryption SDK's encrypted data key, inside ``pii``):
stored items are measured with that difference added back (``as_in_aws``).

Not counted (not per event, or not measured here): free tiers; each KMS key's
$1 a month; SQS's empty receives while the queue is idle and the KMS calls SQS
makes for its encrypted queues (once per data-key reuse period, 5 minutes);
CloudWatch Logs and X-Ray traces; reading the stream (free for Lambda); reads
by the API's pages (a cost per page, not per event).
"""

from __future__ import annotations

import io
import math
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from types import MappingProxyType
from typing import Any

import botocore.client

MILLION = 1_000_000
GB = 2**30  # AWS bills storage per GB of 2**30 bytes (the S3 pricing FAQ's example: 100 GB = 107,374,182,400 bytes)
CHUNK = 64 * 1024  # EventBridge and SQS bill each 64 KB of a payload as one event or request
ITEM_OVERHEAD = 100  # bytes DynamoDB adds to each stored item, in the table and in each index
MONTHS = 12
SQS_BATCH_MAX = 10  # messages per ReceiveMessage and per DeleteMessageBatch (Lambda's SQS poller uses both)
AWS_KMS_DATA_KEY_CIPHERTEXT = 184  # bytes of AWS KMS's CiphertextBlob for a 32-byte data key (moto's: 96)
STANDARD = "STANDARD"
COUNTERS = "CountersTable"
OTHER_BATCHES = "counters at other batch sizes (not in the total)"
STANDARD_IA = "STANDARD_INFREQUENT_ACCESS"
AUDIT_LOG = "AuditLogTable"
CHECKPOINTS = "CheckpointsTable"
TARGET = 10.00  # dollars per million events, ingested and kept a year (issue #14)
WORKOS_PER_MILLION_MONTH = 99.00  # WorkOS's published audit-log storage rate: $99 per million events per month
WORKOS_YEAR = WORKOS_PER_MILLION_MONTH * MONTHS  # $1,188 for a million events kept a year
WORKOS_RATIO_TARGET = 0.01


# ---------------------------------------------------------------- list prices
# us-east-1, on-demand, list prices as published in 2025 (DynamoDB's after the on-demand price cut of
# 2024-11-01), in dollars per unit. Sources (re-read them before quoting a figure elsewhere):
#   EventBridge  https://aws.amazon.com/eventbridge/pricing/    custom events $1.00 per million (64 KB chunks)
#   SQS          https://aws.amazon.com/sqs/pricing/            standard queue $0.40 per million requests (64 KB
#                                                                chunks), after the first million a month
#   Lambda       https://aws.amazon.com/lambda/pricing/         $0.20 per million requests; arm64
#                                                                $0.0000133334 per GB-second (first 7.5 billion)
#   DynamoDB     https://aws.amazon.com/dynamodb/pricing/on-demand/
#                Standard: $0.625 per million write request units, $0.125 per million read request units,
#                $0.25 per GB-month; Standard-IA: $0.78 / $0.155 per million, $0.10 per GB-month;
#                point-in-time recovery (continuous backups) $0.20 per GB-month, either class
#   KMS          https://aws.amazon.com/kms/pricing/            $0.03 per 10,000 symmetric requests; $0.15 per
#                                                                10,000 asymmetric requests (Sign with ECC keys)
#   S3           https://aws.amazon.com/s3/pricing/             Standard: $0.005 per 1,000 PUT, $0.023 per GB-month
#   WorkOS       https://workos.com/pricing                     Audit Logs storage: $99 per million events a month


@dataclass(frozen=True)
class TableClassPrices:
    write_unit: float
    read_unit: float
    storage_gb_month: float


@dataclass(frozen=True)
class Prices:
    eventbridge_event: float = 1.00 / MILLION
    sqs_request: float = 0.40 / MILLION
    lambda_request: float = 0.20 / MILLION
    lambda_gb_second: float = 0.0000133334  # arm64
    dynamodb: Mapping[str, TableClassPrices] = field(
        default_factory=lambda: MappingProxyType(
            {
                STANDARD: TableClassPrices(0.625 / MILLION, 0.125 / MILLION, 0.25),
                STANDARD_IA: TableClassPrices(0.78 / MILLION, 0.155 / MILLION, 0.10),
            }
        )
    )
    pitr_gb_month: float = 0.20
    kms_request: float = 0.03 / 10_000
    kms_asymmetric_request: float = 0.15 / 10_000
    s3_put: float = 0.005 / 1_000
    s3_storage_gb_month: float = 0.023


PRICES = Prices()


# ---------------------------------------------------------------- the tables, as the template declares them
@dataclass(frozen=True)
class Index:
    name: str
    keys: tuple[str, ...]
    projection: str = "ALL"  # ALL | KEYS_ONLY | INCLUDE
    include: tuple[str, ...] = ()


@dataclass(frozen=True)
class Table:
    name: str  # the template's logical id
    keys: tuple[str, ...]
    table_class: str = STANDARD
    pitr: bool = False
    indexes: tuple[Index, ...] = ()


def _key_names(schema: list[dict[str, Any]]) -> tuple[str, ...]:
    return tuple(str(key["AttributeName"]) for key in schema)


def tables_from_template(template: Mapping[str, Any]) -> dict[str, Table]:
    """Every DynamoDB table of the template: keys, class, point-in-time recovery, indexes and their projections."""
    tables: dict[str, Table] = {}
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::DynamoDB::Table":
            continue
        props = resource["Properties"]
        indexes = tuple(
            Index(
                str(gsi["IndexName"]),
                _key_names(gsi["KeySchema"]),
                str(gsi["Projection"].get("ProjectionType", "ALL")),
                tuple(gsi["Projection"].get("NonKeyAttributes", [])),
            )
            for gsi in [*props.get("GlobalSecondaryIndexes", []), *props.get("LocalSecondaryIndexes", [])]
        )
        tables[logical_id] = Table(
            logical_id,
            _key_names(props["KeySchema"]),
            str(props.get("TableClass", STANDARD)),
            bool(props.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled", False)),
            indexes,
        )
    return tables


# ---------------------------------------------------------------- DynamoDB's size rules
def item_size(item: Mapping[str, Any]) -> int:
    """Attribute names plus values, by DynamoDB's rules (bench/audit_paths.py's, with documents and sets)."""
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def _value_size(value: Mapping[str, Any]) -> int:
    from bench.audit_paths import _attribute_size  # S, N, B

    ((kind, raw),) = value.items()
    if kind in {"S", "N", "B"}:
        return _attribute_size(dict(value))
    if kind in {"BOOL", "NULL"}:
        return 1
    if kind == "L":  # 3 bytes, and 1 per element
        return 3 + sum(1 + _value_size(element) for element in raw)
    if kind == "M":
        return 3 + sum(1 + len(name.encode()) + _value_size(element) for name, element in raw.items())
    if kind in {"SS", "NS", "BS"}:
        return sum(_attribute_size({kind[0]: member}) for member in raw)
    raise ValueError(kind)


def index_item(item: Mapping[str, Any], table: Table, index: Index) -> dict[str, Any] | None:
    """The item as ``index`` stores it, or None when it lacks the index's keys (a sparse index)."""
    if not all(key in item for key in index.keys):
        return None
    if index.projection == "ALL":
        return dict(item)
    kept = {*table.keys, *index.keys}
    if index.projection == "INCLUDE":
        kept |= set(index.include)
    elif index.projection != "KEYS_ONLY":
        raise ValueError(f"unknown projection {index.projection}")
    return {name: value for name, value in item.items() if name in kept}


def part(table: Table, index: Index | None = None) -> str:
    return table.name if index is None else f"{table.name}.{index.name}"


def stored_bytes(item: Mapping[str, Any], table: Table) -> dict[str, int]:
    """Bytes billed for storing ``item``: in the table and in each index it lands in, 100 bytes each added."""
    parts = {part(table): item_size(item) + ITEM_OVERHEAD}
    for index in table.indexes:
        projected = index_item(item, table, index)
        if projected is not None:
            parts[part(table, index)] = item_size(projected) + ITEM_OVERHEAD
    return parts


def write_units(item: Mapping[str, Any], table: Table, *, transactional: bool = False) -> dict[str, int]:
    """Write units of putting ``item``: 1 per started KB in the table and in each index it lands in (as
    projected), doubled in a transaction (the index writes too, to err on the high side)."""
    factor = 2 if transactional else 1
    units = {part(table): factor * max(1, math.ceil(item_size(item) / 1024))}
    for index in table.indexes:
        projected = index_item(item, table, index)
        if projected is not None:
            units[part(table, index)] = factor * max(1, math.ceil(item_size(projected) / 1024))
    return units


def read_units(items: list[Mapping[str, Any]], *, consistent: bool, each: bool = False) -> float:
    """Read units of returning ``items``: 1 per started 4 KB of the whole (a Query) or of each item (GetItem,
    BatchGetItem), at least 1; half when eventually consistent."""
    sizes = [item_size(item) for item in items] if each else [sum(item_size(item) for item in items)]
    units = sum(max(1, math.ceil(size / 4096)) for size in sizes) if sizes else 1
    return units if consistent else units / 2


def as_in_aws(item: Mapping[str, Any]) -> dict[str, Any]:
    """``item`` with each Encryption SDK message's AWS KMS data key at AWS KMS's ciphertext size.

    Moto's KMS ciphertext is shorter than AWS's; padding the binary value by the difference gives the
    size DynamoDB would bill for the same item in AWS. Other values are left as they are.
    """
    corrected = dict(item)
    for name, value in item.items():
        if set(value) != {"B"}:
            continue
        missing = _kms_ciphertext_shortfall(bytes(value["B"]))
        if missing:
            corrected[name] = {"B": bytes(value["B"]) + b"\0" * missing}
    return corrected


def _kms_ciphertext_shortfall(message: bytes) -> int:
    from aws_encryption_sdk.internal.formatting.deserialize import deserialize_header

    try:
        header, _raw = deserialize_header(io.BytesIO(message))
    except Exception:  # noqa: BLE001 - not an Encryption SDK message: nothing to correct
        return 0
    return sum(
        max(0, AWS_KMS_DATA_KEY_CIPHERTEXT - len(key.encrypted_data_key))
        for key in header.encrypted_data_keys
        if key.key_provider.provider_id == "aws-kms"
    )


# ---------------------------------------------------------------- metering every AWS call
class Meter:
    """Every AWS call of this process while ``on``: counted, and DynamoDB's units computed afterwards from each
    call's request and response (so the timed code pays only for keeping them)."""

    def __init__(self, tables_by_name: Mapping[str, Table]) -> None:
        self._tables = tables_by_name
        self.calls: Counter[str] = Counter()
        self._dynamodb: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
        self.sqs_messages = 0  # messages sent with SendMessageBatch
        self.sqs_billed = 0  # and the requests SQS bills for them (64 KB chunks of each batch)

    @contextmanager
    def on(self) -> Iterator[Meter]:
        original = botocore.client.BaseClient._make_api_call

        def metered(client: Any, operation: str, params: Any) -> Any:
            response = original(client, operation, params)
            service = client.meta.service_model.service_name
            self.calls[f"{service}:{operation}"] += 1
            if service == "dynamodb":
                self._dynamodb.append((operation, params, response))
            elif operation == "SendMessageBatch":  # SQS bills each 64 KB of a batch's payload as one request
                self.sqs_messages += len(params["Entries"])
                self.sqs_billed += max(
                    1, math.ceil(sum(len(e["MessageBody"].encode()) for e in params["Entries"]) / CHUNK)
                )
            return response

        botocore.client.BaseClient._make_api_call = metered
        try:
            yield self
        finally:
            botocore.client.BaseClient._make_api_call = original

    def count(self, prefix: str) -> int:
        return sum(n for name, n in self.calls.items() if name.startswith(prefix))

    def units(self) -> tuple[dict[str, float], dict[str, float]]:
        """Write units per table part (table, or table.index) and read units per table."""
        written: defaultdict[str, float] = defaultdict(float)
        read: defaultdict[str, float] = defaultdict(float)
        for operation, params, response in self._dynamodb:
            if operation in _WRITES:
                self._written(operation, params, written)
            else:
                self._read(operation, params, response, read)
        return dict(written), dict(read)

    def _put(
        self, name: str, item: Mapping[str, Any], written: defaultdict[str, float], *, transactional: bool
    ) -> None:
        table = self._tables.get(name)
        if table is None:
            written[name] += 2 if transactional else 1
            return
        for where, units in write_units(as_in_aws(item), table, transactional=transactional).items():
            written[where] += units

    def _written(self, operation: str, params: dict[str, Any], written: defaultdict[str, float]) -> None:
        if operation == "PutItem":
            self._put(params["TableName"], params["Item"], written, transactional=False)
        elif operation in {"UpdateItem", "DeleteItem"}:
            written[params["TableName"]] += 1  # the item's size is not in the call: counted as one KB
        elif operation == "BatchWriteItem":
            for name, requests in params["RequestItems"].items():
                for request in requests:
                    if "PutRequest" in request:
                        self._put(name, request["PutRequest"]["Item"], written, transactional=False)
                    else:
                        written[name] += 1
        else:  # TransactWriteItems
            for entry in params["TransactItems"]:
                ((kind, action),) = entry.items()
                if kind == "Put":
                    self._put(action["TableName"], action["Item"], written, transactional=True)
                else:
                    written[action["TableName"]] += 2  # Update, Delete, ConditionCheck: one KB, in a transaction

    @staticmethod
    def _read(operation: str, params: dict[str, Any], response: dict[str, Any], read: defaultdict[str, float]) -> None:
        consistent = bool(params.get("ConsistentRead"))
        if operation == "GetItem":
            found = [response["Item"]] if "Item" in response else []
            read[params["TableName"]] += read_units(found, consistent=consistent, each=True)
        elif operation in {"Query", "Scan"}:
            read[params["TableName"]] += read_units(response.get("Items", []), consistent=consistent)
        elif operation == "BatchGetItem":
            for name, request in params["RequestItems"].items():
                items = response.get("Responses", {}).get(name, [])
                read[name] += read_units(items, consistent=bool(request.get("ConsistentRead")), each=True)
        elif operation == "TransactGetItems":
            for entry in params["TransactItems"]:
                read[entry["Get"]["TableName"]] += 2


_WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}


# ---------------------------------------------------------------- what was measured
@dataclass(frozen=True)
class LambdaUse:
    invocations: int
    billed_ms: float  # per invocation, each rounded up to the millisecond as Lambda bills it
    memory_mb: int
    batch: int  # records per invocation


@dataclass(frozen=True)
class Measured:
    """Totals over one run of ``events`` events; the model divides by ``events``."""

    events: int
    event_bytes: int  # one event as EventBridge receives it and SQS delivers it
    lambdas: Mapping[str, LambdaUse]  # per function: "ingest function", "sealer", ...
    write_units: Mapping[str, float]  # per table part ("AuditLogTable", "AuditLogTable.by_time", ...)
    read_units: Mapping[str, float]  # per table
    stored_bytes: Mapping[str, int]  # per table part, 100 bytes per item included
    stored_items: Mapping[str, int]  # per table part
    kms_requests: int  # symmetric: GenerateDataKey, Decrypt, Encrypt
    kms_sign_requests: int  # asymmetric: the checkpoints' signatures
    s3_puts: int
    s3_stored_bytes: int
    # CountersTable write units per event when the stream hands the counters fewer records per batch than the
    # run's (a quieter tenant, a shorter batching window): records per batch -> WRU per event. Not in the total.
    counter_units_by_batch: Mapping[int, float] = field(default_factory=dict)
    # New tenant records' keys, sent by the counting function to the log streams' route queue (issue #15):
    # messages, and the send requests SQS bills for them.
    route_messages: int = 0
    route_send_requests: int = 0


@dataclass(frozen=True)
class Line:
    section: str  # "ingest" | "one year kept"
    item: str
    basis: str
    dollars: float  # per million events


def _table_of(name: str) -> str:
    return name.split(".", 1)[0]


def _class_of(tables: Mapping[str, Table], name: str) -> str:
    table = tables.get(_table_of(name))
    return table.table_class if table else STANDARD


def _short(table_class: str) -> str:
    return "Standard-IA" if table_class == STANDARD_IA else "Standard"


def cost_lines(m: Measured, tables: Mapping[str, Table], prices: Prices = PRICES) -> list[Line]:
    """Dollars per million events, line by line, from what was measured and the list prices."""
    per_event = 1 / m.events
    scale = MILLION * per_event  # a total over the run, as a total over a million events
    lines: list[Line] = []

    def add(section: str, item: str, basis: str, dollars_per_run: float) -> None:
        lines.append(Line(section, item, basis, dollars_per_run * scale))

    chunks = max(1, math.ceil(m.event_bytes / CHUNK))
    add(
        "ingest",
        "EventBridge: the event put on the bus",
        f"{m.event_bytes:,} B per event: {chunks} chunk of 64 KB",
        m.events * chunks * prices.eventbridge_event,
    )
    received = max(1, math.ceil(SQS_BATCH_MAX * m.event_bytes / CHUNK))
    sqs_per_event = chunks + 2 * received / SQS_BATCH_MAX
    add(
        "ingest",
        "SQS: send, receive, delete",
        f"{sqs_per_event:.2f} requests per event: 1 send + receive and delete in batches of {SQS_BATCH_MAX}",
        m.events * sqs_per_event * prices.sqs_request,
    )
    if m.route_messages:
        route_batch = 10  # RouteLogStreamRecordsFunction's BatchSize: one receive and one delete per 10 messages
        requests = m.route_send_requests + 2 * math.ceil(m.route_messages / route_batch)
        add(
            "ingest",
            "SQS: new records' keys to the log streams' router",
            f"{m.route_messages:,} messages of up to 500 keys, {requests:,} requests per {m.events:,} events",
            requests * prices.sqs_request
            + math.ceil(m.route_messages / route_batch) * prices.lambda_request,  # + the router's invocations
        )
    for label, use in m.lambdas.items():
        gb_seconds = use.invocations * use.billed_ms / 1000 * use.memory_mb / 1024
        add(
            "ingest",
            f"Lambda: {label}",
            f"{use.invocations:,} invocations of {use.batch:,} records, {use.billed_ms:,.0f} ms each "
            f"(warm, moto), {use.memory_mb} MB arm64",
            use.invocations * prices.lambda_request + gb_seconds * prices.lambda_gb_second,
        )
    for table_name in sorted({_table_of(name) for name in m.write_units}):
        parts = {name: units for name, units in m.write_units.items() if _table_of(name) == table_name}
        table_class = _class_of(tables, table_name)
        detail = " + ".join(
            f"{name.split('.', 1)[1] if '.' in name else 'table'} {units * per_event:.3f}"
            for name, units in sorted(parts.items(), key=lambda kv: ("." in kv[0], kv[0]))
        )
        add(
            "ingest",
            f"DynamoDB writes: {table_name}",
            f"{sum(parts.values()) * per_event:.3f} WRU per event ({detail}), {_short(table_class)}",
            sum(parts.values()) * prices.dynamodb[table_class].write_unit,
        )
    read_dollars = sum(
        units * prices.dynamodb[_class_of(tables, name)].read_unit for name, units in m.read_units.items()
    )
    add(
        "ingest",
        "DynamoDB reads: plans, checkpoint heads, recent blocks",
        ", ".join(f"{name} {units * per_event:.4f}" for name, units in sorted(m.read_units.items())) + " RRU per event",
        read_dollars,
    )
    add(
        "ingest",
        "KMS: data keys, checkpoint signatures",
        f"{m.kms_requests:,} symmetric + {m.kms_sign_requests:,} Sign per {m.events:,} events",
        m.kms_requests * prices.kms_request + m.kms_sign_requests * prices.kms_asymmetric_request,
    )
    add(
        "ingest",
        "S3: checkpoint anchors",
        f"{m.s3_puts:,} PUT per {m.events:,} events",
        m.s3_puts * prices.s3_put,
    )

    for name in sorted(m.stored_bytes, key=lambda n: (_table_of(n), "." in n, n)):
        table_class = _class_of(tables, name)
        items = m.stored_items.get(name, 0)
        add(
            "one year kept",
            f"storage: {name}",
            f"{m.stored_bytes[name] * per_event:,.0f} B per event ({items:,} items, 100 B each included), "
            f"{_short(table_class)}, {MONTHS} months",
            m.stored_bytes[name] / GB * prices.dynamodb[table_class].storage_gb_month * MONTHS,
        )
    for table_name, table in sorted(tables.items()):
        if table.pitr and table_name in m.stored_bytes:
            add(
                "one year kept",
                f"point-in-time recovery: {table_name}",
                f"{m.stored_bytes[table_name] * per_event:,.0f} B per event (the table, not its indexes), "
                f"{MONTHS} months",
                m.stored_bytes[table_name] / GB * prices.pitr_gb_month * MONTHS,
            )
    for per_batch, units in sorted(m.counter_units_by_batch.items(), reverse=True):
        add(
            OTHER_BATCHES,
            f"DynamoDB writes: {COUNTERS}, {per_batch:,} record{'s' if per_batch > 1 else ''} per stream batch",
            f"{units:.3f} WRU per event, {_short(_class_of(tables, COUNTERS))}",
            m.events * units * prices.dynamodb[_class_of(tables, COUNTERS)].write_unit,
        )
    add(
        "one year kept",
        "storage: S3 checkpoint anchors",
        f"{m.s3_stored_bytes * per_event:,.1f} B per event, {MONTHS} months",
        m.s3_stored_bytes / GB * prices.s3_storage_gb_month * MONTHS,
    )
    return lines


def totals(lines: list[Line]) -> tuple[float, float]:
    ingest = sum(line.dollars for line in lines if line.section == "ingest")
    kept = sum(line.dollars for line in lines if line.section == "one year kept")
    return ingest, kept


def report(lines: list[Line], *, events: int, title: str | None = None) -> tuple[str, bool]:
    ingest, kept = totals(lines)
    total = ingest + kept
    ratio = total / WORKOS_YEAR
    passed = total <= TARGET and ratio < WORKOS_RATIO_TARGET
    rows: list[tuple[str, str, str, str]] = [("line item", "$ per 1M", "measured basis", "ok")]
    for section, subtotal in (("ingest", ingest), ("one year kept", kept)):
        rows += [
            (f"{line.section}: {line.item}", f"{line.dollars:.3f}", line.basis, "")
            for line in lines
            if line.section == section
        ]
        rows.append((f"{section}: total", f"{subtotal:.3f}", "", ""))
    rows.append(
        (
            "ingest + one year kept",
            f"{total:.2f}",
            f"target <= ${TARGET:.2f} per million events",
            "yes" if total <= TARGET else "NO",
        )
    )
    rows.append(
        (
            "vs WorkOS, a million events kept a year",
            f"{ratio:.2%}",
            f"${WORKOS_YEAR:,.0f} (${WORKOS_PER_MILLION_MONTH:.0f} per million a month x {MONTHS}); target < 1%",
            "yes" if ratio < WORKOS_RATIO_TARGET else "NO",
        )
    )
    rows += [
        (f"{line.section}: {line.item}", f"{line.dollars:.3f}", line.basis, "")
        for line in lines
        if line.section == OTHER_BATCHES
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    heading = title or (
        f"Cost per million events at list prices (us-east-1, on-demand), measured over {events:,} events "
        "(moto in-process)"
    )
    text = [heading]
    for row in rows:
        text.append(
            "  ".join(
                (cell.rjust(width) if i == 1 else cell.ljust(width))
                for i, (cell, width) in enumerate(zip(row[:3], widths, strict=True))
            )
            + "  "
            + row[3]
        )
    return "\n".join(line.rstrip() for line in text), passed


# ---------------------------------------------------------------- the run
def _timed(call: Callable[[], Any]) -> tuple[Any, float]:
    began = time.perf_counter()
    result = call()
    return result, (time.perf_counter() - began) * 1000


def _billed_ms(durations: list[float], *, cold_first: bool) -> float:
    """Mean billed milliseconds of warm invocations (a cold first one imports the code), each rounded up."""
    warm = (durations[1:] if cold_first else durations) or durations
    return sum(math.ceil(ms) for ms in warm) / len(warm)


def _scan(dynamodb: Any, table: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    arguments: dict[str, Any] = {"TableName": table}
    while True:
        response = dynamodb.scan(**arguments)
        items += response["Items"]
        if "LastEvaluatedKey" not in response:
            return items
        arguments["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def _key(item: Mapping[str, Any], table: Table) -> tuple[str, ...]:
    return tuple(repr(item[name]) for name in table.keys)


def _stream_inserts(stack: Any, partition: str, region: str) -> list[dict[str, Any]]:
    """The stream's new records of ``partition`` (any of its write shards), as Lambda delivers them."""
    import boto3

    from localcloud.pollers import as_lambda_json

    streams = boto3.client("dynamodbstreams", region_name=region)
    arn = stack.attribute(AUDIT_LOG, "StreamArn")
    records: list[dict[str, Any]] = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            response = streams.get_records(ShardIterator=iterator, Limit=1000)
            if not response["Records"]:
                break
            for record in response["Records"]:
                pk = record["dynamodb"]["Keys"]["pk"]["S"]
                if record["eventName"] == "INSERT" and (pk == partition or pk.startswith(f"{partition}#")):
                    records.append(as_lambda_json(record))
            iterator = response.get("NextShardIterator")
    return records


# The run's workload: one tenant writing 1,000 records a minute (so each stream batch of 1,000 holds about a
# minute), by 23 authors, in 5 divisions, 3 environments and 101 deployments: every filter the listings count
# has several values in each batch, as in a busy tenant.
SPACING = timedelta(milliseconds=60)
VARIETY = {"author": 23, "division": 5, "environment": 3, "deployment": 101}


def _workload_event(tenant_id: int, n: int, start: datetime) -> dict[str, Any]:
    from bench.audit_paths import _event

    event = _event(tenant_id, n, start)
    event["occurred_at"] = (start + n * SPACING).isoformat()
    for name, values in VARIETY.items():
        event[name] = {**event[name], "id": 1 + n % values}
    return event


def _empty(dynamodb: Any, table: str) -> None:
    for item in _scan(dynamodb, table):
        dynamodb.delete_item(TableName=table, Key={"pk": item["pk"], "sk": item["sk"]})


def _counter_units(
    runtime: Any, records: list[dict[str, Any]], per_batch: int, by_name: Mapping[str, Table], table: str
) -> float:
    """CountersTable write units per record when ``records`` reach the counters ``per_batch`` at a time,
    counted into an empty table (a bench-only reset: no role of the service may delete a counter)."""
    import boto3

    _empty(boto3.client("dynamodb"), table)
    meter = Meter(by_name)
    with meter.on():
        for offset in range(0, len(records), per_batch):
            runtime.invoke("CountLogRecordsFunction", {"Records": records[offset : offset + per_batch]})
    written, _read = meter.units()
    return written.get(table, 0.0) / len(records)


def _read_stream(
    runtime: Any,
    stack: Any,
    function: str,
    records: list[dict[str, Any]],
    per_batch: int,
    by_name: Mapping[str, Table],
    done: str,
) -> tuple[Meter, LambdaUse]:
    """``function`` (a reader of the log's stream) on ``records`` in batches of ``per_batch``, one warm container,
    metered; every record must be reported ``done`` (the function's result field)."""
    runtime.invoke(function, {"Records": []})
    meter = Meter(by_name)
    durations: list[float] = []
    handled = 0
    with meter.on():
        for offset in range(0, len(records), per_batch):
            result, ms = _timed(partial(runtime.invoke, function, {"Records": records[offset : offset + per_batch]}))
            handled += int(result[done])
            durations.append(ms)
    assert handled == len(records), (function, handled, len(records))
    use = LambdaUse(
        len(durations), _billed_ms(durations, cold_first=False), stack.functions[function].memory, per_batch
    )
    return meter, use


def _batch_size(template: Mapping[str, Any], function: str) -> int:
    from localcloud.template import function_properties

    (event,) = function_properties(template, function)["Events"].values()
    return int(event["Properties"]["BatchSize"])


def measure(events: int = 10_000) -> Measured:
    from moto import mock_aws

    from bench.audit_paths import REGION, _clients, _env, _sqs_batch, in_process_aws
    from localcloud.provision import provision
    from localcloud.runtime import Runtime
    from localcloud.template import load

    in_process_aws()
    template = load()
    tables = tables_from_template(template)
    ingest_batch = _batch_size(template, "IngestAuditEventsFunction")
    seal_batch = _batch_size(template, "SealAuditLogFunction")
    count_batch = _batch_size(template, "CountLogRecordsFunction")
    with mock_aws():
        from datetime import UTC

        from audit_service import container
        from audit_service.domain.models import Plan

        stack = provision(_clients, stack_name="bench", region=REGION)
        restore = _env(stack)
        container.reset()
        try:
            dynamodb = _clients("dynamodb")
            by_name = {stack.ref(logical_id): table for logical_id, table in tables.items()}
            tenant = container.accounts().create_tenant("Bench", Plan.ENTERPRISE)
            before = {name: {_key(item, table) for item in _scan(dynamodb, name)} for name, table in by_name.items()}
            runtime = Runtime(stack)
            # Half past a minute, so that every batch of a minute's records spans two minute buckets, as most do:
            # the figure does not depend on the second the bench starts at.
            start = (datetime.now(UTC) - timedelta(hours=1)).replace(second=30, microsecond=0)
            workload = [_workload_event(tenant.id, n, start) for n in range(events)]
            batches = [
                _sqs_batch(workload[offset : offset + ingest_batch]) for offset in range(0, events, ingest_batch)
            ]
            bodies = [len(record["body"].encode()) for batch in batches for record in batch["Records"]]

            # Ingest, from a cold container (its first batch fetches the data key and the tenant's plan).
            container.reset()
            ingest = Meter(by_name)
            durations: list[float] = []
            with ingest.on():
                for batch in batches:
                    result, ms = _timed(partial(runtime.invoke, "IngestAuditEventsFunction", batch))
                    assert result == {"batchItemFailures": []}, result
                    durations.append(ms)
            ingest_use = LambdaUse(
                len(batches),
                _billed_ms(durations, cold_first=True),
                stack.functions["IngestAuditEventsFunction"].memory,
                ingest_batch,
            )

            # The sealer, on the stream's new records, one warm container.
            records = _stream_inserts(stack, f"{tenant.id}#audit", REGION)
            assert len(records) == events, (len(records), events)
            sealer, sealer_use = _read_stream(
                runtime, stack, "SealAuditLogFunction", records, seal_batch, by_name, "sealed"
            )
            # The counters, on the same records: one UpdateItem per bucket and log partition of each batch.
            counter, counter_use = _read_stream(
                runtime, stack, "CountLogRecordsFunction", records, count_batch, by_name, "counted"
            )
            by_batch = {
                per_batch: _counter_units(runtime, records[:sample], per_batch, by_name, stack.ref(COUNTERS))
                for per_batch, sample in ((100, 2_000), (10, 1_000), (1, 300))
                if per_batch < count_batch
            }
            # The main run's counters are what the year's storage keeps: count them again into an empty table.
            _counter_units(runtime, records, count_batch, by_name, stack.ref(COUNTERS))

            # What those calls stored, as AWS would bill it.
            stored: Counter[str] = Counter()
            stored_items: Counter[str] = Counter()
            for name, table in by_name.items():
                for item in _scan(dynamodb, name):
                    if _key(item, table) in before[name]:
                        continue
                    for where, size in stored_bytes(as_in_aws(item), table).items():
                        stored[where] += size
                        stored_items[where] += 1
            # An UpdateItem is counted as one write unit (its item's size is not in the call): true while every
            # counter item stays under 1 KB, which this run checks.
            largest_counter = max((item_size(item) for item in _scan(dynamodb, stack.ref("CountersTable"))), default=0)
            assert largest_counter < 1024, f"a counter item of {largest_counter} B costs more than 1 WRU per update"
            s3 = _clients("s3")
            anchors = s3.list_objects_v2(Bucket=stack.ref("AnchorBucket")).get("Contents", [])

            written: defaultdict[str, float] = defaultdict(float)
            read: defaultdict[str, float] = defaultdict(float)
            for meter in (ingest, sealer, counter):
                w, r = meter.units()
                for name, units in w.items():
                    written[_logical(by_name, name)] += units
                for name, units in r.items():
                    read[_logical(by_name, name)] += units
            return Measured(
                events=events,
                event_bytes=round(sum(bodies) / len(bodies)),
                lambdas={"ingest function": ingest_use, "sealer": sealer_use, "counters": counter_use},
                write_units=dict(written),
                read_units=dict(read),
                stored_bytes=dict(stored),
                stored_items=dict(stored_items),
                kms_requests=ingest.count("kms:") + sealer.count("kms:") - sealer.calls["kms:Sign"],
                kms_sign_requests=sealer.calls["kms:Sign"],
                s3_puts=sealer.calls["s3:PutObject"] + ingest.calls["s3:PutObject"],
                s3_stored_bytes=sum(int(obj["Size"]) for obj in anchors),
                counter_units_by_batch=by_batch,
                route_messages=counter.sqs_messages,
                route_send_requests=counter.sqs_billed,
            )
        finally:
            restore()
            container.reset()


def _logical(by_name: Mapping[str, Table], name: str) -> str:
    """A physical table name (or name.index) as the template's logical id (or id.index)."""
    table, _, index = name.partition(".")
    logical = by_name[table].name if table in by_name else table
    return f"{logical}.{index}" if index else logical


def run(events: int = 10_000) -> tuple[str, bool]:
    """Measure, price and print: the table of ``python -m bench --only cost``."""
    from localcloud.template import load

    return report(cost_lines(measure(events), tables_from_template(load())), events=events)
