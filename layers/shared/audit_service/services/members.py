"""A tenant's members: who they are, and changing or removing their role."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from audit_service.dal.members import MemberItem, MembersRepository, not_a_member
from audit_service.domain.audit import Ref
from audit_service.domain.errors import InvalidInput
from audit_service.domain.models import Principal, RequestMetadata, iso_utc
from audit_service.domain.permissions import Permission, Role
from audit_service.services.auth import require
from audit_service.services.changes import ChangeRecorder
from audit_service.services.pagination import Page, PageRequest, decode_key_cursor, encode_key_cursor

if TYPE_CHECKING:
    from audit_service.crypto.envelope import Envelope


def member_context(tenant_id: int) -> dict[str, str]:
    return {"tenant_id": str(tenant_id)}


def member_binding(tenant_id: int, user_id: int) -> str:
    return f"{tenant_id}|MEMBER#{user_id}"


class Members:
    def __init__(self, repository: MembersRepository, envelope: Envelope, changes: ChangeRecorder) -> None:
        self._repo = repository
        self._envelope = envelope
        self._changes = changes

    def seal(self, tenant_id: int, user_id: int, *, name: str, email: str) -> bytes:
        """A member's name and email, sealed for the tenant (so a listing needs one data key)."""
        return self._envelope.seal(
            {"name": name, "email": email}, context=member_context(tenant_id), bind=member_binding(tenant_id, user_id)
        )

    def list_members(self, tenant_id: int, request: PageRequest) -> Page:
        """One page of the tenant's members, in user-id order; only that page is read and decrypted."""
        scope = f"members:{tenant_id}"
        after = (
            decode_key_cursor(request.cursor, scope, pk=str(tenant_id), sk_prefix="MEMBER#") if request.cursor else None
        )
        members, next_key = self._repo.page(tenant_id, limit=request.results, skip=request.skip, after=after)
        return Page(
            data=[self._view(member) for member in members],
            page=request.page,
            results=request.results,
            total=self._repo.count(tenant_id),
            next=encode_key_cursor(scope, next_key) if next_key else None,
        )

    def change_role(
        self, tenant_id: int, user_id: int, role: Role, *, principal: Principal, request: RequestMetadata
    ) -> dict[str, Any]:
        """Making or unmaking an owner is the owners' call (``tenant:manage``), decided on the same read of the
        member whose version guards the write: a promotion in between makes the write fail, not slip through."""
        member, actor = self._member_and_actor(tenant_id, user_id, principal.user_id)
        if role is Role.OWNER or member.role is Role.OWNER:
            require(principal, Permission.TENANT_MANAGE, tenant_id=tenant_id)
        if member.role is role:
            raise InvalidInput(f"user {user_id} already has the role {role.value}")
        _event, audit = self._changes.put(
            tenant_id=tenant_id,
            event_type="member_role_changed",
            author=actor,
            request=request,
            previous={"user_id": user_id, "role": member.role.value},
            current={"user_id": user_id, "role": role.value},
        )
        self._repo.change_role(member, role, audit_record=audit)
        return {**self._view(member), "role": role.value}

    def remove(self, tenant_id: int, user_id: int, *, principal: Principal, request: RequestMetadata) -> None:
        """Removing an owner needs ``tenant:manage``, decided on the read whose version guards the delete."""
        member, actor = self._member_and_actor(tenant_id, user_id, principal.user_id)
        if member.role is Role.OWNER:
            require(principal, Permission.TENANT_MANAGE, tenant_id=tenant_id)
        _event, audit = self._changes.put(
            tenant_id=tenant_id,
            event_type="member_removed",
            author=actor,
            request=request,
            previous={"user_id": user_id, "role": member.role.value},
            current=None,
        )
        self._repo.remove(member, audit_record=audit)

    def author(self, tenant_id: int, actor_id: int) -> Ref:
        """The actor as an audit record names them, from their member item in the tenant."""
        actor = self._repo.get_many(tenant_id, {actor_id}).get(actor_id)
        return Ref(id=actor_id, name=self._open(actor)["name"] if actor is not None else f"user {actor_id}")

    def _member_and_actor(self, tenant_id: int, user_id: int, actor_id: int) -> tuple[MemberItem, Ref]:
        found = self._repo.get_many(tenant_id, {user_id, actor_id})
        if user_id not in found:
            raise not_a_member(tenant_id, user_id)
        actor = found.get(actor_id)
        name = self._open(actor)["name"] if actor is not None else f"user {actor_id}"
        return found[user_id], Ref(id=actor_id, name=name)

    def _open(self, member: MemberItem) -> dict[str, Any]:
        return self._envelope.open(
            member.sealed,
            context=member_context(member.tenant_id),
            bind=member_binding(member.tenant_id, member.user_id),
        )

    def _view(self, member: MemberItem) -> dict[str, Any]:
        fields = self._open(member)
        return {
            "user": {"id": member.user_id, "name": fields["name"], "email": fields["email"]},
            "role": member.role.value,
            "joined_at": iso_utc(member.created_at),
        }
