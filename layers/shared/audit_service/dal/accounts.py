"""Tenants, users, memberships and API keys.

Key design (docs/data-model.md has the whole picture):

- tenants table, keyed by tenant: ``pk=<tenant_id>``, ``sk=TENANT`` |
  ``MEMBER#<user_id, 12 digits>`` | ``DIVISION#<id>`` | ``ENVIRONMENT#<id>`` | ``DEPLOYMENT#<id>``
- users table, keyed by user: ``pk=<user_id>``, ``sk=PROFILE`` |
  ``MEMBERSHIP#<tenant_id>`` (mirror of the tenant's member item, written in the
  same transaction, so "my tenants" is one query); plus the blind-index item
  ``pk=email#<hmac>``, ``sk=EMAIL`` that makes emails unique and findable
  without decrypting anything.
- API keys table, keyed by the key's SHA-256 (the authorizer's one read), with
  the ``by_user`` index for listing a user's keys.
- Ids are the product page's integers, taken from atomic counters
  (``pk=#counters``) in the table that owns the entity.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from audit_service.dal.dynamo import cancellation_reasons, error_code, from_item, key, prefix_page, to_item
from audit_service.dal.users import ACTIVE_ACCOUNT
from audit_service.domain.errors import Conflict, NotFound
from audit_service.domain.models import (
    ApiKey,
    ApiKeyStatus,
    Plan,
    Tenant,
    TenantResource,
    iso_utc,
)
from audit_service.domain.permissions import Role
from audit_service.domain.shards import ShardLayout

_COUNTERS = "#counters"
_NOT_EXISTS = "attribute_not_exists(pk)"
_EXISTS = "attribute_exists(pk)"
MAX_RESOURCES_PER_KIND = 1000  # divisions, environments or deployments one answer lists


class AccountsRepository:
    def __init__(self, dynamodb: Any, *, tenants_table: str, users_table: str, api_keys_table: str) -> None:
        self._db = dynamodb
        self._tenants = tenants_table
        self._users = users_table
        self._api_keys = api_keys_table

    # ids -----------------------------------------------------------------
    def next_id(self, kind: str) -> int:
        table = self._users if kind == "user" else self._tenants
        response = self._db.update_item(
            TableName=table,
            Key=key(_COUNTERS, kind),
            UpdateExpression="ADD #v :one",
            ExpressionAttributeNames={"#v": "value"},
            ExpressionAttributeValues={":one": {"N": "1"}},
            ReturnValues="UPDATED_NEW",
        )
        return int(response["Attributes"]["value"]["N"])

    # tenants -------------------------------------------------------------
    def create_tenant(self, tenant: Tenant) -> None:
        item = to_item(
            {
                "pk": str(tenant.id),
                "sk": "TENANT",
                "name": tenant.name,
                "plan": tenant.plan.value,
                "created_at": iso_utc(tenant.created_at),
                "log_shards": tenant.layout.as_list(),
                "members": 0,  # dal/tenant_counts.py: the listings' totals
                "invitations": 0,
            }
        )
        self._put_new(self._tenants, item, what=f"tenant {tenant.id}")

    def get_tenant(self, tenant_id: int) -> Tenant | None:
        response = self._db.get_item(TableName=self._tenants, Key=key(str(tenant_id), "TENANT"))
        if "Item" not in response:
            return None
        return _tenant(tenant_id, from_item(response["Item"]))

    def get_tenants(self, tenant_ids: list[int]) -> dict[int, Tenant]:
        """Several tenants at once (BatchGetItem, 100 keys a call); missing ones are left out."""
        found: dict[int, Tenant] = {}
        for start in range(0, len(tenant_ids), 100):
            pending: dict[str, Any] = {
                self._tenants: {"Keys": [key(str(t), "TENANT") for t in tenant_ids[start : start + 100]]}
            }
            while pending:
                response = self._db.batch_get_item(RequestItems=pending)
                for item in response.get("Responses", {}).get(self._tenants, []):
                    values = from_item(item)
                    found[int(values["pk"])] = _tenant(int(values["pk"]), values)
                pending = response.get("UnprocessedKeys") or {}
        return found

    def set_log_shards(self, tenant_id: int, *, old: ShardLayout, new: ShardLayout) -> None:
        """Replace the tenant's shard layout; Conflict if it changed meanwhile."""
        try:
            self._db.update_item(
                TableName=self._tenants,
                Key=key(str(tenant_id), "TENANT"),
                UpdateExpression="SET #shards = :new",
                ConditionExpression="attribute_exists(pk) AND (#shards = :old OR attribute_not_exists(#shards))",
                ExpressionAttributeNames={"#shards": "log_shards"},
                ExpressionAttributeValues={
                    ":new": to_item({"v": new.as_list()})["v"],
                    ":old": to_item({"v": old.as_list()})["v"],
                },
            )
        except ClientError as error:
            if error_code(error) == "ConditionalCheckFailedException":
                raise Conflict(f"the log shards of tenant {tenant_id} changed meanwhile; read them again") from error
            raise

    def change_plan(self, tenant_id: int, *, old: Plan, new: Plan, audit_record: dict[str, Any]) -> None:
        """Switch the plan and append its audit record in one transaction; Conflict if the plan moved meanwhile."""
        try:
            self._db.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self._tenants,
                            "Key": key(str(tenant_id), "TENANT"),
                            "UpdateExpression": "SET #plan = :new",
                            "ConditionExpression": "#plan = :old",
                            "ExpressionAttributeNames": {"#plan": "plan"},
                            "ExpressionAttributeValues": {":new": {"S": new.value}, ":old": {"S": old.value}},
                        }
                    },
                    audit_record,
                ]
            )
        except ClientError as error:
            if "ConditionalCheckFailed" in cancellation_reasons(error):
                raise Conflict(f"the plan of tenant {tenant_id} changed meanwhile; read it again") from error
            raise

    def put_tenant_resource(self, resource: TenantResource) -> None:
        item = to_item(
            {
                "pk": str(resource.tenant_id),
                "sk": f"{resource.kind.upper()}#{resource.id}",
                "kind": resource.kind,
                "id": resource.id,
                "name": resource.name,
                "parent_id": resource.parent_id,
            }
        )
        try:
            self._db.transact_write_items(
                TransactItems=[
                    {
                        "ConditionCheck": {
                            "TableName": self._tenants,
                            "Key": key(str(resource.tenant_id), "TENANT"),
                            "ConditionExpression": _EXISTS,
                        }
                    },
                    {"Put": {"TableName": self._tenants, "Item": item, "ConditionExpression": _NOT_EXISTS}},
                ]
            )
        except ClientError as error:
            reasons = cancellation_reasons(error)
            if reasons[:1] == ["ConditionalCheckFailed"]:
                raise NotFound(f"tenant {resource.tenant_id} does not exist") from error
            if "ConditionalCheckFailed" in reasons:
                raise Conflict(f"{resource.kind} {resource.id} already exists") from error
            raise

    def tenant_resources(
        self, tenant_id: int, kind: str, *, most: int = MAX_RESOURCES_PER_KIND
    ) -> list[TenantResource]:
        """A tenant's divisions, environments or deployments, by id (at most ``most``; keys sort as text)."""
        found, _more = prefix_page(
            self._db, table=self._tenants, pk=str(tenant_id), prefix=f"{kind.upper()}#", limit=most
        )
        return [
            TenantResource(
                kind=kind,
                id=int(values["id"]),
                name=values["name"],
                tenant_id=tenant_id,
                parent_id=int(values["parent_id"]) if values.get("parent_id") is not None else None,
            )
            for values in sorted(found, key=lambda values: int(values["id"]))
        ]

    # users ---------------------------------------------------------------
    def create_user(self, user_id: int, *, email_hash: str, sealed_profile: bytes, created_at: datetime) -> None:
        profile = to_item(
            {
                "pk": str(user_id),
                "sk": "PROFILE",
                "email_hash": email_hash,
                "pii": sealed_profile,
                "version": 1,
                "created_at": iso_utc(created_at),
            }
        )
        lookup = to_item({"pk": f"email#{email_hash}", "sk": "EMAIL", "user_id": str(user_id)})
        try:
            self._db.transact_write_items(
                TransactItems=[
                    {"Put": {"TableName": self._users, "Item": profile, "ConditionExpression": _NOT_EXISTS}},
                    {"Put": {"TableName": self._users, "Item": lookup, "ConditionExpression": _NOT_EXISTS}},
                ]
            )
        except ClientError as error:
            reasons = cancellation_reasons(error)
            if len(reasons) > 1 and reasons[1] == "ConditionalCheckFailed":
                raise Conflict("a user with this email already exists") from error
            if reasons[:1] == ["ConditionalCheckFailed"]:
                raise Conflict(f"user {user_id} already exists") from error
            raise

    def get_user_item(self, user_id: int) -> dict[str, Any] | None:
        response = self._db.get_item(TableName=self._users, Key=key(str(user_id), "PROFILE"))
        return from_item(response["Item"]) if "Item" in response else None

    def find_user_id_by_email_hash(self, email_hash: str) -> int | None:
        response = self._db.get_item(
            TableName=self._users, Key=key(f"email#{email_hash}", "EMAIL"), ConsistentRead=True
        )
        return int(response["Item"]["user_id"]["S"]) if "Item" in response else None

    # memberships ---------------------------------------------------------
    def roles_of(self, user_id: int) -> dict[int, Role]:
        """The user's role in each tenant (one query on the user's partition)."""
        roles: dict[int, Role] = {}
        kwargs: dict[str, Any] = {
            "TableName": self._users,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {":pk": {"S": str(user_id)}, ":prefix": {"S": "MEMBERSHIP#"}},
            "ProjectionExpression": "tenant_id, #r",
            "ExpressionAttributeNames": {"#r": "role"},
        }
        while True:
            response = self._db.query(**kwargs)
            for item in response["Items"]:
                roles[int(item["tenant_id"]["S"])] = Role(item["role"]["S"])
            if "LastEvaluatedKey" not in response:
                return roles
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    # API keys ------------------------------------------------------------
    def put_api_key(self, api_key: ApiKey, *, extra: list[dict[str, Any]] | None = None) -> None:
        """Store a new key (its hash only), with ``extra`` entries (an audit record) in the same transaction.

        A mirror item in the user's partition (``APIKEY#<key id>``) is written with it, so that erasure
        finds every key with a consistent read, and the account must not be being erased.
        """
        item = to_item(
            {
                "pk": api_key.key_hash,
                "key_id": api_key.key_id,
                "user_id": str(api_key.user_id),
                "name": api_key.name,
                "status": api_key.status.value,
                "created_at": iso_utc(api_key.created_at),
            }
        )
        try:
            self._db.transact_write_items(
                TransactItems=[
                    {
                        "ConditionCheck": {
                            "TableName": self._users,
                            "Key": key(str(api_key.user_id), "PROFILE"),
                            "ConditionExpression": ACTIVE_ACCOUNT,
                        }
                    },
                    {"Put": {"TableName": self._api_keys, "Item": item, "ConditionExpression": _NOT_EXISTS}},
                    {
                        "Put": {
                            "TableName": self._users,
                            "Item": to_item(
                                {"pk": str(api_key.user_id), "sk": f"APIKEY#{api_key.key_id}", "key": api_key.key_hash}
                            ),
                        }
                    },
                    *(extra or []),
                ]
            )
        except ClientError as error:
            if cancellation_reasons(error)[:1] == ["ConditionalCheckFailed"]:
                raise NotFound(f"user {api_key.user_id} does not exist or is being erased") from error
            raise

    def get_api_key(self, key_hash: str) -> ApiKey | None:
        response = self._db.get_item(TableName=self._api_keys, Key={"pk": {"S": key_hash}}, ConsistentRead=True)
        if "Item" not in response:
            return None
        return _api_key(from_item(response["Item"]))

    def revoke_api_key(
        self, key_hash: str, *, user_id: int, revoked_at: datetime, extra: list[dict[str, Any]] | None = None
    ) -> None:
        """Revoke an active key of ``user_id``, with ``extra`` entries (an audit record) in the same transaction."""
        update = {
            "TableName": self._api_keys,
            "Key": {"pk": {"S": key_hash}},
            "UpdateExpression": "SET #s = :revoked, revoked_at = :at",
            "ConditionExpression": "attribute_exists(pk) AND user_id = :user AND #s = :active",
            "ExpressionAttributeNames": {"#s": "status"},
            "ExpressionAttributeValues": {
                ":revoked": {"S": ApiKeyStatus.REVOKED.value},
                ":active": {"S": ApiKeyStatus.ACTIVE.value},
                ":at": {"S": iso_utc(revoked_at)},
                ":user": {"S": str(user_id)},
            },
        }
        try:
            self._db.transact_write_items(TransactItems=[{"Update": update}, *(extra or [])])
        except ClientError as error:
            if cancellation_reasons(error)[:1] == ["ConditionalCheckFailed"]:
                raise NotFound("no such active API key") from error
            raise

    def delete_api_key(self, key_hash: str) -> None:
        """Remove a key for good (account erasure); removing a removed key is fine."""
        self._db.delete_item(TableName=self._api_keys, Key={"pk": {"S": key_hash}})

    def owner_count(self, tenant_id: int) -> int:
        response = self._db.get_item(
            TableName=self._tenants,
            Key=key(str(tenant_id), "TENANT"),
            ConsistentRead=True,
            ProjectionExpression="owners",
        )
        return int(response.get("Item", {}).get("owners", {}).get("N", "0"))

    def list_api_keys(self, user_id: int) -> list[ApiKey]:
        """A user's keys through the ``by_user`` index (every page; eventually consistent)."""
        keys: list[ApiKey] = []
        arguments: dict[str, Any] = {
            "TableName": self._api_keys,
            "IndexName": "by_user",
            "KeyConditionExpression": "user_id = :user",
            "ExpressionAttributeValues": {":user": {"S": str(user_id)}},
        }
        while True:
            response = self._db.query(**arguments)
            keys += [_api_key(from_item(item)) for item in response["Items"]]
            if "LastEvaluatedKey" not in response:
                return keys
            arguments["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def api_key_hashes(self, user_id: int) -> set[str]:
        """Every key hash of a user: the mirrors (a consistent read of the user's partition) and the index."""
        hashes = {api_key.key_hash for api_key in self.list_api_keys(user_id)}
        arguments: dict[str, Any] = {
            "TableName": self._users,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {":pk": {"S": str(user_id)}, ":prefix": {"S": "APIKEY#"}},
            "ConsistentRead": True,
        }
        while True:
            response = self._db.query(**arguments)
            hashes |= {item["key"]["S"] for item in response["Items"]}
            if "LastEvaluatedKey" not in response:
                return hashes
            arguments["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    # helpers -------------------------------------------------------------
    def _put_new(self, table: str, item: dict[str, Any], *, what: str) -> None:
        try:
            self._db.put_item(TableName=table, Item=item, ConditionExpression=_NOT_EXISTS)
        except ClientError as error:
            if error_code(error) == "ConditionalCheckFailedException":
                raise Conflict(f"{what} already exists") from error
            raise


def _api_key(values: dict[str, Any]) -> ApiKey:
    revoked_at = values.get("revoked_at")
    return ApiKey(
        key_id=values["key_id"],
        key_hash=values["pk"],
        user_id=int(values["user_id"]),
        name=values["name"],
        status=ApiKeyStatus(values["status"]),
        created_at=datetime.fromisoformat(values["created_at"]),
        revoked_at=datetime.fromisoformat(revoked_at) if revoked_at else None,
    )


def _tenant(tenant_id: int, values: dict[str, Any]) -> Tenant:
    return Tenant(
        id=tenant_id,
        name=values["name"],
        plan=Plan(values["plan"]),
        created_at=datetime.fromisoformat(values["created_at"]),
        log_shards=ShardLayout.from_list(values.get("log_shards")).steps,
    )
