"""The audit log table: audit records, access-log records and security events.

Put-only. Every record is written with ``attribute_not_exists`` and no role
has UpdateItem, DeleteItem or BatchWriteItem on this table (a test reads the
template to keep it so). Layout (docs/data-model.md):

- ``pk = <tenant_id>#<kind>``, or ``platform#<kind>`` where no tenant is known
  (a failed login). A tenant's records are only reachable through a key that
  starts with its id.
- ``sk = <record id>``: for audit records the producer's ``event_id``, so a
  redelivered event meets its own earlier copy in the conditional put.
- ``ts_key = <ISO-8601 time>#<record id>``: the sort key of the ``by_time``
  index (a tenant's records, newest first).
- ``author_key = <user id>``: the partition key of the sparse ``by_author``
  index (a user's own actions across tenants); audit records only.
- ``expires_at``: the TTL attribute (epoch seconds), from the tenant's plan.
  DynamoDB deletes expired items lazily, so every read filters on it too.
- plain attributes are ids, the type and timestamps; everything else is in
  ``pii``, one encrypted message per record.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from audit_service.dal.dynamo import error_code, from_item, to_item
from audit_service.domain.errors import Conflict

PLATFORM = "platform"
KINDS = ("audit", "access", "security")  # every kind of record the table holds
BY_TIME = "by_time"
BY_AUTHOR = "by_author"
_APPEND_ONLY = "attribute_not_exists(pk)"
TIME_KEY_START = "0"  # sorts before every "<ISO time>#<id>" (DynamoDB refuses empty key values)
TIME_KEY_END = "~"  # sorts after every "<ISO time>#<id>" that starts with the same prefix


def partition(tenant_id: int | None, kind: str) -> str:
    return f"{PLATFORM if tenant_id is None else tenant_id}#{kind}"


@dataclass(frozen=True, slots=True)
class StoredRecord:
    pk: str
    sk: str
    ts_key: str
    attributes: dict[str, Any]
    sealed: bytes

    def item(self) -> dict[str, Any]:
        return to_item({"pk": self.pk, "sk": self.sk, "ts_key": self.ts_key, **self.attributes, "pii": self.sealed})


@dataclass(frozen=True, slots=True)
class RecordQuery:
    """One index range, newest first, with equality filters on plain attributes."""

    index: str
    partition_name: str
    partition_value: str
    time_from: str = TIME_KEY_START
    time_to: str = TIME_KEY_END
    equals: Mapping[str, str | int] = field(default_factory=dict)
    now_epoch: int = 0
    expired_too: bool = False  # verifying reads records as stored, expired or not

    def arguments(self) -> dict[str, Any]:
        names = {"#p": self.partition_name, "#t": "ts_key"}
        values: dict[str, Any] = {
            ":p": {"S": self.partition_value},
            ":from": {"S": self.time_from},
            ":to": {"S": self.time_to},
        }
        filters = []
        if not self.expired_too:
            names["#x"] = "expires_at"
            values[":now"] = {"N": str(self.now_epoch)}
            filters.append("#x > :now")
        for position, (name, value) in enumerate(sorted(self.equals.items())):
            names[f"#f{position}"] = name
            values[f":f{position}"] = {"N": str(value)} if isinstance(value, int) else {"S": value}
            filters.append(f"#f{position} = :f{position}")
        arguments = {
            "IndexName": self.index,
            "KeyConditionExpression": "#p = :p AND #t BETWEEN :from AND :to",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
            "ScanIndexForward": False,
        }
        if filters:
            arguments["FilterExpression"] = " AND ".join(filters)
        return arguments


def _record(item: Mapping[str, Any]) -> StoredRecord:
    values = from_item(item)
    sealed = bytes(values.pop("pii"))
    return StoredRecord(values.pop("pk"), values.pop("sk"), values.pop("ts_key"), values, sealed)


class LogRecordStore:
    def __init__(self, dynamodb: Any, *, table: str) -> None:
        self._db = dynamodb
        self._table = table

    def put_request(self, record: StoredRecord) -> dict[str, Any]:
        """The conditional put of ``record`` as a TransactWriteItems entry (a change and its audit record)."""
        return {"Put": {"TableName": self._table, "Item": record.item(), "ConditionExpression": _APPEND_ONLY}}

    def put(self, record: StoredRecord) -> None:
        """Append ``record``; Conflict if a record with its key already exists."""
        try:
            self._db.put_item(TableName=self._table, Item=record.item(), ConditionExpression=_APPEND_ONLY)
        except ClientError as error:
            if error_code(error) == "ConditionalCheckFailedException":
                raise Conflict(f"record {record.pk}/{record.sk} already exists") from error
            raise

    def get(self, pk: str, sk: str) -> StoredRecord | None:
        item = self.stored_item(pk, sk)
        return _record(item) if item is not None else None

    def stored_items(self, pk: str, *, time_from: str, time_to: str) -> Iterator[dict[str, Any]]:
        """Every item of partition ``pk`` in a ``ts_key`` range, as stored (expired ones too): for verifying."""
        yield from self._items(
            RecordQuery(BY_TIME, "pk", pk, time_from, time_to, expired_too=True), after=None, chunk=1000
        )

    def stored_item(self, pk: str, sk: str) -> dict[str, Any] | None:
        response = self._db.get_item(TableName=self._table, Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True)
        item: dict[str, Any] | None = response.get("Item")
        return item

    def stored_items_by_key(self, keys: list[tuple[str, str]]) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for start in range(0, len(keys), 100):
            request: dict[str, Any] = {
                self._table: {
                    "Keys": [{"pk": {"S": pk}, "sk": {"S": sk}} for pk, sk in keys[start : start + 100]],
                    "ConsistentRead": True,
                }
            }
            while request:
                response = self._db.batch_get_item(RequestItems=request)
                found.extend(response["Responses"].get(self._table, []))
                request = response.get("UnprocessedKeys") or {}
        return found

    def page(
        self, query: RecordQuery, *, limit: int, skip: int = 0, after: dict[str, Any] | None = None
    ) -> tuple[list[StoredRecord], bool]:
        """Up to ``limit`` matching records after ``skip`` matches (or after key ``after``).

        Returns the records and whether more match after them. Reads ask for one
        record more than needed, so a plain page is usually a single call.
        """
        wanted = skip + limit + 1
        found: list[StoredRecord] = []
        for item in self._items(query, after=after, chunk=wanted):
            found.append(_record(item))
            if len(found) >= wanted:
                break
        return found[skip : skip + limit], len(found) > skip + limit

    def records(self, query: RecordQuery) -> Iterator[StoredRecord]:
        """Every record ``query`` matches, read a page (1 MB) at a time."""
        for item in self._items(query, after=None, chunk=1000):
            yield _record(item)

    def count(self, query: RecordQuery) -> int:
        total = 0
        arguments = {"TableName": self._table, **query.arguments(), "Select": "COUNT"}
        while True:
            response = self._db.query(**arguments)
            total += int(response["Count"])
            if "LastEvaluatedKey" not in response:
                return total
            arguments["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def _items(self, query: RecordQuery, *, after: dict[str, Any] | None, chunk: int) -> Iterator[dict[str, Any]]:
        arguments = {"TableName": self._table, **query.arguments(), "Limit": max(chunk, 1)}
        if after:
            arguments["ExclusiveStartKey"] = to_item(after)
        while True:
            response = self._db.query(**arguments)
            yield from response["Items"]
            if "LastEvaluatedKey" not in response:
                return
            arguments["ExclusiveStartKey"] = response["LastEvaluatedKey"]
            arguments["Limit"] = max(chunk, 100)
