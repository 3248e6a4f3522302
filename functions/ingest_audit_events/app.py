"""SQS consumer: audit events from the EventBridge bus into the audit log.

Each message is one EventBridge event whose ``detail`` is an ``AuditEventIn``
(checked against its type's current version in the registry), a session
event, or an event type's registration.
- Stored (or already stored: a redelivery) -> the message succeeds.
- Permanently bad (invalid JSON, fails the contract, unknown type or tenant,
  an ``event_id`` reused by a different event) -> sent to the dead-letter queue
  with the reason, logged, and the message succeeds: retrying cannot fix it.
- Anything else (DynamoDB or KMS faults after the SDK's own retries) -> the
  message is reported as a batch item failure and SQS redelivers it; on its
  ``GIVE_UP_AFTER``th receive the function puts it in the DLQ itself, sealed.
  The queue's redrive policy (one receive more) only catches a message whose
  invocations crash or time out.
Dead letters are sealed (services/ingest.py): the DLQ never holds an event's
personal data readable.
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
from audit_service.services.ingest import DeadLetters, Ingestor, IngestOutcome

GIVE_UP_AFTER = 5  # receives; the queue's maxReceiveCount is one more (template.yaml)

# Session events and rejections are rarer than audit events: their collaborators are built on first use.
ingestor = Ingestor(
    container.audit_log(),
    DeadLetters(lambda: client("sqs"), get_settings().dead_letter_queue_url, container.envelope),
    sessions=container.my_account,
    types=container.event_type_registry,
)
processor = BatchProcessor(event_type=EventType.SQS)
container.envelope().load()  # its requests open or seal personal data: the Encryption SDK loads at init


outcomes: Counter[IngestOutcome] = Counter()


def _record(record: SQSRecord) -> None:
    try:
        outcomes[ingestor.ingest(record.body, message_id=record.message_id)] += 1
    except Exception as error:
        attempts = int(record.attributes.approximate_receive_count or 1)
        if attempts < GIVE_UP_AFTER:
            raise  # a batch item failure: SQS delivers it again
        ingestor.give_up(record.body, message_id=record.message_id, attempts=attempts, error=error)
        outcomes[IngestOutcome.REJECTED] += 1


def _handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    logger.append_keys(batch_size=len(event.get("Records", [])))
    outcomes.clear()
    try:
        response = process_partial_response(event=event, record_handler=_record, processor=processor, context=context)
    finally:
        for outcome, count in outcomes.items():
            metrics.add_metric(name=f"AuditEvents{outcome.value.capitalize()}", unit="Count", value=count)
    return dict(response)


handler = instrumented(_handle, correlation_id_path="Records[0].messageId")
