"""The audit log table: audit records, access-log records and security events.

Put-only. Every record is written with ``attribute_not_exists`` and no role
has UpdateItem, DeleteItem or BatchWriteItem on this table (a test reads the
template to keep it so). Layout:

- ``pk = <tenant_id>#<kind>``, or ``platform#<kind>`` where no tenant is known
  (a failed login). A tenant's records are only reachable through a key that
  starts with its id.
- ``sk = <ISO-8601 timestamp>#<record id>``: newest-first queries are a
  reverse range read.
- ``expires_at``: the TTL attribute (epoch seconds), from the tenant's plan at
  write time. DynamoDB deletes expired items lazily, so reads filter on it too.
- plain attributes are ids, the type and timestamps; everything else is in
  ``pii``, one encrypted message per record.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from audit_service.dal.dynamo import error_code, from_item, to_item
from audit_service.domain.errors import Conflict

PLATFORM = "platform"


def partition(tenant_id: int | None, kind: str) -> str:
    return f"{PLATFORM if tenant_id is None else tenant_id}#{kind}"


@dataclass(frozen=True, slots=True)
class StoredRecord:
    pk: str
    sk: str
    attributes: dict[str, Any]
    sealed: bytes


class LogRecordStore:
    def __init__(self, dynamodb: Any, *, table: str) -> None:
        self._db = dynamodb
        self._table = table

    def put(self, record: StoredRecord) -> None:
        item = to_item({"pk": record.pk, "sk": record.sk, **record.attributes, "pii": record.sealed})
        try:
            self._db.put_item(TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(pk)")
        except ClientError as error:
            if error_code(error) == "ConditionalCheckFailedException":
                raise Conflict(f"record {record.pk}/{record.sk} already exists") from error
            raise

    def newest(self, pk: str, *, now_epoch: int, limit: int) -> list[StoredRecord]:
        """Up to ``limit`` unexpired records of one partition, newest first."""
        records: list[StoredRecord] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "FilterExpression": "attribute_not_exists(expires_at) OR expires_at > :now",
            "ExpressionAttributeValues": {":pk": {"S": pk}, ":now": {"N": str(now_epoch)}},
            "ScanIndexForward": False,
        }
        while len(records) < limit:
            response = self._db.query(**kwargs)
            for item in response["Items"]:
                values = from_item(item)
                sealed = bytes(values.pop("pii"))
                records.append(StoredRecord(values.pop("pk"), values.pop("sk"), values, sealed))
            if "LastEvaluatedKey" not in response:
                break
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return records[:limit]
