"""The event-type registry table: one immutable item per registered version.

``pk = <type>``, ``sk = <version>`` (a number). Versions are put with
``attribute_not_exists`` in the same transaction as the registration's audit
record; nothing is ever updated or deleted. The whole registry is small (a few
hundred types), so it is read with one paginated scan and cached per container.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError

from audit_service.dal.dynamo import cancellation_reasons, error_code
from audit_service.domain.errors import Conflict
from audit_service.domain.event_types import EventType, EventTypeDeclaration


class EventTypeStore:
    def __init__(self, dynamodb: Any, *, table: str) -> None:
        self._db = dynamodb
        self._table = table

    def all_versions(self) -> Iterator[EventType]:
        request: dict[str, Any] = {"TableName": self._table, "ConsistentRead": True}
        while True:
            page = self._db.scan(**request)
            for item in page.get("Items", []):
                yield _event_type(item)
            if "LastEvaluatedKey" not in page:
                return
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def put_version(self, event_type: EventType, audit_record: dict[str, Any]) -> None:
        """Store a new version with its audit record, both or neither; Conflict if the number is taken."""
        item = {
            "pk": {"S": event_type.type},
            "sk": {"N": str(event_type.version)},
            "declaration": {"S": event_type.declaration.model_dump_json()},
            "registered_at": {"S": event_type.registered_at or ""},
            "registered_by": {"S": event_type.registered_by or ""},
        }
        try:
            self._db.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": item,
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    audit_record,
                ]
            )
        except ClientError as error:
            if error_code(error) == "TransactionCanceledException" and (
                "ConditionalCheckFailed" in cancellation_reasons(error)
            ):
                raise Conflict(
                    f"version {event_type.version} of {event_type.type!r} was registered meanwhile"
                ) from error
            raise


def _event_type(item: dict[str, Any]) -> EventType:
    return EventType(
        declaration=EventTypeDeclaration.model_validate(json.loads(item["declaration"]["S"])),
        version=int(item["sk"]["N"]),
        registered_at=item.get("registered_at", {}).get("S") or None,
        registered_by=item.get("registered_by", {}).get("S") or None,
    )
