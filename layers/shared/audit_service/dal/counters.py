"""The counters table: how many log records each listing holds, per day and per minute.

Kept apart from the put-only log (whose table no role may update) and written
only by the stream consumer (services/totals.py). Layout (docs/data-model.md):

- ``pk`` = a scope: ``count#<owner>#<kind>`` (every record of a listing) or
  ``count#<owner>#<kind>#<attribute>=<value>`` (one filter value);
  ``count#user:<id>#activity[...]`` for a user's own actions.
- ``sk`` = ``d#<YYYY-MM-DD>#<expires_at>`` (a UTC day of record times) or
  ``m#<YYYY-MM-DDTHH:MM>#<expires_at>`` (a minute), so the records a bucket
  counts all expire together and a reader drops expired buckets whole.
- ``n`` = the count; ``expires_at`` = the TTL attribute (the records' own);
  ``s#<source partition>`` = the stream sequence number of the last record of
  that log partition counted into this item. Records of one partition reach
  the stream in order, so a redelivered batch adds only what is newer: each
  record is counted exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from audit_service.dal.dynamo import error_code


@dataclass(frozen=True, slots=True)
class Bucket:
    sk: str
    count: int
    expires_at: int

    @property
    def period(self) -> str:
        """``YYYY-MM-DD`` or ``YYYY-MM-DDTHH:MM``."""
        return self.sk.split("#")[1]


class CounterStore:
    def __init__(self, dynamodb: Any, *, table: str) -> None:
        self._db = dynamodb
        self._table = table

    def add(
        self,
        scope: str,
        sk: str,
        *,
        count: int,
        expires_at: int,
        source: str,
        first: str,
        last: str,
        after: str | None = None,
    ) -> bool:
        """Add ``count`` records of ``source`` (sequence numbers ``first``..``last``) and move its mark to
        ``last``: only if the mark is below ``first`` (or absent), or, given ``after``, exactly ``after``.
        False when not: some of these records were counted already (a redelivered batch)."""
        names = {"#n": "n", "#s": f"s#{source}", "#x": "expires_at"}
        values: dict[str, Any] = {
            ":n": {"N": str(count)},
            ":last": {"S": last},
            ":x": {"N": str(expires_at)},
        }
        if after is None:
            condition = "attribute_not_exists(#s) OR #s < :first"
            values[":first"] = {"S": first}
        else:
            condition = "#s = :after"
            values[":after"] = {"S": after}
        try:
            self._db.update_item(
                TableName=self._table,
                Key={"pk": {"S": scope}, "sk": {"S": sk}},
                UpdateExpression="ADD #n :n SET #s = :last, #x = :x",
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except ClientError as error:
            if error_code(error) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def mark(self, scope: str, sk: str, source: str) -> str | None:
        """The sequence number of the last record of ``source`` counted into this item."""
        response = self._db.get_item(
            TableName=self._table,
            Key={"pk": {"S": scope}, "sk": {"S": sk}},
            ConsistentRead=True,
            ProjectionExpression="#s",
            ExpressionAttributeNames={"#s": f"s#{source}"},
        )
        value = response.get("Item", {}).get(f"s#{source}", {}).get("S")
        return str(value) if value is not None else None

    def buckets(self, scope: str, low: str, high: str) -> list[Bucket]:
        """The scope's buckets with ``low <= sk <= high``, read whole (a year of days is one call)."""
        arguments: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :p AND sk BETWEEN :low AND :high",
            "ExpressionAttributeValues": {":p": {"S": scope}, ":low": {"S": low}, ":high": {"S": high}},
            "ProjectionExpression": "sk, n, expires_at",
        }
        found: list[Bucket] = []
        while True:
            response = self._db.query(**arguments)
            found.extend(
                Bucket(item["sk"]["S"], int(item["n"]["N"]), int(item["expires_at"]["N"])) for item in response["Items"]
            )
            if "LastEvaluatedKey" not in response:
                return found
            arguments["ExclusiveStartKey"] = response["LastEvaluatedKey"]
