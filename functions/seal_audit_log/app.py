"""DynamoDB stream consumer: seals new audit-log records into signed, chained, anchored checkpoints.

- INSERT -> the record is sealed (services/sealer.py), unless it was not written
  by this service: then it is left unsealed, logged and counted
  (``RecordsRejected``); the verifier reports it as inserted.
- MODIFY, or REMOVE by anyone but TTL -> someone changed the put-only table
  behind the service: logged and counted (``RecordsChangedBehindService``) so an
  alarm fires at once; the verifier reports the record as modified or missing.
- Faults (DynamoDB, KMS, S3) fail the batch; Lambda retries it (bisecting),
  sealing is idempotent, and a batch that keeps failing goes to the sealer's
  dead-letter queue.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from audit_service import container
from audit_service.config import get_settings
from audit_service.observability import instrumented, logger, metrics
from audit_service.services.sealer import NewRecord

get_settings()
sealer = container.sealer()
container.envelope().load()  # its requests open or seal personal data: the Encryption SDK loads at init

_TTL_PRINCIPAL = "dynamodb.amazonaws.com"


def _by_ttl(record: dict[str, Any]) -> bool:
    identity = record.get("userIdentity") or {}
    return bool(identity.get("type") == "Service" and identity.get("principalId") == _TTL_PRINCIPAL)


def _handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    new: list[NewRecord] = []
    changed = 0
    for record in event.get("Records", []):
        change = record["dynamodb"]
        if record["eventName"] == "INSERT":
            written_at = datetime.fromtimestamp(float(change["ApproximateCreationDateTime"]), UTC)
            new.append(NewRecord(change["NewImage"], written_at))
        elif record["eventName"] == "MODIFY" or not _by_ttl(record):
            changed += 1
            keys = change.get("Keys", {})
            logger.warning(
                "audit log record changed behind the service",
                extra={
                    "change": record["eventName"],
                    "pk": keys.get("pk", {}).get("S"),
                    "sk": keys.get("sk", {}).get("S"),
                },
            )
    result = sealer.seal(new)
    for key in result.rejected:
        logger.warning("record not sealed: it was not written by this service", extra={"kind": key.kind, "id": key.id})
    metrics.add_metric(name="RecordsSealed", unit="Count", value=result.sealed)
    metrics.add_metric(name="CheckpointsWritten", unit="Count", value=len(result.checkpoints))
    if result.rejected:
        metrics.add_metric(name="RecordsRejected", unit="Count", value=len(result.rejected))
    if changed:
        metrics.add_metric(name="RecordsChangedBehindService", unit="Count", value=changed)
    return {
        "sealed": result.sealed,
        "already_sealed": result.already_sealed,
        "rejected": len(result.rejected),
        "changed_behind_service": changed,
        "checkpoints": [f"{c.owner}/{c.number}" for c in result.checkpoints],
    }


handler = instrumented(_handle, correlation_id_path="Records[0].eventID")
