"""DynamoDB stream consumer: adds new log records to the listings' totals (services/totals.py).

Only INSERTs count: a record leaves a total by expiring (readers drop expired
buckets), never by a TTL deletion. Each batch is aggregated into one update
per bucket and log partition; a redelivered batch adds only what was not
counted (exactly once). Faults fail the batch; Lambda retries it (bisecting)
and a batch that keeps failing goes to the counter's dead-letter queue.

It also forwards the keys of new tenant records (no contents) to the log streams' route queue
(services/stream_delivery.py): the log's stream keeps two readers, as AWS advises, and the write path
of a record gains nothing. Forwarding comes after counting: a batch retried because forwarding failed
counts nothing twice (the counters' marks), and is forwarded again (at least once).
"""

from __future__ import annotations

from typing import Any

from audit_service import container
from audit_service.aws import client
from audit_service.config import get_settings
from audit_service.observability import instrumented, metrics
from audit_service.services.stream_delivery import SqsQueue, forward, forwarded_record
from audit_service.services.totals import counted_record

settings = get_settings()
counter = container.counter()
route_queue = SqsQueue(lambda: client("sqs"), settings.log_stream_route_queue_url)


def _handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    records = [
        counted
        for record in event.get("Records", [])
        if record["eventName"] == "INSERT"
        and (counted := counted_record(record["dynamodb"]["NewImage"], record["dynamodb"]["SequenceNumber"]))
    ]
    result = counter.add(records)
    new = [record["dynamodb"]["NewImage"] for record in event.get("Records", []) if record["eventName"] == "INSERT"]
    forwarded = forward((key for image in new if (key := forwarded_record(image))), route_queue)
    metrics.add_metric(name="RecordsForwardedToStreams", unit="Count", value=forwarded)
    metrics.add_metric(name="RecordsCounted", unit="Count", value=result.records)
    metrics.add_metric(name="CounterUpdates", unit="Count", value=result.updates)
    if result.skipped:
        metrics.add_metric(name="RecordsCountedBefore", unit="Count", value=result.skipped)
    return {"counted": result.records, "updates": result.updates, "skipped": result.skipped}


handler = instrumented(_handle, correlation_id_path="Records[0].eventID")
