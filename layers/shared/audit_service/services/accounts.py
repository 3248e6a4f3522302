"""Creating tenants, users, memberships and API keys (the operator's tool uses these)."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import TYPE_CHECKING

from audit_service.crypto.hashing import api_key_hash
from audit_service.dal.accounts import AccountsRepository
from audit_service.dal.members import MembersRepository
from audit_service.domain.audit import AuditEvent, Ref
from audit_service.domain.errors import InvalidInput, NotFound
from audit_service.domain.models import (
    ApiKey,
    ApiKeyStatus,
    IssuedApiKey,
    Membership,
    Plan,
    Tenant,
    TenantResource,
    utc_now,
)
from audit_service.domain.permissions import Role
from audit_service.domain.shards import MAX_SHARDS, ShardLayout
from audit_service.domain.users import User, UserProfile
from audit_service.services.account_reads import TENANT_RESOURCE_KINDS
from audit_service.services.auth import generate_api_key_secret
from audit_service.services.changes import ChangeRecorder
from audit_service.services.members import member_binding, member_context

if TYPE_CHECKING:  # the Encryption SDK is imported where data is sealed, not by every importer
    from audit_service.crypto.envelope import Envelope
    from audit_service.crypto.hashing import BlindIndex


def user_context(user_id: int) -> dict[str, str]:
    return {"user_id": str(user_id)}


def profile_binding(user_id: int) -> str:
    return f"user:{user_id}:profile"


class Accounts:
    def __init__(
        self,
        repository: AccountsRepository,
        envelope: Envelope,
        blind_index: BlindIndex,
        *,
        changes: ChangeRecorder,
        members: MembersRepository,
    ) -> None:
        self._repo = repository
        self._envelope = envelope
        self._blind_index = blind_index
        self._changes = changes
        self._members = members

    def change_plan(self, tenant_id: int, plan: Plan, *, actor_id: int) -> AuditEvent:
        """Change a tenant's plan; the change and its audit record are written together."""
        tenant = self._repo.get_tenant(tenant_id)
        if tenant is None:
            raise NotFound(f"tenant {tenant_id} does not exist")
        actor = self.get_user(actor_id)
        event, audit = self._changes.put(
            tenant_id=tenant_id,
            event_type="tenant_plan_changed",
            author=Ref(id=actor.id, name=actor.profile.name),
            request=None,
            previous={"plan": tenant.plan.value},
            current={"plan": plan.value},
        )
        self._repo.change_plan(tenant_id, old=tenant.plan, new=plan, audit_record=audit)
        self._changes.plan_changed(tenant_id)
        return event

    def create_tenant(self, name: str, plan: Plan, *, log_shards: int = 1, most: int = MAX_SHARDS) -> Tenant:
        """A new tenant; ``log_shards`` > 1 for one known to write more than ~1,000 records a second (at
        most ``most``, the deployment's MaxLogShards)."""
        if not 1 <= log_shards <= most:
            raise InvalidInput(f"a tenant's log shards are between 1 and MaxLogShards ({most})")
        tenant = Tenant(
            id=self._repo.next_id("tenant"),
            name=name,
            plan=plan,
            created_at=utc_now(),
            log_shards=ShardLayout.of(log_shards).steps,
        )
        self._repo.create_tenant(tenant)
        return tenant

    def grow_log_shards(self, tenant_id: int, count: int, *, most: int) -> ShardLayout:
        """Spread the tenant's new records over ``count`` write shards from ``shards.GROWTH_DELAY`` on
        (docs/operations.md): for a tenant nearing ~1,000 records a second. Never shrinks; at most
        ``most`` (the deployment's MaxLogShards, which the activity reads cover)."""
        if not 1 <= count <= most:
            raise InvalidInput(f"a tenant's log shards are between 1 and MaxLogShards ({most})")
        tenant = self._repo.get_tenant(tenant_id)
        if tenant is None:
            raise NotFound(f"tenant {tenant_id} does not exist")
        layout = tenant.layout.grown(count, now=utc_now())
        if layout != tenant.layout:
            self._repo.set_log_shards(tenant_id, old=tenant.layout, new=layout)
        return layout

    def add_tenant_resource(self, tenant_id: int, kind: str, name: str, parent_id: int | None = None) -> TenantResource:
        if kind not in TENANT_RESOURCE_KINDS:
            raise ValueError(f"kind must be one of {', '.join(TENANT_RESOURCE_KINDS)}")
        resource = TenantResource(
            kind=kind, id=self._repo.next_id(kind), name=name, tenant_id=tenant_id, parent_id=parent_id
        )
        self._repo.put_tenant_resource(resource)
        return resource

    def create_user(self, name: str, email: str) -> User:
        profile = UserProfile(name=name, email=email)
        email_hash = self._blind_index.email(profile.email)
        user_id = self._repo.next_id("user")
        sealed = self._envelope.seal(profile.model_dump(), context=user_context(user_id), bind=profile_binding(user_id))
        created_at = utc_now()
        self._repo.create_user(user_id, email_hash=email_hash, sealed_profile=sealed, created_at=created_at)
        return User(id=user_id, profile=profile, created_at=created_at)

    def get_user(self, user_id: int) -> User:
        item = self._repo.get_user_item(user_id)
        if item is None:
            raise NotFound(f"user {user_id} does not exist")
        fields = self._envelope.open(bytes(item["pii"]), context=user_context(user_id), bind=profile_binding(user_id))
        return User(id=user_id, profile=UserProfile(**fields), created_at=datetime.fromisoformat(item["created_at"]))

    def find_user_by_email(self, email: str) -> User | None:
        user_id = self._repo.find_user_id_by_email_hash(self._blind_index.email(email))
        return self.get_user(user_id) if user_id is not None else None

    def add_member(self, tenant_id: int, user_id: int, role: Role) -> Membership:
        profile = self.get_user(user_id).profile
        membership = Membership(tenant_id=tenant_id, user_id=user_id, role=role, created_at=utc_now())
        sealed = self._envelope.seal(
            {"name": profile.name, "email": profile.email},
            context=member_context(tenant_id),
            bind=member_binding(tenant_id, user_id),
        )
        self._members.add(membership, sealed_member=sealed)
        return membership

    def issue_api_key(self, user_id: int, name: str) -> IssuedApiKey:
        secret = generate_api_key_secret()
        api_key = ApiKey(
            key_id=secrets.token_hex(6),
            key_hash=api_key_hash(secret),
            user_id=user_id,
            name=name,
            status=ApiKeyStatus.ACTIVE,
            created_at=utc_now(),
        )
        self._repo.put_api_key(api_key)
        return IssuedApiKey(key=api_key, secret=secret)

    def revoke_api_key(self, user_id: int, key_id: str) -> None:
        for api_key in self._repo.list_api_keys(user_id):
            if api_key.key_id == key_id:
                self._repo.revoke_api_key(api_key.key_hash, user_id=user_id, revoked_at=utc_now())
                return
        raise NotFound(f"user {user_id} has no API key {key_id}")
