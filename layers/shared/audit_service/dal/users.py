"""A user's own items: profile changes, settings, identity-provider links and sessions.

All in the user's partition of the users table. Personal values are sealed
for the user (``pii``); identity external ids are also found through a
blind-index lookup item (``pk=identity#<provider>#<hmac>``), which makes a
provider account linkable to one user only. Each change is one transaction
with its audit record, guarded by the changed item's ``version``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from audit_service.dal.dynamo import cancellation_reasons, error_code, from_item, key, member_sk, to_item
from audit_service.domain.errors import Conflict, DomainError

# An account can change only while it exists and no erasure has begun.
ACTIVE_ACCOUNT = "attribute_exists(pk) AND attribute_not_exists(erasing)"


@dataclass(frozen=True)
class UserItem:
    """One item of the user's partition, its personal fields still sealed."""

    user_id: int
    sk: str
    attributes: dict[str, Any]
    sealed: bytes | None
    version: int


def _user_item(values: dict[str, Any]) -> UserItem:
    sealed = values.pop("pii", None)
    return UserItem(
        user_id=int(values.pop("pk")),
        sk=values.pop("sk"),
        attributes=values,
        sealed=bytes(sealed) if sealed is not None else None,
        version=int(values.get("version", 1)),
    )


class UsersRepository:
    def __init__(self, dynamodb: Any, *, users_table: str, tenants_table: str) -> None:
        self._db = dynamodb
        self._users = users_table
        self._tenants = tenants_table

    def get(self, user_id: int, sk: str) -> UserItem | None:
        response = self._db.get_item(TableName=self._users, Key=key(str(user_id), sk), ConsistentRead=True)
        return _user_item(from_item(response["Item"])) if "Item" in response else None

    def items(self, user_id: int, prefix: str) -> list[UserItem]:
        found: list[UserItem] = []
        arguments: dict[str, Any] = {
            "TableName": self._users,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {":pk": {"S": str(user_id)}, ":prefix": {"S": prefix}},
        }
        while True:
            response = self._db.query(**arguments)
            found += [_user_item(from_item(item)) for item in response["Items"]]
            if "LastEvaluatedKey" not in response:
                return found
            arguments["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def delete(self, pk: str, sk: str) -> None:
        """Remove one item; removing what is already gone is fine (erasure steps are re-run)."""
        self._db.delete_item(TableName=self._users, Key=key(pk, sk))

    # ------------------------------------------------------------------ building blocks
    def put_entry(self, user_id: int, sk: str, values: dict[str, Any], *, new: bool) -> dict[str, Any]:
        item = to_item({"pk": str(user_id), "sk": sk, **values})
        entry: dict[str, Any] = {"TableName": self._users, "Item": item}
        if new:
            entry["ConditionExpression"] = "attribute_not_exists(pk)"
        return {"Put": entry}

    def replace_entry(self, current: UserItem, values: dict[str, Any]) -> dict[str, Any]:
        """Overwrite ``current`` with ``values`` if nobody changed it meanwhile (its version)."""
        item = to_item({"pk": str(current.user_id), "sk": current.sk, **values, "version": current.version + 1})
        return {
            "Put": {
                "TableName": self._users,
                "Item": item,
                "ConditionExpression": "attribute_not_exists(version) OR version = :version",
                "ExpressionAttributeValues": {":version": {"N": str(current.version)}},
            }
        }

    def delete_entry(self, user_id: int | str, sk: str, *, version: int | None = None) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "TableName": self._users,
            "Key": key(str(user_id), sk),
            "ConditionExpression": "attribute_exists(pk)",
        }
        if version is not None:
            entry["ConditionExpression"] += " AND (attribute_not_exists(version) OR version = :version)"
            entry["ExpressionAttributeValues"] = {":version": {"N": str(version)}}
        return {"Delete": entry}

    def active_account_check(self, user_id: int) -> dict[str, Any]:
        """Holds a change to an account that exists and is not being erased (erasure blocks it first)."""
        return {
            "ConditionCheck": {
                "TableName": self._users,
                "Key": key(str(user_id), "PROFILE"),
                "ConditionExpression": ACTIVE_ACCOUNT,
            }
        }

    def block(self, user_id: int, *, at: str) -> bool:
        """Mark the account as being erased: no key, identity, session or membership can be added from now on.

        Bumps the profile's version, so a change that read it before fails. False when there is no profile.
        """
        try:
            self._db.update_item(
                TableName=self._users,
                Key=key(str(user_id), "PROFILE"),
                UpdateExpression="SET erasing = if_not_exists(erasing, :at), version = version + :one",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues={":at": {"S": at}, ":one": {"N": "1"}},
            )
        except ClientError as error:
            if error_code(error) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def lookup_entry(self, lookup_pk: str, sk: str, user_id: int) -> dict[str, Any]:
        """A blind-index item that may exist only once (an email, a provider account)."""
        return {
            "Put": {
                "TableName": self._users,
                "Item": to_item({"pk": lookup_pk, "sk": sk, "user_id": str(user_id)}),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }

    def member_copy_entry(self, tenant_id: int, user_id: int, sealed_member: bytes) -> dict[str, Any]:
        """Refresh the member item's sealed name and email in one tenant."""
        return {
            "Update": {
                "TableName": self._tenants,
                "Key": key(str(tenant_id), member_sk(user_id)),
                "UpdateExpression": "SET pii = :pii",
                "ConditionExpression": "attribute_exists(pk)",
                "ExpressionAttributeValues": {":pii": {"B": sealed_member}},
            }
        }

    def transact(self, entries: list[dict[str, Any]], *, on_failure: Mapping[int, DomainError] | None = None) -> None:
        """Run one change. The first entry whose condition failed names the error: ``on_failure[index]``,
        or by default a Conflict (something changed meanwhile)."""
        try:
            self._db.transact_write_items(TransactItems=entries)
        except ClientError as error:
            reasons = cancellation_reasons(error)
            if "ConditionalCheckFailed" not in reasons:
                raise
            index = reasons.index("ConditionalCheckFailed")
            raise (on_failure or {}).get(index, Conflict("it changed meanwhile; read it again")) from error
