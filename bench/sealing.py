"""The sealer and the verifier, on the records the write-path benchmark just stored.

- sealer: the table's stream, read back from moto, is fed to one warm sealer
  container in batches of 1,000 (the template's BatchSize) through its real
  handler. Its records per second are compared with the ingest handler's events
  per second from the same run: sealing keeps up with the write path when the
  ratio is at least 1 (one sealer per stream shard; one ingest container here).
- verifier: the verify route's service over the whole log, records per second,
  split into reading the evidence (on moto: mostly moto's own serialisation)
  and checking it (pure code, the same offline).
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import boto3

from localcloud.pollers import as_lambda_json
from localcloud.provision import Stack
from localcloud.runtime import Runtime

BATCH = 1000


def _inserts(stack: Stack, pk: str, region: str) -> list[dict[str, Any]]:
    streams = boto3.client("dynamodbstreams", region_name=region)
    arn = stack.attribute("AuditLogTable", "StreamArn")
    records: list[dict[str, Any]] = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            response = streams.get_records(ShardIterator=iterator, Limit=BATCH)
            if not response["Records"]:
                break
            records += [
                as_lambda_json(r)
                for r in response["Records"]
                # every write shard of the partition: pk, or pk#<n>
                if r["eventName"] == "INSERT" and r["dynamodb"]["Keys"]["pk"]["S"].split("#")[:2] == pk.split("#")
            ]
            iterator = response.get("NextShardIterator")
    return records


def measure(
    runtime: Runtime, stack: Stack, tenant_id: int, counting: Any, *, ingest_ms_per_event: float, region: str
) -> list[Any]:
    from audit_service import container
    from audit_service.services.pagination import TimeRange
    from bench.audit_paths import Row

    records = _inserts(stack, f"{tenant_id}#audit", region)
    batches = [{"Records": records[i : i + BATCH]} for i in range(0, len(records), BATCH)]
    runtime.invoke("SealAuditLogFunction", {"Records": []})  # a warm container
    calls: Counter[str]
    with counting() as calls:
        began = time.perf_counter()
        sealed = sum(runtime.invoke("SealAuditLogFunction", batch)["sealed"] for batch in batches)
        seconds = time.perf_counter() - began
    rate = sealed / seconds
    ingest_rate = 1000 / ingest_ms_per_event
    per_thousand = sum(calls.values()) * 1000 / max(sealed, 1)

    from audit_service.integrity.verifier import verify

    began = time.perf_counter()
    evidence = container.integrity().evidence(tenant_id, TimeRange())
    read_seconds = time.perf_counter() - began
    began = time.perf_counter()
    report = verify(evidence)
    verify_seconds = time.perf_counter() - began
    checked = report.records_checked
    return [
        Row(
            "seal: records per second, one warm sealer",
            f"{rate:,.0f}",
            f"ingest {ingest_rate:,.0f} events/s in this run: {rate / ingest_rate:.2f}x (target >= 1x: keeps up)",
            sealed == len(records) and rate >= ingest_rate,
        ),
        Row(
            "seal: AWS calls per 1,000 records",
            f"{per_thousand:.1f}",
            ", ".join(f"{name} x{n}" for name, n in sorted(calls.items())),
            True,
        ),
        Row(
            "verify: records per second, checking (no AWS calls)",
            f"{checked / verify_seconds:,.0f}",
            f"{checked:,} records, {report.checkpoints_stored} checkpoints; verified={report.verified}",
            report.verified and checked >= sealed,
        ),
        Row(
            "verify: records per second, reading them (moto)",
            f"{checked / read_seconds:,.0f}",
            "moto serialises query results slowly; DynamoDB returns ~1 MB per Query call",
            True,
        ),
    ]
