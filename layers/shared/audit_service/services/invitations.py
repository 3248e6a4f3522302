"""Invitations: a tenant invites an email to a role; the person with that email accepts.

Accepting needs three things: being signed in, the invitation being addressed
to the caller's (confirmed) email, and the secret that only the invitation's
message carries. The message goes out through the platform's mailer
(``services/notifications.py``); only the secret's hash is stored, the secret
works once, and it dies with the invitation. An invitation id alone grants
nothing, and every refusal looks like a missing invitation.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from audit_service.crypto.hashing import one_time_secret, secret_hash, secret_matches
from audit_service.dal.accounts import AccountsRepository
from audit_service.dal.dynamo import cancellation_reasons
from audit_service.dal.invitations import (
    ACCEPTED,
    PENDING,
    InvitationItem,
    InvitationsRepository,
    no_such_invitation,
)
from audit_service.dal.members import MembersRepository
from audit_service.domain.audit import Ref
from audit_service.domain.errors import Conflict, NotFound
from audit_service.domain.models import Membership, RequestMetadata, iso_utc, utc_now
from audit_service.domain.permissions import Role
from audit_service.services.accounts import profile_binding, user_context
from audit_service.services.changes import ChangeRecorder
from audit_service.services.members import Members
from audit_service.services.notifications import NotificationType
from audit_service.services.pagination import Page, PageRequest, decode_key_cursor, encode_key_cursor

if TYPE_CHECKING:
    from audit_service.crypto.envelope import Envelope
    from audit_service.crypto.hashing import BlindIndex
    from audit_service.services.notifications import Notifier


class InvitationExpired(Conflict):
    code = "invitation_expired"


class InvitationNotPending(Conflict):
    code = "invitation_not_pending"


def _binding(tenant_id: int, invitation_id: str) -> str:
    return f"{tenant_id}|INVITATION#{invitation_id}"


class Invitations:
    def __init__(
        self,
        repository: InvitationsRepository,
        envelope: Envelope,
        blind_index: BlindIndex,
        *,
        changes: ChangeRecorder,
        members: Members,
        members_repository: MembersRepository,
        accounts: AccountsRepository,
        notifier: Callable[[], Notifier],
    ) -> None:
        self._notifier = notifier
        self._repo = repository
        self._envelope = envelope
        self._blind_index = blind_index
        self._changes = changes
        self._members = members
        self._members_repo = members_repository
        self._accounts = accounts

    def create(
        self, tenant_id: int, *, email: str, role: Role, days: int, actor_id: int, request: RequestMetadata
    ) -> dict[str, Any]:
        now = utc_now()
        # 24 hex digits: the creation time (ms) then 48 random bits, so key order is creation order
        invitation_id = f"{int(now.timestamp() * 1000):012x}{secrets.token_hex(6)}"
        secret = one_time_secret()
        invitation = InvitationItem(
            tenant_id=tenant_id,
            invitation_id=invitation_id,
            role=role,
            status=PENDING,
            invitee_key=self._blind_index.email(email),
            expires_at=now + timedelta(days=days),
            created_at=now,
            invited_by=actor_id,
            version=1,
            sealed=self._envelope.seal(
                {"email": email}, context={"tenant_id": str(tenant_id)}, bind=_binding(tenant_id, invitation_id)
            ),
            secret_hash=secret_hash(secret),
        )
        view = self._view(invitation, email=email)
        author = self._members.author(tenant_id, actor_id)
        _event, audit = self._changes.put(
            tenant_id=tenant_id,
            event_type="invitation_created",
            author=author,
            request=request,
            previous=None,
            current={
                "invitation_id": invitation_id,
                "email": email,
                "role": role.value,
                "expires_at": view["expires_at"],
            },
        )
        self._repo.create(invitation, audit_record=audit)
        self._send(invitation, email=email, secret=secret, inviter=author)
        return view

    def resend(self, tenant_id: int, invitation_id: str, *, actor_id: int, request: RequestMetadata) -> dict[str, Any]:
        """Send the invitation's message again with a new secret (the previous one stops working)."""
        invitation = self._existing(tenant_id, invitation_id)
        self._check_pending(invitation)
        secret = one_time_secret()
        author = self._members.author(tenant_id, actor_id)
        _event, audit = self._changes.put(
            tenant_id=tenant_id,
            event_type="invitation_resent",
            author=author,
            request=request,
            previous={"invitation_id": invitation_id, "version": invitation.version},
            current={"invitation_id": invitation_id, "version": invitation.version + 1},
        )
        self._repo.replace_secret(invitation, secret_hash(secret), now=utc_now(), audit_record=audit)
        view = self._view(invitation)
        self._send(invitation, email=view["email"], secret=secret, inviter=author)
        return view

    def _send(self, invitation: InvitationItem, *, email: str, secret: str, inviter: Ref) -> None:
        expires_at = iso_utc(invitation.expires_at)
        self._notifier().send(
            NotificationType.INVITATION_CREATED,
            reference=invitation.invitation_id,
            detail={
                "tenant_id": invitation.tenant_id,
                "invitation_id": invitation.invitation_id,
                "role": invitation.role.value,
                "expires_at": expires_at,
            },
            sealed={
                "to": email,
                "secret": secret,
                "invited_by": inviter.name,
                "accept": {
                    "method": "POST",
                    "path": f"/tenants/{invitation.tenant_id}/invitations/{invitation.invitation_id}/accept",
                    "body": {"secret": secret},
                },
            },
        )

    def list_invitations(self, tenant_id: int, request: PageRequest) -> Page:
        """One page of the tenant's invitations, newest first; only that page is read and decrypted."""
        scope = f"invitations:{tenant_id}"
        after = (
            decode_key_cursor(request.cursor, scope, pk=str(tenant_id), sk_prefix="INVITATION#")
            if request.cursor
            else None
        )
        items, next_key = self._repo.page(tenant_id, limit=request.results, skip=request.skip, after=after)
        return Page(
            data=[self._view(item) for item in items],
            page=request.page,
            results=request.results,
            total=self._repo.count(tenant_id),
            next=encode_key_cursor(scope, next_key) if next_key else None,
        )

    def addressed_to_user(self, user_id: int) -> list[dict[str, Any]]:
        """Invitations addressed to the user's email, in any tenant (found by its blind-index hash)."""
        profile = self._accounts.get_user_item(user_id)
        if profile is None:
            return []
        return [self._view(item) for item in self._repo.addressed_to(profile["email_hash"])]

    def get(self, tenant_id: int, invitation_id: str) -> dict[str, Any]:
        return self._view(self._existing(tenant_id, invitation_id))

    def revoke(self, tenant_id: int, invitation_id: str, *, actor_id: int, request: RequestMetadata) -> None:
        invitation = self._existing(tenant_id, invitation_id)
        self._check_pending(invitation)
        _event, audit = self._changes.put(
            tenant_id=tenant_id,
            event_type="invitation_revoked",
            author=self._members.author(tenant_id, actor_id),
            request=request,
            previous={"invitation_id": invitation_id, "status": PENDING},
            current={"invitation_id": invitation_id, "status": "revoked"},
        )
        self._repo.revoke(invitation, now=utc_now(), audit_record=audit)

    def accept(
        self, tenant_id: int, invitation_id: str, *, secret: str, user_id: int, request: RequestMetadata
    ) -> dict[str, Any]:
        """The invitee joins the tenant: membership, invitation status and audit records in one transaction."""
        invitation = self._repo.get(tenant_id, invitation_id)
        profile = self._accounts.get_user_item(user_id)
        # Someone else's invitation, or the right one without its secret, gets the answer a missing one gets.
        if (
            invitation is None
            or profile is None
            or profile["email_hash"] != invitation.invitee_key
            or not secret_matches(secret, invitation.secret_hash)
        ):
            raise NotFound(f"no invitation {invitation_id} addressed to you in tenant {tenant_id}")
        self._check_pending(invitation)
        user = self._profile(user_id, profile)
        now = utc_now()
        author = Ref(id=user_id, name=user["name"])
        _accepted, accepted_record = self._changes.put(
            tenant_id=tenant_id,
            event_type="invitation_accepted",
            author=author,
            request=request,
            previous={"invitation_id": invitation_id, "status": PENDING},
            current={"invitation_id": invitation_id, "status": ACCEPTED},
        )
        _added, added_record = self._changes.put(
            tenant_id=tenant_id,
            event_type="member_added",
            author=author,
            request=request,
            previous=None,
            current={"user_id": user_id, "role": invitation.role.value, "invitation_id": invitation_id},
        )
        membership = Membership(tenant_id=tenant_id, user_id=user_id, role=invitation.role, created_at=now)
        try:
            self._members_repo.add(
                membership,
                sealed_member=self._members.seal(tenant_id, user_id, name=user["name"], email=user["email"]),
                extra=[self._repo.settle(invitation, ACCEPTED, now=now), accepted_record, added_record],
            )
        except ClientError as error:  # a concurrent accept or revoke won the race
            if "ConditionalCheckFailed" in cancellation_reasons(error):
                raise InvitationNotPending("the invitation changed meanwhile; read it again") from error
            raise
        return {"tenant_id": tenant_id, "user_id": user_id, "role": invitation.role.value, "joined_at": iso_utc(now)}

    def _existing(self, tenant_id: int, invitation_id: str) -> InvitationItem:
        invitation = self._repo.get(tenant_id, invitation_id)
        if invitation is None:
            raise no_such_invitation(invitation_id)
        return invitation

    @staticmethod
    def _check_pending(invitation: InvitationItem) -> None:
        if invitation.status != PENDING:
            raise InvitationNotPending(f"the invitation is {invitation.status}, not pending")
        if invitation.expires_at <= utc_now():
            raise InvitationExpired(f"the invitation expired at {iso_utc(invitation.expires_at)}")

    def _profile(self, user_id: int, item: dict[str, Any]) -> dict[str, Any]:
        return self._envelope.open(bytes(item["pii"]), context=user_context(user_id), bind=profile_binding(user_id))

    def _view(self, invitation: InvitationItem, *, email: str | None = None) -> dict[str, Any]:
        if email is None:
            email = self._envelope.open(
                invitation.sealed,
                context={"tenant_id": str(invitation.tenant_id)},
                bind=_binding(invitation.tenant_id, invitation.invitation_id),
            )["email"]
        status = invitation.status
        if status == PENDING and invitation.expires_at <= utc_now():
            status = "expired"
        return {
            "id": invitation.invitation_id,
            "tenant_id": invitation.tenant_id,
            "email": email,
            "role": invitation.role.value,
            "status": status,
            "expires_at": iso_utc(invitation.expires_at),
            "created_at": iso_utc(invitation.created_at),
            "invited_by": {"id": invitation.invited_by},
        }
