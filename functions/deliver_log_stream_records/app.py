"""SQS consumer: one chunk of a tenant's records, signed and POSTed to one of its streams.

A delivery the receiver does not take (no answer in 5 s, or a status other than 2xx) is reported as a
batch item failure after its visibility is set to the back-off (base x 2^(attempt-1), at most 15 minutes),
so SQS delivers it again then; on its LOG_STREAM_DELIVERY_ATTEMPTS-th attempt it is kept in the stream
dead-letter queue and counted as failed on the stream (services/stream_delivery.py).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from audit_service import container
from audit_service.aws import client
from audit_service.config import get_settings
from audit_service.observability import instrumented, logger, metrics
from audit_service.services.stream_delivery import DeliveryFailed, DeliveryOutcome, DeliveryRequest

settings = get_settings()
delivery = container.stream_delivery()
processor = BatchProcessor(event_type=EventType.SQS)
container.envelope().load()  # every delivery opens records and the destination: the SDK loads at init
MAX_BACKOFF_SECONDS = 900

outcomes: Counter[DeliveryOutcome] = Counter()


def _record(record: SQSRecord) -> None:
    attempt = int(record.attributes.approximate_receive_count or 1)
    request = DeliveryRequest.model_validate_json(record.body)
    try:
        outcomes[delivery.deliver(request, delivery_id=record.message_id, attempt=attempt)] += 1
    except DeliveryFailed:
        backoff = min(settings.log_stream_retry_base_seconds * 2 ** (attempt - 1), MAX_BACKOFF_SECONDS)
        client("sqs").change_message_visibility(
            QueueUrl=settings.log_stream_delivery_queue_url,
            ReceiptHandle=record.receipt_handle,
            VisibilityTimeout=backoff,
        )
        raise


def _handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    logger.append_keys(batch_size=len(event.get("Records", [])))
    outcomes.clear()
    try:
        response = process_partial_response(event=event, record_handler=_record, processor=processor, context=context)
    finally:
        for outcome, count in outcomes.items():
            metrics.add_metric(name=f"StreamDeliveries_{outcome.value}", unit="Count", value=count)
    return dict(response)


handler = instrumented(_handle, correlation_id_path="Records[0].messageId")
