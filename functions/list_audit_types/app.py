"""GET /audit/types: every audit event type's current version in the registry, for filtering the audit log."""

from __future__ import annotations

from typing import Any

from audit_service import container
from audit_service.api.contract import AuditType, responses
from audit_service.api.http import authorize, create_app
from audit_service.config import get_settings
from audit_service.domain.permissions import Permission
from audit_service.observability import instrumented

get_settings()  # fail the cold start, not a request, on a misconfigured environment
app = create_app()


@app.get(
    "/audit/types",
    responses=responses(
        200, 403, body=list[AuditType], description="Every event type's current version, deprecated ones included."
    ),
)
def list_audit_types() -> list[AuditType]:
    # The registry is the same for everyone, but it is part of the audit API:
    # it needs audit:read in at least one of the caller's tenants.
    authorize(app, Permission.AUDIT_READ)
    return [
        AuditType.model_validate(entry.view()) for entry in container.event_type_registry().current_types(fresh=True)
    ]


def _handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)


handler = instrumented(_handle)
