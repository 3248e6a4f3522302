"""Invitations, kept in the tenant's partition (``sk=INVITATION#<id>``).

The invitee's email is sealed for the tenant; its blind-index hash is a plain
attribute (``invitee_key``) behind the sparse ``by_invitee`` index, which finds
the invitations addressed to an email without decrypting anything. Of the
secret that only the invitation's message carries, only a hash is stored
(``secret_hash``); sending the message again replaces it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from audit_service.dal.dynamo import cancellation_reasons, from_item, key, prefix_page, to_item
from audit_service.dal.tenant_counts import INVITATIONS, TenantCounts, tenant_update
from audit_service.domain.errors import Conflict, NotFound
from audit_service.domain.models import iso_utc
from audit_service.domain.permissions import Role

PENDING, ACCEPTED, REVOKED = "pending", "accepted", "revoked"


@dataclass(frozen=True)
class InvitationItem:
    tenant_id: int
    invitation_id: str
    role: Role
    status: str
    invitee_key: str
    expires_at: datetime
    created_at: datetime
    invited_by: int
    version: int
    sealed: bytes
    secret_hash: str

    @property
    def sk(self) -> str:
        return f"INVITATION#{self.invitation_id}"


def _invitation(values: dict[str, Any]) -> InvitationItem:
    return InvitationItem(
        tenant_id=int(values["pk"]),
        invitation_id=values["sk"].removeprefix("INVITATION#"),
        role=Role(values["role"]),
        status=values["status"],
        invitee_key=values["invitee_key"],
        expires_at=datetime.fromisoformat(values["expires_at"]),
        created_at=datetime.fromisoformat(values["created_at"]),
        invited_by=int(values["invited_by"]),
        version=int(values["version"]),
        sealed=bytes(values["pii"]),
        # An invitation stored without a secret can never be accepted.
        secret_hash=values.get("secret_hash", ""),
    )


class InvitationsRepository:
    def __init__(self, dynamodb: Any, *, tenants_table: str) -> None:
        self._db = dynamodb
        self._tenants = tenants_table
        self._counts = TenantCounts(dynamodb, tenants_table=tenants_table)

    def create(self, invitation: InvitationItem, *, audit_record: dict[str, Any]) -> None:
        item = to_item(
            {
                "pk": str(invitation.tenant_id),
                "sk": invitation.sk,
                "role": invitation.role.value,
                "status": invitation.status,
                "invitee_key": invitation.invitee_key,
                "expires_at": iso_utc(invitation.expires_at),
                "expires_epoch": int(invitation.expires_at.timestamp()),
                "created_at": iso_utc(invitation.created_at),
                "invited_by": str(invitation.invited_by),
                "version": invitation.version,
                "pii": invitation.sealed,
                "secret_hash": invitation.secret_hash,
            }
        )
        self._db.transact_write_items(
            TransactItems=[
                tenant_update(
                    self._tenants, invitation.tenant_id, self._counts.change(invitation.tenant_id, INVITATIONS, +1)
                ),
                {"Put": {"TableName": self._tenants, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}},
                audit_record,
            ]
        )

    def get(self, tenant_id: int, invitation_id: str) -> InvitationItem | None:
        response = self._db.get_item(
            TableName=self._tenants, Key=key(str(tenant_id), f"INVITATION#{invitation_id}"), ConsistentRead=True
        )
        return _invitation(from_item(response["Item"])) if "Item" in response else None

    def page(
        self, tenant_id: int, *, limit: int, skip: int = 0, after: dict[str, str] | None = None
    ) -> tuple[list[InvitationItem], dict[str, str] | None]:
        """One page of the tenant's invitations, newest first (ids begin with their creation time)."""
        items, next_key = prefix_page(
            self._db,
            table=self._tenants,
            pk=str(tenant_id),
            prefix="INVITATION#",
            limit=limit,
            skip=skip,
            after=after,
            newest_first=True,
        )
        return [_invitation(item) for item in items], next_key

    def count(self, tenant_id: int) -> int:
        return self._counts.total(tenant_id, INVITATIONS)

    def addressed_to(self, invitee_key: str) -> list[InvitationItem]:
        """Every invitation addressed to an email hash, across tenants and in any status (eventually
        consistent index; every page)."""
        found: list[InvitationItem] = []
        arguments: dict[str, Any] = {
            "TableName": self._tenants,
            "IndexName": "by_invitee",
            "KeyConditionExpression": "invitee_key = :k",
            "ExpressionAttributeValues": {":k": {"S": invitee_key}},
        }
        while True:
            response = self._db.query(**arguments)
            found += [_invitation(from_item(item)) for item in response["Items"]]
            if "LastEvaluatedKey" not in response:
                return found
            arguments["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def delete(self, invitation: InvitationItem) -> None:
        """Remove an invitation and the email it carries (account erasure), counted off its tenant; idempotent."""
        try:
            self._db.transact_write_items(
                TransactItems=[
                    {
                        "Delete": {
                            "TableName": self._tenants,
                            "Key": key(str(invitation.tenant_id), invitation.sk),
                            "ConditionExpression": "attribute_exists(pk)",
                        }
                    },
                    tenant_update(
                        self._tenants, invitation.tenant_id, self._counts.change(invitation.tenant_id, INVITATIONS, -1)
                    ),
                ]
            )
        except ClientError as error:
            if cancellation_reasons(error)[:1] != ["ConditionalCheckFailed"]:
                raise  # else: deleted already (a retried erasure step)

    def settle(self, invitation: InvitationItem, status: str, *, now: datetime) -> dict[str, Any]:
        """The transaction entry that moves a pending, unexpired invitation to ``status``."""
        return {
            "Update": {
                "TableName": self._tenants,
                "Key": key(str(invitation.tenant_id), invitation.sk),
                "UpdateExpression": "SET #status = :status, version = version + :one",
                "ConditionExpression": "version = :version AND #status = :pending AND expires_epoch > :now",
                "ExpressionAttributeNames": {"#status": "status"},
                "ExpressionAttributeValues": {
                    ":status": {"S": status},
                    ":one": {"N": "1"},
                    ":version": {"N": str(invitation.version)},
                    ":pending": {"S": PENDING},
                    ":now": {"N": str(int(now.timestamp()))},
                },
            }
        }

    def revoke(self, invitation: InvitationItem, *, now: datetime, audit_record: dict[str, Any]) -> None:
        self._change(self.settle(invitation, REVOKED, now=now), audit_record)

    def replace_secret(
        self, invitation: InvitationItem, secret_hash: str, *, now: datetime, audit_record: dict[str, Any]
    ) -> None:
        """A new secret for a pending, unexpired invitation (its message is sent again); the old one stops working."""
        self._change(
            {
                "Update": {
                    "TableName": self._tenants,
                    "Key": key(str(invitation.tenant_id), invitation.sk),
                    "UpdateExpression": "SET secret_hash = :hash, version = version + :one",
                    "ConditionExpression": "version = :version AND #status = :pending AND expires_epoch > :now",
                    "ExpressionAttributeNames": {"#status": "status"},
                    "ExpressionAttributeValues": {
                        ":hash": {"S": secret_hash},
                        ":one": {"N": "1"},
                        ":version": {"N": str(invitation.version)},
                        ":pending": {"S": PENDING},
                        ":now": {"N": str(int(now.timestamp()))},
                    },
                }
            },
            audit_record,
        )

    def _change(self, update: dict[str, Any], audit_record: dict[str, Any]) -> None:
        try:
            self._db.transact_write_items(TransactItems=[update, audit_record])
        except ClientError as error:
            if "ConditionalCheckFailed" in cancellation_reasons(error)[:1]:
                raise Conflict("the invitation changed meanwhile; read it again") from error
            raise


def no_such_invitation(invitation_id: str) -> NotFound:
    return NotFound(f"no invitation {invitation_id} here")
