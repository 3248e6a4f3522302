"""Today's catalog of audit event types: version 1 of the registry (domain/event_types.py).

The registry serves these until a service registers a new version; the types
this service writes itself (members, invitations, accounts...) stay here. A
type is ``<resource>_<action>``; its human name is derived from the resource's
label and the action, so that the two can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Final


@dataclass(frozen=True, slots=True)
class AuditEventType:
    type: str
    name: str
    resource: str
    action: str


# resource kind -> (human label, actions that exist for it)
_RESOURCES: Final[tuple[tuple[str, str, tuple[str, ...]], ...]] = (
    ("tenant", "Tenant", ("created", "updated", "deleted")),
    ("tenant_plan", "Tenant Plan", ("changed",)),
    ("division", "Division", ("created", "updated", "deleted")),
    ("environment", "Environment", ("created", "updated", "deleted")),
    ("deployment", "Deployment", ("created", "updated", "deleted")),
    ("member", "Member", ("added", "role_changed", "removed")),
    ("invitation", "Invitation", ("created", "resent", "accepted", "revoked")),
    ("api_key", "API Key", ("created", "revoked")),
    ("user", "User", ("created", "updated", "email_change_requested", "deleted")),
    ("identity", "Identity", ("link_requested", "linked", "unlinked")),
    ("session", "Session", ("started", "ended", "revoked")),
    ("settings", "Settings", ("updated",)),
    ("account", "Account", ("exported", "erased")),
    ("audit_event_type", "Audit Event Type", ("registered",)),
    ("log_stream", "Log Stream", ("created", "paused", "resumed", "replayed", "deleted")),
)


def _human(action: str) -> str:
    return " ".join(word.capitalize() for word in action.split("_"))


AUDIT_EVENT_TYPES: Final[MappingProxyType[str, AuditEventType]] = MappingProxyType(
    {
        f"{resource}_{action}": AuditEventType(
            type=f"{resource}_{action}",
            name=f"{label} {_human(action)}",
            resource=resource,
            action=action,
        )
        for resource, label, actions in _RESOURCES
        for action in actions
    }
)


def is_known_type(event_type: str) -> bool:
    return event_type in AUDIT_EVENT_TYPES


def list_types() -> list[AuditEventType]:
    """All types, in catalog order (grouped by resource)."""
    return list(AUDIT_EVENT_TYPES.values())
