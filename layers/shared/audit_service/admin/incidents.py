"""The operator's incident-response reads: the platform's own security events, and the dead letters, opened.

Both hold personal data (source addresses, User-Agents, event bodies) sealed
for the platform partition; no route serves them, because no tenant owns them.
The operator's AWS credentials (DynamoDB read, ``kms:Decrypt`` on the data key,
SQS receive) are what opens them, and every use is in CloudTrail.
"""

from __future__ import annotations

import json
import os
from typing import Any

from audit_service import container
from audit_service.domain.models import SecurityEventType

# dead-letter queue -> the environment variable that names it (set from the stack's outputs or the local state)
DEAD_LETTER_QUEUES = {
    "ingest": "DEAD_LETTER_QUEUE_URL",
    "security": "SECURITY_DEAD_LETTER_QUEUE_URL",
    "sealer": "SEALER_DEAD_LETTER_QUEUE_URL",
    "counter": "COUNTER_DEAD_LETTER_QUEUE_URL",
    "streams": "LOG_STREAM_DEAD_LETTER_QUEUE_URL",
    "stream-routes": "LOG_STREAM_ROUTE_DEAD_LETTER_QUEUE_URL",
}


def security_list(
    owner: str, *, event_type: str | None, time_from: str | None, time_to: str | None, results: int, cursor: str | None
) -> dict[str, Any]:
    """A page of security events of the platform partition (``owner`` "platform") or of a tenant, decrypted."""
    from audit_service.services.pagination import PageRequest, TimeRange
    from audit_service.services.security import SecurityFilters

    period = TimeRange.parse({k: v for k, v in (("from", time_from), ("to", time_to)) if v})
    filters = SecurityFilters(type=SecurityEventType(event_type) if event_type else None, period=period)
    request = PageRequest(results=results, cursor=cursor)
    events = container.security_events()
    page = (
        events.platform_page(request, filters)
        if owner == "platform"
        else events.tenant_page(int(owner), request, filters)
    )
    return {"owner": owner, **page.body()}


def dead_letters_show(queue: str, *, most: int) -> dict[str, Any]:
    """Up to ``most`` dead letters of a queue, their bodies opened; they stay in the queue."""
    url = os.environ.get(DEAD_LETTER_QUEUES[queue])
    if not url:
        raise ValueError(f"the {queue} dead-letter queue is unknown: use --stack NAME or --local")
    from audit_service.aws import client
    from audit_service.services.ingest import DeadLetters

    sqs = client("sqs")
    opener = DeadLetters(lambda: sqs, url, container.envelope)
    shown: list[dict[str, Any]] = []
    while len(shown) < most:
        response = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=min(10, most - len(shown)),
            VisibilityTimeout=0,  # only looking: they stay where they are
            MessageAttributeNames=["All"],
            MessageSystemAttributeNames=["All"],
        )
        seen = {message["message_id"] for message in shown}
        messages = [m for m in response.get("Messages", []) if m["MessageId"] not in seen]
        if not messages:  # none left, or only ones already shown (they stay visible)
            break
        for message in messages:
            body = opener.open(message["Body"]) if queue == "ingest" else message["Body"]
            attributes = {
                name: value.get("StringValue") for name, value in message.get("MessageAttributes", {}).items()
            }
            shown.append(
                {
                    "message_id": message["MessageId"],
                    "sent_at": message.get("Attributes", {}).get("SentTimestamp"),
                    "attributes": attributes,
                    "body": _json_or_text(body),
                }
            )
    return {"queue": queue, "shown": len(shown), "messages": shown}


def _json_or_text(body: str) -> Any:
    try:
        return json.loads(body)
    except json.JSONDecodeError:
        return body
