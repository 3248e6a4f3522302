"""GET /audit/tenants/{tenant_id}/proofs/{record_id}: the Merkle path from one record to its signed checkpoint."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from audit_service import container
from audit_service.api.contract import responses
from audit_service.api.http import authorize, create_app, only_query_parameters, request_metadata
from audit_service.config import get_settings
from audit_service.domain.permissions import Permission
from audit_service.observability import instrumented

get_settings()
integrity = container.integrity()
access_log = container.access_log()
app = create_app()


@app.get(
    "/audit/tenants/<tenant_id>/proofs/<record_id>",
    responses=responses(200, 403, 404, 409, description="The record's inclusion proof."),
)
def get_audit_record_proof(
    tenant_id: Annotated[int, Path(ge=1)],
    record_id: Annotated[str, Path(min_length=1, max_length=128)],
    kind: Annotated[Literal["audit", "access", "security"], Query()] = "audit",
) -> dict[str, Any]:
    """``kind`` names the log the record is in (audit records by their ``event_id``)."""
    only_query_parameters(app, {"kind"})
    principal = authorize(app, Permission.AUDIT_READ, tenant_id=tenant_id)
    proof = integrity.proof(tenant_id, kind, record_id)
    access_log.record(
        actor_id=principal.user_id, action="audit_log.proof", tenant_id=tenant_id, request=request_metadata(app)
    )
    return {"tenant_id": tenant_id, **proof}


def _handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)


handler = instrumented(_handle)
