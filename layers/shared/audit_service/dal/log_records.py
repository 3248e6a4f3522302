"""The audit log table: audit records, access-log records and security events.

Put-only. Every record is written with ``attribute_not_exists`` and no role
has UpdateItem, DeleteItem or BatchWriteItem on this table (a test reads the
template to keep it so). Layout (docs/data-model.md):

- ``pk = <tenant_id>#<kind>``, or ``platform#<kind>`` where no tenant is known
  (a failed login), with ``#<n>`` appended for write shard n > 0 (domain/shards.py).
  A tenant's records are only reachable through a key that starts with its id.
- ``sk = <record id>``: for audit records the producer's ``event_id``, so a
  redelivered event meets its own earlier copy in the conditional put.
- ``ts_key = <ISO-8601 time>#<record id>``: the sort key of the ``by_time``
  index (a tenant's records, newest first).
- ``author_key = <user id>[#<n>]``: the partition key of the sparse ``by_author``
  index (a user's own actions across tenants); audit records only; shard n is the record's.
- ``expires_at``: the TTL attribute (epoch seconds, a UTC midnight), from the tenant's plan.
  DynamoDB deletes expired items lazily, so every read filters on it too.
- plain attributes are ids, the type and timestamps; everything else is in
  ``pii``, one encrypted message per record.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import partial
from typing import Any

from botocore.exceptions import ClientError

from audit_service.concurrency import side_by_side
from audit_service.dal.dynamo import error_code, from_item, to_item
from audit_service.domain.errors import Conflict
from audit_service.domain.models import iso_utc
from audit_service.domain.shards import ShardLayout, shard_key, shard_keys, shard_of

PLATFORM = "platform"
KINDS = ("audit", "access", "security")  # every kind of record the table holds
BY_TIME = "by_time"
BY_AUTHOR = "by_author"
_APPEND_ONLY = "attribute_not_exists(pk)"
TIME_KEY_START = "0"  # sorts before every "<ISO time>#<id>" (DynamoDB refuses empty key values)
TIME_KEY_END = "~"  # sorts after every "<ISO time>#<id>" that starts with the same prefix
READ_CALLS_PER_SHARD = 3  # the most a page reads from one shard (filters can leave a page short)


def partition(tenant_id: int | None, kind: str) -> str:
    """The owner's base partition for ``kind`` (shard 0)."""
    return f"{PLATFORM if tenant_id is None else tenant_id}#{kind}"


def partitions(tenant_id: int | None, kind: str, layout: ShardLayout) -> tuple[str, ...]:
    """Every shard of the owner's partition for ``kind``: what a reader queries."""
    return shard_keys(partition(tenant_id, kind), layout.most)


def author_partitions(user_id: int, count: int) -> tuple[str, ...]:
    """Every shard of a user's activity (``by_author``): a record's author key takes the record's shard, so
    ``count`` is the most any owner may have (the deployment's MaxLogShards)."""
    return shard_keys(str(user_id), count)


@dataclass(frozen=True, slots=True)
class RecordKeys:
    """Where a new record goes: its partition, the sort key of both indexes, its author's activity shard."""

    pk: str
    ts_key: str
    shard: int

    @classmethod
    def of(cls, owner: int | None, kind: str, record_id: str, moment: datetime, layout: ShardLayout) -> RecordKeys:
        shard = shard_of(record_id, moment, layout)
        return cls(shard_key(partition(owner, kind), shard), f"{iso_utc(moment)}#{record_id}", shard)

    def author_key(self, user_id: int | str) -> str:
        return shard_key(str(user_id), self.shard)


@dataclass(frozen=True, slots=True)
class StoredRecord:
    pk: str
    sk: str
    ts_key: str
    attributes: dict[str, Any]
    sealed: bytes

    def item(self) -> dict[str, Any]:
        return to_item({"pk": self.pk, "sk": self.sk, "ts_key": self.ts_key, **self.attributes, "pii": self.sealed})

    @property
    def tenant_id(self) -> int | None:
        """The tenant whose record this is, from its key (None: the platform partition)."""
        owner = self.pk.split("#", 1)[0]
        return None if owner == PLATFORM else int(owner)


