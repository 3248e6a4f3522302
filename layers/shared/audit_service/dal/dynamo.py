"""Small helpers over the low-level DynamoDB client shared by the repositories."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def to_item(values: Mapping[str, Any]) -> dict[str, Any]:
    return {name: _serializer.serialize(value) for name, value in values.items() if value is not None}


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    return {name: _deserializer.deserialize(value) for name, value in item.items()}


def key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def member_sk(user_id: int | str) -> str:
    """A member item's sort key; zero-padded, so a tenant's members are in user-id order."""
    return f"MEMBER#{int(user_id):012d}"


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def cancellation_reasons(error: ClientError) -> list[str]:
    """Codes of a cancelled transaction, one per item ('None' where it passed)."""
    return [str(reason.get("Code", "None")) for reason in error.response.get("CancellationReasons", [])]


def prefix_page(
    dynamodb: Any,
    *,
    table: str,
    pk: str,
    prefix: str,
    limit: int,
    skip: int = 0,
    after: Mapping[str, str] | None = None,
    newest_first: bool = False,
) -> tuple[list[dict[str, Any]], dict[str, str] | None]:
    """One page of the items of partition ``pk`` whose ``sk`` starts with ``prefix``, in key order.

    Returns the items (plain values) and the key of the last one when more follow (the next page's start).
    Reads ``skip`` items more than the page and one to know whether more follow.
    """
    arguments: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
        "ExpressionAttributeValues": {":pk": {"S": pk}, ":prefix": {"S": prefix}},
        "ScanIndexForward": not newest_first,
        "ConsistentRead": True,
        "Limit": skip + limit + 1,
    }
    if after:
        arguments["ExclusiveStartKey"] = key(after["pk"], after["sk"])
    found: list[dict[str, Any]] = []
    while len(found) < skip + limit + 1:
        response = dynamodb.query(**arguments)
        found += [from_item(item) for item in response["Items"]]
        if "LastEvaluatedKey" not in response:
            break
        arguments["ExclusiveStartKey"] = response["LastEvaluatedKey"]
    page = found[skip : skip + limit]
    more = len(found) > skip + limit
    return page, ({"pk": page[-1]["pk"], "sk": page[-1]["sk"]} if more and page else None)


def prefix_count(dynamodb: Any, *, table: str, pk: str, prefix: str) -> int:
    """How many items of partition ``pk`` have an ``sk`` starting with ``prefix`` (Select=COUNT, every page)."""
    arguments: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
        "ExpressionAttributeValues": {":pk": {"S": pk}, ":prefix": {"S": prefix}},
        "Select": "COUNT",
    }
    total = 0
    while True:
        response = dynamodb.query(**arguments)
        total += int(response["Count"])
        if "LastEvaluatedKey" not in response:
            return total
        arguments["ExclusiveStartKey"] = response["LastEvaluatedKey"]
