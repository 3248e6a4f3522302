"""Log streams (issue #15): what a stream adds, what one stream delivers, and how fast.

1. AWS calls, on moto in-process: the same N events ingested and drained through every consumer twice,
   without a stream and with one stream selecting them all (a local receiver taking every delivery). Each
   call is charged to the function that made it. The write path (IngestAuditEvents) must make the same
   calls either way; the stream's cost is the route and delivery functions' calls plus what the counter
   adds by forwarding, per 1,000 records delivered.
   Lambda's own polling of the queues (ReceiveMessage, DeleteMessageBatch by the event source mappings)
   is not charged to a function and not counted.
2. Throughput, latency and a replay's rate, on ``python -m localcloud`` (what ``make run`` runs) in a child process with
   its background pollers: N events published on the bus (ten per ``put-events``, each stamped with the
   time it was published), received by the local receiver; latency is the receiver's arrival time less
   the record's own time. The counter's batching window (``SealingWindowSeconds``: 2 s locally, 60 s by
   default on AWS) is part of it: the stream is fed by the counter.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
import urllib.request
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import botocore.client
from moto import mock_aws

from bench.audit_paths import PRODUCT_PAGE_EXAMPLE, REGION, Row, _clients, _env, in_process_aws
from localcloud.process import client as local_client
from localcloud.process import running

CALLS_PER_THOUSAND_TARGET = (
    75  # drained batches are small here (ten of 100): on AWS the counter forwards once per batch of up to 1,000
)
WRITE_PATH = "IngestAuditEventsFunction"
STREAM_FUNCTIONS = ("RouteLogStreamRecordsFunction", "DeliverLogStreamRecordsFunction")
COUNTER = "CountLogRecordsFunction"
FORWARDING = "forwarding"  # the counter's SendMessageBatch calls: made whether or not the tenant has streams


def _events(tenant_id: int, count: int) -> list[dict[str, Any]]:
    now = datetime.now(UTC).isoformat()
    return [
        {**PRODUCT_PAGE_EXAMPLE, "event_id": str(uuid.uuid4()), "tenant_id": tenant_id, "occurred_at": now}
        for _ in range(count)
    ]


def _publish(events_client: Any, bus: str, events: list[dict[str, Any]]) -> None:
    for start in range(0, len(events), 10):
        entries = [
            {"EventBusName": bus, "Source": "bench", "DetailType": "Audit Event", "Detail": json.dumps(event)}
            for event in events[start : start + 10]
        ]
        assert events_client.put_events(Entries=entries)["FailedEntryCount"] == 0


def _calls_by_function(records: int, *, with_stream: bool) -> tuple[Counter[str], int]:
    """AWS calls per function while ``records`` events are ingested and drained; and how many were received."""
    from audit_service import container
    from localcloud.gateway import Gateway
    from localcloud.pollers import Pollers
    from localcloud.provision import provision
    from localcloud.receiver import Receiver
    from localcloud.runtime import Runtime, install_lambda_invoker
    from localcloud.seed import seed_demo

    with mock_aws():
        stack = provision(_clients, stack_name="bench", region=REGION)
        restore = _env(stack)
        os.environ.update({"LOG_STREAM_ALLOW_LOCAL_DESTINATIONS": "true", "LOG_STREAM_RETRY_BASE_SECONDS": "0"})
        receiver = Receiver(secret="b" * 40).start()
        try:
            container.reset()
            runtime = Runtime(stack)
            install_lambda_invoker(runtime)
            (api,) = stack.apis.values()
            gateway = Gateway(api, runtime, region=REGION)
            pollers = Pollers(stack.mappings, runtime, _clients, REGION)
            demo = seed_demo()
            tenant_id = int(demo["tenants"][0]["id"])
            owner = next(u for u in demo["users"] if u["role"] == "owner")
            if with_stream:
                body = {
                    "name": "bench",
                    "destination": {"type": "https", "url": receiver.url, "secret": "b" * 40},
                    "kinds": ["audit"],
                    "types": ["deployment_created"],
                }
                headers = {"ld-api-key": owner["api_key"], "Content-Type": "application/json"}
                answer = gateway.handle(
                    "POST", f"/tenants/{tenant_id}/streams", headers, json.dumps(body).encode(), "192.0.2.1"
                )
                assert answer.status == 201, answer.body
            pollers.drain()

            calls: Counter[str] = Counter()
            current = {"function": "outside"}
            invoke = runtime.invoke
            original = botocore.client.BaseClient._make_api_call

            def charged(logical_id: str, event: Any) -> Any:
                current["function"] = logical_id
                try:
                    return invoke(logical_id, event)
                finally:
                    current["function"] = "outside"

            def counted(client: Any, operation: str, params: Any) -> Any:
                calls[current["function"]] += 1
                if current["function"] == COUNTER and operation == "SendMessageBatch":
                    calls[FORWARDING] += 1
                return original(client, operation, params)

            runtime.invoke = charged  # type: ignore[method-assign]
            botocore.client.BaseClient._make_api_call = counted
            try:
                _publish(_clients("events"), stack.ref("AuditEventBus"), _events(tenant_id, records))
                pollers.drain()
            finally:
                botocore.client.BaseClient._make_api_call = original
                runtime.invoke = invoke  # type: ignore[method-assign]
            return calls, len(receiver.records)
        finally:
            receiver.stop()
            restore()
            container.reset()


def measure_calls(records: int = 1000) -> list[Row]:
    in_process_aws()
    without, _ = _calls_by_function(records, with_stream=False)
    with_stream, received = _calls_by_function(records, with_stream=True)
    added = sum(with_stream[name] for name in STREAM_FUNCTIONS) + with_stream[FORWARDING]
    per_thousand = added * 1000 / max(received, 1)
    return [
        Row("records delivered to one stream", f"{received} of {records}", "every one", received == records),
        Row(
            "write path: IngestAuditEvents AWS calls",
            f"{with_stream[WRITE_PATH]} with a stream, {without[WRITE_PATH]} without",
            "the same (zero added)",
            with_stream[WRITE_PATH] == without[WRITE_PATH],
        ),
        Row(
            "AWS calls per 1,000 records delivered",
            f"{per_thousand:.1f} (route {with_stream[STREAM_FUNCTIONS[0]]}, deliver {with_stream[STREAM_FUNCTIONS[1]]},"
            f" the counter's forwarding {with_stream[FORWARDING]})",
            f"at most {CALLS_PER_THOUSAND_TARGET}",
            per_thousand <= CALLS_PER_THOUSAND_TARGET,
        ),
    ]


def _post(cloud: dict[str, Any], path: str, key: str, body: Any) -> dict[str, Any]:
    request = urllib.request.Request(
        cloud["api_url"] + path,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"ld-api-key": key, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return dict(json.load(answer))


def measure_local_cloud(records: int = 1000, timeout: float = 300) -> list[Row]:
    with tempfile.TemporaryDirectory() as state_dir, running(Path(state_dir)) as cloud:
        tenant = int(cloud["tenants"][0]["id"])
        key = next(u["api_key"] for u in cloud["users"] if u["role"] == "owner")
        receiver = cloud["receiver"]
        _post(
            cloud,
            f"/tenants/{tenant}/streams",
            key,
            {
                "name": "bench",
                "destination": {"type": "https", "url": receiver["url"], "secret": receiver["secret"]},
                "kinds": ["audit"],
                "types": ["deployment_created"],
            },
        )
        time.sleep(6)  # the router's cache of the tenant's streams
        events = local_client(cloud, "events")
        started = time.time()
        for start in range(0, records, 10):  # each event stamped with when it is published
            batch = _events(tenant, min(10, records - start))
            _publish(events, cloud["resources"]["AuditEventBus"], batch)
        received_file = Path(cloud["state"]).with_name("received.jsonl")
        deadline = time.monotonic() + timeout
        lines: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            text = received_file.read_text() if received_file.exists() else ""
            lines = [json.loads(line) for line in text.splitlines()]
            lines = [line for line in lines if line["record"]["type"] == "deployment_created"]
            if len(lines) >= records:
                break
            time.sleep(0.5)
        replay = _replay(cloud, tenant, key, since=started - 1, records=records, timeout=timeout)
    latencies = sorted(
        line["received_at"] - datetime.fromisoformat(line["record"]["timestamp"].replace("Z", "+00:00")).timestamp()
        for line in lines
    )
    finished = max((line["received_at"] for line in lines), default=started)
    rate = len(lines) / max(finished - started, 1e-9)
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] if latencies else float("nan")
    return [
        Row("records received (local cloud)", f"{len(lines)} of {records}", "every one", len(lines) >= records),
        Row("records per second delivered by one stream", f"{rate:.0f}", "publishing included", rate > 0),
        Row(
            "latency, audit write to delivery: median / p99",
            f"{statistics.median(latencies) if latencies else float('nan'):.2f} s / {p99:.2f} s",
            "counter's batching window locally 2 s",
            bool(latencies),
        ),
        *replay,
    ]


def _replay(cloud: dict[str, Any], tenant: int, key: str, *, since: float, records: int, timeout: float) -> list[Row]:
    """Replay what was just delivered, and time it by the stream's ``delivered`` count (the local receiver
    keeps each record once, so redeliveries do not reach its file; their order is tested in
    tests/integration/test_log_streams.py)."""
    path = f"/tenants/{tenant}/streams"
    stream_id = _get(cloud, path, key)["data"][0]["id"]
    before = _get(cloud, f"{path}/{stream_id}", key)["health"]["delivered"]
    began = time.monotonic()
    _post(cloud, f"{path}/{stream_id}/replay", key, {"from": datetime.fromtimestamp(since, UTC).isoformat()})
    delivered = 0
    while time.monotonic() - began < timeout and delivered < records:
        time.sleep(0.25)
        delivered = _get(cloud, f"{path}/{stream_id}", key)["health"]["delivered"] - before
    rate = delivered / (time.monotonic() - began)
    return [
        Row(
            "replay: records per second (in time order: one chunk of 100 in flight)",
            f"{rate:.0f} ({delivered} of {records})",
            "every one",
            delivered >= records,
        )
    ]


def _get(cloud: dict[str, Any], path: str, key: str) -> dict[str, Any]:
    request = urllib.request.Request(cloud["api_url"] + path, headers={"ld-api-key": key})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return dict(json.load(answer))


def measure(records: int = 1000) -> list[Row]:
    return [*measure_calls(records), *measure_local_cloud(records)]
