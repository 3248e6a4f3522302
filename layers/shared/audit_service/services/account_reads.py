"""Reads of the accounts tables that open no personal data, and the checks an erasure request needs first.

Kept apart from the services that seal and change accounts (services/accounts.py,
my_account.py, gdpr.py), whose imports pull in the audit log, email validation
and the change recorder: the routes that only read these start without them
(make bench, cold start).
"""

from __future__ import annotations

from typing import Any

from audit_service.dal.accounts import AccountsRepository
from audit_service.dal.members import LastOwner
from audit_service.domain.errors import InvalidInput, NotFound
from audit_service.domain.models import ApiKey, iso_utc
from audit_service.domain.permissions import Role

TENANT_RESOURCE_KINDS = ("division", "environment", "deployment")
ERASURE_CONFIRMATION = "erase my account"


def tenants_of(accounts: AccountsRepository, roles: dict[int, Role]) -> list[dict[str, Any]]:
    """The caller's tenants (from the roles the authorizer passed), with name, plan and role, by id."""
    tenants = accounts.get_tenants(sorted(roles))
    return [
        {"id": t.id, "name": t.name, "plan": t.plan.value, "role": roles[t.id].value}
        for t in (tenants[i] for i in sorted(roles) if i in tenants)
    ]


def resource_tree(accounts: AccountsRepository, tenant_id: int) -> dict[str, Any]:
    """The tenant's divisions, environments and deployments, each with its parent's id."""
    if accounts.get_tenant(tenant_id) is None:
        raise NotFound(f"tenant {tenant_id} does not exist")
    tree: dict[str, Any] = {"tenant_id": tenant_id}
    for kind in TENANT_RESOURCE_KINDS:
        tree[f"{kind}s"] = [
            {"id": r.id, "name": r.name, "parent_id": r.parent_id} for r in accounts.tenant_resources(tenant_id, kind)
        ]
    return tree


def key_view(api_key: ApiKey) -> dict[str, Any]:
    return {
        "id": api_key.key_id,
        "name": api_key.name,
        "status": api_key.status.value,
        "created_at": iso_utc(api_key.created_at),
        "revoked_at": iso_utc(api_key.revoked_at) if api_key.revoked_at else None,
    }


def api_keys_of(accounts: AccountsRepository, user_id: int) -> list[dict[str, Any]]:
    """A user's API keys, newest first, never their secrets (nothing to decrypt)."""
    keys = sorted(accounts.list_api_keys(user_id), key=lambda k: k.created_at, reverse=True)
    return [key_view(api_key) for api_key in keys]


def check_erasable(accounts: AccountsRepository, user_id: int) -> None:
    """Refuse to start an erasure while the user is the last owner of a tenant (no decryption needed)."""
    for tenant_id, role in accounts.roles_of(user_id).items():
        if role is Role.OWNER and accounts.owner_count(tenant_id) <= 1:
            raise LastOwner(f"you are the last owner of tenant {tenant_id}: transfer ownership first")


def check_confirmation(text: str) -> None:
    if text != ERASURE_CONFIRMATION:
        raise InvalidInput(f'to erase your account, send {{"confirm": "{ERASURE_CONFIRMATION}"}}')
