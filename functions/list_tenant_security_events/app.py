"""GET /audit/tenants/{tenant_id}/security: the tenant's permission_denied and authentication_failed events."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from audit_service import container
from audit_service.api.contract import Listing, responses
from audit_service.api.http import authorize, create_app, only_query_parameters, request_metadata
from audit_service.config import get_settings
from audit_service.domain.models import SecurityEventType
from audit_service.domain.permissions import Permission
from audit_service.observability import instrumented
from audit_service.services.pagination import MAX_RESULTS, PageRequest, TimeRange
from audit_service.services.security import SecurityFilters

get_settings()
security_events = container.security_events()
access_log = container.access_log()
container.envelope().load()  # its requests open or seal personal data: the Encryption SDK loads at init
app = create_app()


@app.get(
    "/audit/tenants/<tenant_id>/security",
    responses=responses(200, 403, body=Listing, description="The tenant's security events, newest first."),
)
def list_tenant_security_events(
    tenant_id: Annotated[int, Path(ge=1)],
    page: Annotated[int, Query(ge=1)] = 1,
    results: Annotated[int, Query(ge=1, le=MAX_RESULTS)] = 10,
    type: SecurityEventType | None = None,
    actor_id: Annotated[int | None, Query(ge=1)] = None,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
    time_from: Annotated[str | None, Query(alias="from", max_length=64)] = None,
    time_to: Annotated[str | None, Query(alias="to", max_length=64)] = None,
) -> dict[str, Any]:
    only_query_parameters(app, {"page", "results", "type", "actor_id", "from", "to", "cursor"})
    principal = authorize(app, Permission.AUDIT_READ, tenant_id=tenant_id)
    filters = SecurityFilters(type=type, actor_id=actor_id, period=TimeRange.parse({"from": time_from, "to": time_to}))
    result = security_events.tenant_page(tenant_id, PageRequest(page=page, results=results, cursor=cursor), filters)
    access_log.record(
        actor_id=principal.user_id,
        action="security_events.read",
        tenant_id=tenant_id,
        request=request_metadata(app),
    )
    return result.body()


def _handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)


handler = instrumented(_handle)
