"""Roles and the permissions they grant, at the tenant level.

This table is the single source of truth; ``docs/api.md`` reproduces it and a
unit test keeps the two in step.
"""

from __future__ import annotations

from enum import StrEnum
from types import MappingProxyType
from typing import Final


class Permission(StrEnum):
    TENANT_READ = "tenant:read"
    TENANT_MANAGE = "tenant:manage"
    MEMBERS_READ = "members:read"
    MEMBERS_MANAGE = "members:manage"
    INVITATIONS_READ = "invitations:read"
    INVITATIONS_MANAGE = "invitations:manage"
    AUDIT_READ = "audit:read"
    AUDIT_STREAM = "audit:stream"  # configure where the tenant's records are delivered (log streams)


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    AUDITOR = "auditor"
    MEMBER = "member"


P = Permission
ROLE_PERMISSIONS: Final[MappingProxyType[Role, frozenset[Permission]]] = MappingProxyType(
    {
        Role.OWNER: frozenset(Permission),
        Role.ADMIN: frozenset(
            {
                P.TENANT_READ,
                P.MEMBERS_READ,
                P.MEMBERS_MANAGE,
                P.INVITATIONS_READ,
                P.INVITATIONS_MANAGE,
                P.AUDIT_READ,
            }
        ),
        Role.AUDITOR: frozenset({P.TENANT_READ, P.MEMBERS_READ, P.AUDIT_READ}),
        Role.MEMBER: frozenset({P.TENANT_READ}),
    }
)


def role_grants(role: Role | str, permission: Permission) -> bool:
    try:
        return permission in ROLE_PERMISSIONS[Role(role)]
    except ValueError:
        # An unknown role stored somewhere grants nothing rather than failing open.
        return False
