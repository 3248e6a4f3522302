"""The log streams table: a tenant's streams and their delivery health.

``pk = <tenant_id>``, ``sk = STREAM#<stream id>``. The destination (URL and signing secret) is one
Encryption SDK message in ``destination`` (sealed for the tenant, bound to the item's key); everything
else is configuration and counters. A stream's creation and deletion are each one transaction with
their audit record; the delivery counters are updated in place (``ADD``), and only while the stream
exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from audit_service.dal.dynamo import cancellation_reasons, error_code, from_item, key, to_item
from audit_service.domain.errors import Conflict, NotFound
from audit_service.domain.models import iso_utc

STREAM_PREFIX = "STREAM#"
# The tenant's number of streams (``n``), moved by every create and delete in the same transaction: a create
# takes a slot only under the limit, so two creates racing past the service's check cannot both succeed.
# A tenant whose streams predate it gets ``n`` on its first create or delete: if_not_exists(n, <streams read>).
SLOTS_SK = "SLOTS"
_EXISTS = "attribute_exists(pk)"


def stream_sk(stream_id: str) -> str:
    return f"{STREAM_PREFIX}{stream_id}"


@dataclass(frozen=True)
class StreamItem:
    tenant_id: int
    stream_id: str
    name: str
    destination_type: str
    kinds: frozenset[str]
    types: frozenset[str]
    format: str
    created_at: datetime
    created_by: int
    version: int
    sealed_destination: bytes
    delivered: int = 0
    failed: int = 0
    failed_attempts: int = 0
    consecutive_failures: int = 0
    last_delivered_at: datetime | None = None
    last_record_at: datetime | None = None
    last_error: dict[str, Any] | None = None
    state: str = "active"  # or "paused"
    paused_at: datetime | None = None
    # The earliest record time of a chunk that arrived while paused (resume replays from here, or paused_at).
    resume_from: str | None = None
    paused_by: str | None = None  # "owner" (POST .../pause) or "service" (deliveries kept failing)


def _time(value: Any) -> datetime | None:
    return datetime.fromisoformat(str(value)) if value else None


def _stream(values: dict[str, Any]) -> StreamItem:
    error = values.get("last_error")
    return StreamItem(
        tenant_id=int(values["pk"]),
        stream_id=str(values["sk"]).removeprefix(STREAM_PREFIX),
        name=str(values["name"]),
        destination_type=str(values["destination_type"]),
        kinds=frozenset(values.get("kinds") or ()),
        types=frozenset(values.get("types") or ()),
        format=str(values["format"]),
        created_at=datetime.fromisoformat(values["created_at"]),
        created_by=int(values["created_by"]),
        version=int(values["version"]),
        sealed_destination=bytes(values["destination"]),
        delivered=int(values.get("delivered", 0)),
        failed=int(values.get("failed", 0)),
        failed_attempts=int(values.get("failed_attempts", 0)),
        consecutive_failures=int(values.get("consecutive_failures", 0)),
        last_delivered_at=_time(values.get("last_delivered_at")),
        last_record_at=_time(values.get("last_record_at")),
        last_error={**error, "status": int(error["status"])} if error and error.get("status") is not None else error,
        state=str(values.get("state", "active")),
        paused_at=_time(values.get("paused_at")),
        resume_from=values.get("resume_from"),
        paused_by=values.get("paused_by"),
    )


class StreamsRepository:
    def __init__(self, dynamodb: Any, *, table: str) -> None:
        self._db = dynamodb
        self._table = table

    def of_tenant(self, tenant_id: int) -> list[StreamItem]:
        """Every stream of the tenant (a handful: MAX_STREAMS_PER_TENANT), in id (creation) order."""
        found: list[StreamItem] = []
        arguments: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {":pk": {"S": str(tenant_id)}, ":prefix": {"S": STREAM_PREFIX}},
            "ConsistentRead": True,
        }
        while True:
            response = self._db.query(**arguments)
            found.extend(_stream(from_item(item)) for item in response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return found
            arguments["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def get(self, tenant_id: int, stream_id: str) -> StreamItem | None:
        response = self._db.get_item(
            TableName=self._table, Key=key(str(tenant_id), stream_sk(stream_id)), ConsistentRead=True
        )
        return _stream(from_item(response["Item"])) if "Item" in response else None

    def create(self, stream: StreamItem, *, audit_record: dict[str, Any], streams_before: int, limit: int) -> None:
        """Store a new stream with its audit record, taking one of the tenant's ``limit`` slots; Conflict when
        the slots are all taken (a create that raced this one took the last)."""
        item = to_item(
            {
                "pk": str(stream.tenant_id),
                "sk": stream_sk(stream.stream_id),
                "name": stream.name,
                "destination_type": stream.destination_type,
                "kinds": sorted(stream.kinds),
                "types": sorted(stream.types),
                "format": stream.format,
                "created_at": iso_utc(stream.created_at),
                "created_by": stream.created_by,
                "version": stream.version,
                "destination": stream.sealed_destination,
            }
        )
        put = {"Put": {"TableName": self._table, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}}
        try:
            self._db.transact_write_items(
                TransactItems=[put, self._slots(stream.tenant_id, streams_before, +1, limit=limit), audit_record]
            )
        except ClientError as error:
            reasons = cancellation_reasons(error)
            if len(reasons) > 1 and reasons[1] == "ConditionalCheckFailed":
                raise Conflict(f"a tenant has at most {limit} streams; delete one first") from error
            if "ConditionalCheckFailed" not in reasons:
                raise
            raise Conflict("the stream changed meanwhile; read it again") from error

    def _slots(self, tenant_id: int, streams_before: int, delta: int, *, limit: int | None = None) -> dict[str, Any]:
        update: dict[str, Any] = {
            "TableName": self._table,
            "Key": key(str(tenant_id), SLOTS_SK),
            "UpdateExpression": "SET #n = if_not_exists(#n, :before) + :delta",
            "ExpressionAttributeNames": {"#n": "n"},
            "ExpressionAttributeValues": {":before": {"N": str(streams_before)}, ":delta": {"N": str(delta)}},
        }
        if limit is not None:
            update["ConditionExpression"] = "attribute_not_exists(#n) OR #n < :limit"
            update["ExpressionAttributeValues"][":limit"] = {"N": str(limit)}
        return {"Update": update}

    def delete(self, stream: StreamItem, *, audit_record: dict[str, Any], streams_before: int) -> None:
        self._transact(
            [
                {
                    "Delete": {
                        "TableName": self._table,
                        "Key": key(str(stream.tenant_id), stream_sk(stream.stream_id)),
                        "ConditionExpression": "version = :version",
                        "ExpressionAttributeValues": {":version": {"N": str(stream.version)}},
                    }
                },
                self._slots(stream.tenant_id, streams_before, -1),
                audit_record,
            ]
        )

    def set_state(self, stream: StreamItem, state: str, *, now: datetime, audit_record: dict[str, Any]) -> None:
        """Pause (``paused``, from ``now``) or resume (``active``), guarded by the version read, with the audit
        record; resuming forgets the pause."""
        paused = state == "paused"
        values = {
            ":state": state,
            ":version": stream.version,
            ":one": 1,
            **({":now": iso_utc(now), ":by": "owner"} if paused else {}),
        }
        self._transact(
            [
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": key(str(stream.tenant_id), stream_sk(stream.stream_id)),
                        "UpdateExpression": "SET #state = :state, version = version + :one"
                        + (
                            ", paused_at = :now, paused_by = :by"
                            if paused
                            else " REMOVE paused_at, resume_from, paused_by"
                        ),
                        "ConditionExpression": "version = :version",
                        "ExpressionAttributeNames": {"#state": "state"},
                        "ExpressionAttributeValues": to_item(values),
                    }
                },
                audit_record,
            ]
        )

    def auto_pause(self, tenant_id: int, stream_id: str, *, earliest: str, now: datetime) -> bool:
        """Pause a stream whose deliveries kept failing, from ``earliest`` (the given-up chunk's first record,
        so that the resume sends it again). False if it was paused already (or is gone)."""
        try:
            self._db.update_item(
                TableName=self._table,
                Key=key(str(tenant_id), stream_sk(stream_id)),
                UpdateExpression="SET #state = :paused, paused_at = :now, paused_by = :service, resume_from = :ts, "
                "version = version + :one",
                ConditionExpression=f"{_EXISTS} AND (attribute_not_exists(#state) OR #state <> :paused)",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues=to_item(
                    {":paused": "paused", ":now": iso_utc(now), ":service": "service", ":ts": earliest, ":one": 1}
                ),
            )
            return True
        except ClientError as error:
            if error_code(error) != "ConditionalCheckFailedException":
                raise
            return False

    def hold(self, tenant_id: int, stream_id: str, *, earliest: str) -> bool:
        """A chunk arrived while the stream is paused: remember its earliest record time for the resume.
        False when the stream is not paused (any more): deliver the chunk instead."""
        try:
            self._db.update_item(
                TableName=self._table,
                Key=key(str(tenant_id), stream_sk(stream_id)),
                UpdateExpression="SET resume_from = :ts",
                ConditionExpression="#state = :paused AND (attribute_not_exists(resume_from) OR resume_from > :ts)",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={":ts": {"S": earliest}, ":paused": {"S": "paused"}},
            )
            return True
        except ClientError as error:
            if error_code(error) != "ConditionalCheckFailedException":
                raise
        stream = self.get(tenant_id, stream_id)  # held already from an earlier time, or no longer paused
        return stream is not None and stream.state == "paused"

    def record_unchanged(self, stream: StreamItem, *, audit_record: dict[str, Any]) -> None:
        """The audit record of an action on the stream as read (a replay asked for): written only if the
        stream is still there and unchanged."""
        self._transact(
            [
                {
                    "ConditionCheck": {
                        "TableName": self._table,
                        "Key": key(str(stream.tenant_id), stream_sk(stream.stream_id)),
                        "ConditionExpression": "version = :version",
                        "ExpressionAttributeValues": {":version": {"N": str(stream.version)}},
                    }
                },
                audit_record,
            ]
        )

    def _transact(self, items: list[dict[str, Any]]) -> None:
        try:
            self._db.transact_write_items(TransactItems=items)
        except ClientError as error:
            if "ConditionalCheckFailed" not in cancellation_reasons(error):
                raise
            raise Conflict("the stream changed meanwhile; read it again") from error

    # ------------------------------------------------------------------ delivery health
    def delivered(self, tenant_id: int, stream_id: str, *, count: int, last_record_at: str, now: datetime) -> None:
        self._update(
            tenant_id,
            stream_id,
            "ADD delivered :n SET last_delivered_at = :now, consecutive_failures = :zero, "
            "last_record_at = if_not_exists(last_record_at, :record)",
            {":n": count, ":now": iso_utc(now), ":zero": 0, ":record": last_record_at},
        )
        # Deliveries are not ordered across messages: keep the newest record time delivered so far.
        self._update(
            tenant_id,
            stream_id,
            "SET last_record_at = :record",
            {":record": last_record_at},
            condition="last_record_at < :record",
        )

    def failed_attempt(self, tenant_id: int, stream_id: str, *, error: dict[str, Any], now: datetime) -> None:
        self._update(
            tenant_id,
            stream_id,
            "ADD failed_attempts :one, consecutive_failures :one SET last_error = :error",
            {":one": 1, ":error": {**error, "at": iso_utc(now)}},
        )

    def kept(self, tenant_id: int, stream_id: str, *, count: int) -> None:
        """Records given up on after the retry window: counted, and kept in the dead-letter queue."""
        self._update(tenant_id, stream_id, "ADD failed :n", {":n": count})

    def _update(
        self,
        tenant_id: int,
        stream_id: str,
        expression: str,
        values: dict[str, Any],
        *,
        condition: str = _EXISTS,
    ) -> None:
        try:
            self._db.update_item(
                TableName=self._table,
                Key=key(str(tenant_id), stream_sk(stream_id)),
                UpdateExpression=expression,
                ConditionExpression=f"{_EXISTS} AND {condition}" if condition != _EXISTS else _EXISTS,
                ExpressionAttributeValues=to_item(values),
            )
        except ClientError as error:
            if error_code(error) != "ConditionalCheckFailedException":
                raise
            # The stream was deleted meanwhile, or (last_record_at) a newer record was already delivered.


def no_such_stream(tenant_id: int, stream_id: str) -> NotFound:
    return NotFound(f"tenant {tenant_id} has no stream {stream_id}")
