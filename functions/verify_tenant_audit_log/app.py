"""GET /audit/tenants/{tenant_id}/verify: is the tenant's log over a period complete and unmodified?"""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from audit_service import container
from audit_service.api.contract import responses
from audit_service.api.http import authorize, create_app, only_query_parameters, request_metadata
from audit_service.config import get_settings
from audit_service.domain.permissions import Permission
from audit_service.observability import instrumented
from audit_service.services.pagination import TimeRange

get_settings()
integrity = container.integrity()
access_log = container.access_log()
container.envelope().load()  # its requests open or seal personal data: the Encryption SDK loads at init
app = create_app()


@app.get(
    "/audit/tenants/<tenant_id>/verify",
    responses=responses(200, 403, description="Whether the log over the period is complete and unmodified."),
)
def verify_tenant_audit_log(
    tenant_id: Annotated[int, Path(ge=1)],
    time_from: Annotated[str | None, Query(alias="from", max_length=64)] = None,
    time_to: Annotated[str | None, Query(alias="to", max_length=64)] = None,
) -> dict[str, Any]:
    """Checks every record of the period against the tenant's signed checkpoint chain.

    Optional ``from``/``to`` (ISO 8601) bound the period, as in the log listings.
    """
    only_query_parameters(app, {"from", "to"})
    principal = authorize(app, Permission.AUDIT_READ, tenant_id=tenant_id)
    period = TimeRange.parse({"from": time_from, "to": time_to})
    report = integrity.verify(tenant_id, period)
    access_log.record(
        actor_id=principal.user_id, action="audit_log.verify", tenant_id=tenant_id, request=request_metadata(app)
    )
    return {"tenant_id": tenant_id, "key_fingerprint": integrity.key_fingerprint(), **report.as_dict()}


def _handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)


handler = instrumented(_handle)
