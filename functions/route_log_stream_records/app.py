"""SQS consumer: new tenant records' keys (forwarded by CountLogRecordsFunction) -> one delivery per stream.

Each message is a list of record keys (pk, sk, type, ts_key; no contents): for each record the tenant's
streams whose kinds and types select it get it, in chunks of up to 100, on the delivery queue. Or it is
one step of a replay (a resume, or POST .../replay): the next records of the period across the stream's
partitions, oldest first, go on the delivery queue as one chunk marked replayed which carries the next
step (queued by the delivery function once the chunk is delivered). A fault
fails the message and SQS delivers it again (a re-routed chunk is delivered twice: receivers dedupe on
the record id); after the queue's maxReceiveCount it moves to the route dead-letter queue (alarmed).
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from audit_service import container
from audit_service.config import get_settings
from audit_service.observability import instrumented, metrics
from audit_service.services.stream_delivery import RecordKey, ReplayJob

get_settings()
router = container.stream_router()
processor = BatchProcessor(event_type=EventType.SQS)


def _record(record: SQSRecord) -> None:
    body = json.loads(record.body)
    if isinstance(body, dict):
        queued = router.replay(ReplayJob.model_validate(body))
    else:
        queued = router.route(RecordKey.model_validate(entry) for entry in body)
    metrics.add_metric(name="StreamDeliveriesQueued", unit="Count", value=queued)


def _handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return dict(process_partial_response(event=event, record_handler=_record, processor=processor, context=context))


handler = instrumented(_handle, correlation_id_path="Records[0].messageId")
