"""SQS consumer: security signals (failed logins, denied permissions) into aggregated records.

A batch is grouped into repeats (same owner, type, actor, reason or permission
and source, within five minutes) and each group is stored as one record with
its ``count`` and first and last time (services/security.py). A message that
does not open as one of ours is a batch item failure, and ends in the queue's
dead-letter queue after its retries; a group whose write fails is retried as a
whole. Each group's record id comes from its signals, so a redelivered batch
meets its own record.
"""

from __future__ import annotations

from typing import Any

from audit_service import container
from audit_service.config import get_settings
from audit_service.crypto.envelope import DecryptionFailed
from audit_service.domain.errors import Conflict
from audit_service.observability import instrumented, logger, metrics
from audit_service.services.security import Signal

get_settings()
security = container.security_events()
store = container.log_record_store()
container.envelope().load()  # its requests open or seal personal data: the Encryption SDK loads at init


def _handle(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    records = event.get("Records", [])
    failures: list[str] = []
    signals: dict[str, Signal] = {}
    message_of: dict[str, str] = {}
    for record in records:
        try:
            signal = security.parse(record["body"])
        except (DecryptionFailed, ValueError, KeyError, TypeError):
            logger.warning("not a security signal", extra={"message_id": record["messageId"]})
            failures.append(record["messageId"])
            continue
        signals[signal.id] = signal
        message_of[signal.id] = record["messageId"]
    stored = 0
    for group in security.groups(signals.values()):
        try:
            store.put(security.aggregate(group))
            stored += 1
        except Conflict:
            pass  # a redelivered batch: this group's record is already there
        except Exception as error:  # noqa: BLE001 - this group's messages are retried; the other groups are done
            logger.error("a security record could not be written", extra={"error_type": type(error).__name__})
            failures.extend(message_of[signal.id] for signal in group)
    metrics.add_metric(name="SecuritySignalsReceived", unit="Count", value=len(signals))
    metrics.add_metric(name="SecurityRecordsStored", unit="Count", value=stored)
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failures]}


handler = instrumented(_handle, correlation_id_path="Records[0].messageId")