@dataclass(frozen=True, slots=True)
class RecordQuery:
    """One index range over every shard of a partition, newest first, with equality filters on plain
    attributes."""

    index: str
    partition_name: str
    partition_values: tuple[str, ...]
    time_from: str = TIME_KEY_START
    time_to: str = TIME_KEY_END
    equals: Mapping[str, str | int] = field(default_factory=dict)
    now_epoch: int = 0
    expired_too: bool = False  # verifying reads records as stored, expired or not

    def arguments(self, partition_value: str, *, time_to: str | None = None) -> dict[str, Any]:
        names = {"#p": self.partition_name, "#t": "ts_key"}
        values: dict[str, Any] = {
            ":p": {"S": partition_value},
            ":from": {"S": self.time_from},
            ":to": {"S": time_to or self.time_to},
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

    def narrowed(self, time_from: str, time_to: str) -> RecordQuery:
        return replace(self, time_from=max(time_from, self.time_from), time_to=min(time_to, self.time_to))


@dataclass(frozen=True, slots=True)
class PageSlice:
    """A page's records, and where the next page starts: below ``next_before`` (a ``ts_key``), after
    skipping ``next_skip`` more matches; ``next_before`` None when nothing is left."""

    records: list[StoredRecord]
    next_before: str | None
    next_skip: int = 0


@dataclass(slots=True)
class _ShardRead:
    matches: list[StoredRecord]
    exhausted: bool
    last_examined: str | None  # the lowest ts_key read (matched or not) when not exhausted


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

    def stored_items(self, pks: Iterable[str], *, time_from: str, time_to: str) -> Iterator[dict[str, Any]]:
        """Every item of partitions ``pks`` in a ``ts_key`` range, as stored (expired ones too): for verifying."""
        for pk in pks:
            query = RecordQuery(BY_TIME, "pk", (pk,), time_from, time_to, expired_too=True)
            yield from self._items(query, pk, before=None, chunk=1000)

    def stored_item(self, pk: str, sk: str) -> dict[str, Any] | None:
        response = self._db.get_item(TableName=self._table, Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True)
        item: dict[str, Any] | None = response.get("Item")
        return item

    def keys_in_period(
        self, pk: str, *, time_from: str, time_to: str, after: dict[str, Any] | None, limit: int
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        """One page of a partition's records in a ``ts_key`` range, oldest first, keys and filter attributes
        only (a replay's reading); and where the next page starts (None: the last)."""
        arguments: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": BY_TIME,
            "KeyConditionExpression": "pk = :pk AND ts_key BETWEEN :from AND :to",
            "ExpressionAttributeValues": {":pk": {"S": pk}, ":from": {"S": time_from}, ":to": {"S": time_to}},
            "ProjectionExpression": "pk, sk, #type, ts_key, expires_at",
            "ExpressionAttributeNames": {"#type": "type"},
            "ScanIndexForward": True,
            "Limit": limit,
        }
        if after:
            arguments["ExclusiveStartKey"] = after
        response = self._db.query(**arguments)
        return [from_item(item) for item in response.get("Items", [])], response.get("LastEvaluatedKey")

    def records_by_key(self, keys: list[tuple[str, str]]) -> list[StoredRecord]:
        """The records at these keys that exist (BatchGetItem, 100 keys a call), in no particular order."""
        return [_record(item) for item in self.stored_items_by_key(keys)]

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
        self,
        query: RecordQuery,
        *,
        limit: int,
        skip: int = 0,
        before: str | None = None,
        calls_per_shard: int = READ_CALLS_PER_SHARD,
    ) -> PageSlice:
        """Up to ``limit`` matching records after ``skip`` matches, below ``before`` (a ``ts_key``), newest
        first across the query's shards.

        Each shard is read asking for one record more than needed, so a plain page is one call per shard.
        Filters are applied by DynamoDB after reading, so a rare value could make a page read the whole
        partition: each shard is read in at most ``calls_per_shard`` calls, and when that runs out before
        the page is full the page holds the matches found so far (perhaps none) and ``next`` continues
        from where the reading stopped (docs/api.md, "Pages").
        """
        wanted = skip + limit + 1
        reads = self._each_shard(query, lambda pk: self._read_shard(query, pk, before, wanted, calls_per_shard))
        open_ends = [read.last_examined for read in reads if not read.exhausted and read.last_examined]
        frontier = max(open_ends) if open_ends else None
        # Below the highest point where some shard stopped, another shard may still hold unread matches.
        found = sorted(
            (record for read in reads for record in read.matches if frontier is None or record.ts_key >= frontier),
            key=lambda record: record.ts_key,
            reverse=True,
        )
        page = found[skip : skip + limit]
        if len(found) >= wanted:
            return PageSlice(page, page[-1].ts_key)
        if frontier is None:
            return PageSlice(page, None)
        return PageSlice(page, frontier, max(skip - len(found), 0))

    def records(self, query: RecordQuery) -> Iterator[StoredRecord]:
        """Every record ``query`` matches, newest first across its shards, read a page (1 MB) at a time."""
        streams = [
            (_record(item) for item in self._items(query, pk, before=None, chunk=1000)) for pk in query.partition_values
        ]
        if len(streams) == 1:
            yield from streams[0]
        else:
            yield from heapq.merge(*streams, key=lambda record: record.ts_key, reverse=True)

    def count(self, query: RecordQuery) -> int:
        """How many records ``query`` matches, counted by DynamoDB (every matching item is read): only for
        the short ranges the counters cannot answer (services/totals.py)."""

        def shard(pk: str) -> int:
            total = 0
            arguments = {"TableName": self._table, **query.arguments(pk), "Select": "COUNT"}
            while True:
                response = self._db.query(**arguments)
                total += int(response["Count"])
                if "LastEvaluatedKey" not in response:
                    return total
                arguments["ExclusiveStartKey"] = response["LastEvaluatedKey"]

        if query.time_from > query.time_to:
            return 0
        return sum(self._each_shard(query, shard))

    def _each_shard[T](self, query: RecordQuery, read: Callable[[str], T]) -> list[T]:
        """``read`` for every shard of the query, side by side when there are several."""
        return side_by_side([partial(read, pk) for pk in query.partition_values])

    def _read_shard(self, query: RecordQuery, pk: str, before: str | None, wanted: int, calls: int) -> _ShardRead:
        matches: list[StoredRecord] = []
        if before is not None and before <= query.time_from:
            return _ShardRead(matches, True, None)
        arguments = {
            "TableName": self._table,
            **query.arguments(pk, time_to=min(before, query.time_to) if before else None),
            "Limit": wanted + (1 if before else 0),
        }
        last: str | None = None
        for _call in range(calls):
            response = self._db.query(**arguments)
            for item in response["Items"]:
                record = _record(item)
                if record.ts_key != before:
                    matches.append(record)
            if "LastEvaluatedKey" not in response:
                return _ShardRead(matches, True, None)
            last = str(response["LastEvaluatedKey"]["ts_key"]["S"])
            if len(matches) >= wanted:
                break
            arguments["ExclusiveStartKey"] = response["LastEvaluatedKey"]
            arguments["Limit"] = 1000
        return _ShardRead(matches, False, last)

    def _items(self, query: RecordQuery, pk: str, *, before: str | None, chunk: int) -> Iterator[dict[str, Any]]:
        if query.time_from > query.time_to:
            return
        arguments = {"TableName": self._table, **query.arguments(pk, time_to=before), "Limit": max(chunk, 1)}
        while True:
            response = self._db.query(**arguments)
            yield from response["Items"]
            if "LastEvaluatedKey" not in response:
                return
            arguments["ExclusiveStartKey"] = response["LastEvaluatedKey"]
            arguments["Limit"] = max(chunk, 100)
