"""A tenant's members: listing, role changes and removals, each written with its audit record.

Member items live in the tenant's partition (``sk=MEMBER#<user_id, 12 digits>``) with the
member's name and email sealed for the tenant, so a listing is one query and
one data key. Each change is one transaction: the member item (guarded by its
``version``), the user's mirror item, the tenant's owner count when an owner is
involved (guarded by ``owners > 1``, so the last owner can never be removed or
demoted, even by two concurrent requests), its member count when one joins or
leaves (dal/tenant_counts.py: the listing's total), and the audit record.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from audit_service.dal.dynamo import cancellation_reasons, from_item, key, member_sk, prefix_page, to_item
from audit_service.dal.tenant_counts import MEMBERS, TenantCounts, tenant_update
from audit_service.dal.users import ACTIVE_ACCOUNT
from audit_service.domain.errors import Conflict, NotFound
from audit_service.domain.models import Membership, iso_utc
from audit_service.domain.permissions import Role

_EXISTS = "attribute_exists(pk)"
_NOT_EXISTS = "attribute_not_exists(pk)"


class LastOwner(Conflict):
    code = "last_owner"


@dataclass(frozen=True)
class MemberItem:
    tenant_id: int
    user_id: int
    role: Role
    created_at: datetime
    version: int
    sealed: bytes


def _member(values: dict[str, Any]) -> MemberItem:
    return MemberItem(
        tenant_id=int(values["pk"]),
        user_id=int(values["user_id"]),
        role=Role(values["role"]),
        created_at=datetime.fromisoformat(values["created_at"]),
        version=int(values["version"]),
        sealed=bytes(values["pii"]),
    )


class MembersRepository:
    def __init__(self, dynamodb: Any, *, tenants_table: str, users_table: str) -> None:
        self._db = dynamodb
        self._tenants = tenants_table
        self._users = users_table
        self._counts = TenantCounts(dynamodb, tenants_table=tenants_table)

    def page(
        self, tenant_id: int, *, limit: int, skip: int = 0, after: dict[str, str] | None = None
    ) -> tuple[list[MemberItem], dict[str, str] | None]:
        """One page of the tenant's members in user-id order, and the next page's start key (None: the last)."""
        items, next_key = prefix_page(
            self._db, table=self._tenants, pk=str(tenant_id), prefix="MEMBER#", limit=limit, skip=skip, after=after
        )
        return [_member(item) for item in items], next_key

    def count(self, tenant_id: int) -> int:
        return self._counts.total(tenant_id, MEMBERS)

    def add(self, membership: Membership, *, sealed_member: bytes, extra: list[dict[str, Any]] | None = None) -> None:
        """The member item (with the member's name and email sealed for the tenant) and its mirror, together.

        Adding an owner also counts it on the tenant item, which is what keeps a
        tenant from losing its last owner (see MembersRepository).
        """
        tenant, user = str(membership.tenant_id), str(membership.user_id)
        created = iso_utc(membership.created_at)
        member = to_item(
            {
                "pk": tenant,
                "sk": member_sk(user),
                "user_id": user,
                "role": membership.role.value,
                "created_at": created,
                "version": 1,
                "pii": sealed_member,
            }
        )
        mirror = to_item(
            {
                "pk": user,
                "sk": f"MEMBERSHIP#{tenant}",
                "tenant_id": tenant,
                "role": membership.role.value,
                "created_at": created,
            }
        )
        # Adding an owner also counts it: what keeps a tenant from losing its last owner.
        owner = {"add": ["owners :one"], "values": {":one": {"N": "1"}}} if membership.role is Role.OWNER else {}
        tenant_entry = tenant_update(
            self._tenants, tenant, self._counts.change(membership.tenant_id, MEMBERS, +1), **owner
        )
        try:
            self._db.transact_write_items(
                TransactItems=[
                    tenant_entry,
                    {
                        "ConditionCheck": {
                            "TableName": self._users,
                            "Key": key(user, "PROFILE"),
                            "ConditionExpression": ACTIVE_ACCOUNT,
                        }
                    },
                    {"Put": {"TableName": self._tenants, "Item": member, "ConditionExpression": _NOT_EXISTS}},
                    {"Put": {"TableName": self._users, "Item": mirror}},
                    *(extra or []),
                ]
            )
        except ClientError as error:
            reasons = cancellation_reasons(error)
            if reasons[:1] == ["ConditionalCheckFailed"]:
                raise NotFound(f"tenant {tenant} does not exist") from error
            if reasons[1:2] == ["ConditionalCheckFailed"]:
                raise NotFound(f"user {user} does not exist or is being erased") from error
            if reasons[2:3] == ["ConditionalCheckFailed"]:
                raise Conflict(f"user {user} is already a member of tenant {tenant}") from error
            if "ConditionalCheckFailed" in reasons[4:]:
                raise Conflict("the change this membership belongs to is no longer possible") from error
            raise

    def get_many(self, tenant_id: int, user_ids: set[int]) -> dict[int, MemberItem]:
        """The given users' member items in one BatchGetItem (absent users are left out)."""
        keys = [key(str(tenant_id), member_sk(user_id)) for user_id in sorted(user_ids)]
        found: dict[int, MemberItem] = {}
        request: dict[str, Any] = {self._tenants: {"Keys": keys, "ConsistentRead": True}}
        while request:
            response = self._db.batch_get_item(RequestItems=request)
            for item in response["Responses"].get(self._tenants, []):
                member = _member(from_item(item))
                found[member.user_id] = member
            request = response.get("UnprocessedKeys") or {}
        return found

    def change_role(self, member: MemberItem, new_role: Role, *, audit_record: dict[str, Any]) -> None:
        tenant, user = str(member.tenant_id), str(member.user_id)
        items: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": self._tenants,
                    "Key": key(tenant, member_sk(user)),
                    "UpdateExpression": "SET #role = :new, version = version + :one",
                    "ConditionExpression": "version = :version",
                    "ExpressionAttributeNames": {"#role": "role"},
                    "ExpressionAttributeValues": {
                        ":new": {"S": new_role.value},
                        ":one": {"N": "1"},
                        ":version": {"N": str(member.version)},
                    },
                }
            },
            {
                "Update": {
                    "TableName": self._users,
                    "Key": key(user, f"MEMBERSHIP#{tenant}"),
                    "UpdateExpression": "SET #role = :new",
                    "ExpressionAttributeNames": {"#role": "role"},
                    "ExpressionAttributeValues": {":new": {"S": new_role.value}},
                }
            },
        ]
        if member.role is Role.OWNER and new_role is not Role.OWNER:
            items.append(self._owners_minus_one(tenant))
        elif new_role is Role.OWNER and member.role is not Role.OWNER:
            items.append(self._owners_plus_one(tenant))
        items.append(audit_record)
        self._transact(items, member)

    def remove(self, member: MemberItem, *, audit_record: dict[str, Any] | None) -> None:
        """Remove a membership; ``audit_record`` None only for account erasure, which audits on its own."""
        tenant, user = str(member.tenant_id), str(member.user_id)
        items: list[dict[str, Any]] = [
            {
                "Delete": {
                    "TableName": self._tenants,
                    "Key": key(tenant, member_sk(user)),
                    "ConditionExpression": "version = :version",
                    "ExpressionAttributeValues": {":version": {"N": str(member.version)}},
                }
            },
            {"Delete": {"TableName": self._users, "Key": key(user, f"MEMBERSHIP#{tenant}")}},
        ]
        leaving = self._counts.change(member.tenant_id, MEMBERS, -1)
        if member.role is Role.OWNER:
            minus_one = {":minus_one": {"N": "-1"}, ":one": {"N": "1"}}
            items.append(
                tenant_update(
                    self._tenants,
                    tenant,
                    leaving,
                    add=["owners :minus_one"],
                    condition="owners > :one",
                    values=minus_one,
                )
            )
        else:
            items.append(tenant_update(self._tenants, tenant, leaving))
        if audit_record is not None:
            items.append(audit_record)
        self._transact(items, member)

    def _owners_minus_one(self, tenant: str) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": self._tenants,
                "Key": key(tenant, "TENANT"),
                "UpdateExpression": "ADD owners :minus_one",
                "ConditionExpression": "owners > :one",
                "ExpressionAttributeValues": {":minus_one": {"N": "-1"}, ":one": {"N": "1"}},
            }
        }

    def _owners_plus_one(self, tenant: str) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": self._tenants,
                "Key": key(tenant, "TENANT"),
                "UpdateExpression": "ADD owners :one",
                "ExpressionAttributeValues": {":one": {"N": "1"}},
            }
        }

    def _transact(self, items: list[dict[str, Any]], member: MemberItem) -> None:
        try:
            self._db.transact_write_items(TransactItems=items)
        except ClientError as error:
            reasons = cancellation_reasons(error)
            if not reasons or "ConditionalCheckFailed" not in reasons:
                raise
            failed = items[reasons.index("ConditionalCheckFailed")]
            if "Put" in failed:  # a Put names its Item, not a Key: the audit record's put-only condition
                raise Conflict("the audit record for this change already exists") from error
            operation = next(iter(failed.values()))
            if operation["Key"]["sk"]["S"] == "TENANT" and "owners" in operation.get("ConditionExpression", ""):
                raise LastOwner(
                    f"user {member.user_id} is the last owner of tenant {member.tenant_id}; "
                    "make another member an owner first"
                ) from error
            raise Conflict(f"the membership of user {member.user_id} changed meanwhile; read it again") from error


def not_a_member(tenant_id: int, user_id: int) -> NotFound:
    return NotFound(f"user {user_id} is not a member of tenant {tenant_id}")
