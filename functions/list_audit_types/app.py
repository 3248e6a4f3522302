"""GET /audit/types: every audit event type, for filtering the audit log."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from audit_service.api.contract import AuditType, responses
from audit_service.api.http import authorize, create_app
from audit_service.config import get_settings
from audit_service.domain.catalog import list_types
from audit_service.domain.permissions import Permission
from audit_service.observability import instrumented

get_settings()  # fail the cold start, not a request, on a misconfigured environment
app = create_app()


class AuditEventTypeView(BaseModel):
    type: str
    name: str


@app.get("/audit/types", responses=responses(200, 403, body=list[AuditType], description="Every audit event type."))
def list_audit_types() -> list[AuditEventTypeView]:
    # The catalog is the same for everyone, but it is part of the audit API:
    # it needs audit:read in at least one of the caller's tenants.
    authorize(app, Permission.AUDIT_READ)
    return [AuditEventTypeView(type=entry.type, name=entry.name) for entry in list_types()]


def _handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)


handler = instrumented(_handle)
